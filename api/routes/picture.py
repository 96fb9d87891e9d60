"""The picture: live tracks as GeoJSON (or as they were at a past time), its replayable span,
and the same tracks as Cursor on Target events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from fusion.model import iso_time
from ingest.timeparse import parse_iso
from services.visibility import visible_tracks

from ..deps import AUTH, Reader, RuntimeDep, errors
from ..models import HistoryRange, Picture
from ..params import _bbox
from ..replay_picture import history_range, picture_at
from ..standards import cot_event, ogc_bbox
from .tracks import visible

router = APIRouter(prefix="/v1", tags=["picture"])


@router.get("/picture", response_model=Picture, responses=errors(*AUTH, 422))
def picture(runtime: RuntimeDep, who: Reader, bbox: str | None = None, at: str | None = None,
            window_s: float = Query(600.0, gt=0, le=86400)) -> JSONResponse:
    """Live tracks as GeoJSON; with ``at`` (ISO time) the picture as it was then, from history."""
    store = runtime.store
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
    rows = visible(runtime, who, rows)
    return JSONResponse({"type": "FeatureCollection", "time": latest, "features": [  # polled: not validated per item
        {"type": "Feature", "id": r["track_id"],
         "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]}, "properties": r}
        for r in rows]})


@router.get("/history/range", response_model=HistoryRange, responses=errors(*AUTH))
def history_span(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """The span of stored track history: how far back the picture can be replayed."""
    lo, hi = history_range(runtime.store)
    return {"earliest": None if lo is None else iso_time(lo), "latest": None if hi is None else iso_time(hi)}


@router.get("/picture.cot", response_class=Response, responses={
    200: {"content": {"application/xml": {"schema": {"type": "string"}}},
          "description": "Cursor on Target 2.0 events inside <events>"}, **errors(*AUTH, 400, 422)})
def picture_cot(runtime: RuntimeDep, who: Reader, bbox: str | None = None,
                stale_s: float = Query(300.0, gt=0, le=86400)) -> Response:
    """Live tracks as Cursor on Target 2.0 events (``application/xml``)."""
    rows = runtime.store.tracks(ogc_bbox(bbox), None, None, 50_000)
    rows = visible_tracks(rows, who.role, who.name, runtime.sensor_lookup)
    body = "<?xml version='1.0' encoding='UTF-8'?>\n<events>" + "".join(
        cot_event(r, stale_s) for r in rows) + "</events>\n"
    return Response(body, media_type="application/xml")
