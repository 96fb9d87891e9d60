"""The rule engine as a whole: ids, determinism, JSON-ready alerts, the real tracker, speed."""

from __future__ import annotations

import json
import random

from fusion.model import Sensor
from fusion.rules import ALERT_TYPES, RuleEngine, RulesConfig
from fusion.tracker import Tracker
from tests.builders import vessel_plots
from tests.rules_builders import (
    T0, ais, east_of, engine, geography, line, move, of_type, run, voyage,
)


def _mixed_scenario():
    """Several rules at once: a gap with radar, a dark vessel, a jump, distress, invalid MMSI, zone entry."""
    obs, lines = voyage("T1", 548_000_001, 10.3, 114.6, 8.0, 90.0, T0, T0 + 1200, 10.0, sources=("ais", "radar"))
    lines += voyage("T1", 548_000_001, *move(10.3, 114.6, 8.0, 90.0, 1210), 8.0, 90.0, T0 + 1210, T0 + 4000,
                    30.0, sources=("radar",))[1]
    lines += voyage("T2", None, 10.4, 114.7, 6.0, 45.0, T0, T0 + 2000, 6.0, sources=("radar",))[1]
    o3, l3 = voyage("T3", 548_000_020, 10.1, 114.9, 10.0, 90.0, T0, T0 + 3000, 10.0)
    obs += o3 + [ais(123_456_789, T0 + 50, 10.6, 114.6), ais(970_548_001, T0 + 700, 10.7, 114.9),
                 ais(563_000_002, T0 + 100, 10.5, 114.6), ais(563_000_002, T0 + 160, 10.8, 114.6)]
    return obs, lines + l3


def test_alert_ids_in_order_types_known_and_json_ready():
    obs, lines = _mixed_scenario()
    alerts = run(engine(), obs, lines, until_s=T0 + 5000)
    types = {a.type for a in alerts}
    assert {"ais_gap", "dark_vessel", "zone_entry", "invalid_identity", "distress", "speed_jump"} <= types
    assert types <= set(ALERT_TYPES)
    first_seen = []
    for a in alerts:
        if a.alert_id not in first_seen:
            first_seen.append(a.alert_id)
    assert first_seen == [f"A{k}" for k in range(1, len(first_seen) + 1)]
    for a in alerts:
        d = json.loads(json.dumps(a.to_dict()))
        assert d["state"] in ("open", "closed", "retracted")
        assert d["severity"] in ("info", "low", "medium", "high", "critical")
        assert d["evidence"]["releasability"]
        assert a.summary


def test_deterministic_and_independent_of_batching():
    obs, lines = _mixed_scenario()
    one = [a.to_dict() for a in run(engine(), obs, lines, until_s=T0 + 5000, chunk_s=1e9)]
    small = [a.to_dict() for a in run(engine(), obs, lines, until_s=T0 + 5000, chunk_s=7.0)]
    again = [a.to_dict() for a in run(engine(), obs, lines, until_s=T0 + 5000, chunk_s=7.0)]
    assert one == small == again


def test_emitted_alerts_are_snapshots():
    eng = engine()
    first = eng.process([ais(970_548_001, T0, 10.7, 114.9)], [])
    eng.advance(T0 + 4000)
    assert first[0].state == "open"


def test_enabled_limits_the_rules():
    obs, lines = _mixed_scenario()
    alerts = run(engine(enabled=("distress",)), obs, lines, until_s=T0 + 5000)
    assert {a.type for a in alerts} == {"distress"}


def test_with_the_real_tracker_gap_and_dark_vessel():
    radar = Sensor("R1", "radar", 10.4, 114.6, range_m=60_000, scan_period_s=6.0)
    tracker = Tracker({"R1": radar})
    eng = RuleEngine(geography(), RulesConfig())
    mmsi = 548_000_077
    stop = T0 + 1200
    ais_obs = [ais(mmsi, T0 + 10 * k, *move(10.2, 114.5, 8.0, 90.0, 10 * k), sog=8.0, cog=90.0)
               for k in range(121)]
    plots = vessel_plots(random.Random(3), 10.45, 114.65, 5.0, 30.0, scans=300, period_s=6.0, t0=T0)
    feed = sorted(ais_obs + plots, key=lambda o: o.time_s)
    alerts = []
    for k in range(0, len(feed), 50):
        batch = feed[k:k + 50]
        alerts += eng.process(batch, tracker.update(batch))
    t = feed[-1].time_s
    while t < stop + 2400:
        t += 30
        alerts += eng.process([], tracker.advance(t))
        alerts += eng.advance(t)
    gap = of_type(alerts, "ais_gap")
    assert gap and gap[0].mmsi == mmsi and gap[0].severity == "medium"
    assert stop + 1800 <= gap[0].time_s <= stop + 1830
    dark = of_type(alerts, "dark_vessel")
    assert dark and dark[0].mmsi is None
    assert T0 + 900 <= dark[0].time_s <= T0 + 960
