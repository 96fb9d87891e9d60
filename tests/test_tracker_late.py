"""Late and out-of-order data: satellite AIS minutes late, echoes, data beyond the late
window, and shuffled input, none of which may drag tracks back or split them."""

import pickle
import random

from fusion.config import TrackerConfig
from fusion.geodesy import distance_m
from fusion.tracker import Tracker

from .builders import T0, make_ais, position, radar, vessel_ais, vessel_plots

SENSORS = {"R1": radar()}


def feed(tracker, observations):
    lines = []
    for obs in observations:
        lines += tracker.update([obs])
    return lines + tracker.flush()


def test_satellite_ais_five_minutes_late_does_not_move_track_back_nor_duplicate():
    reports = vessel_ais(548123001, 10.0, 114.0, 12.0, 80.0, reports=120)  # 20 minutes, every 10 s
    tracker = Tracker(SENSORS)
    feed(tracker, reports)
    (track,) = tracker.tracks.values()
    t_before, lat_before, lon_before = track.time_s, track.lat, track.lon
    # the same vessel as a satellite heard it 5 minutes ago (another receiver: its own fix)
    t_late = reports[-1].time_s - 300
    lat, lon = position(10.0, 114.0, 12.0, 80.0, t_late - T0)
    late = make_ais(548123001, t_late, lat + 0.0001, lon, sog_kn=12.0, cog_deg=80.0)
    late.sensor_id = "SAT-1"
    lines = tracker.update([late])
    assert [line.track_id for line in lines] == [track.track_id]
    assert lines[0].time_s == t_before  # published at the track's own time, not the fix's
    assert track.time_s == t_before and len(tracker.tracks) == 1
    assert distance_m(track.lat, track.lon, lat_before, lon_before) < 5  # a 5-minute-old fix barely moves it
    assert tracker.stats["out_of_sequence"] == 1
    truth = position(10.0, 114.0, 12.0, 80.0, t_before - T0)
    assert distance_m(track.lat, track.lon, *truth) < 30


def test_late_echo_of_a_recent_report_already_used_is_ignored():
    reports = vessel_ais(548123002, 10.0, 114.0, 12.0, 80.0, reports=60)
    tracker = Tracker(SENSORS)
    feed(tracker, reports)
    echo = make_ais(548123002, reports[-12].time_s, reports[-12].lat, reports[-12].lon, 12.0, 80.0)
    assert tracker.update([echo]) == []
    assert tracker.stats["echoes"] == 1 and tracker.stats["out_of_sequence"] == 0


def test_data_older_than_the_late_window_moves_nothing_live_but_is_kept():
    reports = vessel_ais(548123003, 10.0, 114.0, 12.0, 80.0, reports=120)
    tracker = Tracker(SENSORS, TrackerConfig(late_window_s=600))
    feed(tracker, reports)
    (track,) = tracker.tracks.values()
    state = (track.time_s, track.lat, track.lon, track.ve, track.vn)
    old = reports[-1].time_s - 900
    old_lat, old_lon = position(10.0, 114.0, 12.0, 80.0, old - T0)
    stale = make_ais(548123003, old, old_lat, old_lon, 12.0, 80.0)
    stale.sensor_id = "SAT-1"
    stale_other = make_ais(548999999, reports[-1].time_s - 700, 10.3, 114.3, 12.0, 80.0)
    lines = tracker.update([stale, stale_other])
    assert tracker.stats["too_late"] == 2
    # the live picture does not move ...
    assert (track.time_s, track.lat, track.lon, track.ve, track.vn) == state
    # ... but the old fix is its vessel's history point, at its own time and place, marked late
    (point,) = [ln for ln in lines if ln.track_id == track.track_id]
    assert (point.track_id, point.time_s, point.lat, point.lon) == (track.track_id, old, old_lat, old_lon)
    assert point.late and point.to_dict()["late"] is True and point.sensors == ("SAT-1",)
    assert "late" not in tracker.snapshot(state[0])[0].to_dict()
    # and a vessel nothing newer is known of gets its track from the late report
    (other,) = tracker.by_mmsi[548999999]
    assert other.time_s == reports[-1].time_s - 700 and tracker.stats["late_applied"] == 1
    # ... and is in the picture from that first report (publication policy)
    assert [ln.track_id for ln in lines if ln.track_id != track.track_id] == [other.track_id]


