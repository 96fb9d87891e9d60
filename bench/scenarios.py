"""Seeded synthetic scenarios for the tracking benchmark, vectorised with numpy.

Vessels move at nearly constant velocity (2–20 kn); about a third make one
gentle turn (0.1–0.5 °/s for 1–3 min).  Motion is analytic, so a vessel's
position is exact at any time: straight, arc, straight.

* ``radar_scenario``: one radar, scans at one timestamp each (what Stone Soup's
  kd-tree associator requires), detections in the radar's local tangent plane
  (x east, y north, metres) and the same detections in lat/lon, converted with
  the tangent plane of ``fusion.geodesy`` (WGS 84 radii at the radar) centred on it, which
  is exactly invertible, so both trackers see identical plots.
* ``LargeScenario``: mixed AIS + radar over a large area, observations
  produced in time-sorted chunks so tens of millions never sit in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from fusion.geodesy import M_PER_DEG_LAT, m_per_deg, m_per_deg_array
from fusion.model import Observation, Sensor

KN = 1852.0 / 3600.0
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc).timestamp()
_NEVER = 1e12  # turn window of vessels that never turn
MIDS = np.array([548, 574, 533, 525, 563, 567, 412, 477, 351, 636])


# ------------------------------------------------------------------ motion
@dataclass
class Fleet:
    """Vessels' analytic motion relative to their start point (metres, seconds)."""
    x0: np.ndarray
    y0: np.ndarray
    speed: np.ndarray      # m/s
    heading: np.ndarray    # rad, clockwise from north
    turn_start: np.ndarray
    turn_end: np.ndarray
    turn_rate: np.ndarray  # rad/s, never 0 (non-turners have an empty turn window)

    @classmethod
    def random(cls, rng: np.random.Generator, x0: np.ndarray, y0: np.ndarray,
               duration_s: float) -> "Fleet":
        n = len(x0)
        speed = rng.uniform(2.0, 20.0, n) * KN
        heading = rng.uniform(0.0, 2 * math.pi, n)
        turns = rng.random(n) < 0.35
        start = np.where(turns, rng.uniform(0.0, duration_s, n), _NEVER)
        end = np.where(turns, start + rng.uniform(60.0, 180.0, n), _NEVER)
        rate = np.radians(rng.uniform(0.1, 0.5, n)) * rng.choice([-1.0, 1.0], n)
        return cls(x0, y0, speed, heading, start, end, rate)

    def __len__(self) -> int:
        return len(self.x0)

    def position(self, t: float | np.ndarray, idx: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """x, y (metres) at time t seconds after the start (scalar or per-vessel array)."""
        v, h0, w = self.speed[idx], self.heading[idx], self.turn_rate[idx]
        ts, te = self.turn_start[idx], self.turn_end[idx]
        s1 = np.minimum(t, ts)
        s2 = np.clip(t - ts, 0.0, te - ts)
        s3 = np.maximum(t - te, 0.0)
        h1 = h0 + w * (te - ts)
        x = self.x0[idx] + v * s1 * np.sin(h0) + v * (np.cos(h0) - np.cos(h0 + w * s2)) / w + v * s3 * np.sin(h1)
        y = self.y0[idx] + v * s1 * np.cos(h0) + v * (np.sin(h0 + w * s2) - np.sin(h0)) / w + v * s3 * np.cos(h1)
        return x, y

    def course(self, t: float | np.ndarray, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Heading (rad) at time t."""
        ts, te = self.turn_start[idx], self.turn_end[idx]
        return self.heading[idx] + self.turn_rate[idx] * np.clip(t - ts, 0.0, te - ts)


def to_latlon(ref_lat: np.ndarray | float, ref_lon: np.ndarray | float, x: np.ndarray, y: np.ndarray):
    """Vectorised ``fusion.geodesy.from_local``."""
    kx, ky = m_per_deg_array(ref_lat)
    return ref_lat + y / ky, ref_lon + x / kx


def to_xy(ref_lat: float, ref_lon: float, lat: np.ndarray, lon: np.ndarray):
    """Vectorised ``fusion.geodesy.to_local`` (the exact inverse of ``to_latlon``)."""
    kx, ky = m_per_deg_array(ref_lat)
    return (np.asarray(lon) - ref_lon) * kx, (np.asarray(lat) - ref_lat) * ky


# ------------------------------------------------------------ A: one radar
RADAR_LAT, RADAR_LON = 10.0, 114.0


@dataclass
class Scan:
    time_s: float            # seconds since the scenario start
    xy: np.ndarray           # detections (n×2, metres, radar plane), vessel plots then clutter
    latlon: np.ndarray       # the same detections (n×2 degrees)
    truth: np.ndarray        # true vessel positions (N×2, metres) at time_s


@dataclass
class RadarScenario:
    name: str
    n_vessels: int
    scans: list[Scan]
    sensor: Sensor
    sigma_m: float
    period_s: float

    @property
    def n_detections(self) -> int:
        return sum(len(s.xy) for s in self.scans)


def radar_scenario(kind: str, n_vessels: int, n_scans: int, seed: int, period_s: float = 6.0,
                   pd: float = 0.9, sigma_m: float = 40.0, clutter_per_scan: float = 5.0,
                   range_m: float = 80_000.0) -> RadarScenario:
    """``sparse``: vessels start within 58 km of a radar of 80 km range (≤ 71 km after
    20 min at 20 kn); ``dense``: vessels start in a 20 km × 20 km box at the radar."""
    rng = np.random.default_rng(seed)
    if kind == "sparse":
        r = 58_000.0 * np.sqrt(rng.random(n_vessels))
        a = rng.uniform(0, 2 * math.pi, n_vessels)
        x0, y0 = r * np.sin(a), r * np.cos(a)
    elif kind == "dense":
        x0, y0 = rng.uniform(-10_000, 10_000, (2, n_vessels))
    else:
        raise ValueError(kind)
    fleet = Fleet.random(rng, x0, y0, n_scans * period_s)
    scans = []
    for k in range(n_scans):
        t = k * period_s
        x, y = fleet.position(t)
        truth = np.column_stack([x, y])
        seen = rng.random(n_vessels) < pd
        det = truth[seen] + rng.normal(0.0, sigma_m, (int(seen.sum()), 2))
        n_clutter = rng.poisson(clutter_per_scan)
        if kind == "sparse":
            r = range_m * np.sqrt(rng.random(n_clutter))
            a = rng.uniform(0, 2 * math.pi, n_clutter)
            clutter = np.column_stack([r * np.sin(a), r * np.cos(a)])
        else:
            clutter = rng.uniform(-10_000, 10_000, (n_clutter, 2))
        xy = np.vstack([det, clutter])
        lat, lon = to_latlon(RADAR_LAT, RADAR_LON, xy[:, 0], xy[:, 1])
        scans.append(Scan(t, xy, np.column_stack([lat, lon]), truth))
    sensor = Sensor("R1", "radar", RADAR_LAT, RADAR_LON, range_m=range_m, accuracy_m=sigma_m,
                    scan_period_s=period_s)
    return RadarScenario(f"{kind} {n_vessels}", n_vessels, scans, sensor, sigma_m, period_s)


# ---------------------------------------------------- B: mixed AIS + radar
@dataclass
class LargeScenario:
    """Vessels over a square area at a fixed density, a grid of radars, AIS for most.

    Observations come out of ``chunks()`` time-sorted: per ``chunk_s`` of feed, batches of at
    most ``batch`` observations, each made just before it is used (as the fusion service turns
    each poll of at most 5,000 bus records into observations).
    """
    n_vessels: int
    duration_s: float
    seed: int = 1
    km2_per_vessel: float = 50.0
    centre: tuple[float, float] = (11.0, 113.0)
    dark_share: float = 0.15
    class_a_share: float = 0.6            # of AIS vessels; the rest class B
    ais_sigma_m: float = 10.0
    ais_loss: float = 0.05                # share of AIS reports never received
    radar_spacing_deg: float = 1.0
    radar_range_m: float = 60_000.0
    radar_period_s: float = 6.0
    radar_pd: float = 0.9
    radar_sigma_m: float = 40.0
    clutter_per_scan: float = 2.0
    chunk_s: float = 30.0
    batch: int = 5000

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.rng = rng
        n = self.n_vessels
        side_m = math.sqrt(n * self.km2_per_vessel) * 1000.0
        self.side_deg = side_m / M_PER_DEG_LAT
        clat, clon = self.centre
        self.lat0 = clat + rng.uniform(-0.5, 0.5, n) * self.side_deg
        self.lon0 = clon + rng.uniform(-0.5, 0.5, n) * self.side_deg / math.cos(math.radians(clat))
        self.fleet = Fleet.random(rng, np.zeros(n), np.zeros(n), self.duration_s)
        u = rng.random(n)
        self.dark = u < self.dark_share
        self.period = np.where(u < self.dark_share + (1 - self.dark_share) * self.class_a_share, 10.0, 30.0)
        self.period[self.dark] = np.inf
        self.ais_phase = rng.uniform(0.0, 1.0, n) * np.where(self.dark, 0.0, self.period)
        self.mmsi = (MIDS[rng.integers(0, len(MIDS), n)] * 1_000_000
                     + rng.permutation(n) % 1_000_000).astype(np.int64)
        # radar grid over the area (plus half a spacing margin)
        k = int(math.ceil(self.side_deg / self.radar_spacing_deg))
        offs = (np.arange(k) - (k - 1) / 2) * self.radar_spacing_deg
        rlat, rlon = np.meshgrid(clat + offs, clon + offs / math.cos(math.radians(clat)), indexing="ij")
        self.radar_lat, self.radar_lon = rlat.ravel(), rlon.ravel()
        self.radar_phase = rng.uniform(0.0, self.radar_period_s, len(self.radar_lat))
        self.sensors = {
            f"R{i}": Sensor(f"R{i}", "radar", float(la), float(lo), range_m=self.radar_range_m,
                            accuracy_m=self.radar_sigma_m, scan_period_s=self.radar_period_s)
            for i, (la, lo) in enumerate(zip(self.radar_lat, self.radar_lon))}

    # truth ---------------------------------------------------------------
    def truth(self, t: float | np.ndarray, idx=slice(None)) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.fleet.position(t, idx)
        return to_latlon(self.lat0[idx], self.lon0[idx], x, y)

    def in_radar_cover(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        from scipy.spatial import cKDTree
        tree = cKDTree(self._flat(self.radar_lat, self.radar_lon))
        d, _ = tree.query(self._flat(lat, lon))
        return d <= self.radar_range_m

    def _flat(self, lat, lon) -> np.ndarray:
        """A plane good to ~0.1 % over a few hundred km, for neighbour searches only."""
        kx, ky = m_per_deg(self.centre[0])
        return np.column_stack([np.asarray(lon) * kx, np.asarray(lat) * ky])

    # observations ----------------------------------------------------------
    def chunks(self):
        """Yield (chunk end time_s since start, its time-sorted observations as an iterator of
        lists of at most ``batch``)."""
        carry = None
        t0 = 0.0
        while t0 < self.duration_s:
            t1 = min(t0 + self.chunk_s, self.duration_s)
            parts = [self._ais(t0, t1), self._radar(t0, t1)]
            if carry is not None:
                parts.append(carry)
            cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            order = np.argsort(cols["t"], kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
            now = cols["t"] < t1 if t1 < self.duration_s else np.ones(len(order), bool)
            carry = {k: v[~now] for k, v in cols.items()}
            yield t1, self._batches({k: v[now] for k, v in cols.items()})
            t0 = t1

    def _ais(self, t0: float, t1: float) -> dict[str, np.ndarray]:
        rng = self.rng
        idx = np.flatnonzero(~self.dark)
        per, ph = self.period[idx], self.ais_phase[idx]
        first = np.ceil((t0 - ph) / per)
        out_i, out_t = [], []
        for j in range(int(math.ceil((t1 - t0) / 10.0)) + 1):
            t = ph + (first + j) * per
            ok = (t >= t0) & (t < t1)
            out_i.append(idx[ok])
            out_t.append(t[ok])
        i, t = np.concatenate(out_i), np.concatenate(out_t)
        keep = rng.random(len(i)) >= self.ais_loss
        i, t = i[keep], t[keep]
        x, y = self.fleet.position(t, i)
        x = x + rng.normal(0, self.ais_sigma_m, len(i))
        y = y + rng.normal(0, self.ais_sigma_m, len(i))
        lat, lon = to_latlon(self.lat0[i], self.lon0[i], x, y)
        sog = np.round((self.fleet.speed[i] / KN + rng.normal(0, 0.1, len(i))).clip(0), 1)
        cog = np.round((np.degrees(self.fleet.course(t, i)) + rng.normal(0, 1.0, len(i))) % 360.0, 1)
        n = len(i)
        return dict(t=t, radar=np.full(n, -1), lat=lat, lon=lon, sigma=np.full(n, self.ais_sigma_m),
                    mmsi=self.mmsi[i], sog=sog, cog=cog, cls=(self.period[i] > 10).astype(np.int8))

    def _radar(self, t0: float, t1: float) -> dict[str, np.ndarray]:
        from scipy.spatial import cKDTree
        rng = self.rng
        mid = 0.5 * (t0 + t1)
        vlat, vlon = self.truth(mid)
        tree = cKDTree(self._flat(vlat, vlon))
        margin = 20.0 * KN * (t1 - t0 + self.radar_period_s) + 5000.0
        near = tree.query_ball_point(self._flat(self.radar_lat, self.radar_lon),
                                     self.radar_range_m + margin)
        P = self.radar_period_s
        cols: dict[str, list[np.ndarray]] = {k: [] for k in
                                             ("t", "radar", "lat", "lon", "sigma", "mmsi", "sog", "cog", "cls")}
        for r, cand in enumerate(near):
            cand = np.asarray(cand, dtype=np.int64)
            rlat, rlon = self.radar_lat[r], self.radar_lon[r]
            k0 = math.ceil((t0 - self.radar_phase[r]) / P)
            for k in range(k0, k0 + int(math.ceil((t1 - t0) / P)) + 1):
                ts = self.radar_phase[r] + k * P
                if not (t0 <= ts < t1):
                    continue
                # where each candidate is at the scan start decides range and bearing
                lat, lon = self.truth(ts, cand)
                x, y = to_xy(rlat, rlon, lat, lon)
                seen = (np.hypot(x, y) <= self.radar_range_m) & (rng.random(len(cand)) < self.radar_pd)
                i = cand[seen]
                tp = ts + P * (np.arctan2(x[seen], y[seen]) % (2 * math.pi)) / (2 * math.pi)
                lat, lon = self.truth(tp, i)
                x, y = to_xy(rlat, rlon, lat, lon)
                nc = rng.poisson(self.clutter_per_scan)
                cr = self.radar_range_m * np.sqrt(rng.random(nc))
                ca = rng.uniform(0, 2 * math.pi, nc)
                x = np.concatenate([x, cr * np.sin(ca)]) + rng.normal(0, self.radar_sigma_m, len(i) + nc)
                y = np.concatenate([y, cr * np.cos(ca)]) + rng.normal(0, self.radar_sigma_m, len(i) + nc)
                tp = np.concatenate([tp, ts + P * ca / (2 * math.pi)])
                lat, lon = to_latlon(rlat, rlon, x, y)
                m = len(tp)
                cols["t"].append(tp)
                cols["radar"].append(np.full(m, r))
                cols["lat"].append(lat)
                cols["lon"].append(lon)
                cols["sigma"].append(np.full(m, self.radar_sigma_m))
                for key in ("mmsi", "sog", "cog", "cls"):
                    cols[key].append(np.zeros(m))
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}

    def _batches(self, c: dict[str, np.ndarray]):
        n = len(c["t"])
        for i in range(0, n, self.batch):
            yield self._observations({k: v[i:i + self.batch] for k, v in c.items()})

    def _observations(self, c: dict[str, np.ndarray]) -> list[Observation]:
        out = []
        base = T0
        for t, r, lat, lon, sig, mmsi, sog, cog, cls in zip(
                c["t"].tolist(), c["radar"].tolist(), c["lat"].tolist(), c["lon"].tolist(),
                c["sigma"].tolist(), c["mmsi"].tolist(), c["sog"].tolist(), c["cog"].tolist(),
                c["cls"].tolist()):
            if r < 0:
                out.append(Observation("ais_position", "AIS", base + t, lat, lon, sig, mmsi=int(mmsi),
                                       sog_kn=sog, cog_deg=cog, ais_class="B" if cls else "A"))
            else:
                out.append(Observation("radar_plot", f"R{int(r)}", base + t, lat, lon, sig))
        return out


# ------------------------------------------- C: the textbook scene (issue 13)
def textbook_scenario(n_vessels: int, box_m: float, n_scans: int, seed: int, period_s: float = 3.0,
                      q_m2_s3: float = 0.001, speed_kn: tuple[float, float] = (5.0, 20.0),
                      pd: float = 0.9, sigma_m: float = 50.0, clutter_per_scan: float = 50.0) -> RadarScenario:
    """The scene an outside evaluator tries first (issue 13): vessels on a nearly constant
    velocity (white acceleration noise of PSD ``q_m2_s3`` per axis, the exact discrete-time
    Q of the continuous model, Bar-Shalom et al. 2001 §6.2.2), speeds uniform in ``speed_kn``,
    headings uniform, starting uniform over a ``box_m`` square centred on one radar; each scan
    at one timestamp every ``period_s``; each vessel detected with probability ``pd`` with
    Gaussian noise ``sigma_m`` per axis; Poisson(``clutter_per_scan``) clutter plots uniform over
    the box.  Plots in the radar's tangent plane and in lat/lon (``to_latlon``, exact inverse of
    ``to_xy``), so Stone Soup and ``mfc fuse`` see identical plots."""
    rng = np.random.default_rng(seed)
    half = box_m / 2.0
    x = rng.uniform(-half, half, (n_vessels, 2))
    speed = rng.uniform(*speed_kn, n_vessels) * KN
    heading = rng.uniform(0.0, 2 * math.pi, n_vessels)
    v = np.column_stack([speed * np.sin(heading), speed * np.cos(heading)])
    T = period_s
    q = q_m2_s3 * np.array([[T ** 3 / 3, T ** 2 / 2], [T ** 2 / 2, T]])
    chol = np.linalg.cholesky(q)
    scans = []
    for k in range(n_scans):
        if k:
            w = rng.standard_normal((n_vessels, 2, 2)) @ chol.T  # (vessel, axis, [pos, vel])
            x = x + v * T + w[:, :, 0]
            v = v + w[:, :, 1]
        seen = rng.random(n_vessels) < pd
        det = x[seen] + rng.normal(0.0, sigma_m, (int(seen.sum()), 2))
        clutter = rng.uniform(-half, half, (rng.poisson(clutter_per_scan), 2))
        xy = np.vstack([det, clutter])
        lat, lon = to_latlon(RADAR_LAT, RADAR_LON, xy[:, 0], xy[:, 1])
        scans.append(Scan(k * T, xy, np.column_stack([lat, lon]), x.copy()))
    range_m = math.hypot(half, half) + speed_kn[1] * KN * n_scans * T + 10.0 * sigma_m
    sensor = Sensor("TB-R1", "radar", RADAR_LAT, RADAR_LON, range_m=range_m, accuracy_m=sigma_m,
                    scan_period_s=period_s)
    return RadarScenario(f"{n_vessels} in {box_m / 1000:.0f} km", n_vessels, scans, sensor, sigma_m, period_s)
