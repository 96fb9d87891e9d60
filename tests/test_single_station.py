"""sensor_integrity cause single_station: a vessel only one AIS station hears where the others
hear the traffic around it (a forged vessel, a compromised receiver's feed)."""

from __future__ import annotations

from fusion.model import Observation, TrackLine
from tests.rules_builders import T0
from tests.test_rules_integrity import RX, heard, integrity_engine, reports

GHOST = 533_999_001


def _ghost(station: str = "RX-C", minutes: int = 40, ais_class: str = "A"):
    """A vessel among the others' traffic, reported every 10 s, heard only through ``station``."""
    out = []
    for t, _, lat, lon, sog, cog in reports(minutes, vessels=1):
        out.append(Observation("ais_position", station, t + 3, lat + 0.004, lon + 0.004, sigma_m=10.0, mmsi=GHOST,
                               sog_kn=sog, cog_deg=cog, station=station, ais_class=ais_class))
    return out


def _alerts(obs, lines=(), **cfg):
    eng = integrity_engine(**cfg)
    obs = sorted(obs, key=lambda o: o.time_s)
    out = []
    for k in range(0, len(obs), 500):
        chunk = obs[k:k + 500]
        ls = [ln for ln in lines if chunk[0].time_s <= ln.time_s <= chunk[-1].time_s]
        out += eng.process(chunk, ls)
    return [a for a in out if a.type == "sensor_integrity" and a.evidence.get("cause") == "single_station"]


def _everyone():
    return heard(reports(40), {rx[0]: 0.0 for rx in RX})


def test_a_vessel_only_one_station_hears_amid_traffic_the_others_hear_is_named():
    alerts = _alerts(_everyone() + _ghost())
    assert alerts, "not named"
    a = alerts[-1]
    assert a.evidence["receiver"] == "RX-C" and a.mmsi == GHOST and a.state == "open"
    assert len(a.evidence["witnesses"]) >= 2 and "RX-C" not in a.evidence["witnesses"]
    assert a.time_s >= T0 + 900                       # after 15 minutes of its reports, not before
    assert len({x.alert_id for x in alerts}) == 1


def test_heard_by_a_second_station_radar_held_or_class_b_it_is_not():
    # a second station hears it too, later: the alert is retracted (it was real)
    late = [Observation("ais_position", "RX-A", o.time_s + 0.2, o.lat, o.lon, sigma_m=10.0, mmsi=GHOST,
                        sog_kn=o.sog_kn, cog_deg=o.cog_deg, station="RX-A") for o in _ghost() if o.time_s > T0 + 1500]
    got = _alerts(_everyone() + _ghost() + late)
    assert got and got[-1].state == "retracted"
    # a radar feeds its track: real
    lines = [TrackLine("T9", o.time_s, o.lat, o.lon, 12.0, 0.0, 30.0, GHOST, None, None, None, ("ais", "radar"),
                       "confirmed", ("RX-C", "R-1")) for o in _ghost()[::6]]
    assert _alerts(_everyone() + _ghost(), lines) == []
    # class B (2 W): heard over a shorter range, not judged
    assert _alerts(_everyone() + _ghost(ais_class="B")) == []


def test_a_station_alone_in_its_area_raises_nothing():
    """Vessels only RX-C hears because no other station covers them (their reports alone): nothing."""
    only_c = heard(reports(40), {"RX-C": 0.0})
    assert _alerts(only_c + _ghost()) == []


def test_the_alert_goes_only_where_the_witnesses_data_may_go():
    """RX-C's data is ASEAN's, but the witnesses' (RX-A, RX-B, RX-D) are PH's only: the alert says
    what they hear, so it is PH's only, not every ASEAN agency's (fails closed)."""
    from fusion.rules import RuleEngine, RulesConfig
    from tests.rules_builders import geography

    rel = {"RX-A": ["PH"], "RX-B": ["PH"], "RX-C": ["ASEAN"], "RX-D": ["PH"]}
    eng = RuleEngine(geography(receivers=RX, releasability=rel), RulesConfig())
    obs = sorted(_everyone() + _ghost(), key=lambda o: o.time_s)
    got = []
    for k in range(0, len(obs), 500):
        got += [a for a in eng.process(obs[k:k + 500], []) if a.evidence.get("cause") == "single_station"]
    assert got and all(a.evidence["releasability"] == ["PH"] for a in got)


