"""Tracks: the live list, one track, and its history (each point by the sensors that made it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from services.access.visibility import visible_tracks
from services.config.settings import ApiKey
from services.workers.runtime import Runtime

from ..deps import AUTH, NOT_MODIFIED, Reader, RuntimeDep, errors
from ..models import TrackHistory, TrackLine, TrackList
from ..params import _bbox, _since
from ..render_cache import cached
from ..renderer import offload, tracks_json

router = APIRouter(prefix="/v1/tracks", tags=["picture"])


def visible(runtime: Runtime, who: ApiKey, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return visible_tracks(rows, who.role, who.name, runtime.sensor_lookup)


def one_track(runtime: Runtime, track_id: str, who: ApiKey) -> dict[str, Any]:
    """The track as ``who`` may see it (an agency's narrowed view, never ``fixes``), or 404."""
    row = runtime.store.track(track_id)
    views = [] if row is None else visible(runtime, who, [row])
    if not views:
        raise HTTPException(404, f"no track {track_id!r}")
    return views[0]


@router.get("", response_model=TrackList, responses={**errors(*AUTH, 422), **NOT_MODIFIED})
def list_tracks(request: Request, runtime: RuntimeDep, who: Reader, bbox: str | None = None, since: str | None = None,
                source: str | None = Query(None, pattern="^(ais|radar)$"),
                contact: str | None = Query(None, pattern="^(dark|unidentified)$",
                                            description="radar-only contacts: `unidentified` (outside AIS cover) "
                                                        "or `dark` (where AIS reception is expected)"),
                limit: int = Query(5000, ge=1, le=50000)) -> Response:
    box, since_s = _bbox(bbox), _since(since)

    def render() -> bytes:
        return tracks_json(runtime.store.tracks(box, since_s, source, limit, contact=contact), who.role, who.name,
                           runtime.sensor_lookup)

    return cached(request, runtime, who, ("tracks", box, since_s, source, contact, limit), render, "application/json",
                  offload=offload(request, runtime, who, "tracks", (box, since_s, source, contact, limit)))


@router.get("/{track_id}", response_model=TrackLine, response_model_exclude_unset=True,
            responses=errors(*AUTH, 404))
def get_track(track_id: str, runtime: RuntimeDep, who: Reader) -> dict[str, Any]:
    return one_track(runtime, track_id, who)


@router.get("/{track_id}/history", response_model=TrackHistory, responses=errors(*AUTH, 404, 422))
def get_history(track_id: str, runtime: RuntimeDep, who: Reader, since: str | None = None,
                limit: int = Query(1000, ge=1, le=100000)) -> dict[str, Any]:
    track = one_track(runtime, track_id, who)
    points = runtime.store.history(track_id, _since(since), limit)
    if not track.get("origin"):  # each point by its own sensors; a partner's track is shared whole
        points = visible(runtime, who, points)
    return {"track_id": track_id, "points": [{k: p.get(k) for k in ("time", "lat", "lon", "sog_kn", "cog_deg")}
                                             for p in points]}
