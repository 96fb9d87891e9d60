"""Federation, outbound: what this node shares with each partner node, by agreement only.

An admin declares, per partner node, a sharing agreement (``POST /v1/federation/agreements``):
which releasability tokens may go to it, which kinds of record (tracks, alerts, incidents), an
optional area, whether the partner may pass the data on, and how long it may keep it.  The
exporter (``FederationExporter``) reads ``mfc.tracks``, ``mfc.alerts`` and ``mfc.incidents`` and
writes what each partner may receive, already filtered and signed, to that partner's outbound
topics ``mfc.federation.<partner>.<kind>``, where the partner's replication (MirrorMaker 2)
picks them up.  Everything else is withheld and counted, per partner and kind
(``GET /v1/federation``).

Releasability between nodes fails closed and matches tokens exactly: an agreement's tokens are
the node-level markings this node agreed to share (``ASEAN``, ``SG``); a record goes only when
one of its own tokens is one of them.  No prefix rule applies (``SG`` in an agreement does not
release ``SG-MPA``, an agency's own marking), and ``ALL`` or ``ASEAN`` on a record release it
only to partners whose agreement names that token.  Per kind:

* an alert: a token of its ``evidence.releasability``;
* an incident: a token of both its own and its effective releasability;
* a track: the partner's view is built as an agency's is (``services.access.visibility``), from the
  sensors whose releasability has an agreed token: all of them, the fused line; some, the newest
  fix of one of those (``fixes``), with identity only if such a sensor is an AIS receiver; none,
  or unknown sensors only, nothing.  It is shared under the meet of those sensors' agreed tokens
  (what every one of them releases), withheld when the meet is empty.
* an area (``bbox``): a record without a position inside it is withheld.

Every shared record is an envelope ``{"v": 1, "kind", "origin": [node ids, oldest first],
"hops": hops left, "onward": bool, "sent_s", "record"}`` signed by this node's Ed25519 key:
the Kafka value is ``{"envelope": ..., "sig": base64, "key": key id}``, the signature over the
envelope's canonical JSON (sorted keys, no spaces, UTF-8).  ``verify`` checks one against the
sender's public key; a flipped byte fails it.

The envelope also names the tokens the record was shared under (``releasability``): the
partner's releasability for it, and numbers the records per partner and kind (``seq``, from 1
within the exporter's ``epoch``) so that the partner sees records lost on the way.  Every ``HEARTBEAT_S`` each partner gets a signed heartbeat
(``kind: "heartbeat"``) on its first agreed kind's topic.  The receiving side is
``services.federation.inbound``.

On a Kafka deployment whose broker has an authorizer (partners reach it over mutual TLS,
``services.federation.pki``), the agreements are also the broker's grants (``BrokerAccess``):
partner ``P`` may read (and describe the configuration of) the topics ``mfc.federation.P.*``
and nothing else; ending the agreement removes the grant, so the partner's replication is cut
off at the broker at once, before any record it already fetched is even checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern,
                         ResourcePatternFilter, ResourceType)
from kafka.errors import SecurityDisabledError
from sqlalchemy import Column, Float, MetaData, String, Table, Text, create_engine, delete, select
from sqlalchemy.exc import IntegrityError

from services.bus import topics
from services.bus.core import Bus
from services.bus.kafka_bus import PARTNER_TOPIC, KafkaBus, ensure_topics
from services.access.visibility import SensorLookup, narrowed_view
from services.workers.loops import Worker
from services.access.workflow import TERMINAL, check_bbox, meet

log = logging.getLogger("mfc.federation")

KINDS = ("tracks", "alerts", "incidents")
ENVELOPE_VERSION = 1
_RELAYED_KEPT = 100_000            # alerts passed on remembered (their closing follows them)
CATCHING_UP_S = 10.0               # an outbound link this far behind its inputs is catching up
HEARTBEAT_S = 5.0                  # each partner gets a signed heartbeat this often
HOP_LIMIT = 3                      # a record travels at most this many links from its origin
MAX_TOKENS = 32
RETENTION_MIN_S, RETENTION_MAX_S = 3600, 366 * 86400
_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")   # also a Kafka topic name part
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")

metadata = MetaData()
agreements_table = Table(
    "federation_agreements", metadata,
    Column("partner", String(64), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_s", Float, nullable=False),
)
inbound_table = Table(  # per partner: what its inbound link has seen (services.federation.inbound)
    "federation_inbound", metadata,
    Column("partner", String(64), primary_key=True),
    Column("state", Text, nullable=False),
)
node_key_table = Table(
    "federation_node_key", metadata,
    Column("id", String(16), primary_key=True),
    Column("private_pem", Text, nullable=False),
)


class AgreementError(ValueError):
    """An agreement refused, with the reason."""


@dataclass(frozen=True, slots=True)
class Agreement:
    partner: str
    releasability: tuple[str, ...]
    kinds: tuple[str, ...]
    bbox: tuple[float, float, float, float] | None = None
    onward: bool = False
    retention_s: int = 604_800
    public_key: str | None = None  # the partner's Ed25519 key (PEM): what it sends is verified with it
    relay: bool = False  # also pass on other partners' tracks and alerts their origin lets travel on
    push_url: str | None = None  # also push the share over HTTPS to the partner's /v1/federation/inbound

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        d["releasability"], d["kinds"] = list(self.releasability), list(self.kinds)
        d["bbox"] = None if self.bbox is None else list(self.bbox)
        return d


def parse_agreement(body: Any, own_node: str) -> Agreement:
    """An agreement from a request body, or ``AgreementError`` with the precise reason."""
    if not isinstance(body, dict):
        raise AgreementError("want a JSON object with partner, releasability and kinds")
    known = ("partner", "releasability", "kinds", "bbox", "onward", "retention_s", "public_key", "relay",
             "push_url")
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise AgreementError(f"unknown fields: {', '.join(unknown)}; known: {', '.join(known)}")
    partner = body.get("partner")
    if not isinstance(partner, str) or not _NODE.fullmatch(partner):
        raise AgreementError("partner must be a node id: 1 to 64 letters, digits, '_' or '-', "
                             "starting with a letter or digit")
    if partner == own_node:
        raise AgreementError(f"partner {partner!r} is this node itself")
    tokens = body.get("releasability")
    if not isinstance(tokens, list) or not tokens or len(tokens) > MAX_TOKENS:
        raise AgreementError(f"releasability must be a list of 1 to {MAX_TOKENS} tokens (e.g. [\"ASEAN\", \"SG\"]); "
                             "an agreement that releases nothing shares nothing")
    for t in tokens:
        if not isinstance(t, str) or not _TOKEN.fullmatch(t):
            raise AgreementError(f"releasability token {t!r} is not a token: 1 to 32 letters, digits, '_' or '-'")
    kinds = body.get("kinds", list(KINDS))
    if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
        raise AgreementError(f"kinds must be a non-empty list of {', '.join(KINDS)}, not {kinds!r}")
    bbox = body.get("bbox")
    if bbox is not None:
        try:
            bbox = check_bbox(bbox)
        except ValueError as exc:
            raise AgreementError(str(exc)) from None
    onward = body.get("onward", False)
    if not isinstance(onward, bool):
        raise AgreementError("onward must be true or false (may the partner pass this node's data on)")
    retention = body.get("retention_s", 604_800)
    if (not isinstance(retention, int) or isinstance(retention, bool)
            or not RETENTION_MIN_S <= retention <= RETENTION_MAX_S):
        raise AgreementError(f"retention_s must be a whole number of seconds from {RETENTION_MIN_S} "
                             f"to {RETENTION_MAX_S}")
    relay = body.get("relay", False)
    if not isinstance(relay, bool):
        raise AgreementError("relay must be true or false (pass on other partners' records their origin "
                             "lets travel on)")
    push_url = body.get("push_url")
    if push_url is not None:
        from services.federation.push import check_push_url
        try:
            check_push_url(push_url)
        except ValueError as exc:
            raise AgreementError(str(exc)) from None
    public_key = body.get("public_key")
    if public_key is not None:
        try:
            partner_key(public_key)
        except ValueError as exc:
            raise AgreementError(f"public_key: {exc}") from None
    return Agreement(partner, tuple(dict.fromkeys(tokens)), tuple(k for k in KINDS if k in kinds), bbox,
                     onward, retention, public_key, relay, push_url)


def partner_key(pem: Any) -> Ed25519PublicKey:
    """A partner's public key from its PEM text (``GET /v1/federation`` on the partner gives
    it), or ``ValueError`` with the reason."""
    if not isinstance(pem, str) or len(pem) > 4096:
        raise ValueError("want the partner's Ed25519 public key as PEM text (its GET /v1/federation "
                         "gives it as public_key)")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"an Ed25519 key is needed, not {type(key).__name__.lstrip('_')}")
    return key


def partner_topic(partner: str, kind: str) -> str:
    return f"mfc.federation.{partner}.{kind}"


class AgreementStore:
    """Agreements and this node's key pair in the store's database (their own tables)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, future=True, pool_pre_ping=True)
        metadata.create_all(self.engine)
        self._key: Ed25519PrivateKey | None = None  # read once: a node's key does not change

    def put(self, agreement: Agreement, created_by: str) -> bool:
        """Store ``agreement`` (replacing the partner's previous one); True if it is new."""
        spec = json.dumps(agreement.public())
        with self.engine.begin() as conn:
            gone = conn.execute(delete(agreements_table).where(
                agreements_table.c.partner == agreement.partner)).rowcount
            conn.execute(agreements_table.insert().values(partner=agreement.partner, spec=spec,
                                                          created_by=created_by, created_s=time.time()))
        return not gone

    def delete(self, partner: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(agreements_table).where(agreements_table.c.partner == partner)).rowcount > 0

    def all(self) -> list[Agreement]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(agreements_table.c.spec).order_by(agreements_table.c.partner)).all()
        out = []
        for (spec,) in rows:
            d = json.loads(spec)
            out.append(Agreement(d["partner"], tuple(d["releasability"]), tuple(d["kinds"]),
                                 None if d.get("bbox") is None else tuple(d["bbox"]), bool(d["onward"]),
                                 int(d["retention_s"]), d.get("public_key"), bool(d.get("relay", False)),
                                 d.get("push_url")))
        return out

    def inbound_states(self) -> dict[str, dict[str, Any]]:
        """What each partner's inbound link had seen when last saved (``save_inbound``)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(inbound_table.c.partner, inbound_table.c.state)).all()
        out = {}
        for partner, state in rows:
            try:
                out[partner] = json.loads(state)
            except ValueError:
                log.error("inbound link state of %s unreadable; starting it afresh", partner)
        return out

    def save_inbound(self, partner: str, state: dict[str, Any]) -> None:
        text = json.dumps(state, separators=(",", ":"))
        with self.engine.begin() as conn:
            if not conn.execute(inbound_table.update().where(inbound_table.c.partner == partner)
                                .values(state=text)).rowcount:
                conn.execute(inbound_table.insert().values(partner=partner, state=text))

    def node_key(self) -> Ed25519PrivateKey:
        """This node's signing key, made on first use and kept (the same across restarts and
        for every process of the node: two starting at once keep the one stored first)."""
        if self._key is None:
            self._key = self._load_or_make_key()
        return self._key

    def _load_or_make_key(self) -> Ed25519PrivateKey:
        query = select(node_key_table.c.private_pem).where(node_key_table.c.id == "node")
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
            try:
                with self.engine.begin() as conn:
                    conn.execute(node_key_table.insert().values(id="node", private_pem=pem))
                return key
            except IntegrityError:  # another process stored one first
                with self.engine.connect() as conn:
                    row = conn.execute(query).one()
        loaded = serialization.load_pem_private_key(row[0].encode(), password=None)
        assert isinstance(loaded, Ed25519PrivateKey)
        return loaded

    def close(self) -> None:
        self.engine.dispose()


# ------------------------------------------------------------------------------ filtering

def _in_bbox(record: Mapping[str, Any], bbox: tuple[float, float, float, float] | None) -> bool:
    if bbox is None:
        return True
    lat, lon = record.get("lat"), record.get("lon")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return False
    w, s, e, n = bbox
    return w <= lon <= e and s <= lat <= n


def shared_view(kind: str, record: Mapping[str, Any], agreement: Agreement,
                sensors: SensorLookup) -> tuple[dict[str, Any], list[str]] | None:
    """What of ``record`` (a line of ``kind``) may go to ``agreement``'s partner, and the agreed
    tokens that release it (the partner's releasability for it); None: withheld.  A partner's
    own data (a line with ``origin``) is not shared here: ``relayed_view`` decides on passing it on."""
    if kind not in agreement.kinds or not isinstance(record, Mapping) or record.get("origin"):
        return None
    agreed = set(agreement.releasability)
    if kind == "alerts":
        evidence = record.get("evidence")
        tokens = _matched(evidence.get("releasability") if isinstance(evidence, Mapping) else None, agreed)
        out = dict(record) if tokens else None
    elif kind == "incidents":
        own = _matched(record.get("releasability"), agreed)
        tokens = _matched(record.get("releasability_effective"), agreed)
        out = dict(record) if own and tokens else None
    else:
        def shared(s: Any) -> bool:
            return s is not None and any(t in agreed for t in s.releasability)
        out = narrowed_view(record, shared, sensors)
        # the partner's agencies may see the line where every sensor behind it releases it: the
        # meet of each sensor's agreed tokens (an SG radar and an ASEAN receiver: SG, not ASEAN)
        tokens = [] if out is None else meet(*([t for t in getattr(sensors.get(sid), "releasability", ()) if t in agreed]
                                               for sid in out.get("sensors") or ()))
    if out is None or not tokens or not _in_bbox(out, agreement.bbox):
        return None
    for name in ("workflow", "acked_by", "acked_at", "suppressed_by"):  # the officers' handling stays home
        out.pop(name, None)
    return out, tokens


# what a partner's record carries on this node's bus that is not the partner's to send on
_LOCAL_FIELDS = ("origin", "releasability", "expires_s", "onward_hops", "partner_track_id", "folded_into",
                 "partners", "sensors", "stations", "fixes")


def relayed_view(kind: str, record: Mapping[str, Any], agreement: Agreement,
                 now_s: float) -> tuple[dict[str, Any], list[str], list[str], int, int] | None:
    """A partner's track or alert (``services.federation.inbound`` put it on this node's bus) as it
    may be passed on to ``agreement``'s partner: (the record under its origin's ids, the tokens,
    the path so far, hops left, retention left), or None: withheld.  Only where its origin let
    it travel on (``onward_hops``, counted down from ``HOP_LIMIT`` links), this node's agreement
    with the next partner says ``relay`` and releases one of the tokens it came under, the next
    partner is not already on its path, and at least ``RETENTION_MIN_S`` of its retention is
    left.  Incidents are not passed on."""
    origin, hops = record.get("origin"), record.get("onward_hops")
    if (kind not in ("tracks", "alerts") or kind not in agreement.kinds or not agreement.relay
            or not isinstance(origin, list) or not origin or agreement.partner in origin
            or not isinstance(hops, int) or isinstance(hops, bool) or hops < 1):
        return None
    expires_s = record.get("expires_s")
    left = int(expires_s - now_s) if isinstance(expires_s, (int, float)) else 0
    if left < RETENTION_MIN_S:
        return None
    agreed = set(agreement.releasability)
    source = f"{origin[0]}:"
    out = {k: v for k, v in record.items() if k not in _LOCAL_FIELDS}
    if kind == "tracks":
        tokens = _matched(record.get("releasability"), agreed)
        out["track_id"] = record.get("partner_track_id")
    else:
        evidence = record.get("evidence") if isinstance(record.get("evidence"), Mapping) else {}
        tokens = _matched(evidence.get("releasability"), agreed)
        out["alert_id"] = evidence.get("partner_alert_id")
        out["evidence"] = {k: v for k, v in evidence.items() if k not in ("partner_alert_id", "local_track_id")}
        tid = record.get("track_id")
        out["track_id"] = tid[len(source):] if isinstance(tid, str) and tid.startswith(source) else None
    if not tokens or not _in_bbox(out, agreement.bbox):
        return None
    return out, tokens, list(origin), hops, min(agreement.retention_s, left)


def _matched(tokens: Any, agreed: set[str]) -> list[str]:
    return [t for t in tokens if isinstance(t, str) and t in agreed] if isinstance(tokens, list) else []


# ------------------------------------------------------------------------------ signing

def canonical(envelope: Mapping[str, Any]) -> bytes:
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def seal(envelope: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The Kafka value of a shared record: the envelope, its signature and the signer's key id."""
    return {"envelope": envelope, "sig": base64.b64encode(key.sign(canonical(envelope))).decode(),
            "key": key_id(key.public_key())}


