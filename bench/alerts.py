"""Alert evaluation: per-type precision/recall, a clean day's false-alarm rate, rules cost.

    python -m bench.alerts [--seed 7] [--vessels 400] [--hours 24] [--tracks 10000] [--quick]

1. **Labelled scenarios.**  For every alert type, injected cases that must fire (right
   vessel, time window, place) and near-misses that must not, embedded in background
   traffic, run through ``fusion.pipeline.Fusion`` (pure, driven by feed time) on the
   product's geography (land, 12 nm zones, ports, approximate EEZs, receivers).
   Precision = matched alerts / alerts raised of that type (alerts later retracted are
   counted apart); recall = positive cases with a matching alert / positive cases.
2. **Clean day.**  Normal traffic only: merchant ships along the sea lanes, fishing
   vessels trawling (and drifting at night) on grounds in their own EEZ, ships at anchor
   off ports, coastal AIS receivers and radars.  Every alert is a false alarm; reported
   per 1,000 vessel-hours of vessels in the picture.
3. **Rules cost.**  10,000 live AIS tracks: ``Fusion.update`` with rules against the same
   fusion without the rules step (same input, same run, interleaved).

Synthetic and seeded: the figures describe the rules on this traffic, not on a real feed.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import shape

from fusion.geodesy import KN_TO_MS, distance_m, distance_m_array, from_local, m_per_deg, m_per_deg_array
from fusion.model import Alert, Observation, Sensor
from fusion.pipeline import Fusion
from fusion.rules import ALERT_TYPES, RulesConfig
from services.geo import layer
from services.geography import build_geography

T0 = 1_795_000_000.0        # 2026-11-18T06:13:20Z; any fixed epoch
NM = 1852.0
FLAG_MIDS = {"CN": [412, 413], "VN": [574], "PH": [548], "MY": [533], "ID": [525], "TH": [567],
             "SG": [563], "TW": [416], "KH": [514], "BN": [508], "HK": [477], "PA": [351, 352, 353],
             "LR": [636], "MH": [538], "JP": [431], "KR": [440], "GR": [240], "MT": [215]}
MERCHANT_FLAGS = (["PA"] * 6 + ["LR"] * 5 + ["MH"] * 4 + ["SG"] * 4 + ["HK"] * 3 + ["CN"] * 4 + ["MT"] * 2
                  + ["GR"] * 2 + ["JP", "KR", "VN", "PH", "MY", "ID", "TH"])
FISHING_STATES = ["VN", "CN", "PH", "MY", "ID", "TH"]


# ------------------------------------------------------------------ paths
@dataclass
class Path:
    """Piecewise-linear motion: times (s) and positions; position at any t by interpolation."""
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    def at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        lat = np.interp(times, self.t, self.lat)
        lon = np.interp(times, self.t, self.lon)
        k = np.clip(np.searchsorted(self.t, times, side="right") - 1, 0, len(self.t) - 2)
        dt = np.maximum(self.t[k + 1] - self.t[k], 1e-9)
        kx, ky = m_per_deg_array(self.lat[k])
        dn = (self.lat[k + 1] - self.lat[k]) * ky
        de = (self.lon[k + 1] - self.lon[k]) * kx
        sog = np.hypot(dn, de) / dt / KN_TO_MS
        cog = np.degrees(np.arctan2(de, dn)) % 360.0
        return lat, lon, sog, cog


def path_from_waypoints(t0: float, pts: list[tuple[float, float]], speeds_kn: list[float] | float) -> Path:
    ts, la, lo = [t0], [pts[0][0]], [pts[0][1]]
    for k, (a, b) in enumerate(zip(pts, pts[1:])):
        v = speeds_kn if isinstance(speeds_kn, (int, float)) else speeds_kn[k]
        d = distance_m(a[0], a[1], b[0], b[1])
        ts.append(ts[-1] + (d / (v * KN_TO_MS) if v > 0 else 0.0))
        la.append(b[0])
        lo.append(b[1])
    return Path(np.array(ts), np.array(la), np.array(lo))


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    return from_local(lat, lon, east_m, north_m)


def stay(t0: float, t1: float, lat: float, lon: float) -> Path:
    return Path(np.array([t0, t1]), np.array([lat, lat]), np.array([lon, lon]))


def concat(*paths: Path) -> Path:
    t = np.concatenate([p.t for p in paths])
    keep = np.concatenate([[True], np.diff(t) > 0])
    return Path(t[keep], np.concatenate([p.lat for p in paths])[keep], np.concatenate([p.lon for p in paths])[keep])


# ------------------------------------------------------------------ the world
class World:
    """Product geography plus the sensors of the scenario and the lane graph."""

    def __init__(self, rng: np.random.Generator, extra_sensors: list[Sensor] = ()) -> None:
        self.rng = rng
        ports = [(f["properties"].get("name") or "", f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])
                 for f in layer("ports_scs")["features"]]
        self.ports = ports
        base = build_geography({})
        self.base_geo = base
        # harbour anchor points: sea points 1–3 km off each port
        self.anchor_spots: list[tuple[str, float, float]] = []
        for name, la, lo in ports:
            for _ in range(12):
                r, b = rng.uniform(800, 3500), rng.uniform(0, 2 * math.pi)
                p = offset(la, lo, r * math.sin(b), r * math.cos(b))
                if base.inland_m(*p) == 0.0 and self._sea_clear(p[0], p[1], 300.0):
                    self.anchor_spots.append((name, p[0], p[1]))
                    break
        # AIS receivers: a coastal station at every port at least 120 km from the previous ones
        rx: list[Sensor] = []
        for name, la, lo in sorted(ports, key=lambda p: (round(p[1]), p[2])):
            if all(distance_m(la, lo, s.lat, s.lon) > 120_000 for s in rx):
                rx.append(Sensor(f"AIS-{len(rx) + 1:02d}", "ais", la, lo, range_m=90_000.0))
        self.sensors = {s.id: s for s in rx + list(extra_sensors)}
        self.geo = build_geography(self.sensors)
        self.rx = np.array([(s.lat, s.lon, s.range_m) for s in self.sensors.values() if s.kind == "ais"])
        self.radars = [s for s in self.sensors.values() if s.kind == "radar"]
        self.watch = shapely.union_all([g for _, _, g in self.geo.watch]).buffer(0.1)
        shapely.prepare(self.watch)
        self._lane_graph()

    def _sea_clear(self, lat: float, lon: float, metres: float) -> bool:
        """At sea and at least ``metres`` from land (checked on a ring of points)."""
        if self.base_geo.inland_m(lat, lon) > 0:
            return False
        for k in range(8):
            a = k * math.pi / 4
            if self.base_geo.inland_m(*offset(lat, lon, metres * math.sin(a), metres * math.cos(a))) > 0:
                return False
        return True

    def _lane_graph(self) -> None:
        """Lane features that stay at sea (> 300 m inland nowhere) and outside watch zones."""
        self.adj: dict[tuple[float, float], list[list[tuple[float, float]]]] = defaultdict(list)
        for f in layer("lanes_scs")["features"]:
            g = shape(f["geometry"])
            for part in shapely.get_parts(g):
                seg = shapely.segmentize(part, 0.02)
                pts = [(round(y, 4), round(x, 4)) for x, y in shapely.get_coordinates(seg)]
                if len(pts) < 2 or self.watch.intersects(part):
                    continue
                if any(self.base_geo.inland_m(la, lo) > 300 for la, lo in pts):
                    continue
                self.adj[pts[0]].append(pts)
                self.adj[pts[-1]].append(pts[::-1])
        self.nodes = list(self.adj)

    def in_coverage(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        d = distance_m_array(np.asarray(lat)[:, None], np.asarray(lon)[:, None],
                             self.rx[:, 0][None, :], self.rx[:, 1][None, :])
        return np.any(d <= self.rx[:, 2][None, :], axis=1)

    def lane_route(self, length_m: float) -> list[tuple[float, float]]:
        """A random walk on the lane graph, no immediate U-turn, about ``length_m`` long."""
        rng = self.rng
        node = self.nodes[rng.integers(len(self.nodes))]
        pts, total, prev = [node], 0.0, None
        while total < length_m:
            options = [e for e in self.adj[node] if prev is None or e[-1] != prev] or self.adj[node]
            edge = options[rng.integers(len(options))]
            for a, b in zip(edge, edge[1:]):
                total += distance_m(a[0], a[1], b[0], b[1])
            pts += edge[1:]
            prev, node = node, edge[-1]
        return pts

    def sea_point_near(self, lat: float, lon: float, radius_m: float, clear_m: float = 3000.0,
                       state: str | None = None, tries: int = 200) -> tuple[float, float] | None:
        rng = self.rng
        for _ in range(tries):
            r, b = radius_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            p = offset(lat, lon, r * math.sin(b), r * math.cos(b))
            if self.geo.watch_zones_at(*p) or shapely.contains_xy(self.watch, p[1], p[0]):
                continue
            if state is not None and self.geo.eez_states_at(*p) != [state]:
                continue
            if self._sea_clear(p[0], p[1], clear_m):
                return p
        return None


# ------------------------------------------------------------------ vessels and observations
@dataclass
class Vessel:
    mmsi: int | None
    path: Path
    every_s: float = 30.0             # AIS reporting interval (as delivered by the network)
    ship_type: int | None = 70
    name: str | None = None
    nav_status: int | None = None
    t_on: float = -math.inf           # AIS transmitting from/until (a silence is a gap)
    t_off: float = math.inf
    silent: list[tuple[float, float]] = field(default_factory=list)
    radar_only: bool = False
    noise_m: float = 8.0
    glitches: list[tuple[float, float, float]] = field(default_factory=list)  # (t, dlat, dlon) one bad fix
    bias: list[tuple[float, float, float, float]] = field(default_factory=list)  # (t0, t1, dlat, dlon) faulty fixes
    twin: tuple[Path, float] | None = None   # another vessel using the same MMSI (path, phase)
    coverage_free: bool = False       # heard everywhere (a labelled case placed with its own receiver)
    nav_at: list[tuple[float, int]] = field(default_factory=list)  # (from time, status): overrides nav_status


class MmsiBook:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.used = rng, set()

    def new(self, flag: str) -> int:
        while True:
            mid = FLAG_MIDS[flag][self.rng.integers(len(FLAG_MIDS[flag]))]
            m = mid * 1_000_000 + int(self.rng.integers(100_000, 999_999))
            if m not in self.used:
                self.used.add(m)
                return m


def ais_observations(world: World, v: Vessel, t0: float, t1: float, rng: np.random.Generator) -> list[Observation]:
    if v.mmsi is None or v.radar_only:
        return []
    start = max(t0, v.path.t[0], v.t_on)
    end = min(t1, v.path.t[-1], v.t_off)
    if end <= start:
        return []
    times = np.arange(start + rng.uniform(0, v.every_s), end, v.every_s)
    times = times + rng.normal(0, 1.0, len(times)).clip(-3, 3)
    times = times[(times >= start) & (times <= end)]
    for a, b in v.silent:
        times = times[(times < a) | (times > b)]
    if not len(times):
        return []
    lat, lon, sog, cog = v.path.at(times)
    heard = np.ones(len(times), bool) if v.coverage_free else world.in_coverage(lat, lon)
    heard &= rng.random(len(times)) < 0.93          # slot collisions, fading
    kx, ky = m_per_deg_array(lat)
    lat = lat + rng.normal(0, v.noise_m, len(times)) / ky
    lon = lon + rng.normal(0, v.noise_m, len(times)) / kx
    for t0b, t1b, dla, dlo in v.bias:
        m = (times >= t0b) & (times <= t1b)
        lat[m] += dla
        lon[m] += dlo
    for tg, dla, dlo in v.glitches:
        k = int(np.argmin(np.abs(times - tg)))
        lat[k] += dla
        lon[k] += dlo
        heard[k] = True
    out = []
    rx_ids = [s.id for s in world.sensors.values() if s.kind == "ais"] or ["AIS-X"]
    status = [v.nav_status] * len(times)
    if v.nav_at:
        starts = np.array([a for a, _ in v.nav_at])
        k_at = np.searchsorted(starts, times, side="right") - 1
        status = [v.nav_status if k < 0 else v.nav_at[k][1] for k in k_at]
    for k in np.nonzero(heard)[0]:
        out.append(Observation("ais_position", rx_ids[0], float(times[k]), float(lat[k]), float(lon[k]),
                               sigma_m=10.0, mmsi=v.mmsi, sog_kn=round(float(sog[k]), 1),
                               cog_deg=round(float(cog[k]), 1), nav_status=status[k], ais_class="A",
                               ship_type=v.ship_type, name=v.name))
    if v.twin is not None:
        tp, every = v.twin
        tt = np.arange(max(t0, tp.t[0]) + every / 2, min(t1, tp.t[-1]), every)
        la2, lo2, s2, c2 = tp.at(tt)
        out += [Observation("ais_position", rx_ids[0], float(t), float(a), float(b), sigma_m=10.0, mmsi=v.mmsi,
                            sog_kn=round(float(s), 1), cog_deg=round(float(c), 1), ais_class="A",
                            ship_type=v.ship_type, name=v.name) for t, a, b, s, c in zip(tt, la2, lo2, s2, c2)]
    # static data once an hour (name, ship type) as AIS message 5 would bring
    for t in np.arange(start + 5.0, end, 3600.0):
        out.append(Observation("ais_static", rx_ids[0], float(t), mmsi=v.mmsi, name=v.name, ship_type=v.ship_type))
    return out


def radar_observations(world: World, vessels: list[Vessel], t0: float, t1: float,
                       rng: np.random.Generator) -> list[Observation]:
    out = []
    for r in world.radars:
        scans = np.arange(t0, t1, r.scan_period_s)
        for v in vessels:
            a, b = max(t0, v.path.t[0]), min(t1, v.path.t[-1])
            ts = scans[(scans >= a) & (scans <= b)]
            if not len(ts):
                continue
            lat, lon, _, _ = v.path.at(ts)
            d = _dist_vec(r.lat, r.lon, lat, lon)
            m = (d <= r.range_m) & (rng.random(len(ts)) < 0.9)
            kx, ky = m_per_deg_array(lat[m])
            la = lat[m] + rng.normal(0, r.accuracy_m, m.sum()) / ky
            lo = lon[m] + rng.normal(0, r.accuracy_m, m.sum()) / kx
            out += [Observation("radar_plot", r.id, float(t), float(x), float(y), sigma_m=r.accuracy_m)
                    for t, x, y in zip(ts[m], la, lo)]
        # clutter: one false plot per scan, uniformly in range
        for t in scans:
            rr, bb = r.range_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            la, lo = offset(r.lat, r.lon, rr * math.sin(bb), rr * math.cos(bb))
            out.append(Observation("radar_plot", r.id, float(t), la, lo, sigma_m=r.accuracy_m))
    return out


def _dist_vec(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return distance_m_array(lat0, lon0, lat, lon)


# ------------------------------------------------------------------ normal traffic
def normal_traffic(world: World, n: int, t0: float, t1: float, book: MmsiBook) -> list[Vessel]:
    """Merchant ships on lanes (55 %), fishing vessels on grounds in their own EEZ (30 %),
    ships at anchor off ports (15 %)."""
    rng, out = world.rng, []
    dur = t1 - t0
    grounds: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for _ in range(n):
        u = rng.random()
        if u < 0.55:
            flag = MERCHANT_FLAGS[rng.integers(len(MERCHANT_FLAGS))]
            speed = rng.uniform(10.0, 17.0)
            route = world.lane_route(speed * KN_TO_MS * dur + 10_000)
            p = path_from_waypoints(t0 - rng.uniform(0, 3600), route, speed)
            out.append(Vessel(book.new(flag), p, every_s=float(rng.choice([10.0, 30.0, 60.0])),
                              ship_type=int(rng.choice([70, 71, 79, 80, 60])), name=f"MV {len(out)}"))
        elif u < 0.85:
            flag = FISHING_STATES[rng.integers(len(FISHING_STATES))]
            out.append(fishing_vessel(world, flag, t0, t1, book, grounds))
        else:
            name, la, lo = world.anchor_spots[rng.integers(len(world.anchor_spots))]
            r, b = rng.uniform(0, 600), rng.uniform(0, 2 * math.pi)
            la, lo = offset(la, lo, r * math.sin(b), r * math.cos(b))
            # swinging at anchor: a slow circle of ~60 m
            ts = np.arange(t0, t1 + 600, 600.0)
            ang = np.linspace(0, 2 * math.pi * dur / 43_200, len(ts))
            kx, ky = m_per_deg(la)
            lat = la + 60 * np.cos(ang) / ky
            lon = lo + 60 * np.sin(ang) / kx
            flag = MERCHANT_FLAGS[rng.integers(len(MERCHANT_FLAGS))]
            out.append(Vessel(book.new(flag), Path(ts, lat, lon), every_s=180.0, ship_type=80, nav_status=1,
                              name=f"ANCHOR {len(out)}"))
    return [v for v in out if v is not None]


def fishing_vessel(world: World, flag: str, t0: float, t1: float, book: MmsiBook,
                   grounds: dict[str, list[tuple[float, float]]]) -> Vessel | None:
    """Trawls (2.5–4.5 kn, random legs) by day within ~15 km of a ground centre inside its own
    EEZ and in receiver coverage; drifts (0.2–1 kn) at night like light-luring boats."""
    rng = world.rng
    if len(grounds[flag]) < 6:
        for _ in range(50):
            s = world.sensors[list(world.sensors)[rng.integers(len(world.sensors))]]
            if s.kind != "ais":
                continue
            p = world.sea_point_near(s.lat, s.lon, 60_000, clear_m=8000, state=flag)
            ring = [offset(*p, 18_000 * math.sin(k * math.pi / 4), 18_000 * math.cos(k * math.pi / 4))
                    for k in range(8)] if p else []
            if p and world.geo.nearest_port(p[0], p[1], 12_000) is None \
                    and all(world.geo.eez_states_at(*q) in ([flag], []) for q in ring):
                grounds[flag].append(p)
                break
        if not grounds[flag]:
            return None
    clat, clon = grounds[flag][rng.integers(len(grounds[flag]))]
    pts, speeds, t = [world.sea_point_near(clat, clon, 12_000, clear_m=2000, state=flag) or (clat, clon)], [], t0
    while t < t1 + 3600:
        hour = ((t - T0) / 3600.0 + 14) % 24          # local hour (UTC+8-ish)
        night = hour >= 19 or hour < 5
        v = rng.uniform(0.2, 1.0) if night else rng.uniform(2.5, 4.5)
        leg = rng.uniform(2000, 6000) if not night else v * KN_TO_MS * rng.uniform(3600, 3 * 3600)
        b = rng.uniform(0, 2 * math.pi)
        nxt = offset(*pts[-1], leg * math.sin(b), leg * math.cos(b))
        if distance_m(clat, clon, *nxt) > 15_000 or not world._sea_clear(nxt[0], nxt[1], 1500) \
                or world.geo.eez_states_at(*nxt) != [flag]:
            nxt = world.sea_point_near(clat, clon, 12_000, clear_m=2000, state=flag) or (clat, clon)
            leg = distance_m(*pts[-1], *nxt)
        pts.append(nxt)
        speeds.append(v)
        t += leg / (v * KN_TO_MS)
    p = path_from_waypoints(t0, pts, speeds)
    return Vessel(book.new(flag), p, every_s=float(rng.choice([30.0, 60.0, 180.0])), ship_type=30,
                  name=f"FV {flag} {rng.integers(1000)}")


# ------------------------------------------------------------------ clean day: what issue 14 names
# Positions below are published ones (charts, port guides, gazetteers; rounded to about 0.01°),
# typed in here, not taken from the product's layers, so that the clean day tests the layers
# rather than agrees with them by construction.
OUTER_ANCHORAGES = [                 # anchorages 7–16 km from the shipped port points
    ("Manila Bay outer anchorage", 14.57, 120.90),
    ("Honda Bay anchorage (Puerto Princesa)", 9.82, 118.80),
    ("Vung Tau outer anchorage", 10.27, 107.03),
    ("Muara outer anchorage", 5.10, 115.10),
    ("Kota Kinabalu outer anchorage (west of Gaya)", 5.99, 115.98),
]
# River routes from the open sea to an up-river port: (offshore legs at sea), (river waypoints).
RIVER_ROUTES = {
    "Pearl River to Huangpu (Guangzhou)": (
        [(17.00, 114.80), (19.50, 114.30), (21.50, 113.95), (22.15, 113.80)],
        [(22.35, 113.82), (22.50, 113.76), (22.62, 113.70), (22.72, 113.65), (22.79, 113.625),
         (22.87, 113.605), (22.95, 113.585), (23.03, 113.55), (23.07, 113.50), (23.09, 113.45)]),
    "Saigon River to Ho Chi Minh City (Cat Lai)": (
        [(6.00, 110.00), (8.00, 109.00), (9.60, 107.80), (10.25, 107.05)],
        [(10.35, 106.98), (10.42, 106.96), (10.47, 106.92), (10.53, 106.88), (10.58, 106.84),
         (10.62, 106.80), (10.66, 106.77), (10.69, 106.76), (10.72, 106.77), (10.75, 106.785),
         (10.76, 106.79)]),
    "Chao Phraya to Bangkok (Khlong Toei)": (
        [(7.50, 102.50), (9.50, 101.50), (11.50, 100.90), (13.00, 100.70)],
        [(13.40, 100.60), (13.50, 100.59), (13.54, 100.585), (13.58, 100.59), (13.61, 100.585),
         (13.64, 100.565), (13.66, 100.545), (13.685, 100.535), (13.70, 100.545), (13.705, 100.565)]),
}
# Island stations of the Spratlys (as in sample_feeds/scs) and two long-range radars whose
# outer range no AIS receiver reaches (Woody Island, Swallow Reef / Layang-Layang).
ISLAND_AIS = [("AIS-PAG", 11.053, 114.284), ("AIS-NMY", 10.180, 114.361), ("AIS-LAW", 10.73, 115.80)]
ISLAND_RADARS = [("R-PAG", 11.053, 114.284, 50_000.0)]
LONG_RANGE_RADARS = [("R-LR-WOODY", 16.834, 112.338, 100_000.0), ("R-LR-SWALLOW", 7.372, 113.843, 100_000.0)]


def clean_day_sensors() -> list[Sensor]:
    out = [Sensor(f"R-{i}", "radar", la, lo, range_m=45_000, accuracy_m=40, scan_period_s=10.0)
           for i, (la, lo) in enumerate([(1.25, 104.05), (10.35, 107.15), (14.55, 120.75)])]
    out += [Sensor(i, "ais", la, lo, range_m=74_000.0) for i, la, lo in ISLAND_AIS]
    out += [Sensor(i, "radar", la, lo, range_m=r, accuracy_m=50, scan_period_s=10.0) for i, la, lo, r in ISLAND_RADARS]
    out += [Sensor(i, "radar", la, lo, range_m=r, accuracy_m=80, scan_period_s=10.0)
            for i, la, lo, r in LONG_RANGE_RADARS]
    return out


def _nearest_port_m(world: World, lat: float, lon: float) -> float:
    return min(distance_m(lat, lon, la, lo) for _, la, lo in world.ports)


def outer_anchorage_traffic(world: World, t0: float, t1: float, book: MmsiBook, per_site: int = 6) -> list[Vessel]:
    """Ships at anchor (status 1, swinging on a ~60 m circle, reporting every 3 min) in
    anchorages 7–16 km from every port point; half are there all day, half arrive at 10 kn."""
    rng, out = world.rng, []
    for name, la0, lo0 in OUTER_ANCHORAGES:
        d = _nearest_port_m(world, la0, lo0)
        if not (7_000 <= d <= 16_000) or not world._sea_clear(la0, lo0, 500):
            print(f"  (anchorage {name} skipped: {d / 1000:.1f} km from a port point, at sea "
                  f"{world._sea_clear(la0, lo0, 500)})")
            continue
        for k in range(per_site):
            for _ in range(50):
                r, b = 1500 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                la, lo = offset(la0, lo0, r * math.sin(b), r * math.cos(b))
                if world._sea_clear(la, lo, 300):
                    break
            else:
                continue
            t_arr = t0 - 3600 if k % 2 == 0 else rng.uniform(t0, t0 + 0.6 * (t1 - t0))
            ts = np.arange(t_arr, t1 + 600, 600.0)
            ang = np.linspace(0, 2 * math.pi * (t1 - t_arr) / 43_200, len(ts))
            kx, ky = m_per_deg(la)
            swing = Path(ts, la + 60 * np.cos(ang) / ky, lo + 60 * np.sin(ang) / kx)
            nav_at: list[tuple[float, int]] = [(t_arr, 1)]
            if t_arr > t0:              # the approach: under way from ~25 km out, at sea
                b = rng.uniform(0, 2 * math.pi)
                for _ in range(30):
                    start = offset(la, lo, 25_000 * math.sin(b), 25_000 * math.cos(b))
                    seg = [(start[0] + (la - start[0]) * f, start[1] + (lo - start[1]) * f) for f in np.linspace(0, 1, 26)]
                    if all(world.base_geo.inland_m(*q) == 0.0 for q in seg):
                        break
                    b = rng.uniform(0, 2 * math.pi)
                else:
                    start = None
                if start is not None:
                    appr = path_from_waypoints(0.0, [start, (la, lo)], 10.0)
                    appr = Path(appr.t + t_arr - appr.t[-1], appr.lat, appr.lon)
                    swing = concat(appr, swing)
                    nav_at = [(float(appr.t[0]), 0), (t_arr, 1)]
            flag = MERCHANT_FLAGS[rng.integers(len(MERCHANT_FLAGS))]
            out.append(Vessel(book.new(flag), swing, every_s=180.0, ship_type=int(rng.choice([70, 80])),
                              nav_status=1, nav_at=nav_at, name=f"OUTER ANCHOR {len(out)}"))
    return out


def river_traffic(world: World, t0: float, t1: float, book: MmsiBook, per_river: int = 8) -> list[Vessel]:
    """Ships to and from up-river ports along the published river routes: 8 kn in the river,
    12 kn at sea; inbound ships then lie moored (status 5) at the berth, outbound ones were
    moored there until they sail."""
    rng, out = world.rng, []
    for name, (sea, river) in RIVER_ROUTES.items():
        route = sea + river
        speeds = [12.0] * (len(sea) - 1) + [10.0] + [8.0] * (len(river) - 1)
        for k in range(per_river):
            jit = [offset(la, lo, *rng.normal(0, 80, 2)) if i >= len(sea) else (la, lo)
                   for i, (la, lo) in enumerate(route)]
            berth = jit[-1]
            if k % 2 == 0:          # inbound: reaches the berth during the day
                p = path_from_waypoints(0.0, jit, speeds)
                t_arr = rng.uniform(t0 + 0.1 * (t1 - t0), t0 + 0.8 * (t1 - t0))
                p = Path(p.t + t_arr - p.t[-1], p.lat, p.lon)
                p = concat(p, stay(t_arr + 1.0, t1 + 3600, *berth))
                nav_at = [(float(p.t[0]), 0), (t_arr + 600, 5)]
            else:                   # outbound: moored since before the day, sails during it
                p = path_from_waypoints(0.0, jit[::-1], speeds[::-1])
                t_dep = rng.uniform(t0 + 0.1 * (t1 - t0), t0 + 0.7 * (t1 - t0))
                p = concat(stay(t0 - 3600, t_dep, *berth), Path(p.t + t_dep + 1.0, p.lat, p.lon))
                nav_at = [(t0 - 3600, 5), (t_dep - 300, 0)]
            flag = MERCHANT_FLAGS[rng.integers(len(MERCHANT_FLAGS))]
            out.append(Vessel(book.new(flag), p, every_s=10.0, ship_type=int(rng.choice([70, 79, 80])),
                              nav_status=0, nav_at=nav_at, name=f"RIVER {name.split()[0]} {k}"))
    return out


def beyond_cover_traffic(world: World, t0: float, t1: float, book: MmsiBook, per_radar: int = 8) -> list[Vessel]:
    """Large ships with AIS on crossing a long-range radar's picture where no AIS receiver is in
    range (half at 80–95 km from the radar, half at 40–80 km): the radar holds them, nobody hears AIS."""
    rng, out = world.rng, []
    for rid, rla, rlo, rng_m in LONG_RANGE_RADARS:
        made = 0
        for _ in range(400):
            if made >= per_radar:
                break
            r = rng.uniform(80_000, 95_000) if made % 2 == 0 else rng.uniform(40_000, 80_000)
            b = rng.uniform(0, 2 * math.pi)
            mid = offset(rla, rlo, r * math.sin(b), r * math.cos(b))
            half = math.sqrt(max(rng_m ** 2 * 0.95 - r ** 2, 0.0)) if r > 80_000 else 40_000.0
            c = b + math.pi / 2
            a_ = offset(*mid, -half * math.sin(c), -half * math.cos(c))
            z_ = offset(*mid, half * math.sin(c), half * math.cos(c))
            pts = [(a_[0] + (z_[0] - a_[0]) * f, a_[1] + (z_[1] - a_[1]) * f) for f in np.linspace(0, 1, 21)]
            la_, lo_ = np.array([q[0] for q in pts]), np.array([q[1] for q in pts])
            if world.in_coverage(la_, lo_).any() or any(world.base_geo.inland_m(*q) > 0 for q in pts) \
                    or any(shapely.contains_xy(world.watch, q[1], q[0]) for q in pts):
                continue
            speed = rng.uniform(11.0, 16.0)
            p = path_from_waypoints(0.0, [a_, z_] if rng.random() < 0.5 else [z_, a_], speed)
            ts = rng.uniform(t0 - 0.5 * p.t[-1], t1 - 0.5 * p.t[-1])
            flag = MERCHANT_FLAGS[rng.integers(len(MERCHANT_FLAGS))]
            out.append(Vessel(book.new(flag), Path(p.t + ts, p.lat, p.lon), every_s=10.0,
                              ship_type=int(rng.choice([70, 80])), name=f"BEYOND {rid} {made}"))
            made += 1
    return out


def feature_fishing(world: World, t0: float, t1: float, book: MmsiBook, per_feature: int = 4) -> list[Vessel]:
    """Ordinary fishing near the features watched by the island stations: grounds 15–30 km from
    a feature (so boats cross its 12 nm circle), trawling by day, drifting at night, as
    ``fishing_vessel``; the flag is the EEZ state there, else one of the fishing nations around."""
    rng, out = world.rng, []
    rx = [(la, lo) for _, la, lo in ISLAND_AIS]
    for zname, _kind, g in world.geo.watch:
        fc = g.centroid
        if min(distance_m(fc.y, fc.x, la, lo) for la, lo in rx) > 60_000:
            continue
        for _ in range(per_feature):
            centre = None
            for _ in range(100):
                r, b = rng.uniform(15_000, 30_000), rng.uniform(0, 2 * math.pi)
                q = offset(fc.y, fc.x, r * math.sin(b), r * math.cos(b))
                if world._sea_clear(q[0], q[1], 3000):
                    centre = q
                    break
            if centre is None:
                continue
            states = world.geo.eez_states_at(*centre)
            flag = states[0] if len(states) == 1 and states[0] in FISHING_STATES else ["VN", "PH", "CN"][rng.integers(3)]
            pts, speeds, t = [centre], [], t0
            while t < t1 + 3600:
                hour = ((t - T0) / 3600.0 + 14) % 24
                night = hour >= 19 or hour < 5
                v = rng.uniform(0.2, 1.0) if night else rng.uniform(2.5, 4.5)
                leg = rng.uniform(2000, 6000) if not night else v * KN_TO_MS * rng.uniform(3600, 3 * 3600)
                b = rng.uniform(0, 2 * math.pi)
                nxt = offset(*pts[-1], leg * math.sin(b), leg * math.cos(b))
                if distance_m(*centre, *nxt) > 12_000 or not world._sea_clear(nxt[0], nxt[1], 1500):
                    nxt = centre
                    leg = max(distance_m(*pts[-1], *nxt), 1.0)
                pts.append(nxt)
                speeds.append(v)
                t += leg / (v * KN_TO_MS)
            out.append(Vessel(book.new(flag), path_from_waypoints(t0, pts, speeds),
                              every_s=float(rng.choice([30.0, 60.0, 180.0])), ship_type=30,
                              name=f"FV {flag} near {zname}"))
    return out


def clean_day_groups(vs: list[Vessel]) -> dict[int, str]:
    """MMSI -> which kind of traffic the vessel is (for the breakdown of false alarms)."""
    out = {}
    for v in vs:
        n = v.name or ""
        out[v.mmsi] = ("lane transit" if n.startswith("MV ") else "harbour anchorage" if n.startswith("ANCHOR ")
                       else "outer anchorage" if n.startswith("OUTER ANCHOR") else "river" if n.startswith("RIVER")
                       else "beyond AIS cover" if n.startswith("BEYOND") else "fishing near a feature"
                       if " near " in n else "fishing on grounds")
    return out


# ------------------------------------------------------------------ labelled cases
@dataclass
class Case:
    type: str
    positive: bool
    label: str
    t_from: float
    t_to: float
    lat: float
    lon: float
    radius_m: float = 10_000.0
    mmsi: int | None = None


def inject(world: World, t0: float, book: MmsiBook) -> tuple[list[Vessel], list[Case], list[Sensor]]:
    """Every alert type: cases that must fire and near-misses that must not.  Each case is
    built at an open-water site where every vessel's whole path stays at sea."""
    rng = world.rng
    vs: list[Vessel] = []
    cases: list[Case] = []
    radars: list[Sensor] = []
    sites = _sites(world)
    H = 3600.0

    def place(build, site_list=None) -> tuple[float, float] | None:
        pool = sites if site_list is None else site_list
        for k, (la, lo) in enumerate(pool):
            state = rng.bit_generator.state
            v2, c2, r2 = build(la, lo)
            if all(_at_sea(world, v.path) and (v.twin is None or _at_sea(world, v.twin[0])) for v in v2):
                vs.extend(v2)
                cases.extend(c2)
                radars.extend(r2)
                if site_list is None:
                    del pool[k]
                return la, lo
            rng.bit_generator.state = state
        print(f"  (no site for {build.__name__})")
        return None

    def straight(lat, lon, sog, cog, a, b) -> Path:
        d = sog * KN_TO_MS * (b - a)
        end = offset(lat, lon, d * math.sin(math.radians(cog)), d * math.cos(math.radians(cog)))
        return Path(np.array([a, b]), np.array([lat, end[0]]), np.array([lon, end[1]]))

    # ais_gap: stops 60 min (positive, under radar at one site, not at the other);
    # near-misses: a 20 min silence; a ship that sails out of receiver coverage
    for with_radar in (True, False):
        def ais_gap_60(la, lo, with_radar=with_radar):
            r = [Sensor(f"R-GAP-{len(radars)}", "radar", la, lo, range_m=40_000, accuracy_m=40,
                        scan_period_s=10.0)] if with_radar else []
            m = book.new("MY")
            a = t0 + 1 * H
            v = Vessel(m, straight(*offset(la, lo, -10_000, -10_000), 5.0, 45.0, a, a + 3 * H), every_s=10.0,
                       silent=[(a + H, a + 2 * H)])
            lat, lon, _, _ = v.path.at(np.array([a + H + 1800]))
            return [v], [Case("ais_gap", True, f"60 min silence{' under radar' if with_radar else ''}",
                              a + H + 1700, a + H + 1800 + 240, float(lat[0]), float(lon[0]), 20_000, m)], r
        place(ais_gap_60)

    def ais_gap_20(la, lo):
        m = book.new("PH")
        a = t0 + 1.5 * H
        v = Vessel(m, straight(la, lo, 5.0, 200.0, a, a + 3 * H), every_s=10.0, silent=[(a + H, a + H + 1200)])
        return [v], [Case("ais_gap", False, "20 min silence", a, a + 4 * H, la, lo, 60_000, m)], []
    place(ais_gap_20)

    def ais_gap_out_of_coverage(la, lo):
        # from 50 km off a receiver straight out to 200 km at 14 kn
        rx = min((s for s in world.sensors.values() if s.kind == "ais"),
                 key=lambda s: distance_m(la, lo, s.lat, s.lon))
        brg = math.degrees(math.atan2((lo - rx.lon) * math.cos(math.radians(rx.lat)), la - rx.lat))
        st = offset(rx.lat, rx.lon, 50_000 * math.sin(math.radians(brg)), 50_000 * math.cos(math.radians(brg)))
        end = offset(rx.lat, rx.lon, 200_000 * math.sin(math.radians(brg)), 200_000 * math.cos(math.radians(brg)))
        m = book.new("PA")
        v = Vessel(m, path_from_waypoints(t0 + 2 * H, [st, end], 14.0), every_s=10.0)
        if world.geo.watch_zones_at(*end) or not world.geo.in_aoi(*end) \
                or world.in_coverage(np.array([end[0]]), np.array([end[1]]))[0]:
            v.path = Path(np.array([0.0, 1.0]), np.array([0.0, 0.0]), np.array([0.0, 0.0]))  # reject: on land
        return [v], [Case("ais_gap", False, "sailed out of receiver coverage", t0, t0 + 12 * H, st[0], st[1],
                          300_000, m)], []
    place(ais_gap_out_of_coverage, list(sites))

    # dark_vessel: radar-only contact for 60 min (positive); near-misses: 8 min radar-only, an AIS ship
    def dark(la, lo):
        r = [Sensor(f"R-DARK-{len(radars)}", "radar", la, lo, range_m=40_000, accuracy_m=40, scan_period_s=10.0)]
        a = t0 + 2 * H
        v1 = Vessel(None, straight(*offset(la, lo, -10_000, 5000), 6.0, 90.0, a, a + H), radar_only=True)
        c1 = Case("dark_vessel", True, "radar-only 60 min", a + 900, a + 900 + 300, *offset(la, lo, -8000, 5000),
                  radius_m=10_000)
        v2 = Vessel(None, straight(*offset(la, lo, 30_000, -20_000), 12.0, 120.0, a, a + 480), radar_only=True)
        c2 = Case("dark_vessel", False, "8 min radar-only", a, a + 2 * H, *offset(la, lo, 30_000, -20_000), 15_000)
        m = book.new("SG")
        v3 = Vessel(m, straight(*offset(la, lo, 5000, -10_000), 11.0, 0.0, a - 600, a + 2 * H), every_s=10.0)
        c3 = Case("dark_vessel", False, "AIS ship seen by radar", a - 600, a + 1200, *offset(la, lo, 5000, -5000), 6000)
        return [v1, v2, v3], [c1, c2, c3], r
    place(dark)

    # speed_jump: one fix 25 km off (positive); near-miss: a 50 kn fast craft
    def jump(la, lo):
        m = book.new("ID")
        a = t0 + 3 * H
        v = Vessel(m, straight(la, lo, 10.0, 300.0, a, a + 2 * H), every_s=10.0,
                   glitches=[(a + H, 0.0, 25_000 / m_per_deg(la)[0])])
        return [v], [Case("speed_jump", True, "one fix 25 km off", a + H - 60, a + H + 120, la, lo, 40_000, m)], []
    place(jump)

    def fast_craft(la, lo):
        m = book.new("MY")
        a = t0 + 3 * H
        v = Vessel(m, straight(la, lo, 50.0, 30.0, a, a + 1200), every_s=5.0, ship_type=40)
        return [v], [Case("speed_jump", False, "50 kn fast craft", a, a + 2 * H, la, lo, 60_000, m)], []
    place(fast_craft)

    # on_land: fixes 4 km inland for 10 min (positive); near-miss: fixes 300 m "inland" (a berth)
    for positive, depth in ((True, 4000.0), (False, 300.0)):
        la, lo, dla, dlo = _coast_offset(world, depth)
        m = book.new("VN")
        a = t0 + (4 * H if positive else 4.5 * H)
        vs.append(Vessel(m, stay(a, a + 1.5 * H, la, lo), every_s=30.0, coverage_free=True,
                         bias=[(a + 1800, a + 2400 if positive else a + 1.5 * H, dla, dlo)]))
        cases.append(Case("on_land", positive, f"fixes {depth / 1000:g} km inland", a + 1790, a + 1800 + 120,
                          la + dla, lo + dlo, 5000, m))
        # the fix leaps from sea to land: an impossible move when it is kilometres (a GNSS-like fault)
        cases.append(Case("speed_jump", positive, f"leap to fixes {depth / 1000:g} km inland", a + 1790,
                          a + 2400 + 120, la, lo, 10_000, m))

    # identity_clash: one MMSI from two vessels 80 km apart (positive); near-miss: two MMSIs side by side
    def clash(la, lo):
        m = book.new("CN")
        a = t0 + 5 * H
        la2, lo2 = offset(la, lo, 60_000, 0)
        v = Vessel(m, straight(la, lo, 9.0, 0.0, a, a + 1.5 * H), every_s=60.0,
                   twin=(straight(la2, lo2, 9.0, 180.0, a, a + 1.5 * H), 60.0), coverage_free=True)
        m1, m2 = book.new("CN"), book.new("CN")
        v1 = Vessel(m1, straight(*offset(la, lo, 0, -20_000), 9.0, 90.0, a, a + 1.5 * H), every_s=30.0)
        v2 = Vessel(m2, straight(*offset(la, lo, 0, -20_300), 9.0, 90.0, a, a + 1.5 * H), every_s=30.0)
        return [v, v1, v2], [
            Case("identity_clash", True, "MMSI in two places", a, a + 600, la, lo, 100_000, m),
            Case("identity_clash", False, "two ships in company", a, a + 3 * H, la, lo, 60_000, m1),
            Case("speed_jump", False, "two ships in company", a, a + 3 * H, *offset(la, lo, 0, -20_000), 5000, m1)], []
    place(clash)

    # invalid_identity: unallocated MID (positive); near-misses: an AtoN 99x and a SAR aircraft 111
    def invalid(la, lo):
        a = t0 + 5.5 * H
        out_v = [Vessel(123_456_789, straight(la, lo, 7.0, 90.0, a, a + H), every_s=30.0)]
        out_c = [Case("invalid_identity", True, "MID 123", a, a + 300, la, lo, 20_000, 123_456_789)]
        for special in (995_741_234, 111_574_123):
            out_v.append(Vessel(special, stay(a, a + H, *offset(la, lo, 5000, 5000)), every_s=180.0, ship_type=None))
            out_c.append(Case("invalid_identity", False, f"special MMSI {special}", a, a + 2 * H, la, lo, 20_000,
                              special))
        return out_v, out_c, []
    place(invalid)

    # loitering: 1 kn for 3 h at sea (positive); near-misses: 3 h at anchor off a port, 1.5 h slow then on
    def loiter(la, lo):
        m = book.new("HK")
        a = t0 + 6 * H
        v = Vessel(m, concat(path_from_waypoints(a, [(la, lo), offset(la, lo, 0, 3 * NM)], 1.0),
                             straight(*offset(la, lo, 0, 3 * NM), 12.0, 0.0, a + 3 * H + 1, a + 4 * H)), every_s=30.0)
        return [v], [Case("loitering", True, "1 kn for 3 h at sea", a + 2 * H - 60, a + 2 * H + 180, la, lo,
                          15_000, m)], []
    place(loiter)
    name, pla, plo = world.anchor_spots[rng.integers(len(world.anchor_spots))]
    m = book.new("PA")
    vs.append(Vessel(m, stay(t0 + 6 * H, t0 + 9 * H, pla, plo), every_s=180.0, nav_status=1, ship_type=80,
                     coverage_free=True))
    cases.append(Case("loitering", False, f"at anchor off {name}", t0, t0 + 12 * H, pla, plo, 10_000, m))

    def slow_then_on(la, lo):
        m = book.new("LR")
        a = t0 + 6 * H
        v = Vessel(m, concat(path_from_waypoints(a, [(la, lo), offset(la, lo, 0, 2.25 * NM)], 1.5),
                             straight(*offset(la, lo, 0, 2.25 * NM), 12.0, 0.0, a + 1.5 * H + 1, a + 3 * H)),
                   every_s=30.0)
        return [v], [Case("loitering", False, "1.5 h slow then under way", a, a + 4 * H, la, lo, 50_000, m)], []
    place(slow_then_on)

    # rendezvous: two ships drift 200 m apart for 90 min (positive); near-misses: passing at speed,
    # drifting 2 km apart
    def meet(la, lo):
        a = t0 + 7 * H
        m1, m2 = book.new("CN"), book.new("PA")
        v1 = Vessel(m1, concat(straight(*offset(la, lo, -15_000, 0), 10.0, 90.0, a - 0.81 * H, a),
                               path_from_waypoints(a + 1, [(la, lo), offset(la, lo, 0, 0.75 * NM)], 0.5)),
                    every_s=30.0, ship_type=70)
        v2 = Vessel(m2, concat(straight(*offset(la, lo, 200, 15_000), 10.0, 180.0, a - 0.81 * H, a),
                               path_from_waypoints(a + 1, [offset(la, lo, 200, 0), offset(la, lo, 200, 0.75 * NM)],
                                                   0.5)), every_s=30.0, ship_type=80)
        return [v1, v2], [Case("rendezvous", True, "drift 200 m apart 90 min", a + H - 60, a + H + 300, la, lo,
                               5000, m1)], []
    place(meet)

    def passing(la, lo):
        a = t0 + 7 * H
        m1, m2 = book.new("VN"), book.new("TH")
        v1 = Vessel(m1, straight(*offset(la, lo, -15_000, 0), 10.0, 90.0, a, a + 1.5 * H), every_s=10.0)
        v2 = Vessel(m2, straight(*offset(la, lo, 15_000, 100), 10.0, 270.0, a, a + 1.5 * H), every_s=10.0)
        return [v1, v2], [Case("rendezvous", False, "passing at 10 kn, 100 m apart", a, a + 3 * H, la, lo,
                               40_000, m1)], []
    place(passing)

    def apart(la, lo):
        a = t0 + 7 * H
        m1, m2 = book.new("VN"), book.new("VN")
        v1 = Vessel(m1, path_from_waypoints(a, [(la, lo), offset(la, lo, 0, 1500)], 0.3), every_s=60.0)
        v2 = Vessel(m2, path_from_waypoints(a, [offset(la, lo, 2000, 0), offset(la, lo, 2000, 1500)], 0.3),
                    every_s=60.0)
        return [v1, v2], [
            Case("rendezvous", False, "drifting 2 km apart", a, a + 4 * H, la, lo, 20_000, m1),
            Case("loitering", True, "drifting 0.3 kn (rendezvous near-miss)", a + 2 * H - 60, a + 2 * H + 180,
                 la, lo, 5000, m1),
            Case("loitering", True, "drifting 0.3 kn (rendezvous near-miss)", a + 2 * H - 60, a + 2 * H + 180,
                 la, lo, 5000, m2)], []
    place(apart)

    # zone_entry: into Second Thomas Shoal's 12 nm (positive); near-miss: passing ~14 km outside it
    zi = next(i for i, (n, _, _) in enumerate(world.geo.watch) if n.startswith("Second Thomas"))
    zname, _, zg = world.geo.watch[zi]
    c = zg.centroid
    a = t0 + 8 * H
    m = book.new("CN")
    # from 60 km south heading north, 15 km east of the reef's centre (clear of the reef and of Mischief Reef)
    vs.append(Vessel(m, straight(*offset(c.y, c.x, 15_000, -60_000), 10.0, 0.0, a, a + 4 * H), every_s=30.0,
                     coverage_free=True))
    cases.append(Case("zone_entry", True, f"into {zname}", a, a + 3 * H, *offset(c.y, c.x, 15_000, -21_000), 8000, m))
    m = book.new("PH")
    vs.append(Vessel(m, straight(*offset(c.y, c.x, 40_000, -60_000), 10.0, 0.0, a, a + 4 * H), every_s=30.0,
                     coverage_free=True))
    cases.append(Case("zone_entry", False, f"~14 km outside {zname}", a, a + 5 * H, c.y, c.x, 80_000, m))

    # foreign_fishing: VN fisher trawling in the PH EEZ 90 min (positive); near-misses: a PH fisher there,
    # a VN fisher transiting at 10 kn
    def fishing(la, lo):
        a = t0 + 9 * H
        m, m2, m3 = book.new("VN"), book.new("PH"), book.new("VN")
        v1 = Vessel(m, path_from_waypoints(a, [(la, lo), offset(la, lo, 4.5 * NM, 0)], 3.0), every_s=30.0,
                    ship_type=30, coverage_free=True)
        v2 = Vessel(m2, path_from_waypoints(a, [offset(la, lo, 0, 5000), offset(la, lo, 4.5 * NM, 5000)], 3.0),
                    every_s=30.0, ship_type=30, coverage_free=True)
        v3 = Vessel(m3, straight(*offset(la, lo, 0, -8000), 10.0, 90.0, a, a + 1.5 * H), every_s=30.0, ship_type=30,
                    coverage_free=True)
        return [v1, v2, v3], [
            Case("foreign_fishing", True, "VN trawler in PH EEZ", a + 1800 - 60, a + 1800 + 180, la, lo, 20_000, m),
            Case("foreign_fishing", False, "PH trawler at home", a, a + 3 * H, la, lo, 30_000, m2),
            Case("foreign_fishing", False, "VN fisher transiting at 10 kn", a, a + 3 * H, la, lo, 60_000, m3)], []
    place(fishing, [_site_in(world, "PH")])

    # swarm: 25 boats within 3 km at 1 kn for 2.5 h (positive); near-misses: 25 boats over 30 km; 12 boats close
    for label, n, spread, positive in (("25 boats within 3 km", 25, 3000.0, True),
                                       ("25 boats spread over 30 km", 25, 30_000.0, False),
                                       ("12 boats within 3 km", 12, 3000.0, False)):
        def swarm(la, lo, label=label, n=n, spread=spread, positive=positive):
            a = t0 + 10 * H
            out_v = []
            exempt = True
            starts: list[tuple[float, float]] = []
            while len(starts) < n:
                r, b = spread * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                p = offset(la, lo, r * math.sin(b), r * math.cos(b))
                # no pair near the 500 m threshold, so the label (a rendezvous or not) is clear-cut
                if all(not 420 < distance_m(*p, *q) < 580 for q in starts):
                    starts.append(p)
            close_pair = any(distance_m(*p, *q) <= 420 for i, p in enumerate(starts) for q in starts[:i])
            for k in range(n):
                p0 = starts[k]
                # fishing boats of the state whose approximate EEZ they are in (not foreign fishing)
                states = world.geo.eez_states_at(*p0)
                flag = states[0] if states and states[0] in FLAG_MIDS else "CN"
                exempt &= flag in states
                out_v.append(Vessel(book.new(flag), path_from_waypoints(a, [p0, offset(*p0, 0, 2.5 * NM)], 1.0),
                                    every_s=60.0, ship_type=30))
            out_c = [Case("swarm", positive, label, a + H - 60, a + H + 180, la, lo, 5000)]
            if close_pair:   # boats closer than 500 m to one another for an hour: a rendezvous, right for the rule
                out_c.append(Case("rendezvous", True, f"{label} (boats closer than 500 m)", a + H - 60, a + 2.5 * H,
                                  la, lo, spread + 5000))
            if not exempt:   # slow boats at sea loiter unless fishing in their own EEZ
                out_c.append(Case("loitering", True, f"{label} (each loiters)", a + 2 * H - 60, a + 2 * H + 240,
                                  la, lo, spread + 5000))
            return out_v, out_c, []
        swarm.__name__ = f"swarm {label}"
        place(swarm)

    # distress: AIS-SART (positive); near-miss: a SART in test mode
    def distress(la, lo):
        a = t0 + 11 * H
        return ([Vessel(970_574_001, stay(a, a + 1800, la, lo), every_s=60.0, ship_type=None, nav_status=14),
                 Vessel(970_574_002, stay(a, a + 600, *offset(la, lo, 10_000, 0)), every_s=60.0, ship_type=None,
                        nav_status=15)],
                [Case("distress", True, "AIS-SART active", a - 5, a + 300, la, lo, 5000, 970_574_001),
                 Case("distress", False, "SART test", a, a + H, la, lo, 30_000, 970_574_002)], [])
    place(distress)

    # gnss_interference: 4 ships within 30 km jump 20 km within 10 min (positive); near-miss: 2 ships
    for n, positive in ((4, True), (2, False)):
        def gnss(la, lo, n=n, positive=positive):
            a = t0 + 12 * H
            out_v, out_c = [], []
            for k in range(n):
                m = book.new("VN")
                p0 = offset(la, lo, 8000 * k - 12_000, 4000 * k)
                tg = a + 1800 + 150 * k
                path = straight(*p0, 8.0, 45.0 * k, a, a + 1.5 * H)
                g_lat, g_lon, _, _ = path.at(np.array([tg]))
                # the faulty fix lands 20 km off, at sea (a fix on land would be an on_land case too)
                d = next(((e, n) for e, n in ((0, 1), (0, -1), (1, 0), (-1, 0))
                          if world.base_geo.inland_m(*offset(float(g_lat[0]), float(g_lon[0]), 20_000 * e, 20_000 * n)) == 0),
                         (0, 1))
                out_v.append(Vessel(m, path, every_s=10.0,
                                    glitches=[(tg, d[1] * 20_000 / m_per_deg(la)[1],
                                               d[0] * 20_000 / m_per_deg(la)[0])]))
                out_c.append(Case("speed_jump", True, "GNSS fault (part of a gnss case)", tg - 30, tg + 60, *p0,
                                  40_000, m))
            out_c.append(Case("gnss_interference", positive, f"{n} ships jump together", a + 1800 - 30,
                              a + 1800 + 150 * n + 120, la, lo, 40_000))
            return out_v, out_c, []
        place(gnss)
    # (placed last, so that the other cases keep their sites)
    # identity_clash from the radar: AIS fixes 1 km east of where a coastal radar sees the ship, for
    # 30 min (positive; the real ship is then a radar contact with no AIS near it: dark_vessel too);
    # near-miss: a ship on the same radar whose AIS agrees with it
    def contradicted(la, lo):
        r = [Sensor(f"R-SPOOF-{len(radars)}", "radar", la, lo, range_m=40_000, accuracy_m=40, scan_period_s=6.0)]
        a = t0 + 5.2 * H
        m, m2 = 412_900_001, 574_900_002  # fixed (CN and VN MIDs): the shared generator is not drawn on, so
        book.used |= {m, m2}              # the background traffic generated after this stays as it was
        east = 1000.0 / m_per_deg(la)[0]
        v = Vessel(m, straight(*offset(la, lo, -8000, -6000), 10.0, 60.0, a, a + 1.5 * H), every_s=10.0,
                   coverage_free=True, bias=[(a + 1800, a + 3600, 0.0, east)])
        v2 = Vessel(m2, straight(*offset(la, lo, 8000, 6000), 10.0, 240.0, a, a + 1.5 * H), every_s=10.0,
                    coverage_free=True)
        return [v, v2], [
            Case("identity_clash", True, "AIS 1 km off where radar sees the ship", a + 1800, a + 1800 + 120,
                 *offset(la, lo, -8000, -6000), 20_000, m),
            Case("dark_vessel", True, "the ship whose AIS is 1 km off, on radar", a + 1800 + 840, a + 1800 + 1140,
                 *offset(la, lo, -8000, -6000), 20_000),
            Case("identity_clash", False, "AIS and radar agree", a, a + 2 * H, *offset(la, lo, 8000, 6000), 20_000,
                 m2)], r
    place(contradicted)

    return vs, cases, radars


