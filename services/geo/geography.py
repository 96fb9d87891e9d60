"""The rules' geography, built once from the layers shipped in services/data/geo."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import Geod
from shapely.geometry import shape

from fusion.model import Sensor
from fusion.rules import Geography
from services.geo.layers import layer


class ZonesFileError(ValueError):
    pass


def _geometries(features: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """The features' geometries, read by GEOS's GeoJSON reader in one call (half the time of
    ``shape`` feature by feature, the same coordinates)."""
    doc = {"type": "GeometryCollection", "geometries": [f["geometry"] for f in features]}
    return shapely.get_parts(shapely.from_geojson(orjson.dumps(doc)))


@lru_cache(maxsize=1)
def _land() -> shapely.Geometry:
    features = layer("land_osm")["features"] + [f for f in layer("land_ne10m")["features"]
                                                if f["properties"].get("kind") == "ne_admin0_shape"]
    return shapely.MultiPolygon(list(shapely.get_parts(_geometries(features))))


@lru_cache(maxsize=1)
def _inland_water() -> shapely.Geometry:
    """Rivers, estuaries and lakes as water polygons (docs/geo-provenance.md)."""
    parts = _geometries(layer("inland_water_ne10m")["features"])
    return shapely.union_all(parts)  # one valid geometry: overlapping corridors must not cancel out


@lru_cache(maxsize=1)
def _eez() -> tuple[tuple[str, shapely.Geometry], ...]:
    path = resources.files("services").joinpath("data/geo/eez_approx.geojson")
    if not path.is_file():
        return ()
    doc = json.loads(path.read_text("utf-8"))
    return tuple((f["properties"]["state"], shape(f["geometry"])) for f in doc["features"])


MAX_ZONE_VERTICES = 10_000
MAX_ZONE_AREA_KM2 = 4_000_000.0  # about the South China Sea with its approaches
_GEOD = Geod(ellps="WGS84")


def zone_problem(geom: shapely.Geometry) -> str | None:
    """Why ``geom`` cannot be a zone (None when it can): (Multi)Polygon, at most
    MAX_ZONE_VERTICES vertices, finite lon/lat degrees, valid, at most MAX_ZONE_AREA_KM2
    (on the WGS 84 ellipsoid)."""
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return f"must be a Polygon or MultiPolygon, got {geom.geom_type}"
    if geom.is_empty:
        return "is empty"
    n = shapely.get_num_coordinates(geom)
    if n > MAX_ZONE_VERTICES:
        return f"has {n} vertices (at most {MAX_ZONE_VERTICES})"
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():
        return "has a coordinate that is not a finite number (NaN or infinity)"
    bad = (np.abs(xy[:, 0]) > 180.0) | (np.abs(xy[:, 1]) > 90.0)
    if bad.any():
        x, y = xy[bad][0]
        return (f"has coordinates out of range (lon {x:g}, lat {y:g}): want degrees, lon within ±180 and "
                f"lat within ±90 (projected metres are not accepted)")
    if not geom.is_valid:
        return f"is not a valid polygon: {shapely.is_valid_reason(geom)}"
    area_km2 = abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6
    if area_km2 > MAX_ZONE_AREA_KM2:
        return f"covers {area_km2:,.0f} km² (at most {MAX_ZONE_AREA_KM2:,.0f} km²)"
    return None


def _zone(i: int, f: Any, origin: str) -> tuple[str, str, shapely.Geometry]:
    props = f.get("properties") if isinstance(f, dict) else None
    props = props if isinstance(props, dict) else {}
    name, kind = props.get("name"), props.get("kind")
    if not isinstance(name, str) or not isinstance(kind, str):
        raise ZonesFileError(f"{origin}: feature #{i} needs string properties 'name' and 'kind'")
    try:
        geom = shape(f["geometry"])
    except Exception as exc:  # shapely raises several types for bad geometry
        raise ZonesFileError(f"{origin}: feature #{i} ({name!r}) has bad geometry: {exc}") from None
    problem = zone_problem(geom)
    if problem is not None:
        raise ZonesFileError(f"{origin}: feature #{i} ({name!r}) {problem}")
    return name, kind, geom


def zones_from_geojson(doc: Mapping[str, Any], origin: str = "zones file") -> list[tuple[str, str, shapely.Geometry]]:
    """(name, kind, polygon) from a FeatureCollection of polygons with properties.name and .kind;
    ``ZonesFileError`` naming the first feature that is not a usable zone (``zone_problem``)."""
    if doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise ZonesFileError(f"{origin}: want a GeoJSON FeatureCollection")
    return [_zone(i, f, origin) for i, f in enumerate(doc["features"], start=1)]


def usable_zones(features: Iterable[Any], origin: str) -> tuple[list[tuple[str, str, shapely.Geometry]], list[str]]:
    """The usable zones among ``features`` and, for each one refused, why (zones already
    stored: one bad zone must not stop a start)."""
    zones, refused = [], []
    for i, f in enumerate(features, start=1):
        try:
            zones.append(_zone(i, f, origin))
        except ZonesFileError as exc:
            refused.append(str(exc))
    return zones, refused


def builtin_zones() -> list[tuple[str, str, shapely.Geometry]]:
    return zones_from_geojson(layer("zones_12nm"), "zones_12nm")


def load_zones_file(path: Path) -> list[tuple[str, str, shapely.Geometry]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ZonesFileError(f"{path}: {exc}") from None
    return zones_from_geojson(doc, str(path))


def build_geography(sensors: Mapping[str, Sensor],
                    extra_zones: Iterable[tuple[str, str, shapely.Geometry]] = ()) -> Geography:
    ports = [(f["properties"].get("name") or "", f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])
             for f in layer("ports_scs")["features"]]
    receivers = [(s.id, s.lat, s.lon, s.range_m) for s in sensors.values()
                 if s.kind == "ais" and s.platform != "satellite"]
    satellites = {s.id: float(s.revisit_s or 0.0) for s in sensors.values()
                  if s.kind == "ais" and s.platform == "satellite"}
    return Geography(
        land=_land(), zones=builtin_zones() + list(extra_zones), ports=ports, eez=_eez(),
        receivers=receivers, releasability={s.id: list(s.releasability) for s in sensors.values()},
        satellites=satellites,
        water=_inland_water(),
        radars={s.id: (s.lat, s.lon) for s in sensors.values() if s.kind == "radar" and s.platform == "terrestrial"},
    )
