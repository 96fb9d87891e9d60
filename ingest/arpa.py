"""ARPA radar NMEA: ``$--TTM`` (tracked target, polar) and ``$--TLL`` (target lat/lon).

Both give a ``radar_track`` Observation with ``local_id`` = target number.
Their ``hhmmss.ss`` UTC time of day is anchored to the date of the reference
time (the line's own timestamp, else the last time seen in the feed), picking
the day that puts it closest to that reference (midnight roll-over).  Targets
with status ``L`` (lost) give no observation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fusion.geodesy import destination
from fusion.model import Observation, Sensor
from ingest.errors import IngestError
from ingest.radar import polar_sigma_m
from ingest.sensors import MOVING

ARPA_TYPES = frozenset({"TTM", "TLL"})
DEFAULT_SIGMA_M = 50.0
_METRES_PER_UNIT = {"K": 1000.0, "N": 1852.0, "S": 1609.344}  # km, nmi, statute mile
_DAY_S = 86_400.0


def decode_arpa(sentence_type: str, fields: Sequence[str], sensor_id: str,
                sensor: Sensor | None, ref_time_s: float | None) -> Observation | None:
    """Observation from a TTM or TLL sentence's data fields (None for a lost target)."""
    if sentence_type == "TTM":
        return _ttm(fields, sensor_id, sensor, ref_time_s)
    if sentence_type == "TLL":
        return _tll(fields, sensor_id, sensor, ref_time_s)
    raise IngestError(f"unsupported ARPA sentence type {sentence_type!r}")


def _ttm(f: Sequence[str], sensor_id: str, sensor: Sensor | None, ref: float | None) -> Observation | None:
    if len(f) < 13:
        raise IngestError(f"TTM needs at least 13 fields, got {len(f)}")
    if f[11] == "L":
        return None
    if sensor is None:
        raise IngestError(f"TTM needs a registered sensor position (sensor '{sensor_id}' unknown)")
    if f[3] != "T":
        raise IngestError(f"TTM bearing reference {f[3]!r} not supported (only 'T', true bearing)")
    unit = f[9] or "N"
    if unit not in _METRES_PER_UNIT:
        raise IngestError(f"TTM unknown units {unit!r} (expected K, N or S)")
    range_m = _number(f[1], "TTM distance") * _METRES_PER_UNIT[unit]
    bearing = _number(f[2], "TTM bearing")
    if range_m < 0 or not 0.0 <= bearing < 360.0:
        raise IngestError(f"TTM distance {f[1]} / bearing {f[2]} out of range")
    if sensor.platform in MOVING:
        raise IngestError(f"TTM gives range and bearing from own ship, and '{sensor_id}' is a moving "
                          f"({sensor.platform}) radar whose position a TTM does not carry: send TLL (lat/lon)")
    lat, lon = destination(sensor.lat, sensor.lon, bearing, range_m)
    time_s = _time(f[13] if len(f) > 13 else "", ref)
    obs = Observation(kind="radar_track", sensor_id=sensor_id, time_s=time_s, lat=lat, lon=lon,
                      sigma_m=polar_sigma_m(sensor, range_m), local_id=_target(f[0]))
    if f[4]:
        obs.sog_kn = _number(f[4], "TTM speed") * _METRES_PER_UNIT[unit] / 1852.0
    if f[5] and f[6] == "T":
        obs.cog_deg = _number(f[5], "TTM course") % 360.0
    return obs


def _tll(f: Sequence[str], sensor_id: str, sensor: Sensor | None, ref: float | None) -> Observation | None:
    if len(f) < 7:
        raise IngestError(f"TLL needs at least 7 fields, got {len(f)}")
    if len(f) > 7 and f[7] == "L":
        return None
    lat = _ddmm(f[1], f[2], "NS", 2)
    lon = _ddmm(f[3], f[4], "EW", 3)
    return Observation(kind="radar_track", sensor_id=sensor_id, time_s=_time(f[6], ref), lat=lat,
                       lon=lon, sigma_m=sensor.accuracy_m if sensor else DEFAULT_SIGMA_M,
                       local_id=_target(f[0]))


def _ddmm(text: str, hemi: str, allowed: str, deg_digits: int) -> float:
    """``ddmm.mmm`` / ``dddmm.mmm`` with hemisphere letter to signed degrees."""
    if not hemi or hemi not in allowed or len(text.split(".")[0]) != deg_digits + 2:
        raise IngestError(f"TLL bad coordinate {text!r},{hemi!r}")
    degrees = _number(text[:deg_digits], "TLL degrees") + _number(text[deg_digits:], "TLL minutes") / 60.0
    limit = 90.0 if allowed == "NS" else 180.0
    if degrees > limit or float(text[deg_digits:]) >= 60.0:
        raise IngestError(f"TLL impossible coordinate {text},{hemi}")
    return -degrees if hemi in "SW" else degrees


def _time(hhmmss: str, ref: float | None) -> float:
    """Time of day anchored to the reference date; the reference itself when absent."""
    if not hhmmss:
        if ref is None:
            raise IngestError("no timestamp and no earlier time in this feed")
        return ref
    if len(hhmmss) < 6 or not hhmmss[:6].isdigit():
        raise IngestError(f"bad time of day {hhmmss!r} (expected hhmmss.ss)")
    h, m, s = int(hhmmss[:2]), int(hhmmss[2:4]), _number(hhmmss[4:], "seconds")
    if h > 23 or m > 59 or s >= 61:
        raise IngestError(f"bad time of day {hhmmss!r}")
    if ref is None:
        raise IngestError(f"time of day {hhmmss} but no date: no timestamp and no earlier time in this feed")
    tod = h * 3600 + m * 60 + s
    day = math.floor(ref / _DAY_S) * _DAY_S
    return min((day + k * _DAY_S + tod for k in (-1, 0, 1)), key=lambda t: abs(t - ref))


def _target(text: str) -> str:
    if not text.strip().isdigit():
        raise IngestError(f"bad target number {text!r}")
    return str(int(text))


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise IngestError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise IngestError(f"{what} {text!r} is not finite")
    return value
