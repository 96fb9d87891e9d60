"""The textbook scene of issue 13, small: ``mfc fuse`` (the whole process, default settings)
against Stone Soup's standard pipeline run on the same plots in the same test.

Shortened (1.5 minutes of 3 s scans) and, for the dense scene, the same vessel and clutter
densities as 1,000 vessels and 50 clutter plots in a 20 km box on a 10 km box (250 vessels,
12.5 clutter plots a scan).  The reference is Stone Soup's GOSPA on the same plots, so a
change that makes the product track worse than a textbook tracker fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bench import ours_runner, stonesoup_runner
from bench.metrics import mean_gospa
from bench.scenarios import T0, textbook_scenario

pytestmark = pytest.mark.slow
SEEDS = (1, 2)
SCANS = 30
# measured when written (40 scans): quiet 0.99 and 1.00 of Stone Soup's GOSPA, dense 1.03 and
# 1.06 with 2.2 times its false tracks; issue 13's target for both is 1.0
QUIET_BOUND = 1.10
DENSE_BOUND = 1.10


def _pair(n_vessels: int, box_m: float, clutter: float, seed: int):
    sc = textbook_scenario(n_vessels, box_m, SCANS, seed, clutter_per_scan=clutter)
    stone = stonesoup_runner.run(sc, burn_in=0, tracker=stonesoup_runner.standard(sc.sigma_m))
    ours = ours_runner.run_fuse(sc)
    return stone, ours


@pytest.fixture(scope="module")
def quiet():
    return [_pair(200, 200_000.0, 50.0, seed) for seed in SEEDS]


@pytest.fixture(scope="module")
def dense():
    return [_pair(250, 10_000.0, 12.5, seed) for seed in SEEDS]


def _means(pairs):
    stone = np.mean([s.mean.total for s, _ in pairs])
    ours = np.mean([o.mean.total for _, o in pairs])
    return stone, ours


def test_quiet_ships_gospa_within_ten_percent_of_stone_soup(quiet):
    stone, ours = _means(quiet)
    assert ours <= QUIET_BOUND * stone, (ours, stone)


def test_quiet_ships_no_more_false_tracks_or_missed_vessels_than_stone_soup(quiet):
    for stone, ours in quiet:
        assert ours.mean.n_false <= stone.mean.n_false + 0.05
        assert ours.mean.n_missed <= stone.mean.n_missed * 1.10 + 0.5


def test_dense_box_gospa_within_ten_percent_of_stone_soup(dense):
    stone, ours = _means(dense)
    assert ours <= DENSE_BOUND * stone, (ours, stone)


def test_dense_box_no_more_false_tracks_than_stone_soup(dense):
    assert np.mean([o.mean.n_false for _, o in dense]) <= np.mean([s.mean.n_false for s, _ in dense])


def test_sample_closed_snapshots_follow_each_scan(tmp_path):
    """``--sample-every P --sample-closed``: one snapshot per scan, at the scan's own time,
    holding the vessel the scan just updated (an anchored target, noise-free plots)."""
    sc = textbook_scenario(1, 1_000.0, 12, seed=3, pd=1.0, clutter_per_scan=0.0, q_m2_s3=1e-12,
                           speed_kn=(0.0, 0.0), sigma_m=0.001)
    feed, sensors = ours_runner.write_feed(sc, tmp_path)
    out = tmp_path / "t.jsonl"
    subprocess.run([sys.executable, "-m", "mfc", "fuse", str(feed), "--sensors", str(sensors),
                    "--tracks-out", str(out), "--alerts-out", str(tmp_path / "a.jsonl"),
                    "--sample-every", "3", "--sample-closed"], check=True, capture_output=True,
                   cwd=ours_runner.ROOT)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    from datetime import datetime
    times = [datetime.fromisoformat(d["time"]).timestamp() - T0 for d in lines]
    # confirmed at the third scan (3 hits), then one line per scan, at the scan's time
    assert times == [3.0 * k for k in range(2, 12)]
    lat, lon = sc.scans[0].latlon[0]
    assert all(abs(d["lat"] - lat) < 1e-6 and abs(d["lon"] - lon) < 1e-6 for d in lines)
