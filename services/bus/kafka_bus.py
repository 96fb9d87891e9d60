"""The Kafka backend of the bus (kafka-python), with the same interface as ``EmbeddedBus``.

All use of kafka-python in the project is wrapped here.

- Values are JSON in UTF-8 (``services.bus.core.encode``), keys UTF-8 strings (or no key).
- The producer waits for all in-sync replicas (``acks=all``), retries, and is idempotent when
  the client and broker allow it; ``flush()`` blocks until everything published so far is
  acknowledged and raises the first delivery error, if any.
- A consumer belongs to one thread.  It never commits by itself: ``commit()`` commits exactly
  what its ``poll()`` calls have returned, so a record is seen again until its group commits
  past it (at-least-once).  A group with no committed offset starts at the earliest record.
- ``Record.offset`` is the Kafka offset within the record's partition;
  ``KafkaBusConsumer.partition_of(record)`` gives the partition of a record of the last poll.
- A value that is not a JSON object comes back as
  ``{"_undecodable": <text or repr>, "_reason": <why>}`` so the caller can dead-letter it;
  a tombstone (null value, e.g. on the compacted ``mfc.tracks``) as ``{"_tombstone": True}``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaConfigurationError, KafkaError, TopicAlreadyExistsError
from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment, ConsumerProtocolSubscription
from kafka.structs import OffsetAndMetadata

from services.bus import topics
from services.bus.core import Record, encode

log = logging.getLogger("mfc.kafka")

UNDECODABLE = "_undecodable"
REASON = "_reason"
TOMBSTONE = "_tombstone"


@dataclass(frozen=True)
class TopicSpec:
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)
    replication_factor: int = -1  # -1: the broker's default.replication.factor


# The contract topics (docs/architecture.md, "Kafka topics") and their partition counts.
# Per-agency topics (mfc.alerts.<agency>) are made by ``ensure_agency_topic``.
CONTRACT_TOPICS: dict[str, TopicSpec] = {
    topics.RAW_AIS: TopicSpec(6),
    topics.RAW_RADAR: TopicSpec(6),
    topics.OBS: TopicSpec(6),
    topics.TRACKS: TopicSpec(6, {"cleanup.policy": "compact"}),
    topics.ALERTS: TopicSpec(3),
    topics.DEADLETTER: TopicSpec(1),
    topics.SENSORS: TopicSpec(1, {"cleanup.policy": "compact"}),
    topics.ZONES: TopicSpec(1, {"cleanup.policy": "compact"}),
}
AGENCY_TOPIC = TopicSpec(3)
# A partner's outbound topics (mfc.federation.<partner>.<kind>): one partition, so the link
# carries them in the order they were shared and the partner can follow their numbers.
PARTNER_TOPIC = TopicSpec(1)


def split_bootstrap(bootstrap: str) -> list[str]:
    """``"kafka://h1:9092,h2:9092"`` or ``"h1:9092,h2:9092"`` → ``["h1:9092", "h2:9092"]``."""
    if bootstrap.startswith("kafka://"):
        bootstrap = bootstrap[len("kafka://"):]
    servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
    if not servers:
        raise ValueError(f"no Kafka bootstrap servers in {bootstrap!r}")
    return servers


def decode_value(raw: bytes | None) -> dict[str, Any]:
    """A record value as the dict the bus promises; never raises."""
    if raw is None:
        return {TOMBSTONE: True}
    try:  # the fast path (an integer beyond 64 bits comes back a float: no field of ours holds one);
        # what orjson refuses (NaN, bad bytes, not JSON) is read or judged by the standard library below
        value = orjson.loads(raw)
        if isinstance(value, dict):
            return value
    except orjson.JSONDecodeError:
        pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {UNDECODABLE: repr(raw), REASON: f"not UTF-8: {exc}"}
    try:
        value = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError, or e.g. a number too large
        return {UNDECODABLE: text, REASON: f"not JSON: {exc}"}
    if not isinstance(value, dict):
        return {UNDECODABLE: text, REASON: f"JSON {type(value).__name__}, not an object"}
    return value


def decode_key(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


class _Positions(ConsumerRebalanceListener):
    """Forget what was polled from partitions this consumer loses: their new owner sees them again.

    A rebalance (kafka-python's eager protocol) revokes every partition and then assigns the
    new set, and a partition kept across it is fetched again from its committed offset: the
    records this member already polled after that offset would come back a second time.
    ``seen`` (per partition, the offset after the last record ``poll`` returned) survives for
    the partitions kept, so ``poll`` skips them; for a partition lost, it is forgotten."""

    def __init__(self, positions: dict[TopicPartition, int], seen: dict[TopicPartition, int]) -> None:
        self.positions, self.seen = positions, seen
        self.assigned: set[int] | None = None  # the partitions of the last completed assignment

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        for tp in revoked:
            self.positions.pop(tp, None)

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        kept = set(assigned)
        self.assigned = {tp.partition for tp in kept}
        for tp in list(self.seen):
            if tp not in kept:
                del self.seen[tp]


class SingleOwnerAssignor(AbstractPartitionAssignor):
    """Every partition of the group's topics to one member; the others own nothing.

    For a consumer whose state must not be split (``mfc fusion``: one picture, one numbering
    of tracks and alerts).  Each member announces (``user_data``) when it started and, once it
    owns the partitions, the group generation at which it took them.  The owner is the member
    that took them last (a member that took over did so because the previous owner had left
    the group: one that comes back after a pause beyond the session timeout, a zombie, finds
    its claim older and gets nothing); with no claim, the member that started first.  Members
    that joined later are hot standbys that take over when the owner leaves the group (a
    graceful stop, or a crash noticed after the session timeout).  Ties go to the smaller
    member id, so every leader picks the same owner.
    """

    name = "mfc-single-owner"
    version = 0

    def __init__(self, started_ns: int) -> None:
        self.started_ns = started_ns
        self.owner_since = 0  # the group generation at which this member took the partitions (0: it does not own them)

    @staticmethod
    def _claim(member: Any) -> tuple[int, int]:
        """(generation at which it took ownership, 0 if none; when it started)."""
        try:
            started, since = bytes(member.metadata.user_data or b"").decode("ascii").split(",")
            return int(since), int(started)
        except (TypeError, ValueError):
            return 0, 2 ** 63  # unreadable: never preferred over a member that says when it started

    def assign(self, cluster: Any, members: list[Any]) -> dict[str, Any]:
        topics_: set[str] = set()
        for member in members:
            topics_.update(member.metadata.topics)
        claims = {m.member_id: self._claim(m) for m in members}
        owners = [m for m in claims if claims[m][0] > 0]
        if owners:
            owner = min(owners, key=lambda m: (-claims[m][0], m))
        else:
            owner = min(claims, key=lambda m: (claims[m][1], m)) if claims else None
        out = {}
        for member in members:
            owned = []
            if member.member_id == owner:
                for topic in sorted(topics_):
                    parts = cluster.partitions_for_topic(topic)
                    if parts is None:
                        log.warning("no partition metadata for topic %s", topic)
                        continue
                    owned.append((topic, sorted(parts)))
            out[member.member_id] = ConsumerProtocolAssignment(self.version, owned, b"")
        return out

    def metadata(self, topics_: Iterable[str]) -> Any:
        return ConsumerProtocolSubscription(self.version, list(topics_),
                                            f"{self.started_ns},{self.owner_since}".encode("ascii"))

    def on_assignment(self, assignment: Any, generation: Any = None) -> None:
        owns = bool(assignment.partitions())
        if not owns:
            self.owner_since = 0
        elif not self.owner_since:
            self.owner_since = int(getattr(generation, "generation_id", generation) or 1)


class KafkaBusConsumer:
    """One topic, one consumer group, one thread.

    With a ``prefix``, the topic and the group on the broker are ``prefix + topic`` and
    ``prefix + group``; records come back with the topic name without the prefix.
    """

    def __init__(self, bootstrap: list[str], topic: str, group: str, prefix: str = "",
                 single_owner: bool = False, **overrides: Any) -> None:
        self.topic, self.group, self.prefix = topic, group, prefix
        topic, group = prefix + topic, prefix + group
        config: dict[str, Any] = dict(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id=f"mfc-{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A topic that does not exist yet is noticed soon after it is created.
            metadata_max_age_ms=10_000,
            # A restarted service rejoins its group within seconds, not the 45 s default.
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )
        if single_owner:  # one member owns every partition, the others stand by (``SingleOwnerAssignor``)
            config["partition_assignment_strategy"] = [SingleOwnerAssignor(time.time_ns())]
        config.update(overrides)
        self._consumer = KafkaConsumer(**config)
        # Learn the topic's partitions before joining the group: a member that joins with no
        # metadata for its topic is assigned nothing and (kafka-python 3.0) may never rejoin.
        self._consumer.partitions_for_topic(topic)
        self._positions: dict[TopicPartition, int] = {}
        self._seen: dict[TopicPartition, int] = {}
        self._listener = _Positions(self._positions, self._seen)
        self._consumer.subscribe([topic], listener=self._listener)
        self._last: dict[int, int] = {}  # id(record) → partition, for the last poll's records
        self._last_batch: list[Record] = []
        self._next: dict[TopicPartition, int] = {}  # per partition: the offset after the last record polled
        self._closed = False
        self._idle = threading.Event()  # never set: a pause that does not hold the GIL in a busy loop

    def poll(self, timeout_s: float = 0.5, max_records: int = 1000) -> list[Record]:
        """The next records; none while the broker cannot be reached (a retriable fault is logged
        and the caller simply polls again: nothing was consumed, no worker dies of a restart)."""
        try:
            batches = self._consumer.poll(timeout_ms=max(0, int(timeout_s * 1000)), max_records=max_records)
        except KafkaError as exc:
            if not getattr(exc, "retriable", False):
                raise
            log.warning("poll of %s failed, will retry: %s", self.topic, exc)
            self._idle.wait(min(max(timeout_s, 0.05), 1.0))
            return []
        records: list[Record] = []
        partitions: dict[int, int] = {}
        for tp, messages in sorted(batches.items(), key=lambda item: item[0].partition):
            seen = self._seen.get(tp)
            if seen is not None and messages and messages[0].offset < seen:
                messages = [m for m in messages if m.offset >= seen]  # fetched again after a rebalance
            for msg in messages:
                rec = Record(self.topic, decode_key(msg.key), decode_value(msg.value), msg.offset, tp.partition)
                if REASON in rec.value:
                    log.warning("undecodable record %s[%d]@%d: %s", msg.topic, msg.partition,
                                msg.offset, rec.value[REASON])
                records.append(rec)
                partitions[id(rec)] = tp.partition
            if messages:
                self._positions[tp] = self._next[tp] = self._seen[tp] = messages[-1].offset + 1
        self._last_batch, self._last = records, partitions
        return records

    def partitions(self) -> set[int] | None:
        """The partitions the group's last completed assignment gave this member (empty: none, a
        standby; None: no assignment yet).  A rebalance in progress does not change it; it
        changes only inside ``poll()``."""
        assigned = self._listener.assigned
        return None if assigned is None else set(assigned)

    def committed_offsets(self) -> dict[int, int]:
        """Per owned partition, the group's committed offset (partitions never committed left out)."""
        out = {}
        for tp in self._consumer.assignment():
            offset = self._consumer.committed(tp)
            if offset is not None:
                out[tp.partition] = offset
        return out

    def lag(self) -> int | None:
        """Records on the assigned partitions not polled yet; None while that is unknown."""
        lags = self.lags()
        return None if lags is None else sum(lags.values())

    def lags(self) -> dict[int, int] | None:
        """Per assigned partition, the records not polled yet; None while that is unknown (no
        partitions assigned yet, the broker not answering).  Asks the broker for the end offsets
        (kafka-python's own positions run ahead of what ``poll`` returned: it prefetches).

        The end offsets are the high watermarks the last fetch responses carried (no round trip:
        asking the broker took 0.1 s a poll, a fifth of the fusion worker's time through Kafka);
        the broker is asked only for a partition not fetched from yet.  A record is never polled
        before the response that brought it, so a watermark is never behind what was polled."""
        assigned = set(self._consumer.assignment())
        if not assigned:
            return None
        for tp in set(self._next) - assigned:
            del self._next[tp]  # revoked: if it comes back, it starts from its committed offset
        try:
            ends = {tp: self._consumer.highwater(tp) for tp in assigned}
            unknown = [tp for tp, end in ends.items() if end is None]
            if unknown:
                ends.update(self._consumer.end_offsets(unknown))
            out = {}
            for tp in assigned:
                if tp not in self._next:
                    start = self._consumer.committed(tp)
                    self._next[tp] = start if start is not None else self._consumer.beginning_offsets([tp])[tp]
                out[tp.partition] = max(0, ends[tp] - self._next[tp])
            return out
        except KafkaError as exc:
            log.warning("lag of group %s on %s unknown: %s", self.group, self.topic, exc)
            return None

    def partition_of(self, record: Record) -> int | None:
        """The partition of a record returned by the last ``poll()`` (None for any other)."""
        return self._last.get(id(record))

    def commit(self, upto: dict[int, int] | None = None) -> None:
        """Commit everything the polls so far returned (synchronously); with ``upto``
        (partition → next offset), only that far on those partitions.

        Never raises for a broker fault: after a rebalance the records belong to another member;
        with the broker unreachable the offsets are kept and go with the next commit.
        """
        positions = dict(self._positions)
        if upto is not None:
            positions = {tp: min(offset, upto[tp.partition]) for tp, offset in positions.items()
                         if tp.partition in upto}
        if not positions:
            return
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in positions.items()}
        try:
            self._consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced since the poll: another member now owns those partitions and
            # will see the records again (at-least-once), so this is not an error for the caller.
            log.warning("commit for group %s on %s skipped after a rebalance: %s", self.group, self.topic, exc)
        except KafkaError as exc:
            # The broker is unreachable (e.g. restarting): the offsets stay pending and the next
            # commit sends them.  Until then a restart would see these records again, which
            # at-least-once processing allows; the loop must not die for it.
            log.warning("commit for group %s on %s failed, will retry with the next: %s", self.group, self.topic, exc)
            return
        for tp, offset in positions.items():  # what is held back stays to be committed later
            if offset >= self._positions.get(tp, offset):
                self._positions.pop(tp, None)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close(autocommit=False)

    def __enter__(self) -> "KafkaBusConsumer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KafkaBus:
    """Topics on Apache Kafka.  ``bootstrap``: ``"host:port[,host:port]"``.

    ``prefix`` (``MFC_KAFKA_PREFIX``) is put before every topic and consumer-group name on the
    broker, so that several deployments (or test runs) can share one cluster: with prefix
    ``"ops."`` the code's ``mfc.obs`` is the broker's ``ops.mfc.obs``.
    """

    def __init__(self, bootstrap: str, *, client_id: str = "mfc", linger_ms: int = 5,
                 max_block_ms: int = 10_000, prefix: str = "") -> None:
        self.bootstrap = split_bootstrap(bootstrap)
        self.prefix = prefix
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        config: dict[str, Any] = dict(
            bootstrap_servers=self.bootstrap, client_id=client_id,
            acks="all", linger_ms=linger_ms, retry_backoff_ms=200,
            # publish() blocks at most this long (no metadata, full buffer) before it raises,
            # so an HTTP ingest answers 503 instead of hanging a minute while the broker is down.
            max_block_ms=max_block_ms,
        )
        try:
            self._producer = KafkaProducer(enable_idempotence=True, **config)
        except (KafkaConfigurationError, AssertionError, TypeError) as exc:
            # An older kafka-python (no idempotent producer) or a broker that does not allow it.
            log.warning("idempotent producer not available (%s); using acks=all with retries", exc)
            self._producer = KafkaProducer(retries=10, max_in_flight_requests_per_connection=1, **config)
        self.idempotent = bool(self._producer.config.get("enable_idempotence", False))
        self._closed = False

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)

    def publish(self, topic: str, key: str | None, value: dict[str, Any]) -> Any:
        """Send one record; returns its future (``.get(timeout)`` waits for its acknowledgement)."""
        future = self._producer.send(self.prefix + topic, key=None if key is None else key.encode("utf-8"), value=encode(value))
        future.add_errback(self._failed)
        return future

    def publish_many(self, topic: str, items: list[tuple[str | None, dict[str, Any]]]) -> None:
        for key, value in items:
            self.publish(topic, key, value)

    def flush(self, timeout_s: float | None = None) -> None:
        """Block until every record published so far is acknowledged; raise the first failure."""
        self._producer.flush(timeout=timeout_s)
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise errors[0] if isinstance(errors[0], Exception) else KafkaError(str(errors[0]))

    def consumer(self, topic: str, group: str, single_owner: bool = False) -> KafkaBusConsumer:
        return KafkaBusConsumer(self.bootstrap, topic, group, prefix=self.prefix, single_owner=single_owner)

    def admin(self) -> KafkaAdminClient:
        """A new admin client for this cluster; close it after use."""
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="mfc-admin")

    def close(self) -> None:
        """Deliver what is pending and close the producer.  Close consumers (in their threads) first."""
        if not self._closed:
            self._closed = True
            self._producer.close(timeout=30)


