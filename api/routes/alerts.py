"""Alerts: the queue (newest first, as releasable to the key), the officers' workflow
(acknowledge, assign, comment, close with a disposition, reopen) and the per-rule report."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from services.access.visibility import STAFF_ROLES, visible_alerts
from services.access.workflow import WorkflowError, check_change
from services.bus import topics

from ..deps import AUTH, Acker, Reader, RuntimeDep, errors, json_schema, raw_body
from ..models import Alert, AlertList, AlertStats, WorkflowChange
from ..params import _bbox, _body, _since

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
Severity = Literal["info", "low", "medium", "high", "critical"]
_CHANGE_BODY = raw_body("application/json", json_schema(WorkflowChange),
                        "any of state (acknowledged, closed, open to reopen), assignee, comment, disposition")


@router.get("", response_model=AlertList, responses=errors(*AUTH, 422))
def list_alerts(runtime: RuntimeDep, who: Reader, type: str | None = None, state: str | None = None,
                severity: str | None = None, bbox: str | None = None, since: str | None = None,
                limit: int = Query(500, ge=1, le=10000),
                min_severity: Severity | None = Query(None, description="this severity and above only"),
                suppressed: bool = Query(False, description="the alerts suppressions hold back now, "
                                                            "instead of the queue")) -> JSONResponse:
    """Alerts, newest first, without those a suppression holds back now (``suppressed`` counts
    them).  An agency key sees only alerts releasable to it."""
    now = runtime.clock()
    rows = visible_alerts(runtime.store.alerts(type, state, severity, _bbox(bbox), _since(since), limit,
                                               min_severity=min_severity, now_s=now, suppressed=suppressed),
                          who.role, who.name)
    if who.role in STAFF_ROLES:
        held = runtime.store.suppressed_count(now)
    else:  # counted in the database, releasability matched there (fails closed: others see 0)
        held = runtime.store.suppressed_count(now, who.name) if who.role == "agency" else 0
    return JSONResponse({"alerts": rows, "count": len(rows), "suppressed": held})  # rows not validated one by one


@router.get("/stats", response_model=AlertStats, responses=errors(*AUTH, 422))
def alert_stats(runtime: RuntimeDep, who: Acker, since: str | None = None) -> dict[str, Any]:
    """Per alert type: counts by state and by the officers' dispositions, alerts held back now,
    and precision = true_positive / (true_positive + false_positive)."""
    return {"types": runtime.store.alert_stats(_since(since), runtime.clock())}


@router.get("/{alert_id}", response_model=Alert, response_model_exclude_unset=True, responses=errors(*AUTH, 404))
def get_alert(alert_id: str, runtime: RuntimeDep, who: Reader) -> dict[str, Any]:
    """One alert with its workflow (404 when it is not releasable to the key)."""
    row = runtime.store.alert(alert_id)
    if row is None or not visible_alerts([row], who.role, who.name):
        raise HTTPException(404, f"no alert {alert_id!r}")
    return row


@router.patch("/{alert_id}", response_model=Alert, response_model_exclude_unset=True,
              responses=errors(400, *AUTH, 404, 409, 413, 422), openapi_extra=_CHANGE_BODY)
async def change_alert(alert_id: str, request: Request, runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    """Work an alert: ``{"state": "acknowledged" | "closed" | "open", "assignee", "comment",
    "disposition"}``.  Closing needs a disposition (422); a closed alert takes only a reopening
    (409).  Each action goes into ``workflow.history``; the changed alert goes out on the stream,
    ``mfc.alerts``, agency topics and webhooks like any alert update."""
    body = await json_body(request)
    try:
        row = runtime.store.change_alert(alert_id, check_change(body), who.name, runtime.clock())
    except WorkflowError as exc:
        raise HTTPException(exc.status, f"alert {alert_id}: {exc}") from None
    if row is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    publish_alert(runtime, row)
    return row


@router.post("/{alert_id}/ack", response_model=Alert, response_model_exclude_unset=True,
             responses=errors(*AUTH, 404))
def ack(alert_id: str, runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    """Acknowledge (the shortcut of ``PATCH {"state": "acknowledged"}``)."""
    before = runtime.store.alert(alert_id)
    row = runtime.store.ack_alert(alert_id, who.name, runtime.clock())
    if row is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    if before is not None and before["state"] != row["state"]:
        publish_alert(runtime, row)
    return row


def publish_alert(runtime: Any, row: dict[str, Any]) -> None:
    """An officer's change goes out as an alert update: ``mfc.alerts`` → store, stream, router."""
    runtime.bus.publish(topics.ALERTS, row["alert_id"], row)
    runtime.bus.flush()


async def json_body(request: Request, limit: int = 65_536) -> Any:
    try:
        return json.loads(await _body(request, limit))
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
