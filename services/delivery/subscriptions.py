"""Agencies' alert subscriptions: what each member agency wants, and how it is delivered.

A subscription narrows the alerts *releasable* to an agency by type, area and minimum
severity, and names a delivery: ``kafka`` (the agency's topic ``mfc.alerts.<agency>``),
``webhook`` (an HTTPS POST signed with HMAC-SHA256) or ``stream`` (``GET /v1/stream``).
An agency with no ``kafka`` subscription gets every alert releasable to it on its topic, so
a new member sees the shared picture's alerts without any set-up.

Subscriptions live in their own table of the store's database, so the API (which writes
them) and the alert router (which reads them) may run in separate processes.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any, Iterable

from sqlalchemy import Column, Float, MetaData, String, Table, Text, create_engine, delete, func, select

from fusion.rules import ALERT_TYPES

from services.access.visibility import WILDCARDS as WILDCARD_RELEASABILITY, covers, releasable_to  # noqa: F401  (re-exported)
from services.delivery.webhook_net import WebhookAddressError, WebhookPolicy, check_target
from services.access.workflow import check_bbox

SEVERITIES = ("info", "low", "medium", "high", "critical")
MAX_PER_AGENCY = 50  # subscriptions one agency may hold
DELIVERIES = ("kafka", "webhook", "stream")

metadata = MetaData()
subscriptions = Table(
    "subscriptions", metadata,
    Column("id", String(32), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("spec", Text, nullable=False),  # the Subscription as JSON
    Column("created_by", String(64)), Column("created_s", Float),
)


class SubscriptionError(ValueError):
    """A subscription request that cannot be honoured, with the reason."""


class SubscriptionLimitError(SubscriptionError):
    """The agency already holds as many subscriptions as it may."""


@dataclass(frozen=True)
class Subscription:
    id: str
    agency: str
    types: tuple[str, ...] = ()            # empty: every type
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (degrees)
    min_severity: str = "info"
    delivery: str = "kafka"
    url: str | None = None                 # webhook only
    secret: str | None = field(default=None, repr=False)  # webhook only: the HMAC key (never in a repr)

    def matches(self, alert: dict[str, Any]) -> bool:
        if self.types and alert.get("type") not in self.types:
            return False
        if SEVERITIES.index(alert.get("severity", "info")) < SEVERITIES.index(self.min_severity):
            return False
        if self.bbox is not None:
            lat, lon = alert.get("lat"), alert.get("lon")
            if lat is None or lon is None:
                return False
            w, s, e, n = self.bbox
            if not (s <= lat <= n and w <= lon <= e):
                return False
        return True

    def public(self) -> dict[str, Any]:
        """As shown to users: everything but the secret."""
        d = asdict(self)
        d["types"] = list(self.types)
        d["bbox"] = None if self.bbox is None else list(self.bbox)
        d.pop("secret")
        if self.delivery == "kafka":
            d["topic"] = f"mfc.alerts.{self.agency}"
        return d


def parse_subscription(body: Any, agency: str, webhook_policy: WebhookPolicy | None = None) -> Subscription:
    """Validate a subscription request body (JSON object) for ``agency``; raise with the reason.
    A webhook's URL is resolved and checked now against ``webhook_policy`` (``webhook_net``)."""
    if not isinstance(body, dict):
        raise SubscriptionError("want a JSON object with types, bbox, min_severity and delivery")
    unknown = set(body) - {"types", "bbox", "min_severity", "delivery", "agency"}
    if unknown:
        raise SubscriptionError(f"unknown fields: {', '.join(sorted(unknown))}")
    types = body.get("types") or []
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise SubscriptionError("types must be a list of alert types")
    bad = [t for t in types if t not in ALERT_TYPES]
    if bad:
        raise SubscriptionError(f"unknown alert types {bad}; known: {', '.join(ALERT_TYPES)}")
    bbox = body.get("bbox")
    if bbox is not None:
        try:
            bbox = check_bbox(bbox)
        except ValueError as exc:
            raise SubscriptionError(str(exc)) from None
    severity = body.get("min_severity", "info")
    if severity not in SEVERITIES:
        raise SubscriptionError(f"min_severity must be one of {', '.join(SEVERITIES)}")
    delivery = body.get("delivery", {"kind": "kafka"})
    if isinstance(delivery, str):
        delivery = {"kind": delivery}
    if not isinstance(delivery, dict) or delivery.get("kind") not in DELIVERIES:
        raise SubscriptionError(f"delivery.kind must be one of {', '.join(DELIVERIES)}")
    kind, url, secret = delivery["kind"], None, None
    if kind == "webhook":
        url = delivery.get("url")
        secret = delivery.get("secret") or secrets.token_urlsafe(32)
        if not isinstance(secret, str) or len(secret) < 16:
            raise SubscriptionError("delivery.secret must be a string of at least 16 characters")
        try:
            check_target(url, webhook_policy or WebhookPolicy())
        except WebhookAddressError as exc:
            raise SubscriptionError(str(exc)) from None
    return Subscription(f"S{secrets.token_hex(6)}", agency, tuple(types), bbox, severity, kind, url, secret)


