"""ais_gap and the holes between receivers: a ship under way that steams out of one receiver's
range and across a gap to the next is silent because nobody can hear it.  The geometry is laid
out with pyproj's WGS 84 geodesics, not the rule's own geodesy."""

from __future__ import annotations

from pyproj import Geod

from fusion.rules import RuleEngine, RulesConfig
from tests.rules_builders import T0, ais, geography, of_type, run

GEOD = Geod(ellps="WGS84")
A = (10.0, 114.5)
RANGE_M = 50_000.0
SOG_KN = 16.0
SPEED = SOG_KN * 1852.0 / 3600.0


def east(lat: float, lon: float, m: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, m)
    return lat2, lon2


def scene(last_from_a_m: float, hole_m: float):
    """Receiver A; a ship heading east at 16 kn whose last report is ``last_from_a_m`` east of A;
    receiver B whose range begins ``hole_m`` further east.  The ship's reports over the 20 min
    before, every 10 s, heard by A."""
    p = east(*A, last_from_a_m)
    b = east(*p, hole_m + RANGE_M)
    geo = geography(receivers=[("AIS-A", *A, RANGE_M), ("AIS-B", *b, RANGE_M)],
                    releasability={"AIS-A": ["ASEAN"], "AIS-B": ["ASEAN"]})
    obs = []
    for k in range(120, -1, -1):
        lat, lon = east(*p, -k * 10 * SPEED)
        obs.append(ais(563_000_001, T0 - k * 10, lat, lon, SOG_KN, 90.0))
    return RuleEngine(geo, RulesConfig()), obs, p


def test_a_ship_crossing_a_hole_between_two_receivers_is_not_a_gap_until_it_could_be_heard_30_min():
    # A's range ends 1 km on, B's begins 14 km on (28.4 min at 16 kn): at 30 min of silence the
    # ship is 0.8 km into B's range
    eng, obs, _ = scene(49_000.0, 14_000.0)
    alerts = run(eng, obs, [], until_s=T0 + 50 * 60)
    assert of_type(alerts, "ais_gap") == []            # the old rule alerted here, at 30 min
    alerts += eng.advance(T0 + 80 * 60)
    gaps = [a for a in of_type(alerts, "ais_gap") if a.state == "open"]
    assert len(gaps) == 1
    # raised once it has been 30 min inside B's range by the rule's edge margin (5 % of the range,
    # 2.5 km: reception fades out at the nominal edge): (14 + 2.5) km at 16 kn = 33.4 min, + 30 min;
    # the hole and the edges do not count (the path is sampled each minute)
    assert 62 * 60 <= gaps[0].evidence["silence_s"] <= 65 * 60
    assert gaps[0].evidence["in_coverage"] is True


def test_a_ship_heard_again_by_the_next_receiver_raises_nothing():
    eng, obs, p = scene(49_000.0, 14_000.0)
    for k in range(40 * 6, 120 * 6):                      # from 40 min on (4.6 km into B's range), every 10 s
        lat, lon = east(*p, k * 10 * SPEED)
        obs.append(ais(563_000_001, T0 + k * 10, lat, lon, SOG_KN, 90.0, sensor="AIS-B"))
    alerts = run(eng, obs, [], until_s=T0 + 121 * 60)
    assert of_type(alerts, "ais_gap") == []


def test_a_ship_falling_silent_well_inside_coverage_still_alerts_at_30_min():
    eng, obs, _ = scene(10_000.0, 14_000.0)              # 30 min on it is still 25 km inside A's range
    alerts = run(eng, obs, [], until_s=T0 + 31 * 60)
    gaps = [a for a in of_type(alerts, "ais_gap") if a.state == "open"]
    assert len(gaps) == 1 and gaps[0].evidence["silence_s"] == 1800


def test_a_drifting_vessel_falling_silent_at_the_edge_of_a_range_is_not_a_gap():
    """Seen on `quiet-day`: a boat drifting at 0.5 kn fell silent 50 m inside a receiver's nominal
    range; reception fades out over the last kilometres of a range, so that is no vessel gone dark.
    The same boat 10 km inside the range is."""
    for inside_m, alerts_expected in ((50.0, 0), (10_000.0, 1)):
        p = east(*A, RANGE_M - inside_m)
        geo = geography(receivers=[("AIS-A", *A, RANGE_M)], releasability={"AIS-A": ["ASEAN"]})
        eng = RuleEngine(geo, RulesConfig())
        obs = [ais(563_000_002, T0 - k * 60, *p, 0.4, 212.0) for k in range(20, -1, -1)]
        alerts = run(eng, obs, [], until_s=T0 + 40 * 60)
        assert len([a for a in of_type(alerts, "ais_gap") if a.state == "open"]) == alerts_expected, inside_m
