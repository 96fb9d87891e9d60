"""An AIS fix the radar contradicts (far outside the gate of its radar-held track) is recorded
for the rules (``Tracker.take_conflicts``, ``stats["ais_radar_conflicts"]``); TrackLine is unchanged."""

import random

import pytest

from fusion.geodesy import distance_m, from_local
from fusion.tracker import Tracker

from .builders import T0, radar, vessel_ais, vessel_plots

SENSORS = {"R1": radar()}


def feed(obs, step):
    tracker = Tracker(SENSORS)
    obs = sorted(obs, key=lambda o: o.time_s)
    for i in range(0, len(obs), step):
        tracker.update(obs[i:i + step])
    tracker.flush()
    return tracker


@pytest.mark.parametrize("step", [1, 50, 10_000])  # one by one and batched: the same record
def test_ais_position_contradicted_by_radar_is_recorded(step):
    rng = random.Random(51)
    reports = vessel_ais(548000301, 10.1, 114.1, 10.0, 90.0, reports=60)      # 10 min every 10 s
    plots = vessel_plots(rng, 10.1, 114.1, 10.0, 90.0, scans=100, t0=T0 + 1)
    spoof_from = T0 + 400
    for r in reports:
        if r.time_s >= spoof_from:  # GNSS spoofed: AIS puts the vessel 1.5 km north of where it is
            r.lat, r.lon = from_local(r.lat, r.lon, 0.0, 1500.0)
    tracker = feed(reports + plots, step)
    conflicts = tracker.take_conflicts()
    assert conflicts and tracker.stats["ais_radar_conflicts"] == len(conflicts)
    first = conflicts[0]
    assert first.mmsi == 548000301 and first.time_s == spoof_from
    assert 1200 < first.distance_m < 1800 and first.nis > 100
    assert distance_m(first.track_lat, first.track_lon, first.lat, first.lon) == pytest.approx(first.distance_m, rel=0.05)
    assert first.track_id in {t.track_id for t in tracker.tracks.values()} | {first.track_id}
    assert tracker.take_conflicts() == []


def test_agreeing_ais_and_radar_record_no_conflict():
    rng = random.Random(52)
    obs = vessel_ais(548000302, 10.1, 114.1, 14.0, 30.0, reports=60) + vessel_plots(
        rng, 10.1, 114.1, 14.0, 30.0, scans=100, t0=T0 + 1)
    tracker = feed(obs, 1000)
    assert tracker.take_conflicts() == [] and tracker.stats["ais_radar_conflicts"] == 0
