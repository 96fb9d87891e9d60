"""Errors and verdicts of the ingest boundary.

Decoders raise :class:`IngestError` with a precise, human-readable ``reason``;
streaming decoders turn them into :class:`Reject` verdicts (one per offending
input line) so that one bad line never stops a feed.
"""

from __future__ import annotations

from dataclasses import dataclass


class IngestError(Exception):
    """A line (or a file) that cannot be accepted, with the reason why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason: str = reason


@dataclass(slots=True, frozen=True)
class Reject:
    """Verdict for one input line that was not accepted."""

    line_no: int
    line: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"line_no": self.line_no, "line": self.line, "reason": self.reason}


@dataclass(slots=True, frozen=True)
class LineWarning:
    """A line accepted despite a fault the field tolerates (spare payload bits, a tag block
    checksum that does not match): counted in the sensor's health, listed in the reply."""

    line_no: int
    line: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"line_no": self.line_no, "line": self.line, "reason": self.reason}
