"""Parsing what a request carries: bbox and time parameters, bodies read raw with a size cap."""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

from ingest.timeparse import parse_iso
from services.config.settings import ApiKey

M = TypeVar("M", bound=BaseModel)


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(422, "bbox must be 'west,south,east,north' in degrees") from None
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise HTTPException(422, "bbox out of range: want west,south,east,north with south ≤ north")
    return w, s, e, n


def _since(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        raise HTTPException(422, f"since must be an ISO 8601 time, not {text!r}") from None


async def json_object(request: Request, model: type[M], not_object: str, limit: int = 65_536) -> M:
    """A small JSON object body validated by ``model`` (pydantic, extra fields forbidden): 422 with
    every reason (an unknown field names the known ones), ``not_object`` when it is no object;
    400 / 413 for a body that is not UTF-8 or too large."""
    try:
        body = json.loads(await _body(request, limit))
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(body, dict):
        raise HTTPException(422, not_object)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        reasons = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"]) or "body"
            if e["type"] == "extra_forbidden":
                reasons.append(f"unknown field {where!r} (known: {', '.join(model.model_fields)})")
            else:
                reasons.append(f"{where}: {e['msg']}")
        raise HTTPException(422, "; ".join(reasons)) from None


async def _body(request: Request, limit: int) -> str:
    data = await _body_bytes(request, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"body is not UTF-8: byte {exc.start} is {data[exc.start]:#04x}") from None


async def _body_bytes(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the {limit}-byte limit; split it")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"body is over the {limit}-byte limit; split it")
    return bytes(data)


def _owns(key: ApiKey, owner: str) -> bool:
    """An integrator writes only for its own sensors (key name = sensor owner); admins for any."""
    return key.role == "admin" or key.name == owner
