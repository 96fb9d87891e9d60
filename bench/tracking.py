"""Tracking benchmarks: our tracker against Stone Soup, and our tracker at scale.

(a) ``radar_suite``: one radar with clutter; the same seeded scenario and the
    same detections go to our ``Tracker`` and to Stone Soup (kd-tree GNN at
    every size, plain GNN at the smallest).  Stone Soup runs first, capped at a
    CPU budget per configuration; ours then runs on exactly the scans Stone
    Soup was fed.  Throughput is detections per CPU second of the tracker loop
    only; accuracy is the mean GOSPA (p = 1, c = 500 m, α = 2) over the scans
    after the burn-in, with its localisation / missed / false split.
(b) ``scale_suite``: our tracker alone on ``LargeScenario`` (mixed AIS +
    radar): observations per CPU second, live tracks, memory per track,
    identity accuracy and dark-vessel detection rate.  Definitions are in
    ``docs/benchmarks.md``.
"""

from __future__ import annotations

import gc
import math
import pickle
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

from fusion.config import TrackerConfig
from fusion.geodesy import DEG, E2, SEMI_MAJOR_M
from fusion.tracker import Tracker

from . import ours_runner
from .metrics import Gospa, RunResult
from .scenarios import T0, LargeScenario, radar_scenario

C_M = 500.0        # GOSPA cut-off, also the "near" radius of the scale metrics
BURN_IN_SCANS = 5


# ------------------------------------------------------- (a) ours vs Stone Soup
@dataclass(frozen=True)
class RadarCase:
    kind: str          # "sparse" (vessels within 58 km of the radar) or "dense" (20 km box)
    n_vessels: int
    n_scans: int       # scans generated; Stone Soup's budget may cut it, ours follows
    gnn: bool = False  # also run Stone Soup's plain GNN (slow: small sizes only)


RADAR_FULL = (
    RadarCase("sparse", 50, 100, gnn=True),
    RadarCase("sparse", 200, 60),
    RadarCase("sparse", 1000, 30),
    RadarCase("dense", 1000, 30),
)
RADAR_QUICK = (
    RadarCase("sparse", 50, 20, gnn=True),
    RadarCase("sparse", 200, 15),
    RadarCase("dense", 200, 15),
)


def _stonesoup():
    try:
        from . import stonesoup_runner
    except ImportError:  # pragma: no cover
        return None
    try:
        import stonesoup  # noqa: F401
    except ImportError:
        return None
    return stonesoup_runner


def radar_suite(cases, seed: int, budget_s: float, seeds: int = 1) -> list[tuple[RadarCase, str, RunResult]]:
    """Every case with seeds ``seed`` … ``seed + seeds - 1``; with several, a summary per case."""
    ss = _stonesoup()
    if ss is None:
        print("Stone Soup is not installed (pip install -e '.[bench]'): our tracker only")
    rows = []
    for k in range(seeds):
        rows += _radar_cases(cases, seed + k, budget_s, ss, header=not rows)
    if seeds > 1:
        _print_radar_summary(rows, seed, seeds)
    return rows


def _radar_cases(cases, seed: int, budget_s: float, ss, header: bool) -> list[tuple[RadarCase, str, RunResult]]:
    rows: list[tuple[RadarCase, str, RunResult]] = []
    for case in cases:
        sc = radar_scenario(case.kind, case.n_vessels, case.n_scans, seed=seed)
        n_scans = case.n_scans
        if ss is not None:
            kd = ss.run(sc, "kdtree", n_scans, burn_in=BURN_IN_SCANS, c=C_M, budget_s=budget_s)
            n_scans = kd.scans
        ours = ours_runner.run(sc, n_scans, burn_in=BURN_IN_SCANS, c=C_M)
        # the same tracker with one motion model (adaptive noise) instead of the IMM
        single = ours_runner.run(sc, n_scans, burn_in=BURN_IN_SCANS, c=C_M,
                                 config=TrackerConfig(motion_model="adaptive"))
        case_rows = [(case, "ours", ours), (case, "ours, one model", single)]
        if ss is not None:
            case_rows.append((case, "Stone Soup kd-tree GNN", kd))
            if case.gnn:
                gnn = ss.run(sc, "gnn", n_scans, burn_in=BURN_IN_SCANS, c=C_M, budget_s=budget_s)
                case_rows.append((case, "Stone Soup GNN", gnn))
        _print_radar_rows(case_rows, sc.period_s, header=header and not rows, seed=seed)
        rows += case_rows
    return rows


