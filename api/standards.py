"""The picture through standards: OGC API – Features, Cursor on Target, Prometheus metrics.

* ``/ogc``: OGC API – Features – Part 1 (Core, GeoJSON): collections ``tracks`` (live fused
  tracks), ``alerts`` and ``zones``; ``bbox``, ``datetime``, ``limit``/``offset`` paging with
  ``next`` links.  Same keys and releasability as ``/v1``.
* ``/v1/picture.cot``: every live track as a Cursor on Target 2.0 event inside ``<events>``
  (TAK servers and ATAK/WinTAK plug-ins read them).
* ``/metrics``: Prometheus text format, for the fusion centre's own monitoring.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Callable
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

from sqlalchemy import func, select
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from fusion.model import iso_time
from ingest.timeparse import parse_iso
from services import geo
from services import store as store_tables
from services.runtime import Runtime
from services.settings import ApiKey
from services.visibility import STAFF_ROLES, visible_alerts, visible_tracks

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
COLLECTIONS = {
    "tracks": ("Fused vessel tracks", "Live fused tracks (AIS, radar or both), latest state of each."),
    "alerts": ("Alerts", "Anomaly alerts, newest first, with their lifecycle state."),
    "zones": ("Watch zones", "Built-in watch zones (12 nm around disputed features) and user zones."),
}
AREA = [95.0, -5.0, 125.0, 27.0]  # the default area of interest
KN = 1852.0 / 3600.0


def parse_datetime(text: str | None) -> tuple[float | None, float | None]:
    """OGC ``datetime``: an instant, or ``start/end`` with ``..`` (or empty) for an open end."""
    if not text:
        return None, None
    try:
        if "/" not in text:
            t = parse_iso(text)
            return t, t
        a, b = text.split("/", 1)
        start = None if a in ("", "..") else parse_iso(a)
        end = None if b in ("", "..") else parse_iso(b)
    except ValueError:
        raise HTTPException(400, f"datetime must be an RFC 3339 instant or interval, not {text!r}") from None
    if start is not None and end is not None and start > end:
        raise HTTPException(400, "datetime interval ends before it starts")
    return start, end


def ogc_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise HTTPException(400, "bbox must be minLon,minLat,maxLon,maxLat") from None
    if len(values) == 6:  # with heights: drop them
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise HTTPException(400, "bbox must be minLon,minLat,maxLon,maxLat")
    w, s, e, n = values
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise HTTPException(400, "bbox out of range")
    return w, s, e, n


def _in_bbox(lat: float | None, lon: float | None, bbox: tuple[float, float, float, float] | None) -> bool:
    if bbox is None:
        return True
    if lat is None or lon is None:
        return False
    w, s, e, n = bbox
    return s <= lat <= n and (w <= lon <= e if w <= e else (lon >= w or lon <= e))


def cot_event(track: dict[str, Any], stale_s: float = 300.0) -> str:
    """One track as a CoT 2.0 event: ``a-n-S`` (neutral surface) with an AIS identity,
    ``a-u-S`` (unknown surface) for a radar-only (dark) contact."""
    t = parse_iso(track["time"])
    kind = "a-n-S" if track.get("mmsi") is not None else "a-u-S"
    callsign = track.get("name") or (f"MMSI {track['mmsi']}" if track.get("mmsi") is not None
                                     else f"DARK {track['track_id']}")
    ce = track.get("sigma_m") or 9999999.0
    speed = (track.get("sog_kn") or 0.0) * KN
    remarks = ", ".join(f"{k}={track[k]}" for k in ("mmsi", "flag", "ship_type", "status") if track.get(k) is not None)
    remarks += f", sources={'+'.join(track.get('sources') or [])}"
    return (f'<event version="2.0" uid={quoteattr("MFC-" + track["track_id"])} type="{kind}" how="m-f" '
            f'time="{_cot_time(t)}" start="{_cot_time(t)}" stale="{_cot_time(t + stale_s)}">'
            f'<point lat="{track["lat"]:.6f}" lon="{track["lon"]:.6f}" hae="0.0" ce="{ce:.1f}" le="9999999.0"/>'
            f'<detail><contact callsign={quoteattr(callsign)}/>'
            f'<track course="{(track.get("cog_deg") or 0.0):.1f}" speed="{speed:.2f}"/>'
            f'<remarks>{_xml_text(remarks)}</remarks></detail></event>')


def _cot_time(t: float) -> str:
    ms = math.floor(t * 1000)
    return _dt.datetime.fromtimestamp(ms // 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def add_standards(app: FastAPI, runtime: Runtime, read: Callable[..., ApiKey],
                  counters: dict[str, int]) -> None:
    store = runtime.store
    reader = Depends(read)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def geojson(doc: dict[str, Any]) -> JSONResponse:
        return JSONResponse(doc, media_type=GEOJSON)

    @app.get("/ogc", tags=["ogc"])
    def landing(request: Request, _: ApiKey = reader) -> dict[str, Any]:
        b = base(request)
        return {"title": "ASEAN Maritime Fusion Centre", "description": "The fused maritime picture (OGC API – Features)",
                "links": [
                    {"href": f"{b}/ogc", "rel": "self", "type": "application/json", "title": "this document"},
                    {"href": f"{b}/openapi.json", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0"},
                    {"href": f"{b}/docs", "rel": "service-doc", "type": "text/html"},
                    {"href": f"{b}/ogc/conformance", "rel": "conformance", "type": "application/json"},
                    {"href": f"{b}/ogc/collections", "rel": "data", "type": "application/json"},
                ]}

    @app.get("/ogc/conformance", tags=["ogc"])
    def conformance(_: ApiKey = reader) -> dict[str, Any]:
        return {"conformsTo": CONFORMANCE}

    def collection(b: str, cid: str) -> dict[str, Any]:
        title, description = COLLECTIONS[cid]
        return {"id": cid, "title": title, "description": description, "itemType": "feature",
                "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
                "extent": {"spatial": {"bbox": [AREA], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "links": [{"href": f"{b}/ogc/collections/{cid}", "rel": "self", "type": "application/json"},
                          {"href": f"{b}/ogc/collections/{cid}/items", "rel": "items", "type": GEOJSON}]}

    @app.get("/ogc/collections", tags=["ogc"])
    def collections(request: Request, _: ApiKey = reader) -> dict[str, Any]:
        b = base(request)
        return {"links": [{"href": f"{b}/ogc/collections", "rel": "self", "type": "application/json"}],
                "collections": [collection(b, cid) for cid in COLLECTIONS]}

    @app.get("/ogc/collections/{cid}", tags=["ogc"])
    def one_collection(cid: str, request: Request, _: ApiKey = reader) -> dict[str, Any]:
        if cid not in COLLECTIONS:
            raise HTTPException(404, f"no collection {cid!r}; there are {', '.join(COLLECTIONS)}")
        return collection(base(request), cid)

    def features(cid: str, who: ApiKey, bbox, start, end) -> list[dict[str, Any]]:
        if cid == "tracks":
            rows = store.tracks(bbox, start, None, 50_000)
            rows = visible_tracks([r for r in rows if end is None or _t(r["time"]) <= end],
                                  who.role, who.name, runtime.sensor_lookup)
            return [{"type": "Feature", "id": r["track_id"],
                     "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]}, "properties": r}
                    for r in rows]
        if cid == "alerts":
            rows = store.alerts(None, None, None, bbox, start, 10_000)
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

    @app.get("/ogc/collections/{cid}/items", tags=["ogc"])
    def items(cid: str, request: Request, bbox: str | None = None, datetime: str | None = None,
              limit: int = Query(1000, ge=1, le=10000), offset: int = Query(0, ge=0),
              who: ApiKey = reader) -> JSONResponse:
        if cid not in COLLECTIONS:
            raise HTTPException(404, f"no collection {cid!r}; there are {', '.join(COLLECTIONS)}")
        allowed = {"bbox", "datetime", "limit", "offset"}  # never ``key``: it would be copied into links
        unknown = set(request.query_params) - allowed
        if unknown:
            raise HTTPException(400, f"unknown query parameters: {', '.join(sorted(unknown))}")
        start, end = parse_datetime(datetime)
        found = features(cid, who, ogc_bbox(bbox), start, end)
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

    @app.get("/ogc/collections/{cid}/items/{fid}", tags=["ogc"])
    def item(cid: str, fid: str, request: Request, who: ApiKey = reader) -> JSONResponse:
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
            if row is not None and not visible_alerts([row], who.role, who.name):
                row = None
            feature = None if row is None else {
                "type": "Feature", "id": fid, "properties": row,
                "geometry": None if row["lat"] is None else {"type": "Point", "coordinates": [row["lon"], row["lat"]]}}
        else:
            feature = next((f for f in features("zones", who, None, None, None) if f["id"] == fid), None)
        if feature is None:
            raise HTTPException(404, f"no {cid[:-1]} {fid!r}")
        b = base(request)
        feature["links"] = [{"href": f"{b}/ogc/collections/{cid}/items/{fid}", "rel": "self", "type": GEOJSON},
                            {"href": f"{b}/ogc/collections/{cid}", "rel": "collection", "type": "application/json"}]
        return geojson(feature)

    @app.get("/v1/picture.cot", tags=["picture"])
    def picture_cot(bbox: str | None = None, stale_s: float = Query(300.0, gt=0, le=86400),
                    who: ApiKey = reader) -> Response:
        """Live tracks as Cursor on Target 2.0 events (``application/xml``)."""
        rows = store.tracks(ogc_bbox(bbox), None, None, 50_000)
        rows = visible_tracks(rows, who.role, who.name, runtime.sensor_lookup)
        body = "<?xml version='1.0' encoding='UTF-8'?>\n<events>" + "".join(
            cot_event(r, stale_s) for r in rows) + "</events>\n"
        return Response(body, media_type="application/xml")

    @app.get("/metrics", tags=["ops"])
    def metrics(who: ApiKey = reader) -> Response:
        """Prometheus text exposition of the centre's own health.  An agency key gets only counts
        of the tracks and alerts it may see (the centre's internals are for its own staff)."""
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

        if who.role not in STAFF_ROLES:
            seen = visible_tracks(store.tracks(None, None, None, 1_000_000), who.role, who.name,
                                  runtime.sensor_lookup)
            metric("mfc_tracks", "gauge", "Live tracks you may see, by status.",
                   [(f'{{status="{k}"}}', v) for k, v in sorted(_tally(r["status"] for r in seen).items())])
            alerts = visible_alerts(store.alerts(None, None, None, None, None, 1_000_000), who.role, who.name)
            metric("mfc_alerts", "gauge", "Alerts you may see, by state.",
                   [(f'{{state="{k}"}}', v) for k, v in sorted(_tally(r["state"] for r in alerts).items())])
            return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
        by_status = _count(store, store_tables.tracks.c.status)
        metric("mfc_tracks", "gauge", "Tracks in the store by status.",
               [(f'{{status="{k}"}}', v) for k, v in sorted(by_status.items())])
        by_state = _count(store, store_tables.alerts.c.state)
        metric("mfc_alerts", "gauge", "Alerts in the store by state.",
               [(f'{{state="{k}"}}', v) for k, v in sorted(by_state.items())])
        metric("mfc_ingest_lines_total", "counter", "Ingest lines through the HTTP API by verdict.",
               [(f'{{kind="{k.split(":")[0]}",verdict="{k.split(":")[1]}"}}', v) for k, v in sorted(counters.items())])
        metric("mfc_worker_records_total", "counter", "Records handled by each in-process worker.",
               [(f'{{worker="{w.name}"}}', w.handled) for w in runtime.workers])
        metric("mfc_worker_up", "gauge", "1 while the worker's loop runs.",
               [(f'{{worker="{w.name}"}}', 1 if w.is_alive() else 0) for w in runtime.workers])
        sender = runtime.router.sender
        metric("mfc_webhook_deliveries_total", "counter", "Webhook deliveries by outcome.",
               [('{outcome="delivered"}', sender.delivered), ('{outcome="failed"}', sender.failed)])
        metric("mfc_webhook_pending", "gauge", "Webhook deliveries waiting (incl. retries).",
               [("", sender.pending())])
        return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def _tally(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _count(store: Any, column: Any) -> dict[str, int]:
    q = select(column, func.count()).group_by(column)
    with store.engine.connect() as conn:
        return {str(k): int(n) for k, n in conn.execute(q)}


def _t(text: str) -> float:
    return parse_iso(text)


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: Any) -> None:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            xs.append(float(c[0]))
            ys.append(float(c[1]))
        elif isinstance(c, (list, tuple)):
            for x in c:
                walk(x)

    walk(geometry.get("coordinates", []))
    return (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 0.0, 0.0)
