"""Placeholder secrets: values copied from an example that must never reach a deployment."""

from __future__ import annotations

from collections.abc import Iterable

PLACEHOLDERS = frozenset({"changeme", "change-me", "change_me", "password", "passw0rd", "secret", "example",
                          "default", "admin", "test", "12345678", "123456", "xxxxxxxx"})
PLACEHOLDER_PARTS = ("changeme", "change-me", "change_me", "replace-me", "replaceme", "your-key", "your_key")


def placeholder_reason(value: str, what: str, also: Iterable[str] = ()) -> str | None:
    """Why ``value`` (the secret ``what``) is a placeholder, or None.  ``also``: more values
    refused in this context (e.g. ``postgres`` as a database password on a non-loopback host).
    The reason never contains the value."""
    low = value.strip().lower()
    extra = {a.lower() for a in also if a}
    if low in PLACEHOLDERS or low in extra or any(part in low for part in PLACEHOLDER_PARTS):
        return f"{what} is a placeholder value; set a real secret (e.g. `openssl rand -hex 16`)"
    return None