def verify(value: Any, public: Ed25519PublicKey) -> dict[str, Any]:
    """The envelope of a shared record signed by ``public``'s node; ``ValueError`` with the
    reason when it is not one (malformed, another key, or altered after signing)."""
    if not isinstance(value, dict) or not isinstance(value.get("envelope"), dict) \
            or not isinstance(value.get("sig"), str):
        raise ValueError("not a shared record: want {envelope, sig, key}")
    if value.get("key") != key_id(public):
        raise ValueError(f"signed by key {value.get('key')!r}, not the partner's {key_id(public)!r}")
    try:
        public.verify(base64.b64decode(value["sig"], validate=True), canonical(value["envelope"]))
    except (InvalidSignature, ValueError) as exc:
        raise ValueError("signature does not verify: the record was altered or not signed by the partner") \
            from exc
    return value["envelope"]


# ------------------------------------------------------------------------------ the exporter

_POLL = 1000
_SOURCES = {"tracks": (topics.TRACKS, "track_id"), "alerts": (topics.ALERTS, "alert_id"),
            "incidents": (topics.INCIDENTS, "incident_id")}


class BrokerAccess:
    """Keeps the broker's ACLs in step with the agreements: ``User:<partner>`` may READ and
    DESCRIBE_CONFIGS topics prefixed ``mfc.federation.<partner>.`` for every partner with an
    agreement, and the grants of partners without one are removed.  ``state``: ``granted``,
    ``no authorizer`` (the broker lets any client read anything: partners must not reach it),
    ``embedded`` (no broker) or ``error: ...`` (tried again after ``RETRY_S``)."""

    RESYNC_S = 60.0  # grants changed behind the node's back are put right this often
    RETRY_S = 10.0   # after a failure (the broker away), tried again this often

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.state = "embedded" if not isinstance(bus, KafkaBus) else "unknown"
        self._admin: Any = None
        self._synced: frozenset[str] | None = None
        self._at = float("-inf")
        self._lock = threading.Lock()

    def sync(self, partners: set[str], force: bool = False) -> None:
        if self.state == "embedded":
            return
        with self._lock:
            wanted = frozenset(partners)
            since = time.monotonic() - self._at
            if not force and (since < self.RETRY_S if self._synced is None else
                              wanted == self._synced and since < self.RESYNC_S):
                return
            try:
                self._apply(wanted)
                self.state, self._synced = "granted", wanted
            except Exception as exc:  # noqa: BLE001 - reported on the links, tried again
                if isinstance(exc, SecurityDisabledError):
                    if self.state != "no authorizer":
                        log.warning("the broker has no authorizer: partners' grants cannot be kept; "
                                    "do not let partners reach this broker")
                    self.state, self._synced = "no authorizer", wanted
                else:
                    log.error("could not keep the partners' grants on the broker: %s", exc)
                    self.state, self._synced = f"error: {type(exc).__name__}: {exc}"[:300], None
                    self._close()
            self._at = time.monotonic()

    def _apply(self, wanted: frozenset[str]) -> None:
        if self._admin is None:
            self._admin = self.bus.admin()
        ops = (ACLOperation.READ, ACLOperation.DESCRIBE_CONFIGS)
        pre = self.bus.prefix  # the topics' names on the broker (MFC_KAFKA_PREFIX)
        found, error = self._admin.describe_acls(ACLFilter(
            None, None, ACLOperation.ANY, ACLPermissionType.ANY,
            ResourcePatternFilter(ResourceType.TOPIC, None, ACLResourcePatternType.PREFIXED)))
        if error.errno:
            raise error()
        have: set[tuple[str, Any]] = set()
        stale = []
        for acl in found:
            name = acl.resource_pattern.resource_name
            if not name.startswith(pre + "mfc.federation."):
                continue
            partner = acl.principal.removeprefix("User:")
            if (partner in wanted and name == pre + partner_topic(partner, "") and acl.host == "*"
                    and acl.permission_type == ACLPermissionType.ALLOW and acl.operation in ops):
                have.add((partner, acl.operation))
            else:
                stale.append(ACLFilter(acl.principal, acl.host, acl.operation, acl.permission_type,
                                       ResourcePatternFilter(ResourceType.TOPIC, name, ACLResourcePatternType.PREFIXED)))
        if stale:
            self._admin.delete_acls(stale)
        missing = [ACL(f"User:{p}", "*", op, ACLPermissionType.ALLOW,
                       ResourcePattern(ResourceType.TOPIC, pre + partner_topic(p, ""), ACLResourcePatternType.PREFIXED))
                   for p in sorted(wanted) for op in ops if (p, op) not in have]
        if missing:
            result = self._admin.create_acls(missing)
            if result.get("failed"):
                raise RuntimeError(f"broker refused grants: {result['failed']}")

    def _close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # noqa: BLE001
                pass
            self._admin = None

    def close(self) -> None:
        with self._lock:
            self._close()