# --- where no other station overlaps: a satellite witnesses -------------------------------------

def _satellite(passes: list[tuple[float, float]], p: float, seed: int = 1, ghost_too: bool = False):
    """What the satellite SAT-1 hears of the traffic during ``passes`` (minutes from, to): each
    report with probability ``p``; with ``ghost_too`` also one report of the ghost."""
    import random
    rnd = random.Random(seed)
    out = []
    for t, mmsi, lat, lon, sog, cog in reports(40):
        if any(T0 + 60 * a <= t <= T0 + 60 * b for a, b in passes) and rnd.random() < p:
            out.append(Observation("ais_position", "SAT-1", t, lat, lon, sigma_m=10.0, mmsi=mmsi, sog_kn=sog,
                                   cog_deg=cog, station="SAT-1"))
    if ghost_too:
        g = [o for o in _ghost() if o.time_s > T0 + 60 * passes[-1][0]][0]
        out.append(Observation("ais_position", "SAT-1", g.time_s, g.lat, g.lon, sigma_m=10.0, mmsi=GHOST,
                               sog_kn=g.sog_kn, cog_deg=g.cog_deg, station="SAT-1"))
    return out


def _alone_with_satellite(sat_obs):
    """Only RX-C covers the area (an island's receiver, or an integrator's only sensor): the
    traffic and the ghost are heard through it alone; the satellite hears what it hears."""
    from fusion.rules import RuleEngine, RulesConfig
    from tests.rules_builders import geography

    rx_c = [r for r in RX if r[0] == "RX-C"]
    eng = RuleEngine(geography(receivers=rx_c, satellites={"SAT-1": 5400.0},
                               releasability={"RX-C": ["ASEAN"], "SAT-1": ["ASEAN"]}), RulesConfig())
    obs = sorted(heard(reports(40), {"RX-C": 0.0}) + _ghost() + sat_obs, key=lambda o: o.time_s)
    got = []
    for k in range(0, len(obs), 500):
        got += [a for a in eng.process(obs[k:k + 500], []) if a.evidence.get("cause") == "single_station"]
    return got


def test_a_satellite_that_hears_the_traffic_around_but_never_the_vessel_names_the_lone_station():
    got = _alone_with_satellite(_satellite([(5, 15), (25, 35)], p=0.5))
    assert got, "not named"
    a = got[-1]
    assert a.state == "open" and a.mmsi == GHOST and a.evidence["receiver"] == "RX-C"
    # one pass hearing each vessel around about 30 times is enough (a real one missed: e^-30)
    assert a.evidence["witnesses"] == ["SAT-1"] and a.evidence["satellite_passes"]["SAT-1"] >= 1
    assert "SAT-1 (overhead" in a.summary
    assert a.time_s > T0 + 60 * 5                      # not before the satellite came over


def test_the_satellite_hearing_the_vessel_once_makes_it_real():
    got = _alone_with_satellite(_satellite([(5, 15), (25, 35)], p=0.5, ghost_too=True))
    assert not got or got[-1].state == "retracted"


def test_a_satellite_that_hears_little_there_witnesses_nothing():
    """One short pass hearing 3 % of the reports around: a real vessel's reports could all have
    been missed (exp(-λ) with λ about 1), so the satellite's silence proves nothing."""
    assert _alone_with_satellite(_satellite([(20, 25)], p=0.03)) == []
    assert _alone_with_satellite([]) == []   # no satellite report at all: as before
