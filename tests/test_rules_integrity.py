"""sensor_integrity: receivers whose timestamps cannot be trusted, judged from the reports they share."""

from __future__ import annotations

from fusion.model import Observation
from tests.rules_builders import T0, engine, geography, move
from fusion.rules import RuleEngine, RulesConfig

RX = [("RX-A", 10.0, 114.0, 80_000.0), ("RX-B", 10.2, 114.4, 80_000.0), ("RX-C", 10.4, 114.1, 80_000.0),
      ("RX-D", 10.1, 114.6, 80_000.0)]


def integrity_engine(receivers=RX, **cfg) -> RuleEngine:
    rel = {r[0]: ["ASEAN"] for r in receivers}
    return RuleEngine(geography(receivers=receivers, releasability=rel), RulesConfig(**cfg))


def reports(minutes: int, vessels: int = 12, sog: float = 12.0, every_s: float = 10.0):
    """Each vessel's position reports (time, mmsi, lat, lon, sog, cog), moving on its own course."""
    out = []
    for v in range(vessels):
        lat, lon, cog = 10.1 + 0.01 * v, 114.2 + 0.01 * v, (37.0 * v) % 360
        t = T0 + v
        while t < T0 + 60 * minutes:
            out.append((t, 548_000_000 + v, round(lat, 6), round(lon, 6), sog, cog))
            lat, lon = move(lat, lon, sog, cog, every_s)
            t += every_s
    return out


