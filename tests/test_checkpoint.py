"""Fusion state saved mid-feed and reloaded continues exactly as an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion.pipeline import Fusion
from ingest.sensors import load_sensors
from sample_feeds.generate import generate
from services.checkpoint import Checkpoint
from services.fuse import load_observations
from services.geography import build_geography


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    out = tmp_path_factory.mktemp("feed")
    generate(out, vessels=30, minutes=15, seed=11, start="2026-11-24T08:00:00Z")
    sensors = load_sensors(out / "sensors.json")
    observations, _ = load_observations([out / "ais.nmea", out / "radar.jsonl"], sensors)
    return sensors, observations


def run(fusion: Fusion, observations) -> tuple[list, list]:
    lines, alerts = [], []
    for i in range(0, len(observations), 1000):
        got_lines, got_alerts = fusion.update(observations[i:i + 1000])
        lines += [x.to_dict() for x in got_lines]
        alerts += [a.to_dict() for a in got_alerts]
    return lines, alerts


def test_restart_from_checkpoint_equals_uninterrupted_run(feed, tmp_path):
    sensors, observations = feed
    geography = build_geography(sensors)
    whole = run(Fusion(sensors, geography), observations)

    half = len(observations) // 2
    first = Fusion(sensors, geography)
    before = run(first, observations[:half])
    checkpoint = Checkpoint(tmp_path / "fusion.ckpt")
    checkpoint.save(first, {0: half})
    del first
    restored, covered = checkpoint.load()
    after = run(restored, observations[covered[0]:])

    assert before[0] + after[0] == whole[0] and len(whole[0]) > 1000
    assert before[1] + after[1] == whole[1]


def test_checkpoint_of_another_format_is_refused(tmp_path):
    import pickle
    path = tmp_path / "old.ckpt"
    path.write_bytes(pickle.dumps({"format": 0}))
    with pytest.raises(ValueError, match="format"):
        Checkpoint(path).load()
