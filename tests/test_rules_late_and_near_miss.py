"""Late / out-of-order data revises or retracts alerts with a message (never a silent delete),
and near-misses added with the alert evaluation (bench/alerts.py)."""

from __future__ import annotations

from fusion.model import Observation, Sensor
from fusion.pipeline import Fusion
from tests.rules_builders import (
    T0, EEZ_PH, ais, east_of, engine, first_open, geography, latest, move, of_type, run, voyage,
)

PH = 548_000_001
VN_FISHER = 574_400_001
PH_FISHER = 548_400_002


def _reports(mmsi: int, lat: float, lon: float, t0: float, t1: float, every: float = 60.0) -> list[Observation]:
    out = []
    t = t0
    while t <= t1:
        la, lo = move(lat, lon, 8.0, 90.0, t - t0)
        out.append(ais(mmsi, t, la, lo, 8.0, 90.0))
        t += every
    return out


def test_late_report_that_leaves_a_long_silence_updates_the_gap_alert():
    eng = engine()
    obs = _reports(PH, 10.3, 114.6, T0, T0 + 1200)
    run(eng, obs, [])
    fired = of_type(eng.advance(T0 + 1200 + 3 * 3600), "ais_gap")
    assert len(fired) == 1 and fired[0].state == "open"
    # a report from 10 min into the silence arrives (satellite, store-and-forward): still ≥ 30 min silent
    late = of_type(eng.process([ais(PH, T0 + 1800, 10.3, 114.7)], []), "ais_gap")
    assert len(late) == 1 and late[0].alert_id == fired[0].alert_id
    assert late[0].state == "open" and late[0].evidence["last_ais_s"] == T0 + 1800
    assert late[0].evidence["silence_s"] < fired[0].evidence["silence_s"] + 3 * 3600


def test_late_report_through_the_fusion_pipeline_retracts_with_a_message():
    sensors = {"AIS-A": Sensor("AIS-A", "ais", 10.0, 114.5, range_m=150_000.0)}
    fusion = Fusion(sensors, geography())
    obs = _reports(PH, 10.3, 114.6, T0, T0 + 1200)
    alerts = []
    for k in range(0, len(obs), 5):
        alerts += fusion.update(obs[k:k + 5])[1]
    alerts += fusion.advance(T0 + 1200 + 1860)[1]
    gap = first_open(alerts, "ais_gap")
    # the feed from a second station arrives late and out of order: the vessel was reporting
    late = [ais(PH, T0 + 1200 + 1500, *move(10.3, 114.6, 8.0, 90.0, 2700), 8.0, 90.0, sensor="AIS-A"),
            ais(PH, T0 + 1200 + 900, *move(10.3, 114.6, 8.0, 90.0, 2100), 8.0, 90.0, sensor="AIS-A")]
    out = of_type(fusion.update(late)[1], "ais_gap")
    assert [a.alert_id for a in out] == [gap.alert_id]
    assert out[0].state == "retracted" and out[0].summary.startswith("Retracted:")
    assert "late AIS report" in out[0].summary and out[0].evidence["retracted_s"] >= gap.time_s
    # nothing disappears: every alert id ever emitted has a last version with a known state
    assert {a.state for a in latest(alerts + out).values()} <= {"open", "closed", "retracted"}


def test_ship_steaming_out_of_receiver_coverage_is_not_an_ais_gap():
    # 140 km from the receiver (range 150 km), steaming away at 14 kn: after 30 min it is ~163 km out
    lat, lon = 10.0, east_of(10.0, 114.5, 140_000)
    obs = []
    for k in range(30):
        la, lo = move(lat, lon, 14.0, 90.0, 60.0 * k)
        obs.append(ais(PH, T0 + 60.0 * k, la, lo, 14.0, 90.0))
    eng = engine()
    alerts = run(eng, obs, [], until_s=T0 + 4 * 3600)
    assert not of_type(alerts, "ais_gap")
    # the same ship stopped there (0 kn) and went silent: that silence is inside coverage
    eng = engine()
    still = [ais(PH, T0 + 60.0 * k, lat, lon, 0.0, 90.0) for k in range(30)]
    assert of_type(run(eng, still, [], until_s=T0 + 4 * 3600), "ais_gap")


def test_fishing_vessel_drifting_on_its_own_grounds_does_not_loiter_a_foreign_one_does():
    lat, lon = 12.0, 117.5   # inside the test PH EEZ
    assert EEZ_PH.contains(__import__("shapely").Point(lon, lat))
    _, own = voyage("F1", PH_FISHER, lat, lon, 0.6, 30.0, T0, T0 + 9000, 60.0, ship_type=30)
    _, foreign = voyage("F2", VN_FISHER, lat + 0.2, lon, 0.6, 30.0, T0, T0 + 9000, 60.0, ship_type=30)
    _, cargo = voyage("C1", 533_400_003, lat + 0.4, lon, 0.6, 30.0, T0, T0 + 9000, 60.0, ship_type=70)
    loiter = latest(of_type(run(engine(), [], own + foreign + cargo), "loitering"))
    assert sorted(a.track_id for a in loiter.values()) == ["C1", "F2"]


def test_two_ships_passing_close_at_speed_and_a_ship_anchored_in_port_raise_nothing():
    from tests.rules_builders import PORT
    _, plat, plon = PORT
    _, anchored = voyage("P1", 533_400_010, plat, east_of(plat, plon, 1500), 0.1, 0.0, T0, T0 + 6 * 3600, 120.0)
    _, a = voyage("X1", 533_400_011, 11.0, 115.4, 12.0, 90.0, T0, T0 + 3600, 10.0)
    _, b = voyage("X2", 533_400_012, 11.0015, east_of(11.0, 115.4, 24_000), 12.0, 270.0, T0, T0 + 3600, 10.0)
    alerts = run(engine(), [], anchored + a + b)
    assert not of_type(alerts, "loitering") and not of_type(alerts, "rendezvous")
