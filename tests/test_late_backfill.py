"""Late data kept: a backfill or satellite feed older than the live window still builds its
vessels' tracks and history, and the rules that look back (loitering, rendezvous) see it."""

from __future__ import annotations

from fusion.geodesy import distance_m
from fusion.model import Sensor
from fusion.pipeline import Fusion
from tests.builders import position, vessel_ais
from tests.rules_builders import T0, ais, east_of, geography, move, of_type

RECEIVER = {"AIS-A": Sensor("AIS-A", "ais", 10.5, 115.0, range_m=150_000.0)}
HOUR_S = 3600.0


def _fleet(n: int, t0: float, duration_s: float, every_s: float = 30.0) -> dict[int, list]:
    """n vessels steaming on steady courses, each reporting every ``every_s``."""
    fleet = {}
    for k in range(n):
        mmsi = 533_100_000 + k
        reports = vessel_ais(mmsi, 10.2 + 0.02 * k, 114.6 + 0.03 * k, 8.0 + k % 5, (37.0 * k) % 360,
                             int(duration_s / every_s) + 1, every_s, t0)
        for r in reports:
            r.sensor_id = "AIS-A"
        fleet[mmsi] = reports
    return fleet


def _deliver(fusion: Fusion, observations: list, now_s: float, batch: int = 500) -> tuple[list, list]:
    """Hand a recorded feed to a live fusion in batches, the wall clock ticking between them."""
    lines, alerts = [], []
    observations = sorted(observations, key=lambda o: o.time_s)
    for k in range(0, len(observations), batch):
        more_lines, more_alerts = fusion.update(observations[k:k + batch])
        tick_lines, tick_alerts = fusion.advance(now_s + k / batch)
        lines += more_lines + tick_lines
        alerts += more_alerts + tick_alerts
    return lines, alerts


def _live(now_s: float) -> Fusion:
    fusion = Fusion(RECEIVER, geography())
    fusion.update([ais(548_000_001, now_s - 20, 10.3, 114.6), ais(548_000_001, now_s, 10.3, 114.601)])
    fusion.advance(now_s)
    return fusion


def test_an_hour_of_recorded_feed_sent_late_builds_one_track_per_vessel_with_its_history():
    t_end = T0 + HOUR_S
    now = t_end + 1200  # the recording arrives 20 minutes after its last line: all of it too late
    fusion = _live(now)
    fleet = _fleet(40, T0, HOUR_S)
    lines, _ = _deliver(fusion, [r for reports in fleet.values() for r in reports], now)
    assert fusion.tracker.stats["too_late"] == sum(len(r) for r in fleet.values())
    for mmsi, reports in fleet.items():
        mine = [x for x in lines if x.mmsi == mmsi and x.status != "lost"]
        assert len({x.track_id for x in mine}) == 1, f"{mmsi}: one vessel, one track"
        times = [x.time_s for x in mine]
        assert times == sorted(times) and times[-1] - times[0] >= HOUR_S - 60  # history holds the hour
        last = reports[-1]
        assert distance_m(mine[-1].lat, mine[-1].lon, last.lat, last.lon) < 50
    # the live vessel is untouched, and every backfilled vessel is in the picture at its last report
    picture = {t.mmsi: t for t in fusion.tracker.tracks.values()}
    assert set(fleet) | {548_000_001} <= set(picture)
    assert all(picture[m].time_s == fleet[m][-1].time_s for m in fleet)


def test_a_late_fed_track_ends_in_its_own_feed_time_not_an_hour_of_dead_reckoning_later():
    t_end = T0 + HOUR_S
    now = t_end + HOUR_S
    fusion = _live(now)
    (reports,) = _fleet(1, T0, HOUR_S).values()
    _deliver(fusion, reports, now)
    (track,) = fusion.tracker.by_mmsi[reports[0].mmsi]
    assert track.status == "confirmed"  # fed a moment ago, although its latest fix is an hour old
    lines, _ = fusion.advance(now + 1800)  # then the backfill stops
    (lost,) = [x for x in lines if x.mmsi == reports[0].mmsi]
    assert lost.status == "lost" and reports[0].mmsi not in fusion.tracker.by_mmsi
    # published where the vessel would be after the silence it really had (≤ 30 min), not 1.5 h on
    assert lost.time_s - t_end <= 1800 + 1
    assert distance_m(lost.lat, lost.lon, *position(reports[0].lat, reports[0].lon, 8.0, 0.0,
                                                     lost.time_s - T0)) < 2000


