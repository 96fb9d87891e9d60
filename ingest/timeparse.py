"""Time parsing shared by the decoders: ISO 8601 strings and epoch numbers.

* numbers (and numeric strings) are epoch seconds, or epoch milliseconds when
  their magnitude exceeds ``1e11`` (which as seconds would be after year 5138);
* strings are ISO 8601: ``Z`` or ``±hh:mm`` offsets, fractional seconds, a
  space instead of ``T``; no zone means UTC.

The result must lie in [1970-01-01, 2100-01-01) UTC, which catches unit
mistakes (microseconds, minutes) that would otherwise pass silently.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

MS_THRESHOLD = 1e11
MIN_TIME_S = 0.0
MAX_TIME_S = 4_102_444_800.0  # 2100-01-01T00:00:00Z
_NUMERIC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class TimeParseError(ValueError):
    """Raised with a precise reason when a time value cannot be parsed."""


def epoch_from_number(value: float) -> float:
    """Epoch seconds from a number of seconds or (if > 1e11) milliseconds."""
    if not math.isfinite(value):
        raise TimeParseError(f"time {value} is not finite")
    seconds = value / 1000.0 if abs(value) > MS_THRESHOLD else float(value)
    return _check_range(seconds, repr(value))


def parse_iso(text: str) -> float:
    """Epoch seconds from an ISO 8601 string (no zone means UTC)."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise TimeParseError(f"bad ISO 8601 time {text!r}: {exc}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return _check_range(dt.timestamp(), repr(text))


def parse_time(value: object) -> float:
    """Epoch seconds (UTC) from an ISO 8601 string or an epoch number.

    Raises :class:`TimeParseError` (a ``ValueError``) with the reason.
    """
    if isinstance(value, bool) or value is None:
        raise TimeParseError(f"time must be an ISO 8601 string or epoch number, got {_kind(value)}")
    if isinstance(value, (int, float)):
        return epoch_from_number(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise TimeParseError("time is an empty string")
        if _NUMERIC.match(text):
            return epoch_from_number(float(text))
        return parse_iso(text)
    raise TimeParseError(f"time must be an ISO 8601 string or epoch number, got {_kind(value)}")


def _check_range(seconds: float, shown: str) -> float:
    if not MIN_TIME_S <= seconds < MAX_TIME_S:
        raise TimeParseError(f"time {shown} out of range [1970-01-01, 2100-01-01)")
    return seconds


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