def _at_sea(world: World, p: Path) -> bool:
    """The whole path (sampled every ~500 m) at sea and outside every watch zone."""
    for (a0, b0), (a1, b1) in zip(zip(p.lat, p.lon), zip(p.lat[1:], p.lon[1:])):
        n = max(2, int(distance_m(a0, b0, a1, b1) / 500) + 1)
        for f in np.linspace(0, 1, n):
            la, lo = a0 + f * (a1 - a0), b0 + f * (b1 - b0)
            if world.base_geo.inland_m(la, lo) > 0 or not world.geo.in_aoi(la, lo) or world.geo.watch_zones_at(la, lo):
                return False
    return True



def _sites(world: World) -> list[tuple[float, float]]:
    """Open-water case sites: in coverage, ≥ 25 km from land, ports and watch zones, ≥ 120 km apart."""
    rng = world.rng
    out: list[tuple[float, float]] = []
    rx = [s for s in world.sensors.values() if s.kind == "ais"]
    order = rng.permutation(len(rx))
    for i in order:
        s = rx[i]
        for _ in range(30):
            p = world.sea_point_near(s.lat, s.lon, 70_000, clear_m=20_000)
            if p is None or not world.geo.in_aoi(*p) or world.geo.nearest_port(p[0], p[1], 40_000):
                continue
            if not world.in_coverage(np.array([p[0]]), np.array([p[1]]))[0]:
                continue
            if all(distance_m(p[0], p[1], q[0], q[1]) > 120_000 for q in out):
                out.append(p)
                break
    return out


