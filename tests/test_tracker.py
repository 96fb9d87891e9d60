"""Tracker behaviour a watch officer would notice: one track per vessel, right identity,
no tracks from clutter, tracks that survive a silent AIS and go away when nothing sees them."""

import random

from fusion.geodesy import distance_m
from fusion.model import Sensor
from fusion.tracker import Tracker

from .builders import T0, make_ais, make_plot, position, radar, vessel_ais, vessel_plots

SENSORS = {"R1": radar()}


def run(observations, tracker=None):
    tracker = tracker or Tracker(SENSORS)
    observations = sorted(observations, key=lambda o: o.time_s)
    lines = tracker.update(observations) + tracker.flush()
    return tracker, lines


def live(tracker, t):
    return tracker.snapshot(t)


def test_radar_only_vessel_becomes_one_confirmed_radar_track_with_right_motion():
    rng = random.Random(3)
    plots = vessel_plots(rng, 10.10, 114.10, sog_kn=12.0, cog_deg=60.0, scans=60)
    tracker, _ = run(plots)
    t_end = plots[-1].time_s
    (track,) = live(tracker, t_end)
    truth = position(10.10, 114.10, 12.0, 60.0, t_end - T0)
    assert track.sources == ("radar",) and track.mmsi is None and track.status == "confirmed"
    assert distance_m(track.lat, track.lon, *truth) < 60
    assert abs(track.sog_kn - 12.0) < 2.5
    assert abs((track.cog_deg - 60.0 + 180) % 360 - 180) < 10


def test_confirmation_needs_m_of_n_scans():
    rng = random.Random(4)
    plots = vessel_plots(rng, 10.1, 114.1, 10.0, 0.0, scans=2)
    tracker, lines = run(plots)
    assert lines == [] and live(tracker, plots[-1].time_s) == []
    plots = vessel_plots(rng, 10.1, 114.1, 10.0, 0.0, scans=3)
    tracker, lines = run(plots)
    assert len(live(tracker, plots[-1].time_s)) == 1


def test_clutter_alone_makes_no_confirmed_tracks():
    rng = random.Random(5)
    clutter = [make_plot(T0 + 6 * k + rng.random(), 10 + rng.uniform(-0.4, 0.4), 114 + rng.uniform(-0.4, 0.4))
               for k in range(200) for _ in range(3)]
    tracker, lines = run(clutter)
    assert live(tracker, clutter[-1].time_s) == []


def test_crossing_radar_vessels_keep_their_own_tracks():
    rng = random.Random(6)
    # two vessels whose courses cross at (10.2, 114.2) at the same moment
    a0 = position(10.2, 114.2, 14.0, 90.0, -300)
    b0 = position(10.2, 114.2, 14.0, 0.0, -300)
    plots = (vessel_plots(rng, *a0, 14.0, 90.0, scans=100, sigma_m=30)
             + vessel_plots(rng, *b0, 14.0, 0.0, scans=100, sigma_m=30))
    tracker, _ = run(plots)
    t_end = plots[-1].time_s
    tracks = live(tracker, t_end)
    assert len(tracks) == 2
    for cog in (90.0, 0.0):
        truth = position(10.2, 114.2, 14.0, cog, t_end - T0 - 300)
        nearest = min(tracks, key=lambda tr: distance_m(tr.lat, tr.lon, *truth))
        assert distance_m(nearest.lat, nearest.lon, *truth) < 100
        assert abs((nearest.cog_deg - cog + 180) % 360 - 180) < 15


def test_ais_reports_join_their_mmsi_track_with_flag_and_name():
    reports = vessel_ais(548123456, 10.0, 114.0, 11.0, 45.0, reports=30)
    static = make_ais(548123456, T0 + 5, None, None)
    static.kind, static.name, static.ship_type = "ais_static", "LADY M", 70
    tracker, lines = run(reports + [static])
    (track,) = live(tracker, reports[-1].time_s)
    assert track.mmsi == 548123456 and track.flag == "PH"
    assert track.name == "LADY M" and track.ship_type == 70
    assert track.sources == ("ais",)
    assert {line.track_id for line in lines} == {track.track_id}


def test_same_report_heard_by_two_stations_is_used_once():
    reports = vessel_ais(548000001, 10.0, 114.0, 11.0, 45.0, reports=10)
    echoes = [make_ais(r.mmsi, r.time_s, r.lat, r.lon, r.sog_kn, r.cog_deg) for r in reports]
    tracker, lines = run(reports + echoes)
    assert len(lines) == 10  # one per report: published from the first, echoes add none
    assert len(live(tracker, reports[-1].time_s)) == 1


def test_ais_and_radar_of_one_vessel_make_one_fused_track():
    rng = random.Random(7)
    reports = vessel_ais(574000123, 10.2, 114.2, 12.0, 120.0, reports=60)
    plots = vessel_plots(rng, 10.2, 114.2, 12.0, 120.0, scans=100, t0=T0 + 1)
    tracker, _ = run(reports + plots)
    (track,) = live(tracker, plots[-1].time_s)
    assert track.mmsi == 574000123 and track.sources == ("ais", "radar")


