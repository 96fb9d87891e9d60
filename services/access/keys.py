"""The key store: API keys managed by ``mfc keys``, kept hashed in a table of the store's database.

A key is ``mfc_`` and 256 random bits (``secrets.token_urlsafe(32)``); the table keeps its
SHA-256 (enough for a high-entropy random key: nothing to brute-force), a short non-secret
prefix to recognise it by, its role and name, and when it was created, rotated, revoked and
last used.  The secret itself is shown once, when made, and stored nowhere.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Column, Float, MetaData, String, Table, create_engine, or_, select, update

from services.config.settings import ROLES

PREFIX_CHARS = 10  # "mfc_" and 6 characters of the secret: enough to tell keys apart, too few to guess from
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # an agency name is also a Kafka topic suffix

metadata = MetaData()
api_keys = Table(
    "api_keys", metadata,
    Column("id", String(16), primary_key=True),
    Column("prefix", String(16), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_s", Float, nullable=False),
    Column("rotated_s", Float), Column("revoked_s", Float), Column("last_used_s", Float),
)


class KeyStoreError(ValueError):
    """A key request that cannot be honoured, with the reason."""


@dataclass(frozen=True)
class StoredKey:
    id: str
    prefix: str
    sha256: str
    role: str
    name: str
    created_s: float
    rotated_s: float | None = None
    revoked_s: float | None = None
    last_used_s: float | None = None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return "mfc_" + secrets.token_urlsafe(32)


class KeyStore:
    """Keys in the store's database (their own table); works on SQLite and PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, future=True, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def create(self, role: str, name: str, now_s: float) -> tuple[StoredKey, str]:
        """A new key: its record and its secret (shown to the user once, stored only hashed)."""
        if role not in ROLES:
            raise KeyStoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not NAME.fullmatch(name):
            raise KeyStoreError("name must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        secret = new_secret()
        key = StoredKey(f"K{secrets.token_hex(4)}", secret[:PREFIX_CHARS], digest(secret), role, name, now_s)
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert().values(**key.__dict__))
        return key, secret

    def rotate(self, key_id: str, now_s: float) -> tuple[StoredKey, str]:
        """A new secret for ``key_id``; the old one stops working."""
        current = self.get(key_id)
        if current is None or current.revoked_s is not None:
            raise KeyStoreError(f"no active key {key_id!r}" + (" (it is revoked)" if current else ""))
        secret = new_secret()
        with self.engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(
                prefix=secret[:PREFIX_CHARS], sha256=digest(secret), rotated_s=now_s))
        return self.get(key_id), secret  # type: ignore[return-value]

    def revoke(self, key_id: str, now_s: float) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_s.is_(None))
                                .values(revoked_s=now_s))
        return done.rowcount > 0

    def get(self, key_id: str) -> StoredKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        return None if row is None else StoredKey(**row)

    def all(self, include_revoked: bool = False) -> list[StoredKey]:
        q = select(api_keys).order_by(api_keys.c.created_s, api_keys.c.id)
        if not include_revoked:
            q = q.where(api_keys.c.revoked_s.is_(None))
        with self.engine.connect() as conn:
            return [StoredKey(**row) for row in conn.execute(q).mappings()]

    def touch(self, used_s: dict[str, float]) -> None:
        """Record when keys were last used (batched by the key ring, not once per request)."""
        if not used_s:
            return
        with self.engine.begin() as conn:
            for key_id, t in used_s.items():
                newer = or_(api_keys.c.last_used_s.is_(None), api_keys.c.last_used_s < t)  # replicas: keep the latest
                conn.execute(update(api_keys).where(api_keys.c.id == key_id, newer).values(last_used_s=t))

    def close(self) -> None:
        self.engine.dispose()
