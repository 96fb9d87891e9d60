#!/usr/bin/env python3
"""Seeded synthetic maritime scenario generator (South China Sea / Spratly Islands).

Writes, into an output directory, the input feeds described in docs/architecture.md
("Input formats") plus the ground truth they were derived from:

    ais.nmea      NMEA 0183 AIS sentences (pyais-encoded), one sentence a line, each line
                  carrying its time as an NMEA 4.10 tag block (``\\s:STATION,c:EPOCH*hh\\``,
                  seconds or milliseconds) or an ISO 8601 leading timestamp, depending on
                  the receiving station; sorted by time; ~0.2 % deliberate junk lines.
    radar.jsonl   JSON Lines radar plots (geographic or polar, depending on the radar),
                  sorted by time, with clutter.
    sensors.json  the sensors file (radars and AIS receivers).
    truth.jsonl   ground truth, one line per vessel per 10 s.

Usage::

    python sample_feeds/generate.py --out DIR --vessels N --minutes M --seed S \\
        [--start 2026-11-24T08:00:00Z]

Everything is derived from ``numpy.random.default_rng`` streams keyed on the seed, so the
same arguments always give byte-identical files.  Besides the standard library, numpy,
shapely and pyais, it uses the project's one earth model, ``fusion.geodesy`` (WGS 84
geodesics through pyproj), so that its radar ranges and bearings are those the ingest
decodes; the tests check its output against pyproj directly.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box, shape
import pyais

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from a checkout
from fusion.geodesy import M_PER_DEG_LAT, destination_array, inverse_array, m_per_deg, m_per_deg_array  # noqa: E402

# --------------------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------------------
KN = 1852.0 / 3600.0  # m/s per knot
TRUTH_STEP_S = 10
DEFAULT_START = "2026-11-24T08:00:00Z"

HERE = Path(__file__).resolve().parent
LAND_PATH = HERE.parent / "services" / "data" / "geo" / "land_osm.geojson"

# Radars on features occupied by a claimant (central/northern Spratlys).
# plot_format: "geo" -> lat/lon plots with sigma_m; "polar" -> range/bearing plots.
RADARS = [
    {"id": "PH-PAG-R1", "kind": "radar", "site": "Pag-asa (Thitu) Island",
     "lat": 11.0530, "lon": 114.2840, "range_m": 50000, "accuracy_m": 50,
     "scan_period_s": 6, "owner": "PH-CG", "releasability": ["ASEAN"],
     "range_sigma_m": 40, "bearing_sigma_deg": 0.3, "plot_format": "geo",
     "antenna_height_m": 35, "beamwidth_deg": 1.2, "range_resolution_m": 60},
    {"id": "VN-SWC-R1", "kind": "radar", "site": "Southwest Cay (Song Tu Tay)",
     "lat": 11.4290, "lon": 114.3310, "range_m": 42000, "accuracy_m": 60,
     "scan_period_s": 6, "owner": "VN-CG", "releasability": ["ASEAN"],
     "range_sigma_m": 30, "bearing_sigma_deg": 0.3, "plot_format": "polar",
     "antenna_height_m": 25, "beamwidth_deg": 1.5, "range_resolution_m": 50},
    {"id": "VN-NMY-R2", "kind": "radar", "site": "Namyit Island (Nam Yet)",
     "lat": 10.1800, "lon": 114.3610, "range_m": 50000, "accuracy_m": 60,
     "scan_period_s": 6, "owner": "VN-CG", "releasability": ["ASEAN"],
     "range_sigma_m": 35, "bearing_sigma_deg": 0.35, "plot_format": "geo",
     "antenna_height_m": 30, "beamwidth_deg": 1.3, "range_resolution_m": 60},
]

# AIS receivers; "time_form" selects how this station's lines carry their time.
RECEIVERS = [
    {"id": "PH-PAG-A1", "kind": "ais", "site": "Pag-asa (Thitu) Island",
     "lat": 11.0530, "lon": 114.2840, "range_m": 74000, "owner": "PH-CG",
     "releasability": ["ASEAN"], "time_form": "tag_s"},
    {"id": "VN-NMY-A1", "kind": "ais", "site": "Namyit Island (Nam Yet)",
     "lat": 10.1800, "lon": 114.3610, "range_m": 74000, "owner": "VN-MSA",
     "releasability": ["ASEAN"], "time_form": "iso"},
    {"id": "PH-LAW-A1", "kind": "ais", "site": "Lawak (Nanshan) Island",
     "lat": 10.7300, "lon": 115.8000, "range_m": 74000, "owner": "PH-CG",
     "releasability": ["ASEAN"], "time_form": "tag_ms"},
]

# Areas where the non-transit traffic lives: (name, lat, lon, radius_m, weight, radar_covered)
ZONES = [
    ("thitu-subi", 10.98, 114.18, 35000, 0.20, True),
    ("tizard-union", 10.05, 114.45, 35000, 0.20, True),
    ("loaita-lawak", 10.75, 115.50, 60000, 0.60, False),
]
# anchorage clusters (militia-style swarms / supply vessels): (lat, lon, radius_m)
ANCHOR_SPOTS = [
    (9.985, 114.660, 4000),   # Whitsun Reef
    (11.075, 114.215, 4000),  # between Thitu and Subi (Sandy Cay)
    (11.040, 114.300, 2500),  # off Thitu
    (10.200, 114.370, 2500),  # off Namyit
]

CLASS_TYPES = {
    "A": (["cargo", "tanker", "fishing", "patrol", "supply"], [0.30, 0.17, 0.28, 0.12, 0.13]),
    "B": (["fishing", "supply", "patrol"], [0.85, 0.10, 0.05]),
    None: (["fishing", "patrol", "supply"], [0.75, 0.15, 0.10]),
}
SHIP_TYPE_CODE = {"cargo": 70, "tanker": 80, "fishing": 30, "patrol": 55, "supply": 90}
# (turn rate deg/s, acceleration m/s^2, height range m, length range m)
DYN = {
    "cargo": (0.30, 0.03, (22, 38), (120, 300)),
    "tanker": (0.25, 0.02, (22, 40), (150, 330)),
    "fishing": (2.00, 0.15, (4, 8), (14, 45)),
    "patrol": (1.50, 0.20, (9, 20), (40, 100)),
    "supply": (1.00, 0.10, (8, 14), (45, 80)),
}
BEHAVIOURS = {
    "cargo": (["transit"], [1.0]),
    "tanker": (["transit"], [1.0]),
    "fishing": (["trawl", "loiter", "anchored", "transit_fish"], [0.32, 0.42, 0.12, 0.14]),
    "patrol": (["patrol", "shadow"], [0.8, 0.2]),
    "supply": (["supply_run", "anchored"], [0.6, 0.4]),
}
FLAGS = {
    "fishing": (["VN", "CN", "PH", "MY"], [0.40, 0.35, 0.20, 0.05]),
    "cargo": (["SG", "HK", "PA", "LR", "MH", "CN", "VN", "PH", "MY", "ID", "TH", "TW"],
              [0.15, 0.14, 0.14, 0.10, 0.08, 0.14, 0.07, 0.05, 0.05, 0.03, 0.02, 0.03]),
    "tanker": (["SG", "LR", "MH", "PA", "HK", "MY", "CN", "TH", "ID"],
               [0.20, 0.15, 0.15, 0.15, 0.10, 0.08, 0.10, 0.04, 0.03]),
    "patrol": (["PH", "VN", "CN", "MY"], [0.38, 0.30, 0.27, 0.05]),
    "supply": (["PH", "VN", "CN", "MY"], [0.35, 0.35, 0.20, 0.10]),
}
MIDS = {"VN": [574], "PH": [548], "CN": [412, 413, 414], "MY": [533], "SG": [563, 564, 565, 566],
        "HK": [477], "PA": [351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373], "LR": [636],
        "MH": [538], "ID": [525], "TH": [567], "TW": [416]}
CALLSIGN_PREFIX = {"VN": "XV", "PH": "DU", "CN": "B", "MY": "9M", "SG": "9V", "HK": "VR", "PA": "3E",
                   "LR": "A8", "MH": "V7", "ID": "PK", "TH": "HS", "TW": "BR"}
NAME_A = ["PACIFIC", "ORIENT", "GOLDEN", "OCEAN", "JADE", "CORAL", "EASTERN", "SILVER", "BLUE",
          "GREAT", "LUCKY", "STAR", "SUNRISE", "HARMONY", "MERIDIAN", "NORTHERN", "ROYAL", "SEA",
          "GLORY", "PEARL", "ASIAN", "BRIGHT", "EVER", "KOTA", "BINTANG", "MAJU", "SRI"]
NAME_B = ["PIONEER", "TRADER", "SPIRIT", "VOYAGER", "HARVEST", "BREEZE", "DAWN", "FORTUNE", "HOPE",
          "LINK", "EXPRESS", "VENTURE", "PRIDE", "WISDOM", "EMPEROR", "LOTUS", "PHOENIX", "ARROW",
          "MARINER", "SPLENDOR", "UNITY", "CREST", "HAVEN", "JAYA", "MUTIARA", "SATRIA"]
DESTS = ["SGSIN", "CNSHK", "HKHKG", "CNSHA", "PHMNL", "VNSGN", "MYBTU", "MYKUA", "THLCH", "TWKHH",
         "IDJKT", "BNMUA", "CNZOS", "VNVUT", "PHSUB", "MYMYY"]
STATION_VENDORS = ["SRT", "TRU", "ACR", "COM", "MAT"]


# --------------------------------------------------------------------------------------
# geodesic helpers (vectorised; WGS 84 through fusion.geodesy)
# --------------------------------------------------------------------------------------
def _plain(a):
    return a[()] if np.ndim(a) == 0 else a


def dist_brg(lat1, lon1, lat2, lon2):
    """Geodesic distance (m) and initial bearing (deg) from 1 to 2."""
    d, b, _ = inverse_array(lat1, lon1, lat2, lon2)
    return _plain(d), _plain(b)


def destination(lat, lon, brg, dist):
    """Point reached from (lat, lon) along the geodesic with initial bearing brg (deg)."""
    la, lo = destination_array(lat, lon, brg, dist)
    return _plain(la), _plain(lo)


def wrap180(a):
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def iso(epoch: float, decimals: int = 0) -> str:
    """ISO 8601 UTC time with a fixed number of decimals (0 or 1..6)."""
    scale = 10 ** decimals
    n = int(round(epoch * scale))
    secs, frac = divmod(n, scale)
    s = dt.datetime.fromtimestamp(secs, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if decimals:
        s += ".%0*d" % (decimals, frac)
    return s + "Z"


def parse_start(start) -> float:
    if isinstance(start, (int, float)):
        return float(start)
    if isinstance(start, dt.datetime):
        d = start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)
        return d.timestamp()
    s = str(start).strip().replace("Z", "+00:00")
    d = dt.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d.timestamp()


def nmea_checksum(body: str) -> str:
    c = 0
    for ch in body:
        c ^= ord(ch)
    return "%02X" % c


# --------------------------------------------------------------------------------------
# land
# --------------------------------------------------------------------------------------
class Land:
    """Land polygons (OSM) clipped to the scenario box, prepared for fast tests."""

    def __init__(self, bbox):
        with open(LAND_PATH, encoding="utf-8") as fh:
            feats = json.load(fh)["features"]
        b = box(*bbox)
        geoms = [shape(f["geometry"]) for f in feats]
        sel = [g.intersection(b) for g in geoms if g.intersects(b)]
        self.geom = shapely.union_all(sel) if sel else shapely.GeometryCollection()
        shapely.prepare(self.geom)
        self.bbox = bbox
        # clearance buffers (deg, approximately metres / M_PER_DEG_LAT): used to keep routes off reefs
        self._buf = {}

    def buffered(self, metres: float):
        key = int(metres)
        if key not in self._buf:
            g = self.geom.buffer(metres / M_PER_DEG_LAT, quad_segs=4) if not self.geom.is_empty else self.geom
            shapely.prepare(g)
            self._buf[key] = g
        return self._buf[key]

    def on_land(self, lat, lon):
        return shapely.contains_xy(self.geom, np.asarray(lon), np.asarray(lat))

    def point_clear(self, lat, lon, clearance_m):
        inside = (self.bbox[1] <= lat <= self.bbox[3]) and (self.bbox[0] <= lon <= self.bbox[2])
        return inside and not bool(shapely.contains_xy(self.buffered(clearance_m), lon, lat))

    def leg_clear(self, lat1, lon1, lat2, lon2, clearance_m):
        g = self.buffered(clearance_m)
        return not g.intersects(shapely.LineString([(lon1, lat1), (lon2, lat2)]))


# --------------------------------------------------------------------------------------
# vessel definitions and routes
# --------------------------------------------------------------------------------------
def _weighted(rng, items, weights):
    w = np.asarray(weights, float)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def _unique_name(rng, kind, flag, used):
    for _ in range(1000):
        if kind == "fishing":
            n = int(rng.integers(10000, 99999))
            if flag == "VN":
                prov = _weighted(rng, ["QNG", "BD", "KH", "BTH", "TTH", "QNA"], [3, 3, 2, 2, 1, 1])
                name = f"{prov} {n} TS"
            elif flag == "CN":
                name = _weighted(rng, [f"QIONG SANSHA YU {n % 1000:05d}", f"YUE DIAN YU {n}",
                                       f"MIN SHI YU {n}"], [3, 2, 1])
            elif flag == "PH":
                name = f"FBCA {_weighted(rng, NAME_A, [1] * len(NAME_A))} {n % 100}"
            else:
                name = f"KNF {n % 10000} SRI"
        elif kind == "patrol":
            n = int(rng.integers(100, 9999))
            name = {"PH": f"BRP {_weighted(rng, NAME_B, [1] * len(NAME_B))} {n % 1000}",
                    "VN": f"CSB {n}", "CN": f"CHINA COAST GUARD {n}", "MY": f"KM {_weighted(rng, NAME_B, [1] * len(NAME_B))}"}[flag]
        else:
            a = NAME_A[int(rng.integers(len(NAME_A)))]
            b = NAME_B[int(rng.integers(len(NAME_B)))]
            name = f"{a} {b}" if rng.random() < 0.6 else f"{a} {b} {int(rng.integers(1, 30))}"
        name = name[:20]
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("name space exhausted")


def _unique_mmsi(rng, flag, used):
    while True:
        mid = MIDS[flag][int(rng.integers(len(MIDS[flag])))]
        m = mid * 1_000_000 + int(rng.integers(100000, 999999)) // 10 * 10  # ship stations often end in 0
        if m % 1000 == 0:
            continue
        if m not in used:
            used.add(m)
            return m


def _callsign(rng, flag):
    p = CALLSIGN_PREFIX[flag]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    tail = "".join(letters[int(i)] for i in rng.integers(0, 26, 2)) + "".join(str(int(i)) for i in rng.integers(0, 10, 7 - len(p) - 2))
    return (p + tail)[:7]


class World:
    def __init__(self, seed, duration_s):
        self.seed = seed
        self.duration = duration_s
        lats = [s["lat"] for s in RADARS + RECEIVERS]
        lons = [s["lon"] for s in RADARS + RECEIVERS]
        self.bbox = (min(lons) - 1.6, min(lats) - 1.6, max(lons) + 1.6, max(lats) + 1.6)
        self.land = Land(self.bbox)
        rng = np.random.default_rng([seed, 991])
        # regional surface current (NE monsoon drives a south-westward flow in November)
        self.cur_dir = float(rng.uniform(200, 245))
        self.cur_spd = float(rng.uniform(0.2, 0.5)) * KN
        self.leeway = float(rng.uniform(0.05, 0.2)) * KN

    def in_ais(self, lat, lon):
        ok = np.zeros(np.shape(lat), bool)
        for r in RECEIVERS:
            d, _ = dist_brg(r["lat"], r["lon"], lat, lon)
            ok |= d <= r["range_m"]
        return ok

    def in_radar(self, lat, lon, frac=1.0):
        ok = np.zeros(np.shape(lat), bool)
        for r in RADARS:
            d, _ = dist_brg(r["lat"], r["lon"], lat, lon)
            ok |= d <= r["range_m"] * frac
        return ok

    def in_radar_eff(self, lat, lon, height, frac=1.0):
        """Inside some radar's instrumented range and radar horizon for a target this tall."""
        ok = np.zeros(np.shape(lat), bool)
        for r in RADARS:
            hor = 4120.0 * (math.sqrt(r["antenna_height_m"]) + math.sqrt(height))
            d, _ = dist_brg(r["lat"], r["lon"], lat, lon)
            ok |= d <= min(r["range_m"], hor) * frac
        return ok

    # ----- sampling helpers -----
    def sample_disc(self, rng, lat, lon, radius, clearance, tries=400, pred=None):
        for _ in range(tries):
            r = radius * math.sqrt(rng.random())
            b = rng.uniform(0, 360)
            la, lo = destination(lat, lon, b, r)
            la, lo = float(la), float(lo)
            if self.land.point_clear(la, lo, clearance) and (pred is None or pred(la, lo)):
                return la, lo
        return None

    def sample_ais_area(self, rng, clearance, frac=0.9):
        for _ in range(2000):
            r = RECEIVERS[int(rng.choice(len(RECEIVERS), p=[0.2, 0.2, 0.6]))]
            p = self.sample_disc(rng, r["lat"], r["lon"], r["range_m"] * frac, clearance, tries=1)
            if p:
                return p
        raise RuntimeError("cannot sample sea point")