class FederationExporter(Worker):
    """Reads the node's tracks, alerts and incidents; writes each partner's share, signed, to
    its outbound topics; counts what was shared and withheld per partner and kind."""

    def __init__(self, bus: Bus, agreements: AgreementStore, sensors: SensorLookup, node: str,
                 group: str = "federation-out", refresh_s: float = 2.0, clock=time.time) -> None:
        super().__init__("federation-out")
        self.bus, self.store, self.sensors, self.node = bus, agreements, sensors, node
        self.refresh_s, self.clock = refresh_s, clock
        self.key = agreements.node_key()
        self.consumers = {kind: bus.consumer(topic, f"{group}-{kind}") for kind, (topic, _) in _SOURCES.items()}
        self._agreements: list[Agreement] = []
        self._loaded = float("-inf")
        self._lock = threading.Lock()
        self.shared: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
        self.withheld: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
        self.caught_up_s: float | None = None  # when a round last found every input drained
        self.busy = False                        # the last round handled records
        self._beat = float("-inf")               # when the partners last got a heartbeat
        # records are numbered per partner and kind within this exporter's life (``epoch``), so
        # a partner can tell records lost on the way (an outage longer than a topic's
        # retention) from a quiet link: ``services.federation.inbound`` reports the gap
        self.epoch = secrets.token_hex(6)
        self._seq: dict[tuple[str, str], int] = defaultdict(int)
        self._made: set[str] = set()  # outbound topics known to exist
        self.access = BrokerAccess(bus)
        self._relayed: dict[tuple[str, Any], None] = {}  # (partner, alert id) passed on, oldest first

    def invalidate(self) -> None:
        """Agreements changed: read them again before the next record (a removed partner gets
        nothing more from then on), and put the broker's grants in step now (a removed
        partner's replication is refused by the broker from its next fetch)."""
        with self._lock:
            self._loaded = float("-inf")
        self.access.sync({a.partner for a in self.current()}, force=True)

    def current(self) -> list[Agreement]:
        with self._lock:
            if time.monotonic() - self._loaded >= self.refresh_s:
                try:
                    self._agreements = self.store.all()
                    self._loaded = time.monotonic()
                except Exception as exc:  # unreadable: share with no one until they can be read
                    log.error("could not read agreements: %s", exc)
                    self._agreements = []
            return self._agreements

    def run(self) -> None:
        try:
            self.run_then_leave(self._loop, self.consumers.values)
        finally:
            self.access.close()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            behind = False  # a poll came back full: more is waiting
            try:
                for kind, consumer in self.consumers.items():
                    records = consumer.poll(timeout_s=0.1 if kind == "tracks" else 0.02, max_records=_POLL)
                    if not records:
                        continue
                    behind |= len(records) >= _POLL
                    self.export(kind, [r.value for r in records])
                    self.bus.flush()
                    consumer.commit()
                    self.handled += len(records)
            except Exception:  # e.g. the broker away: not committed, so sent again after the pause
                log.exception("federation export failed; retrying in 1 s")
                behind = True
                self.stopping.wait(1.0)
            self.busy = behind
            self.access.sync({a.partner for a in self.current()})
            if not behind:
                self.caught_up_s = self.clock()
            if time.monotonic() - self._beat >= HEARTBEAT_S:
                try:
                    self.heartbeat()
                except Exception as exc:  # the broker away: the next round tries again
                    log.warning("federation heartbeat failed: %s", exc)

    def export(self, kind: str, values: list[Any]) -> None:
        """Share each line of ``kind`` with every partner whose agreement allows it."""
        id_field = _SOURCES[kind][1]
        for agreement in self.current():
            partner, shared, withheld = agreement.partner, 0, 0
            for value in values:
                if isinstance(value, dict) and value.get("origin"):  # a partner's (services.federation.inbound)
                    if self.relay(kind, value, agreement, id_field):
                        shared += 1
                    continue  # not passed on: not counted (it is not this node's)
                try:
                    view = shared_view(kind, value, agreement, self.sensors) if isinstance(value, dict) else None
                except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a malformed line
                    log.warning("%s line withheld from %s: %r", kind, partner, exc)
                    view = None
                if view is None or not isinstance(view[0].get(id_field), str):
                    withheld += 1
                    continue
                record, tokens = view
                self._seq[(partner, kind)] += 1
                envelope = self.envelope(kind, record, tokens, agreement)
                envelope.update(epoch=self.epoch, seq=self._seq[(partner, kind)])
                self.bus.publish(self._topic(partner, kind), record[id_field], seal(envelope, self.key))
                shared += 1
            with self._lock:
                self.shared[partner][kind] += shared
                self.withheld[partner][kind] += withheld

    def relay(self, kind: str, value: dict[str, Any], agreement: Agreement, id_field: str) -> bool:
        """Pass a partner's record on to ``agreement``'s partner if ``relayed_view`` lets it.  The
        closing or retraction of an alert passed on before goes the same way even when its origin
        has since stopped letting its data travel on (the copy downstream must not stay open)."""
        partner = agreement.partner
        local_id = value.get(id_field)
        try:
            view = relayed_view(kind, value, agreement, self.clock())
            if view is None and kind == "alerts" and value.get("state") in TERMINAL \
                    and (partner, local_id) in self._relayed:
                view = relayed_view(kind, {**value, "onward_hops": 1}, agreement, self.clock())
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("partner %s line not passed on to %s: %r", kind, partner, exc)
            return False
        if view is None or not isinstance(view[0].get(id_field), str):
            return False
        record, tokens, origin, hops, retention = view
        if kind == "alerts":
            self._relayed[(partner, local_id)] = None
            if len(self._relayed) > _RELAYED_KEPT:
                del self._relayed[next(iter(self._relayed))]
        self._seq[(partner, kind)] += 1
        envelope = self.envelope(kind, record, tokens, agreement)
        envelope.update(origin=[*origin, self.node], hops=hops, retention_s=retention,
                        epoch=self.epoch, seq=self._seq[(partner, kind)])
        self.bus.publish(self._topic(partner, kind), f"{origin[0]}:{record[id_field]}", seal(envelope, self.key))
        return True

    def envelope(self, kind: str, record: dict[str, Any], tokens: list[str],
                 agreement: Agreement) -> dict[str, Any]:
        return {"v": ENVELOPE_VERSION, "kind": kind, "origin": [self.node], "hops": HOP_LIMIT,
                "onward": agreement.onward, "retention_s": agreement.retention_s,
                "sent_s": round(self.clock(), 3), "releasability": tokens, "record": record}

    def _topic(self, partner: str, kind: str) -> str:
        """The partner's outbound topic, made with one partition the first time (on Kafka)."""
        topic = partner_topic(partner, kind)
        if topic not in self._made:
            ensure_topics(self.bus, {topic: PARTNER_TOPIC})
            self._made.add(topic)
        return topic

    def heartbeat(self) -> None:
        """A signed heartbeat on each partner's first agreed kind's topic, so the partner can
        tell a quiet link from a broken one and measure the link's lag."""
        for agreement in self.current():
            envelope = self.envelope("heartbeat", {}, [], agreement)
            self.bus.publish(self._topic(agreement.partner, agreement.kinds[0]), "heartbeat",
                             seal(envelope, self.key))
        self.bus.flush()
        self._beat = time.monotonic()

    def status(self) -> list[dict[str, Any]]:
        """One outbound link per agreement (``GET /v1/federation``): ``down`` when the exporter
        is not running; ``lag_s`` how long since it last had every input drained (0 when it
        has), ``catching_up`` beyond ``CATCHING_UP_S``."""
        links = []
        alive = self.is_alive()
        now = self.clock()
        if not alive:
            lag_s = None
        elif not self.busy and self.caught_up_s is not None:
            lag_s = 0.0
        else:
            lag_s = round(max(0.0, now - (self.caught_up_s if self.caught_up_s is not None else now)), 1)
        state = "down" if lag_s is None else "catching_up" if lag_s > CATCHING_UP_S else "up"
        for agreement in self.current():
            p = agreement.partner
            with self._lock:
                shared, withheld = dict(self.shared[p]), dict(self.withheld[p])
            links.append({"partner": p, "direction": "out", "state": state,
                          "shared": sum(shared.values()), "withheld": sum(withheld.values()), "refused": 0,
                          "lag_s": lag_s, "by_kind": {"shared": shared, "withheld": withheld},
                          "broker_access": self.access.state})
        return links
