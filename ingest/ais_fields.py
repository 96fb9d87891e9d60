"""AIS message fields (as decoded by pyais) to Observations.

One table says which raw values mean "not available" (:data:`NOT_AVAILABLE`);
:func:`normalise` applies it.  Payload length and characters are checked here
because pyais is lenient about both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from fusion.model import Observation
from ingest.errors import IngestError

# field -> value meaning "not available" (ITU-R M.1371), per message type where it differs
NOT_AVAILABLE: dict[str, float] = {
    "lon": 181.0, "lat": 91.0, "speed": 102.3, "course": 360.0, "heading": 511,
    "status": 15, "ship_type": 0, "imo": 0,
}
NOT_AVAILABLE_BY_TYPE: dict[int, dict[str, float]] = {27: {"speed": 63, "course": 511}}
# values outside these ranges are invalid (e.g. heading 480) and treated as not available
VALID_RANGE: dict[str, tuple[float, float]] = {
    "heading": (0, 359), "course": (0, 359.9), "speed": (0, 102.2), "status": (0, 15),
}

POSITION_CLASS: dict[int, str | None] = {1: "A", 2: "A", 3: "A", 18: "B", 19: "B", 27: None}
STATIC_CLASS: dict[int, str] = {5: "A", 24: "B"}
# payload length in bits each handled type needs, and its standard length (type 5: some
# transponders send 420; type 24: part A 160, part B 168).  Longer payloads are decoded like the
# field does (pyais, receivers): the spare bits are padding, ignored with a warning.
BITS: dict[int, tuple[int, int]] = {
    1: (168, 168), 2: (168, 168), 3: (168, 168), 5: (420, 424), 18: (168, 168),
    19: (312, 312), 24: (160, 168), 27: (96, 96),
}
# AIS-SART (970), man overboard (972) and EPIRB-AIS (974) devices: navigational status 14 when
# active, 15 in test mode (IEC 61097-14); for them 15 is a value, not "not defined"
SURVIVAL_DEVICE_PREFIXES = (970, 972, 974)
SIGMA_ACCURATE_M = 10.0  # position accuracy flag 1 (DGNSS, < 10 m)
SIGMA_DEFAULT_M = 30.0  # flag 0: plain GNSS


def sixbit(char: str) -> int:
    """Value of one armoured payload character; IngestError if it is not one."""
    code = ord(char)
    if 48 <= code <= 87:
        return code - 48
    if 96 <= code <= 119:
        return code - 56
    raise IngestError(f"payload has invalid character {char!r}")


_ARMOURED = re.compile(r"[0-W`-w]+")


def message_type(payload: str) -> int:
    """The message type of a payload whose every character is valid armouring."""
    if not _ARMOURED.fullmatch(payload):
        for pos, char in enumerate(payload):
            try:
                sixbit(char)
            except IngestError:
                raise IngestError(f"payload has invalid character {char!r} at position {pos + 1}") from None
    return sixbit(payload[0])


def check_payload(msg_type: int, payload: str, fill: int) -> tuple[bool, str | None]:
    """(whether the type is one we decode, a warning when the payload is longer than it needs).

    IngestError when it is shorter than the type needs."""
    if msg_type not in BITS:
        return False, None
    bits, (low, high) = len(payload) * 6 - fill, BITS[msg_type]
    needs = str(low) if low == high else f"{low}-{high}"
    if bits < low:
        raise IngestError(f"payload is {bits} bits, type {msg_type} needs {needs}")
    if bits > high:
        return True, f"payload is {bits} bits, type {msg_type} needs {needs}: {bits - high} spare bits ignored"
    return True, None


@lru_cache(maxsize=64)
def _not_available(msg_type: int) -> tuple[tuple[str, float], ...]:
    return tuple((NOT_AVAILABLE | NOT_AVAILABLE_BY_TYPE.get(msg_type, {})).items())


def normalise(msg_type: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``fields`` with "not available" values as None and names cleaned."""
    out = dict(fields)
    for key, sentinel in _not_available(msg_type):
        value = out.get(key)
        if isinstance(value, (int, float)) and abs(value - sentinel) <= 1e-6:
            out[key] = None
    for key, (low, high) in VALID_RANGE.items():
        value = out.get(key)
        if isinstance(value, (int, float)) and not low - 1e-6 <= value <= high + 1e-6:
            out[key] = None
    for key in ("shipname", "callsign"):
        if key in out:
            out[key] = clean_text(out[key])
    return out


def clean_text(value: Any) -> str | None:
    """AIS 6-bit text without '@' padding and outer spaces; None when empty."""
    if not isinstance(value, str):
        return None
    text = value.replace("@", " ").strip()
    return " ".join(text.split()) or None


def to_observation(msg_type: int, fields: dict[str, Any], sensor_id: str) -> Observation | None:
    """Observation (time still 0) from decoded fields; None when nothing usable."""
    f = normalise(msg_type, fields)
    f["_raw_status"] = fields.get("status")
    if not f.get("mmsi"):
        raise IngestError("MMSI 0 is not a valid identity")
    if msg_type in POSITION_CLASS:
        return _position(msg_type, f, sensor_id)
    return _static(msg_type, f, sensor_id)


def _position(msg_type: int, f: dict[str, Any], sensor_id: str) -> Observation | None:
    lat, lon = f.get("lat"), f.get("lon")
    if lat is None or lon is None:
        return None  # valid report without a position
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise IngestError(f"impossible coordinates lat={lat:g}, lon={lon:g} "
                          "(lat must be in [-90, 90] or 91, lon in [-180, 180] or 181)")
    status = f.get("status")
    if status is None and f.get("_raw_status") == 15 and f["mmsi"] // 1_000_000 in SURVIVAL_DEVICE_PREFIXES:
        status = 15  # a survival device in test mode
    return Observation(
        kind="ais_position", sensor_id=sensor_id, time_s=0.0, lat=lat, lon=lon,
        sigma_m=SIGMA_ACCURATE_M if f.get("accuracy") else SIGMA_DEFAULT_M,
        mmsi=f["mmsi"], sog_kn=_float(f.get("speed")), cog_deg=_float(f.get("course")),
        heading_deg=_float(f.get("heading")), nav_status=status,
        ais_class=POSITION_CLASS[msg_type], name=f.get("shipname"),
        ship_type=f.get("ship_type"), msg_type=msg_type)


def _static(msg_type: int, f: dict[str, Any], sensor_id: str) -> Observation:
    return Observation(
        kind="ais_static", sensor_id=sensor_id, time_s=0.0, mmsi=f["mmsi"],
        ais_class=STATIC_CLASS[msg_type], name=f.get("shipname"), callsign=f.get("callsign"),
        imo=f.get("imo"), ship_type=f.get("ship_type"), msg_type=msg_type)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
