"""Anchorages learned from traffic (``fusion.rules.traffic``), read-only.

Staff only: a learned anchorage is built from every track whatever its sensors allow, so it
carries no releasability an agency could be shown (fails closed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from ..deps import AUTH, Acker, RuntimeDep, errors
from ..models import Anchorages

router = APIRouter(prefix="/v1/anchorages", tags=["geography"])


@router.get("", response_model=Anchorages, responses=errors(*AUTH, 503))
def anchorages(runtime: RuntimeDep, _: Acker) -> dict[str, Any]:
    """Places where at least ``anchorage_min_vessels`` distinct vessels stopped (speed under
    0.5 kn for 30 min, or at anchor / moored), as GeoJSON: adjacent ~1 km cells merged."""
    worker = runtime.fusion_worker
    out: list[dict[str, Any]] = []

    def take(fusion: Any) -> None:
        out.append(fusion.rules.ctx.traffic.anchorages_geojson())

    if worker is not None and not worker.is_alive():
        take(worker.fusion)  # not started (or stopped): no other thread touches the state
    elif worker is not None:
        worker.control(take)  # between two batches, on the fusion thread
    if not out:
        raise HTTPException(503, "the fusion engine is not running (or did not answer) in this process")
    return out[0]
