"""Every built-in scenario through the product as a user runs it: ``mfc simulate`` → ``mfc fuse``
(default settings, track samples every 60 s) → ``mfc score``; one table row per scenario.

    python -m bench.exercises [--only NAME,...] [--hours H] [--keep DIR]

Each command is a separate process; times are wall clock on this machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from services.scenario.simulate import builtin_names, load

MFC = [sys.executable, "-m", "mfc"]


def run(*args) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([*MFC, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"mfc {' '.join(map(str, args))} failed:\n{r.stderr}")
    return time.perf_counter() - t0


def one(name: str, root: Path, hours: float | None) -> dict:
    d = root / name
    extra = ["--hours", str(hours)] if hours else []
    t_sim = run("simulate", name, "--out", d, "--quiet", *extra)
    t_fuse = run("fuse", d / "ais.nmea", d / "radar.jsonl", "--sensors", d / "sensors.json",
                 "--tracks-out", d / "tracks.jsonl", "--alerts-out", d / "alerts.jsonl", "--sample-every", "60")
    t_score = run("score", d, "--tracks", d / "tracks.jsonl", "--alerts", d / "alerts.jsonl",
                  "--json", d / "score.json", "--plot", d / "score.html")
    s = json.loads((d / "score.json").read_text())
    info = json.loads((d / "scenario.json").read_text())
    return {"name": name, "info": info, "score": s, "t_sim": t_sim, "t_fuse": t_fuse, "t_score": t_score}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma list of scenario names (default: all built-in)")
    ap.add_argument("--hours", type=float, help="override every scenario's length")
    ap.add_argument("--keep", help="keep the feeds, tracks, alerts and score pages here")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or builtin_names()
    for n in names:
        load(n)  # fail early on a wrong name
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mfc-exercises-"))
    rows = [one(n, root, args.hours) for n in names]
    print("\n| scenario | h | vessels | AIS lines | plots | GOSPA | missed/sample | false/sample | RMS error | "
          "right MMSI | dark held | cases found | alerts | precision | near-misses fired | "
          "false alarms /1,000 vh | simulate s | fuse s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        i, s = r["info"], r["score"]
        tr, al = s["tracking"] or {}, s["alerts"]
        fired = sum(t["near_misses_fired"] for t in al["types"].values())
        near = sum(t["near_misses"] for t in al["types"].values())
        dark = tr.get("dark", {})
        dark_s = f"{dark['vessels_held']}/{dark['vessels']}" if dark.get("vessels") else "—"
        fa = al["false_alarms_per_1000_vessel_hours"]
        print(f"| {r['name']} | {i['scenario']['hours']:g} | {i['vessels']} | {i['ais_lines']:,} | {i['radar_plots']:,} | "
              f"{tr.get('gospa', float('nan')):,.0f} | {tr.get('missed_per_frame', float('nan')):.2f} "
              f"({tr.get('missed_in_cover_per_frame', float('nan')):.2f}) | "
              f"{tr.get('false_per_frame', float('nan')):.2f} | {tr.get('rms_error_m', float('nan')):.0f} m | "
              f"{_pct(tr.get('identity', {}).get('correct'))} | {dark_s} | {al['found']}/{al['positive_cases']} | "
              f"{al['raised']} | {_pct(al['precision'])} | {fired}/{near} | "
              f"{'—' if fa is None else f'{fa:.1f}'} | {r['t_sim']:.0f} | {r['t_fuse']:.0f} |")
    print(f"\nfiles: {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