class Vessel:
    __slots__ = ("idx", "vid", "cls", "kind", "behaviour", "flag", "mmsi", "name", "callsign", "imo",
                 "ship_type", "length", "beam", "height", "draught", "dest", "eta", "omega", "acc",
                 "wps", "start", "start_hold", "ais_gap", "type3_frac", "vendor", "serial", "zone")


def make_vessels(world: World, n: int, seed: int):
    rng = np.random.default_rng([seed, 1])
    n_a = int(round(0.65 * n))
    n_b = int(round(0.20 * n))
    n_d = n - n_a - n_b
    classes = np.array(["A"] * n_a + ["B"] * n_b + ["-"] * n_d, dtype=object)
    rng.shuffle(classes)
    used_names, used_mmsi = set(), set()
    vessels = []
    for i in range(n):
        v = Vessel()
        v.idx = i
        v.vid = "V%04d" % (i + 1)
        v.cls = None if classes[i] == "-" else str(classes[i])
        kinds, w = CLASS_TYPES[v.cls]
        v.kind = _weighted(rng, kinds, w)
        bk, bw = BEHAVIOURS[v.kind]
        v.behaviour = _weighted(rng, bk, bw)
        fl, fw = FLAGS[v.kind]
        v.flag = _weighted(rng, fl, fw)
        if v.behaviour == "anchored" and v.kind == "fishing" and rng.random() < 0.7:
            v.flag = "CN"  # maritime-militia style swarms
        v.mmsi = _unique_mmsi(rng, v.flag, used_mmsi) if v.cls else None
        v.name = _unique_name(rng, v.kind, v.flag, used_names)
        v.callsign = _callsign(rng, v.flag)
        v.imo = int(rng.integers(9000000, 9899999)) if v.kind in ("cargo", "tanker") else 0
        v.ship_type = SHIP_TYPE_CODE[v.kind]
        if v.kind in ("cargo", "tanker"):
            v.ship_type += int(rng.integers(0, 5)) if rng.random() < 0.3 else 0
        om, acc, hr, lr = DYN[v.kind]
        v.omega, v.acc = om * rng.uniform(0.8, 1.2), acc * rng.uniform(0.8, 1.2)
        v.height = float(rng.uniform(*hr))
        v.length = int(rng.uniform(*lr))
        if v.cls == "B":
            v.length = min(v.length, 30)
            v.height = min(v.height, 8.0)
        if v.kind == "fishing" and v.behaviour == "anchored" and v.flag == "CN" and v.cls != "B":
            # militia-style steel-hulled trawlers are much bigger than the artisanal boats
            v.length, v.height = int(rng.uniform(45, 62)), float(rng.uniform(8, 11))
        v.beam = max(4, int(v.length * rng.uniform(0.14, 0.19)))
        v.draught = round(float(v.length * rng.uniform(0.04, 0.06)), 1)
        v.dest = _weighted(rng, DESTS, [1] * len(DESTS)) if v.kind in ("cargo", "tanker") else ""
        v.eta = (11, int(rng.integers(25, 31)), int(rng.integers(0, 24)), int(rng.choice([0, 30])))
        v.type3_frac = 0.03
        v.vendor = _weighted(rng, STATION_VENDORS, [1] * len(STATION_VENDORS))
        v.serial = int(rng.integers(1, 2 ** 20 - 1))
        # a few AIS-fitted fishing/supply vessels switch their transponder off for a while
        v.ais_gap = None
        if v.cls and v.kind in ("fishing", "supply") and rng.random() < 0.06 and world.duration >= 900:
            g0 = float(rng.uniform(0.15, 0.5)) * world.duration
            g1 = min(world.duration, g0 + float(rng.uniform(0.25, 0.45)) * world.duration)
            v.ais_gap = (g0, g1)
        vessels.append(v)
    return vessels


