"""`mfc simulate` on a larger day, as a user runs it: it keeps reports as compact arrays (not one
object each), so memory stays bounded, and its progress line says how far each long stage is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MFC = [sys.executable, "-m", "mfc"]
_MEASURE = ("import os, subprocess, sys\n"
            "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
            "_, status, usage = os.wait4(p.pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n")


@pytest.mark.slow
def test_a_6_hour_1000_vessel_day_fits_in_450_mb_and_shows_progress(tmp_path):
    # 1,245 vessels, 559,050 AIS lines, 238,225 radar plots, 450,000 truth lines.  Peak resident
    # memory 634 MB when every report was an Observation (and truth held as lines); 325 MB since
    # (2026-12-07).  The 24-hour 5,000-vessel day: 8.2 GB → 1.7 GB (docs/benchmarks.md).
    # Linux carries a process's peak RSS over fork and exec: a child of this (large) test process
    # would report at least this process's size.  A small, fresh Python starts it instead and
    # reports its child's peak (kilobytes).
    err = tmp_path / "stderr.txt"
    with err.open("w") as f:
        r = subprocess.run([sys.executable, "-c", _MEASURE, *MFC, "simulate", "quiet-day", "--vessels", "1000",
                            "--hours", "6", "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=f,
                           text=True, timeout=900)
    text = err.read_text()
    code, maxrss_kb = map(int, r.stdout.split())
    assert r.returncode == 0 and code == 0, text
    peak_mb = maxrss_kb / 1024
    assert peak_mb < 450, f"peak resident memory {peak_mb:.0f} MB"
    # the long stages say how far they are, not only that they started
    for stage in ("AIS reports: ", " / 1,245 vessels", "ais.nmea ", "% of the feed time", "truth.jsonl "):
        assert stage in text, (stage, text[-2000:])
    assert "559,050 AIS lines" in text.splitlines()[-1]