class SubscriptionStore:
    """Subscriptions in the store's database (its own table)."""

    def __init__(self, url: str, max_per_agency: int = MAX_PER_AGENCY) -> None:
        self.engine = create_engine(url, future=True, pool_pre_ping=True)
        self.max_per_agency = max_per_agency
        metadata.create_all(self.engine)

    def put(self, sub: Subscription, created_by: str) -> None:
        """Store ``sub``; ``SubscriptionLimitError`` when its agency already holds ``max_per_agency``."""
        spec = json.dumps(asdict(sub))
        with self.engine.begin() as conn:
            held = conn.execute(select(func.count()).select_from(subscriptions).where(
                subscriptions.c.agency == sub.agency, subscriptions.c.id != sub.id)).scalar_one()
            if held >= self.max_per_agency:
                raise SubscriptionLimitError(f"agency {sub.agency!r} already holds {held} subscriptions, "
                                             f"the most allowed ({self.max_per_agency}); delete one first")
            conn.execute(delete(subscriptions).where(subscriptions.c.id == sub.id))
            conn.execute(subscriptions.insert().values(id=sub.id, agency=sub.agency, spec=spec,
                                                       created_by=created_by, created_s=time.time()))

    def delete(self, sub_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(subscriptions).where(subscriptions.c.id == sub_id)).rowcount > 0

    def get(self, sub_id: str) -> Subscription | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscriptions.c.spec).where(subscriptions.c.id == sub_id)).first()
        return None if row is None else _load(row[0])

    def all(self, agency: str | None = None) -> list[Subscription]:
        q = select(subscriptions.c.spec).order_by(subscriptions.c.created_s, subscriptions.c.id)
        if agency is not None:
            q = q.where(subscriptions.c.agency == agency)
        with self.engine.connect() as conn:
            return [_load(spec) for (spec,) in conn.execute(q)]

    def close(self) -> None:
        self.engine.dispose()


def _load(spec: str) -> Subscription:
    d = json.loads(spec)
    d["types"] = tuple(d.get("types") or ())
    d["bbox"] = None if d.get("bbox") is None else tuple(d["bbox"])
    return Subscription(**d)


@dataclass
class Routing:
    """Where one alert goes."""
    topics: list[str] = field(default_factory=list)             # agency topics
    webhooks: list[Subscription] = field(default_factory=list)  # webhook subscriptions it matches


def route(alert: dict[str, Any], agencies: Iterable[str], subs: Iterable[Subscription]) -> Routing:
    """Pure routing: the agency topics and webhooks an alert goes to.

    ``agencies``: every member agency known (agency keys); agencies that only appear in
    subscriptions count too.  Releasability always applies first.
    """
    by_agency: dict[str, list[Subscription]] = {a: [] for a in agencies}
    for s in subs:
        by_agency.setdefault(s.agency, []).append(s)
    out = Routing()
    for agency in sorted(by_agency):
        if not releasable_to(alert, agency):
            continue
        mine = by_agency[agency]
        kafka = [s for s in mine if s.delivery == "kafka"]
        if not kafka or any(s.matches(alert) for s in kafka):
            out.topics.append(f"mfc.alerts.{agency}")
        out.webhooks.extend(s for s in mine if s.delivery == "webhook" and s.matches(alert))
    return out
