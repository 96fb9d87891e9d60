"""ISO 8601 ↔ epoch seconds for the service layer."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO 8601 time; no zone means UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
