"""API keys and roles.  Every path needs a key; nothing writes anonymously."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request

from services.settings import ApiKey

READ_ROLES = frozenset({"officer", "agency", "admin"})
INGEST_ROLES = frozenset({"integrator", "admin"})
ACK_ROLES = frozenset({"officer", "admin"})
ADMIN_ROLES = frozenset({"admin"})
SUBSCRIBE_ROLES = frozenset({"agency", "admin"})


def key_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key") or request.query_params.get("key")


def requires(roles: frozenset[str]) -> Callable[[Request], ApiKey]:
    """A FastAPI dependency admitting keys with one of ``roles``."""

    def check(request: Request) -> ApiKey:
        key = key_of(request)
        if not key:
            raise HTTPException(401, "an API key is needed (Authorization: Bearer KEY)",
                                headers={"WWW-Authenticate": "Bearer"})
        known = request.app.state.runtime.keys.get(key)
        if known is None:
            raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
        if known.role not in roles:
            raise HTTPException(403, f"role {known.role!r} may not do this (needs {', '.join(sorted(roles))})")
        return known

    return check