def scenario(rng):
    obs = []
    obs += vessel_ais(548000101, 10.05, 114.05, 12.0, 45.0, reports=90)
    obs += vessel_ais(548000102, 10.15, 113.95, 8.0, 200.0, reports=90, period_s=10.0, t0=T0 + 3)
    obs += vessel_plots(rng, 10.05, 114.05, 12.0, 45.0, scans=150, t0=T0 + 1)      # radar sees both
    obs += vessel_plots(rng, 10.15, 113.95, 8.0, 200.0, scans=150, t0=T0 + 1.5)
    obs += vessel_plots(rng, 9.95, 114.15, 10.0, 300.0, scans=150, t0=T0 + 2)      # and a dark one
    return sorted(obs, key=lambda o: o.time_s)


def test_shuffled_input_within_the_window_gives_the_ordered_picture():
    obs = scenario(random.Random(21))
    ordered = Tracker(SENSORS)
    feed(ordered, obs)
    rng = random.Random(22)
    # AIS up to 2 minutes late (satellite and slow links), radar plots up to one scan
    arrival = sorted(obs, key=lambda o: o.time_s + (rng.uniform(0, 120) if o.kind == "ais_position"
                                                    else rng.uniform(0, 6)))
    shuffled = Tracker(SENSORS)
    lines = feed(shuffled, arrival)
    t_end = obs[-1].time_s
    want = sorted(ordered.snapshot(t_end), key=lambda x: (x.mmsi or 0))
    got = sorted(shuffled.snapshot(t_end), key=lambda x: (x.mmsi or 0))
    assert [x.mmsi for x in got] == [x.mmsi for x in want] == [None, 548000101, 548000102]
    for a, b in zip(got, want):
        assert distance_m(a.lat, a.lon, b.lat, b.lon) < 100
        assert abs(a.sog_kn - b.sog_kn) < 1.5
    assert shuffled.stats["out_of_sequence"] > 0 and shuffled.stats["too_late"] == 0
    # no published line ever goes back in time for its track
    last = {}
    for line in lines:
        assert line.time_s >= last.get(line.track_id, line.time_s)
        last[line.track_id] = line.time_s


def test_pickled_tracker_continues_exactly():
    obs = scenario(random.Random(23))
    whole = Tracker(SENSORS)
    want = [x.to_dict() for x in feed(whole, obs)]
    half = len(obs) // 2
    first = Tracker(SENSORS)
    got = [x.to_dict() for o in obs[:half] for x in first.update([o])]
    second = pickle.loads(pickle.dumps(first))
    got += [x.to_dict() for x in feed(second, obs[half:])]
    assert got == want


def test_a_tracker_saved_before_the_imm_continues_its_radar_tracks():
    """A checkpoint from before the IMM (no model table) restores: its radar tracks keep their
    ids, their models restart from the saved states, and they stay on their vessels."""
    rng = random.Random(5)
    plots = vessel_plots(rng, 10.0, 114.0, 14.0, 60.0, scans=80, sigma_m=40.0)
    old = Tracker(SENSORS, TrackerConfig(motion_model="adaptive"))
    feed(old, plots[:40])
    (before,) = old.tracks
    del old._models  # what a tracker of the earlier version pickled
    restored = pickle.loads(pickle.dumps(old))
    restored.config = TrackerConfig()  # and the new default motion model
    lines = feed(restored, plots[40:])
    assert {line.track_id for line in lines} == {before}
    truth = vessel_plots(random.Random(0), 10.0, 114.0, 14.0, 60.0, scans=80, sigma_m=0.0)[-1]
    (line,) = restored.snapshot(truth.time_s)
    assert distance_m(line.lat, line.lon, truth.lat, truth.lon) < 60.0
