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
from urllib.parse import urlsplit

from sqlalchemy import Column, Float, MetaData, String, Table, Text, create_engine, delete, select

from fusion.rules import ALERT_TYPES

SEVERITIES = ("info", "low", "medium", "high", "critical")
DELIVERIES = ("kafka", "webhook", "stream")
WILDCARD_RELEASABILITY = ("ALL", "ASEAN")  # releasable to every member agency

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


def covers(tokens: Any, agency: str) -> bool:
    """Do releasability ``tokens`` cover ``agency``?  A token is an agency name (``PH-CG``), a
    state prefix (``PH`` covers ``PH-CG`` and ``PH-NAVY``) or ``ASEAN``/``ALL``."""
    return any(t in WILDCARD_RELEASABILITY or t == agency or agency.startswith(f"{t}-") for t in tokens or ())


def releasable_to(alert: dict[str, Any], agency: str) -> bool:
    """May ``agency`` see ``alert``?  Its evidence lists releasability tokens (``covers``).
    An alert without a list is releasable to every member; an empty list to none."""
    evidence = alert.get("evidence") or {}
    if "releasability" not in evidence:
        return True
    return covers(evidence["releasability"], agency)


def track_releasable_to(line: dict[str, Any], agency: str, sensors: Mapping[str, Any],
                        default: Sequence[str] = ("ASEAN",)) -> bool:
    """May ``agency`` see this track line?  Yes when at least one sensor that fed the track
    recently (``line["sensors"]``) is releasable to it: the agency may know of the vessel
    through that sensor.  A sensor this process does not know counts as ``default``; a line
    without sensor ids (written by an earlier version) is visible to every member."""
    ids = line.get("sensors")
    if not ids:
        return True
    for sid in ids:
        sensor = sensors.get(sid)
        if covers(sensor.releasability if sensor is not None else default, agency):
            return True
    return False


def visible_tracks(rows: list[dict[str, Any]], role: str, name: str,
                   sensors: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The track lines a key may see: an agency key (``role`` agency, ``name`` the agency)
    only those releasable to it, every other role all of them."""
    if role != "agency":
        return rows
    return [r for r in rows if track_releasable_to(r, name, sensors)]


def parse_subscription(body: Any, agency: str) -> Subscription:
    """Validate a subscription request body (JSON object) for ``agency``; raise with the reason."""
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
        if (not isinstance(bbox, list) or len(bbox) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
            raise SubscriptionError("bbox must be [west, south, east, north] in degrees")
        w, s, e, n = (float(v) for v in bbox)
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise SubscriptionError("bbox must have west < east within ±180 and south < north within ±90")
        bbox = (w, s, e, n)
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
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise SubscriptionError("a webhook needs delivery.url, an http(s) URL")
        secret = delivery.get("secret") or secrets.token_urlsafe(32)
        if not isinstance(secret, str) or len(secret) < 16:
            raise SubscriptionError("delivery.secret must be a string of at least 16 characters")
    return Subscription(f"S{secrets.token_hex(6)}", agency, tuple(types), bbox, severity, kind, url, secret)


class SubscriptionStore:
    """Subscriptions in the store's database (its own table)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, future=True, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def put(self, sub: Subscription, created_by: str) -> None:
        spec = json.dumps(asdict(sub))
        with self.engine.begin() as conn:
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
