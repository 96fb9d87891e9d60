"""Tests for the synthetic scenario generator in sample_feeds/generate.py.

The generator is loaded from its file (sample_feeds is not a package) and run on a small
scenario into a temporary directory.  Distances and radar geometry are checked with
pyproj's WGS 84 ``Geod`` directly, not with the generator's (or the project's) geodesy.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box, shape

ROOT = Path(__file__).resolve().parents[1]
GEN_PATH = ROOT / "sample_feeds" / "generate.py"
LAND_PATH = ROOT / "services" / "data" / "geo" / "land_osm.geojson"
FILES = ("ais.nmea", "radar.jsonl", "truth.jsonl", "sensors.json")
SMALL = dict(vessels=30, minutes=20, seed=11, start="2026-11-24T08:00:00Z")

LINE_RE = re.compile(
    r"^(?:\\(?P<tag>[^*\\]*)\*(?P<tagcs>[0-9A-F]{2})\\|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) )?"
    r"(?P<body>![A-Z]{5},[^*]*)\*(?P<cs>[0-9A-F]{2})$"
)


def _load_generator():
    spec = importlib.util.spec_from_file_location("mfc_sample_feeds_generate", GEN_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _xor(s: str) -> str:
    c = 0
    for ch in s:
        c ^= ord(ch)
    return "%02X" % c


GEOD = Geod(ellps="WGS84")


def _distance_m(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2)))
    return GEOD.inv(lon1.copy(), lat1.copy(), lon2.copy(), lat2.copy())[2]


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def gen():
    return _load_generator()


@pytest.fixture(scope="module")
def scenario(gen, tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario")
    summary = gen.generate(out, **SMALL)
    return out, summary


def _read_lines(path):
    with open(path, encoding="ascii") as fh:
        return fh.read().split("\n")[:-1]


def test_same_seed_gives_identical_files(gen, scenario, tmp_path):
    out1, summary1 = scenario
    summary2 = gen.generate(tmp_path, **SMALL)
    assert summary1 == summary2
    for name in FILES:
        assert (out1 / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_summary_and_counts(scenario):
    out, s = scenario
    for key in ("vessels", "class_counts", "ais_lines", "ais_junk_lines", "radar_plots", "truth_lines",
                "radars", "ais_receivers", "files"):
        assert key in s
    assert s["truth_lines"] == SMALL["vessels"] * SMALL["minutes"] * 6
    assert len(_read_lines(out / "truth.jsonl")) == s["truth_lines"]
    assert len(_read_lines(out / "ais.nmea")) == s["ais_lines"]
    assert len(_read_lines(out / "radar.jsonl")) == s["radar_plots"]
    for name in FILES:
        assert (out / name).stat().st_size == s["files"][name]


def test_ais_checksums_valid_except_counted_junk(scenario):
    out, s = scenario
    sensors = json.loads((out / "sensors.json").read_text())["sensors"]
    stations = {x["id"] for x in sensors if x["kind"] == "ais"}
    invalid, forms, times, seen_stations = 0, set(), [], set()
    t0 = _epoch(SMALL["start"])
    for line in _read_lines(out / "ais.nmea"):
        m = LINE_RE.match(line)
        if not m or _xor(m.group("body")[1:]) != m.group("cs"):
            invalid += 1
            continue
        if m.group("tag") is not None:
            tag = m.group("tag")
            assert _xor(tag) == m.group("tagcs"), line
            fields = dict(f.split(":", 1) for f in tag.split(","))
            c = int(fields["c"])
            t = c / 1000.0 if c > 10 ** 11 else float(c)
            seen_stations.add(fields["s"])
            forms.add("tag")
        else:
            assert m.group("iso") is not None, "every AIS line carries its time: " + line
            t = _epoch(m.group("iso"))
            forms.add("iso")
        assert t0 <= t < t0 + SMALL["minutes"] * 60 + 1
        times.append(t)
    assert invalid == s["ais_junk_lines"]
    assert 0 < invalid < 0.01 * len(times) + 5
    assert forms == {"tag", "iso"}
    assert seen_stations and seen_stations <= stations
    assert times == sorted(times)


def test_ais_decodes_and_matches_truth_mmsis(scenario):
    pyais = pytest.importorskip("pyais")
    out, _ = scenario
    truth_mmsi = {json.loads(l)["mmsi"] for l in _read_lines(out / "truth.jsonl")} - {None}
    types, frags = set(), []
    for line in _read_lines(out / "ais.nmea"):
        m = LINE_RE.match(line)
        if not m or _xor(m.group("body")[1:]) != m.group("cs"):
            continue
        sentence = m.group("body") + "*" + m.group("cs")
        parts = sentence.split(",")
        frags.append(sentence)
        if parts[1] != parts[2]:
            continue
        msg = pyais.decode(*frags).asdict()
        frags = []
        assert msg["mmsi"] in truth_mmsi
        types.add(msg["msg_type"])
    assert {1, 5, 18, 24} <= types


def test_truth_positions_at_sea(scenario):
    out, _ = scenario
    rows = [json.loads(l) for l in _read_lines(out / "truth.jsonl")]
    lat = np.array([r["lat"] for r in rows])
    lon = np.array([r["lon"] for r in rows])
    bb = box(lon.min() - 0.1, lat.min() - 0.1, lon.max() + 0.1, lat.max() + 0.1)
    feats = json.loads(LAND_PATH.read_text())["features"]
    polys = [g for g in (shape(f["geometry"]) for f in feats) if g.intersects(bb)]
    assert polys, "the scenario area should contain some land/reef polygons"
    land = shapely.union_all(polys)
    shapely.prepare(land)
    assert not shapely.contains_xy(land, lon, lat).any()


def test_radar_plots_within_sensor_range(scenario):
    out, _ = scenario
    sensors = {x["id"]: x for x in json.loads((out / "sensors.json").read_text())["sensors"]}
    kinds = set()
    t0 = _epoch(SMALL["start"])
    prev = -math.inf
    for line in _read_lines(out / "radar.jsonl"):
        p = json.loads(line)
        assert p["kind"] == "plot"
        s = sensors[p["sensor_id"]]
        assert s["kind"] == "radar"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\dZ", p["time"])
        t = _epoch(p["time"])
        assert t0 <= t < t0 + SMALL["minutes"] * 60 and t >= prev
        prev = t
        if "range_m" in p:
            kinds.add("polar")
            assert 0 < p["range_m"] <= s["range_m"]
            assert 0 <= p["bearing_deg"] < 360
        else:
            kinds.add("geo")
            assert p["sigma_m"] > 0
            assert _distance_m(s["lat"], s["lon"], p["lat"], p["lon"]) <= s["range_m"] + 1.0
    assert kinds == {"polar", "geo"}


def test_vessel_mix_and_sensors(scenario):
    out, s = scenario
    rows = [json.loads(l) for l in _read_lines(out / "truth.jsonl")]
    per_vessel = {}
    for r in rows:
        per_vessel.setdefault(r["vessel"], r)
        assert r["class"] in ("A", "B", None)
        assert (r["mmsi"] is None) == (r["class"] is None)
        if r["class"] is None:
            assert r["ais"] is False
    classes = [r["class"] for r in per_vessel.values()]
    assert classes.count("A") > 0 and classes.count("B") > 0 and classes.count(None) > 0
    assert classes.count("A") > classes.count("B")
    assert len(per_vessel) == SMALL["vessels"]
    mmsis = [r["mmsi"] for r in per_vessel.values() if r["mmsi"] is not None]
    assert len(set(mmsis)) == len(mmsis) and all(100_000_000 < m < 800_000_000 for m in mmsis)
    sensors = json.loads((out / "sensors.json").read_text())["sensors"]
    radars = [x for x in sensors if x["kind"] == "radar"]
    receivers = [x for x in sensors if x["kind"] == "ais"]
    assert len(radars) >= 2 and 2 <= len(receivers) <= 4
    for r in radars:
        assert 40000 <= r["range_m"] <= 60000 and r["scan_period_s"] > 0
        assert r["range_sigma_m"] > 0 and r["bearing_sigma_deg"] > 0
    # overlapping radar coverage
    assert any(_distance_m(a["lat"], a["lon"], b["lat"], b["lon"]) < a["range_m"] + b["range_m"]
               for i, a in enumerate(radars) for b in radars[i + 1:])


def _truth_at(rows, t):
    """Each vessel's (lat, lon) at time t, linear between its 10 s truth points."""
    out = {}
    for vessel, pts in rows.items():
        times = pts[:, 0]
        if times[0] <= t <= times[-1]:
            out[vessel] = (float(np.interp(t, times, pts[:, 1])), float(np.interp(t, times, pts[:, 2])))
    return out