def _site_in(world: World, state: str) -> tuple[float, float]:
    for s in world.sensors.values():
        if s.kind == "ais":
            p = world.sea_point_near(s.lat, s.lon, 70_000, clear_m=20_000, state=state)
            if p is not None and not world.geo.nearest_port(p[0], p[1], 40_000):
                return p
    raise RuntimeError(f"no site in the {state} EEZ")


def _coast_offset(world: World, depth_m: float) -> tuple[float, float, float, float]:
    """A sea point 1.5 km off a straight coast and the offset that puts a fix ``depth_m`` inland."""
    rng = world.rng
    land_osm = [shape(f["geometry"]) for f in layer("land_osm")["features"]]
    big = max(land_osm, key=lambda g: g.area)
    for _ in range(2000):
        x, y = shapely.get_coordinates(big.exterior)[rng.integers(len(big.exterior.coords))]
        if not (100 < x < 122 and 2 < y < 24):
            continue
        for b in range(0, 360, 30):
            e, n = math.sin(math.radians(b)), math.cos(math.radians(b))
            sea = offset(y, x, 1500 * e, 1500 * n)
            inl = offset(y, x, -depth_m * e, -depth_m * n)
            if world.base_geo.inland_m(*sea) == 0 and world._sea_clear(sea[0], sea[1], 1000) \
                    and abs(world.base_geo.inland_m(*inl) - depth_m) < 0.3 * depth_m + 100 \
                    and world.geo.nearest_port(sea[0], sea[1], 10_000) is None:
                return sea[0], sea[1], inl[0] - sea[0], inl[1] - sea[1]
    raise RuntimeError("no straight coast found")


