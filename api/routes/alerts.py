"""Alerts: the list (newest first, as releasable to the key) and acknowledgement."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from services.visibility import visible_alerts

from ..deps import AUTH, Acker, Reader, RuntimeDep, errors
from ..models import Alert, AlertList
from ..params import _bbox, _since

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertList, responses=errors(*AUTH, 422))
def list_alerts(runtime: RuntimeDep, who: Reader, type: str | None = None, state: str | None = None,
                severity: str | None = None, bbox: str | None = None, since: str | None = None,
                limit: int = Query(500, ge=1, le=10000)) -> JSONResponse:
    """Alerts, newest first.  An agency key sees only alerts releasable to it."""
    rows = visible_alerts(runtime.store.alerts(type, state, severity, _bbox(bbox), _since(since), limit),
                          who.role, who.name)
    return JSONResponse({"alerts": rows, "count": len(rows)})  # many rows: not validated one by one


@router.post("/{alert_id}/ack", response_model=Alert, response_model_exclude_unset=True,
             responses=errors(*AUTH, 404))
def ack(alert_id: str, runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    row = runtime.store.ack_alert(alert_id, who.name, runtime.clock())
    if row is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return row
