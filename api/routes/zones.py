"""Watch zones: the built-in ones and those users added (an admin adds and removes them)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from services.geo import layers as geo
from services.geo.geography import ZonesFileError, zones_from_geojson

from fusion.model import iso_time
from fusion.rules.config import RulesConfig
from fusion.rules.zones import zone_policy

from ..deps import AUTH, Acker, Admin, Reader, RuntimeDep, errors, json_schema, raw_body
from ..models import Deleted, ZoneFeature, ZonePolicy, ZonePolicyIn, Zones
from ..params import _body, json_object

router = APIRouter(prefix="/v1/zones", tags=["geography"])
_POLICY_BODY = raw_body("application/json", json_schema(ZonePolicyIn),
                        "the policy fields to override ({} removes the override)")
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
    runtime.announce_zone(name)
    return clean


@router.delete("/{name}", response_model=Deleted, responses=errors(*AUTH, 404))
def delete_zone(name: str, runtime: RuntimeDep, who: Admin) -> dict[str, Any]:
    if not runtime.store.delete_zone(name):
        raise HTTPException(404, f"no user zone {name!r}")
    runtime.zone_removed(name)
    if runtime.store.delete_zone_policy(name):  # a zone added again under this name starts afresh
        runtime.zone_policy_changed(name, {})
    runtime.announce_zone(name)
    return {"deleted": name}


def _zone_kind(runtime: Any, name: str) -> str:
    for f in geo.zones()["features"] + runtime.store.zones():
        if f["properties"].get("name") == name:
            return str(f["properties"].get("kind"))
    raise HTTPException(404, f"no zone {name!r} (built-in or added)")


def _policy_doc(runtime: Any, name: str, kind: str) -> dict[str, Any]:
    stored = runtime.store.zone_policies().get(name)
    override = stored["policy"] if stored else {}
    worker = runtime.fusion_worker
    base = worker.fusion.rules.cfg if worker is not None else RulesConfig()
    cfg = RulesConfig(zone_policies=dict(base.zone_policies), zone_severity=dict(base.zone_severity),
                      zone_group=base.zone_group, zone_policy_overrides={name: override})
    effective = {k: (list(v) if isinstance(v, (tuple, set, frozenset)) else v)
                 for k, v in zone_policy(cfg, name, kind).items()}
    return {"zone": name, "kind": kind, "watched": kind in base.zone_kinds, "override": override,
            "effective": effective,
            "updated": iso_time(stored["updated_s"]) if stored and stored["updated_s"] is not None else None,
            "updated_by": stored["updated_by"] if stored else None}


@router.get("/{name}/policy", response_model=ZonePolicy, responses=errors(*AUTH, 404))
def get_policy(name: str, runtime: RuntimeDep, _: Acker) -> dict[str, Any]:
    """A zone's ``zone_entry`` policy: the admin's override and the effective policy (its kind's,
    overridden field by field)."""
    return _policy_doc(runtime, name, _zone_kind(runtime, name))


@router.put("/{name}/policy", response_model=ZonePolicy, responses=errors(400, *AUTH, 404, 413, 422),
            openapi_extra=_POLICY_BODY)
async def put_policy(name: str, request: Request, runtime: RuntimeDep, who: Admin) -> dict[str, Any]:
    """Set a zone's policy override (replacing the previous one): ``categories``, ``flags``,
    ``exclude_flags``, ``dark``, ``min_inside_s``, ``severity``, ``group``; only the fields given
    override the kind's policy, ``{}`` removes the override.  Stored (a restart keeps it) and
    applied by the rules engine of this process to the vessels that join from the next batch on."""
    kind = _zone_kind(runtime, name)
    policy = await json_object(request, ZonePolicyIn,
                               "want a JSON object of policy fields: " + ", ".join(ZonePolicyIn.model_fields))
    override = policy.model_dump(exclude_unset=True)
    runtime.store.put_zone_policy(name, override, who.name, runtime.clock())
    runtime.zone_policy_changed(name, override)
    runtime.announce_zone(name)
    return _policy_doc(runtime, name, kind)
