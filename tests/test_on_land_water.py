"""Rivers are water: on_land and gnss_interference on the real layers (services/data/geo), with the
shipped inland water layer and water learned from traffic.  Positions are real places on the
Pearl River (Huangpu port, Dongguan/Humen), the Saigon (Long Tau) River below Ho Chi Minh City, and inland
Guangdong and central Luzon far from any river."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Polygon

from fusion.geodesy import KN_TO_MS
from fusion.rules import Geography, RuleEngine, RulesConfig
from services.geo.geography import build_geography
from tests.rules_builders import T0, ais, latest, line, of_type, run

RIVER = {"Huangpu, Pearl River": (23.09, 113.45), "Dongguan, Pearl River": (22.95, 113.60)}
SAIGON = (10.62, 106.80)   # Long Tau channel, 17 km from the nearest listed port (Tan Cang)
INTERIOR = {"inland Guangdong": (23.60, 113.60), "central Luzon": (15.50, 120.90)}
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def geo() -> Geography:
    return build_geography({})


def _circle(lat: float, lon: float, radius_m: float) -> Polygon:
    lons, lats, _ = GEOD.fwd([lon] * 72, [lat] * 72, [5.0 * k for k in range(72)], [radius_m] * 72)
    return Polygon(list(zip(lons, lats)))


def _fixes(mmsi: int, lat: float, lon: float, n: int = 10, t0: float = T0) -> list:
    return [ais(mmsi, t0 + 60 * k, lat, lon, sog=6.0, cog=0.0) for k in range(n)]


@pytest.mark.parametrize("place", sorted(RIVER))
def test_pearl_river_traffic_is_not_on_land(geo, place):
    lat, lon = RIVER[place]
    # the coastline alone calls the place land more than 1 km inland: the river layer is what changes it
    coast_only = Geography(land=geo.land)
    assert coast_only.inland_m(lat, lon) > 1000
    obs = [o for k in range(4) for o in _fixes(412_000_100 + k, lat + 0.002 * k, lon)]
    alerts = run(RuleEngine(geo, RulesConfig()), obs, [])
    assert not of_type(alerts, "on_land") and not of_type(alerts, "gnss_interference")
    # with the coastline only, the same four vessels give on_land and then gnss_interference
    alerts = run(RuleEngine(coast_only, RulesConfig()), obs, [])
    assert len(of_type(alerts, "on_land")) >= 4 and of_type(alerts, "gnss_interference")


@pytest.mark.parametrize("place", sorted(INTERIOR))
def test_a_fix_far_inland_is_on_land_and_says_how_far_from_navigable_water(geo, place):
    lat, lon = INTERIOR[place]
    # independent check: a 1.5 km geodesic circle around the point is all land and touches no water layer
    circle = _circle(lat, lon, 1500.0)
    assert geo.land.contains(circle) and not geo.water.intersects(circle)
    alerts = run(RuleEngine(geo, RulesConfig()), _fixes(412_000_200, lat, lon), [])
    (a,) = latest(of_type(alerts, "on_land")).values()
    assert a.evidence["inland_m"] > 1500 and "from navigable water" in a.summary


def _river_transit(tid: str, mmsi: int, t0: float) -> tuple[list, list]:
    """Up the Saigon River past 10.62N 106.80E at 6 kn (heading north), fixes every 20 s."""
    lat0, lon = SAIGON[0] - 0.02, SAIGON[1]
    obs, lines = [], []
    for k in range(120):
        t = t0 + 20 * k
        _, la, _ = GEOD.fwd(lon, lat0, 0.0, 6.0 * KN_TO_MS * 20 * k)
        obs.append(ais(mmsi, t, la, lon, sog=6.0, cog=0.0))
        lines.append(line(tid, t, la, lon, 6.0, 0.0, mmsi))
    return obs, lines


def test_saigon_river_becomes_water_once_three_vessels_moved_along_it(geo):
    lat, lon = SAIGON
    assert geo.inland_m(lat, lon) > 1000          # not in the Natural Earth 1:10m river layer
    eng = RuleEngine(geo, RulesConfig())
    obs, lines = [], []
    for k in range(2):
        o, ln = _river_transit(f"S{k}", 574_000_010 + k, T0 + 600 * k)
        obs += o
        lines += ln
    alerts = run(eng, obs, lines)
    assert {a.mmsi for a in of_type(alerts, "on_land")} == {574_000_010, 574_000_011}  # two vessels: not yet
    o, ln = _river_transit("S2", 574_000_012, T0 + 1800)
    alerts += run(eng, o, ln)
    o, ln = _river_transit("S3", 574_000_013, T0 + 3600)
    alerts += run(eng, o, ln)
    final = latest(of_type(alerts, "on_land"))
    assert final and all(a.state == "retracted" for a in final.values())
    assert not any(a.mmsi == 574_000_013 for a in final.values())  # the fourth vessel raises nothing


def test_vessels_that_do_not_move_as_they_say_teach_no_water(geo):
    """Fixes that jump (spoofed or garbled) do not agree with their speed: no water is learned."""
    lat, lon = INTERIOR["inland Guangdong"]
    eng = RuleEngine(geo, RulesConfig())
    lines = [line(f"J{m}", T0 + 60 * k, lat + (0.05 if k % 2 else 0.0), lon, 6.0, 0.0, 412_000_300 + m)
             for m in range(5) for k in range(20)]
    run(eng, [], lines)
    assert not eng.ctx.traffic.water_cells


def test_gnss_interference_grown_from_river_fixes_is_retracted_once_the_river_is_learned(geo):
    """Three vessels up the Saigon River (off the shipped layers): their on-land fixes make a
    gnss_interference area; when traffic shows the river to be water, the area is retracted with
    the on_land alerts, and river traffic afterwards raises neither."""
    eng = RuleEngine(geo, RulesConfig())
    alerts = []
    for k in range(3):
        o, ln = _river_transit(f"S{k}", 574_000_020 + k, T0 + 600 * k)
        alerts += run(eng, o, ln)
    gnss = latest(of_type(alerts, "gnss_interference"))
    assert len(gnss) == 1                                   # it did fire, from river fixes
    (a,) = gnss.values()
    assert a.state == "retracted" and "navigable water" in a.summary
    assert all(x.state == "retracted" for x in latest(of_type(alerts, "on_land")).values())
    later = []
    for k in range(3, 6):
        o, ln = _river_transit(f"S{k}", 574_000_020 + k, T0 + 3600 + 300 * k)
        later += run(eng, o, ln)
    assert not of_type(later, "gnss_interference") and not of_type(later, "on_land")


def test_gnss_interference_keeps_the_vessels_learned_water_does_not_explain():
    """Four vessels with on-land fixes on an island; water is learned next to one of them only:
    that vessel leaves the area, which stays open (three remain) and says so."""
    from tests.rules_builders import engine as builders_engine
    eng = builders_engine()
    from fusion.rules.gnss import Gnss
    # 3.3 km apart on the builders' 22 km island, each well over on_land_m from the others' cells
    obs = [ais(412_000_400 + m, T0 + 60 * k, 10.10, 114.04 + 0.03 * m, sog=0.0) for m in range(4) for k in range(3)]
    alerts = run(eng, obs, [])
    (a,) = latest(of_type(alerts, "gnss_interference")).values()
    (area,) = next(r for r in eng.rules if isinstance(r, Gnss)).areas
    assert len(area.vessels) == 4 and a.state == "open"
    traffic = eng.ctx.traffic
    cell = traffic.cell(10.10, 114.13)      # the fourth vessel's place is, it turns out, water
    traffic.water_cells[cell] = 3
    for fn in eng._water_rules:
        fn(cell, T0 + 600)
    out = eng.ctx.book.drain()
    (b,) = [x for x in out if x.alert_id == a.alert_id and x.type == "gnss_interference"]
    assert b.state == "open" and b.evidence["vessels"] == 3 and 412_000_403 not in b.evidence["mmsis"]


# Cat Lai container terminal, on the Dong Nai river at Ho Chi Minh City (published position), and
# District 4 on the Saigon river, 2.3 km from the listed port of Tan Cang; neither river is in
# the shipped layers.
CAT_LAI = (10.759, 106.790)
DISTRICT_4 = (10.770, 106.710)


def test_a_ship_moored_at_an_up_river_berth_is_not_on_land_one_under_way_there_is(geo):
    lat, lon = CAT_LAI
    assert geo.inland_m(lat, lon) > 30_000                       # the layers put it deep inland ...
    port = geo.nearest_port(lat, lon, 10_000)
    assert port is not None and port[1] > RulesConfig().port_clear_m   # ... and outside every port's area
    moored = [ais(574_000_050, T0 + 180 * k, lat, lon, sog=0.0, cog=0.0, nav_status=5) for k in range(20)]
    assert not of_type(run(RuleEngine(geo, RulesConfig()), moored, []), "on_land")
    under_way = [ais(574_000_051, T0 + 60 * k, lat, lon, sog=6.0, cog=0.0, nav_status=0) for k in range(10)]
    (a,) = latest(of_type(run(RuleEngine(geo, RulesConfig()), under_way, []), "on_land")).values()
    assert a.evidence["inland_m"] > 30_000
    # "moored" far inland is no berth: a spoofed position 54 km from water, no port within 60 km, alerts
    lat, lon = INTERIOR["central Luzon"]
    assert geo.nearest_port(lat, lon, 60_000) is None
    fake = [ais(412_000_052, T0 + 180 * k, lat, lon, sog=0.0, cog=0.0, nav_status=5) for k in range(10)]
    assert of_type(run(RuleEngine(geo, RulesConfig()), fake, []), "on_land")


def test_a_fix_in_a_listed_ports_area_is_not_on_land(geo):
    lat, lon = DISTRICT_4
    assert geo.inland_m(lat, lon) > 1000
    port = geo.nearest_port(lat, lon, RulesConfig().port_clear_m)
    assert port is not None and port[0] == "Tan Cang"
    fixes = [ais(574_000_060 + k, T0 + 60 * j, lat + 0.002 * k, lon, sog=6.0, cog=0.0) for k in range(4) for j in range(10)]
    alerts = run(RuleEngine(geo, RulesConfig()), fixes, [])
    assert not of_type(alerts, "on_land") and not of_type(alerts, "gnss_interference")


# The Soai Rap / Long Tau approach to Ho Chi Minh City from the sea off Vung Tau (published
# chart positions, rounded): the 1:10m layers draw none of it past the estuary.
LONG_TAU = [(10.25, 107.05), (10.35, 106.98), (10.42, 106.96), (10.47, 106.92), (10.53, 106.88),
            (10.58, 106.84), (10.62, 106.80)]


def _sail(mmsi: int, waypoints, kn: float = 8.0, every_s: float = 10.0, t0: float = T0) -> list:
    out, t = [], t0
    for (la0, lo0), (la1, lo1) in zip(waypoints, waypoints[1:]):
        az, _, dist = GEOD.inv(lo0, la0, lo1, la1)
        step = kn * KN_TO_MS * every_s
        for k in range(int(dist // step)):
            lo, la, _ = GEOD.fwd(lo0, la0, az, step * k)
            out.append(ais(mmsi, t, la, lo, sog=kn, cog=az % 360))
            t += every_s
    return out


def test_a_ship_followed_from_the_sea_up_an_unmapped_river_is_not_on_land(geo):
    assert geo.inland_m(*LONG_TAU[0]) == 0 and geo.inland_m(*LONG_TAU[-1]) > 10_000
    path = _sail(574_000_070, LONG_TAU)
    assert not of_type(run(RuleEngine(geo, RulesConfig()), path, []), "on_land")
    # the same fixes judged one by one, without following the ship from the sea: on land
    assert of_type(run(RuleEngine(geo, RulesConfig(on_land_follow=False)), path, []), "on_land")


def test_a_leap_inland_or_fixes_that_belie_the_reported_speed_are_on_land(geo):
    path = _sail(574_000_071, LONG_TAU)
    at_sea = [o for o in path if geo.inland_m(o.lat, o.lon) == 0]
    last = at_sea[-1]
    leap = at_sea + [ais(574_000_071, last.time_s + 10 * k, *LONG_TAU[-1], sog=8.0, cog=320.0) for k in range(1, 10)]
    assert of_type(run(RuleEngine(geo, RulesConfig()), leap, []), "on_land")
    # from the last fix at sea on up the river, fixes 500 m apart every 10 s while the ship reports
    # 2 kn (10 m in 10 s): the positions are not its own motion
    az = GEOD.inv(last.lon, last.lat, LONG_TAU[-1][1], LONG_TAU[-1][0])[0]
    drag = [ais(574_000_072, o.time_s, o.lat, o.lon, sog=o.sog_kn, cog=o.cog_deg) for o in at_sea]
    for k in range(1, 40):
        lo, la, _ = GEOD.fwd(last.lon, last.lat, az, 500.0 * k)
        drag.append(ais(574_000_072, last.time_s + 10 * k, la, lo, sog=2.0, cog=az % 360))
    assert any(geo.inland_m(o.lat, o.lon) > 1000 for o in drag)
    assert of_type(run(RuleEngine(geo, RulesConfig()), drag, []), "on_land")