def ensure_topics(bus: Any, specs: Mapping[str, TopicSpec] | None = None, timeout_s: float = 30.0) -> dict[str, str]:
    """Create the topics (by default the contract's), tolerating ones that exist already.

    Returns ``{topic: "created" | "exists"}``.  An existing topic is left as it is (its
    partitions and configuration are not changed).  Does nothing for a non-Kafka bus.
    Names are given without the bus's prefix, which is added on the broker.
    """
    if not isinstance(bus, (KafkaBus, _Unprefixed)):
        return {}
    specs = CONTRACT_TOPICS if specs is None else specs
    if not specs:
        return {}
    if bus.prefix:
        named = ensure_topics(_Unprefixed(bus), {bus.prefix + name: spec for name, spec in specs.items()}, timeout_s)
        return {name[len(bus.prefix):]: state for name, state in named.items()}
    admin = bus.admin()
    try:
        existing = set(admin.list_topics())
        wanted = {name: spec for name, spec in specs.items() if name not in existing}
        result = {name: "exists" for name in specs if name in existing}
        if wanted:
            created = _create_topics(admin, wanted, timeout_s)
            result.update(created)
            fresh = [name for name, state in created.items() if state == "created"]
            if fresh and hasattr(admin, "wait_for_topics"):
                admin.wait_for_topics(fresh, timeout_ms=int(timeout_s * 1000))
        return result
    finally:
        admin.close()


