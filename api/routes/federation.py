"""Federation between nodes: sharing agreements and the links' state (admin only)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from services.federation.outbound import AgreementError, parse_agreement, public_pem

from ..deps import AUTH, Admin, RuntimeDep, errors, json_schema, raw_body
from ..models import Agreement, AgreementIn, AgreementList, Deleted, FederationStatus, PushIn, PushResult
from ..params import _body

router = APIRouter(prefix="/v1/federation", tags=["federation"])
_AGREEMENT_BODY = raw_body("application/json", json_schema(AgreementIn),
                           "partner, releasability tokens, kinds, bbox, onward and retention_s")


@router.get("", response_model=FederationStatus, responses=errors(*AUTH))
def federation(runtime: RuntimeDep, _: Admin) -> dict[str, Any]:
    """This node's id and public key, and per partner an outbound link (its state, the records
    shared with it and withheld from it, per kind, and its lag) and, when the agreement has the
    partner's ``public_key``, an inbound link (records received and refused, the last refusal's
    reason, when the partner was last heard, and the lag of its newest record)."""
    links = []
    for side in (runtime.federation, runtime.federation_in):
        if side is not None:
            links += side.status()
    if runtime.federation_push is not None:
        for link in links:
            if link["direction"] == "out":
                link["push"] = runtime.federation_push.status(link["partner"])
    return {"node": runtime.settings.node_id, "public_key": public_pem(runtime.agreements.node_key()),
            "links": links}


@router.get("/agreements", response_model=AgreementList, responses=errors(*AUTH))
def list_agreements(runtime: RuntimeDep, _: Admin) -> dict[str, Any]:
    return {"agreements": [a.public() for a in runtime.agreements.all()]}


@router.post("/agreements", status_code=201, response_model=Agreement,
             responses={200: {"description": "the partner's agreement replaced", "model": Agreement},
                        **errors(400, *AUTH, 413, 422)}, openapi_extra=_AGREEMENT_BODY)
async def add_agreement(request: Request, response: Response, runtime: RuntimeDep, who: Admin) -> dict[str, Any]:
    """Share with a partner node: ``{"partner", "releasability": [...], "kinds": [...], "bbox"?,
    "onward": false, "retention_s": 604800}``.  Only records with one of the tokens, of the
    kinds and inside the area go to it, from now on; 201 for a new partner, 200 when its
    agreement is replaced."""
    try:
        body = json.loads(await _body(request, 65_536))
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        agreement = parse_agreement(body, runtime.settings.node_id)
    except AgreementError as exc:
        raise HTTPException(422, str(exc)) from None
    if not runtime.agreements.put(agreement, who.name):
        response.status_code = 200
    await run_in_threadpool(_invalidate, runtime)  # the broker's grants are changed before the reply
    return agreement.public()


@router.delete("/agreements/{partner}", response_model=Deleted, responses=errors(*AUTH, 404))
def delete_agreement(partner: str, runtime: RuntimeDep, _: Admin) -> dict[str, Any]:
    """End the agreement: nothing more goes to the partner from the next record on."""
    if not runtime.agreements.delete(partner):
        raise HTTPException(404, f"no agreement with {partner!r}")
    _invalidate(runtime)
    return {"deleted": partner}


def _invalidate(runtime: Any) -> None:
    """The agreements changed: both sides re-read them now (and the exporter puts the broker's
    grants in step), so a removed partner is cut off when the reply is sent."""
    for side in (runtime.federation, runtime.federation_in, runtime.federation_push):
        if side is not None:
            side.invalidate()


MAX_PUSH_RECORDS = 5000


@router.post("/inbound", response_model=PushResult, responses=errors(400, 403, 413, 422),
             openapi_extra=raw_body("application/json", json_schema(PushIn), "a partner node's signed records"))
async def inbound(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """A partner node's push over HTTPS (for partners without a Kafka link): ``{"node": "<its
    id>", "records": [signed records, as on its outbound topics]}``.  No API key: each record is
    verified with the public key this node's agreement holds for that node, and checked as if
    read from the partner's topics (refusals counted on the inbound link and sent to
    ``mfc.deadletter``).  403 when no agreement with a key names the node: nothing is taken.
    The reply gives, in order, each record's verdict."""
    try:
        body = json.loads(await _body(request, runtime.settings.max_body_bytes))
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(body, dict) or not isinstance(body.get("node"), str) or not isinstance(body.get("records"), list):
        raise HTTPException(422, 'want {"node": "<the partner\'s id>", "records": [...]}')
    if len(body["records"]) > MAX_PUSH_RECORDS:
        raise HTTPException(413, f"{len(body['records'])} records in one push; at most {MAX_PUSH_RECORDS}")
    if runtime.federation_in is None:
        raise HTTPException(403, "this node takes no partner data (an exercise system)")
    try:
        verdicts = await run_in_threadpool(runtime.federation_in.take_pushed, body["node"], body["records"])
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    refused = [{"index": i, "reason": r} for i, r in enumerate(verdicts) if r is not None]
    return {"taken": len(verdicts) - len(refused), "refused": refused[:1000]}