def build_route(world: World, v: Vessel, attempt: int):
    """Fill v.start, v.start_hold, v.wps (list of (lat, lon, speed_kn, hold_s, hold_mode))."""
    rng = np.random.default_rng([world.seed, 2, v.idx, attempt])
    land = world.land
    T = world.duration
    big = v.kind in ("cargo", "tanker")
    clear = 2500.0 if big else (600.0 if v.kind == "fishing" else 1200.0)
    radar_only = v.cls is None

    def zone_centre():
        names = [z for z in ZONES if (z[5] or not radar_only)]
        z = names[int(rng.choice(len(names), p=np.array([q[4] for q in names]) / sum(q[4] for q in names)))]
        v.zone = z[0]
        pred = None
        if radar_only:
            pred = lambda la, lo: bool(world.in_radar_eff(la, lo, v.height, 0.8))
        p = world.sample_disc(rng, z[1], z[2], z[3], clear, pred=pred)
        return p or world.sample_disc(rng, z[1], z[2], z[3], clear)

    def chain(lat, lon, hdg, legs, spd_rng, turn_sd, leg_rng):
        """Append legs (heading random walk) from (lat, lon); returns list of wps."""
        out = []
        for _ in range(legs):
            for _try in range(30):
                h = (hdg + rng.normal(0, turn_sd)) % 360
                L = rng.uniform(*leg_rng)
                la, lo = destination(lat, lon, h, L)
                la, lo = float(la), float(lo)
                if land.point_clear(la, lo, clear) and land.leg_clear(lat, lon, la, lo, clear):
                    break
            else:
                return None
            out.append((la, lo, float(rng.uniform(*spd_rng)), 0.0, 0))
            lat, lon, hdg = la, lo, h
        return out

    v.start_hold = None
    b = v.behaviour
    v.zone = "transit"
    for _outer in range(50):
        wps = None
        if b == "transit":
            spd = rng.uniform(10, 16) if v.kind == "cargo" else rng.uniform(10, 14)
            if v.kind == "supply":
                spd = rng.uniform(9, 12)
            c = world.sample_ais_area(rng, clear, 1.0)
            hdg = _weighted(rng, [35.0, 215.0, 0.0, 180.0, 80.0, 260.0], [3, 3, 1, 1, 1, 1]) + rng.normal(0, 20)
            path = spd * KN * T
            back = path * rng.uniform(0.1, 0.9)
            s = destination(c[0], c[1], (hdg + 180) % 360, back)
            s = (float(s[0]), float(s[1]))
            if not land.point_clear(s[0], s[1], clear):
                continue
            # leg from start through the centre, then onward with a course alteration
            wps = []
            if not land.leg_clear(s[0], s[1], c[0], c[1], clear):
                continue
            wps.append((c[0], c[1], spd, 0.0, 0))
            more = chain(c[0], c[1], hdg, 3, (spd - 0.5, spd + 0.5), 15, (path * 0.6, path * 1.2))
            if more is None:
                continue
            wps += more
            v.start = s
        elif b in ("trawl", "loiter", "transit_fish", "shadow"):
            c = zone_centre()
            if c is None:
                continue
            start = c
            wps = []
            if b == "transit_fish":
                spd = rng.uniform(6, 8)
                h = rng.uniform(0, 360)
                dist = rng.uniform(5000, 15000)
                s = destination(c[0], c[1], h, dist)
                s = (float(s[0]), float(s[1]))
                if not (land.point_clear(s[0], s[1], clear) and land.leg_clear(s[0], s[1], c[0], c[1], clear)):
                    continue
                start = s
                wps.append((c[0], c[1], spd, 0.0, 0))
            lat, lon = c
            t_acc = 0.0 if b != "transit_fish" else dist / (spd * KN)
            ok = True
            hdg = rng.uniform(0, 360)
            while t_acc < T * 1.3:
                if b == "trawl":
                    spd = rng.uniform(2.5, 4.0)
                    L = rng.uniform(2500, 6000)
                    hdg = (hdg + 180 + rng.normal(0, 25)) % 360
                    hold, mode = 0.0, 0
                elif b == "shadow":
                    spd = rng.uniform(3, 7)
                    L = rng.uniform(1500, 5000)
                    hdg = rng.uniform(0, 360)
                    hold, mode = (rng.uniform(120, 600), 2) if rng.random() < 0.3 else (0.0, 0)
                else:  # loiter: short slow legs, drifting with the gear out in between
                    spd = rng.uniform(1.0, 3.0)
                    L = rng.uniform(400, 2000)
                    hdg = rng.uniform(0, 360)
                    hold, mode = (rng.uniform(300, 1200), 2) if rng.random() < 0.5 else (0.0, 0)
                for _try in range(30):
                    la, lo = destination(lat, lon, hdg, L)
                    la, lo = float(la), float(lo)
                    if land.point_clear(la, lo, clear) and land.leg_clear(lat, lon, la, lo, clear):
                        break
                    hdg = rng.uniform(0, 360)
                else:
                    ok = False
                    break
                wps.append((la, lo, spd, hold, mode))
                t_acc += L / (spd * KN) + hold
                lat, lon = la, lo
            if not ok:
                continue
            v.start = start
        elif b == "patrol":
            c = zone_centre()
            if c is None:
                continue
            spd = rng.uniform(8, 20)
            wps = chain(c[0], c[1], rng.uniform(0, 360), 12, (max(8.0, spd - 3), min(20.0, spd + 3)), 70,
                        (6000, 15000))
            if wps is None:
                continue
            v.start = c
        elif b in ("anchored", "supply_run"):
            if b == "anchored" and v.kind == "fishing" and (not radar_only or rng.random() < 0.8):
                a = ANCHOR_SPOTS[int(rng.choice(2, p=[0.75, 0.25]))]
            else:
                a = ANCHOR_SPOTS[int(rng.integers(len(ANCHOR_SPOTS)))]
            p = world.sample_disc(rng, a[0], a[1], a[2], 300.0 if v.kind == "fishing" else 600.0)
            if p is None:
                continue
            if b == "anchored":
                v.start = p
                v.start_hold = (T * 10, 1)
                wps = [(p[0], p[1], 0.0, T * 10, 1)]
            else:
                spd = rng.uniform(9, 12)
                dist = spd * KN * T * rng.uniform(0.3, 0.7)
                h = rng.uniform(0, 360)
                s = destination(p[0], p[1], h, dist)
                s = (float(s[0]), float(s[1]))
                if not (land.point_clear(s[0], s[1], clear) and land.leg_clear(s[0], s[1], p[0], p[1], clear)):
                    continue
                if radar_only and not world.in_radar_eff(s[0], s[1], v.height, 0.9):
                    continue
                v.start = s
                appr = destination(p[0], p[1], h, 800.0)
                appr = (float(appr[0]), float(appr[1]))
                wps = [(appr[0], appr[1], spd, 0.0, 0), (p[0], p[1], 3.0, T * 10, 1)]
        if wps:
            v.wps = wps
            return
    raise RuntimeError(f"could not build a route for {v.vid}")


