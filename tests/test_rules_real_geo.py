"""Rules on the real geography layers in services/data/geo (loaded here, never inside fusion/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, shape

from fusion.geodesy import KN_TO_MS, M_PER_DEG_LAT
from fusion.rules import Geography, RuleEngine, RulesConfig
from tests.rules_builders import T0, ais, first_open, latest, of_type, run, voyage

GEO = Path(__file__).resolve().parents[1] / "services" / "data" / "geo"


def _features(name: str) -> list[dict]:
    return json.loads((GEO / name).read_text())["features"]


@pytest.fixture(scope="module")
def real():
    land = MultiPolygon([p for f in _features("land_osm.geojson")
                         for p in shapely.get_parts(shape(f["geometry"]))])
    zones = [(f["properties"]["name"], f["properties"]["kind"], shape(f["geometry"]))
             for f in _features("zones_12nm.geojson")]
    ports = [(f["properties"]["name"], f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])
             for f in _features("ports_scs.geojson")]
    return land, zones, ports


def _circle(lat: float, lon: float, radius_m: float) -> Polygon:
    """A true metric circle around a point (WGS 84 geodesics by pyproj), as a lon/lat polygon."""
    lons, lats, _ = Geod(ellps="WGS84").fwd([lon] * 72, [lat] * 72, [5.0 * k for k in range(72)], [radius_m] * 72)
    return Polygon(list(zip(lons, lats)))


def test_on_land_palawan_but_not_open_sea(real):
    land, zones, ports = real
    lat, lon = 9.75, 118.6
    # independent check that the point really is > 1 km inland: a 1.5 km circle lies on land
    assert land.contains(_circle(lat, lon, 1500.0))
    assert not land.intersects(Point(113.0, 12.0))
    eng = RuleEngine(Geography(land=land, zones=zones, ports=ports), RulesConfig())
    alerts = eng.process([ais(548_000_123, T0, lat, lon, sog=0.0),
                          ais(548_000_124, T0 + 1, 12.0, 113.0, sog=8.0)], [])
    on_land = of_type(alerts, "on_land")
    assert [a.mmsi for a in on_land] == [548_000_123]
    assert on_land[0].evidence["inland_m"] > 1500


def test_zone_entry_second_thomas_shoal(real):
    land, zones, ports = real
    zone = next(g for n, k, g in zones if n == "Second Thomas Shoal")
    # from the south along 115.86E, clear of the overlapping Mischief Reef zone to the west
    lon, lat0, sog = 115.86, 9.30, 12.0
    path = LineString([(lon, lat0), (lon, 9.70)])
    assert not path.intersects(next(g for n, k, g in zones if n == "Mischief Reef"))
    entry_lat = min(y for _, y in path.intersection(zone).coords)
    t_entry = T0 + Geod(ellps="WGS84").inv(lon, lat0, lon, entry_lat)[2] / (sog * KN_TO_MS)
    _, lines = voyage("T50", 548_000_050, lat0, lon, sog, 0.0, T0, T0 + 3600, 10.0)
    eng = RuleEngine(Geography(land=land, zones=zones, ports=ports), RulesConfig())
    alerts = of_type(run(eng, [], lines), "zone_entry")
    a = first_open(alerts, "zone_entry")
    assert a.zone == "Second Thomas Shoal" and a.track_id == "T50"
    assert a.evidence["zone_kind"] == "disputed_feature_12nm"
    assert t_entry - 1 <= a.time_s <= t_entry + 11
    assert len(latest(alerts)) == 1


def test_no_loitering_next_to_a_real_port(real):
    land, zones, ports = real
    name, plat, plon = ports[0]
    _, lines = voyage("T60", 548_000_060, plat + 1500 / M_PER_DEG_LAT, plon, 0.3, 0.0, T0, T0 + 9000, 60.0)
    eng = RuleEngine(Geography(land=land, zones=zones, ports=ports), RulesConfig())
    assert not of_type(run(eng, [], lines), "loitering")
