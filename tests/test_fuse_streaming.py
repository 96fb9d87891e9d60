"""``mfc fuse`` streams its feeds: each file put in time order within a window of feed time,
the files merged, memory bounded by the window rather than the feed; a progress line on a
terminal.  The reference for the order is the sample feed itself, whose lines are in time order."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tracemalloc
from itertools import groupby
from pathlib import Path

from services.workers.fuse import Progress, load_observations, stream_observations

ROOT = Path(__file__).resolve().parents[1]
SCS = ROOT / "sample_feeds" / "scs"


def _mfc_fuse(tmp: Path, name: str, *feeds: Path, extra: tuple[str, ...] = ()) -> tuple[bytes, bytes, str]:
    tracks, alerts = tmp / f"{name}.tracks.jsonl", tmp / f"{name}.alerts.jsonl"
    r = subprocess.run([sys.executable, "-m", "mfc", "fuse", *map(str, feeds), "--sensors",
                        str(SCS / "sensors.json"), "--tracks-out", str(tracks), "--alerts-out", str(alerts),
                        "--sample-every", "60", *extra], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return tracks.read_bytes(), alerts.read_bytes(), r.stderr


def _radar_head(n: int) -> list[str]:
    with open(SCS / "radar.jsonl", encoding="utf-8") as fh:
        return [next(fh) for _ in range(n)]


def test_lines_out_of_order_within_the_window_fuse_as_the_ordered_feed(tmp_path):
    """The radar feed's scans shuffled within blocks of four minutes (lines of one time stay in
    their order, as a receiver's buffer would shuffle whole messages) give the same tracks and
    alerts, byte for byte, as the feed in order; a feed whose disorder exceeds ``--reorder-s``
    is still fused whole, its stragglers as late reports."""
    lines = _radar_head(20_000)
    times = [json.loads(ln)["time"] for ln in lines]
    assert times == sorted(times)                       # the reference: the feed in time order
    groups = [list(g) for _, g in groupby(lines, key=lambda ln: json.loads(ln)["time"][:16])]  # per minute
    rng = random.Random(5)
    shuffled = []
    for k in range(0, len(groups), 4):
        block = groups[k:k + 4]
        rng.shuffle(block)
        shuffled += [ln for g in block for ln in g]
    assert shuffled != lines
    ordered_f, shuffled_f = tmp_path / "ordered.jsonl", tmp_path / "shuffled.jsonl"
    ordered_f.write_text("".join(lines))
    shuffled_f.write_text("".join(shuffled))
    want = _mfc_fuse(tmp_path, "ordered", ordered_f)
    got = _mfc_fuse(tmp_path, "shuffled", shuffled_f)
    assert got[:2] == want[:2] and want[0]
    # a window shorter than the disorder: every line is still fused (the count says so)
    short = _mfc_fuse(tmp_path, "short", shuffled_f, extra=("--reorder-s", "30"))
    assert f"mfc fuse: {len(lines)} observations" in short[2] and f"mfc fuse: {len(lines)} observations" in want[2]


def test_files_are_merged_in_time_order_ties_in_file_order():
    rejects: list = []
    merged = list(stream_observations([SCS / "ais.nmea", SCS / "radar.jsonl"], _sensors(), rejects))
    loaded, _ = load_observations([SCS / "ais.nmea", SCS / "radar.jsonl"], _sensors())
    assert [(o.time_s, o.kind, o.mmsi, o.lat, o.lon) for o in merged] == \
        [(o.time_s, o.kind, o.mmsi, o.lat, o.lon) for o in loaded]
    assert len(rejects) == 72                           # the sample's damaged lines, as `mfc fuse` reports


def test_memory_is_bounded_by_the_window_not_the_feed(tmp_path):
    """An hour of radar plots (60,000 lines): loading them all holds every observation; streaming
    with a one-minute window holds about a minute of them."""
    feed = SCS / "radar.jsonl"
    tracemalloc.start()
    loaded, _ = load_observations([feed], _sensors())
    _, peak_loaded = tracemalloc.get_traced_memory()
    n = len(loaded)
    del loaded
    tracemalloc.stop()
    tracemalloc.start()
    count = sum(1 for _ in stream_observations([feed], _sensors(), [], reorder_s=60.0))
    _, peak_streamed = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n > 50_000
    assert peak_streamed < peak_loaded / 10, (peak_streamed, peak_loaded)


def test_progress_line_reports_the_share_read():
    out = io.StringIO()
    bar = Progress([SCS / "radar.jsonl"], out=out)
    it = stream_observations([SCS / "radar.jsonl"], _sensors(), [], reorder_s=60.0, progress=bar)
    for k, obs in enumerate(it, start=1):
        if k == 20_000:
            bar.tick(k, obs.time_s, force=True)
    bar.tick(k, None, force=True)
    bar.close()
    shown = out.getvalue().split("\r")[1:]
    first = float(shown[0].split("%")[0].split(":")[1])
    assert 20.0 < first < 50.0                          # a third of the lines: about a third of the bytes
    assert "100.0 % read" in shown[-1] and f"{k:,} observations" in shown[-1]


def _sensors():
    from ingest.sensors import load_sensors
    return load_sensors(SCS / "sensors.json")


def test_a_bad_sensors_zones_or_output_path_gets_its_reason_not_a_traceback(tmp_path):
    """What a user mistypes or gets wrong is named in one line on stderr, exit status 2."""
    feed = SCS / "radar.jsonl"
    (tmp_path / "sensors.json").write_text('{"sensors": [{"id": 5}]}')
    (tmp_path / "zones.geojson").write_text("{nope")
    out = ("--tracks-out", str(tmp_path / "t.jsonl"), "--alerts-out", str(tmp_path / "a.jsonl"))
    cases = [
        (("--sensors", str(tmp_path / "missing.json"), *out), "cannot read sensors file"),
        (("--sensors", str(tmp_path / "sensors.json"), *out), "sensor #1: field 'id' must be a string"),
        (("--zones", str(tmp_path / "zones.geojson"), *out), "zones.geojson: Expecting property name"),
        (("--tracks-out", str(tmp_path / "no" / "dir" / "t.jsonl"), "--alerts-out", str(tmp_path / "a.jsonl")),
         "No such file or directory"),
    ]
    for args, reason in cases:
        r = subprocess.run([sys.executable, "-m", "mfc", "fuse", str(feed), "--quiet", *args],
                           capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith("mfc fuse: ") and reason in r.stderr, r.stderr