def test_satellite_reports_update_a_sparse_track_unless_something_newer_is_known():
    now = T0 + 4 * HOUR_S
    fusion = _live(now)
    mmsi = 533_200_001
    # a satellite passes every 20 minutes and its reports arrive 15 minutes after the fact
    passes = [ais(mmsi, T0 + 1200 * k, *move(10.6, 115.2, 10.0, 90.0, 1200 * k), 10.0, 90.0, sensor="SAT-1")
              for k in range(4)]
    for k, report in enumerate(passes):
        lines, _ = fusion.update([report])
        fusion.advance(T0 + 1200 * k + 900 + (now - T0 - 4000))
        assert [(x.time_s, x.late) for x in lines if x.mmsi == mmsi][-1:] in ([], [(report.time_s, False)])
    (track,) = fusion.tracker.by_mmsi[mmsi]
    assert track.time_s == passes[-1].time_s
    # a report older than the track's latest goes into its history only
    old = ais(mmsi, T0 + 600, *move(10.6, 115.2, 10.0, 90.0, 600), 10.0, 90.0, sensor="SAT-2")
    lines, _ = fusion.update([old])
    assert [(x.track_id, x.time_s, x.late) for x in lines] == [(track.track_id, T0 + 600, True)]
    assert track.time_s == passes[-1].time_s


def test_loitering_and_rendezvous_are_found_in_a_backfill_that_arrives_an_hour_late():
    t_end = T0 + 9000
    now = t_end + HOUR_S
    fusion = _live(now)
    recorded = []
    lat, lon = 11.0, 115.5
    for k in range(int(9000 / 60) + 1):
        t = T0 + 60 * k
        recorded.append(ais(533_000_001, t, *move(10.8, 115.3, 0.8, 30.0, 60 * k), 0.8, 30.0))  # loiters
        recorded.append(ais(533_000_010, t, *move(lat, lon, 0.5, 0.0, 60 * k), 0.5, 0.0))  # these two meet
        recorded.append(ais(574_000_011, t, *move(lat, east_of(lat, lon, 200), 0.5, 0.0, 60 * k), 0.5, 0.0))
    _, alerts = _deliver(fusion, recorded, now, batch=200)
    loiter = of_type(alerts, "loitering")
    assert loiter and loiter[0].mmsi == 533_000_001 and T0 + 7200 <= loiter[0].time_s <= T0 + 7200 + 180
    meet = of_type(alerts, "rendezvous")
    assert meet and {meet[0].mmsi, meet[0].evidence["other_mmsi"]} == {533_000_010, 574_000_011}
    assert T0 + 3600 <= meet[0].time_s <= T0 + 3600 + 180


def test_a_vessel_the_radar_holds_takes_its_identity_from_a_satellite_report_twenty_minutes_late():
    import random

    from fusion.config import TrackerConfig
    from fusion.tracker import Tracker
    from tests.builders import make_ais, radar, vessel_plots

    rng = random.Random(8)
    plots = vessel_plots(rng, 10.0, 114.0, 10.0, 60.0, scans=400, period_s=6.0)  # 40 minutes of radar
    tracker = Tracker({"R1": radar()}, TrackerConfig())
    for k in range(0, len(plots), 20):
        tracker.update(plots[k:k + 20])
    (dark,) = tracker.tracks.values()
    assert dark.mmsi is None
    t_fix = plots[-1].time_s - 1200
    fix = make_ais(533_400_001, t_fix, *position(10.0, 114.0, 10.0, 60.0, t_fix - plots[0].time_s), 10.0, 60.0)
    fix.sensor_id = "SAT-1"
    tracker.update([fix])
    assert tracker.stats["too_late"] == 1
    assert list(tracker.tracks.values()) == [dark] and dark.mmsi == 533_400_001  # one track, now identified
