"""Sensor registry file: ``{"sensors": [...]}`` as in the contract.

Unknown extra fields are ignored; anything needed that is missing, of the
wrong type or out of range raises :class:`IngestError` naming the sensor.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fusion.model import Sensor
from ingest.errors import IngestError

SENSOR_KINDS = ("radar", "ais")
_OPTIONAL_POSITIVE = ("range_m", "accuracy_m", "scan_period_s")
_OPTIONAL_SIGMAS = ("range_sigma_m", "bearing_sigma_deg")
# a sensor id names the sensor in topics, keys, query strings and comma-joined lists: no
# separators, no spaces; a releasability token is an agency, a state or a wildcard
SENSOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_sensor_id(sensor_id: str) -> str:
    """``sensor_id`` if it is a valid sensor id, else ``IngestError`` saying why."""
    if not SENSOR_ID.fullmatch(sensor_id):
        raise IngestError(f"sensor id {sensor_id[:80]!r} is not valid: 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    return sensor_id


def as_number(obj: Mapping[str, Any], key: str, required: bool = True) -> float | None:
    """``obj[key]`` as a finite float; bool is not a number."""
    if key not in obj or obj[key] is None:
        if required:
            raise IngestError(f"missing field '{key}'")
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise IngestError(f"field '{key}' must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise IngestError(f"field '{key}' must be finite, got {value}")
    return float(value)


def as_text(obj: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    """``obj[key]`` as a non-empty string."""
    if key not in obj or obj[key] is None:
        if required:
            raise IngestError(f"missing field '{key}'")
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise IngestError(f"field '{key}' must be a string, got {type(value).__name__} {value!r}")
    if required and not value.strip():
        raise IngestError(f"field '{key}' is empty")
    return value


def check_lat_lon(lat: float, lon: float) -> None:
    if not -90.0 <= lat <= 90.0:
        raise IngestError(f"latitude {lat} out of range [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise IngestError(f"longitude {lon} out of range [-180, 180]")


def load_sensors(data: dict[str, Any] | str | Path) -> dict[str, Sensor]:
    """Sensors by id from a parsed dict, JSON text, or a path to a JSON file."""
    doc = _load_document(data)
    if not isinstance(doc, dict) or not isinstance(doc.get("sensors"), list):
        raise IngestError('sensors file must be an object with a "sensors" list')
    sensors: dict[str, Sensor] = {}
    for index, item in enumerate(doc["sensors"], start=1):
        sensor = _sensor_or_raise(item, index)
        if sensor.id in sensors:
            raise IngestError(f"duplicate sensor id '{sensor.id}' (sensor #{index})")
        sensors[sensor.id] = sensor
    return sensors


def sensor_to_dict(sensor: Sensor) -> dict[str, Any]:
    """The contract's JSON form of a sensor (optional sigmas only when set)."""
    out: dict[str, Any] = {
        "id": sensor.id, "kind": sensor.kind, "lat": sensor.lat, "lon": sensor.lon,
        "range_m": sensor.range_m, "accuracy_m": sensor.accuracy_m,
        "scan_period_s": sensor.scan_period_s, "owner": sensor.owner,
        "releasability": list(sensor.releasability),
    }
    for key in _OPTIONAL_SIGMAS:
        if getattr(sensor, key) is not None:
            out[key] = getattr(sensor, key)
    if sensor.platform != "terrestrial":
        out["platform"] = sensor.platform
        if sensor.platform == "satellite":
            out["revisit_s"] = sensor.revisit_s
    return out