# --------------------------------------------------------------------------------------
# kinematic simulation (1 s steps, all vessels at once)
# --------------------------------------------------------------------------------------
def simulate(world: World, vessels, n_steps: int):
    n = len(vessels)
    W = max(len(v.wps) for v in vessels)
    WLAT = np.zeros((n, W)); WLON = np.zeros((n, W)); WSPD = np.zeros((n, W))
    WHOLD = np.zeros((n, W)); WMODE = np.zeros((n, W), int)
    for i, v in enumerate(vessels):
        for j in range(W):
            la, lo, sp, ho, mo = v.wps[min(j, len(v.wps) - 1)]
            if j >= len(v.wps):  # past the route end: hold there, drifting
                ho, mo = world.duration * 10, mo or 2
            WLAT[i, j], WLON[i, j], WSPD[i, j], WHOLD[i, j], WMODE[i, j] = la, lo, sp * KN, ho, mo
    omega = np.array([v.omega for v in vessels])
    acc = np.array([v.acc for v in vessels])
    rng = np.random.default_rng([world.seed, 3])
    lat = np.array([v.start[0] for v in vessels])
    lon = np.array([v.start[1] for v in vessels])
    idx = np.zeros(n, int)
    mode = np.zeros(n, int)  # 0 underway to waypoint, 1 anchored, 2 drifting
    hold_until = np.zeros(n)
    for i, v in enumerate(vessels):
        if v.start_hold:
            mode[i] = v.start_hold[1]
            hold_until[i] = v.start_hold[0]
    ar = np.arange(n)
    _, hdg = dist_brg(lat, lon, WLAT[ar, 0], WLON[ar, 0])
    hdg = hdg + rng.normal(0, 2, n)
    vw = np.where(mode == 0, WSPD[ar, 0], 0.0)
    yaw = np.zeros(n)
    ce = world.cur_spd * math.sin(math.radians(world.cur_dir))
    cn = world.cur_spd * math.cos(math.radians(world.cur_dir))
    le = world.leeway * math.sin(math.radians(world.cur_dir))
    ln_ = world.leeway * math.cos(math.radians(world.cur_dir))

    LAT = np.empty((n_steps + 1, n)); LON = np.empty((n_steps + 1, n))
    SOG = np.empty((n_steps + 1, n)); COG = np.empty((n_steps + 1, n)); HDG = np.empty((n_steps + 1, n))
    MODE = np.empty((n_steps + 1, n), np.int8)
    yaw_sd = np.where(np.isin([v.kind for v in vessels], ["cargo", "tanker"]), 0.6, 2.0)
    cur_mul = np.ones(n)
    for k in range(n_steps + 1):
        t = float(k)
        # --- waypoint logic
        tl, tn = WLAT[ar, idx], WLON[ar, idx]
        d, brg = dist_brg(lat, lon, tl, tn)
        turn_r = vw / np.radians(np.maximum(omega, 0.05))
        arrive = (mode == 0) & (d < np.maximum(np.maximum(2.0 * vw, 0.5 * turn_r), 25.0))
        for i in np.nonzero(arrive)[0]:
            if WHOLD[i, idx[i]] > 0:
                mode[i] = WMODE[i, idx[i]]
                hold_until[i] = t + WHOLD[i, idx[i]]
            else:
                idx[i] = min(idx[i] + 1, W - 1)
        release = (mode != 0) & (t >= hold_until)
        for i in np.nonzero(release)[0]:
            mode[i] = 0
            idx[i] = min(idx[i] + 1, W - 1)
        if len(np.nonzero(arrive)[0]) or len(np.nonzero(release)[0]):
            tl, tn = WLAT[ar, idx], WLON[ar, idx]
            d, brg = dist_brg(lat, lon, tl, tn)
        # --- steering: crab into the current to make good the bearing to the waypoint
        vt = np.where(mode == 0, WSPD[ar, idx], 0.0)
        cperp = world.cur_spd * np.sin(np.radians(world.cur_dir - brg))
        crab = np.degrees(np.arcsin(np.clip(cperp / np.maximum(vw, 0.3), -0.8, 0.8)))
        want = np.where(mode == 0, brg - crab, hdg)
        dh = wrap180(want - hdg)
        hdg = (hdg + np.clip(dh, -omega, omega)) % 360
        vw = vw + np.clip(vt - vw, -acc, acc)
        vw = np.maximum(vw, 0.0)
        # small yaw oscillation (sea state, autopilot)
        yaw = yaw * math.exp(-1 / 40.0) + rng.normal(0, 1, n) * yaw_sd * math.sqrt(1 - math.exp(-2 / 40.0))
        h_eff = np.radians(hdg + yaw)
        anchored = (mode == 1) & (vw < 0.05)
        ve = vw * np.sin(h_eff) + np.where(anchored, 0.0, ce * cur_mul + np.where(mode == 2, le, 0.0))
        vn = vw * np.cos(h_eff) + np.where(anchored, 0.0, cn * cur_mul + np.where(mode == 2, ln_, 0.0))
        sog = np.hypot(ve, vn)
        cog = np.where(sog > 1e-6, np.degrees(np.arctan2(ve, vn)) % 360, hdg)
        LAT[k], LON[k], SOG[k], COG[k], HDG[k], MODE[k] = lat, lon, sog / KN, cog, hdg % 360, mode
        # --- propagate (local metric step on the ellipsoid)
        kx, ky = m_per_deg_array(lat)
        lat = lat + vn / ky
        lon = lon + ve / kx
    return {"lat": LAT, "lon": LON, "sog": SOG, "cog": COG, "hdg": HDG, "mode": MODE}


