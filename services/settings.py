"""One validated, frozen settings object per process, read from the environment.

| variable | default | meaning |
|---|---|---|
| MFC_BUS | embedded | ``kafka://host:port[,host:port]`` selects the Kafka backend |
| MFC_DB | sqlite:///mfc.db | any SQLAlchemy URL |
| MFC_HOST, MFC_PORT | 127.0.0.1, 8000 | where the API and web page listen |
| MFC_DEMO_KEY | generated | the demo's officer key |
| MFC_API_KEYS | (none) | extra keys, ``key:role[:name],...`` with role officer/agency/integrator/admin |
| MFC_MAX_BODY_BYTES | 5000000 | largest ingest request body |
| MFC_HISTORY_KEEP_S | 86400 | how long track history is kept |
| MFC_SENSORS | (none) | sensors file (JSON) loaded at start |
| MFC_CHECKPOINT | mfc-fusion.ckpt | where ``mfc fusion`` keeps its state |
| MFC_FUSION_CLOCK | wall | ``wall``: live time passes without data; ``feed``: only feed time (replays) |
| MFC_KAFKA_PREFIX | (none) | put before every Kafka topic and group name (several deployments on one cluster) |
| MFC_WEBHOOK_ALLOW_LOOPBACK_HTTP | 0 | ``1``: webhooks may go to loopback, over plain HTTP too (tests, development only) |
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Mapping

ROLES = ("officer", "agency", "integrator", "admin")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class ApiKey:
    key: str
    role: str
    name: str


@dataclass(frozen=True)
class Settings:
    bus: str = "embedded"
    db: str = "sqlite:///mfc.db"
    host: str = "127.0.0.1"
    port: int = 8000
    demo_key: str = ""
    api_keys: tuple[ApiKey, ...] = field(default_factory=tuple)
    max_body_bytes: int = 5_000_000
    history_keep_s: float = 86_400.0
    sensors_file: str = ""
    checkpoint: str = "mfc-fusion.ckpt"
    fusion_clock: str = "wall"
    kafka_prefix: str = ""
    webhook_allow_loopback_http: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        env = os.environ if env is None else env
        try:
            port = int(env.get("MFC_PORT", "8000"))
            max_body = int(env.get("MFC_MAX_BODY_BYTES", "5000000"))
            keep = float(env.get("MFC_HISTORY_KEEP_S", "86400"))
        except ValueError as exc:
            raise SettingsError(f"bad number in environment: {exc}") from exc
        bus = env.get("MFC_BUS", "embedded")
        if bus != "embedded" and not bus.startswith("kafka://"):
            raise SettingsError(f"MFC_BUS must be 'embedded' or kafka://host:port, not {bus!r}")
        demo_key = env.get("MFC_DEMO_KEY") or secrets.token_urlsafe(18)
        fusion_clock = env.get("MFC_FUSION_CLOCK", "wall")
        if fusion_clock not in ("wall", "feed"):
            raise SettingsError(f"MFC_FUSION_CLOCK must be 'wall' or 'feed', not {fusion_clock!r}")
        kafka_prefix = env.get("MFC_KAFKA_PREFIX", "")
        if not re.fullmatch(r"[A-Za-z0-9._-]*", kafka_prefix):
            raise SettingsError(f"MFC_KAFKA_PREFIX may hold only letters, digits, '.', '_' and '-', not {kafka_prefix!r}")
        values: dict[str, object] = dict(
            bus=bus, db=env.get("MFC_DB", "sqlite:///mfc.db"), host=env.get("MFC_HOST", "127.0.0.1"),
            port=port, demo_key=demo_key, api_keys=parse_keys(env.get("MFC_API_KEYS", "")),
            max_body_bytes=max_body, history_keep_s=keep, sensors_file=env.get("MFC_SENSORS", ""),
            checkpoint=env.get("MFC_CHECKPOINT", "mfc-fusion.ckpt"), fusion_clock=fusion_clock,
            kafka_prefix=kafka_prefix,
            webhook_allow_loopback_http=env.get("MFC_WEBHOOK_ALLOW_LOOPBACK_HTTP", "0").lower()
            in ("1", "true", "yes"),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def all_keys(self) -> dict[str, ApiKey]:
        keys = {k.key: k for k in self.api_keys}
        if self.demo_key:
            keys[self.demo_key] = ApiKey(self.demo_key, "officer", "demo-officer")
        return keys


def parse_keys(text: str) -> tuple[ApiKey, ...]:
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        parts = item.split(":")
        if len(parts) < 2 or parts[1] not in ROLES or len(parts[0]) < 8:
            raise SettingsError(f"MFC_API_KEYS entry {item!r}: want key:role[:name], key ≥ 8 chars, "
                                f"role one of {', '.join(ROLES)}")
        keys.append(ApiKey(parts[0], parts[1], parts[2] if len(parts) > 2 else parts[1]))
    return tuple(keys)