# ------------------------------------------------------------------ running and scoring
def run_fusion(world: World, obs: list[Observation], t_end: float, step_s: float = 60.0,
               rules_config: RulesConfig | None = None) -> tuple[list[Alert], float, Fusion]:
    obs.sort(key=lambda o: o.time_s)
    fusion = Fusion(world.sensors, world.geo, rules_config=rules_config)
    alerts: list[Alert] = []
    i, n = 0, len(obs)
    t = obs[0].time_s if obs else t_end
    t_start = time.perf_counter()
    while t < t_end:
        t += step_s
        j = i
        while j < n and obs[j].time_s < t:
            j += 1
        alerts += fusion.update(obs[i:j])[1]
        alerts += fusion.advance(t)[1]
        i = j
    alerts += fusion.flush()[1]
    return alerts, time.perf_counter() - t_start, fusion


def final_versions(alerts: list[Alert]) -> dict[str, tuple[Alert, Alert]]:
    """alert_id -> (first emitted, last emitted)."""
    out: dict[str, tuple[Alert, Alert]] = {}
    for a in alerts:
        out[a.alert_id] = (out[a.alert_id][0], a) if a.alert_id in out else (a, a)
    return out


def matches(c: Case, first: Alert, last: Alert) -> bool:
    if first.type != c.type or not (c.t_from <= first.time_s <= c.t_to):
        return False
    if c.mmsi is not None and c.mmsi not in (first.mmsi, first.evidence.get("other_mmsi")):
        return False
    if first.lat is None:
        return True
    return distance_m(first.lat, first.lon, c.lat, c.lon) <= c.radius_m


