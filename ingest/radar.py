"""Radar JSON Lines: geographic plots, polar plots and sensor-level tracks.

One line is one object (contract, "Input formats")::

    {"kind": "plot", "sensor_id": "PH-PAL-R1", "time": "...", "lat": 9.75, "lon": 115.87, "sigma_m": 50}
    {"kind": "plot", "sensor_id": "PH-PAL-R1", "time": "...", "range_m": 18250, "bearing_deg": 271.5}
    {"kind": "track", "sensor_id": "VN-CGS-1", "time": "...", "lat": 10.1, "lon": 109.2,
     "sog_kn": 11.2, "cog_deg": 45, "local_id": "17"}

Polar plots are placed from the sensor's registered position by the direct
geodesic problem on the WGS 84 ellipsoid (``fusion.geodesy.destination``, pyproj's
``Geod.fwd``): exact to well under a millimetre at any radar range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

from fusion.geodesy import destination
from fusion.model import Observation, Sensor
from ingest.errors import IngestError
from ingest.sensors import MOVING, as_number, as_text, check_lat_lon
from ingest.timeparse import TimeParseError, parse_time

MAX_RANGE_FACTOR = 1.5
_KINDS = {"plot": "radar_plot", "track": "radar_track"}


def destination_point(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """Point reached from (lat, lon) at this bearing and distance (WGS 84 geodesic, ``fusion.geodesy``)."""
    return destination(lat, lon, bearing_deg, distance_m)


def polar_sigma_m(sensor: Sensor, range_m: float) -> float:
    """1-sigma position error of a polar plot: the larger of range and cross-range sigma."""
    if sensor.range_sigma_m is None and sensor.bearing_sigma_deg is None:
        return sensor.accuracy_m
    cross = range_m * math.radians(sensor.bearing_sigma_deg or 0.0)
    return max(sensor.range_sigma_m or 0.0, cross)


def decode_radar_line(line: str, sensors: Mapping[str, Sensor],
                      warnings: list[str] | None = None) -> Observation:
    """One JSON Lines radar record as an Observation; IngestError with the reason otherwise.

    A polar plot beyond ``MAX_RANGE_FACTOR`` times the sensor's registered range is kept (large
    ships are seen well beyond a radar's nominal range): the reason goes into ``warnings``."""
    obj = _parse_object(line)
    kind = as_text(obj, "kind")
    if kind not in _KINDS:
        raise IngestError(f"unknown kind {kind!r} (expected 'plot' or 'track')")
    sensor = _radar_sensor(obj, sensors)
    time_s = _time(obj)
    lat, lon, derived_sigma = _position(obj, sensor)
    sigma = as_number(obj, "sigma_m", required=False)
    if sigma is not None and sigma <= 0:
        raise IngestError(f"sigma_m must be > 0, got {sigma}")
    if warnings is not None and (beyond := range_exceeded_m(obj, sensor)) is not None:
        warnings.append(f"range_m {beyond:g} beyond {MAX_RANGE_FACTOR} x the range of sensor "
                        f"'{sensor.id}' ({sensor.range_m:g} m): its registered range is too short")
    obs = Observation(kind=_KINDS[kind], sensor_id=sensor.id, time_s=time_s, lat=lat, lon=lon,  # type: ignore[arg-type]
                      sigma_m=sigma if sigma is not None else derived_sigma)
    if kind == "track":
        obs.local_id = _local_id(obj)
        obs.sog_kn, obs.cog_deg = _velocity(obj)
    return obs


