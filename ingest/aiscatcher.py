"""AIS-catcher's JSON output (``-o 3``/``-o 5``): one message a line, NMEA inside.

``{"class": "AIS", "device": "AIS-catcher", "channel": "B", "rxtime": "20220729191502",
"rxuxtime": 1659122102.5, "signalpower": -44.0, "ppm": 0.3, "mmsi": 230907000, "type": 3,
"nmea": ["!AIVDM,1,1,,B,33L=LN051HQj3HhRJd7q1W=`0000,0*03"]}``

The payload is decoded from ``nmea`` by the same NMEA path as any other feed (so the same
checks and verdicts apply); AIS-catcher's own decoded fields are not trusted.  Kept from the
receiver: the time of reception (``rxuxtime``, else ``rxtime`` in UTC), the signal power in dB
and the frequency offset in ppm, which expose a vessel "heard" where it cannot be.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ingest.errors import IngestError


@dataclass(slots=True, frozen=True)
class CatcherMessage:
    sentences: tuple[str, ...]
    time_s: float | None
    signal_db: float | None
    ppm: float | None
    station: str | None


def parse_catcher_line(text: str) -> CatcherMessage:
    """One AIS-catcher JSON line; ``IngestError`` with the reason when it is not one."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(doc, dict) or doc.get("class") != "AIS":
        raise IngestError('a JSON line on an AIS feed must be AIS-catcher output ({"class": "AIS", ...})')
    sentences = doc.get("nmea")
    if not isinstance(sentences, list) or not sentences or not all(isinstance(s, str) for s in sentences):
        raise IngestError("AIS-catcher line without its 'nmea' sentences (enable NMEA in the JSON output)")
    station = doc.get("station_id") if isinstance(doc.get("station_id"), (str, int)) else None
    return CatcherMessage(tuple(sentences), _time(doc), _number(doc, "signalpower"), _number(doc, "ppm"),
                          None if station is None else str(station))


def _number(doc: dict[str, Any], key: str) -> float | None:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _time(doc: dict[str, Any]) -> float | None:
    ux = _number(doc, "rxuxtime")
    if ux is not None:
        return ux / 1000.0 if ux > 1e11 else ux  # milliseconds from some versions
    rx = doc.get("rxtime")
    if isinstance(rx, str) and len(rx) == 14 and rx.isdigit():
        try:
            return datetime.strptime(rx, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise IngestError(f"rxtime {rx!r} is not a valid YYYYMMDDHHMMSS time") from None
    return None