def _print_radar_summary(rows, seed: int, seeds: int) -> None:
    """Per case: mean GOSPA of each tracker over the seeds, and ours against Stone Soup kd-tree."""
    print(f"\n(a) summary over seeds {seed}..{seed + seeds - 1}: mean GOSPA of each; "
          f"ours - Stone Soup kd-tree per seed")
    print(f"{'scenario':13s} {'ours GOSPA':>10s} {'1 model':>10s} {'SS GOSPA':>10s} {'diff':>8s} "
          f"{'ours better or equal':>21s} {'diff per seed':s}")
    by_case: dict[RadarCase, dict[str, list[RunResult]]] = {}
    for case, name, r in rows:
        by_case.setdefault(case, {}).setdefault(name, []).append(r)
    for case, runs in by_case.items():
        ours, kd = runs["ours"], runs.get("Stone Soup kd-tree GNN")
        scen = f"{case.kind} {case.n_vessels}"
        mean_ours = sum(r.mean.total for r in ours) / len(ours)
        one = runs.get("ours, one model", [])
        mean_one = f"{sum(r.mean.total for r in one) / len(one):10.1f}" if one else f"{'':10s}"
        if not kd:
            print(f"{scen:13s} {mean_ours:10.1f} {mean_one}")
            continue
        diffs = [a.mean.total - b.mean.total for a, b in zip(ours, kd)]
        mean_kd = sum(r.mean.total for r in kd) / len(kd)
        wins = sum(d <= 0.0 for d in diffs)
        print(f"{scen:13s} {mean_ours:10.1f} {mean_one} {mean_kd:10.1f} {mean_ours - mean_kd:+8.1f} "
              f"{wins:>14d} of {len(diffs):<4d} {' '.join(f'{d:+.1f}' for d in diffs)}", flush=True)


def _print_radar_rows(rows, period_s: float, header: bool, seed: int = 1) -> None:
    if header:
        print(f"\n(a) one radar with clutter, same detections to both; GOSPA p=1 c={C_M:.0f} m alpha=2, "
              f"mean over scans after {BURN_IN_SCANS} burn-in scans; CPU time of the tracker loop")
        print(f"{'scenario':13s} {'tracker':23s} {'scans':>5s} {'dets':>7s} {'det/s':>9s} {'ours/x':>7s} "
              f"{'GOSPA':>8s} {'loc':>8s} {'missed':>7s} {'false':>7s} {'n_miss':>6s} {'n_false':>7s}")
    ours_rate = rows[0][2].rate
    for case, name, r in rows:
        g: Gospa = r.mean
        ratio = "" if name == "ours" else f"{ours_rate / r.rate:6.1f}x"
        scen = f"{case.kind} {case.n_vessels}" + (f" s{seed}" if seed != 1 else "")
        print(f"{scen:13s} {name:23s} {r.scans:5d} {r.detections:7d} {r.rate:9,.0f} {ratio:>7s} "
              f"{g.total:8.1f} {g.localisation:8.1f} {g.missed:7.0f} {g.false:7.0f} "
              f"{g.n_missed:6.2f} {g.n_false:7.2f}")
    print(f"{'':13s} ({rows[0][2].scans} scans = {rows[0][2].scans * period_s / 60:.1f} simulated min)",
          flush=True)


# ------------------------------------------------------------- (b) at scale
SCALE_FULL = ((1_000, 600.0), (10_000, 300.0), (50_000, 180.0))
SCALE_QUICK = ((1_000, 180.0), (5_000, 150.0))
SCALE_BURN_IN_S = 120.0


@dataclass
class ScaleResult:
    n_vessels: int
    n_radars: int
    duration_s: float
    observations: int
    seconds: float             # CPU seconds inside Tracker.update
    live_tracks: int           # confirmed + coasting at the end
    held_tracks: int           # every track the tracker holds (tentative too)
    bytes_per_track: float     # tracemalloc of a restored copy / held tracks
    identity: float            # share of AIS-vessel samples correctly identified
    dark: float                # share of covered dark-vessel samples detected
    spurious: float            # share of live-track samples with no vessel near
    samples: int               # sample times scored

    @property
    def rate(self) -> float:
        return self.observations / self.seconds


def _xyz(lat, lon) -> np.ndarray:
    """Earth-centred points on the WGS 84 ellipsoid (metres): chord ≈ geodesic distance below a few km."""
    la, lo = np.asarray(lat) * DEG, np.asarray(lon) * DEG
    n = SEMI_MAJOR_M / np.sqrt(1.0 - E2 * np.sin(la) ** 2)
    return np.column_stack([n * np.cos(la) * np.cos(lo), n * np.cos(la) * np.sin(lo), n * (1.0 - E2) * np.sin(la)])


def score_sample(sc: LargeScenario, tracker: Tracker, t: float, radius_m: float = C_M):
    """Counts at one sample time ``t`` (s since the start): see docs/benchmarks.md.

    Returns (AIS vessels, identified), (dark vessels in radar cover, detected),
    (live tracks, spurious live tracks).
    """
    from scipy.spatial import cKDTree
    lines = tracker.snapshot(T0 + t)
    vlat, vlon = sc.truth(t)
    vessels = _xyz(vlat, vlon)
    if not lines:
        return (int((~sc.dark).sum()), 0), (0, 0), (0, 0)
    tracks = _xyz([ln.lat for ln in lines], [ln.lon for ln in lines])
    mmsi = np.array([ln.mmsi if ln.mmsi is not None else -1 for ln in lines], dtype=np.int64)
    tree = cKDTree(tracks)
    ais = np.flatnonzero(~sc.dark)
    near = tree.query_ball_point(vessels[ais], r=radius_m)
    ident = sum(1 for i, js in zip(ais.tolist(), near) if js and (mmsi[js] == sc.mmsi[i]).any())
    dark = np.flatnonzero(sc.dark)
    dark = dark[sc.in_radar_cover(vlat[dark], vlon[dark])]
    radar_only = mmsi < 0
    detected = 0
    if len(dark) and radar_only.any():
        d, _ = cKDTree(tracks[radar_only]).query(vessels[dark], distance_upper_bound=radius_m)
        detected = int(np.isfinite(d).sum())
    d, _ = cKDTree(vessels).query(tracks, distance_upper_bound=radius_m)
    return (len(ais), ident), (len(dark), detected), (len(lines), int(np.isinf(d).sum()))