class _Unprefixed:
    """The same cluster with no prefix (for the admin helpers, which take broker names)."""

    def __init__(self, bus: KafkaBus) -> None:
        self.bootstrap, self.prefix = bus.bootstrap, ""

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="mfc-admin")


def _create_topics(admin: KafkaAdminClient, wanted: Mapping[str, TopicSpec], timeout_s: float) -> dict[str, str]:
    timeout_ms = int(timeout_s * 1000)
    result: dict[str, str] = {}
    request = {name: {"num_partitions": spec.partitions, "replication_factor": spec.replication_factor,
                      "configs": dict(spec.configs)} for name, spec in wanted.items()}
    try:
        response = admin.create_topics(request, timeout_ms=timeout_ms, raise_errors=False)
    except TypeError:  # kafka-python 2.x: a list of NewTopic, errors raised
        from kafka.admin import NewTopic
        for name, spec in wanted.items():
            try:
                admin.create_topics([NewTopic(name, spec.partitions, spec.replication_factor,
                                              topic_configs=dict(spec.configs))], timeout_ms=timeout_ms)
                result[name] = "created"
            except TopicAlreadyExistsError:
                result[name] = "exists"
        return result
    for item in response.get("topics", []):
        name, code = item["name"], item["error_code"]
        if code == 0:
            result[name] = "created"
        elif code == TopicAlreadyExistsError.errno:
            result[name] = "exists"
        else:
            raise KafkaError(f"cannot create topic {name}: error {code} {item.get('error_message')}")
    return result


def topic_info(bus: KafkaBus, topic: str) -> dict[str, Any]:
    """``{"partitions": n, "configs": {name: value}}`` of an existing topic (non-default configs only)."""
    from kafka.admin import ConfigResource, ConfigResourceType
    topic = bus.prefix + topic
    admin = bus.admin()
    try:
        (described,) = admin.describe_topics([topic])
        if described.get("error_code"):
            raise KafkaError(f"cannot describe topic {topic}: error {described['error_code']}")
        response = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = response.get("topic", {}).get(topic, {}) if isinstance(response, dict) else {}
        configs = {name: entry.get("value") for name, entry in entries.items()
                   if entry.get("config_source") not in ("DEFAULT_CONFIG", 5)}
        return {"partitions": len(described["partitions"]), "configs": configs}
    finally:
        admin.close()


def ensure_agency_topic(bus: Any, agency: str) -> dict[str, str]:
    """Create ``mfc.alerts.<agency>`` if it does not exist."""
    return ensure_topics(bus, {topics.agency_alerts(agency): AGENCY_TOPIC})
