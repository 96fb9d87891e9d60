"""Dependencies of the routes: the runtime, the ingest counters, keys by role, error responses.

In the manner of the FastAPI full-stack template's ``api/deps.py``: each route names what it
needs (``who: Reader``, ``runtime: RuntimeDep``) and FastAPI supplies it per request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from services.config.settings import ApiKey
from services.workers.runtime import Runtime

from .auth import ACK_ROLES, ADMIN_ROLES, INGEST_ROLES, READ_ROLES, SUBSCRIBE_ROLES, requires
from .models import ErrorOut, ValidationErrorOut


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_counters(request: Request) -> dict[str, int]:
    """Ingest lines through this process's HTTP API, by ``kind:verdict`` (for ``/metrics``)."""
    return request.app.state.ingest_counters


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CountersDep = Annotated[dict[str, int], Depends(get_counters)]
Reader = Annotated[ApiKey, Depends(requires(READ_ROLES))]
Acker = Annotated[ApiKey, Depends(requires(ACK_ROLES))]
Ingester = Annotated[ApiKey, Depends(requires(INGEST_ROLES))]
SensorReader = Annotated[ApiKey, Depends(requires(READ_ROLES | INGEST_ROLES))]
Admin = Annotated[ApiKey, Depends(requires(ADMIN_ROLES))]
Subscriber = Annotated[ApiKey, Depends(requires(SUBSCRIBE_ROLES))]

_WHY = {400: "Bad request: the reason says what", 401: "No key, or an unknown, revoked or rotated key",
        403: "The key's role (or owner) may not do this", 404: "Not found, or not visible to this key",
        409: "Conflicts with what exists", 413: "Body over the size limit",
        422: "Invalid parameters or body", 429: "Too many at once for this key; retry (Retry-After)",
        503: "The bus is unavailable; retry (Retry-After)"}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status code with the error model (422 also FastAPI's own)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model: Any = ErrorOut | ValidationErrorOut if code == 422 else ErrorOut
        out[code] = {"model": model, "description": _WHY[code]}
    return out


AUTH = (401, 403)
NOT_MODIFIED = {304: {"description": "Not modified: `If-None-Match` names the current `ETag`; no body"}}


def raw_body(media_type: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body raw: what to send, for clients and checkers."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {media_type: {"schema": schema}}}}


def json_schema(model: Any) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined (``openapi_extra`` has no components)."""
    from pydantic import TypeAdapter
    schema = TypeAdapter(model).json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.split("/")[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)
