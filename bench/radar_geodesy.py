"""Where ``mfc fuse`` puts noise-free polar radar plots: track position error against pyproj.

One radar at 10°N 114°E, three anchored targets at 20 km due north, 55 km north-east
and 90 km due east (true positions by pyproj's WGS 84 ``Geod.fwd``, written nowhere
else), plots every 3 s for 5 minutes with the exact range and bearing of each target
from the radar (``Geod.inv``), no noise and no clutter.  ``mfc fuse --sample-every 60``
of that feed must put each target's track on the target; the error is the geodesic
distance (pyproj) from the target to the nearest track at each snapshot.

Self-contained (standard library and pyproj only) so that it measures any checkout::

    python bench/radar_geodesy.py                  # this checkout
    python bench/radar_geodesy.py --repo /work/main  # another one, same script
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pyproj import Geod

GEOD = Geod(ellps="WGS84")
RADAR_LAT, RADAR_LON = 10.0, 114.0
TARGETS = [("20 km N", 0.0, 20_000.0), ("55 km NE", 45.0, 55_000.0), ("90 km E", 90.0, 90_000.0)]
T0 = datetime(2026, 11, 24, 8, 0, 0, tzinfo=timezone.utc)
SCAN_S, DURATION_S = 3, 300


def truth() -> list[tuple[str, float, float]]:
    """(name, lat, lon) of each target, by pyproj."""
    out = []
    for name, bearing, dist in TARGETS:
        lon, lat, _ = GEOD.fwd(RADAR_LON, RADAR_LAT, bearing, dist)
        out.append((name, lat, lon))
    return out


def write_feed(folder: Path) -> tuple[Path, Path]:
    sensors = {"sensors": [{"id": "BENCH-R1", "kind": "radar", "lat": RADAR_LAT, "lon": RADAR_LON,
                            "range_m": 96_000, "accuracy_m": 50, "scan_period_s": SCAN_S, "owner": "BENCH",
                            "releasability": ["ASEAN"], "range_sigma_m": 40, "bearing_sigma_deg": 0.3}]}
    sensors_path = folder / "sensors.json"
    sensors_path.write_text(json.dumps(sensors, indent=1), encoding="utf-8")
    lines = []
    for k in range(DURATION_S // SCAN_S + 1):
        for j, (_, lat, lon) in enumerate(truth()):
            az, _, dist = GEOD.inv(RADAR_LON, RADAR_LAT, lon, lat)
            t = T0 + timedelta(seconds=k * SCAN_S + 0.1 * j)
            lines.append(json.dumps({"kind": "plot", "sensor_id": "BENCH-R1",
                                     "time": t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-5] + "Z",
                                     "range_m": round(dist, 3), "bearing_deg": round(az % 360.0, 6)}))
    feed_path = folder / "radar.jsonl"
    feed_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return feed_path, sensors_path


def fuse(repo: Path, folder: Path, feed: Path, sensors: Path) -> list[dict]:
    tracks = folder / "tracks.jsonl"
    cmd = [sys.executable, "-m", "mfc", "fuse", str(feed), "--sensors", str(sensors),
           "--tracks-out", str(tracks), "--alerts-out", str(folder / "alerts.jsonl"), "--sample-every", "60"]
    subprocess.run(cmd, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, check=True,
                   capture_output=True)
    return [json.loads(x) for x in tracks.read_text(encoding="utf-8").splitlines() if x.strip()]


def errors_m(lines: list[dict]) -> dict[str, list[float]]:
    """Per target, the distance to the nearest track at each snapshot time."""
    by_time: dict[str, list[dict]] = {}
    for line in lines:
        by_time.setdefault(line["time"], []).append(line)
    out: dict[str, list[float]] = {name: [] for name, _, _ in truth()}
    for _, snap in sorted(by_time.items()):
        for name, lat, lon in truth():
            out[name].append(min(GEOD.inv(lon, lat, t["lon"], t["lat"])[2] for t in snap))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent,
                   help="checkout whose `mfc fuse` is measured (default: this one)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        feed, sensors = write_feed(folder)
        errs = errors_m(fuse(args.repo.resolve(), folder, feed, sensors))
    print(f"radar at {RADAR_LAT}N {RADAR_LON}E, noise-free plots every {SCAN_S} s for {DURATION_S} s; "
          f"checkout {args.repo}")
    print(f"{'target':<10} {'snapshots':>9} {'last error m':>13} {'max error m':>12}")
    for name, e in errs.items():
        print(f"{name:<10} {len(e):>9} {e[-1]:>13.1f} {max(e):>12.1f}" if e else f"{name:<10} no track")
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in errs.items()}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