def score(cases: list[Case], alerts: list[Alert], exits: dict[int, float] | None = None) -> dict[str, dict]:
    """``exits``: MMSI -> time its scripted vessel leaves the simulation; the AIS silence after
    that is a real gap the rule may report, and is not scored (neither way)."""
    versions = final_versions(alerts)
    exits = exits or {}
    versions = {k: (f, l) for k, (f, l) in versions.items()
                if not (f.mmsi in exits and f.time_s >= exits[f.mmsi] + 25 * 60)}
    table: dict[str, dict] = {t: {"cases": 0, "found": 0, "near_miss": 0, "near_miss_fired": 0, "alerts": 0,
                                  "matched": 0, "retracted": 0, "false": []} for t in ALERT_TYPES}
    pos = [c for c in cases if c.positive]
    for c in cases:
        row = table[c.type]
        if c.positive:
            row["cases"] += 1
            row["found"] += any(matches(c, f, l) for f, l in versions.values())
        elif c.mmsi is not None or c.type in ("swarm", "gnss_interference", "dark_vessel"):
            row["near_miss"] += 1
            row["near_miss_fired"] += any(f.type == c.type and (c.mmsi is None or f.mmsi == c.mmsi)
                                          and c.t_from <= f.time_s <= c.t_to and f.lat is not None
                                          and distance_m(f.lat, f.lon, c.lat, c.lon) <= c.radius_m
                                          for f, _ in versions.values())
    for f, last in versions.values():
        row = table[f.type]
        if last.state == "retracted":
            row["retracted"] += 1
            continue
        row["alerts"] += 1
        if any(matches(c, f, last) for c in pos):
            row["matched"] += 1
        else:
            row["false"].append(f)
    return table


