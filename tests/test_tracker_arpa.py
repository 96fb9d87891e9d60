"""ARPA / sensor-level tracked targets (``radar_track``): a target is bound to one fused track
and updates it; the same radar's plots of that vessel never make a second track."""

import pickle
import random

import pytest

from fusion.geodesy import distance_m
from fusion.model import Observation
from fusion.tracker import Tracker

from .builders import T0, noisy, position, radar, vessel_ais, vessel_plots

SENSORS = {"R1": radar(scan_period_s=6.0)}


def arpa_reports(rng, local_id, lat0, lon0, sog_kn, cog_deg, reports, period_s=6.0, t0=T0 + 0.5,
                 sensor_id="R1", sigma_m=25.0):
    out = []
    for k in range(reports):
        lat, lon = position(lat0, lon0, sog_kn, cog_deg, t0 + k * period_s - T0)
        out.append(Observation("radar_track", sensor_id, t0 + k * period_s, *noisy(rng, lat, lon, sigma_m),
                               sigma_m=sigma_m, sog_kn=sog_kn, cog_deg=cog_deg, local_id=local_id))
    return out


def run(observations):
    tracker = Tracker(SENSORS)
    lines = tracker.update(sorted(observations, key=lambda o: o.time_s)) + tracker.flush()
    return tracker, lines


@pytest.mark.parametrize("arpa_from_s", [0.0, 120.0])  # the target reported from the start, or later
def test_vessel_seen_as_plots_and_as_arpa_target_of_the_same_radar_is_one_track(arpa_from_s):
    rng = random.Random(31)
    plots = vessel_plots(rng, 10.1, 114.1, 12.0, 60.0, scans=80)
    targets = [o for o in arpa_reports(rng, "17", 10.1, 114.1, 12.0, 60.0, reports=80) if o.time_s >= T0 + arpa_from_s]
    tracker, lines = run(plots + targets)
    t_end = plots[-1].time_s
    (track,) = tracker.snapshot(t_end)
    assert track.status == "confirmed" and track.sources == ("radar",) and track.mmsi is None
    assert len({line.track_id for line in lines}) == 1
    assert distance_m(track.lat, track.lon, *position(10.1, 114.1, 12.0, 60.0, t_end - T0)) < 60
    assert abs(track.sog_kn - 12.0) < 1.0


def test_two_vessels_each_with_plots_and_arpa_target_are_two_tracks():
    rng = random.Random(32)
    obs = (vessel_plots(rng, 10.1, 114.1, 12.0, 60.0, scans=80)
           + arpa_reports(rng, "1", 10.1, 114.1, 12.0, 60.0, reports=80)
           + vessel_plots(rng, 10.12, 114.1, 9.0, 240.0, scans=80)      # ~2 km north, opposite way
           + arpa_reports(rng, "2", 10.12, 114.1, 9.0, 240.0, reports=80))
    tracker, lines = run(obs)
    t_end = T0 + 79 * 6.0
    tracks = tracker.snapshot(t_end)
    assert len(tracks) == 2 and {t.status for t in tracks} == {"confirmed"}
    assert len({line.track_id for line in lines}) == 2
    for lat0, sog, cog in ((10.1, 12.0, 60.0), (10.12, 9.0, 240.0)):
        truth = position(lat0, 114.1, sog, cog, t_end - T0)
        nearest = min(tracks, key=lambda t: distance_m(t.lat, t.lon, *truth))
        assert distance_m(nearest.lat, nearest.lon, *truth) < 60
        assert abs(nearest.sog_kn - sog) < 1.0


def test_arpa_target_alone_is_a_confirmed_track_at_once_and_keeps_its_binding():
    rng = random.Random(33)
    targets = arpa_reports(rng, "5", 10.1, 114.1, 10.0, 0.0, reports=20)
    tracker = Tracker(SENSORS)
    first = tracker.update(targets[:1])
    assert [line.status for line in first] == ["confirmed"]
    lines = first + tracker.update(targets[1:])
    assert len({line.track_id for line in lines}) == 1 and len(lines) == 20
    # pickled mid-way, the binding survives
    again = pickle.loads(pickle.dumps(tracker))
    more = arpa_reports(rng, "5", 10.1, 114.1, 10.0, 0.0, reports=5, t0=targets[-1].time_s + 6.0)
    assert {line.track_id for line in again.update(more)} == {lines[0].track_id}


def test_arpa_target_and_ais_of_the_same_vessel_fuse_into_the_identified_track():
    rng = random.Random(34)
    obs = (vessel_ais(548000201, 10.1, 114.1, 12.0, 60.0, reports=48)
           + vessel_plots(rng, 10.1, 114.1, 12.0, 60.0, scans=80, t0=T0 + 1)
           + arpa_reports(rng, "9", 10.1, 114.1, 12.0, 60.0, reports=80, t0=T0 + 2))
    tracker, _ = run(obs)
    (track,) = tracker.snapshot(T0 + 79 * 6.0 + 1)
    assert track.mmsi == 548000201 and set(track.sources) == {"ais", "radar"}


def test_reused_target_id_far_away_binds_afresh():
    rng = random.Random(35)
    a = arpa_reports(rng, "3", 10.1, 114.1, 10.0, 0.0, reports=10)
    b = arpa_reports(rng, "3", 10.3, 114.3, 10.0, 0.0, reports=10, t0=a[-1].time_s + 6.0)  # ~30 km away
    tracker, lines = run(a + b)
    assert len({line.track_id for line in lines}) == 2
