"""Anchored ships are not loitering: navigational status at anchor / moored near the coast, and
anchorages learned from where many distinct vessels stop (fusion.rules.traffic)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from pyproj import Geod
from shapely.geometry import Point, shape

from fusion.geodesy import M_PER_DEG_LAT
from fusion.rules import RulesConfig
from services.state.codec import decode, encode
from tests.rules_builders import T0, ais, engine, geography, latest, line, of_type, run

GEOD = Geod(ellps="WGS84")
# 5.5 km east of the builders' island (box 114.0-114.2E, 10.0-10.2N), 260 km from its only port
SPOT = (10.10, 114.25)


def _anchored(tid: str, mmsi: int, lat: float, lon: float, t0: float, hours: float, status: int | None,
              every_s: float = 60.0) -> tuple[list, list]:
    """A ship swinging at anchor (about 0.1 kn, within 100 m) reporting ``status``."""
    obs, lines = [], []
    for k in range(int(hours * 3600 / every_s) + 1):
        t = t0 + k * every_s
        la = lat + (0.0005 if k % 4 < 2 else -0.0005)
        obs.append(ais(mmsi, t, la, lon, sog=0.1, cog=0.0, nav_status=status))
        lines.append(line(tid, t, la, lon, 0.1, 0.0, mmsi))
    return obs, lines


def test_spot_is_far_from_ports_and_near_the_coast():
    geo = geography()
    assert geo.nearest_port(*SPOT, 20_000) is None and geo.anchorage_at(*SPOT) is None
    _, _, d = GEOD.inv(114.2, 10.10, SPOT[1], SPOT[0])
    assert 5000 < d < 6000
    assert geo.nearest_port(*NEAR_COAST, 20_000) is None and not geo.watch_zones_at(*NEAR_COAST)


def test_one_gathering_makes_no_anchorage_nor_does_a_fleet_in_a_watch_zone():
    """Eight vessels stopping together for an hour are a gathering, not an anchorage; and stops
    inside a watch zone (a disputed feature's 12 nm) never teach one."""
    eng = engine()
    obs, lines = [], []
    for k in range(8):
        o, ln = _anchored(f"G{k}", 533_000_300 + k, NEAR_COAST[0] + 0.001 * k, NEAR_COAST[1], T0, 1.0, None)
        obs += o
        lines += ln
    run(eng, obs, lines)
    assert not eng.ctx.traffic.anchor_cells
    eng = engine()
    obs, lines = _stops(8, 10.1, 115.1)        # the builders' watch zone
    run(eng, obs, lines)
    assert not eng.ctx.traffic.anchor_cells


def test_a_ship_at_anchor_for_three_hours_ten_km_from_any_port_is_not_loitering():
    obs, lines = _anchored("T1", 548_000_001, *SPOT, T0, 3.0, status=1)
    assert not of_type(run(engine(), obs, lines), "loitering")
    obs, lines = _anchored("T1", 548_000_001, *SPOT, T0, 3.0, status=5)   # moored
    assert not of_type(run(engine(), obs, lines), "loitering")
    # the same ship reporting "under way using engine" (0) is loitering after two hours
    obs, lines = _anchored("T1", 548_000_001, *SPOT, T0, 3.0, status=0)
    (a,) = latest(of_type(run(engine(), obs, lines), "loitering")).values()
    assert T0 + 7200 <= a.time_s <= T0 + 7300


def test_at_anchor_far_out_at_sea_is_still_loitering():
    """'At anchor' 100 km from any land is no anchorage (and a status anyone can set)."""
    lat, lon = 10.10, 114.2 + 0.915   # about 100 km east of the island, outside the watch zone
    obs, lines = _anchored("T2", 548_000_002, lat, lon, T0, 3.0, status=1)
    assert of_type(run(engine(), obs, lines), "loitering")


def _stops(n: int, lat: float, lon: float) -> tuple[list, list]:
    """``n`` distinct vessels, one every four hours, each stopped 40 min within 200 m of the spot
    (no navigational status: speed alone), then leaving at 10 kn."""
    obs, lines = [], []
    for k in range(n):
        t0 = T0 + 4 * 3600 * k      # one every four hours: the stops span more than a day
        la = lat + 0.0005 * (k % 4) - 0.00075
        o, ln = _anchored(f"V{k}", 533_000_100 + k, la, lon + 0.0005 * (k % 3), t0, 40 / 60, status=None)
        obs += o
        lines += ln
        lines.append(line(f"V{k}", t0 + 2460, la, lon, 10.0, 90.0, 533_000_100 + k, status="lost"))
    return obs, lines


_D = RulesConfig().learn_cell_m / M_PER_DEG_LAT
# 16 km off the builders' island, far from their port and watch zone (the middle of one grid cell)
NEAR_COAST = ((math.floor(10.35 / _D) + 0.5) * _D, (math.floor(114.10 / _D) + 0.5) * _D)


def test_eight_vessels_stopping_make_an_anchorage_where_a_ninth_does_not_loiter():
    eng = engine()
    obs, lines = _stops(8, *NEAR_COAST)
    run(eng, obs, lines)
    doc = eng.ctx.traffic.anchorages_geojson()
    (feat,) = doc["features"]
    poly = shape(feat["geometry"])
    assert poly.contains(Point(NEAR_COAST[1], NEAR_COAST[0]))
    assert feat["properties"]["vessels_at_least"] >= RulesConfig().anchorage_min_vessels
    # merged cells of ~1 km: a few km² at most, measured on the ellipsoid
    area_km2 = abs(GEOD.geometry_area_perimeter(poly)[0]) / 1e6
    assert 0.5 <= area_km2 <= 6.0
    json.dumps(doc)                        # plain GeoJSON
    t9 = T0 + 4 * 3600 * 9
    obs, lines = _anchored("V9", 533_000_199, *NEAR_COAST, t9, 3.0, status=None)
    assert not of_type(run(eng, obs, lines), "loitering")


def test_three_vessels_are_not_enough_and_the_fourth_loiters():
    eng = engine()
    obs, lines = _stops(3, *NEAR_COAST)
    run(eng, obs, lines)
    assert eng.ctx.traffic.anchorages_geojson()["features"] == []
    obs, lines = _anchored("V9", 533_000_199, *NEAR_COAST, T0 + 4 * 3600 * 9, 3.0, status=None)
    assert of_type(run(eng, obs, lines), "loitering")


def test_learned_places_survive_a_checkpoint():
    eng = engine()
    obs, lines = _stops(8, *NEAR_COAST)
    run(eng, obs, lines)
    tree, arrays = encode(eng, {"geo": eng.ctx.geo})
    back = decode(json.loads(json.dumps(tree)), arrays, {"geo": eng.ctx.geo})
    assert back.ctx.traffic.anchorage_at(*NEAR_COAST)
    assert back.ctx.traffic.anchorages_geojson() == eng.ctx.traffic.anchorages_geojson()


@pytest.mark.parametrize("n", [5, 8, 10])
def test_the_threshold_is_a_setting(n):
    for k in (n - 1, n):
        eng = engine(anchorage_min_vessels=n, anchorage_min_span_s=0.0)
        obs, lines = _stops(k, *NEAR_COAST)
        run(eng, obs, lines)
        assert bool(eng.ctx.traffic.anchorage_at(*NEAR_COAST)) == (k >= n)


def test_a_ship_casting_off_after_hours_moored_is_not_loitering():
    """Moored (status 5) for three hours 10 km from any port, then under way (status 0) and
    leaving at 8 kn: the hours at the berth are not loitering, before or after it sails.
    Before the window restarted on the status, loitering fired the moment the status became 0."""
    obs, lines = _anchored("T3", 548_000_003, *SPOT, T0, 3.0, status=5)
    t = T0 + 3 * 3600
    for k in range(1, 61):          # under way: 0.4 kn for the first 5 min (casting off), then 8 kn east
        sog = 0.4 if k <= 5 else 8.0
        lon = SPOT[1] + (max(k - 5, 0) * 60 * 8 * 0.5144) / (M_PER_DEG_LAT * math.cos(math.radians(SPOT[0])))
        obs.append(ais(548_000_003, t + 60 * k, SPOT[0], lon, sog=sog, cog=90.0, nav_status=0))
        lines.append(line("T3", t + 60 * k, SPOT[0], lon, sog, 90.0, 548_000_003))
    assert not of_type(run(engine(), obs, lines), "loitering")


def _pair(statuses: tuple[int | None, int | None], apart_m: float, lat: float = SPOT[0], lon: float = SPOT[1]):
    """Two ships at rest ``apart_m`` apart (east-west) for two hours, reporting ``statuses``."""
    lon_b, _, _ = GEOD.fwd(lon, lat, 90.0, apart_m)
    oa, la = _anchored("A", 548_000_011, lat, lon, T0, 2.0, statuses[0])
    ob, lb = _anchored("B", 533_000_012, lat, lon_b, T0, 2.0, statuses[1])
    return of_type(run(engine(), oa + ob, la + lb), "rendezvous")


@pytest.mark.parametrize("statuses, apart_m, meets", [
    ((5, 5), 100.0, False),    # moored at neighbouring berths (or rafted alongside) near the coast
    ((1, 1), 350.0, False),    # neighbours in one anchorage, clear of each other's swing circle
    ((1, 5), 100.0, False),
    ((1, 1), 60.0, True),      # both "at anchor" and alongside: a transfer at anchor
    ((0, 0), 350.0, True),     # the same pair not reporting at anchor: a meeting at sea
    ((None, 1), 350.0, True),  # only one says it is at anchor
])
def test_ships_at_anchor_or_moored_as_neighbours_are_no_rendezvous_alongside_still_is(statuses, apart_m, meets):
    assert bool(_pair(statuses, apart_m)) is meets


def test_moored_neighbours_far_out_at_sea_still_meet():
    """'Moored' 100 km from any land is not a berth: the status does not excuse the meeting."""
    assert _pair((5, 5), 100.0, 10.10, 114.2 + 0.915)


def test_fishing_vessels_drift_where_no_eez_applies_but_loiter_in_another_states_eez():
    """A fishing vessel working slowly for three hours where the layer has no EEZ (the high seas,
    a disputed feature) is fishing; a cargo ship there loiters; a Chinese fishing vessel drifting
    in the Philippine EEZ loiters; a Philippine one there is at home."""
    geo = geography()
    no_eez, ph_eez = (10.8, 115.5), (10.8, 117.5)
    assert geo.eez_states_at(*no_eez) == [] and geo.eez_states_at(*ph_eez) == ["PH"]

    def loiters(mmsi, spot, ship_type):
        obs, lines = _anchored("F", mmsi, *spot, T0, 3.0, status=0)
        lines = [dataclasses.replace(ln, ship_type=ship_type) for ln in lines]   # flag from the MID: 412 CN, 548 PH
        return bool(of_type(run(engine(), obs, lines), "loitering"))

    assert not loiters(412_000_021, no_eez, 30)
    assert loiters(412_000_022, no_eez, 70)
    assert loiters(412_000_023, ph_eez, 30)
    assert not loiters(548_000_024, ph_eez, 30)


def test_two_fishing_boats_together_are_no_encounter_a_fishing_boat_and_a_carrier_are():
    """As Global Fishing Watch's encounters: two fishing vessels drifting side by side (a fleet,
    pair trawlers) are not reported; a fishing vessel with a reefer (a transshipment) is."""
    lat, lon = 10.8, 115.5                              # at sea, no EEZ, far from ports
    lon_b, _, _ = GEOD.fwd(lon, lat, 90.0, 200.0)

    def meets(type_a, type_b):
        oa, la = _anchored("A", 412_000_031, lat, lon, T0, 2.0, 0)
        ob, lb = _anchored("B", 412_000_032, lat, lon_b, T0, 2.0, 0)
        la = [dataclasses.replace(x, ship_type=type_a) for x in la]
        lb = [dataclasses.replace(x, ship_type=type_b) for x in lb]
        return bool(of_type(run(engine(), oa + ob, la + lb), "rendezvous"))

    assert not meets(30, 30)
    assert meets(30, 79)          # 79: cargo, no additional information (refrigerated cargo carriers)
    assert meets(70, 80)
