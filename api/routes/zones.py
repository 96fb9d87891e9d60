"""Watch zones: the built-in ones and those users added (an admin adds and removes them)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from services import geo
from services.geography import ZonesFileError, zones_from_geojson

from ..deps import AUTH, Admin, Reader, RuntimeDep, errors, json_schema, raw_body
from ..models import Deleted, ZoneFeature, Zones
from ..params import _body

router = APIRouter(prefix="/v1/zones", tags=["geography"])
_ZONE_BODY = raw_body("application/geo+json", json_schema(ZoneFeature),
                      "One GeoJSON Feature (Polygon/MultiPolygon) with properties.name and properties.kind")


@router.get("", response_model=Zones, responses=errors(*AUTH))
def zones(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """Built-in watch zones and the zones users added, as one FeatureCollection."""
    builtin = geo.zones()
    return {"type": "FeatureCollection", "features": builtin["features"] + runtime.store.zones()}


@router.post("", status_code=201, response_model=ZoneFeature, responses=errors(400, *AUTH, 409, 413, 422),
             openapi_extra=_ZONE_BODY)
async def add_zone(request: Request, runtime: RuntimeDep, who: Admin) -> dict[str, Any]:
    """Add or replace a user zone: a GeoJSON Feature (Polygon/MultiPolygon) with
    ``properties.name`` and ``properties.kind`` (e.g. ``closed_area``, ``protected_area``)."""
    try:
        feature = json.loads(await _body(request, runtime.settings.max_body_bytes))
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise HTTPException(422, "want one GeoJSON Feature with properties.name and properties.kind")
    try:
        ((name, kind, geometry),) = zones_from_geojson({"type": "FeatureCollection", "features": [feature]},
                                                      "zone")
    except ZonesFileError as exc:
        raise HTTPException(422, str(exc)) from None
    if any(f["properties"]["name"] == name for f in geo.zones()["features"]):
        raise HTTPException(409, f"{name!r} is a built-in zone; choose another name")
    clean = {"type": "Feature", "properties": {**feature.get("properties", {}), "user_zone": True},
             "geometry": feature["geometry"]}
    runtime.store.put_zone(name, kind, clean, who.name, runtime.clock())
    runtime.zone_added(name, kind, geometry)
    return clean


@router.delete("/{name}", response_model=Deleted, responses=errors(*AUTH, 404))
def delete_zone(name: str, runtime: RuntimeDep, who: Admin) -> dict[str, Any]:
    if not runtime.store.delete_zone(name):
        raise HTTPException(404, f"no user zone {name!r}")
    runtime.zone_removed(name)
    return {"deleted": name}
