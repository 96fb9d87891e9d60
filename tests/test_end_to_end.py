"""`mfc fuse` on a freshly generated scenario, judged against its ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from fusion.geodesy import distance_m
from sample_feeds.generate import generate

START = "2026-11-24T08:00:00Z"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario")
    generate(out, vessels=40, minutes=20, seed=3, start=START)
    return out


def run_fuse(scenario: Path, out: Path, *extra: str) -> tuple[Path, Path]:
    tracks, alerts = out / "tracks.jsonl", out / "alerts.jsonl"
    cmd = [sys.executable, "-m", "mfc", "fuse", str(scenario / "ais.nmea"), str(scenario / "radar.jsonl"),
           "--sensors", str(scenario / "sensors.json"), "--tracks-out", str(tracks), "--alerts-out", str(alerts),
           *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return tracks, alerts


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truth_at(scenario: Path) -> dict[str, dict[str, dict]]:
    by_time: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in read_jsonl(scenario / "truth.jsonl"):
        by_time[row["time"]][row["vessel"]] = row
    return by_time


def in_range(row: dict, sensors: list[dict], kind: str, share: float = 1.0) -> bool:
    return any(distance_m(row["lat"], row["lon"], s["lat"], s["lon"]) <= share * s["range_m"]
               for s in sensors if s["kind"] == kind)


def test_every_covered_vessel_has_one_right_track(scenario, tmp_path):
    tracks_path, _ = run_fuse(scenario, tmp_path, "--sample-every", "60")
    samples = read_jsonl(tracks_path)
    truth_times = truth_at(scenario)
    final_time = max(s["time"] for s in samples if s["time"] in truth_times)
    final = [s for s in samples if s["time"] == final_time]
    truth = truth_times[final_time]
    sensors = json.loads((scenario / "sensors.json").read_text())["sensors"]

    ais_checked = dark_checked = 0
    for vessel, row in truth.items():
        if row["ais"] and in_range(row, sensors, "ais", 0.9):
            ais_checked += 1
            mine = [t for t in final if t["mmsi"] == row["mmsi"]]
            assert len(mine) == 1, f"{vessel} (MMSI {row['mmsi']}) has {len(mine)} tracks"
            assert distance_m(mine[0]["lat"], mine[0]["lon"], row["lat"], row["lon"]) < 1000
        elif not row["ais"] and in_range(row, sensors, "radar", 0.8):
            dark_checked += 1
            near = [t for t in final if distance_m(t["lat"], t["lon"], row["lat"], row["lon"]) < 500]
            assert any(t["mmsi"] is None and t["sources"] == ["radar"] for t in near), \
                f"dark vessel {vessel} has no radar-only track near it"
    assert ais_checked >= 10 and dark_checked >= 1

    # radar-only tracks are real vessels, not clutter
    vessels = list(truth.values())
    false_tracks = [t for t in final if t["mmsi"] is None and
                    min(distance_m(t["lat"], t["lon"], v["lat"], v["lon"]) for v in vessels) > 1000]
    assert len(false_tracks) <= 1, false_tracks
    assert all(t["status"] in ("confirmed", "coasting") for t in final)


def test_fuse_is_deterministic(scenario, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, _ = run_fuse(scenario, tmp_path / "a")
    b, _ = run_fuse(scenario, tmp_path / "b")
    assert a.read_bytes() == b.read_bytes() and a.stat().st_size > 0
