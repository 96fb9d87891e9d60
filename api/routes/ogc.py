"""OGC API – Features – Part 1 (Core, GeoJSON): collections ``tracks``, ``alerts`` and ``zones``
with ``bbox``, ``datetime`` and ``limit``/``offset`` paging.  Same keys and releasability as ``/v1``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from fusion.model import iso_time
from services.access.visibility import visible_alerts, visible_tracks
from services.config.settings import ApiKey
from services.geo import layers as geo
from services.workers.runtime import Runtime

from ..deps import AUTH, Reader, RuntimeDep, errors
from ..models import Collection, Collections, Conformance, Landing, OgcFeature, OgcItems
from ..standards import AREA, COLLECTIONS, CONFORMANCE, GEOJSON, _bounds, _t, ogc_bbox, parse_datetime

router = APIRouter(prefix="/ogc", tags=["ogc"])


def as_geojson(model: str) -> dict[str, Any]:
    """The 200 answer's schema under ``application/geo+json``, the media type it is sent as."""
    return {200: {"content": {GEOJSON: {"schema": {"$ref": f"#/components/schemas/{model}"}}}}}


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def geojson(doc: dict[str, Any]) -> JSONResponse:
    return JSONResponse(doc, media_type=GEOJSON)


@router.get("", response_model=Landing, response_model_exclude_none=True, responses=errors(*AUTH))
def landing(request: Request, _: Reader) -> dict[str, Any]:
    b = base(request)
    return {"title": "ASEAN Maritime Fusion Centre", "description": "The fused maritime picture (OGC API – Features)",
            "links": [
                {"href": f"{b}/ogc", "rel": "self", "type": "application/json", "title": "this document"},
                {"href": f"{b}/openapi.json", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0"},
                {"href": f"{b}/docs", "rel": "service-doc", "type": "text/html"},
                {"href": f"{b}/ogc/conformance", "rel": "conformance", "type": "application/json"},
                {"href": f"{b}/ogc/collections", "rel": "data", "type": "application/json"},
            ]}


@router.get("/conformance", response_model=Conformance, responses=errors(*AUTH))
def conformance(_: Reader) -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


def collection(b: str, cid: str) -> dict[str, Any]:
    title, description = COLLECTIONS[cid]
    return {"id": cid, "title": title, "description": description, "itemType": "feature",
            "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
            "extent": {"spatial": {"bbox": [AREA], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "links": [{"href": f"{b}/ogc/collections/{cid}", "rel": "self", "type": "application/json"},
                      {"href": f"{b}/ogc/collections/{cid}/items", "rel": "items", "type": GEOJSON}]}


@router.get("/collections", response_model=Collections, response_model_exclude_none=True, responses=errors(*AUTH))
def collections(request: Request, _: Reader) -> dict[str, Any]:
    b = base(request)
    return {"links": [{"href": f"{b}/ogc/collections", "rel": "self", "type": "application/json"}],
            "collections": [collection(b, cid) for cid in COLLECTIONS]}


@router.get("/collections/{cid}", response_model=Collection, response_model_exclude_none=True,
            responses=errors(*AUTH, 404))
def one_collection(cid: str, request: Request, _: Reader) -> dict[str, Any]:
    if cid not in COLLECTIONS:
        raise HTTPException(404, f"no collection {cid!r}; there are {', '.join(COLLECTIONS)}")
    return collection(base(request), cid)


def features(runtime: Runtime, cid: str, who: ApiKey, bbox, start, end) -> list[dict[str, Any]]:
    store = runtime.store
    if cid == "tracks":
        rows = store.tracks(bbox, start, None, 50_000)
        rows = visible_tracks([r for r in rows if end is None or _t(r["time"]) <= end],
                              who.role, who.name, runtime.sensor_lookup)
        return [{"type": "Feature", "id": r["track_id"],
                 "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]}, "properties": r}
                for r in rows]
    if cid == "alerts":
        # without the alerts a suppression holds back, as GET /v1/alerts
        rows = store.alerts(None, None, None, bbox, start, 10_000, now_s=runtime.clock(), suppressed=False)
        rows = visible_alerts([r for r in rows if end is None or _t(r["time"]) <= end], who.role, who.name)
        return [{"type": "Feature", "id": r["alert_id"],
                 "geometry": None if r["lat"] is None else {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                 "properties": r} for r in rows]
    out = []
    for f in geo.zones()["features"] + store.zones():
        if bbox is not None:
            x0, y0, x1, y1 = _bounds(f["geometry"])
            w, s, e, n = bbox
            if x1 < w or x0 > e or y1 < s or y0 > n:
                continue
        out.append({**f, "id": f["properties"]["name"]})
    return out


@router.get("/collections/{cid}/items", response_model=OgcItems,
            responses={**as_geojson("OgcItems"), **errors(400, *AUTH, 404, 422)})
def items(cid: str, request: Request, runtime: RuntimeDep, who: Reader, bbox: str | None = None,
          datetime: str | None = None, limit: int = Query(1000, ge=1, le=10000),
          offset: int = Query(0, ge=0)) -> JSONResponse:
    if cid not in COLLECTIONS:
        raise HTTPException(404, f"no collection {cid!r}; there are {', '.join(COLLECTIONS)}")
    allowed = {"bbox", "datetime", "limit", "offset"}  # never ``key``: it would be copied into links
    unknown = set(request.query_params) - allowed
    if unknown:
        raise HTTPException(400, f"unknown query parameters: {', '.join(sorted(unknown))}")
    start, end = parse_datetime(datetime)
    found = features(runtime, cid, who, ogc_bbox(bbox), start, end)
    page = found[offset:offset + limit]
    b = base(request)
    url = f"{b}/ogc/collections/{cid}/items"
    keep = urlencode([(k, v) for k, v in request.query_params.items() if k in ("bbox", "datetime")])
    sep = "&" if keep else ""
    links = [{"href": f"{url}?{keep}{sep}limit={limit}&offset={offset}", "rel": "self", "type": GEOJSON},
             {"href": f"{b}/ogc/collections/{cid}", "rel": "collection", "type": "application/json"}]
    if offset + limit < len(found):
        links.append({"href": f"{url}?{keep}{sep}limit={limit}&offset={offset + limit}", "rel": "next",
                      "type": GEOJSON})
    return geojson({"type": "FeatureCollection", "features": page, "numberMatched": len(found),
                    "numberReturned": len(page), "timeStamp": iso_time(runtime.clock()), "links": links})


@router.get("/collections/{cid}/items/{fid}", response_model=OgcFeature,
            responses={**as_geojson("OgcFeature"), **errors(*AUTH, 404)})
def item(cid: str, fid: str, request: Request, runtime: RuntimeDep, who: Reader) -> JSONResponse:
    store = runtime.store
    if cid not in COLLECTIONS:
        raise HTTPException(404, f"no collection {cid!r}")
    if cid == "tracks":
        row = store.track(fid)
        if row is not None:
            row = next(iter(visible_tracks([row], who.role, who.name, runtime.sensor_lookup)), None)
        feature = None if row is None else {"type": "Feature", "id": fid, "properties": row,
                                            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}}
    elif cid == "alerts":
        row = store.alert(fid)
        if row is not None and (not visible_alerts([row], who.role, who.name)
                                or store.held_at(fid, runtime.clock())):  # held back: not raised
            row = None
        feature = None if row is None else {
            "type": "Feature", "id": fid, "properties": row,
            "geometry": None if row["lat"] is None else {"type": "Point", "coordinates": [row["lon"], row["lat"]]}}
    else:
        feature = next((f for f in features(runtime, "zones", who, None, None, None) if f["id"] == fid), None)
    if feature is None:
        raise HTTPException(404, f"no {cid[:-1]} {fid!r}")
    b = base(request)
    feature["links"] = [{"href": f"{b}/ogc/collections/{cid}/items/{fid}", "rel": "self", "type": GEOJSON},
                        {"href": f"{b}/ogc/collections/{cid}", "rel": "collection", "type": "application/json"}]
    return geojson(feature)
