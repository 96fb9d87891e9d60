"""The simulated world of the scenarios: the product's geography, sensors, vessels on paths,
and the AIS reports and radar plots they make (``mfc simulate``, ``bench/alerts.py``).

Seeded: every draw comes from the ``numpy.random.Generator`` handed in, so the same seed gives
the same vessels and observations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely.geometry import shape

from fusion.geodesy import KN_TO_MS, distance_m, distance_m_array, from_local, inverse_array, m_per_deg, m_per_deg_array
from fusion.model import Observation, Sensor
from services.geo.geography import build_geography
from services.geo.layers import layer

NM = 1852.0
T0 = 1_795_000_000.0        # 2026-11-18T06:13:20Z: the reference of local_hour()
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
                if not base.on_land(*p) and self._sea_clear(p[0], p[1], 300.0):
                    self.anchor_spots.append((name, p[0], p[1]))
                    break
        # AIS receivers: a coastal station at every port at least 120 km from the previous ones
        rx: list[Sensor] = []
        for name, la, lo in sorted(ports, key=lambda p: (round(p[1]), p[2])):
            if all(distance_m(la, lo, s.lat, s.lon) > 120_000 for s in rx):
                rx.append(Sensor(f"AIS-{len(rx) + 1:02d}", "ais", la, lo, range_m=90_000.0))
        self.sensors = {s.id: s for s in rx + list(extra_sensors)}
        self._index_receivers()
        self.radars = [s for s in self.sensors.values() if s.kind == "radar"]
        self.watch = shapely.union_all([g for _, _, g in self.geo.watch]).buffer(0.1)
        shapely.prepare(self.watch)
        self._lane_graph()

    def add_receiver(self, sensor: Sensor) -> None:
        """A terrestrial AIS receiver added to the built world (an attack's own station)."""
        self.sensors[sensor.id] = sensor
        self._index_receivers()

    def _index_receivers(self) -> None:
        """The geography and the lookup tables of the terrestrial AIS receivers."""
        self.geo = build_geography(self.sensors)
        rx = [s for s in self.sensors.values() if s.kind == "ais" and s.platform == "terrestrial"]
        self.rx = np.array([(s.lat, s.lon, s.range_m) for s in rx])
        self.rx_ids = [s.id for s in rx]
        if len(self.rx):
            self._rx_tree = cKDTree(ecef(self.rx[:, 0], self.rx[:, 1]))
            self._rx_reach = float(self.rx[:, 2].max()) + 1.0

    def _sea_clear(self, lat: float, lon: float, metres: float) -> bool:
        """At sea and at least ``metres`` from land (checked on a ring of points)."""
        if self.base_geo.on_land(lat, lon):
            return False
        for k in range(8):
            a = k * math.pi / 4
            if self.base_geo.on_land(*offset(lat, lon, metres * math.sin(a), metres * math.cos(a))):
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
        """Inside some AIS receiver's range (WGS 84 geodesic).  Receivers farther than their range
        by straight line through the earth (never longer than the geodesic) are ruled out first."""
        lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
        out = np.zeros(len(lat), bool)
        if not len(lat) or not len(self.rx):
            return out
        balls = self._rx_tree.query_ball_point(ecef(lat, lon), self._rx_reach)
        counts = np.fromiter((len(b) for b in balls), int, len(balls))
        if not counts.sum():
            return out
        pi = np.repeat(np.arange(len(lat)), counts)
        ri = np.fromiter((j for b in balls for j in b), int, int(counts.sum()))
        d = distance_m_array(lat[pi], lon[pi], self.rx[ri, 0], self.rx[ri, 1])
        np.logical_or.at(out, pi, d <= self.rx[ri, 2])
        return out

    def receivers_in_range(self, lat: np.ndarray, lon: np.ndarray) -> list[list[int]]:
        """Per point, the AIS receivers (indices) whose range holds it (WGS 84 geodesic)."""
        lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
        out: list[list[int]] = [[] for _ in range(len(lat))]
        if not len(lat) or not len(self.rx):
            return out
        balls = self._rx_tree.query_ball_point(ecef(lat, lon), self._rx_reach)
        counts = np.fromiter((len(b) for b in balls), int, len(balls))
        pi = np.repeat(np.arange(len(lat)), counts)
        ri = np.fromiter((j for b in balls for j in b), int, int(counts.sum()))
        if len(pi):
            d = distance_m_array(lat[pi], lon[pi], self.rx[ri, 0], self.rx[ri, 1])
            for i, r in zip(pi[d <= self.rx[ri, 2]], ri[d <= self.rx[ri, 2]]):
                out[int(i)].append(int(r))
        return out

    def nearest_receiver(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Index (into the AIS receivers) of the nearest receiver whose range holds each point, else
        of the nearest receiver (straight-line distance, within a metre of the geodesic's order)."""
        lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
        out = np.zeros(len(lat), int)
        k = min(8, len(self.rx))
        for a in range(0, len(lat), self.CHUNK):   # in chunks: ten million reports need no 2 GB of neighbours
            pts = ecef(lat[a:a + self.CHUNK], lon[a:a + self.CHUNK])
            d, i = self._rx_tree.query(pts, k=k)
            d, i = d.reshape(len(pts), k), i.reshape(len(pts), k)
            inside = d <= self.rx[i, 2]
            first = np.argmax(inside, axis=1)
            out[a:a + len(pts)] = np.where(inside.any(axis=1), i[np.arange(len(pts)), first], i[:, 0])
        return out

    CHUNK = 200_000

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


def ecef(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """WGS 84 earth-centred coordinates (metres) at sea level (pyproj), n×3."""
    tr = _ECEF.get("t")
    if tr is None:
        tr = _ECEF["t"] = Transformer.from_crs("EPSG:4326", "EPSG:4978", always_xy=True)
    lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
    x, y, z = tr.transform(lon, lat, np.zeros_like(lat))
    return np.column_stack([x, y, z])


_ECEF: dict = {}


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
    ais_class: str = "A"              # "A" (SOLAS ships, messages 1 and 5) or "B" ("CS" sets: 18 and 24)
    rcs_m2: float | None = None       # radar cross-section; None: by ship type (``radar_cross_section``)


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


# ------------------------------------------------------------------ AIS reporting (ITU-R M.1371-5)
AT_REST = (1, 5)           # navigational status: at anchor, moored
STATIC_EVERY_S = 360.0     # class A message 5 and class B message 24 (parts A and B): every 6 minutes


def itu_interval_s(ais_class: str, sog_kn: np.ndarray, status: np.ndarray,
                   changing_course: np.ndarray | None = None) -> np.ndarray:
    """The autonomous reporting interval of ITU-R M.1371-5, Annex 1, Table 1 (class A) and
    Table 2 (class B "CS"), by speed over ground, navigational status and (class A) whether the
    ship is changing course (:func:`course_change_spans`): 3⅓ s instead of 10 s at 0–14 kn,
    2 s instead of 6 s at 14–23 kn, 2 s either way above; a ship at anchor or moored keeps 3 min
    (≤ 3 kn) or 10 s (faster) while changing course.  Table 2 gives class B "CS" no
    course-change rate."""
    sog = np.asarray(sog_kn, float)
    if ais_class == "B":
        return np.where(sog > 2.0, 30.0, 180.0)
    at_rest = np.isin(np.asarray(status), AT_REST)
    turning = np.zeros(sog.shape, bool) if changing_course is None else np.asarray(changing_course, bool)
    turning = turning & ~at_rest
    return np.select([at_rest & (sog <= 3.0), sog <= 14.0, sog <= 23.0],
                     [180.0, np.where(turning, 10.0 / 3.0, 10.0), np.where(turning, 2.0, 6.0)], 2.0)


COURSE_MEAN_S = 30.0       # changing course: present heading vs its mean over the last 30 s ...
COURSE_CHANGE_DEG = 5.0    # ... differs by more than 5° ...
COURSE_HOLD_S = 20.0       # ... and the higher rate is kept until it has been below 5° for 20 s
_STOPPED_KN = 0.05         # slower legs keep the heading the ship had (no course of its own)


def course_change_spans(path: Path, start: float = -math.inf, end: float = math.inf
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The spans ``[t0, t1)`` (clipped to ``[start, end]``) in which a class A transponder on
    ``path`` counts its ship as changing course.  Recollection of ITU-R M.1371-5, Annex 2 (the
    course-change clause was not found in the reference texts searched; Table 1 itself was): the
    mean of the heading over the last 30 s is compared with the present heading; while they
    differ by more than 5° the changing-course rate applies, and it is kept until the difference
    has been below 5° for more than 20 s.

    Heading is taken as the course over ground of each leg (the simulator has no current or
    leeway); a leg slower than 0.05 kn keeps the previous heading.  Headings are unwrapped
    (each change taken the short way round), so the 30-s mean is the time-weighted mean of the
    angle.  Heading is constant on a leg and its 30-s mean piecewise linear in time (kinks at the
    waypoints and 30 s after them), so the difference is linear between those breakpoints and
    the spans where it exceeds 5° are found exactly: a single turn of Δ > 5° after a straight leg
    gives ``30 (1 - 5/Δ) + 20`` s."""
    none = (np.zeros(0), np.zeros(0))
    t, lat, lon = path.t, path.lat, path.lon
    dt = np.diff(t)
    if len(dt) < 2:
        return none
    kx, ky = m_per_deg_array(lat[:-1])
    dn, de = np.diff(lat) * ky, np.diff(lon) * kx
    moving = (dt > 0) & (np.hypot(dn, de) > _STOPPED_KN * KN_TO_MS * dt)
    if not moving.any():
        return none
    leg = np.arange(len(dt))
    src = np.maximum.accumulate(np.where(moving, leg, -1))
    src[src < 0] = int(np.argmax(moving))
    hdg = np.degrees(np.arctan2(de, dn))[src]
    # unwrapped (each change the short way round), relative to the first leg
    h = np.concatenate([[0.0], np.cumsum((np.diff(hdg) + 180.0) % 360.0 - 180.0)])
    # the legs of positive duration that can matter in [start, end]: 30 s of mean and 20 s of hold before it
    look = 2 * COURSE_MEAN_S + COURSE_HOLD_S
    use = (dt > 0) & (t[1:] > start - look) & (t[:-1] < end)
    if not use.any():
        return none
    h, a, b = h[use], t[:-1][use], t[1:][use]
    if np.ptp(h) <= COURSE_CHANGE_DEG:
        return none
    knots = np.concatenate([a[:1], b])                    # legs are contiguous (zero-length ones dropped)
    integral = np.concatenate([[0.0], np.cumsum(h * (b - a))])
    xk = np.concatenate([[knots[0] - COURSE_MEAN_S], knots, [knots[-1] + COURSE_MEAN_S]])
    ik = np.concatenate([[-COURSE_MEAN_S * h[0]], integral, [integral[-1] + COURSE_MEAN_S * h[-1]]])

    def mean(x: np.ndarray) -> np.ndarray:               # heading mean over [x - 30 s, x]
        return (np.interp(x, xk, ik) - np.interp(x - COURSE_MEAN_S, xk, ik)) / COURSE_MEAN_S

    bp = np.unique(np.concatenate([knots, knots + COURSE_MEAN_S]))
    bp = bp[bp <= knots[-1]]
    x0, x1 = bp[:-1], bp[1:]
    hk = h[np.clip(np.searchsorted(knots, x0, side="right") - 1, 0, len(h) - 1)]
    d0, d1 = hk - mean(x0), hk - mean(x1)                  # difference, linear on [x0, x1]
    lo, hi = [], []
    for f0, f1 in ((d0, d1), (-d0, -d1)):
        hit = (f0 > COURSE_CHANGE_DEG) | (f1 > COURSE_CHANGE_DEG)
        f0, f1, y0, y1 = f0[hit], f1[hit], x0[hit], x1[hit]
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = y0 + (COURSE_CHANGE_DEG - f0) / (f1 - f0) * (y1 - y0)
        lo.append(np.where(f0 > COURSE_CHANGE_DEG, y0, cross))
        hi.append(np.where(f1 > COURSE_CHANGE_DEG, y1, cross))
    lo, hi = np.concatenate(lo), np.concatenate(hi) + COURSE_HOLD_S
    if not len(lo):
        return none
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    first = np.concatenate([[True], lo[1:] > hi[:-1]])    # merge overlapping spans
    last = np.concatenate([first[1:], [True]])
    s0, s1 = np.maximum(lo[first], start), np.minimum(hi[last], end)
    keep = s1 > s0
    return s0[keep], s1[keep]


def itu_report_times(v: Vessel, start: float, end: float, rng: np.random.Generator) -> np.ndarray:
    """A vessel's position report times in [start, end] as its transponder schedules them: the
    interval of :func:`itu_interval_s` on each leg of its path (speed constant on a leg), each
    span of its navigational status and (class A) each span in which it is changing course
    (:func:`course_change_spans`); the next report after a change of interval comes no later
    than one new interval after it.  Slot selection jitters each report by a few percent."""
    turns = course_change_spans(v.path, start, end) if v.ais_class == "A" else (np.zeros(0), np.zeros(0))
    cuts = [start, end, *(float(x) for x in v.path.t if start < x < end),
            *(a for a, _ in v.nav_at if start < a < end),
            *(float(x) for x in np.concatenate(turns) if start < x < end)]
    cuts = np.unique(np.array(cuts))
    mid = 0.5 * (cuts[:-1] + cuts[1:])
    _, _, sog, _ = v.path.at(mid)
    status = np.full(len(mid), -1 if v.nav_status is None else v.nav_status)
    if v.nav_at:
        starts = np.array([a for a, _ in v.nav_at])
        k_at = np.searchsorted(starts, mid, side="right") - 1
        status = np.array([v.nav_status if k < 0 else v.nav_at[k][1] for k in k_at], dtype=object)
        status = np.array([-1 if x is None else int(x) for x in status])
    k_turn = np.searchsorted(turns[0], mid, side="right") - 1
    turning = (k_turn >= 0) & (mid < turns[1][np.maximum(k_turn, 0)]) if len(turns[0]) else None
    ivl = itu_interval_s(v.ais_class, sog, status, turning)
    parts, steps, nxt = [], [], start + rng.uniform(0.0, ivl[0])
    for a, b, dt_ in zip(cuts[:-1], cuts[1:], ivl):
        nxt = min(nxt, a + dt_)
        if nxt < b:
            ts = np.arange(nxt, b, dt_)
            parts.append(ts)
            steps.append(np.full(len(ts), dt_))
            nxt = float(ts[-1]) + dt_
    if not parts:
        return np.zeros(0)
    times, step = np.concatenate(parts), np.concatenate(steps)
    # the jitter is a few percent of the interval, and of the gaps either side where a change of
    # interval made them shorter (a report scheduled 10 s after the last must not move by 5 % of
    # the 3 min it starts), so the reports keep their order and no gap is much under its interval
    gaps = np.diff(times)
    scale = np.minimum(step, np.minimum(np.concatenate([step[:1], gaps]), np.concatenate([gaps, step[-1:]])))
    return times + rng.uniform(-0.05, 0.05, len(times)) * scale


# One row per AIS report (``ais_reports``): time, position, speed and course as computed (rounded
# to 0.1 only when an Observation is made), the vessel (an index into the scenario's list), what it
# is (``REPORT_KINDS``) and the navigational status (-1: none).  47 bytes a report instead of the
# ~350 of an Observation: a 24-hour, 5,000-vessel day has ten million of them.
AIS_DTYPE = np.dtype([("t", "f8"), ("lat", "f8"), ("lon", "f8"), ("sog", "f8"), ("cog", "f8"),
                      ("vessel", "i4"), ("kind", "i1"), ("status", "i1")])
POSITION, TWIN, STATIC = 0, 1, 2     # a vessel's position, its twin's (class A, no status), static data
REPORT_KINDS = ("ais_position", "ais_position", "ais_static")


def ais_reports(world: World, v: Vessel, t0: float, t1: float, rng: np.random.Generator,
                schedule: str = "network", index: int = 0) -> np.ndarray:
    """A vessel's AIS reports as rows of ``AIS_DTYPE`` (``vessel`` = ``index``), in the order
    :func:`ais_observations` gives them, from the same draws.  ``schedule``: ``"network"`` gives
    one position every ``v.every_s`` and static data hourly, as a shore network that thins its
    feed delivers them; ``"itu"`` every transmission as ITU-R M.1371 schedules it
    (:func:`itu_report_times`) and static data every 6 minutes."""
    if v.mmsi is None or v.radar_only:
        return np.zeros(0, AIS_DTYPE)
    start = max(t0, v.path.t[0], v.t_on)
    end = min(t1, v.path.t[-1], v.t_off)
    if end <= start:
        return np.zeros(0, AIS_DTYPE)
    if schedule == "itu":
        times = itu_report_times(v, start, end, rng)
    else:
        times = np.arange(start + rng.uniform(0, v.every_s), end, v.every_s)
        times = times + rng.normal(0, 1.0, len(times)).clip(-3, 3)
    times = times[(times >= start) & (times <= end)]
    for a, b in v.silent:
        times = times[(times < a) | (times > b)]
    if not len(times):
        return np.zeros(0, AIS_DTYPE)
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
    status = np.full(len(times), -1 if v.nav_status is None else int(v.nav_status), np.int8)
    if v.nav_at:
        starts = np.array([a for a, _ in v.nav_at])
        k_at = np.searchsorted(starts, times, side="right") - 1
        status = np.array([-1 if x is None else int(x) for x in
                           (v.nav_status if k < 0 else v.nav_at[k][1] for k in k_at)], np.int8)
    keep = np.nonzero(heard)[0]
    parts = [_rows(POSITION, index, times[keep], lat[keep], lon[keep], sog[keep], cog[keep], status[keep])]
    if v.twin is not None:
        tp, every = v.twin
        tt = np.arange(max(t0, tp.t[0]) + every / 2, min(t1, tp.t[-1]), every)
        la2, lo2, s2, c2 = tp.at(tt)
        parts.append(_rows(TWIN, index, tt, la2, lo2, s2, c2, -1))
    # static data (name, ship type) as message 5 (class A) or 24 (class B) brings it
    if schedule == "itu":
        ts = np.arange(start + rng.uniform(0.0, STATIC_EVERY_S), end, STATIC_EVERY_S)
        for a, b in v.silent:
            ts = ts[(ts < a) | (ts > b)]
        if len(ts):
            la_s, lo_s, _, _ = v.path.at(ts)
            keep = np.ones(len(ts), bool) if v.coverage_free else world.in_coverage(la_s, lo_s)
            ts = ts[keep & (rng.random(len(ts)) < 0.93)]
    else:
        ts = np.arange(start + 5.0, end, 3600.0)
    parts.append(_rows(STATIC, index, ts, np.nan, np.nan, np.nan, np.nan, -1))
    return np.concatenate(parts)


def _rows(kind: int, index: int, t, lat, lon, sog, cog, status) -> np.ndarray:
    out = np.zeros(len(t), AIS_DTYPE)
    out["t"], out["lat"], out["lon"], out["sog"], out["cog"] = t, lat, lon, sog, cog
    out["vessel"], out["kind"], out["status"] = index, kind, status
    return out


class AisReports:
    """AIS reports held as ``AIS_DTYPE`` rows; each an :class:`Observation` when asked for
    (indexing, iterating), the same one :func:`ais_observations` makes."""

    def __init__(self, rows: np.ndarray, vessels: list[Vessel], sensor_id: str) -> None:
        self.rows, self.vessels, self.sensor_id = rows, vessels, sensor_id

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Observation:
        r = self.rows[i]
        return self._make(float(r["t"]), float(r["lat"]), float(r["lon"]), float(r["sog"]), float(r["cog"]),
                          int(r["vessel"]), int(r["kind"]), int(r["status"]))

    def __iter__(self):
        rows, make = self.rows, self._make
        for a in range(0, len(rows), 65_536):
            c = rows[a:a + 65_536]
            yield from map(make, c["t"].tolist(), c["lat"].tolist(), c["lon"].tolist(), c["sog"].tolist(),
                           c["cog"].tolist(), c["vessel"].tolist(), c["kind"].tolist(), c["status"].tolist())

    def _make(self, t: float, lat: float, lon: float, sog: float, cog: float, vessel: int, kind: int,
              status: int) -> Observation:
        v = self.vessels[vessel]
        if kind == STATIC:
            return Observation("ais_static", self.sensor_id, t, mmsi=v.mmsi, name=v.name, ship_type=v.ship_type,
                               ais_class=v.ais_class)
        if kind == TWIN:
            return Observation("ais_position", self.sensor_id, t, lat, lon, sigma_m=10.0, mmsi=v.mmsi,
                               sog_kn=round(sog, 1), cog_deg=round(cog, 1), ais_class="A", ship_type=v.ship_type,
                               name=v.name)
        return Observation("ais_position", self.sensor_id, t, lat, lon, sigma_m=10.0, mmsi=v.mmsi,
                           sog_kn=round(sog, 1), cog_deg=round(cog, 1), nav_status=None if status < 0 else status,
                           ais_class=v.ais_class, ship_type=v.ship_type, name=v.name)


def ais_sensor_id(world: World) -> str:
    """The sensor id the generated AIS reports carry (the first receiver's)."""
    return ([s.id for s in world.sensors.values() if s.kind == "ais"] or ["AIS-X"])[0]


def ais_observations(world: World, v: Vessel, t0: float, t1: float, rng: np.random.Generator,
                     schedule: str = "network") -> list[Observation]:
    """A vessel's AIS reports as Observations (:func:`ais_reports`)."""
    return list(AisReports(ais_reports(world, v, t0, t1, rng, schedule), [v], ais_sensor_id(world)))


# ------------------------------------------------------------------ radar detection
PFA = 1e-6                 # false-alarm probability per resolution cell the detection threshold is set for
REFERENCE_RCS_M2 = 100.0   # a radar's registered range: where this target is detected half the time
FIXED_PD = 0.9             # detection probability within range when it does not depend on range


def radar_cross_section(v: Vessel) -> float:
    """A vessel's mean radar cross-section (m², X band), by ITU ship type where not set: a
    cargo ship or tanker ~10,000 m², a passenger ship 3,000, a tug, law-enforcement or SAR
    craft 100, a fishing vessel 30, a pleasure craft or sailing boat 5 (orders of magnitude as
    in Skolnik, *Radar Handbook*, ch. 15; unknown: 100)."""
    if v.rcs_m2 is not None:
        return v.rcs_m2
    t = v.ship_type or 0
    if 70 <= t <= 89:
        return 10_000.0
    if 60 <= t <= 69:
        return 3_000.0
    if 50 <= t <= 59 or 31 <= t <= 33:
        return 100.0
    if t == 30:
        return 30.0
    if t in (36, 37):
        return 5.0
    return REFERENCE_RCS_M2


def detection_probability(range_m: np.ndarray, rcs_m2: float, radar_range_m: float) -> np.ndarray:
    """Swerling I target, square-law detector: ``Pd = Pfa ** (1 / (1 + SNR))``, with the SNR
    from the radar equation (``∝ σ / R⁴``) scaled so that a ``REFERENCE_RCS_M2`` target has
    Pd = 0.5 at the radar's registered range; no detection beyond it (instrumented range)."""
    snr_half = math.log(PFA) / math.log(0.5) - 1.0
    r = np.maximum(np.asarray(range_m, float), 1.0)
    snr = snr_half * (rcs_m2 / REFERENCE_RCS_M2) * (radar_range_m / r) ** 4
    return np.where(r <= radar_range_m, PFA ** (1.0 / (1.0 + snr)), 0.0)


RADAR_DTYPE = np.dtype([("t", "f8"), ("lat", "f8"), ("lon", "f8"), ("radar", "i2")])  # radar: index in world.radars


def radar_plots(world: World, vessels: list[Vessel], t0: float, t1: float, rng: np.random.Generator,
                detection: str = "fixed", progress=None) -> np.ndarray:
    """Plots of every radar as rows of ``RADAR_DTYPE``, in the order :func:`radar_observations`
    gives them, from the same draws: each vessel in range detected with probability ``FIXED_PD``
    (``detection="fixed"``) or by range and size (``"range"``: :func:`detection_probability`),
    Gaussian position noise of the radar's accuracy, one clutter plot a scan.  ``progress(done,
    total)`` is called after each radar."""
    out = []
    for ri, r in enumerate(world.radars):
        scans = np.arange(t0, t1, r.scan_period_s)
        site = ecef(np.array([r.lat]), np.array([r.lon]))[0]
        for v in vessels:
            a, b = max(t0, v.path.t[0]), min(t1, v.path.t[-1])
            ts = scans[(scans >= a) & (scans <= b)]
            if not len(ts):
                continue
            lat, lon, _, _ = v.path.at(ts)
            # the geodesic only where the straight line (never longer) is within range
            d = np.full(len(ts), np.inf)
            near = np.linalg.norm(ecef(lat, lon) - site, axis=1) <= r.range_m
            if near.any():
                d[near] = _dist_vec(r.lat, r.lon, lat[near], lon[near])
            if detection == "range":
                m = rng.random(len(ts)) < detection_probability(d, radar_cross_section(v), r.range_m)
            else:
                m = (d <= r.range_m) & (rng.random(len(ts)) < FIXED_PD)
            kx, ky = m_per_deg_array(lat[m])
            la = lat[m] + rng.normal(0, r.accuracy_m, m.sum()) / ky
            lo = lon[m] + rng.normal(0, r.accuracy_m, m.sum()) / kx
            if len(la):
                out.append(_plot_rows(ri, ts[m], la, lo))
        # clutter: one false plot per scan, uniformly in range
        cl = np.zeros((len(scans), 2))
        for k in range(len(scans)):
            rr, bb = r.range_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            cl[k] = offset(r.lat, r.lon, rr * math.sin(bb), rr * math.cos(bb))
        out.append(_plot_rows(ri, scans, cl[:, 0], cl[:, 1]))
        if progress is not None:
            progress(ri + 1, len(world.radars))
    return np.concatenate(out) if out else np.zeros(0, RADAR_DTYPE)


def _plot_rows(radar: int, t, lat, lon) -> np.ndarray:
    out = np.zeros(len(t), RADAR_DTYPE)
    out["t"], out["lat"], out["lon"], out["radar"] = t, lat, lon, radar
    return out


class RadarPlots:
    """Radar plots held as ``RADAR_DTYPE`` rows; each an :class:`Observation` when asked for."""

    def __init__(self, rows: np.ndarray, radars: list[Sensor]) -> None:
        self.rows, self.radars = rows, radars

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Observation:
        r = self.rows[i]
        return self._make(float(r["t"]), float(r["lat"]), float(r["lon"]), int(r["radar"]))

    def __iter__(self):
        rows, make = self.rows, self._make
        for a in range(0, len(rows), 65_536):
            c = rows[a:a + 65_536]
            yield from map(make, c["t"].tolist(), c["lat"].tolist(), c["lon"].tolist(), c["radar"].tolist())

    def _make(self, t: float, lat: float, lon: float, radar: int) -> Observation:
        r = self.radars[radar]
        return Observation("radar_plot", r.id, t, lat, lon, sigma_m=r.accuracy_m)


def radar_observations(world: World, vessels: list[Vessel], t0: float, t1: float,
                       rng: np.random.Generator, detection: str = "fixed") -> list[Observation]:
    """Plots of every radar as Observations (:func:`radar_plots`)."""
    return list(RadarPlots(radar_plots(world, vessels, t0, t1, rng, detection), world.radars))


@dataclass
class MovingRadar:
    """A radar on a ship or an aircraft: its sensor (``platform`` ship or aircraft; lat/lon its
    home), the path it moves on, whether it reports polar plots (range and bearing from where it
    was, which each plot carries) or geographic ones, and the vessel it rides (not a target)."""
    sensor: Sensor
    path: Path
    polar: bool
    carrier: Vessel | None = None


def moving_radar_plots(radar: MovingRadar, vessels: list[Vessel], t0: float, t1: float,
                       rng: np.random.Generator, detection: str = "range") -> list[tuple[float, dict]]:
    """(time, radar line) of a moving radar: every vessel within its range at a scan detected as
    ``radar_observations`` does, measured from where the platform is at that scan; polar plots
    with Gaussian range (``range_sigma_m``) and bearing (``bearing_sigma_deg``) noise and the
    platform's position, or geographic ones with the radar's accuracy; one clutter plot a scan."""
    r = radar.sensor
    a, b = max(t0, radar.path.t[0]), min(t1, radar.path.t[-1])
    scans = np.arange(a + rng.uniform(0, r.scan_period_s), b, r.scan_period_s)
    if not len(scans):
        return []
    plat, plon, _, _ = radar.path.at(scans)
    out: list[tuple[float, dict]] = []
    for v in vessels:
        if v is radar.carrier:
            continue
        lo_, hi_ = max(a, v.path.t[0]), min(b, v.path.t[-1])
        m = (scans >= lo_) & (scans <= hi_)
        if not m.any():
            continue
        ts, pa, po = scans[m], plat[m], plon[m]
        lat, lon, _, _ = v.path.at(ts)
        d, az, _ = inverse_array(pa, po, lat, lon)
        if detection == "range":
            hit = rng.random(len(ts)) < detection_probability(d, radar_cross_section(v), r.range_m)
        else:
            hit = (d <= r.range_m) & (rng.random(len(ts)) < FIXED_PD)
        for t, la0, lo0, dd, bb, la, lo in zip(ts[hit], pa[hit], po[hit], d[hit], az[hit], lat[hit], lon[hit]):
            out.append((float(t), _moving_plot(radar, rng, float(t), float(la0), float(lo0), float(dd),
                                               float(bb), float(la), float(lo))))
    for t, la0, lo0 in zip(scans, plat, plon):   # clutter: one false plot a scan, uniformly in range
        dd, bb = r.range_m * math.sqrt(rng.random()), rng.uniform(0, 360.0)
        la, lo = offset(float(la0), float(lo0), dd * math.sin(math.radians(bb)), dd * math.cos(math.radians(bb)))
        out.append((float(t), _moving_plot(radar, rng, float(t), float(la0), float(lo0), dd, bb, la, lo)))
    out.sort(key=lambda x: x[0])
    return out


def _moving_plot(radar: MovingRadar, rng: np.random.Generator, t: float, plat: float, plon: float,
                 range_m: float, bearing_deg: float, lat: float, lon: float) -> dict:
    r = radar.sensor
    line: dict = {"kind": "plot", "sensor_id": r.id, "time_s": t}
    if radar.polar:
        line.update(range_m=round(max(0.0, range_m + rng.normal(0, r.range_sigma_m or r.accuracy_m)), 1),
                    bearing_deg=round((bearing_deg + rng.normal(0, r.bearing_sigma_deg or 0.0)) % 360.0, 3) % 360.0)
    else:
        kx, ky = m_per_deg(lat)
        line.update(lat=round(lat + rng.normal(0, r.accuracy_m) / ky, 6),
                    lon=round(lon + rng.normal(0, r.accuracy_m) / kx, 6), sigma_m=r.accuracy_m)
    line.update(platform_lat=round(plat, 6), platform_lon=round(plon, 6))
    return line


def patrol_radars(patrols: list[Vessel]) -> list[MovingRadar]:
    """A navigation radar on each patrol craft: X band, 24 km (the horizon of a 15 m mast for a
    10 m target is about 29 km), 2.5 s scans, 30 m in range and 0.8° in bearing (IMO
    MSC.192(79) allows 30 m or 1 % of range, and 1°), polar plots."""
    return [MovingRadar(Sensor(f"R-{v.name.replace(' ', '-')}", "radar", float(v.path.lat[0]), float(v.path.lon[0]),
                               range_m=24_000.0, accuracy_m=30.0, scan_period_s=2.5, range_sigma_m=30.0,
                               bearing_sigma_deg=0.8, platform="ship"), v.path, True, v)
            for v in patrols if v.name]


def patrol_aircraft(world: World, n: int, t0: float, t1: float) -> list[MovingRadar]:
    """Maritime patrol aircraft: from a coastal receiver's port, out at 250 kn to a point
    150–300 km away, a racetrack of 60 km legs at 200 kn for up to 3 h, and back; a search
    radar of 120 km (from 1,500 m the horizon is about 160 km), 10 s scans, 150 m, plots in
    lat/lon.  The first flight takes off in the first hour, the others spread over the
    scenario."""
    rng, out = world.rng, []
    bases = [x for x in world.sensors.values() if x.kind == "ais" and x.platform == "terrestrial"]
    for k in range(n):
        base = bases[rng.integers(len(bases))]
        dist, brg = rng.uniform(150_000, 300_000), rng.uniform(0, 360.0)
        far = offset(base.lat, base.lon, dist * math.sin(math.radians(brg)), dist * math.cos(math.radians(brg)))
        side = offset(*far, 60_000 * math.sin(math.radians(brg + 90)), 60_000 * math.cos(math.radians(brg + 90)))
        start = t0 + (rng.uniform(0, 3600) if k == 0 else rng.uniform(0, max(3600.0, (t1 - t0) - 4 * 3600)))
        loops = max(1, int(3 * 3600 / (2 * 60_000 / (200 * KN_TO_MS))))
        out_leg = path_from_waypoints(start, [(base.lat, base.lon), far], 250.0)
        track = path_from_waypoints(float(out_leg.t[-1]), [far, side] * loops + [far], 200.0)
        back = path_from_waypoints(float(track.t[-1]), [far, (base.lat, base.lon)], 250.0)
        sensor = Sensor(f"MPA-{k + 1}", "radar", base.lat, base.lon, range_m=120_000.0, accuracy_m=150.0,
                        scan_period_s=10.0, platform="aircraft")
        out.append(MovingRadar(sensor, concat(out_leg, track, back), False))
    return out


def _dist_vec(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return distance_m_array(lat0, lon0, lat, lon)


# ------------------------------------------------------------------ normal traffic
def normal_traffic(world: World, n: int, t0: float, t1: float, book: MmsiBook, progress=None) -> list[Vessel]:
    """Merchant ships on lanes (55 %), fishing vessels on grounds in their own EEZ (30 %),
    ships at anchor off ports (15 %).  ``progress(done, n)`` is called now and then."""
    rng, out = world.rng, []
    dur = t1 - t0
    grounds: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for k in range(n):
        if progress is not None and k % 50 == 0:
            progress(k, n)
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


def _wander(world: World, centre: tuple[float, float], t0: float, t1: float, radius_m: float,
            leg_m: tuple[float, float], speed_kn, clear_m: float, slow: tuple[float, float, float],
            state: str | None = None) -> Path:
    """Legs of random bearing and length from ``centre``, kept within ``radius_m`` of it,
    ``clear_m`` off land (and in ``state``'s EEZ when given), each at ``speed_kn()``, until ``t1``
    (plus an hour).  A leg slower than ``slow[0]`` knots lasts ``slow[1]``–``slow[2]`` seconds
    (a stop or a drift), whatever its length would have been."""
    rng = world.rng
    pts, speeds, t = [centre], [], t0
    while t < t1 + 3600:
        v = speed_kn()
        leg, b = rng.uniform(*leg_m), rng.uniform(0, 2 * math.pi)
        if v < slow[0]:
            leg = v * KN_TO_MS * rng.uniform(slow[1], slow[2])
        nxt = offset(*pts[-1], leg * math.sin(b), leg * math.cos(b))
        if distance_m(*centre, *nxt) > radius_m or not world._sea_clear(nxt[0], nxt[1], clear_m) \
                or (state is not None and world.geo.eez_states_at(*nxt) != [state]):
            nxt = centre
            leg = max(distance_m(*pts[-1], *nxt), 1.0)
        pts.append(nxt)
        speeds.append(v)
        t += leg / (v * KN_TO_MS)
    return path_from_waypoints(t0, pts, speeds)


def _coastal_state(world: World, lat: float, lon: float) -> str | None:
    """The one state whose EEZ holds the place and that flags vessels here, else None."""
    states = world.geo.eez_states_at(lat, lon)
    return states[0] if len(states) == 1 and states[0] in FLAG_MIDS else None


def class_b_craft(world: World, n: int, t0: float, t1: float, book: MmsiBook) -> list[Vessel]:
    """Small craft of the coastal state with class B "CS" sets within 25 km of its receivers, in its
    own EEZ: day-boat fishing (ship type 30, 3–8 kn, stopping at 0.2–1 kn for 10–60 min) and
    pleasure craft (type 37, 4–15 kn)."""
    rng, out = world.rng, []
    stations = [x for x in world.sensors.values() if x.kind == "ais" and x.platform == "terrestrial"]
    for k in range(n):
        st = stations[rng.integers(len(stations))]
        flag, centre = None, None
        for _ in range(20):
            centre = world.sea_point_near(st.lat, st.lon, 25_000, clear_m=1000, tries=20)
            flag = _coastal_state(world, *centre) if centre else None
            if flag:
                break
        if flag is None:
            continue
        fishing = rng.random() < 0.6
        if fishing:
            speed = (lambda: rng.uniform(3.0, 8.0) if rng.random() < 0.6 else rng.uniform(0.2, 1.0))
        else:
            speed = (lambda: rng.uniform(4.0, 15.0))
        p = _wander(world, centre, t0, t1, 12_000, (1000, 5000), speed, 500, (2.0, 600.0, 3600.0), flag)
        out.append(Vessel(book.new(flag), p, ship_type=30 if fishing else 37, ais_class="B",
                          name=f"{'FB' if fishing else 'PC'} {flag} {k}", noise_m=10.0))
    return out


def patrol_craft(world: World, n: int, t0: float, t1: float, book: MmsiBook) -> list[Vessel]:
    """Law-enforcement craft (ship type 55, class A, AIS on) of the coastal state patrolling its
    own EEZ: 10–25 km legs at 12–20 kn within 40 km of a point 20–50 km off a coastal receiver,
    drifting at 0.5–1.5 kn for 30–60 min one leg in five."""
    rng, out = world.rng, []
    stations = [x for x in world.sensors.values() if x.kind == "ais" and x.platform == "terrestrial"]
    for k in range(n):
        st = stations[rng.integers(len(stations))]
        flag, centre = None, None
        for _ in range(50):
            r, b = rng.uniform(20_000, 50_000), rng.uniform(0, 2 * math.pi)
            q = offset(st.lat, st.lon, r * math.sin(b), r * math.cos(b))
            flag = _coastal_state(world, *q)
            if flag and world._sea_clear(q[0], q[1], 5000):
                centre = q
                break
        if centre is None:
            continue
        p = _wander(world, centre, t0, t1, 40_000, (10_000, 25_000),
                    lambda: rng.uniform(12.0, 20.0) if rng.random() < 0.8 else rng.uniform(0.5, 1.5), 3000,
                    (2.0, 1800.0, 3600.0), flag)
        out.append(Vessel(book.new(flag), p, ship_type=55, name=f"PATROL {flag} {k}"))
    return out


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


ANCHOR_SPACING_M = 400.0


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
        placed: list[tuple[float, float]] = []
        for k in range(per_site):
            for _ in range(50):
                r, b = 1500 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                la, lo = offset(la0, lo0, r * math.sin(b), r * math.cos(b))
                # ships at anchor keep clear of each other's swing circle (scope plus length,
                # a few hundred metres): anchored neighbours are 400 m apart or more
                if world._sea_clear(la, lo, 300) and all(distance_m(la, lo, *q) >= ANCHOR_SPACING_M for q in placed):
                    break
            else:
                continue
            placed.append((la, lo))
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
                    if all(not world.base_geo.on_land(*q) for q in seg):
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
            if world.in_coverage(la_, lo_).any() or any(world.base_geo.on_land(*q) for q in pts) \
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
