"""Zones are checked where they enter (zones files, POST /v1/zones, the store at start), and no
zone, even one already stored, can make the rules' cell index hang."""

from __future__ import annotations

import json
import logging
import math
import threading

import httpx
import pytest
from shapely.geometry import box

from fusion.rules import Geography
from fusion.rules.geography import _CellIndex
from services.geo.geography import MAX_ZONE_AREA_KM2, MAX_ZONE_VERTICES, ZonesFileError, zones_from_geojson
from services.store.sql import Store

from .conftest import ADMIN_KEY, OFFICER_KEY, LiveServer, make_runtime

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
AUTHALIC_RADIUS_KM = 6371.0072  # WGS 84 authalic sphere (same area as the ellipsoid)


def feature(ring: list[list[float]], name: str = "Test Zone") -> dict:
    return {"type": "Feature", "properties": {"name": name, "kind": "closed_area"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def rect(w: float, s: float, e: float, n: float) -> list[list[float]]:
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


def circle(n_vertices: int, lat: float = 12.0, lon: float = 115.0, r_deg: float = 0.2) -> list[list[float]]:
    ring = [[lon + r_deg * math.cos(2 * math.pi * k / n_vertices), lat + r_deg * math.sin(2 * math.pi * k / n_vertices)]
            for k in range(n_vertices)]
    return ring + [ring[0]]


def sphere_box_km2(s: float, n: float, w: float, e: float) -> float:
    """Area of a lat/lon box on the authalic sphere: R² Δλ (sin φn − sin φs)."""
    return AUTHALIC_RADIUS_KM ** 2 * math.radians(e - w) * (math.sin(math.radians(n)) - math.sin(math.radians(s)))


BAD_ZONES = [
    pytest.param(rect(1.2e6, 1.3e6, 1.25e6, 1.35e6), "out of range", id="projected-metres"),
    pytest.param([[115.0, 12.0], [float("nan"), 12.0], [115.1, 12.1], [115.0, 12.0]], "not a finite number",
                 id="nan"),
    pytest.param(circle(MAX_ZONE_VERTICES + 1), f"{MAX_ZONE_VERTICES + 2} vertices", id="too-many-vertices"),
    pytest.param(rect(100.0, 0.0, 120.0, 20.0), "km²", id="too-large"),
    pytest.param([[115.0, 12.0], [115.1, 12.1], [115.1, 12.0], [115.0, 12.1], [115.0, 12.0]], "Self-intersection",
                 id="bow-tie"),
    pytest.param(rect(115.0, 12.0, 181.0, 12.5), "lon 181", id="past-the-antimeridian"),
]


@pytest.mark.parametrize("ring, reason", BAD_ZONES)
def test_a_bad_zone_is_refused_with_its_reason(ring, reason):
    doc = {"type": "FeatureCollection", "features": [feature(rect(115.0, 12.0, 115.1, 12.1), "Fine"), feature(ring)]}
    with pytest.raises(ZonesFileError, match=reason) as err:
        zones_from_geojson(doc, "zones.geojson")
    assert "zones.geojson: feature #2 ('Test Zone')" in str(err.value)


def test_the_area_cap_is_measured_on_the_earth():
    # an independent reference: the box areas on the authalic sphere, one under, one over the cap
    under, over = (0.0, 17.0, 100.0, 117.0), (0.0, 20.0, 100.0, 120.0)
    assert sphere_box_km2(*under) < 0.95 * MAX_ZONE_AREA_KM2 < 1.05 * MAX_ZONE_AREA_KM2 < sphere_box_km2(*over)
    s, n, w, e = under
    ((_, _, geom),) = zones_from_geojson({"type": "FeatureCollection", "features": [feature(rect(w, s, e, n))]})
    assert geom.bounds == (w, s, e, n)
    s, n, w, e = over
    with pytest.raises(ZonesFileError, match=r"covers 4,8\d\d,\d\d\d km²"):
        zones_from_geojson({"type": "FeatureCollection", "features": [feature(rect(w, s, e, n))]})


@pytest.mark.parametrize("ring, reason", BAD_ZONES)
def test_the_api_refuses_a_bad_zone_with_its_reason(live_server, ring, reason):
    body = feature(ring)
    # NaN is not JSON, but Python's and many clients' encoders write it: the API must not take it
    r = httpx.post(f"{live_server.url}/v1/zones", headers={**ADMIN, "Content-Type": "application/json"},
                   content=json.dumps(body))
    assert r.status_code == 422 and reason in r.json()["error"], r.text
    names = [f["properties"]["name"] for f in httpx.get(f"{live_server.url}/v1/zones", headers=OFFICER).json()["features"]]
    assert "Test Zone" not in names


def test_a_bad_zone_already_stored_is_skipped_at_start_with_its_reason(tmp_path, caplog):
    store = Store(f"sqlite:///{tmp_path / 'mfc.db'}")  # zones as an earlier version could have stored them
    store.put_zone("Projected", "closed_area", feature(rect(1.2e6, 1.3e6, 1.25e6, 1.35e6), "Projected"), "x", 0.0)
    store.put_zone("Good Box", "closed_area", feature(rect(115.5, 12.5, 115.6, 12.6), "Good Box"), "x", 0.0)
    store.close()
    caplog.set_level(logging.WARNING, logger="mfc.runtime")
    with LiveServer(make_runtime(tmp_path)) as server:
        watched = [name for name, _, _ in server.runtime.fusion_worker.fusion.rules.ctx.geo.watch]
        assert "Good Box" in watched and "Projected" not in watched
        assert httpx.get(f"{server.url}/v1/tracks", headers=OFFICER).status_code == 200
    assert any("'Projected'" in r.getMessage() and "out of range" in r.getMessage() for r in caplog.records)


def _built_within(seconds: float, build) -> object:
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(build()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert done, f"not built within {seconds} s"
    return done[0]


def test_the_cell_index_stays_bounded_for_a_huge_box():
    index = _built_within(10.0, lambda: _CellIndex([(114.0, 10.0, 114.05, 10.05), (1.2e6, 1.3e6, 1.9e6, 1.9e6),
                                                    (math.nan,) * 4, (-math.inf, 0.0, 0.0, 1.0)]))
    assert len(index.cells) <= _CellIndex.MAX_CELLS and index.wide == (1, 2, 3)
    assert index.at(10.02, 114.02) == (0, 1, 2, 3)  # wide items are candidates everywhere ...
    index.remove(1)
    assert index.at(50.0, 50.0) == (2, 3)            # ... until removed


def test_a_wide_zone_in_a_geography_is_still_found_and_a_projected_one_never_hangs_it():
    ocean = box(95.0, -5.0, 125.0, 27.0)             # 30° x 32°: more cells than the index keeps per zone
    projected = box(1.2e6, 1.3e6, 1.9e6, 1.9e6)      # stored before validation, say
    geo = _built_within(10.0, lambda: Geography(zones=[("Ocean", "closed_area", ocean),
                                                       ("Projected", "closed_area", projected),
                                                       ("Box", "closed_area", box(115.5, 12.5, 115.6, 12.6))]))
    assert geo.zone_name_at(12.55, 115.55) == "Ocean"   # the lowest index wins, as before
    assert geo.watch_zones_at(12.55, 115.55) == [0, 2]
    assert geo.watch_zones_at(30.0, 115.55) == []
    geo.add_zone("Later", "closed_area", box(-180.0, -80.0, 180.0, 80.0))
    assert geo.watch_zones_at(30.0, 115.55) == [3]
