"""API keys and roles.  Every path needs a key; nothing writes anonymously.

A key travels in the ``Authorization: Bearer KEY`` header (or ``X-API-Key``).  Only the event
stream, which browsers open with ``EventSource`` (no headers), also takes ``?key=``; anywhere
else a key in the URL is refused, since URLs end up in logs, histories and shared links.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request

from services.config.settings import ApiKey

READ_ROLES = frozenset({"officer", "agency", "admin"})
INGEST_ROLES = frozenset({"integrator", "admin"})
ACK_ROLES = frozenset({"officer", "admin"})
ADMIN_ROLES = frozenset({"admin"})
SUBSCRIBE_ROLES = frozenset({"agency", "admin"})
QUERY_KEY_PATHS = frozenset({"/v1/stream"})  # where a browser cannot send a header
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def key_of(request: Request) -> str | None:
    """The key the request carries, from its headers (or ``?key=`` on the event stream)."""
    in_url = "key" in request.query_params
    if in_url and request.url.path.rstrip("/") not in QUERY_KEY_PATHS:
        raise HTTPException(401, "a key in the URL (?key=) is accepted only by /v1/stream; "
                                 "send it in the header Authorization: Bearer KEY", headers=_CHALLENGE)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key") or (request.query_params.get("key") if in_url else None)


def requires(roles: frozenset[str]) -> Callable[[Request], ApiKey]:
    """A FastAPI dependency admitting keys with one of ``roles``."""

    def check(request: Request) -> ApiKey:
        key = key_of(request)
        if not key:
            raise HTTPException(401, "an API key is needed (Authorization: Bearer KEY)", headers=_CHALLENGE)
        known = request.app.state.runtime.keys.lookup(key)
        if known is None:
            raise HTTPException(401, "unknown, revoked or rotated API key", headers=_CHALLENGE)
        if known.role not in roles:
            raise HTTPException(403, f"role {known.role!r} may not do this (needs {', '.join(sorted(roles))})")
        return known

    return check
