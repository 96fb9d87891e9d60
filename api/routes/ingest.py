"""Ingest over HTTP: AIS (NMEA text), radar (JSON Lines) and ASTERIX (bytes), each answered
with a verdict once the bus holds the accepted lines (202), or 503 while it cannot."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from services.workers.runtime import Runtime

from ..deps import AUTH, CountersDep, Ingester, RuntimeDep, errors, raw_body
from ..models import Verdict
from ..params import _body, _body_bytes, _owns

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])
_ERRORS = errors(400, *AUTH, 413, 422, 503)
_AIS = raw_body("text/plain", {"type": "string"},
                "NMEA 0183 AIS sentences, one a line (tag blocks and leading timestamps as in the contract)")
_RADAR = raw_body("application/x-ndjson", {"type": "string"},
                  "Radar plots and tracks as JSON Lines, or ARPA $--TTM/$--TLL sentences")
_ASTERIX = raw_body("application/octet-stream", {"type": "string", "format": "binary"},
                    "ASTERIX CAT010/CAT048 datablocks, raw bytes")


def _delivered(runtime: Runtime, counters: dict[str, int], ingest, *args: Any) -> dict[str, Any]:
    """Ingest, then wait for the bus to acknowledge: 202 only for lines that cannot be lost."""
    verdict = ingest(*args)
    runtime.ingest.deliver()
    kind = {runtime.ingest.ingest_ais: "ais", runtime.ingest.ingest_asterix: "asterix"}.get(ingest, "radar")
    for outcome, n in (("accepted", verdict.accepted), ("rejected", verdict.rejected_count)):
        counters[f"{kind}:{outcome}"] = counters.get(f"{kind}:{outcome}", 0) + n
    return verdict.to_dict()


def _may_write(runtime: Any, who: Any, sensor_id: str) -> None:
    """403 when the key may not write for a registered sensor (an unknown one is rejected per line)."""
    sensor = runtime.sensors.get(sensor_id)
    if sensor is not None and not _owns(who, sensor.owner):
        raise HTTPException(403, f"key {who.name!r} may not write for sensor {sensor_id!r} "
                                 f"(owner {sensor.owner!r})")


@router.post("/ais", status_code=202, response_model=Verdict, responses=_ERRORS, openapi_extra=_AIS)
async def ingest_ais(request: Request, runtime: RuntimeDep, counters: CountersDep, who: Ingester,
                     sensor_id: str = Query(..., min_length=1)) -> dict[str, Any]:
    _may_write(runtime, who, sensor_id)
    text = await _body(request, runtime.settings.max_body_bytes)
    return await asyncio.to_thread(_delivered, runtime, counters, runtime.ingest.ingest_ais, text, sensor_id)


@router.post("/radar", status_code=202, response_model=Verdict, responses=_ERRORS, openapi_extra=_RADAR)
async def ingest_radar(request: Request, runtime: RuntimeDep, counters: CountersDep,
                       who: Ingester) -> dict[str, Any]:
    text = await _body(request, runtime.settings.max_body_bytes)

    def allowed(sensor_id: str) -> bool:
        sensor = runtime.sensors.get(sensor_id)
        return sensor is not None and _owns(who, sensor.owner)

    return await asyncio.to_thread(_delivered, runtime, counters, runtime.ingest.ingest_radar, text, allowed)


@router.post("/asterix", status_code=202, response_model=Verdict, responses=_ERRORS, openapi_extra=_ASTERIX)
async def ingest_asterix(request: Request, runtime: RuntimeDep, counters: CountersDep, who: Ingester,
                         sensor_id: str = Query(..., min_length=1)) -> dict[str, Any]:
    """ASTERIX CAT010/CAT048 datablocks from one registered radar (body: the raw bytes,
    ``application/octet-stream``); the same verdict as the other ingest paths."""
    _may_write(runtime, who, sensor_id)
    data = await _body_bytes(request, runtime.settings.max_body_bytes)
    return await asyncio.to_thread(_delivered, runtime, counters, runtime.ingest.ingest_asterix, data, sensor_id)
