"""The picture: live tracks as GeoJSON (or as they were at a past time), its replayable span,
and the same tracks as Cursor on Target events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from fusion.model import iso_time
from ingest.timeparse import parse_iso

from ..deps import AUTH, NOT_MODIFIED, Reader, RuntimeDep, errors
from ..models import HistoryRange, Picture
from ..params import _bbox
from ..render_cache import cached
from ..renderer import cot_xml, offload, picture_json
from ..replay_picture import history_range, picture_at
from ..standards import ogc_bbox

router = APIRouter(prefix="/v1", tags=["picture"])


@router.get("/picture", response_model=Picture, responses={**errors(*AUTH, 422), **NOT_MODIFIED})
def picture(request: Request, runtime: RuntimeDep, who: Reader, bbox: str | None = None, at: str | None = None,
            window_s: float = Query(600.0, gt=0, le=86400)) -> Response:
    """Live tracks as GeoJSON; with ``at`` (ISO time) the picture as it was then, from history.
    The live picture is served from a rendering at most ``MFC_PICTURE_CACHE_S`` old (per viewer,
    with an ETag); a past one is rendered for each request."""
    box = _bbox(bbox)
    if at is not None:
        try:
            at_s = parse_iso(at)
        except ValueError:
            raise HTTPException(422, f"at must be an ISO 8601 time, not {at!r}") from None
        return Response(picture_json(picture_at(runtime.store, at_s, window_s, box), who.role, who.name,
                                     runtime.sensor_lookup, runtime.settings.exercise, iso_time(at_s)),
                        media_type="application/json")

    def live() -> bytes:
        return picture_json(runtime.store.tracks(box, None, None, 50000), who.role, who.name,
                            runtime.sensor_lookup, runtime.settings.exercise)

    return cached(request, runtime, who, ("picture", box), live, "application/json",
                  offload=offload(request, runtime, who, "picture", (box,)))


@router.get("/history/range", response_model=HistoryRange, responses=errors(*AUTH))
def history_span(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """The span of stored track history: how far back the picture can be replayed."""
    lo, hi = history_range(runtime.store)
    return {"earliest": None if lo is None else iso_time(lo), "latest": None if hi is None else iso_time(hi)}


@router.get("/picture.cot", response_class=Response, responses={
    200: {"content": {"application/xml": {"schema": {"type": "string"}}},
          "description": "Cursor on Target 2.0 events inside <events>"}, **errors(*AUTH, 400, 422), **NOT_MODIFIED})
def picture_cot(request: Request, runtime: RuntimeDep, who: Reader, bbox: str | None = None,
                stale_s: float = Query(300.0, gt=0, le=86400)) -> Response:
    """Live tracks as Cursor on Target 2.0 events (``application/xml``)."""
    box = ogc_bbox(bbox)

    def render() -> bytes:
        return cot_xml(runtime.store.tracks(box, None, None, 50_000), who.role, who.name, runtime.sensor_lookup,
                       stale_s, runtime.settings.exercise)

    return cached(request, runtime, who, ("picture.cot", box, stale_s), render, "application/xml",
                  offload=offload(request, runtime, who, "cot", (box, stale_s)))