def test_polar_plots_measure_wgs84_range_and_bearing(scenario):
    """A polar plot's range and bearing are the WGS 84 geodesic ones (pyproj) to the vessel it sees,
    up to the radar's noise: over many plots the bias is a few metres (a sphere gives ~0.3 % of range)."""
    out, _ = scenario
    sensors = {x["id"]: x for x in json.loads((out / "sensors.json").read_text())["sensors"]}
    by_vessel = {}
    for line in _read_lines(out / "truth.jsonl"):
        r = json.loads(line)
        by_vessel.setdefault(r["vessel"], []).append((_epoch(r["time"]), r["lat"], r["lon"]))
    rows = {v: np.array(p) for v, p in by_vessel.items()}
    range_res, bearing_res = [], []
    for line in _read_lines(out / "radar.jsonl"):
        p = json.loads(line)
        if "range_m" not in p or p["range_m"] < 10_000:
            continue
        s = sensors[p["sensor_id"]]
        plon, plat, _ = GEOD.fwd(s["lon"], s["lat"], p["bearing_deg"], p["range_m"])
        truth = _truth_at(rows, _epoch(p["time"]))
        if not truth:
            continue
        near = min(truth.values(), key=lambda ll: GEOD.inv(plon, plat, ll[1], ll[0])[2])
        if GEOD.inv(plon, plat, near[1], near[0])[2] > 4 * p["range_m"] * math.radians(s["bearing_sigma_deg"]):
            continue  # clutter
        az, _, dist = GEOD.inv(s["lon"], s["lat"], near[1], near[0])
        range_res.append(p["range_m"] - dist)
        bearing_res.append((p["bearing_deg"] - az + 180.0) % 360.0 - 180.0)
    assert len(range_res) > 200
    assert abs(float(np.median(range_res))) < 8.0  # range sigma 30 m, plots of 10-42 km
    assert abs(float(np.median(bearing_res))) < 0.05  # bearing sigma 0.3°
    assert 20.0 < float(np.std(range_res)) < 45.0  # the radar's own noise is there