def bytes_per_track(tracker: Tracker) -> float:
    """tracemalloc of restoring a pickled copy of the tracker, less an empty one's, per held track."""
    def restored(obj) -> int:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        gc.collect()
        tracemalloc.start()
        copy = pickle.loads(blob)
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del copy
        return size
    n = len(tracker.tracks)
    return (restored(tracker) - restored(Tracker(tracker.sensors, tracker.config))) / n if n else float("nan")


def _fed(sc: LargeScenario, tracker: Tracker):
    """Feed the scenario to the tracker batch by batch; yield (chunk end, CPU seconds inside
    ``Tracker.update`` so far, observations fed so far) at every chunk end."""
    spent, n_obs = 0.0, 0
    for t1, batches in sc.chunks():
        for obs in batches:
            t = time.process_time()
            tracker.update(obs)
            spent += time.process_time() - t
            n_obs += len(obs)
            del obs
        yield t1, spent, n_obs


def _feed_seconds(n_vessels: int, duration_s: float, seed: int) -> float:
    """CPU seconds of ``Tracker.update`` over the whole feed, nothing scored (a timing repeat)."""
    sc = LargeScenario(n_vessels, duration_s, seed=seed)
    spent = 0.0
    for _, spent, _ in _fed(sc, Tracker(sc.sensors)):
        pass
    return spent


def scale_run(n_vessels: int, duration_s: float, seed: int,
              burn_in_s: float = SCALE_BURN_IN_S, repeat: int = 1) -> ScaleResult:
    """One scored run; ``repeat - 1`` more runs of the same feed only timed (the best counts)."""
    sc = LargeScenario(n_vessels, duration_s, seed=seed)
    tracker = Tracker(sc.sensors)
    spent, n_obs, samples = 0.0, 0, 0
    ident = [0, 0]
    dark = [0, 0]
    spurious = [0, 0]
    for t1, spent, n_obs in _fed(sc, tracker):
        if t1 >= burn_in_s:  # every chunk end (30 s of feed) after the burn-in
            (a, b), (c, d), (e, f) = score_sample(sc, tracker, t1)
            ident[0] += a; ident[1] += b
            dark[0] += c; dark[1] += d
            spurious[0] += e; spurious[1] += f
            samples += 1
    for _ in range(repeat - 1):
        spent = min(spent, _feed_seconds(n_vessels, duration_s, seed))
    live = sum(1 for tr in tracker.tracks.values() if tr.status in ("confirmed", "coasting"))
    return ScaleResult(
        n_vessels, len(sc.sensors), duration_s, n_obs, spent, live, len(tracker.tracks),
        bytes_per_track(tracker), _share(ident), _share(dark), _share(spurious), samples)


def _share(pair) -> float:
    return pair[1] / pair[0] if pair[0] else float("nan")


def scale_suite(sizes, seed: int, repeat: int = 1) -> list[ScaleResult]:
    print(f"\n(b) our tracker alone, mixed AIS + radar (LargeScenario: 1 vessel / 50 km², 15 % dark, "
          f"radars 1 deg apart, 60 km range), fed in batches of at most 5,000 observations; one process, "
          f"one thread; CPU time of Tracker.update, best of {repeat}; "
          f"scores every 30 s after {SCALE_BURN_IN_S:.0f} s, 'near' = {C_M:.0f} m")
    print(f"{'vessels':>7s} {'radars':>6s} {'sim min':>7s} {'obs':>9s} {'obs/s':>8s} {'live trk':>8s} "
          f"{'held':>7s} {'B/track':>7s} {'identity':>8s} {'dark det':>8s} {'spurious':>8s} {'samples':>7s}")
    out = []
    for n, dur in sizes:
        r = scale_run(n, dur, seed, repeat=repeat)
        out.append(r)
        print(f"{r.n_vessels:7d} {r.n_radars:6d} {r.duration_s / 60:7.1f} {r.observations:9d} "
              f"{r.rate:8,.0f} {r.live_tracks:8d} {r.held_tracks:7d} {r.bytes_per_track:7.0f} "
              f"{_pct(r.identity):>8s} {_pct(r.dark):>8s} {_pct(r.spurious):>8s} {r.samples:7d}", flush=True)
    return out


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"