def vessel_hours(obs: list[Observation]) -> float:
    last: dict[int, float] = {}
    total = 0.0
    for o in obs:
        if o.kind != "ais_position" or o.mmsi is None:
            continue
        p = last.get(o.mmsi)
        if p is not None and o.time_s - p <= 1800:
            total += o.time_s - p
        last[o.mmsi] = o.time_s
    return total / 3600.0


# ------------------------------------------------------------------ rules cost at 10k tracks
def rules_cost(n_tracks: int, seed: int, minutes: float = 6.0) -> dict[str, float]:
    """n_tracks AIS vessels at sea (10 % slow, 5 % fishing) over the SCS, reports every 60 s.
    Two fusions on the same batches, interleaved; after a warm-up, time update() of each."""
    rng = np.random.default_rng(seed)
    geo = build_geography({})
    lat = rng.uniform(3.0, 22.0, 3 * n_tracks)
    lon = rng.uniform(106.0, 121.0, 3 * n_tracks)
    sea = np.array([geo.inland_m(a, b) == 0 and not geo.watch_zones_at(a, b) for a, b in zip(lat, lon)])
    lat, lon = lat[sea][:n_tracks], lon[sea][:n_tracks]   # ships at sea (a ship on land is an alert)
    sog = np.where(rng.random(n_tracks) < 0.1, rng.uniform(0.1, 1.9, n_tracks), rng.uniform(5, 18, n_tracks))
    cog = rng.uniform(0, 360, n_tracks)
    st = np.where(rng.random(n_tracks) < 0.05, 30, 70)
    mids = np.array([412, 574, 548, 533, 525, 567, 563, 477, 351, 636])
    mmsi = mids[rng.integers(len(mids), size=n_tracks)] * 1_000_000 + np.arange(n_tracks) + 100_000
    phase = rng.uniform(0, 60, n_tracks)
    kx, ky = m_per_deg_array(lat)
    ve, vn = sog * KN_TO_MS * np.sin(np.radians(cog)), sog * KN_TO_MS * np.cos(np.radians(cog))

    def batch(t0: float) -> list[Observation]:
        order = np.argsort(phase)
        out = []
        for k in order:
            t = t0 + phase[k]
            dt = t - T0
            out.append(Observation("ais_position", "AIS-X", float(t), float(lat[k] + vn[k] * dt / ky[k]),
                                   float(lon[k] + ve[k] * dt / kx[k]), mmsi=int(mmsi[k]), sog_kn=float(sog[k]),
                                   cog_deg=float(cog[k]), ship_type=int(st[k])))
        return out

    with_rules = Fusion({}, geo)
    without = Fusion({}, geo, rules_config=RulesConfig(enabled=()))
    warm = 3
    times = {"with": 0.0, "without": 0.0, "rules_only": 0.0}
    n_obs = 0
    for k in range(int(minutes)):
        b = batch(T0 + 60.0 * k)
        for name, f in (("with", with_rules), ("without", without)) if k % 2 else (("without", without), ("with", with_rules)):
            t = time.perf_counter()
            if name == "with":
                lines = f.tracker.update(b)
                t_mid = time.perf_counter()
                f.rules.process(b, sorted(lines, key=lambda ln: ln.time_s))
                f.rules.advance(T0 + 60.0 * (k + 1))
                t_end = time.perf_counter()
                if k >= warm:
                    times["with"] += t_end - t
                    times["rules_only"] += t_end - t_mid
            else:
                f.tracker.update(b)
                if k >= warm:
                    times["without"] += time.perf_counter() - t
        if k >= warm:
            n_obs += len(b)
    live = sum(1 for t in with_rules.tracker.tracks.values() if t.status in ("confirmed", "coasting"))
    return {"tracks": live, "obs": n_obs, **times}


