"""``mfc fuse`` end to end against bare pyais, in the same run (``python -m bench --suite pyais``).

For each feed: (a) pyais alone on its AIS lines — ``pyais.stream.IterMessages`` (pyais's own
multi-fragment assembly; it skips what it cannot parse), each message ``decode()``d, position
reports (types 1, 2, 3, 18, 19, 27) counted — given each line from its tag block or sentence
on (pyais does not read a leading ISO timestamp); (b) ``mfc fuse`` as a user runs it: one
process (``python -m mfc fuse``, interpreter start and imports included) on the same
AIS lines (plus the radar of ``sample_feeds/scs``), writing tracks and alerts to a temporary
directory.  The ratio is our observations per second of wall clock ÷ pyais's lines per second:
what the whole centre (validation, time, fusion, rules, output) costs against the decoding floor.
Both in wall clock and in CPU seconds (the machine is shared: CPU time is the steadier figure);
``net of start-up`` takes the CPU of ``mfc fuse --help`` (interpreter and imports) off ours.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCS = ROOT / "sample_feeds" / "scs"
REAL = ROOT / "tests" / "data" / "real" / "risky_exact_earth_3.nmea"  # the largest real capture (7,672 lines)
POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 27})
_SUMMARY = re.compile(r"mfc fuse: (\d+) observations")


def pyais_bare(ais_path: Path) -> tuple[int, int, float, float]:
    """(AIS lines, position reports decoded, wall seconds, CPU seconds) for pyais alone."""
    from pyais.stream import IterMessages
    raw = ais_path.read_bytes().splitlines()
    lines = []
    for line in raw:
        starts = [i for i in (line.find(b"\\"), line.find(b"!"), line.find(b"$")) if i >= 0]
        if starts:
            lines.append(line[min(starts):])
    t0, c0 = time.perf_counter(), time.process_time()
    positions = 0
    for message in IterMessages(lines):
        try:
            decoded = message.decode()
        except Exception:  # noqa: BLE001 - pyais refuses it: not a position report it can count
            continue
        if decoded.msg_type in POSITION_TYPES:
            positions += 1
    return len(raw), positions, time.perf_counter() - t0, time.process_time() - c0


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def mfc_fuse(paths: list[Path], sensors: Path | None) -> tuple[int, float, float]:
    """(observations, wall seconds of the whole process, its CPU seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mfc", "fuse", *map(str, paths),
               "--tracks-out", f"{tmp}/t.jsonl", "--alerts-out", f"{tmp}/a.jsonl"]
        if sensors is not None:
            cmd += ["--sensors", str(sensors)]
        t0, c0 = time.perf_counter(), _children_cpu_s()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        wall, cpu = time.perf_counter() - t0, _children_cpu_s() - c0
    match = _SUMMARY.search(done.stderr)
    if match is None:
        raise RuntimeError(f"no summary from mfc fuse: {done.stderr[-500:]}")
    return int(match[1]), wall, cpu


def startup_s() -> tuple[float, float]:
    """(wall, CPU) seconds of ``mfc fuse --help``: interpreter start and the CLI's imports."""
    t0, c0 = time.perf_counter(), _children_cpu_s()
    subprocess.run([sys.executable, "-m", "mfc", "fuse", "--help"], cwd=ROOT, capture_output=True,
                   check=True)
    return time.perf_counter() - t0, _children_cpu_s() - c0


def suite(repeat: int = 1) -> list[dict]:
    feeds = [("sample_feeds/scs (AIS + 3 radars)", SCS / "ais.nmea", [SCS / "ais.nmea", SCS / "radar.jsonl"],
              SCS / "sensors.json"),
             (f"tests/data/real/{REAL.name}", REAL, [REAL], None)]
    rows = []
    wall0, cpu0 = min(startup_s() for _ in range(repeat))
    print(f"\nmfc fuse end to end against bare pyais (best of {repeat}; ratio = our obs/s ÷ pyais lines/s, "
          f"wall clock and CPU; start-up of `mfc fuse --help`: {wall0:.2f} s wall, {cpu0:.2f} s CPU)")
    print(f"{'feed':44s} {'AIS lines':>9s} {'pyais pos':>9s} {'pyais l/s':>10s} {'fuse obs':>9s} "
          f"{'fuse s':>7s} {'obs/s':>7s} {'ratio':>6s} {'CPU s':>6s} {'obs/CPU s':>9s} {'pyais l/CPU s':>13s} "
          f"{'CPU ratio':>9s} {'net of start-up':>15s}")
    for name, ais, paths, sensors in feeds:
        lines, positions, t_pyais, c_pyais = min((pyais_bare(ais) for _ in range(repeat)), key=lambda r: r[3])
        obs, wall, cpu = min((mfc_fuse(paths, sensors) for _ in range(repeat)), key=lambda r: r[2])
        row = {"feed": name, "ais_lines": lines, "pyais_positions": positions,
               "pyais_lines_per_s": lines / t_pyais, "pyais_lines_per_cpu_s": lines / c_pyais,
               "fuse_obs": obs, "fuse_wall_s": wall, "fuse_cpu_s": cpu, "fuse_obs_per_s": obs / wall,
               "fuse_obs_per_cpu_s": obs / cpu, "ratio": (obs / wall) / (lines / t_pyais),
               "cpu_ratio": (obs / cpu) / (lines / c_pyais),
               "net_cpu_ratio": (obs / max(cpu - cpu0, 1e-9)) / (lines / c_pyais)}
        rows.append(row)
        print(f"{name:44s} {lines:9d} {positions:9d} {row['pyais_lines_per_s']:10,.0f} {obs:9d} {wall:7.2f} "
              f"{row['fuse_obs_per_s']:7,.0f} {row['ratio']:6.3f} {cpu:6.2f} {row['fuse_obs_per_cpu_s']:9,.0f} "
              f"{row['pyais_lines_per_cpu_s']:13,.0f} {row['cpu_ratio']:9.3f} {row['net_cpu_ratio']:15.3f}", flush=True)
    return rows


if __name__ == "__main__":
    suite()
