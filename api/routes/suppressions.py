"""Suppressions (snooze): hold back a rule's alerts for a track, a zone or an area until a time.

A held-back alert is stored and counted but not raised (queue, stream, agency topics,
webhooks); when the suppression runs out, or is deleted, the live alerts it held are raised."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from fusion.rules import ALERT_TYPES
from services.access.workflow import WorkflowError, check_suppression, first_suppression

from ..deps import AUTH, Acker, RuntimeDep, errors, json_schema, raw_body
from ..models import Deleted, Suppression, SuppressionIn, SuppressionList
from .alerts import json_body, publish_alert

router = APIRouter(prefix="/v1/suppressions", tags=["alerts"])
_BODY = raw_body("application/json", json_schema(SuppressionIn),
                 "type, track_id, zone, bbox [w, s, e, n] (at least one; all given must match), until, reason")


@router.get("", response_model=SuppressionList, responses=errors(*AUTH))
def list_suppressions(runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    """The running suppressions, each with the count of alerts it held back (``held``)."""
    now = runtime.clock()
    return {"suppressions": runtime.store.suppressions(now), "suppressed": runtime.store.suppressed_count(now)}


@router.post("", status_code=201, response_model=Suppression, responses=errors(400, *AUTH, 413, 422),
             openapi_extra=_BODY)
async def add_suppression(request: Request, runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    """Hold back until ``until`` the alerts matching every criterion given, those live now included.
    Distress alerts are never held back."""
    now = runtime.clock()
    try:
        supp = check_suppression(await json_body(request), now, ALERT_TYPES)
    except WorkflowError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    live = [a["alert_id"] for a in runtime.store.live_alerts() if first_suppression([supp], a, now)]
    row = runtime.store.add_suppression(supp, who.name, now, live)
    runtime.suppressions.invalidate()
    return row


@router.delete("/{suppression_id}", response_model=Deleted, responses=errors(*AUTH, 404))
def delete_suppression(suppression_id: str, runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    """End a suppression now: the live alerts it held back are raised again."""
    held = runtime.store.held_by(suppression_id)
    if not runtime.store.delete_suppression(suppression_id):
        raise HTTPException(404, f"no suppression {suppression_id!r}")
    runtime.suppressions.invalidate()
    for alert in held:
        publish_alert(runtime, {k: v for k, v in alert.items() if k != "suppressed_by"})
    return {"deleted": suppression_id}
