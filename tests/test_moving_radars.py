"""Radars on ships and aircraft: registered with `platform: "ship"` or `"aircraft"`, their polar
plots placed from where the platform was (each plot carries it), never from the home position
they were registered with; what cannot be placed is refused with the reason; and `mfc simulate`
writes them for patrol craft and patrol aircraft, checked against the truth with pyproj."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from fusion.model import Sensor
from ingest.ais import AisDecoder
from ingest.errors import IngestError
from ingest.radar import decode_radar_line
from ingest.sensors import load_sensors
from ingest.nmea import nmea_checksum

GEOD = Geod(ellps="WGS84")
MFC = [sys.executable, "-m", "mfc"]
SHIP = {"id": "PCG-R1", "kind": "radar", "lat": 14.5, "lon": 120.9, "range_m": 24000, "accuracy_m": 30,
        "scan_period_s": 2.5, "range_sigma_m": 30, "bearing_sigma_deg": 0.8, "platform": "ship",
        "owner": "PH-CG", "releasability": ["ASEAN"]}
PLANE = {**SHIP, "id": "MPA-1", "platform": "aircraft", "range_m": 120000, "accuracy_m": 150}


def sensors() -> dict[str, Sensor]:
    return load_sensors({"sensors": [SHIP, PLANE]})


def test_a_polar_plot_from_a_ship_is_placed_from_where_the_ship_was():
    line = json.dumps({"kind": "plot", "sensor_id": "PCG-R1", "time": "2026-11-24T08:00:00Z", "range_m": 12000,
                       "bearing_deg": 45.0, "platform_lat": 9.5, "platform_lon": 118.2})
    o = decode_radar_line(line, sensors())
    lon, lat, _ = GEOD.fwd(118.2, 9.5, 45.0, 12000.0)   # pyproj: the direct geodesic problem
    assert (o.lat, o.lon) == (pytest.approx(lat, abs=1e-8), pytest.approx(lon, abs=1e-8))
    # 600 km from the registered home position, which would have been wrong by as much
    assert GEOD.inv(SHIP["lon"], SHIP["lat"], o.lon, o.lat)[2] > 500_000


@pytest.mark.parametrize(("extra", "reason"), [
    pytest.param({}, "needs 'platform_lat' and 'platform_lon'", id="no-platform-position"),
    pytest.param({"platform_lat": 9.5}, "needs 'platform_lat' and 'platform_lon'", id="half"),
    pytest.param({"platform_lat": 95.0, "platform_lon": 118.2}, "platform position: latitude 95.0 out of range",
                 id="impossible"),
])
def test_a_polar_plot_from_a_moving_radar_without_its_position_is_refused(extra, reason):
    line = json.dumps({"kind": "plot", "sensor_id": "PCG-R1", "time": "2026-11-24T08:00:00Z", "range_m": 12000,
                       "bearing_deg": 45.0, **extra})
    with pytest.raises(IngestError, match=reason):
        decode_radar_line(line, sensors())


def test_geographic_plots_from_an_aircraft_are_taken_as_they_are():
    line = json.dumps({"kind": "plot", "sensor_id": "MPA-1", "time": "2026-11-24T08:00:00Z", "lat": 10.1,
                       "lon": 114.3, "platform_lat": 11.0, "platform_lon": 114.0})
    o = decode_radar_line(line, sensors())
    assert (o.lat, o.lon, o.sigma_m) == (10.1, 114.3, 150)


def test_an_arpa_ttm_from_a_moving_radar_is_refused_with_what_to_send_instead():
    body = "RATTM,12,5.0,90.0,T,10.0,45.0,T,0.5,3.0,N,TGT12,T,,080003.00,A"
    decoder = AisDecoder(sensor_id="PCG-R1", sensors=sensors())
    obs, rejects = decoder.feed("1732435200 " + f"${body}*{nmea_checksum(body)}", 1, None)
    assert obs == [] and "moving (ship) radar" in rejects[0].reason and "send TLL" in rejects[0].reason


@pytest.mark.parametrize(("item", "reason"), [
    pytest.param({"id": "A", "kind": "ais", "lat": 1, "lon": 104, "range_m": 5e4, "platform": "ship"},
                 "is for radars only", id="ais-on-ship"),
    pytest.param({**SHIP, "platform": "submarine"}, "unknown platform 'submarine'", id="unknown"),
    pytest.param({**SHIP, "platform": "satellite", "revisit_s": 100}, "for AIS sensors only", id="radar-satellite"),
])
def test_platforms_that_make_no_sense_are_refused(item, reason):
    with pytest.raises(IngestError, match=reason):
        load_sensors({"sensors": [item]})


SCENARIO = """
name = "moving"
seed = 4
hours = 1.5
vessels = 150
class_b = 80
island_sensors = true
patrols = 5
patrol_radars = true
aircraft = 1
radar_detection = "range"
truth_every_s = 5
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("moving")
    (d / "s.toml").write_text(SCENARIO, encoding="utf-8")
    r = subprocess.run([*MFC, "simulate", d / "s.toml", "--out", d, "--quiet"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return d


def _t(iso: str) -> float:
    import datetime as dt
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_simulated_ship_and_aircraft_plots_fall_on_true_vessels(run):
    """Polar plots of the patrol craft's radars, placed with pyproj from the position they carry,
    and the aircraft's lat/lon plots lie on true vessels (truth interpolated to the plot's time)
    within 4 σ — all but the one clutter plot a scan; and the platform position a patrol's plot
    carries is a true vessel's (its own) position; the polar plots' range and bearing errors are
    unbiased with the σ the radar is registered with."""
    sensors_ = {s["id"]: s for s in json.loads((run / "sensors.json").read_text())["sensors"]}
    moving = {k: s for k, s in sensors_.items() if s.get("platform") in ("ship", "aircraft")}
    assert {s["platform"] for s in moving.values()} == {"ship", "aircraft"}
    paths: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for line in (run / "truth.jsonl").read_text().splitlines():
        x = json.loads(line)
        paths[x["vessel"]].append((_t(x["time"]), x["lat"], x["lon"]))
    paths_np = [np.array(p).T for p in paths.values()]

    def vessels_at(t: float) -> tuple[np.ndarray, np.ndarray]:
        live = [p for p in paths_np if p[0, 0] <= t <= p[0, -1]]
        return (np.array([np.interp(t, p[0], p[1]) for p in live]),
                np.array([np.interp(t, p[0], p[2]) for p in live]))

    hits, plots, scans, platform_err, residuals = defaultdict(int), defaultdict(int), defaultdict(set), [], []
    for line in (run / "radar.jsonl").read_text().splitlines():
        p = json.loads(line)
        s = moving.get(p["sensor_id"])
        if s is None:
            continue
        t = _t(p["time"])
        la, lo = vessels_at(t)
        if not len(la):   # after the last truth sample
            continue
        if "range_m" in p:
            lon, lat, _ = GEOD.fwd(p["platform_lon"], p["platform_lat"], p["bearing_deg"], p["range_m"])
            sigma = max(s["range_sigma_m"], p["range_m"] * math.radians(s["bearing_sigma_deg"]))
        else:
            lat, lon, sigma = p["lat"], p["lon"], s["accuracy_m"]
        kind = s["platform"]
        plots[kind] += 1
        scans[kind].add((p["sensor_id"], p["time"]))
        d = GEOD.inv(np.full(len(la), lon), np.full(len(la), lat), lo, la)[2]
        if d.min() < 4 * sigma:
            hits[kind] += 1
            if "range_m" in p:   # residuals in the radar's own frame, against pyproj's range and bearing
                k = int(np.argmin(d))
                az, _, rng_m = GEOD.inv(p["platform_lon"], p["platform_lat"], lo[k], la[k])
                residuals.append((p["range_m"] - rng_m, (p["bearing_deg"] - az + 180.0) % 360.0 - 180.0))
        if kind == "ship":
            d = GEOD.inv(np.full(len(la), p["platform_lon"]), np.full(len(la), p["platform_lat"]), lo, la)[2]
            platform_err.append(d.min())
    for kind in ("ship", "aircraft"):
        vessels = plots[kind] - len(scans[kind])   # one clutter plot a scan, the rest detections
        assert vessels > 200, (kind, dict(plots))
        assert 0.95 * vessels <= hits[kind] <= plots[kind], (kind, hits[kind], vessels, plots[kind])
    assert max(platform_err) < 30.0
    # the ship radars' errors are what they are registered with: unbiased, σ 30 m and 0.8°
    dr, db = np.array(residuals).T
    assert abs(dr.mean()) < 5.0 and 25.0 < dr.std() < 40.0, (dr.mean(), dr.std())
    assert abs(db.mean()) < 0.1 and 0.65 < db.std() < 0.95, (db.mean(), db.std())


def test_mfc_fuse_tracks_from_moving_radars_without_naming_them_faulty(run, tmp_path):
    """`mfc fuse` reads the ship and aircraft radars' plots (none refused) and the registration
    check, which measures a fixed radar's bias from its site, does not call a moving radar
    misregistered."""
    r = subprocess.run([*MFC, "fuse", run / "ais.nmea", run / "radar.jsonl", "--sensors", run / "sensors.json",
                        "--tracks-out", tmp_path / "t.jsonl", "--alerts-out", tmp_path / "a.jsonl",
                        "--sample-every", "60"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert " 0 rejected lines" in r.stderr, r.stderr
    fed = set()
    for line in (tmp_path / "t.jsonl").read_text().splitlines():
        fed.update(json.loads(line).get("sensors") or [])
    assert any(s.startswith("R-PATROL") for s in fed) and "MPA-1" in fed
    alerts = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert not [a for a in alerts if a["type"] == "sensor_integrity"
                and (a["summary"].find("PATROL") >= 0 or a["summary"].find("MPA") >= 0)]


def test_the_registration_check_has_no_site_for_a_moving_radar():
    """The registration-bias check measures a radar's plots in its polar frame about its site; a
    ship's or aircraft's radar has no site (its registered position is only a home), so neither
    the geography built from a sensors file nor one learning sensors at run time gives it one."""
    from services.geo.geography import build_geography
    fixed = Sensor("R-FIX", "radar", 10.0, 114.0, range_m=40_000.0)
    ship, plane = sensors()["PCG-R1"], sensors()["MPA-1"]
    geo = build_geography({s.id: s for s in (fixed, ship, plane)})
    assert set(geo.radars) == {"R-FIX"}
    geo.add_sensor("R-FIX", "radar", 10.0, 114.0, 40_000.0, ["ASEAN"], platform="ship")   # re-registered moving
    geo.add_sensor("R-NEW", "radar", 11.0, 115.0, 40_000.0, ["ASEAN"])
    assert set(geo.radars) == {"R-NEW"}
