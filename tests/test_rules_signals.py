"""Rules fed by AIS reports: ais_gap, dark_vessel, speed_jump, identity_clash, on_land,
invalid_identity, distress, gnss_interference."""

from __future__ import annotations

from pyproj import Geod

from fusion.geodesy import KN_TO_MS, M_PER_DEG_LAT
from fusion.rules.identity import mmsi_problem
from tests.rules_builders import (
    T0, ais, east_of, engine, first_open, geography, latest, line, move, of_type, run, voyage,
)

PH = 548_000_001   # Philippines
SG = 563_000_002   # Singapore
VN = 574_000_003   # Viet Nam


# ------------------------------------------------------------------ ais_gap
def _gap_scenario(lat: float, lon: float, radar: bool, silence_s: float, resume: bool):
    """AIS every 10 s for 20 min, then silence; radar keeps the track if asked."""
    stop = T0 + 1200
    obs, lines = voyage("T1", PH, lat, lon, 8.0, 90.0, T0, stop, 10.0, sources=("ais", "radar"))
    if radar:
        for k in range(1, int(silence_s // 30) + 1):
            t = stop + 30 * k
            la, lo = move(lat, lon, 8.0, 90.0, t - T0)
            lines.append(line("T1", t, la, lo, 8.0, 90.0, PH, ("radar",)))
    if resume:
        la, lo = move(lat, lon, 8.0, 90.0, silence_s + 1200)
        obs.append(ais(PH, stop + silence_s, la, lo, 8.0, 90.0))
    return stop, obs, lines


def test_ais_gap_fires_high_when_radar_holds_then_closes_on_resume():
    stop, obs, lines = _gap_scenario(10.3, 114.6, radar=True, silence_s=3000, resume=True)
    alerts = run(engine(), obs, lines)
    gaps = of_type(alerts, "ais_gap")
    opened = first_open(gaps, "ais_gap")
    assert opened.mmsi == PH and opened.track_id == "T1"
    assert opened.severity == "high"
    assert stop + 1800 <= opened.time_s <= stop + 1800 + 60
    assert "radar" in opened.summary
    final = latest(gaps)
    assert len(final) == 1
    assert final[opened.alert_id].state == "closed"
    assert final[opened.alert_id].evidence["gap_s"] == 3000


def test_ais_gap_medium_without_radar_via_advance():
    stop, obs, lines = _gap_scenario(10.3, 114.6, radar=False, silence_s=0, resume=False)
    eng = engine()
    alerts = run(eng, obs, lines)
    assert not of_type(alerts, "ais_gap")
    assert not of_type(eng.advance(stop + 1700), "ais_gap")   # 28 min: not yet
    fired = of_type(eng.advance(stop + 1860), "ais_gap")
    assert len(fired) == 1 and fired[0].severity == "medium" and fired[0].mmsi == PH
    assert fired[0].time_s == stop + 1800
    assert fired[0].evidence["releasability"] == ["ASEAN"]


def test_ais_gap_outside_receiver_coverage_is_not_reported():
    stop, obs, lines = _gap_scenario(13.5, 118.5, radar=False, silence_s=0, resume=False)
    eng = engine()
    alerts = run(eng, obs, lines, until_s=stop + 4 * 3600)
    assert not of_type(alerts, "ais_gap")


def test_ais_gap_short_silence_and_irregular_reporter_are_not_gaps():
    stop, obs, lines = _gap_scenario(10.3, 114.6, radar=True, silence_s=1500, resume=True)
    assert not of_type(run(engine(), obs, lines), "ais_gap")
    # two reports only: not "reporting regularly"
    eng = engine()
    alerts = eng.process([ais(SG, T0, 10.2, 114.7), ais(SG, T0 + 60, 10.2, 114.71)], [])
    alerts += eng.advance(T0 + 7200)
    assert not of_type(alerts, "ais_gap")


def test_ais_gap_retracted_by_late_report():
    stop, obs, lines = _gap_scenario(10.3, 114.6, radar=False, silence_s=0, resume=False)
    eng = engine()
    run(eng, obs, lines)
    fired = of_type(eng.advance(stop + 1830), "ais_gap")
    assert len(fired) == 1
    # a satellite feed delivers a report from 15 min into the "silence"
    late = eng.process([ais(PH, stop + 900, 10.3, 114.65)], [])
    gaps = of_type(late, "ais_gap")
    assert len(gaps) == 1 and gaps[0].alert_id == fired[0].alert_id
    assert gaps[0].state == "retracted" and "late AIS report" in gaps[0].summary


def test_ais_gap_upgraded_when_radar_picks_up_the_silent_vessel():
    stop, obs, lines = _gap_scenario(10.3, 114.6, radar=False, silence_s=0, resume=False)
    eng = engine()
    run(eng, obs, lines)
    first = of_type(eng.advance(stop + 1830), "ais_gap")[0]
    assert first.severity == "medium"
    upd = eng.process([], [line("T1", stop + 1900, 10.3, 114.8, 8.0, 90.0, PH, ("radar",))])
    assert upd and upd[0].alert_id == first.alert_id and upd[0].severity == "high"


# ------------------------------------------------------------------ dark_vessel
def test_dark_vessel_fires_after_15_min_and_closes_when_identified():
    _, lines = voyage("T7", None, 10.4, 114.7, 6.0, 45.0, T0, T0 + 1500, 6.0, sources=("radar",))
    lines.append(line("T7", T0 + 1506, 10.45, 114.75, 6.0, 45.0, 533_000_111, ("ais", "radar")))
    alerts = of_type(run(engine(), [ais(533_000_111, T0 + 1506, 10.45, 114.75)], lines), "dark_vessel")
    opened = first_open(alerts, "dark_vessel")
    assert opened.track_id == "T7" and opened.mmsi is None
    assert T0 + 900 <= opened.time_s <= T0 + 960
    assert latest(alerts)[opened.alert_id].state == "closed"


def test_short_radar_contact_and_contact_outside_aoi_are_not_dark():
    _, short = voyage("T8", None, 10.4, 114.7, 6.0, 45.0, T0, T0 + 600, 6.0, sources=("radar",))
    short.append(line("T8", T0 + 700, 10.41, 114.71, 6.0, 45.0, None, ("radar",), status="lost"))
    _, far = voyage("T9", None, 28.5, 126.0, 6.0, 45.0, T0, T0 + 2400, 6.0, sources=("radar",))
    alerts = run(engine(), [], short + far, until_s=T0 + 3600)
    assert not of_type(alerts, "dark_vessel")


# ------------------------------------------------------------------ speed_jump
def test_speed_jump_fires_on_impossible_move():
    obs = [ais(SG, T0 + 60 * k, *move(10.5, 114.6, 12.0, 90.0, 60 * k)) for k in range(10)]
    jump_t = T0 + 600
    far_lat = 10.5 + 20_000 / M_PER_DEG_LAT           # 20 km north, 60 s later
    obs += [ais(SG, jump_t + 60 * k, *move(far_lat, 114.6, 12.0, 90.0, 60 * k)) for k in range(10)]
    alerts = of_type(run(engine(), obs, []), "speed_jump")
    assert len(latest(alerts)) == 1
    a = alerts[0]
    assert a.mmsi == SG and a.time_s == jump_t and a.severity == "low"
    assert 19_000 < a.evidence["distance_m"] < 21_500
    assert a.evidence["implied_speed_kn"] > 600


def test_fast_boat_at_55_kn_is_not_a_speed_jump_but_65_kn_is():
    fast = [ais(VN, T0 + 300 * k, *move(10.6, 114.6, 55.0, 90.0, 300 * k), sog=55.0) for k in range(8)]
    assert not of_type(run(engine(), fast, []), "speed_jump")
    faster = [ais(VN, T0 + 300 * k, *move(10.6, 114.6, 65.0, 90.0, 300 * k), sog=65.0) for k in range(3)]
    assert of_type(run(engine(), faster, []), "speed_jump")


def test_speed_jump_closes_after_quiet_period():
    obs = [ais(SG, T0, 10.5, 114.6), ais(SG, T0 + 60, 10.8, 114.6), ais(SG, T0 + 120, 10.8, 114.601)]
    eng = engine()
    alerts = run(eng, obs, [])
    alerts += eng.advance(T0 + 60 + 1800 + 1)
    final = latest(of_type(alerts, "speed_jump"))
    assert [a.state for a in final.values()] == ["closed"]


# ------------------------------------------------------------------ identity_clash
def test_identity_clash_when_one_mmsi_alternates_between_two_places():
    a_lat, a_lon, b_lon = 10.5, 114.8, 115.6                 # ~88 km apart
    obs = [ais(PH, T0 + 30 * k, a_lat, a_lon if k % 2 == 0 else b_lon, sog=0.2) for k in range(20)]
    lines = [line("T1", T0 + 30 * k, a_lat, a_lon, 0.2, 0, PH) for k in range(0, 20, 2)] + \
            [line("T2", T0 + 30 * k, a_lat, b_lon, 0.2, 0, PH) for k in range(1, 20, 2)]
    alerts = run(engine(), obs, lines)
    clashes = latest(of_type(alerts, "identity_clash"))
    assert len(clashes) == 1
    c = next(iter(clashes.values()))
    assert c.mmsi == PH and c.state == "open" and c.severity == "medium"
    assert T0 + 60 <= c.time_s <= T0 + 120        # by the second return to a place
    assert 80_000 < c.evidence["distance_m"] < 95_000
    assert {"T1", "T2"} <= set(c.evidence["track_ids"])
    # the speed jump it explains was retracted, none left open
    jumps = latest(of_type(alerts, "speed_jump"))
    assert all(j.state == "retracted" for j in jumps.values())


def test_single_glitch_is_a_speed_jump_not_a_clash():
    obs = [ais(PH, T0 + 30 * k, *move(10.5, 114.8, 10.0, 0.0, 30 * k)) for k in range(20)]
    obs[8] = ais(PH, obs[8].time_s, 10.5, 115.6)             # one bad fix
    alerts = run(engine(), obs, [])
    assert not of_type(alerts, "identity_clash")
    assert len(latest(of_type(alerts, "speed_jump"))) == 1


# ------------------------------------------------------------------ on_land
def test_on_land_more_than_1_km_inland_fires_once_per_episode():
    lat = 10.1
    inland_lon = east_of(lat, 114.2, -2000)                   # 2 km west of the east coast
    obs = [ais(SG, T0 + 10 * k, lat, inland_lon, sog=0.0) for k in range(5)]
    alerts = of_type(run(engine(), obs, []), "on_land")
    assert len(latest(alerts)) == 1
    a = alerts[0]
    assert a.mmsi == SG and a.time_s == T0 and 1900 <= a.evidence["inland_m"] <= 2100


def test_on_land_threshold_is_metric_in_both_axes_and_at_24N():
    cases = []   # (lat, lon, should_fire)
    for lat, east_edge in ((10.1, 114.2), (24.1, 118.2)):
        cases.append((lat, east_of(lat, east_edge, -1150), True))
        cases.append((lat, east_of(lat, east_edge, -850), False))
    # north coast of the first island, 1.15 km and 0.85 km south of it
    cases.append((10.2 - 1150 / M_PER_DEG_LAT, 114.1, True))
    cases.append((10.2 - 850 / M_PER_DEG_LAT, 114.1, False))
    # at sea next to the island, and far at sea
    cases.append((10.1, east_of(10.1, 114.2, 500), False))
    cases.append((12.0, 113.0, False))
    for k, (lat, lon, fire) in enumerate(cases):
        alerts = of_type(engine().process([ais(SG + k, T0, lat, lon, sog=0.0)], []), "on_land")
        assert bool(alerts) == fire, (lat, lon, fire)


# ------------------------------------------------------------------ invalid_identity
def test_invalid_identity_once_per_mmsi_and_special_families_excluded():
    bad = [123_456_789, 1_234_567_890, 12345]
    fine = [548_123_456, 970_123_456, 111_548_123, 992_481_234, 2_481_234, 854_812_345]
    obs = []
    for k in range(3):
        for m in bad + fine:
            obs.append(ais(m, T0 + 60 * k + (m % 7), 10.5, 114.6, sog=5.0))
    alerts = of_type(run(engine(), obs, []), "invalid_identity")
    assert sorted(a.mmsi for a in alerts) == sorted(bad)
    assert all(a.severity == "low" and a.state == "open" for a in alerts)


def test_mmsi_problem_reasons():
    assert mmsi_problem(548_123_456) is None
    assert "MID 123" in mmsi_problem(123_456_789)
    assert "9 digits" in mmsi_problem(1_234_567_890)
    assert mmsi_problem(974_548_123) is None


# ------------------------------------------------------------------ distress
def test_distress_sart_is_critical_immediately_and_once_per_episode():
    sart = 970_123_456
    obs = [ais(sart, T0 + 60 * k, 10.7, 114.9, sog=0.5, nav_status=14) for k in range(10)]
    eng = engine()
    alerts = run(eng, obs, [])
    d = of_type(alerts, "distress")
    assert len(latest(d)) == 1
    assert d[0].severity == "critical" and d[0].time_s == T0 and d[0].mmsi == sart
    assert "AIS-SART" in d[0].summary
    closed = of_type(eng.advance(T0 + 540 + 1801), "distress")
    assert closed and closed[0].state == "closed"
    again = of_type(eng.process([ais(sart, T0 + 4000, 10.7, 114.9)], []), "distress")
    assert len(again) == 1 and again[0].alert_id != d[0].alert_id


def test_distress_nav_status_14_mob_epirb_and_not_test_mode():
    obs = [ais(PH, T0, 10.7, 114.9, nav_status=14), ais(972_548_001, T0 + 1, 10.7, 114.9),
           ais(974_548_002, T0 + 2, 10.7, 114.9), ais(970_999_001, T0 + 3, 10.7, 114.9, nav_status=15),
           ais(SG, T0 + 4, 10.7, 114.9, nav_status=0)]
    alerts = of_type(engine().process(obs, []), "distress")
    assert sorted(a.mmsi for a in alerts) == sorted([PH, 972_548_001, 974_548_002])
    assert all(a.severity == "critical" for a in alerts)


# ------------------------------------------------------------------ gnss_interference
def _jumper(mmsi: int, lat: float, lon: float, t_jump: float) -> list:
    """A vessel reporting every minute that jumps 30 km once, at t_jump."""
    obs = [ais(mmsi, t_jump - 60 * k, lat, lon, sog=0.0) for k in range(3, 0, -1)]
    obs.append(ais(mmsi, t_jump, lat + 30_000 / M_PER_DEG_LAT, lon, sog=0.0))
    return obs


def test_gnss_interference_when_three_vessels_jump_together():
    obs = _jumper(533_000_001, 10.5, 114.6, T0 + 600) + _jumper(533_000_002, 10.55, 114.7, T0 + 900) \
        + _jumper(533_000_003, 10.45, 114.75, T0 + 1200) + _jumper(533_000_004, 10.5, 114.65, T0 + 1300)
    alerts = run(engine(), obs, [], until_s=T0 + 1300 + 1801)
    g = of_type(alerts, "gnss_interference")
    assert len(latest(g)) == 1
    assert g[0].time_s == T0 + 1200 and g[0].evidence["vessels"] == 3
    assert g[-1].state == "closed" and g[-1].evidence["vessels"] == 4     # the 4th joined the same area
    assert 10.4 < g[0].lat < 10.6 and 114.55 < g[0].lon < 114.8


def test_gnss_not_for_scattered_or_slow_or_too_few_jumps():
    scattered = _jumper(533_000_001, 10.5, 114.6, T0 + 600) + _jumper(533_000_002, 13.5, 117.6, T0 + 700) \
        + _jumper(533_000_003, 7.0, 110.0, T0 + 800)
    spread_in_time = _jumper(533_000_011, 10.5, 114.6, T0) + _jumper(533_000_012, 10.5, 114.7, T0 + 3000) \
        + _jumper(533_000_013, 10.5, 114.8, T0 + 6000)
    two = _jumper(533_000_021, 10.5, 114.6, T0) + _jumper(533_000_022, 10.5, 114.7, T0 + 60)
    for obs in (scattered, spread_in_time, two):
        assert not of_type(run(engine(), obs, []), "gnss_interference")


def test_speed_in_knots_helper_consistency():
    # the builders' move() at 12 kn covers 12 nm per hour (WGS 84 distance by pyproj)
    la, lo = move(10.0, 114.0, 12.0, 0.0, 3600)
    assert lo == 114.0 and abs(Geod(ellps="WGS84").inv(114.0, 10.0, lo, la)[2] - 12 * 1852) < 1
    assert abs(KN_TO_MS * 3600 - 1852) < 1e-9


def test_second_gap_after_resumption_fires_on_time():
    stop, obs, lines = _gap_scenario(10.3, 114.6, radar=False, silence_s=2400, resume=True)
    resume = stop + 2400
    obs += [ais(PH, resume + 10 * k, 10.31, 114.7) for k in range(1, 30)]
    second_stop = resume + 290
    alerts = of_type(run(engine(), obs, lines, until_s=second_stop + 1900), "ais_gap")
    final = latest(alerts)
    assert len(final) == 2
    second = final[max(final, key=lambda x: int(x[1:]))]
    assert second.state == "open" and second.time_s == second_stop + 1800


def test_dark_vessel_retracted_when_merged_into_an_ais_vessel_heard_all_along():
    mmsi = 533_000_222
    obs, ais_lines = voyage("T30", mmsi, 10.4, 114.7, 6.0, 45.0, T0, T0 + 1500, 10.0)
    _, radar = voyage("T31", None, 10.4, 114.7, 6.0, 45.0, T0, T0 + 1440, 6.0, sources=("radar",))
    la, lo = move(10.4, 114.7, 6.0, 45.0, 1446)
    radar.append(line("T31", T0 + 1446, la, lo, 6.0, 45.0, None, ("radar",), status="lost"))
    alerts = of_type(run(engine(), obs, ais_lines + radar), "dark_vessel")
    opened = first_open(alerts, "dark_vessel")
    assert opened.track_id == "T31"
    final = latest(alerts)[opened.alert_id]
    assert final.state == "retracted" and str(mmsi) in final.summary


def test_a_distress_alert_is_linked_to_the_track_of_its_beacon():
    """The beacon's first report raises the alert (observation rules run before the track
    line of that report): the alert still names the track, so the officer's click finds it."""
    from fusion.pipeline import Fusion

    sart = 970_123_457
    fusion = Fusion({}, geography())
    lines, alerts = [], []
    for k in range(4):
        out_lines, out_alerts = fusion.update([ais(sart, T0 + 60 * k, 10.7, 114.9, sog=0.5, nav_status=14)])
        lines += out_lines
        alerts += out_alerts
    track_ids = {ln.track_id for ln in lines if ln.mmsi == sart}
    assert len(track_ids) == 1
    d = of_type(alerts, "distress")
    assert d and all(a.track_id in track_ids for a in d)  # the first delivery already names it
    assert len(d) == 1 and d[0].state == "open"            # ... and the link cost no extra delivery