# ------------------------------------------------------------------ report
def _fmt_pct(num: int, den: int) -> str:
    return "–" if den == 0 else f"{100.0 * num / den:.0f} %"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Alert evaluation (see module docstring)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--vessels", type=int, default=400, help="clean day: vessels")
    ap.add_argument("--hours", type=float, default=24.0, help="clean day: hours")
    ap.add_argument("--background", type=int, default=120, help="labelled scenarios: background vessels")
    ap.add_argument("--tracks", type=int, default=10_000, help="rules cost: live tracks")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: labelled,clean,cost")
    ap.add_argument("--verbose", action="store_true", help="list every false alarm")
    ap.add_argument("--plain-clean", action="store_true",
                    help="clean day without the outer anchorages, rivers, long-range radars and feature fishing")
    args = ap.parse_args(argv)
    if args.quick:
        args.vessels, args.hours, args.background, args.tracks = 80, 4.0, 30, 2000
    skip = set(filter(None, args.skip.split(",")))

    if "labelled" not in skip:
        rng = np.random.default_rng(args.seed)
        book = MmsiBook(rng)
        probe = World(rng)
        vs, cases, radars = inject(probe, T0, book)
        world = World(np.random.default_rng(args.seed + 1), radars)
        t_end = T0 + 15 * 3600.0
        n_injected = len(vs)
        vs += normal_traffic(world, args.background, T0, t_end, book)
        obs = [o for v in vs for o in ais_observations(world, v, T0, t_end, rng)]
        obs += radar_observations(world, vs, T0, t_end, rng)
        exits = {v.mmsi: float(v.path.t[-1]) for v in vs[:n_injected] if v.mmsi is not None}
        alerts, secs, _ = run_fusion(world, obs, t_end)
        table = score(cases, alerts, exits)
        print(f"\n## Labelled scenarios (seed {args.seed}): {len(vs)} vessels ({args.background} background), "
              f"{len(obs):,} observations, 16 h feed time, fused in {secs:.0f} s\n")
        print("| type | positive cases | found | recall | alerts raised | matched | precision | near-misses "
              "| near-misses fired | retracted |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for t, r in table.items():
            print(f"| `{t}` | {r['cases']} | {r['found']} | {_fmt_pct(r['found'], r['cases'])} | {r['alerts']} "
                  f"| {r['matched']} | {_fmt_pct(r['matched'], r['alerts'])} | {r['near_miss']} "
                  f"| {r['near_miss_fired']} | {r['retracted']} |")
        tot_c = sum(r["cases"] for r in table.values())
        tot_f = sum(r["found"] for r in table.values())
        tot_a = sum(r["alerts"] for r in table.values())
        tot_m = sum(r["matched"] for r in table.values())
        print(f"| **all** | {tot_c} | {tot_f} | {_fmt_pct(tot_f, tot_c)} | {tot_a} | {tot_m} | {_fmt_pct(tot_m, tot_a)} "
              f"| {sum(r['near_miss'] for r in table.values())} | {sum(r['near_miss_fired'] for r in table.values())} "
              f"| {sum(r['retracted'] for r in table.values())} |")
        missed = [c for c in cases if c.positive and not any(matches(c, f, l) for f, l in final_versions(alerts).values())]
        for c in missed:
            print(f"  missed: {c.type} — {c.label}")
            if args.verbose:
                for f, _ in final_versions(alerts).values():
                    if c.mmsi is not None and f.mmsi == c.mmsi:
                        print(f"    its alert: {f.type} t+{(f.time_s - T0) / 60:.0f} min (case window "
                              f"t+{(c.t_from - T0) / 60:.0f}..{(c.t_to - T0) / 60:.0f}): {f.summary}")
        if args.verbose:
            for r in table.values():
                for f in r["false"]:
                    print(f"  unmatched: {f.type} {f.alert_id} t+{(f.time_s - T0) / 60:.0f} min "
                          f"({f.lat:.3f}, {f.lon:.3f}) mmsi {f.mmsi}: {f.summary}")

    if "clean" not in skip:
        rng = np.random.default_rng(args.seed + 100)
        if args.plain_clean:        # the clean day before issue 14 (normal traffic, three radars)
            world = World(rng, clean_day_sensors()[:3])
        else:
            world = World(rng, clean_day_sensors())
        book = MmsiBook(rng)
        t_end = T0 + args.hours * 3600
        vs = normal_traffic(world, args.vessels, T0, t_end, book)
        if not args.plain_clean:
            scale = max(args.vessels / 400.0, 0.25)
            vs += outer_anchorage_traffic(world, T0, t_end, book, per_site=max(2, round(6 * scale)))
            vs += river_traffic(world, T0, t_end, book, per_river=max(2, round(8 * scale)))
            vs += beyond_cover_traffic(world, T0, t_end, book, per_radar=max(2, round(8 * scale)))
            vs += feature_fishing(world, T0, t_end, book, per_feature=max(1, round(4 * scale)))
        groups = clean_day_groups(vs)
        n_by_group = defaultdict(int)
        for g in groups.values():
            n_by_group[g] += 1
        obs = [o for v in vs for o in ais_observations(world, v, T0, t_end, rng)]
        n_radar_vessels = len(obs)
        obs += radar_observations(world, vs, T0, t_end, rng)
        n_plots = len(obs) - n_radar_vessels
        alerts, secs, fusion = run_fusion(world, obs, t_end)
        versions = final_versions(alerts)
        vh = vessel_hours(obs)
        kinds = defaultdict(int)
        for f, last in versions.values():
            kinds[f.type + (" (retracted)" if last.state == "retracted" else "")] += 1
        n_all = len(versions)
        n_kept = sum(1 for _, last in versions.values() if last.state != "retracted")
        print(f"\n## Clean day (seed {args.seed + 100}): {len(vs)} vessels, {args.hours:g} h, "
              f"{len(world.sensors)} sensors, {len(obs):,} observations ({n_plots:,} radar plots), fused in {secs:.0f} s\n")
        print(f"vessel-hours in the picture: {vh:,.0f}")
        print(f"alerts raised: {n_all} = {1000.0 * n_all / max(vh, 1e-9):.2f} per 1,000 vessel-hours "
              f"({n_kept} not retracted = {1000.0 * n_kept / max(vh, 1e-9):.2f}); target < 1")
        print("traffic: " + ", ".join(f"{g} {n}" for g, n in sorted(n_by_group.items())))
        zone_n = sum(v for k, v in kinds.items() if k.startswith("zone_entry"))
        print(f"without zone_entry (watch notifications by zone policy): {n_all - zone_n} = "
              f"{1000.0 * (n_all - zone_n) / max(vh, 1e-9):.2f} per 1,000 vessel-hours")
        by = defaultdict(lambda: defaultdict(int))
        example: dict[tuple[str, str], Alert] = {}
        for f, last in versions.values():
            g = groups.get(f.mmsi, "no MMSI (radar only)")
            by[f.type][g] += 1
            example.setdefault((f.type, g), f)
        print("\n| type | alerts | per 1,000 vessel-hours | by traffic |\n|---|---|---|---|")
        for t in sorted(by, key=lambda t: -sum(by[t].values())):
            n = sum(by[t].values())
            print(f"| `{t}` | {n} | {1000.0 * n / max(vh, 1e-9):.2f} | "
                  + ", ".join(f"{g} {k}" for g, k in sorted(by[t].items(), key=lambda x: -x[1])) + " |")
        for (t, g), f in sorted(example.items()):
            print(f"  e.g. {t} / {g}: t+{(f.time_s - T0) / 60:.0f} min ({f.lat}, {f.lon}) mmsi {f.mmsi}: {f.summary}")
        if args.verbose:
            for f, last in versions.values():
                print(f"  {f.type} {f.alert_id} t+{(f.time_s - T0) / 60:.0f} min ({f.lat}, {f.lon}) "
                      f"mmsi {f.mmsi} -> {last.state}: {f.summary}")

    if "cost" not in skip:
        r = rules_cost(args.tracks, args.seed)
        print(f"\n## Rules cost at {r['tracks']:,} live tracks ({r['obs']:,} AIS reports timed)\n")
        print(f"fusion with rules {r['with']:.2f} s, without rules {r['without']:.2f} s, rules step alone "
              f"{r['rules_only']:.2f} s: rules are {100.0 * r['rules_only'] / r['with']:.0f} % of fusion time "
              f"({1e6 * r['rules_only'] / max(r['obs'], 1):.1f} µs per report)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
