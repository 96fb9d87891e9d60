"""Alert subscriptions of agencies (Kafka topic, webhook or the stream)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from services.delivery.subscriptions import SubscriptionError, SubscriptionLimitError, parse_subscription

from ..deps import AUTH, RuntimeDep, Subscriber, errors, json_schema, raw_body
from ..models import Deleted, Subscription, SubscriptionIn, SubscriptionList
from ..params import _body

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
_SUB_BODY = raw_body("application/json", json_schema(SubscriptionIn),
                     "types, bbox [w, s, e, n], min_severity and delivery; an admin also names the agency")


@router.get("", response_model=SubscriptionList, response_model_exclude_unset=True, responses=errors(*AUTH))
def list_subscriptions(runtime: RuntimeDep, who: Subscriber) -> dict[str, Any]:
    """An agency's own subscriptions (an admin sees every agency's)."""
    subs = runtime.subscriptions.all(None if who.role == "admin" else who.name)
    return {"subscriptions": [sub.public() for sub in subs]}


@router.post("", status_code=201, response_model=Subscription, response_model_exclude_unset=True,
             responses=errors(400, *AUTH, 409, 413, 422), openapi_extra=_SUB_BODY)
async def add_subscription(request: Request, runtime: RuntimeDep, who: Subscriber) -> dict[str, Any]:
    """Subscribe to alerts: ``{"types": [...], "bbox": [w, s, e, n], "min_severity": "medium",
    "delivery": {"kind": "kafka" | "webhook" | "stream", "url": ..., "secret": ...}}``.
    The answer shows a webhook's secret once (generated when not given)."""
    try:
        body = json.loads(await _body(request, 65_536))
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    agency = who.name
    if who.role == "admin":
        agency = body.get("agency") if isinstance(body, dict) else None
        if not isinstance(agency, str) or not agency:
            raise HTTPException(422, "an admin must name the subscription's agency")
    elif isinstance(body, dict) and body.get("agency", agency) != agency:
        raise HTTPException(403, f"key {who.name!r} may subscribe only for itself")
    try:  # in a thread: checking a webhook resolves its host name
        sub = await run_in_threadpool(parse_subscription, body, agency, runtime.webhook_policy)
        runtime.subscriptions.put(sub, who.name)
    except SubscriptionLimitError as exc:
        raise HTTPException(409, str(exc)) from None
    except SubscriptionError as exc:
        raise HTTPException(422, str(exc)) from None
    runtime.router.invalidate()
    shown = sub.public()
    if sub.delivery == "webhook":
        shown["secret"] = sub.secret
    return shown


@router.delete("/{sub_id}", response_model=Deleted, responses=errors(*AUTH, 404))
def delete_subscription(sub_id: str, runtime: RuntimeDep, who: Subscriber) -> dict[str, Any]:
    sub = runtime.subscriptions.get(sub_id)
    if sub is None or (who.role != "admin" and sub.agency != who.name):
        raise HTTPException(404, f"no subscription {sub_id!r}")
    runtime.subscriptions.delete(sub_id)
    runtime.router.invalidate()
    return {"deleted": sub_id}
