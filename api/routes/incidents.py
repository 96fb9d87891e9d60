"""Incidents: raised by officers from alerts or tracks, worked like alerts, shared with the
agencies they are releasable to (REST, the stream, ``mfc.incidents.<agency>``, webhooks).

What an incident is shared with is the meet of the releasability the officer gives and that of
every alert and track it links (``services.access.workflow.meet``): it never reaches an agency that
may not see what it is about.  Unknown or unreadable links fail closed."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from services.access.workflow import CATEGORIES, WorkflowError, check_change, meet, visible_incidents
from services.bus import topics

from ..deps import AUTH, Acker, Reader, RuntimeDep, errors, json_schema, raw_body
from ..models import Incident, IncidentIn, IncidentList, WorkflowChange
from .alerts import json_body

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NEW = raw_body("application/json", json_schema(IncidentIn),
                "category, title, summary, alert_ids, track_ids, releasability (agency, state or ASEAN tokens)")
_CHANGE = raw_body("application/json", json_schema(WorkflowChange),
                   "any of state (acknowledged, closed, open to reopen), assignee, comment, disposition")


def _ids(body: dict[str, Any], name: str) -> list[str]:
    ids = body.get(name) or []
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids) or len(ids) > 500:
        raise HTTPException(422, f"{name} must be a list of at most 500 ids")
    return list(dict.fromkeys(ids))


def check_incident(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HTTPException(422, "want a JSON object with category, title, summary and releasability")
    known = ("category", "title", "summary", "alert_ids", "track_ids", "releasability")
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise HTTPException(422, f"unknown fields: {', '.join(unknown)}; known: {', '.join(known)}")
    if body.get("category") not in CATEGORIES:
        raise HTTPException(422, f"category must be one of {', '.join(CATEGORIES)}, not {body.get('category')!r}")
    for name, most in (("title", 200), ("summary", 4000)):
        if not isinstance(body.get(name), str) or not body[name].strip() or len(body[name]) > most:
            raise HTTPException(422, f"{name} must be a non-empty text of at most {most} characters")
    rel = body.get("releasability")
    if not isinstance(rel, list) or not all(isinstance(t, str) and _TOKEN.fullmatch(t) for t in rel) or len(rel) > 50:
        raise HTTPException(422, "releasability must be a list of tokens: agencies (PH-CG), states (PH) or ASEAN; "
                                 "[] shares with no agency")
    return {"category": body["category"], "title": body["title"], "summary": body["summary"],
            "alert_ids": _ids(body, "alert_ids"), "track_ids": _ids(body, "track_ids"),
            "releasability": sorted(set(rel))}


def effective(runtime: Any, inc: dict[str, Any], strict: bool) -> list[str]:
    """The meet of the incident's releasability and its links' (an unknown link: 422 when
    ``strict``, else it covers no one)."""
    lists = [inc["releasability"]]
    for aid in inc["alert_ids"]:
        alert = runtime.store.alert(aid)
        if alert is None and strict:
            raise HTTPException(422, f"alert_ids: no alert {aid!r}")
        rel = ((alert or {}).get("evidence") or {}).get("releasability")
        lists.append(rel if isinstance(rel, list) else [])
    for tid in inc["track_ids"]:
        track = runtime.store.track(tid)
        if track is None and strict:
            raise HTTPException(422, f"track_ids: no track {tid!r}")
        tokens: set[str] = set()
        for sid in (track or {}).get("sensors") or []:  # a track is visible where one of its sensors is
            sensor = runtime.sensor_lookup.get(sid)
            if sensor is not None:
                tokens.update(sensor.releasability)
        lists.append(sorted(tokens))
    return meet(*lists)


def publish(runtime: Any, row: dict[str, Any]) -> None:
    runtime.bus.publish(topics.INCIDENTS, row["incident_id"], row)
    runtime.bus.flush()


@router.post("", status_code=201, response_model=Incident, responses=errors(400, *AUTH, 413, 422),
             openapi_extra=_NEW)
async def add_incident(request: Request, runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    """Raise an incident from alerts and/or tracks, with a category, a summary and a releasability."""
    inc = check_incident(await json_body(request))
    inc["releasability_effective"] = effective(runtime, inc, strict=True)
    row = runtime.store.add_incident(inc, who.name, runtime.clock())
    publish(runtime, row)
    return row


@router.get("", response_model=IncidentList, responses=errors(*AUTH, 422))
def list_incidents(runtime: RuntimeDep, who: Reader, category: str | None = None, state: str | None = None,
                   limit: int = Query(500, ge=1, le=10000)) -> dict[str, Any]:
    """Incidents, newest first; an agency sees those releasable to it."""
    rows = visible_incidents(runtime.store.incidents(category, state, limit), who.role, who.name)
    return {"incidents": rows, "count": len(rows)}


@router.get("/{incident_id}", response_model=Incident, responses=errors(*AUTH, 404))
def get_incident(incident_id: str, runtime: RuntimeDep, who: Reader) -> dict[str, Any]:
    row = runtime.store.incident(incident_id)
    if row is None or not visible_incidents([row], who.role, who.name):
        raise HTTPException(404, f"no incident {incident_id!r}")
    return row


@router.patch("/{incident_id}", response_model=Incident, responses=errors(400, *AUTH, 404, 409, 413, 422),
              openapi_extra=_CHANGE)
async def change_incident(incident_id: str, request: Request, runtime: RuntimeDep, who: Acker) -> dict[str, Any]:
    """Work an incident as an alert (state, assignee, comment, disposition); it goes out again,
    shared as its links allow now."""
    body = await json_body(request)
    current = runtime.store.incident(incident_id)
    if current is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    try:
        row = runtime.store.change_incident(incident_id, check_change(body), who.name, runtime.clock(),
                                            effective(runtime, current, strict=False))
    except WorkflowError as exc:
        raise HTTPException(exc.status, f"incident {incident_id}: {exc}") from None
    if row is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    publish(runtime, row)
    return row
