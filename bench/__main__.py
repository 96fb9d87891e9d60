"""``python -m bench``: every benchmark in one seeded command (docs/benchmarks.md).

Suites (``--suite``, default ``all``):
- ``ingest``: throughput of ingest and fusion on the sample scenario, one core,
  one process, with baselines measured in the same run: pyais's own ``decode``
  of every AIS line (no time handling, no validation, no reassembly bookkeeping
  of ours) against our ``AisDecoder``; the tracker alone on decoded
  observations, and ``mfc fuse`` end to end;
- ``tracking``: our tracker against Stone Soup on one radar with clutter
  (``bench/tracking.py`` part a);
- ``scale``: our tracker alone on mixed AIS + radar up to 50,000 vessels
  (part b);
- ``pyais``: ``mfc fuse`` as a user runs it (one process) against bare pyais
  (``IterMessages`` + ``decode``) on the AIS lines of sample_feeds/scs and of the
  largest real capture in tests/data/real; the ratio of our observations per
  second to pyais's lines per second (``bench/vs_pyais.py``).
- ``textbook``: Stone Soup's standard pipeline against ``mfc fuse`` on the textbook
  scene of issue 13 (``bench/textbook.py``; also ``python -m bench textbook [--quick]``).
- ``picture``: ``/v1/picture`` of ~2,000 live tracks polled by 1, 10 and 50 clients from
  ``mfc serve`` in its own process, with the rendering cache off and on
  (``bench/picture_load.py``, about 1.5 minutes).
- ``exercises``: every built-in scenario through ``mfc simulate`` → ``mfc fuse`` → ``mfc score``
  (``bench/exercises.py``; ``--quick``: distress, STS transfer and GNSS interference only).
``--quick`` runs small sizes only (about a minute).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: no BLAS thread pools

import argparse
import platform
import tempfile
import time
from pathlib import Path

from ingest.sensors import load_sensors

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_feeds" / "scs"


def best_of(n: int, fn):
    best, result = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def bench_decode(ais_path: Path, repeat: int) -> list[tuple[str, int, float]]:
    import pyais
    from ingest.ais import AisDecoder
    lines = ais_path.read_text(encoding="utf-8", errors="replace").splitlines()
    bare = [line[line.index("!"):] for line in lines if "!" in line]

    def ours():
        decoder, n = AisDecoder("bench"), 0
        for no, line in enumerate(lines, 1):
            obs, _ = decoder.feed(line, no)
            n += len(obs)
        return n

    def baseline():
        n, frags = 0, []
        for s in bare:
            parts = s.split(",")
            if len(parts) > 2 and parts[1] != parts[2]:
                frags.append(s)
                continue
            try:
                pyais.decode(*(frags + [s])).asdict()
                n += 1
            except Exception:
                pass
            frags = []
        return n

    t_base, _ = best_of(repeat, baseline)
    t_ours, _ = best_of(repeat, ours)
    return [("pyais.decode (baseline)", len(lines), t_base), ("ingest AisDecoder", len(lines), t_ours)]


def bench_fusion(repeat: int) -> list[tuple[str, int, float]]:
    from fusion.tracker import Tracker
    from services.workers.fuse import fuse, load_observations
    sensors = load_sensors(SAMPLE / "sensors.json")
    paths = [SAMPLE / "ais.nmea", SAMPLE / "radar.jsonl"]
    observations, _ = load_observations(paths, sensors)

    def track():
        tracker = Tracker(sensors)
        for i in range(0, len(observations), 2000):
            tracker.update(observations[i:i + 2000])
        tracker.flush()

    def end_to_end():
        with tempfile.TemporaryDirectory() as tmp:
            fuse(paths, Path(tmp) / "t.jsonl", Path(tmp) / "a.jsonl", sensors)

    t_track, _ = best_of(repeat, track)
    t_all, _ = best_of(repeat, end_to_end)
    n = len(observations)
    return [("tracker only (decoded obs)", n, t_track), ("mfc fuse end to end", n, t_all)]


def ingest_suite(repeat: int) -> None:
    rows = bench_decode(SAMPLE / "ais.nmea", repeat) + bench_fusion(repeat)
    base = rows[0][1] / rows[0][2]
    print(f"\ningest and fusion on sample_feeds/scs (wall clock, best of {repeat})")
    print(f"{'what':32s} {'items':>9s} {'seconds':>8s} {'items/s':>10s} {'vs pyais':>9s}")
    for name, n, t in rows:
        print(f"{name:32s} {n:9d} {t:8.2f} {n / t:10,.0f} {n / t / base:8.2f}x", flush=True)


def main(argv: list[str] | None = None) -> None:
    import sys
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["textbook"]:
        from . import textbook
        textbook.main(argv[1:])
        return
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--suite", choices=("all", "ingest", "pyais", "tracking", "scale", "textbook", "alerts", "kafka",
                                        "picture", "exercises"),
                    default="all",
                    help="all = every suite (kafka starts its own broker via scripts/kafka-dev)")
    ap.add_argument("--quick", action="store_true", help="small sizes only (about a minute)")
    ap.add_argument("--repeat", type=int, default=3, help="ingest and scale suites: best of N runs")
    ap.add_argument("--seed", type=int, default=1, help="scenario seed (tracking and scale)")
    ap.add_argument("--seeds", type=int, default=1, metavar="N",
                    help="tracking suite: run seeds SEED .. SEED+N-1 and summarise GOSPA over them")
    ap.add_argument("--stonesoup-budget", type=float, default=60.0, metavar="S",
                    help="CPU seconds per Stone Soup configuration before its scans are cut")
    args = ap.parse_args(argv)
    from . import tracking
    started = time.perf_counter()
    print(f"python -m bench --suite {args.suite}{' --quick' if args.quick else ''} --seed {args.seed}: "
          f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.suite in ("all", "ingest"):
        ingest_suite(1 if args.quick else args.repeat)
    if args.suite in ("all", "pyais"):
        from . import vs_pyais
        vs_pyais.suite(1 if args.quick else min(args.repeat, 2))
    if args.suite in ("all", "tracking"):
        tracking.radar_suite(tracking.RADAR_QUICK if args.quick else tracking.RADAR_FULL,
                             args.seed, args.stonesoup_budget, args.seeds)
    if args.suite in ("all", "scale"):
        tracking.scale_suite(tracking.SCALE_QUICK if args.quick else tracking.SCALE_FULL, args.seed,
                             1 if args.quick else args.repeat)
    if args.suite in ("all", "textbook"):
        from . import textbook
        textbook.main(["--quick"] if args.quick else [])
    if args.suite in ("all", "alerts"):
        from . import alerts
        print("\nalerts: labelled scenarios, a clean day, rules cost (python -m bench.alerts)", flush=True)
        alerts.main(["--quick"] if args.quick else [])
    if args.suite in ("all", "kafka"):
        from . import kafka_latency
        print("\nkafka: latency and throughput on a real broker (python -m bench.kafka_latency)", flush=True)
        kafka_latency.main(["--seconds", "3", "--throughput-count", "10000"] if args.quick else [])
    if args.suite in ("all", "exercises"):
        from . import exercises
        print("\nexercises: built-in scenarios through mfc simulate, fuse and score (python -m bench.exercises)",
              flush=True)
        exercises.main(["--only", "distress,sts-transfer,gnss-interference"] if args.quick else [])
    if args.suite in ("all", "picture"):
        from . import picture_load
        print("\npicture: /v1/picture under polling clients (python -m bench.picture_load)", flush=True)
        picture_load.main(["--seconds", "2", "--clients", "1,10"] if args.quick else [])
    print(f"\ndone in {time.perf_counter() - started:.0f} s wall clock, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