def test_radar_track_started_first_is_adopted_when_ais_arrives():
    rng = random.Random(8)
    plots = vessel_plots(rng, 10.2, 114.2, 12.0, 120.0, scans=100)
    late_ais = [r for r in vessel_ais(533000777, 10.2, 114.2, 12.0, 120.0, reports=60) if r.time_s > T0 + 200]
    tracker, _ = run(plots + late_ais)
    (track,) = live(tracker, plots[-1].time_s)
    assert track.mmsi == 533000777 and track.flag == "MY" and set(track.sources) == {"ais", "radar"}


def test_vessel_going_ais_silent_keeps_identity_on_radar():
    rng = random.Random(9)
    reports = [r for r in vessel_ais(548000002, 10.2, 114.2, 10.0, 200.0, reports=200) if r.time_s < T0 + 300]
    plots = vessel_plots(rng, 10.2, 114.2, 10.0, 200.0, scans=400, t0=T0 + 1)  # 40 minutes of radar
    tracker, _ = run(reports + plots)
    t_end = plots[-1].time_s
    (track,) = live(tracker, t_end)
    assert track.mmsi == 548000002 and track.sources == ("radar",) and track.status == "confirmed"
    assert distance_m(track.lat, track.lon, *position(10.2, 114.2, 10.0, 200.0, t_end - T0)) < 100


def test_ais_fix_that_cannot_be_the_same_vessel_opens_a_second_track():
    first = vessel_ais(412000001, 10.0, 114.0, 10.0, 0.0, reports=5)
    far = vessel_ais(412000001, 12.0, 116.0, 10.0, 0.0, reports=5, t0=T0 + 2)  # ~300 km away
    tracker, _ = run(first + far)
    tracks = live(tracker, T0 + 50)
    assert len(tracks) == 2 and {t.mmsi for t in tracks} == {412000001}


def test_silent_tracks_coast_then_are_published_lost_and_dropped():
    rng = random.Random(10)
    plots = vessel_plots(rng, 10.1, 114.1, 8.0, 30.0, scans=20)
    tracker, lines = run(plots)
    t_end = plots[-1].time_s
    coasting = tracker.advance(t_end + 40)
    assert [line.status for line in coasting] == ["coasting"]
    assert [t.status for t in live(tracker, t_end + 40)] == ["coasting"]
    assert [line.status for line in tracker.advance(t_end + 600)] == ["lost"]
    assert live(tracker, t_end + 600) == []


def test_same_input_gives_same_output():
    rng = random.Random(11)
    obs = vessel_plots(rng, 10.1, 114.1, 8.0, 30.0, scans=50) + vessel_ais(548000003, 10.3, 114.3, 9, 10, 40)
    _, a = run(obs)
    _, b = run(obs)
    assert [x.to_dict() for x in a] == [y.to_dict() for y in b]


def test_static_report_after_positions_publishes_the_name_at_once():
    reports = vessel_ais(548123457, 10.0, 114.0, 11.0, 45.0, reports=5)
    tracker, _ = run(reports)
    (track,) = tracker.tracks.values()
    t_state = track.time_s
    static = make_ais(548123457, reports[-1].time_s + 5, None, None)
    static.kind, static.name, static.ship_type = "ais_static", "LADY M", 70
    (line,) = tracker.update([static])
    assert line.track_id == track.track_id and line.status == "confirmed"
    assert line.name == "LADY M" and line.ship_type == 70 and line.mmsi == 548123457
    assert line.time_s == t_state == track.time_s  # the track's own time, never back in time
    assert (line.lat, line.lon) == (track.lat, track.lon)
    again = make_ais(548123457, reports[-1].time_s + 10, None, None)
    again.kind, again.name, again.ship_type = "ais_static", "LADY M", 70
    assert tracker.update([again]) == []  # nothing changed: no line
    renamed = make_ais(548123457, reports[-1].time_s + 15, None, None)
    renamed.kind, renamed.name = "ais_static", "LADY N"
    (line,) = tracker.update([renamed])
    assert line.name == "LADY N" and line.ship_type == 70


def test_static_report_for_a_tentative_track_publishes_nothing():
    # a first report far beyond its receiver's range waits for a second one (tentative)
    first = vessel_ais(548123458, 10.0, 114.0, 11.0, 45.0, reports=1)
    far_receiver = Sensor("AIS1", "ais", 1.0, 104.0, range_m=40_000)
    tracker, _ = run(first, Tracker({**SENSORS, "AIS1": far_receiver}))
    assert tracker.snapshot(T0) == []
    static = make_ais(548123458, T0 + 5, None, None)
    static.kind, static.name = "ais_static", "LADY T"
    assert tracker.update([static]) == []
    (track,) = tracker.tracks.values()
    assert track.name == "LADY T"
