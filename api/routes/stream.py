"""The live stream: Server-Sent Events of track and alert lines, as releasable to the key."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from services.access.visibility import STAFF_ROLES, releasable_to, track_view
from services.access.workflow import incident_releasable_to
from services.delivery.broadcast import TooManyListeners

from ..deps import AUTH, Reader, RuntimeDep, errors

router = APIRouter(prefix="/v1", tags=["picture"])
_EVENTS = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                 "description": "An endless event stream: `event: track|alert|incident|lagged`, `data:` one JSON line"}}


@router.get("/stream", response_class=StreamingResponse, responses={**_EVENTS, **errors(*AUTH, 422, 429)})
async def stream(request: Request, runtime: RuntimeDep, who: Reader,
                 types: str = Query("track,alert,incident",
                                    pattern="^(track|alert|incident)(,(track|alert|incident)){0,2}$")) -> StreamingResponse:
    """Server-Sent Events: ``event: track``, ``event: alert`` and ``event: incident`` with the JSON
    line as data (an alert a suppression holds back is not sent).  A partner node's track line
    that is the same vessel as one of this node's tracks the key may see carries
    ``folded_into``: that track's id (``GET /v1/tracks`` lists them as one entry).
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
            view = track_view(value, who.name, runtime.sensor_lookup)
            if view is not None and "folded_into" in view:
                host = runtime.broadcaster.fold.lines.get(view["folded_into"])
                if host is None or track_view(host, who.name, runtime.sensor_lookup) is None:
                    del view["folded_into"]  # the same vessel as a track this key may not see
            return view
        if kind == "incident":
            return value if incident_releasable_to(value, who.name) else None
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
