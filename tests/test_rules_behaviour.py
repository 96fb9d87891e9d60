"""Rules over track behaviour and places: loitering, rendezvous, zone_entry, foreign_fishing, swarm."""

from __future__ import annotations

import json
import math
import sys
from collections import deque

from pyproj import Geod

from fusion.geodesy import KN_TO_MS, M_PER_DEG_LAT
from services.state.codec import decode, encode
from tests.rules_builders import (
    PORT, T0, ZONE_NAME, east_of, engine, first_open, latest, line, of_type, run, voyage,
)

PH_FISHER = 548_100_001
VN_FISHER = 574_100_002
CN_FISHER = 412_100_003


# ------------------------------------------------------------------ loitering
def test_loitering_fires_after_two_hours_slow_at_sea():
    _, lines = voyage("T3", 533_000_001, 10.8, 115.5, 0.8, 30.0, T0, T0 + 9000, 60.0)
    alerts = of_type(run(engine(), [], lines), "loitering")
    a = first_open(alerts, "loitering")
    assert a.track_id == "T3" and a.mmsi == 533_000_001
    assert T0 + 7200 <= a.time_s <= T0 + 7200 + 120
    assert abs(a.evidence["mean_speed_kn"] - 0.8) < 0.05
    assert len(latest(alerts)) == 1


def test_loitering_closes_when_under_way_again():
    _, slow = voyage("T3", None, 10.8, 115.5, 0.8, 30.0, T0, T0 + 7800, 60.0, sources=("radar",))
    last = slow[-1]
    _, fast = voyage("T3", None, last.lat, last.lon, 12.0, 30.0, T0 + 7860, T0 + 8700, 60.0, sources=("radar",))
    final = latest(of_type(run(engine(), [], slow + fast), "loitering"))
    assert [a.state for a in final.values()] == ["closed"]


