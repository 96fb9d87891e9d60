"""AIS coverage: where each station can be expected to hear a vessel (``fusion.coverage``)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, HTTPException

from fusion.coverage import ANON_PREFIX
from fusion.geodesy import M_PER_DEG_LAT
from fusion.model import iso_time
from services.access.visibility import STAFF_ROLES, sensor_visible_to

from ..deps import AUTH, Reader, RuntimeDep, errors
from ..models import Coverage

router = APIRouter(prefix="/v1/coverage", tags=["picture"])


@router.get("", response_model=Coverage, response_model_exclude_unset=True, responses=errors(*AUTH, 503))
def coverage(runtime: RuntimeDep, who: Reader) -> dict[str, Any]:
    """The coverage model as the fusion engine of this process holds it: each AIS station
    (registered range, or a satellite's revisit) and the grid cells learned from the stream
    (vessels heard, transmitting vessels a radar held there but the station never heard, the
    estimated reception and whether the cell counts as covered).  An agency key sees only the
    stations whose data is releasable to it (a feed or station the registry does not know:
    none).  503 when fusion does not run in this process."""
    if who.role in STAFF_ROLES:
        def visible(station: str) -> bool:
            return True
    else:
        def visible(station: str) -> bool:
            sid = station[len(ANON_PREFIX):] if station.startswith(ANON_PREFIX) else station
            return sensor_visible_to(runtime.sensor_lookup.get(sid), who.name)

    out: list[tuple[dict[str, Any], float, float]] = []

    def take(fusion: Any) -> None:
        cov = fusion.rules.ctx.coverage
        out.append((cov.geojson(visible), fusion.rules.now_s, cov.cell_deg))

    worker = runtime.fusion_worker
    if worker is not None and not worker.is_alive():
        take(worker.fusion)  # not started (or stopped): no other thread touches the state
    elif worker is not None:
        worker.control(take)  # between two batches, on the fusion thread
    if not out:
        raise HTTPException(503, "the coverage model is held by the fusion engine, which does not run "
                                 "(or did not answer) in this process")
    doc, now_s, cell_deg = out[0]
    for f in doc["features"]:
        last = f["properties"].pop("last_heard_s", None)
        if last is not None:
            f["properties"]["last_heard"] = iso_time(last)
    doc["time"] = iso_time(now_s) if math.isfinite(now_s) else None
    doc["cell_m"] = round(cell_deg * M_PER_DEG_LAT)
    return doc