def interp_state(track, i, t):
    """Linear interpolation of position at fractional times t (array) for vessel column i."""
    t = np.asarray(t, float)
    k = np.clip(np.floor(t).astype(int), 0, track["lat"].shape[0] - 2)
    f = t - k
    la = track["lat"][k, i] * (1 - f) + track["lat"][k + 1, i] * f
    lo = track["lon"][k, i] * (1 - f) + track["lon"][k + 1, i] * f
    kn = np.clip(np.rint(t).astype(int), 0, track["lat"].shape[0] - 1)
    return la, lo, kn


# --------------------------------------------------------------------------------------
# AIS
# --------------------------------------------------------------------------------------
def _rx_prob(d, rng_m, class_b):
    eff = rng_m * (0.75 if class_b else 1.0)
    p = np.where(d < 0.6 * eff, 0.96, 0.96 - 0.5 * (d - 0.6 * eff) / (0.4 * eff))
    p = np.where(d > eff, 0.35 * np.clip(1 - (d - eff) / max(rng_m - eff, 1.0), 0, 1), p)
    return np.where(d > rng_m, 0.0, np.clip(p, 0, 1))


def gen_ais(world, vessels, track, t0):
    """Returns list of (time, order, [sentences], station_index) receptions."""
    T = world.duration
    out = []
    order = 0
    for i, v in enumerate(vessels):
        if not v.cls:
            continue
        vr = np.random.default_rng([world.seed, 4, i])
        tx = []  # (t, kind)
        # position reports
        t = float(vr.uniform(0, 10 if v.cls == "A" else 30))
        while t < T:
            k = int(round(t))
            sog = track["sog"][k, i]
            mode = track["mode"][k, i]
            if v.cls == "A":
                if mode == 1 or sog < 1.0:
                    step = 180.0
                elif sog > 14.0:
                    step = 6.0
                else:
                    step = 10.0
            else:
                step = 30.0 if sog > 2.0 else 180.0
            tx.append((t, "pos"))
            t += step * float(vr.uniform(0.98, 1.02))
        t = float(vr.uniform(0, 360))
        while t < T:
            if v.cls == "A":
                tx.append((t, "static5"))
            else:
                tx.append((t, "static24a"))
                tb = t + float(vr.uniform(0.5, 5.0))
                if tb < T:
                    tx.append((tb, "static24b"))
            t += 360.0 * float(vr.uniform(0.99, 1.01))
        tx.sort()
        if v.ais_gap:
            tx = [x for x in tx if not (v.ais_gap[0] <= x[0] < v.ais_gap[1])]
        if not tx:
            continue
        times = np.array([x[0] for x in tx])
        la, lo, kn = interp_state(track, i, times)
        # receptions per station
        recv = []
        for s in RECEIVERS:
            d, _ = dist_brg(s["lat"], s["lon"], la, lo)
            p = _rx_prob(d, s["range_m"], v.cls == "B") * 0.97  # slot collisions
            recv.append(vr.random(len(times)) < p)
        for j, (t, kind) in enumerate(tx):
            stations = [si for si in range(len(RECEIVERS)) if recv[si][j]]
            if not stations:
                continue
            ch = "A" if vr.random() < 0.5 else "B"
            k = kn[j]
            sog = float(track["sog"][k, i])
            cog = float(track["cog"][k, i])
            if kind == "pos":
                # GNSS noise (~4 m) on the reported position
                kx, ky = m_per_deg(float(la[j]))
                nla = float(la[j]) + float(vr.normal(0, 4.0)) / ky
                nlo = float(lo[j]) + float(vr.normal(0, 4.0)) / kx
                sec = int(math.floor(t0 + t)) % 60
                rep_sog = max(0.0, round(sog + float(vr.normal(0, 0.05)), 1))
                rep_cog = round((cog + float(vr.normal(0, 0.4))) % 360, 1) if sog > 0.2 else round(cog, 1)
                if v.cls == "A":
                    mode = int(track["mode"][k, i])
                    if mode == 1:
                        status = 1
                    elif v.kind == "fishing" and v.behaviour in ("trawl", "loiter") and sog < 5:
                        status = 7
                    else:
                        status = 0
                    msg = {"type": 3 if vr.random() < v.type3_frac else 1, "mmsi": v.mmsi, "status": status,
                           "turn": 0.0 if status == 1 else -128, "speed": rep_sog, "accuracy": False,
                           "lon": nlo, "lat": nla, "course": rep_cog,
                           "heading": int(round(float(track["hdg"][k, i]))) % 360, "second": sec,
                           "maneuver": 0, "raim": False, "radio": int(vr.integers(0, 2 ** 19))}
                else:
                    msg = {"type": 18, "mmsi": v.mmsi, "speed": rep_sog, "accuracy": False, "lon": nlo,
                           "lat": nla, "course": rep_cog, "heading": 511, "second": sec, "cs": True,
                           "display": False, "dsc": True, "band": True, "msg22": True, "assigned": False,
                           "raim": False, "radio": 393222}
            elif kind == "static5":
                bow = int(v.length * 0.8)
                msg = {"type": 5, "mmsi": v.mmsi, "ais_version": 2, "imo": v.imo, "callsign": v.callsign,
                       "shipname": v.name, "ship_type": v.ship_type, "to_bow": bow,
                       "to_stern": v.length - bow, "to_port": v.beam // 2,
                       "to_starboard": v.beam - v.beam // 2, "epfd": 1, "month": v.eta[0],
                       "day": v.eta[1], "hour": v.eta[2], "minute": v.eta[3], "draught": v.draught,
                       "destination": v.dest, "dte": False}
            elif kind == "static24a":
                msg = {"type": 24, "partno": 0, "mmsi": v.mmsi, "shipname": v.name}
            else:
                bow = int(v.length * 0.7)
                msg = {"type": 24, "partno": 1, "mmsi": v.mmsi, "ship_type": v.ship_type,
                       "vendorid": v.vendor, "model": 1, "serial": v.serial, "callsign": v.callsign,
                       "to_bow": bow, "to_stern": v.length - bow, "to_port": v.beam // 2,
                       "to_starboard": v.beam - v.beam // 2}
            msg["msg_type"] = msg["type"]  # pyais keeps the class default (1) for type 3 otherwise
            sentences = pyais.encode_dict(msg, talker_id="AI", sentence_type="VDM", radio_channel=ch,
                                          seq_id=order % 10 if kind == "static5" else None)
            for si in stations:
                out.append((t, order, sentences, si))
            order += 1
    return out


def format_ais(receptions, t0, rng):
    """Format receptions into lines (sorted by time) and insert a little junk."""
    def shown(r):  # the time as written on the line (whole seconds, or ms for tag_ms stations)
        ep = t0 + r[0]
        if RECEIVERS[r[3]]["time_form"] == "tag_ms":
            return math.floor(ep * 1000) / 1000.0
        return float(math.floor(ep))

    receptions.sort(key=lambda r: (shown(r), r[0], r[1], r[3]))
    lines = []
    group = 0
    for t, _o, sentences, si in receptions:
        st = RECEIVERS[si]
        ep = t0 + t
        form = st["time_form"]
        nfrag = len(sentences)
        if nfrag > 1:
            group += 1
        for fi, s in enumerate(sentences):
            if form == "iso":
                lines.append(f"{iso(math.floor(ep))} {s}")
            else:
                c = str(int(math.floor(ep))) if form == "tag_s" else str(int(math.floor(ep * 1000)))
                body = f"s:{st['id']},c:{c}"
                if nfrag > 1:
                    body = f"g:{fi + 1}-{nfrag}-{group % 10000},{body}"
                lines.append(f"\\{body}*{nmea_checksum(body)}\\{s}")
    # junk: ~0.2 % of lines, only ever touching single-fragment sentences
    n = len(lines)
    n_junk = max(3, int(round(n * 0.002))) if n >= 50 else 0
    kinds = ["bad_checksum", "truncated", "empty"]
    counts = {k: 0 for k in kinds}
    if n_junk:
        cand = [j for j, l in enumerate(lines) if ",1,1," in l]
        picks = sorted(int(x) for x in rng.choice(len(cand), size=min(n_junk, len(cand)), replace=False))
        inserts = []
        for m, p in enumerate(picks):
            j = cand[p]
            kind = kinds[m % 3]
            l = lines[j]
            if kind == "bad_checksum":
                cs = l[-2:]
                lines[j] = l[:-2] + "%02X" % (int(cs, 16) ^ int(rng.integers(1, 256)))
            elif kind == "truncated":
                cut = l.index("!AIVDM") + int(rng.integers(16, 30))
                lines[j] = l[:cut]
            else:
                inserts.append(j)
            counts[kind] += 1
        for j in reversed(inserts):
            lines.insert(j + 1, "")
    return lines, counts


# --------------------------------------------------------------------------------------
# radar
# --------------------------------------------------------------------------------------
def gen_radar(world, vessels, track, t0):
    T = world.duration
    heights = np.array([v.height for v in vessels])
    # single-scan detection probability well inside the horizon; small craft suffer from
    # the NE-monsoon sea clutter
    pd0 = np.array([0.93 if v.length >= 60 else (0.88 if v.length >= 30 else 0.84) for v in vessels])
    n = len(vessels)
    ar = np.arange(n)
    plots = []  # (t, radar_index, bearing, line)
    stats = {"radar_plots": 0, "radar_clutter_plots": 0, "radar_merged": 0}
    for ri, r in enumerate(RADARS):
        rng = np.random.default_rng([world.seed, 5, ri])
        P = float(r["scan_period_s"])
        phase = float(rng.uniform(0, P))
        scans = np.arange(phase, T, P)
        hor = 4120.0 * (math.sqrt(r["antenna_height_m"]) + np.sqrt(heights))
        r_eff = np.minimum(r["range_m"], hor)
        for ts in scans:
            # bearing at scan start tells when the beam sweeps over each target
            la0, lo0, _ = interp_state(track, ar, np.full(n, ts))
            _, b0 = dist_brg(r["lat"], r["lon"], la0, lo0)
            t_ill = np.round(ts + P * b0 / 360.0, 1)
            la, lo, _ = interp_state(track, ar, t_ill)
            rr, bb = dist_brg(r["lat"], r["lon"], la, lo)
            # Pd holds near pd0 out to 60 % of the effective range, then fades to 0.3 at the
            # radar horizon / instrumented range
            pd = np.where(rr < 0.6 * r_eff, pd0, pd0 - (pd0 - 0.3) * (rr - 0.6 * r_eff) / (0.4 * r_eff))
            pd = np.where(rr > r_eff, 0.0, pd)
            det = (rng.random(n) < pd) & (t_ill < T) & (rr > 300)
            di = np.nonzero(det)[0]
            # unresolved targets (same range cell and within a beamwidth) merge into one plot
            if len(di) > 1:
                dr = np.abs(rr[di][:, None] - rr[di][None, :])
                db = np.abs(wrap180(bb[di][:, None] - bb[di][None, :]))
                close = (dr < r["range_resolution_m"]) & (db < r["beamwidth_deg"])
                np.fill_diagonal(close, False)
                if close.any():
                    keep = np.ones(len(di), bool)
                    for a in range(len(di)):
                        if not keep[a]:
                            continue
                        partners = np.nonzero(close[a] & keep)[0]
                        partners = partners[partners > a]
                        if len(partners):
                            grp = np.concatenate(([a], partners))
                            rr[di[a]] = rr[di[grp]].mean()
                            bb[di[a]] = (bb[di[a]] + wrap180(bb[di[grp]] - bb[di[a]]).mean()) % 360
                            keep[partners] = False
                            stats["radar_merged"] += len(partners)
                    di = di[keep]
            meas = [(float(t_ill[i]), float(rr[i]), float(bb[i]), False) for i in di]
            # clutter: uniformly over the sea within coverage
            for _ in range(int(rng.poisson(1.5))):
                for _try in range(20):
                    cr = r["range_m"] * math.sqrt(rng.random())
                    cb = float(rng.uniform(0, 360))
                    cla, clo = destination(r["lat"], r["lon"], cb, cr)
                    if cr > 500 and not world.land.on_land(float(cla), float(clo)):
                        meas.append((round(ts + P * cb / 360.0, 1), cr, cb, True))
                        break
            for t, rng_m, brg, clut in meas:
                if t >= T:
                    continue
                if r["plot_format"] == "polar":
                    mr = round(rng_m + float(rng.normal(0, r["range_sigma_m"])))
                    mb = round((brg + float(rng.normal(0, r["bearing_sigma_deg"]))) % 360, 2) % 360
                    if mr > r["range_m"] or mr <= 0:
                        continue
                    line = ('{"kind":"plot","sensor_id":"%s","time":"%s","range_m":%.0f,"bearing_deg":%.2f}'
                            % (r["id"], iso(t0 + t, 1), mr, mb))
                else:
                    tla, tlo = destination(r["lat"], r["lon"], brg, rng_m)
                    sg = r["accuracy_m"]
                    e, nn = float(rng.normal(0, sg)), float(rng.normal(0, sg))
                    kx, ky = m_per_deg(float(tla))
                    mla = float(tla) + nn / ky
                    mlo = float(tlo) + e / kx
                    mla, mlo = round(mla, 4), round(mlo, 4)  # as written
                    d, _ = dist_brg(r["lat"], r["lon"], mla, mlo)
                    if d > r["range_m"]:
                        continue
                    line = ('{"kind":"plot","sensor_id":"%s","time":"%s","lat":%.4f,"lon":%.4f,"sigma_m":%d}'
                            % (r["id"], iso(t0 + t, 1), mla, mlo, sg))
                plots.append((round(t, 1), ri, brg, line))
                stats["radar_clutter_plots" if clut else "radar_plots"] += 1
    plots.sort(key=lambda p: (p[0], p[1], p[2]))
    return [p[3] for p in plots], stats


# --------------------------------------------------------------------------------------
# main entry
# --------------------------------------------------------------------------------------
def _coverage_ok(world, v, track, i):
    la, lo = track["lat"][::10, i], track["lon"][::10, i]
    if v.cls:
        cov = world.in_ais(la, lo) | world.in_radar(la, lo)
    else:
        cov = world.in_radar_eff(la, lo, v.height, 0.9)
    need = 0.4 if v.behaviour == "transit" else 0.85
    return cov.mean() >= need


def generate(out_dir, vessels: int = 240, minutes: int = 60, seed: int = 7, start=DEFAULT_START) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = parse_start(start)
    duration = int(round(minutes * 60))
    world = World(seed, duration)
    vs = make_vessels(world, vessels, seed)
    attempts = [0] * len(vs)
    for v in vs:
        build_route(world, v, 0)
    n_steps = duration + 12
    for _round in range(12):
        track = simulate(world, vs, n_steps)
        bad = []
        for i, v in enumerate(vs):
            onland = world.land.on_land(track["lat"][:, i], track["lon"][:, i]).any()
            if onland or (attempts[i] < 8 and not _coverage_ok(world, v, track, i)):
                if attempts[i] < 40:
                    bad.append(i)
        if not bad:
            break
        for i in bad:
            attempts[i] += 1
            build_route(world, vs[i], attempts[i])
    else:
        raise RuntimeError("could not keep all vessels at sea")
    onland = world.land.on_land(track["lat"], track["lon"])
    if onland.any():
        raise RuntimeError("vessel on land")

    # ---- truth
    truth_lines = []
    for k in range(0, duration, TRUTH_STEP_S):
        ts = iso(t0 + k)
        for i, v in enumerate(vs):
            ais_on = bool(v.cls) and not (v.ais_gap and v.ais_gap[0] <= k < v.ais_gap[1])
            truth_lines.append(
                '{"time":"%s","vessel":"%s","lat":%.5f,"lon":%.5f,"sog_kn":%.1f,"cog_deg":%.1f,'
                '"mmsi":%s,"ais":%s,"class":%s,"type":"%s"}'
                % (ts, v.vid, track["lat"][k, i], track["lon"][k, i], track["sog"][k, i],
                   track["cog"][k, i] % 360, v.mmsi if v.mmsi else "null", "true" if ais_on else "false",
                   '"%s"' % v.cls if v.cls else "null", v.kind))

    # ---- AIS
    rng_j = np.random.default_rng([seed, 6])
    receptions = gen_ais(world, vs, track, t0)
    n_messages = len({r[1] for r in receptions})
    ais_lines, junk = format_ais(receptions, t0, rng_j)

    # ---- radar
    radar_lines, rstats = gen_radar(world, vs, track, t0)

    # ---- sensors
    sensors = []
    for s in RADARS + RECEIVERS:
        sensors.append({k: val for k, val in s.items() if k != "time_form"})

    files = {
        "ais.nmea": "\n".join(ais_lines) + "\n",
        "radar.jsonl": "\n".join(radar_lines) + ("\n" if radar_lines else ""),
        "truth.jsonl": "\n".join(truth_lines) + "\n",
        "sensors.json": json.dumps({"sensors": sensors}, indent=2) + "\n",
    }
    sizes = {}
    for name, text in files.items():
        with open(out / name, "w", encoding="ascii", newline="\n") as fh:
            fh.write(text)
        sizes[name] = len(text.encode("ascii"))

    # observability: how much of the time each vessel is inside some sensor's range
    la, lo = track["lat"][:duration:TRUTH_STEP_S], track["lon"][:duration:TRUTH_STEP_S]
    in_r = world.in_radar(la, lo)
    in_any = in_r | world.in_ais(la, lo)
    coverage = {
        "mean_fraction_in_any_sensor_range": round(float(in_any.mean()), 3),
        "mean_fraction_in_radar_range": round(float(in_r.mean()), 3),
        "vessels_crossing_radar_edge": int((in_r.any(axis=0) & ~in_r.all(axis=0)).sum()),
        "vessels_crossing_any_sensor_edge": int((in_any.any(axis=0) & ~in_any.all(axis=0)).sum()),
    }

    cls_counts = {"A": 0, "B": 0, "none": 0}
    type_counts = {}
    for v in vs:
        cls_counts[v.cls or "none"] += 1
        type_counts[v.kind] = type_counts.get(v.kind, 0) + 1
    time_forms = {s["id"]: s["time_form"] for s in RECEIVERS}
    return {
        "seed": seed,
        "start": iso(t0),
        "minutes": minutes,
        "vessels": len(vs),
        "class_counts": cls_counts,
        "type_counts": dict(sorted(type_counts.items())),
        "ais_gap_vessels": [v.vid for v in vs if v.ais_gap],
        "ais_messages": n_messages,
        "ais_lines": len(ais_lines),
        "ais_junk_lines": sum(junk.values()),
        "ais_junk": junk,
        "ais_time_forms": time_forms,
        "radar_plots": rstats["radar_plots"] + rstats["radar_clutter_plots"],
        "radar_clutter_plots": rstats["radar_clutter_plots"],
        "radar_merged_targets": rstats["radar_merged"],
        "truth_lines": len(truth_lines),
        "radars": [r["id"] for r in RADARS],
        "ais_receivers": [r["id"] for r in RECEIVERS],
        "coverage": coverage,
        "current": {"set_deg": round(world.cur_dir, 1), "drift_kn": round(world.cur_spd / KN, 2)},
        "files": sizes,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--vessels", type=int, default=240)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default=DEFAULT_START)
    a = ap.parse_args(argv)
    minutes = int(a.minutes) if float(a.minutes).is_integer() else a.minutes
    summary = generate(a.out, a.vessels, minutes, a.seed, a.start)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