def test_a_loitering_window_survives_a_checkpoint_and_stays_small():
    """Stopped 90 minutes into a slow drift and restored from checkpoint data, the rule fires at
    the same moment with the same mean as without the stop; and two hours of window on a
    track keep to a few kilobytes (thousands of tracks hold one)."""
    speeds = [0.4, 1.1, 0.7, 1.6]  # a drift of varying speed: the mean must come out the same
    lines = []
    for k, t in enumerate(range(0, 9001, 45)):  # reports 45 s apart (samples every 90 s)
        sog = speeds[(k // 7) % 4]
        lines += voyage("T3", None, 10.8, 115.5, sog, 30.0, T0 + t, T0 + t, 60.0, sources=("radar",))[1]
    whole = first_open(of_type(run(engine(), [], lines), "loitering"), "loitering")

    eng = engine()
    cut = T0 + 5400
    run(eng, [], [ln for ln in lines if ln.time_s < cut])
    rule = next(r for r in eng.rules if "loitering" in r.types)
    held = _deep_size(rule.tracks["T3"].segs)
    assert 0 < held < 200 + 40 * (5400 // 90)  # at most 40 bytes a segment (one per 90 s sample)
    tree, arrays = encode(eng, {"geo": eng.ctx.geo})
    back = decode(json.loads(json.dumps(tree)), arrays, {"geo": eng.ctx.geo})
    resumed = first_open(of_type(run(back, [], [ln for ln in lines if ln.time_s >= cut]), "loitering"), "loitering")
    assert (resumed.time_s, resumed.evidence) == (whole.time_s, whole.evidence)
    assert T0 + 7200 <= whole.time_s <= T0 + 7200 + 90
    assert 0.4 < whole.evidence["mean_speed_kn"] < 1.6


def _deep_size(obj: object) -> int:
    size = sys.getsizeof(obj)
    if isinstance(obj, (tuple, list, deque)):
        size += sum(_deep_size(x) for x in obj)
    return size


def test_no_loitering_near_a_port_in_an_anchorage_or_under_way():
    _, lat_port, lon_port = PORT
    _, near_port = voyage("P1", 533_000_002, lat_port + 2000 / M_PER_DEG_LAT, lon_port, 0.3, 0.0, T0, T0 + 9000, 60.0)
    _, anchored = voyage("P2", 533_000_003, 10.05, 116.05, 0.2, 0.0, T0, T0 + 9000, 60.0)
    _, cruising = voyage("P3", 533_000_004, 10.8, 115.5, 6.0, 0.0, T0, T0 + 9000, 60.0)
    _, too_short = voyage("P4", 533_000_005, 10.9, 115.6, 0.5, 0.0, T0, T0 + 6600, 60.0)
    alerts = run(engine(), [], near_port + anchored + cruising + too_short)
    assert not of_type(alerts, "loitering")


# ------------------------------------------------------------------ rendezvous
def test_rendezvous_two_slow_vessels_side_by_side_for_an_hour():
    lat, lon = 11.0, 115.5
    _, a = voyage("T10", 533_000_010, lat, lon, 0.5, 0.0, T0, T0 + 5400, 60.0)
    _, b = voyage("T11", 574_000_011, lat, east_of(lat, lon, 200), 0.5, 0.0, T0, T0 + 5400, 60.0)
    alerts = of_type(run(engine(), [], a + b), "rendezvous")
    r = first_open(alerts, "rendezvous")
    assert {r.track_id, r.evidence["other_track_id"]} == {"T10", "T11"}
    assert {r.mmsi, r.evidence["other_mmsi"]} == {533_000_010, 574_000_011}
    assert T0 + 3600 <= r.time_s <= T0 + 3660
    assert 180 <= r.evidence["distance_m"] <= 220
    assert len(latest(alerts)) == 1


def test_rendezvous_closes_when_they_part():
    lat, lon = 11.0, 115.5
    _, a = voyage("T10", None, lat, lon, 0.5, 0.0, T0, T0 + 4200, 60.0, sources=("radar",))
    _, b = voyage("T11", None, lat, east_of(lat, lon, 200), 0.5, 0.0, T0, T0 + 4200, 60.0, sources=("radar",))
    _, away = voyage("T11", None, b[-1].lat, b[-1].lon, 14.0, 90.0, T0 + 4260, T0 + 4800, 60.0, sources=("radar",))
    final = latest(of_type(run(engine(), [], a + b + away), "rendezvous"))
    assert [x.state for x in final.values()] == ["closed"]


def test_no_rendezvous_for_passing_vessels_distant_pairs_or_in_port():
    lat, lon = 11.0, 115.5
    # two vessels passing 100 m apart at 10 kn on opposite courses
    _, p1 = voyage("A1", 533_000_020, lat, lon, 10.0, 90.0, T0, T0 + 5400, 10.0)
    _, p2 = voyage("A2", 533_000_021, lat + 100 / M_PER_DEG_LAT, east_of(lat, lon, 30_000), 10.0, 270.0,
                   T0, T0 + 5400, 10.0)
    # two slow vessels 2 km apart
    _, d1 = voyage("B1", 533_000_022, 12.0, 115.0, 0.5, 0.0, T0, T0 + 5400, 60.0)
    _, d2 = voyage("B2", 533_000_023, 12.0, east_of(12.0, 115.0, 2000), 0.5, 0.0, T0, T0 + 5400, 60.0)
    # two slow vessels 200 m apart 1 km from a port
    _, plat, plon = PORT
    _, q1 = voyage("C1", 533_000_024, plat, east_of(plat, plon, 1000), 0.3, 0.0, T0, T0 + 5400, 60.0)
    _, q2 = voyage("C2", 533_000_025, plat, east_of(plat, plon, 1200), 0.3, 0.0, T0, T0 + 5400, 60.0)
    alerts = run(engine(), [], p1 + p2 + d1 + d2 + q1 + q2)
    assert not of_type(alerts, "rendezvous")


# ------------------------------------------------------------------ zone_entry
def test_zone_entry_when_crossing_into_the_watch_zone_and_close_on_exit():
    lat, lon0, sog = 10.1, 114.9, 10.0
    _, lines = voyage("T20", 548_000_020, lat, lon0, sog, 90.0, T0, T0 + 7000, 10.0)
    alerts = of_type(run(engine(), [], lines), "zone_entry")
    geod = Geod(ellps="WGS84")  # the voyage runs along the parallel: its length by pyproj
    dist_to_edge = geod.inv(lon0, lat, 115.0, lat)[2]
    t_entry = T0 + dist_to_edge / (sog * KN_TO_MS)
    a = first_open(alerts, "zone_entry")
    assert a.zone == ZONE_NAME and a.track_id == "T20" and a.severity == "medium"
    assert t_entry <= a.time_s <= t_entry + 10
    assert a.evidence["first_seen_inside"] is False
    # leaves the east side (0.2° on) and is closed once more than 500 m out
    t_exit = t_entry + geod.inv(115.0, lat, 115.2, lat)[2] / (sog * KN_TO_MS)
    final = latest(alerts)
    assert len(final) == 1
    closed = final[a.alert_id]
    assert closed.state == "closed"
    assert t_exit <= closed.evidence["closed_s"] <= t_exit + 500 / (sog * KN_TO_MS) + 20


def test_hovering_on_the_zone_edge_gives_one_alert_then_reentry_gives_another():
    lat, edge = 10.1, 115.0
    lines = []
    for k in range(360):   # one hour, ±250 m across the west edge every 10 s
        t = T0 + 10 * k
        lines.append(line("T21", t, lat, east_of(lat, edge, 250 * math.sin(k / 5.0)), 3.0, 90.0, 548_000_021))
    alerts = run(engine(), [], lines)
    assert len(latest(of_type(alerts, "zone_entry"))) == 1
    # leave 3 km west, wait, come back in
    eng = engine()
    lines += [line("T21", T0 + 3600 + 60 * k, lat, east_of(lat, edge, -3000), 3.0, 270.0, 548_000_021)
              for k in range(1, 20)]
    lines += [line("T21", T0 + 5000 + 10 * k, lat, east_of(lat, edge, 100 * k), 3.0, 90.0, 548_000_021)
              for k in range(1, 10)]
    alerts = of_type(run(eng, [], lines), "zone_entry")
    final = latest(alerts)
    assert len(final) == 2
    states = [final[k].state for k in sorted(final, key=lambda x: int(x[1:]))]
    assert states == ["closed", "open"]


def test_track_outside_the_zone_gives_no_entry():
    _, lines = voyage("T22", 548_000_022, 10.3, 114.9, 10.0, 90.0, T0, T0 + 5000, 10.0)  # north of the zone
    assert not of_type(run(engine(), [], lines), "zone_entry")


# ------------------------------------------------------------------ foreign_fishing
def test_foreign_fishing_vn_fisher_in_ph_eez():
    _, lines = voyage("T30", VN_FISHER, 12.0, 117.5, 3.0, 45.0, T0, T0 + 2700, 60.0, ship_type=30)
    alerts = of_type(run(engine(), [], lines), "foreign_fishing")
    a = first_open(alerts, "foreign_fishing")
    assert a.track_id == "T30" and a.mmsi == VN_FISHER
    assert a.evidence["flag"] == "VN" and a.evidence["eez_states"] == ["PH"]
    assert T0 + 1800 <= a.time_s <= T0 + 1800 + 60
    assert len(latest(alerts)) == 1


def test_no_foreign_fishing_for_own_flag_transit_speed_cargo_or_short_stay():
    _, own = voyage("F1", PH_FISHER, 12.0, 117.5, 3.0, 45.0, T0, T0 + 3600, 60.0, ship_type=30)
    _, transit = voyage("F2", VN_FISHER, 12.5, 117.5, 10.0, 45.0, T0, T0 + 3600, 60.0, ship_type=30)
    _, cargo = voyage("F3", CN_FISHER, 13.0, 117.5, 3.0, 45.0, T0, T0 + 3600, 60.0, ship_type=70)
    _, home = voyage("F4", VN_FISHER + 1, 10.0, 110.0, 3.0, 45.0, T0, T0 + 3600, 60.0, ship_type=30)
    _, short = voyage("F5", CN_FISHER + 1, 13.5, 117.5, 3.0, 45.0, T0, T0 + 1500, 60.0, ship_type=30)
    alerts = run(engine(), [], own + transit + cargo + home + short)
    assert not of_type(alerts, "foreign_fishing")


# ------------------------------------------------------------------ swarm
def _fleet(n: int, lat: float, lon: float, spacing_m: float, sog: float, t1: float) -> list:
    lines = []
    side = math.ceil(math.sqrt(n))
    for k in range(n):
        la = lat + (k // side - side / 2) * spacing_m / M_PER_DEG_LAT
        lo = east_of(lat, lon, (k % side - side / 2) * spacing_m)
        lines += voyage(f"S{k}", 412_200_000 + k, la, lo, sog, 0.0, T0, t1, 60.0)[1]
    return lines


def test_swarm_of_25_slow_vessels_for_an_hour():
    lines = _fleet(25, 9.99, 114.64, 500.0, 0.5, T0 + 4800)
    alerts = of_type(run(engine(), [], lines), "swarm")
    s = first_open(alerts, "swarm")
    assert s.evidence["vessels"] == 25
    assert {m["track_id"] for m in s.evidence["members"]} == {f"S{k}" for k in range(25)}
    assert T0 + 3600 <= s.time_s <= T0 + 3600 + 150
    assert abs(s.lat - 9.99) < 0.02 and abs(s.lon - 114.64) < 0.02
    assert len(latest(alerts)) == 1


def test_no_swarm_when_spread_out_too_few_or_moving():
    spread = _fleet(25, 12.0, 113.0, 8000.0, 0.5, T0 + 4800)
    few = _fleet(19, 9.99, 114.64, 500.0, 0.5, T0 + 4800)
    for lines in (spread, few, _fleet(25, 9.99, 114.64, 500.0, 6.0, T0 + 4800)):
        assert not of_type(run(engine(), [], lines), "swarm")


def test_swarm_closes_when_it_disperses():
    lines = _fleet(25, 9.99, 114.64, 500.0, 0.5, T0 + 4200)
    lines += [line(f"S{k}", T0 + 4300, 9.99, 114.64, 0.5, 0.0, 412_200_000 + k, status="lost") for k in range(10)]
    eng = engine()
    alerts = run(eng, [], lines, until_s=T0 + 4500)
    final = latest(of_type(alerts, "swarm"))
    assert [a.state for a in final.values()] == ["closed"]


def test_rendezvous_pair_that_breaks_and_reforms_needs_a_full_hour_again():
    lat, lon = 11.0, 115.5
    _, a = voyage("T10", None, lat, lon, 0.3, 0.0, T0, T0 + 6000, 60.0, sources=("radar",))
    b = voyage("T11", None, lat, east_of(lat, lon, 200), 0.3, 0.0, T0, T0 + 1200, 60.0, sources=("radar",))[1]
    b += [line("T11", T0 + 1260 + 60 * k, lat, east_of(lat, lon, 3000), 0.3, 0.0) for k in range(5)]
    b += voyage("T11", None, lat, east_of(lat, lon, 200), 0.3, 0.0, T0 + 1800, T0 + 6000, 60.0,
                sources=("radar",))[1]
    alerts = of_type(run(engine(), [], a + b), "rendezvous")
    r = first_open(alerts, "rendezvous")
    assert T0 + 1800 + 3600 <= r.time_s <= T0 + 1800 + 3660
