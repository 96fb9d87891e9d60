"""The textbook scene of issue 13: Stone Soup's standard pipeline and ``mfc fuse`` on the same plots.

Vessels on a nearly constant velocity (q = 0.001 m²/s³), 5–20 kn, one radar (σ = 50 m,
PD 0.9, 50 clutter plots a scan uniform over the box, a scan every 3 s), 10 minutes;
three sizes (200 vessels in a 200 km box, 1,000 in 200 km, 1,000 in 20 km), several seeds.
Stone Soup (``stonesoup_runner.standard``: CV q = 0.01, Mahalanobis gate 3, kd-tree GNN,
3-point initiation, 5-scan deletion) runs on the plots in the radar's plane; ``mfc fuse``
runs as a separate process with its default settings on the same plots written as radar
JSON Lines (lat/lon) with a sensors file, one snapshot right after each scan
(``--sample-every 3 --sample-closed``).  Both are scored at every scan with GOSPA
(p = 1, c = 500 m, α = 2): mean over the run, steady state (mean over the second half),
false tracks and missed vessels per scan (GOSPA's counts), and throughput (plots per
second: Stone Soup's tracker loop in CPU time, ``mfc fuse``'s whole process in wall time, and
our tracker alone on the same plots in CPU time).

    python -m bench textbook            # every size, 3 seeds, 10 min (long: ~1 h on 2 cores)
    python -m bench textbook --quick    # 200 in 200 km and 1,000 in 20 km, 2 seeds, 2 min
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from . import ours_runner
from .metrics import Gospa, RunResult, mean_gospa
from .scenarios import textbook_scenario

C_M = 500.0


@dataclass(frozen=True)
class Scene:
    n_vessels: int
    box_m: float
    n_scans: int = 200   # 10 min of 3 s scans

    @property
    def name(self) -> str:
        return f"{self.n_vessels} in {self.box_m / 1000:.0f} km"


FULL = (Scene(200, 200_000.0), Scene(1000, 200_000.0), Scene(1000, 20_000.0))
QUICK = (Scene(200, 200_000.0, 40), Scene(1000, 20_000.0, 40))


@dataclass(frozen=True)
class Row:
    scene: Scene
    seed: int
    tracker: str
    result: RunResult

    @property
    def mean(self) -> Gospa:
        return self.result.mean

    @property
    def steady(self) -> Gospa:
        return mean_gospa(self.result.per_scan[len(self.result.per_scan) // 2:])


def run_scene(scene: Scene, seed: int, extra_args: tuple[str, ...] = ()) -> list[Row]:
    from . import stonesoup_runner as ss
    sc = textbook_scenario(scene.n_vessels, scene.box_m, scene.n_scans, seed)
    stone = ss.run(sc, n_scans=None, burn_in=0, c=C_M, tracker=ss.standard(sc.sigma_m))
    ours = ours_runner.run_fuse(sc, c=C_M, extra_args=extra_args)
    loop = ours_runner.run(sc, burn_in=0, c=C_M)  # the tracker alone, for its CPU throughput
    return [Row(scene, seed, "Stone Soup", stone), Row(scene, seed, "mfc fuse", ours),
            Row(scene, seed, "tracker", loop)]


HEADER = (f"{'scene':14s} {'seed':>4s} {'tracker':10s} {'GOSPA':>8s} {'steady':>8s} {'loc':>8s} "
          f"{'false/scan':>10s} {'missed':>7s} {'plots/s':>9s} {'loop/s':>9s} {'x SS':>10s} {'GOSPA ours/SS':>13s}")


def format_pair(stone: Row, ours: Row, loop: Row) -> list[str]:
    """Stone Soup's row and ours (``mfc fuse``); ours also gives the plots per CPU second of the
    tracker alone on the same plots (``loop/s``) and both throughputs over Stone Soup's."""
    out = []
    for r in (stone, ours):
        m, s = r.mean, r.steady
        ratio = (f"{ours.result.rate / stone.result.rate:4.1f}/{loop.result.rate / stone.result.rate:4.0f}x"
                 if r is ours else "")
        g = f"{ours.mean.total / stone.mean.total:5.3f} {ours.steady.total / stone.steady.total:5.3f}" if r is ours else ""
        lr = f"{loop.result.rate:9,.0f}" if r is ours else ""
        out.append(f"{r.scene.name:14s} {r.seed:4d} {r.tracker:10s} {m.total:8.0f} {s.total:8.0f} "
                   f"{m.localisation:8.0f} {m.n_false:10.2f} {m.n_missed:7.2f} {r.result.rate:9,.0f} "
                   f"{lr:>9s} {ratio:>10s} {g:>13s}")
    return out


def suite(scenes, seeds: list[int], extra_args: tuple[str, ...] = ()) -> list[Row]:
    print("\ntextbook scene (issue 13): q = 0.001 m2/s3, 5-20 kn, sigma 50 m, PD 0.9, 50 clutter/scan, "
          f"3 s scans; GOSPA p=1 c={C_M:.0f} m alpha=2 at every scan; steady = 2nd half; "
          "plots/s: Stone Soup tracker loop CPU, mfc fuse whole process wall clock; "
          "loop/s: our tracker alone, CPU; x SS: mfc fuse / tracker alone over Stone Soup")
    print(HEADER, flush=True)
    rows: list[Row] = []
    for scene in scenes:
        for seed in seeds:
            pair = run_scene(scene, seed, extra_args)
            rows += pair
            print("\n".join(format_pair(*pair)), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench textbook", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 in 200 km and 1,000 in 20 km, 2 min, 2 seeds")
    ap.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds SEED..SEED+N-1 (default 3, quick 2)")
    ap.add_argument("--scans", type=int, default=None, help="scans per run (default 200 = 10 min)")
    ap.add_argument("--scene", action="append", metavar="N:BOX_KM",
                    help="only these scenes, e.g. 1000:20 (repeatable)")
    args = ap.parse_args(argv)
    scenes = QUICK if args.quick else FULL
    if args.scene:
        scenes = tuple(Scene(int(n), float(b) * 1000.0) for n, b in (s.split(":") for s in args.scene))
    if args.scans:
        scenes = tuple(Scene(s.n_vessels, s.box_m, args.scans) for s in scenes)
    suite(scenes, list(range(args.seed, args.seed + (args.seeds or (2 if args.quick else 3)))))


if __name__ == "__main__":
    main()
