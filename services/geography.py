"""The rules' geography, built once from the layers shipped in services/data/geo."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from fusion.model import Sensor
from fusion.rules import Geography

from .geo import layer


class ZonesFileError(ValueError):
    pass


@lru_cache(maxsize=1)
def _land() -> shapely.Geometry:
    parts = [shape(f["geometry"]) for f in layer("land_osm")["features"]]
    parts += [shape(f["geometry"]) for f in layer("land_ne10m")["features"]
              if f["properties"].get("kind") == "ne_admin0_shape"]
    polygons = [p for g in parts for p in shapely.get_parts(g)]
    return shapely.MultiPolygon(polygons)


@lru_cache(maxsize=1)
def _eez() -> tuple[tuple[str, shapely.Geometry], ...]:
    path = resources.files("services").joinpath("data/geo/eez_approx.geojson")
    if not path.is_file():
        return ()
    doc = json.loads(path.read_text("utf-8"))
    return tuple((f["properties"]["state"], shape(f["geometry"])) for f in doc["features"])


def zones_from_geojson(doc: Mapping[str, Any], origin: str = "zones file") -> list[tuple[str, str, shapely.Geometry]]:
    """(name, kind, polygon) from a FeatureCollection of polygons with properties.name and .kind."""
    if doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise ZonesFileError(f"{origin}: want a GeoJSON FeatureCollection")
    zones = []
    for i, f in enumerate(doc["features"], start=1):
        props = (f.get("properties") if isinstance(f, Mapping) else None) or {}
        if not isinstance(props, Mapping):
            raise ZonesFileError(f"{origin}: feature #{i} needs an object of properties with 'name' and 'kind'")
        name, kind = props.get("name"), props.get("kind")
        if not isinstance(name, str) or not isinstance(kind, str):
            raise ZonesFileError(f"{origin}: feature #{i} needs string properties 'name' and 'kind'")
        try:
            geom = shape(f["geometry"])
        except Exception as exc:  # shapely raises several types for bad geometry
            raise ZonesFileError(f"{origin}: feature #{i} ({name!r}) has bad geometry: {exc}") from None
        if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
            raise ZonesFileError(f"{origin}: feature #{i} ({name!r}) must be a valid (Multi)Polygon, "
                                 f"got {'invalid ' if not geom.is_valid else ''}{geom.geom_type}")
        zones.append((name, kind, geom))
    return zones


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
    receivers = [(s.id, s.lat, s.lon, s.range_m) for s in sensors.values() if s.kind == "ais"]
    return Geography(
        land=_land(), zones=builtin_zones() + list(extra_zones), ports=ports, eez=_eez(),
        receivers=receivers, releasability={s.id: list(s.releasability) for s in sensors.values()},
    )
