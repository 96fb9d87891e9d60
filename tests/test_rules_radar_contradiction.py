"""identity_clash when the radar contradicts an MMSI's AIS position (the tracker's conflict records)."""

import pickle
import random

from fusion.geodesy import distance_m, from_local
from fusion.pipeline import Fusion
from fusion.rules import Geography
from fusion.rules.radar_contradiction import RadarContradiction

from .builders import T0, make_ais, position, radar, vessel_plots

MMSI = 548_000_001


def feed(offset_m: float, seed: int = 3):
    """A 12 kn vessel on radar (6 s scans) and AIS (10 s) for 20 min; from minute 10 its AIS
    positions are ``offset_m`` east of where it really is."""
    plots = vessel_plots(random.Random(seed), 10.0, 114.0, 12.0, 45.0, 200, period_s=6.0)
    ais = []
    for k in range(120):
        t = k * 10.0
        lat, lon = position(10.0, 114.0, 12.0, 45.0, t)
        if t >= 600 and offset_m:
            lat, lon = from_local(lat, lon, offset_m, 0.0)
        ais.append(make_ais(MMSI, T0 + t, lat, lon, sog_kn=12.0, cog_deg=45.0))
    return sorted(plots + ais, key=lambda o: o.time_s)


def run(observations, fusion=None):
    fusion = fusion or Fusion({"R1": radar()}, Geography())
    alerts = []
    for i in range(0, len(observations), 25):
        alerts += fusion.update(observations[i:i + 25])[1]
    alerts += fusion.flush()[1]
    return fusion, alerts


def test_ais_position_the_radar_contradicts_raises_identity_clash_with_both_positions():
    _, alerts = run(feed(1000.0))
    clashes = [a for a in alerts if a.type == "identity_clash" and a.evidence.get("cause") == "radar_contradiction"]
    assert clashes, [a.type for a in alerts]
    first = clashes[0]
    assert first.mmsi == MMSI
    assert T0 + 600 <= first.time_s <= T0 + 620  # the first contradicted fix, not later
    ev = first.evidence["first"]
    assert ev["time_s"] == T0 + 600
    truth = position(10.0, 114.0, 12.0, 45.0, 600.0)
    # the radar's position is the vessel's, AIS's is about 1 km east of it
    assert distance_m(ev["radar_position"]["lat"], ev["radar_position"]["lon"], *truth) < 200
    assert 800 < distance_m(ev["ais_position"]["lat"], ev["ais_position"]["lon"], *truth) < 1200
    assert 700 < ev["distance_m"] < 1300
    assert distance_m(first.lat, first.lon, *truth) < 200  # the alert is placed where the radar sees it
    assert first.evidence["contradicted_fixes"] >= 2
    assert "radar" in first.summary and str(MMSI) in first.summary
    assert len({a.alert_id for a in clashes}) == 1  # one episode, not one alert per fix


def test_agreeing_ais_and_radar_raise_no_identity_clash():
    _, alerts = run(feed(0.0))
    assert not [a for a in alerts if a.type == "identity_clash"]


def test_an_engine_checkpointed_before_the_rule_existed_takes_contradictions_after_restore():
    fusion = Fusion({"R1": radar()}, Geography())
    engine = fusion.rules
    engine.rules = [r for r in engine.rules if not isinstance(r, RadarContradiction)]
    del engine._conflict_rules
    restored = pickle.loads(pickle.dumps(fusion))
    _, alerts = run(feed(1000.0), restored)
    assert [a for a in alerts if a.type == "identity_clash" and a.evidence.get("cause") == "radar_contradiction"]


def test_one_faulty_ais_fix_raises_no_identity_clash():
    observations = [o for o in feed(0.0)]
    for i, o in enumerate(observations):  # one report at minute 10 is 1 km off, the rest are right
        if o.kind == "ais_position" and o.time_s == T0 + 600:
            lat, lon = from_local(o.lat, o.lon, 1000.0, 0.0)
            observations[i] = make_ais(MMSI, o.time_s, lat, lon, sog_kn=12.0, cog_deg=45.0)
    fusion, alerts = run(observations)
    assert not [a for a in alerts if a.type == "identity_clash"]
