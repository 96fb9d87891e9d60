"""The store's track writes with and without history thinning (``MFC_HISTORY_EVERY_S``).

``python -m bench.store_history``: the track lines ``mfc fuse`` makes from two feeds (the sample
feed: AIS and three radars; the textbook scene: 200 vessels on one 3 s radar), written into a
fresh SQLite store in batches of 5,000 as the store worker writes them, once keeping every
update (0) and once thinned (the default, 5 s), alternating, best of ``--repeat``; prints lines
per second, history rows and database size, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from services.store.sql import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_feeds" / "scs"


def _fuse(feeds: list[Path], sensors: Path, out: Path) -> list[dict]:
    subprocess.run([sys.executable, "-m", "mfc", "fuse", *map(str, feeds), "--sensors", str(sensors),
                    "--tracks-out", str(out / "tracks.jsonl"), "--alerts-out", str(out / "alerts.jsonl"), "--quiet"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    with open(out / "tracks.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _write(lines: list[dict], every_s: float) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/store.db", history_every_s=every_s)
        t = time.perf_counter()
        for i in range(0, len(lines), 5000):
            store.write_tracks(lines[i:i + 5000])
        spent = time.perf_counter() - t
        rows = sum(len(store.history(tid, limit=10**9)) for tid in {line["track_id"] for line in lines})
        store.close()
        size = sum(os.path.getsize(p) for p in Path(tmp).iterdir())
    return spent, rows, size


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.store_history", description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    from .ours_runner import write_feed
    from .scenarios import textbook_scenario
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        feeds = {"sample feed": _fuse([SAMPLE / "ais.nmea", SAMPLE / "radar.jsonl"], SAMPLE / "sensors.json", folder)}
        tb = folder / "textbook"
        tb.mkdir()
        feed, sensors = write_feed(textbook_scenario(200, 200_000.0, 200, 5), tb)
        feeds["textbook 200, 3 s radar"] = _fuse([feed], sensors, tb)
    print(f"{'feed':26s} {'history':>8s} {'lines':>8s} {'lines/s':>9s} {'rows':>8s} {'MB':>6s}")
    for name, lines in feeds.items():
        best: dict[float, tuple[float, int, int]] = {}
        for _ in range(args.repeat):
            for every in (0.0, 5.0):
                got = _write(lines, every)
                if every not in best or got[0] < best[every][0]:
                    best[every] = got
        for every, (spent, rows, size) in best.items():
            label = "every" if every == 0 else f"{every:g} s"
            print(f"{name:26s} {label:>8s} {len(lines):8d} {len(lines) / spent:9,.0f} {rows:8d} {size / 1e6:6.1f}")
        print(f"{name:26s} thinned/every: write speed {best[0.0][0] / best[5.0][0]:.2f}x, "
              f"history rows {best[5.0][1] / best[0.0][1]:.2f}x")


if __name__ == "__main__":
    main()