def heard(reps, receivers: dict[str, float], start_s: float = 0.0):
    """Each report as each receiver stamps it: ``receivers`` maps a receiver to its clock offset,
    applied to reports from ``start_s`` seconds in."""
    obs = []
    for t, mmsi, lat, lon, sog, cog in reps:
        for rx, off in receivers.items():
            stamp = t + (off if t >= T0 + start_s else 0.0)
            obs.append(Observation("ais_position", rx, stamp, lat, lon, sigma_m=10.0, mmsi=mmsi, sog_kn=sog,
                                   cog_deg=cog, station=rx))
    # in the order they arrive: by true time (a lagging clock changes the stamp, not the arrival)
    order = sorted(range(len(obs)), key=lambda i: reps[i // len(receivers)][0])
    return [obs[i] for i in order]


def run(eng: RuleEngine, obs):
    out = []
    for k in range(0, len(obs), 500):
        out += eng.process(obs[k:k + 500], [])
    return [a for a in out if a.type == "sensor_integrity"]


def final(alerts):
    by = {}
    for a in alerts:
        by[a.alert_id] = a
    return list(by.values())


def test_a_receiver_two_minutes_behind_its_peers_is_named_and_they_are_not():
    obs = heard(reports(40), {"RX-A": 0.0, "RX-B": 0.0, "RX-C": -120.0, "RX-D": 0.0}, start_s=600)
    alerts = final(run(integrity_engine(), obs))
    assert len(alerts) == 1, [a.summary for a in alerts]
    a = alerts[0]
    assert a.evidence["receiver"] == "RX-C" and a.evidence["cause"] == "clock_offset"
    assert abs(a.evidence["offset_s"] + 120.0) < 1.0
    assert set(a.evidence["peers"]) == {"RX-A", "RX-B", "RX-D"}
    assert "behind" in a.summary and (a.lat, a.lon) == (10.4, 114.1)
    assert a.evidence["releasability"] == ["ASEAN"]
    # raised soon after the fault began: once most of the latest shared reports carry it
    assert a.time_s < T0 + 600 + 15 * 60


def test_network_jitter_of_a_few_seconds_is_not_a_fault():
    obs = heard(reports(40), {"RX-A": 0.0, "RX-B": 5.0, "RX-C": -3.0, "RX-D": 0.0})
    assert run(integrity_engine(), obs) == []


def test_with_one_peer_the_two_receivers_are_named_together():
    obs = heard(reports(30), {"RX-A": 0.0, "RX-B": 90.0})
    alerts = final(run(integrity_engine(), obs))
    assert len(alerts) == 1
    s = alerts[0].summary
    assert "disagree by 90 s" in s and "RX-A" in s and "RX-B" in s and "one of their clocks is wrong" in s


def test_a_receiver_replaying_an_hour_old_recording_is_replayed_traffic():
    reps = reports(100)
    live = heard(reps, {"RX-A": 0.0, "RX-B": 0.0, "RX-C": 0.0})
    # from 60 min in, RX-C also sends what it heard an hour before, stamped as new
    again = [Observation("ais_position", "RX-C", o.time_s + 3600, o.lat, o.lon, sigma_m=10.0, mmsi=o.mmsi,
                         sog_kn=o.sog_kn, cog_deg=o.cog_deg, station="RX-C")
             for o in live if o.station == "RX-C" and T0 <= o.time_s < T0 + 1800]
    obs = sorted(live + again, key=lambda o: o.time_s)
    alerts = final(run(integrity_engine(), obs))
    assert [a.evidence["receiver"] for a in alerts] == ["RX-C"]
    assert alerts[0].evidence["cause"] == "replayed_traffic" and "60 min earlier" in alerts[0].summary


def test_vessels_at_rest_repeat_their_reports_without_alerting():
    reps = [(t, m, la, lo, 0.0, c) for t, m, la, lo, _, c in reports(90, sog=0.0)]
    # a moored vessel sends the same content every few minutes; one receiver lags a little
    obs = heard([(t, m, 10.1, 114.2, 0.0, 0.0) for t, m, *_ in reps], {"RX-A": 0.0, "RX-B": 2.0})
    assert run(integrity_engine(), obs) == []


def test_satellite_ais_arriving_late_is_not_a_clock_fault():
    geo_rx = RX[:2]
    rel = {"RX-A": ["ASEAN"], "RX-B": ["ASEAN"], "SAT-1": ["ASEAN"]}
    eng = RuleEngine(geography(receivers=geo_rx, releasability=rel, satellites={"SAT-1": 5400.0}), RulesConfig())
    obs = heard(reports(60), {"RX-A": 0.0, "RX-B": 0.0})
    sat = heard(reports(60), {"SAT-1": 1800.0})  # the satellite's reports stamped on the ground, 30 min late
    assert run(eng, sorted(obs + sat, key=lambda o: o.time_s)) == []


def test_the_default_engine_knows_the_type():
    from fusion.rules import ALERT_TYPES
    assert "sensor_integrity" in ALERT_TYPES
    assert any(type(r).__name__ == "SensorIntegrity" for r in engine().rules)


def test_memory_stays_bounded_under_heavy_traffic_and_replays_are_still_caught():
    eng = integrity_engine(integrity_max_reports=5000)
    rule = next(r for r in eng.rules if type(r).__name__ == "SensorIntegrity")
    reps = reports(50, vessels=100, every_s=2.0)       # 50 reports a second
    live = heard(reps, {"RX-A": 0.0, "RX-B": 0.0})
    # RX-B sends again what it heard 12 minutes before (the rule remembers at least 2 x 10 min)
    again = [Observation("ais_position", "RX-B", o.time_s + 720, o.lat, o.lon, sigma_m=10.0, mmsi=o.mmsi,
                         sog_kn=o.sog_kn, cog_deg=o.cog_deg, station="RX-B")
             for o in live if o.station == "RX-B" and T0 + 900 <= o.time_s < T0 + 1500]
    obs = sorted(live + again, key=lambda o: o.time_s)
    biggest = 0
    out = []
    for k in range(0, len(obs), 2000):
        out += eng.process(obs[k:k + 2000], [])
        biggest = max(biggest, len(rule.reports))
    assert biggest <= 5001 and rule.stride > 1
    alerts = final([a for a in out if a.type == "sensor_integrity"])
    assert [a.evidence["receiver"] for a in alerts] == ["RX-B"]
    assert alerts[0].evidence["cause"] == "replayed_traffic"


def test_a_stuck_gnss_position_is_neither_a_replay_nor_hidden():
    """A faulty GNSS repeats one position while the log still gives speed: every report is the
    same, for an hour; none is a replay, and every one still reaches the tracker and the rules."""
    eng = integrity_engine()
    obs = [Observation("ais_position", rx, T0 + 10 * k, 10.3, 114.3, sigma_m=10.0, mmsi=548_222_333, sog_kn=6.0,
                       cog_deg=90.0, station=rx) for k in range(360) for rx in ("RX-A", "RX-B")]
    assert eng.replayed(obs) == set()
    alerts = []
    for k in range(0, len(obs), 100):
        batch = obs[k:k + 100]
        assert eng.replayed(batch) == set()
        alerts += eng.process(batch, [])
    assert [a for a in alerts if a.type == "sensor_integrity"] == []


def test_the_rule_state_survives_a_checkpoint_and_keeps_judging(tmp_path):
    """The fusion checkpoint (plain data, allow-listed classes) holds the rule's memory: after a
    restart the lagging receiver's episode goes on (same alert, updated), no other is named."""
    from fusion.pipeline import Fusion
    from services.state.checkpoint import Checkpoint

    def fresh() -> Fusion:
        return Fusion({}, geography(receivers=RX, releasability={r[0]: ["ASEAN"] for r in RX}))
    fusion = fresh()
    obs = sorted(heard(reports(60), {"RX-A": 0.0, "RX-B": 0.0, "RX-C": -120.0, "RX-D": 0.0}, start_s=600),
                 key=lambda o: o.time_s)
    half = next(i for i, o in enumerate(obs) if o.time_s >= T0 + 1800)
    before = []
    for k in range(0, half, 500):
        before += fusion.update(obs[k:min(k + 500, half)])[1]
    first = [a for a in before if a.type == "sensor_integrity"]
    assert first and {a.evidence["receiver"] for a in first} == {"RX-C"} and first[-1].state == "open"
    ck = Checkpoint(tmp_path / "state.ckpt")
    ck.save(fusion, {0: 1})
    restored, _ = ck.load(fresh())
    rule = next(r for r in restored.rules.rules if type(r).__name__ == "SensorIntegrity")
    assert set(rule.open) == {"RX-C"} and len(rule.reports) > 0
    after = []
    for k in range(half, len(obs), 500):
        after += restored.update(obs[k:k + 500])[1]
    later = [a for a in after if a.type == "sensor_integrity"]
    assert later and {a.alert_id for a in later} == {first[0].alert_id}   # the same episode, updated
    assert all(a.state == "open" for a in later)


def _placement_error_m(correct: bool) -> list[float]:
    """Fusion with four receivers, RX-C's clock 120 s behind from 10 min in; a vessel only RX-C
    hears (12 kn): its track's distance from where the vessel truly was, at report times after
    the receiver was named (the reference: the vessel's own reports at their true times)."""
    from pyproj import Geod

    from fusion.model import Sensor
    from fusion.pipeline import Fusion

    geod = Geod(ellps="WGS84")
    rel = {r[0]: ["ASEAN"] for r in RX}
    sensors = {rx: Sensor(rx, "ais", la, lo, range_m=r, releasability=("ASEAN",)) for rx, la, lo, r in RX}
    fusion = Fusion(sensors, geography(receivers=RX, releasability=rel),
                    rules_config=RulesConfig(integrity_correct_clock=correct))
    shared = heard(reports(40), {"RX-A": 0.0, "RX-B": 0.0, "RX-C": -120.0, "RX-D": 0.0}, start_s=600)
    lone_truth = [(t, lat, lon) for t, mmsi, lat, lon, _, _ in
                  [(t, 533_000_777, *rest[1:]) for t, *rest in reports(40, vessels=1)]]
    lone = [Observation("ais_position", "RX-C", t - (120.0 if t >= T0 + 600 else 0.0), lat, lon, sigma_m=10.0,
                        mmsi=533_000_777, sog_kn=12.0, cog_deg=0.0, station="RX-C") for t, lat, lon in lone_truth]
    arrivals = sorted([(o.time_s, o) for o in shared] + [(t, o) for (t, _, _), o in zip(lone_truth, lone)],
                      key=lambda x: x[0])     # received as transmitted: the stamp is what is wrong
    errors, named = [], None
    for k in range(0, len(arrivals), 200):
        batch = sorted((o for _, o in arrivals[k:k + 200]), key=lambda o: o.time_s)
        _, alerts = fusion.update(batch)
        named = named or next((a.time_s for a in alerts if a.type == "sensor_integrity"), None)
        now = arrivals[min(k + 199, len(arrivals) - 1)][0]
        if named is not None and now > named + 300:
            truth = max(x for x in lone_truth if x[0] <= now)   # its latest transmission so far
            line = next(ln for ln in fusion.snapshot(truth[0]) if ln.mmsi == 533_000_777)
            errors.append(geod.inv(line.lon, line.lat, truth[2], truth[1])[2])
    return errors


def test_a_receiver_found_two_minutes_behind_is_corrected_before_fusion():
    """Without correction its lone vessel is drawn where it was two minutes earlier (~740 m back
    at 12 kn); corrected, where it truly was."""
    off = _placement_error_m(False)
    on = _placement_error_m(True)
    assert off and on
    assert min(off) > 500, off[:5]
    assert max(on) < 100, on[:5]


def heard_with(reps, clocks: dict, seed: int = 3):
    """Each report as each receiver stamps it: ``clocks`` maps a receiver to a function of the
    seconds since T0 giving its clock's error; stamps are whole seconds (as NMEA tag blocks carry
    them) after a random network delay of 0–2 s, so that two receivers' offsets jitter."""
    import random
    rnd = random.Random(seed)
    obs = []
    for t, mmsi, lat, lon, sog, cog in reps:
        for rx, err in clocks.items():
            stamp = float(int(t + err(t - T0) + rnd.uniform(0.0, 2.0)))
            obs.append((t, Observation("ais_position", rx, stamp, lat, lon, sigma_m=10.0, mmsi=mmsi, sog_kn=sog,
                                       cog_deg=cog, station=rx)))
    return [o for _, o in sorted(obs, key=lambda x: x[0])]


def test_a_clock_drifting_a_second_a_minute_is_named_before_it_reaches_the_offset_limit():
    """From 10 min in RX-C's clock falls 1 s further behind every minute: the level check alone
    names it when it is 30 s behind (40 min in); the drift is named while it is 10–30 s behind, with
    its rate, and its reports are corrected from then on."""
    ok = lambda s: 0.0
    drift = lambda s: -max(0.0, s - 600.0) / 60.0
    obs = heard_with(reports(60), {"RX-A": ok, "RX-B": ok, "RX-C": drift, "RX-D": ok})
    alerts = run(integrity_engine(), obs)
    assert {a.evidence["receiver"] for a in alerts} == {"RX-C"}
    first = alerts[0]
    assert first.evidence["cause"] == "clock_offset" and first.evidence["correcting"] is True
    assert -30.0 < first.evidence["offset_s"] <= -10.0, first.summary
    assert first.time_s < T0 + 600 + 30 * 60          # before the clock is 30 s behind
    assert first.evidence["drift_s_per_h"] < -15.0 and "drifting" in first.summary
    last = alerts[-1].evidence                        # the rate converges to the truth: 60 s an hour
    assert abs(last["drift_s_per_h"] + 60.0) < 6.0, last
    assert abs(last["offset_s"] + (60 * 60 - 600 - 60) / 60.0) < 5.0, last


def test_slow_drift_and_jitter_raise_nothing():
    """A crystal without its time source (1 s an hour), a slow 3 s an hour, and a receiver 8 s
    behind with network jitter: all within tolerance."""
    obs = heard_with(reports(60), {"RX-A": lambda s: s / 3600.0, "RX-B": lambda s: 3.0 * s / 3600.0,
                                   "RX-C": lambda s: -8.0, "RX-D": lambda s: 0.0})
    assert run(integrity_engine(), obs) == []


def test_a_steady_offset_of_twenty_seconds_is_not_a_drift():
    """Not growing: 20 s behind from the start stays under the 30 s limit, whatever the trend fit says."""
    obs = heard_with(reports(60), {"RX-A": lambda s: 0.0, "RX-B": lambda s: 0.0, "RX-C": lambda s: -20.0,
                                   "RX-D": lambda s: 0.0})
    assert run(integrity_engine(), obs) == []