def _parse_object(line: str) -> dict[str, Any]:
    """orjson for speed (4x the standard library here); whatever it refuses (bad JSON, NaN,
    integers beyond 64 bits, lone surrogates) goes through ``json``, whose verdict and reason
    are the contract's."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            obj = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise IngestError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise IngestError(f"expected a JSON object, got {_json_type(obj)}")
    return obj


def _reject_constant(name: str) -> float:
    raise IngestError(f"non-finite number {name} is not allowed")


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _radar_sensor(obj: Mapping[str, Any], sensors: Mapping[str, Sensor]) -> Sensor:
    sensor_id = as_text(obj, "sensor_id")
    sensor = sensors.get(sensor_id) if sensor_id is not None else None
    if sensor is None:
        raise IngestError(f"unknown sensor {sensor_id!r}")
    if sensor.kind != "radar":
        raise IngestError(f"sensor {sensor_id!r} is not a radar (kind {sensor.kind!r})")
    return sensor


def _time(obj: Mapping[str, Any]) -> float:
    if "time" not in obj:
        raise IngestError("missing field 'time'")
    try:
        return parse_time(obj["time"])
    except TimeParseError as exc:
        raise IngestError(f"bad time: {exc}") from None


def _position(obj: Mapping[str, Any], sensor: Sensor) -> tuple[float, float, float]:
    """(lat, lon, sigma_m when not given) from lat/lon or range_m/bearing_deg."""
    if "lat" in obj or "lon" in obj or "range_m" not in obj and "bearing_deg" not in obj:
        lat, lon = as_number(obj, "lat"), as_number(obj, "lon")
        assert lat is not None and lon is not None
        check_lat_lon(lat, lon)
        return lat, lon, sensor.accuracy_m
    range_m, bearing = as_number(obj, "range_m"), as_number(obj, "bearing_deg")
    assert range_m is not None and bearing is not None
    if range_m < 0:
        raise IngestError(f"range_m {range_m:g} is negative")
    if not 0.0 <= bearing < 360.0:
        raise IngestError(f"bearing_deg {bearing:g} outside [0, 360)")
    lat, lon = destination_point(*_origin(obj, sensor), bearing, range_m)
    return lat, lon, polar_sigma_m(sensor, range_m)


def _origin(obj: Mapping[str, Any], sensor: Sensor) -> tuple[float, float]:
    """Where a polar plot is measured from: a fixed radar's registered position; a moving (ship
    or aircraft) radar's position when it took the plot, which the plot must carry."""
    if sensor.platform not in MOVING:
        return sensor.lat, sensor.lon
    if "platform_lat" not in obj or "platform_lon" not in obj:
        raise IngestError(f"a polar plot from the moving ({sensor.platform}) radar '{sensor.id}' needs "
                          "'platform_lat' and 'platform_lon' (where the radar was), or send lat/lon")
    lat, lon = as_number(obj, "platform_lat"), as_number(obj, "platform_lon")
    assert lat is not None and lon is not None
    try:
        check_lat_lon(lat, lon)
    except IngestError as exc:
        raise IngestError(f"platform position: {exc}") from None
    return lat, lon


def range_exceeded_m(obj: Mapping[str, Any], sensor: Sensor) -> float | None:
    """The range of a polar plot beyond ``MAX_RANGE_FACTOR`` times the sensor's range, else None."""
    range_m = obj.get("range_m")
    if "lat" in obj or not isinstance(range_m, (int, float)):
        return None
    return float(range_m) if range_m > sensor.range_m * MAX_RANGE_FACTOR else None


def _local_id(obj: Mapping[str, Any]) -> str:
    value = obj.get("local_id")
    if value is None:
        raise IngestError("missing field 'local_id'")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise IngestError(f"field 'local_id' must be a string, got {type(value).__name__} {value!r}")
    if not str(value).strip():
        raise IngestError("field 'local_id' is empty")
    return str(value).strip()


def _velocity(obj: Mapping[str, Any]) -> tuple[float | None, float | None]:
    sog, cog = as_number(obj, "sog_kn", required=False), as_number(obj, "cog_deg", required=False)
    if sog is not None and sog < 0:
        raise IngestError(f"sog_kn {sog:g} is negative")
    if cog is not None and not 0.0 <= cog < 360.0:
        raise IngestError(f"cog_deg {cog:g} outside [0, 360)")
    return sog, cog
