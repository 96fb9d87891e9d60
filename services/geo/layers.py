"""The geography shipped with the product (see docs/geo-provenance.md), loaded once."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson

LAYERS = ("land_osm", "land_ne10m", "features", "zones_12nm", "ports_scs", "lanes_scs", "inland_water_ne10m")


@lru_cache(maxsize=None)
def layer(name: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection from services/data/geo."""
    if name not in LAYERS:
        raise KeyError(name)
    return orjson.loads(resources.files("services").joinpath(f"data/geo/{name}.geojson").read_bytes())


@lru_cache(maxsize=1)
def land_for_map() -> bytes:
    """OSM land and reefs, plus the Natural Earth reef shapes OSM lacks, as GeoJSON bytes."""
    features = list(layer("land_osm")["features"])
    features += [f for f in layer("land_ne10m")["features"] if f["properties"].get("kind") == "ne_admin0_shape"]
    doc = {"type": "FeatureCollection",
           "attribution": "© OpenStreetMap contributors · Made with Natural Earth",
           "features": features}
    return json.dumps(doc, separators=(",", ":")).encode()


def zones() -> dict[str, Any]:
    return layer("zones_12nm")
