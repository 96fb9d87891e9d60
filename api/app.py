"""The FastAPI app: the picture, tracks, alerts, ingest and the web page.

It reads the store (so API replicas are stateless) and writes to the bus
through the runtime's ingest service.  OpenAPI at ``/docs``.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from fusion.model import iso_time
from services import geo
from services.broadcast import TooManyListeners
from services.geography import ZonesFileError, zones_from_geojson
from services.ingest_service import BusUnavailable, TooManyLines
from services.runtime import Runtime
from services.subscriptions import SubscriptionError, parse_subscription
from services.subscriptions import SubscriptionLimitError
from services.visibility import (STAFF_ROLES, releasable_to, track_view, visible_alerts, visible_sensors,
                                 visible_tracks)
from services.settings import ApiKey
from ingest.errors import IngestError
from ingest.sensors import sensor_to_dict
from ingest.timeparse import parse_iso
from services.sensor_registry import parse_sensors

from .replay_picture import history_range, picture_at
from .standards import add_standards
from .auth import ACK_ROLES, ADMIN_ROLES, INGEST_ROLES, READ_ROLES, SUBSCRIBE_ROLES, requires

STATIC = resources.files("api").joinpath("static")


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(422, "bbox must be 'west,south,east,north' in degrees") from None
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise HTTPException(422, "bbox out of range: want west,south,east,north with south ≤ north")
    return w, s, e, n


def _since(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        raise HTTPException(422, f"since must be an ISO 8601 time, not {text!r}") from None


async def _body(request: Request, limit: int) -> str:
    data = await _body_bytes(request, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"body is not UTF-8: byte {exc.start} is {data[exc.start]:#04x}") from None


async def _body_bytes(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the {limit}-byte limit; split it")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"body is over the {limit}-byte limit; split it")
    return bytes(data)


def _owns(key: ApiKey, owner: str) -> bool:
    """An integrator writes only for its own sensors (key name = sensor owner); admins for any."""
    return key.role == "admin" or key.name == owner


def _check_sensor_cap(runtime: Runtime, new: list[Any]) -> None:
    """At most ``limits.sensors_per_integrator`` sensors per owner (409 with the count beyond)."""
    cap = runtime.limits.sensors_per_integrator
    for owner in {s.owner for s in new}:
        have = {s.id for s in runtime.sensors.values() if s.owner == owner}
        after = have | {s.id for s in new if s.owner == owner}
        if len(after) > cap:
            raise HTTPException(409, f"owner {owner!r} would have {len(after)} sensors, the limit is {cap} "
                                     f"({len(have)} registered); delete some first")


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="ASEAN Maritime Fusion Centre", version="0.1.0",
                  description="Fused maritime picture, alerts and sensor ingest.")
    app.state.runtime = runtime
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    read = Depends(requires(READ_ROLES))
    store = runtime.store

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, Any]:
        """Liveness, for load balancers: no key, so no counts of anything (they would say what exists)."""
        return {"status": "ok", "bus": runtime.settings.bus.split("://")[0]}

    def visible(who: ApiKey, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return visible_tracks(rows, who.role, who.name, runtime.sensor_lookup)

    def one_track(track_id: str, who: ApiKey) -> dict[str, Any]:
        row = store.track(track_id)
        if row is None or not visible(who, [row]):
            raise HTTPException(404, f"no track {track_id!r}")
        return row

    @app.get("/v1/tracks", tags=["picture"])
    def list_tracks(bbox: str | None = None, since: str | None = None,
                    source: str | None = Query(None, pattern="^(ais|radar)$"),
                    limit: int = Query(5000, ge=1, le=50000), who: ApiKey = read) -> dict[str, Any]:
        rows = visible(who, store.tracks(_bbox(bbox), _since(since), source, limit))
        return {"tracks": rows, "count": len(rows)}

    @app.get("/v1/tracks/{track_id}", tags=["picture"])
    def get_track(track_id: str, who: ApiKey = read) -> dict[str, Any]:
        return one_track(track_id, who)

    @app.get("/v1/tracks/{track_id}/history", tags=["picture"])
    def get_history(track_id: str, since: str | None = None, limit: int = Query(1000, ge=1, le=100000),
                    who: ApiKey = read) -> dict[str, Any]:
        one_track(track_id, who)
        points = visible(who, store.history(track_id, _since(since), limit))  # each point by its own sensors
        return {"track_id": track_id, "points": [{k: p.get(k) for k in ("time", "lat", "lon", "sog_kn", "cog_deg")}
                                                 for p in points]}

    @app.get("/v1/picture", tags=["picture"])
    def picture(bbox: str | None = None, at: str | None = None,
                window_s: float = Query(600.0, gt=0, le=86400), who: ApiKey = read) -> dict[str, Any]:
        """Live tracks as GeoJSON; with ``at`` (ISO time) the picture as it was then, from history."""
        if at is not None:
            try:
                at_s = parse_iso(at)
            except ValueError:
                raise HTTPException(422, f"at must be an ISO 8601 time, not {at!r}") from None
            rows = picture_at(store, at_s, window_s, _bbox(bbox))
            latest = iso_time(at_s)
        else:
            rows = store.tracks(_bbox(bbox), None, None, 50000)
            latest = max((r["time"] for r in rows), default=None)
        rows = visible(who, rows)
        return {"type": "FeatureCollection", "time": latest, "features": [
            {"type": "Feature", "id": r["track_id"],
             "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]}, "properties": r}
            for r in rows]}

    @app.get("/v1/history/range", tags=["picture"])
    def history_span(_: ApiKey = read) -> dict[str, Any]:
        """The span of stored track history: how far back the picture can be replayed."""
        lo, hi = history_range(store)
        return {"earliest": None if lo is None else iso_time(lo), "latest": None if hi is None else iso_time(hi)}

    @app.get("/v1/alerts", tags=["alerts"])
    def list_alerts(type: str | None = None, state: str | None = None, severity: str | None = None,
                    bbox: str | None = None, since: str | None = None,
                    limit: int = Query(500, ge=1, le=10000), who: ApiKey = read) -> dict[str, Any]:
        """Alerts, newest first.  An agency key sees only alerts releasable to it."""
        rows = visible_alerts(store.alerts(type, state, severity, _bbox(bbox), _since(since), limit),
                              who.role, who.name)
        return {"alerts": rows, "count": len(rows)}

    @app.post("/v1/alerts/{alert_id}/ack", tags=["alerts"])
    def ack(alert_id: str, who: ApiKey = Depends(requires(ACK_ROLES))) -> dict[str, Any]:
        row = store.ack_alert(alert_id, who.name, runtime.clock())
        if row is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        return row

    @app.get("/v1/stream", tags=["picture"])
    async def stream(request: Request, types: str = Query("track,alert", pattern="^(track|alert)(,(track|alert))?$"),
                     who: ApiKey = read) -> StreamingResponse:
        """Server-Sent Events: ``event: track`` and ``event: alert`` with the JSON line as data.
        Browsers' EventSource cannot send headers: pass the key as ``?key=``.  An agency key
        gets only alerts releasable to it, narrowed by its ``stream`` subscriptions if it has any."""
        mine = [sub for sub in runtime.subscriptions.all(who.name) if sub.delivery == "stream"] \
            if who.role == "agency" else []

        def shown(kind: str, value: dict[str, Any]) -> dict[str, Any] | None:
            """The event as this key may see it, or None (releasability, then subscriptions)."""
            if who.role in STAFF_ROLES:
                return {k: v for k, v in value.items() if k != "fixes"} if kind == "track" else value
            if who.role != "agency":
                return None
            if kind == "track":
                return track_view(value, who.name, runtime.sensor_lookup)
            if kind == "alert" and releasable_to(value, who.name) \
                    and (not mine or any(sub.matches(value) for sub in mine)):
                return value
            return None

        try:  # filtered before queueing: the queue holds only what this key may see
            listener = runtime.broadcaster.listen(frozenset(types.split(",")), shown, f"{who.role}:{who.name}")
        except TooManyListeners as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": "30"}) from None

        async def events():
            try:
                yield ": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        kind, value = await asyncio.wait_for(listener.queue.get(), timeout=15.0)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if listener.dropped:
                        yield f"event: lagged\ndata: {json.dumps({'dropped': listener.dropped})}\n\n"
                        listener.dropped = 0
                    yield f"event: {kind}\ndata: {json.dumps(value, separators=(',', ':'))}\n\n"
            finally:
                runtime.broadcaster.forget(listener)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/v1/ingest/ais", status_code=202, tags=["ingest"])
    async def ingest_ais(request: Request, sensor_id: str = Query(..., min_length=1),
                         who: ApiKey = Depends(requires(INGEST_ROLES))) -> dict[str, Any]:
        sensor = runtime.sensors.get(sensor_id)
        if sensor is not None and not _owns(who, sensor.owner):
            raise HTTPException(403, f"key {who.name!r} may not write for sensor {sensor_id!r} "
                                     f"(owner {sensor.owner!r})")
        text = await _body(request, runtime.settings.max_body_bytes)
        return await asyncio.to_thread(_delivered, runtime.ingest.ingest_ais, text, sensor_id)

    @app.post("/v1/ingest/radar", status_code=202, tags=["ingest"])
    async def ingest_radar(request: Request, who: ApiKey = Depends(requires(INGEST_ROLES))) -> dict[str, Any]:
        text = await _body(request, runtime.settings.max_body_bytes)

        def allowed(sensor_id: str) -> bool:
            sensor = runtime.sensors.get(sensor_id)
            return sensor is not None and _owns(who, sensor.owner)

        return await asyncio.to_thread(_delivered, runtime.ingest.ingest_radar, text, allowed)

    @app.post("/v1/ingest/asterix", status_code=202, tags=["ingest"])
    async def ingest_asterix(request: Request, sensor_id: str = Query(..., min_length=1),
                             who: ApiKey = Depends(requires(INGEST_ROLES))) -> dict[str, Any]:
        """ASTERIX CAT010/CAT048 datablocks from one registered radar (body: the raw bytes,
        ``application/octet-stream``); the same verdict as the other ingest paths."""
        sensor = runtime.sensors.get(sensor_id)
        if sensor is not None and not _owns(who, sensor.owner):
            raise HTTPException(403, f"key {who.name!r} may not write for sensor {sensor_id!r} "
                                     f"(owner {sensor.owner!r})")
        data = await _body_bytes(request, runtime.settings.max_body_bytes)
        return await asyncio.to_thread(_delivered, runtime.ingest.ingest_asterix, data, sensor_id)

    @app.get("/v1/sensors", tags=["sensors"])
    def sensors(who: ApiKey = Depends(requires(READ_ROLES | INGEST_ROLES))) -> dict[str, Any]:
        """Registered sensors with their health as this process's ingest saw it: lines accepted
        and rejected, the last receipt and observation times, the last reject's reason, and a
        status (``live``: heard in the last 5 minutes, ``silent``, or ``never``).  An agency key
        sees the sensors whose data is releasable to it, an integrator key its own sensors."""
        now = runtime.clock()
        out = []
        for s in visible_sensors(list(runtime.sensors.values()), who.role, who.name):
            h = dict(runtime.ingest.health.get(s.id) or {"accepted": 0, "rejected": 0, "late": 0,
                                                          "last_receipt_s": None, "last_observation_s": None,
                                                          "last_reject": None, "warnings": 0, "last_warning": None,
                                                          "range_exceeded": 0, "farthest_range_m": None})
            last = h.pop("last_receipt_s")
            seen = h.pop("last_observation_s")
            h["last_receipt"] = None if last is None else iso_time(last)
            h["last_observation"] = None if seen is None else iso_time(seen)
            h["status"] = "never" if last is None else ("live" if now - last <= 300 else "silent")
            out.append({**sensor_to_dict(s), "health": h})
        return {"sensors": out}

    @app.post("/v1/sensors", status_code=201, tags=["sensors"])
    async def register_sensors(request: Request, who: ApiKey = Depends(requires(INGEST_ROLES))) -> dict[str, Any]:
        """Register sensors: one sensor object (as in the sensors file) or ``{"sensors": [...]}``.
        An integrator registers sensors it owns (``owner`` defaults to its key's name)."""
        try:
            body = json.loads(await _body(request, 1_000_000))
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        try:
            new = parse_sensors(body, who.name)
        except IngestError as exc:
            raise HTTPException(422, exc.reason) from None
        for sensor in new:
            old = runtime.sensors.get(sensor.id)
            if not _owns(who, sensor.owner):
                raise HTTPException(403, f"key {who.name!r} may not register sensor {sensor.id!r} "
                                         f"for owner {sensor.owner!r}")
            if old is not None and not _owns(who, old.owner):
                raise HTTPException(403, f"sensor {sensor.id!r} belongs to {old.owner!r}")
        _check_sensor_cap(runtime, new)
        for sensor in new:
            runtime.register_sensor(sensor, who.name)
        return {"sensors": [sensor_to_dict(s) for s in new]}

    @app.delete("/v1/sensors/{sensor_id}", tags=["sensors"])
    def unregister_sensor(sensor_id: str, who: ApiKey = Depends(requires(INGEST_ROLES))) -> dict[str, Any]:
        sensor = runtime.sensors.get(sensor_id)
        if sensor is None or not _owns(who, sensor.owner):
            raise HTTPException(404, f"no sensor {sensor_id!r} of yours")
        if not runtime.unregister_sensor(sensor_id, who.name):
            raise HTTPException(409, f"sensor {sensor_id!r} comes from the sensors file; change it there")
        return {"deleted": sensor_id}

    @app.get("/v1/zones", tags=["geography"])
    def zones(_: ApiKey = read) -> dict[str, Any]:
        """Built-in watch zones and the zones users added, as one FeatureCollection."""
        builtin = geo.zones()
        return {"type": "FeatureCollection", "features": builtin["features"] + store.zones()}

    @app.post("/v1/zones", status_code=201, tags=["geography"])
    async def add_zone(request: Request, who: ApiKey = Depends(requires(ADMIN_ROLES))) -> dict[str, Any]:
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
        store.put_zone(name, kind, clean, who.name, runtime.clock())
        runtime.zone_added(name, kind, geometry)
        return clean

    @app.delete("/v1/zones/{name}", tags=["geography"])
    def delete_zone(name: str, who: ApiKey = Depends(requires(ADMIN_ROLES))) -> dict[str, Any]:
        if not store.delete_zone(name):
            raise HTTPException(404, f"no user zone {name!r}")
        runtime.zone_removed(name)
        return {"deleted": name}

    @app.get("/v1/subscriptions", tags=["subscriptions"])
    def list_subscriptions(who: ApiKey = Depends(requires(SUBSCRIBE_ROLES))) -> dict[str, Any]:
        """An agency's own subscriptions (an admin sees every agency's)."""
        subs = runtime.subscriptions.all(None if who.role == "admin" else who.name)
        return {"subscriptions": [sub.public() for sub in subs]}

    @app.post("/v1/subscriptions", status_code=201, tags=["subscriptions"])
    async def add_subscription(request: Request,
                               who: ApiKey = Depends(requires(SUBSCRIBE_ROLES))) -> dict[str, Any]:
        """Subscribe to alerts: ``{"types": [...], "bbox": [w, s, e, n], "min_severity": "medium",
        "delivery": {"kind": "kafka" | "webhook" | "stream", "url": ..., "secret": ...}}``.
        The answer shows a webhook's secret once (generated when not given)."""
        try:
            body = json.loads(await _body(request, 65_536))
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        agency = who.name
        if who.role == "admin":
            agency = body.get("agency") if isinstance(body, dict) else None
            if not isinstance(agency, str) or not agency:
                raise HTTPException(422, "an admin must name the subscription's agency")
        elif isinstance(body, dict) and body.get("agency", agency) != agency:
            raise HTTPException(403, f"key {who.name!r} may subscribe only for itself")
        try:  # in a thread: checking a webhook resolves its host name
            sub = await run_in_threadpool(parse_subscription, body, agency, runtime.webhook_policy)
            runtime.subscriptions.put(sub, who.name)
        except SubscriptionLimitError as exc:
            raise HTTPException(409, str(exc)) from None
        except SubscriptionError as exc:
            raise HTTPException(422, str(exc)) from None
        runtime.router.invalidate()
        shown = sub.public()
        if sub.delivery == "webhook":
            shown["secret"] = sub.secret
        return shown

    @app.delete("/v1/subscriptions/{sub_id}", tags=["subscriptions"])
    def delete_subscription(sub_id: str, who: ApiKey = Depends(requires(SUBSCRIBE_ROLES))) -> dict[str, Any]:
        sub = runtime.subscriptions.get(sub_id)
        if sub is None or (who.role != "admin" and sub.agency != who.name):
            raise HTTPException(404, f"no subscription {sub_id!r}")
        runtime.subscriptions.delete(sub_id)
        runtime.router.invalidate()
        return {"deleted": sub_id}

    @app.get("/v1/land", tags=["geography"])
    def land() -> Response:  # public basemap data, no key needed
        return Response(geo.land_for_map(), media_type="application/geo+json",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC.joinpath("index.html")))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    counters: dict[str, int] = {}
    add_standards(app, runtime, requires(READ_ROLES), counters)

    def _delivered(ingest, *args: Any) -> dict[str, Any]:
        """Ingest, then wait for the bus to acknowledge: 202 only for lines that cannot be lost."""
        verdict = ingest(*args)
        runtime.ingest.deliver()
        kind = {runtime.ingest.ingest_ais: "ais", runtime.ingest.ingest_asterix: "asterix"}.get(ingest, "radar")
        for outcome, n in (("accepted", verdict.accepted), ("rejected", verdict.rejected_count)):
            counters[f"{kind}:{outcome}"] = counters.get(f"{kind}:{outcome}", 0) + n
        return verdict.to_dict()

    @app.exception_handler(BusUnavailable)
    async def bus_unavailable(_: Request, exc: BusUnavailable) -> JSONResponse:
        return JSONResponse({"error": f"bus unavailable, retry: {exc}"}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(TooManyLines)
    async def too_many_lines(_: Request, exc: TooManyLines) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=413)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app
