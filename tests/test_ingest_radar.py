"""Radar JSON Lines decoding and the shared time parser.

Polar conversions are checked against an independent reference: pyproj's WGS 84
``Geod`` called here directly (not through ``fusion.geodesy``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pyproj import Geod

from fusion.model import Sensor
from ingest.errors import IngestError
from ingest.radar import decode_radar_line
from ingest.timeparse import TimeParseError, parse_time

T0 = 1795507200.0  # 2026-11-24T08:00:00Z
SENSORS = {
    "PH-PAL-R1": Sensor(id="PH-PAL-R1", kind="radar", lat=9.8, lon=118.7, range_m=55000,
                        accuracy_m=50, range_sigma_m=40, bearing_sigma_deg=0.3),
    "VN-CGS-1": Sensor(id="VN-CGS-1", kind="radar", lat=10.3, lon=107.1, range_m=40000, accuracy_m=60),
    "VN-AIS-3": Sensor(id="VN-AIS-3", kind="ais", lat=8.7, lon=106.6, range_m=74000),
}
GEOD = Geod(ellps="WGS84")


def line(**fields: Any) -> str:
    base: dict[str, Any] = {"kind": "plot", "sensor_id": "PH-PAL-R1", "time": "2026-11-24T08:00:00Z"}
    out = {**base, **fields}
    return json.dumps({k: v for k, v in out.items() if v is not ...})


def polar(range_m: float, bearing: float, **fields: Any) -> str:
    return line(range_m=range_m, bearing_deg=bearing, **fields)


def test_geographic_plot() -> None:
    obs = decode_radar_line(line(lat=9.75, lon=115.87, sigma_m=50, extra="ignored"), SENSORS)
    assert (obs.kind, obs.sensor_id, obs.time_s, obs.lat, obs.lon, obs.sigma_m) == (
        "radar_plot", "PH-PAL-R1", T0, 9.75, 115.87, 50.0)
    assert obs.local_id is None and obs.mmsi is None


def test_geographic_plot_sigma_defaults_to_sensor_accuracy() -> None:
    assert decode_radar_line(line(lat=9.75, lon=118.8), SENSORS).sigma_m == 50.0


def test_polar_due_north_10_km() -> None:
    obs = decode_radar_line(polar(10_000, 0), SENSORS)
    lon, lat, _ = GEOD.fwd(118.7, 9.8, 0.0, 10_000)
    assert obs.lat == pytest.approx(lat, abs=1e-8)  # 1 mm
    assert obs.lat - 9.8 == pytest.approx(0.0904, abs=1e-4)  # 10 km / 110.6 km per degree of latitude near 10°N
    assert obs.lon == pytest.approx(118.7, abs=1e-12)


@pytest.mark.parametrize(("range_m", "bearing"), [
    pytest.param(18_250, 271.5, id="contract-example"),
    pytest.param(10_000, 90.0, id="east"),
    pytest.param(54_000, 200.0, id="far-south-west"),
    pytest.param(80_000, 45.0, id="beyond-range-north-east"),
    pytest.param(0, 0.0, id="at-sensor"),
])
def test_polar_is_the_wgs84_geodesic(range_m: float, bearing: float) -> None:
    """Range and bearing back from the sensor to the plot (pyproj's inverse) are the ones given."""
    s = SENSORS["PH-PAL-R1"]
    obs = decode_radar_line(polar(range_m, bearing), SENSORS)
    assert obs.lat is not None and obs.lon is not None
    az, _, dist = GEOD.inv(s.lon, s.lat, obs.lon, obs.lat)
    assert dist == pytest.approx(range_m, abs=0.001)
    if range_m:
        assert az % 360.0 == pytest.approx(bearing, abs=1e-6)


@pytest.mark.parametrize(("range_m", "sigma"), [
    pytest.param(18_250, 18_250 * math.radians(0.3), id="cross-range-dominates"),
    pytest.param(1_000, 40.0, id="range-sigma-dominates"),
])
def test_polar_sigma(range_m: float, sigma: float) -> None:
    assert decode_radar_line(polar(range_m, 10), SENSORS).sigma_m == pytest.approx(sigma)


def test_polar_sigma_without_sensor_sigmas_uses_accuracy() -> None:
    assert decode_radar_line(polar(5_000, 10, sensor_id="VN-CGS-1"), SENSORS).sigma_m == 60.0


def test_polar_given_sigma_wins() -> None:
    assert decode_radar_line(polar(5_000, 10, sigma_m=12), SENSORS).sigma_m == 12.0


def test_track() -> None:
    text = line(kind="track", sensor_id="VN-CGS-1", lat=10.1, lon=109.2, sog_kn=11.2, cog_deg=45,
                local_id="17")
    obs = decode_radar_line(text, SENSORS)
    assert (obs.kind, obs.local_id, obs.sog_kn, obs.cog_deg, obs.lat, obs.lon, obs.sigma_m) == (
        "radar_track", "17", 11.2, 45.0, 10.1, 109.2, 60.0)


def test_track_numeric_local_id_kept_as_text() -> None:
    obs = decode_radar_line(line(kind="track", lat=10, lon=118, local_id=17), SENSORS)
    assert obs.local_id == "17" and obs.sog_kn is None


@pytest.mark.parametrize(("time", "expected"), [
    pytest.param("2026-11-24T08:00:03.2Z", T0 + 3.2, id="iso-fraction-z"),
    pytest.param("2026-11-24T15:00:00+07:00", T0, id="iso-offset"),
    pytest.param("2026-11-24T08:00:00", T0, id="iso-no-zone"),
    pytest.param("2026-11-24 08:00:00Z", T0, id="iso-space"),
    pytest.param(T0, T0, id="epoch-seconds"),
    pytest.param(int(T0), T0, id="epoch-int"),
    pytest.param(T0 * 1000 + 250, T0 + 0.25, id="epoch-ms"),
])
def test_time_forms(time: Any, expected: float) -> None:
    obs = decode_radar_line(line(time=time, lat=9.8, lon=118.8), SENSORS)
    assert obs.time_s == pytest.approx(expected, abs=1e-6)


GOOD = {"lat": 9.8, "lon": 118.8}


@pytest.mark.parametrize(("text", "reason"), [
    pytest.param('{"kind": "plot", "sensor_id" "X"}', "invalid JSON: Expecting ':' delimiter at column",
                 id="invalid-json"),
    pytest.param("[1, 2]", "expected a JSON object, got array", id="not-object"),
    pytest.param(line(kind="blip", **GOOD), "unknown kind 'blip' (expected 'plot' or 'track')", id="unknown-kind"),
    pytest.param(line(kind=..., **GOOD), "missing field 'kind'", id="missing-kind"),
    pytest.param(line(sensor_id=..., **GOOD), "missing field 'sensor_id'", id="missing-sensor"),
    pytest.param(line(sensor_id="XX-1", **GOOD), "unknown sensor 'XX-1'", id="unknown-sensor"),
    pytest.param(line(sensor_id="VN-AIS-3", **GOOD), "sensor 'VN-AIS-3' is not a radar (kind 'ais')",
                 id="not-a-radar"),
    pytest.param(line(time=..., **GOOD), "missing field 'time'", id="missing-time"),
    pytest.param(line(time="yesterday", **GOOD), "bad time: bad ISO 8601 time 'yesterday'", id="bad-time"),
    pytest.param(line(time=True, **GOOD), "bad time: time must be an ISO 8601 string or epoch number, got bool",
                 id="bool-time"),
    pytest.param(line(time=1e16, **GOOD), "bad time: time 1e+16 out of range", id="time-out-of-range"),
    pytest.param(line(lat=9.8), "missing field 'lon'", id="missing-lon"),
    pytest.param(line(), "missing field 'lat'", id="no-position"),
    pytest.param(line(lat="9.8", lon=118.8), "field 'lat' must be a number, got str", id="lat-string"),
    pytest.param(line(lat=True, lon=118.8), "field 'lat' must be a number, got bool", id="lat-bool"),
    pytest.param('{"kind":"plot","sensor_id":"PH-PAL-R1","time":1795507200,"lat":NaN,"lon":1}',
                 "non-finite number NaN is not allowed", id="nan"),
    pytest.param('{"kind":"plot","sensor_id":"PH-PAL-R1","time":1795507200,"lat":1e999,"lon":1}',
                 "field 'lat' must be finite, got inf", id="inf"),
    pytest.param(line(lat=95.2, lon=118.8), "latitude 95.2 out of range [-90, 90]", id="lat-range"),
    pytest.param(line(lat=9.8, lon=181), "longitude 181.0 out of range [-180, 180]", id="lon-range"),
    pytest.param(polar(-5, 10), "range_m -5 is negative", id="negative-range"),
    pytest.param(polar(1000, 360), "bearing_deg 360 outside [0, 360)", id="bearing-360"),
    pytest.param(polar(1000, -1), "bearing_deg -1 outside [0, 360)", id="bearing-negative"),
    pytest.param(line(range_m=1000), "missing field 'bearing_deg'", id="missing-bearing"),
    pytest.param(line(sigma_m=0, **GOOD), "sigma_m must be > 0", id="sigma-zero"),
    pytest.param(line(kind="track", **GOOD), "missing field 'local_id'", id="track-missing-local-id"),
    pytest.param(line(kind="track", local_id="1", sog_kn=-2, **GOOD), "sog_kn -2 is negative", id="sog-negative"),
    pytest.param(line(kind="track", local_id="1", cog_deg=400, **GOOD), "cog_deg 400 outside [0, 360)",
                 id="cog-range"),
])
def test_errors(text: str, reason: str) -> None:
    with pytest.raises(IngestError) as info:
        decode_radar_line(text, SENSORS)
    assert info.value.reason.startswith(reason)


def test_range_at_limit_accepted() -> None:
    assert decode_radar_line(polar(82_500, 10), SENSORS).lat is not None


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("2026-11-24T08:00:00Z", T0, id="z"),
    pytest.param("2026-11-24T08:00:00.5+00:00", T0 + 0.5, id="fraction-offset"),
    pytest.param("1795507200.25", T0 + 0.25, id="numeric-string"),
    pytest.param(1795507200250, T0 + 0.25, id="ms"),
])
def test_parse_time(value: Any, expected: float) -> None:
    assert parse_time(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, True, "", "2026-02-30T00:00:00Z", float("nan"), -5, [1]])
def test_parse_time_errors(value: Any) -> None:
    with pytest.raises(TimeParseError):
        parse_time(value)