def _load_document(data: dict[str, Any] | str | Path) -> Any:
    if isinstance(data, dict):
        return data
    if isinstance(data, str) and data.lstrip().startswith("{"):
        return _parse_json(data, "sensors JSON")
    path = Path(data)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"cannot read sensors file {str(path)!r}: {exc.strerror or exc}") from None
    return _parse_json(text, f"sensors file {str(path)!r}")


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON in {what}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _sensor_or_raise(item: Any, index: int) -> Sensor:
    label = f"sensor #{index}"
    if not isinstance(item, dict):
        raise IngestError(f"{label}: expected an object, got {type(item).__name__}")
    if isinstance(item.get("id"), str):
        label = f"sensor #{index} ('{item['id']}')"
    try:
        return _sensor(item)
    except IngestError as exc:
        raise IngestError(f"{label}: {exc.reason}") from None


def _sensor(item: Mapping[str, Any]) -> Sensor:
    sensor_id = as_text(item, "id")
    kind = as_text(item, "kind")
    assert sensor_id is not None
    check_sensor_id(sensor_id)
    if kind not in SENSOR_KINDS:
        raise IngestError(f"unknown kind {kind!r} (expected 'radar' or 'ais')")
    lat, lon = as_number(item, "lat"), as_number(item, "lon")
    assert lat is not None and lon is not None
    check_lat_lon(lat, lon)
    extra: dict[str, Any] = {}
    for key in _OPTIONAL_POSITIVE:
        value = as_number(item, key, required=False)
        if value is not None:
            if value <= 0:
                raise IngestError(f"field '{key}' must be > 0, got {value}")
            extra[key] = value
    for key in _OPTIONAL_SIGMAS:
        value = as_number(item, key, required=False)
        if value is not None and value < 0:
            raise IngestError(f"field '{key}' must be >= 0, got {value}")
        extra[key] = value
    extra.update(_platform(item, kind))
    owner = as_text(item, "owner", required=False) or ""
    if owner and not TOKEN.fullmatch(owner):
        raise IngestError(f"owner {owner[:80]!r} is not valid: letters, digits, '.', '_' or '-'")
    return Sensor(id=sensor_id, kind=kind, lat=lat, lon=lon, owner=owner,
                  releasability=_releasability(item, owner), **extra)  # type: ignore[arg-type]


PLATFORMS = ("terrestrial", "satellite", "ship", "aircraft")
MOVING = ("ship", "aircraft")    # radar platforms whose position changes: see ``Sensor.platform``


def _platform(item: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``platform`` (default terrestrial): for AIS ``satellite`` with its ``revisit_s``
    (required: how often it passes over a place, which says when its silence means something);
    for radar ``ship`` or ``aircraft``, a moving radar."""
    platform = as_text(item, "platform", required=False)
    if platform is None:
        return {}
    if platform not in PLATFORMS:
        raise IngestError(f"unknown platform {platform[:40]!r} (expected one of {', '.join(map(repr, PLATFORMS))})")
    if platform == "terrestrial":
        return {}
    if platform in MOVING:
        if kind != "radar":
            raise IngestError(f"platform {platform!r} is for radars only (an AIS receiver on a ship is 'terrestrial')")
        return {"platform": platform}
    if kind != "ais":
        raise IngestError("platform 'satellite' is for AIS sensors only")
    revisit = as_number(item, "revisit_s", required=False)
    if revisit is None:
        raise IngestError("a satellite AIS sensor needs 'revisit_s' (seconds between passes over a place)")
    if revisit <= 0:
        raise IngestError(f"field 'revisit_s' must be > 0, got {revisit}")
    return {"platform": "satellite", "revisit_s": revisit}


def _releasability(item: Mapping[str, Any], owner: str) -> tuple[str, ...]:
    """The agencies that may see the sensor's data.  Without the field, only its owner
    (fails closed: sharing is declared, never assumed)."""
    value = item.get("releasability")
    if value is None:
        return (owner,) if owner else ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IngestError("field 'releasability' must be a list of strings")
    bad = [v for v in value if not TOKEN.fullmatch(v)]
    if bad:
        raise IngestError(f"releasability token {bad[0][:80]!r} is not valid: an agency (PH-CG), a state (PH), "
                          "ASEAN or ALL")
    return tuple(value)
