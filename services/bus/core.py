"""The bus: topics of keyed JSON records, consumer groups with committed offsets.

Two backends share this interface: ``EmbeddedBus`` (in process, the default)
and the Kafka backend.  Both give at-least-once delivery: a consumer sees a
record again until its group commits past it.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time as _time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: str | None
    value: dict[str, Any]
    offset: int
    partition: int = 0


class Consumer(Protocol):
    def poll(self, timeout_s: float = 0.5, max_records: int = 1000) -> list[Record]: ...
    def commit(self, upto: dict[int, int] | None = None) -> None: ...
    def partitions(self) -> set[int] | None: ...  # owned now (None: not assigned yet)
    def committed_offsets(self) -> dict[int, int]: ...
    def close(self) -> None: ...


class Bus(Protocol):
    def publish(self, topic: str, key: str | None, value: dict[str, Any]) -> None: ...
    def flush(self) -> None: ...
    def consumer(self, topic: str, group: str, single_owner: bool = False) -> Consumer: ...
    def close(self) -> None: ...


def encode(value: dict[str, Any]) -> bytes:
    """Compact JSON in UTF-8: orjson (a tenth of the standard library's time, paid on every record
    through Kafka), the standard library for what orjson refuses (an integer beyond 64 bits).
    A non-finite float, which JSON cannot carry, is written as null."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Log:
    """One topic: its records in offset order.  ``offsets[i]`` is the offset of ``records[i]``;
    they are consecutive until a compaction takes out superseded records."""

    def __init__(self, retain: int, compacted: bool = False) -> None:
        self.records: list[tuple[str | None, dict[str, Any]]] = []
        self.offsets: list[int] = []
        self.base = 0  # offset of records[0]
        self.next = 0  # offset of the next record appended
        self.retain = retain
        self.compacted = compacted  # a topic of states by key: only the latest per key matters once read
        self.compacted_to = 0  # offsets below this are compacted already
        self.groups: set[str] = set()  # consumer groups that read this topic

    def append(self, key: str | None, value: dict[str, Any]) -> None:
        self.records.append((key, value))
        self.offsets.append(self.next)
        self.next += 1
        if len(self.records) > self.retain * 2:
            self.drop_before(self.offsets[len(self.records) - self.retain])

    def index(self, offset: int) -> int:
        """Position in ``records`` of the first record at or after ``offset``."""
        return bisect.bisect_left(self.offsets, offset)

    def drop_before(self, offset: int) -> None:
        drop = self.index(offset)
        if drop > 0:
            del self.records[:drop]
            del self.offsets[:drop]
        self.base = max(self.base, offset)

    def compact_before(self, offset: int) -> None:
        """Drop records below ``offset`` that a later record with the same key supersedes
        (as Kafka's log compaction does); records without a key stay."""
        end = self.index(offset)
        latest: dict[str, int] = {}
        for i, (key, _) in enumerate(self.records):
            if key is not None:
                latest[key] = i
        keep = [i for i in range(end) if self.records[i][0] is None or latest[self.records[i][0]] == i]
        if len(keep) < end:
            self.records[:end] = [self.records[i] for i in keep]
            self.offsets[:end] = [self.offsets[i] for i in keep]
        self.compacted_to = offset


class EmbeddedBus:
    """In-process topics: append-only logs with per-group committed offsets.

    Memory is bounded: a topic keeps at most ``retain`` records (twice that before a trim),
    or its own number from ``retain_by_topic`` (e.g. the dead letters, which nothing in one
    process reads); records every group reading the topic has committed are dropped but for
    the last ``keep_read`` (a group that joins later reads those).

    Topics of states by key (``compacted``: a topic name, or a prefix ending in ``.``, e.g.
    track lines and alerts, where each record is the whole current state of its track or
    alert) are also compacted as Kafka compacts them: once every group has read a record
    (or, on a topic no group reads, once ``compact_every`` newer records came; in batches) it is dropped
    if a later record has the same key.  A grouped zone alert re-sent with its full list of
    vessels at every entry otherwise kept ``keep_read`` near-copies of itself in memory.
    """

    def __init__(self, retain: int = 2_000_000, keep_read: int = 10_000,
                 retain_by_topic: dict[str, int] | None = None,
                 compacted: tuple[str, ...] = (), compact_every: int = 64) -> None:
        self._logs: dict[str, _Log] = {}
        self._compacted, self._compact_every = compacted, compact_every
        self._committed: dict[tuple[str, str], int] = {}
        self._cond = threading.Condition()
        self._retain, self._keep_read = retain, keep_read
        self._retain_by_topic = dict(retain_by_topic or {})
        self._closed = False

    def _log(self, topic: str) -> _Log:
        log = self._logs.get(topic)
        if log is None:
            compacted = any(topic == c or (c.endswith(".") and topic.startswith(c)) for c in self._compacted)
            log = self._logs[topic] = _Log(self._retain_by_topic.get(topic, self._retain), compacted)
        return log

    def _compact(self, log: _Log, read: int | None) -> None:
        """Compact what every group has read (``read``; None: no group, everything but the
        last ``compact_every``) once at least ``compact_every`` new records and a quarter of
        the records held have come since the last time (linear cost, amortised)."""
        upto = log.next - self._compact_every if read is None else read
        if log.compacted and upto - log.compacted_to >= max(self._compact_every, len(log.records) // 4):
            log.compact_before(upto)

    def publish(self, topic: str, key: str | None, value: dict[str, Any]) -> None:
        with self._cond:
            log = self._log(topic)
            log.append(key, value)
            if not log.groups:
                self._compact(log, None)
            self._cond.notify_all()

    def publish_many(self, topic: str, items: list[tuple[str | None, dict[str, Any]]]) -> None:
        with self._cond:
            log = self._log(topic)
            for key, value in items:
                log.append(key, value)
            if not log.groups:
                self._compact(log, None)
            self._cond.notify_all()

    def flush(self) -> None:
        pass

    def end_offset(self, topic: str) -> int:
        with self._cond:
            log = self._logs.get(topic)
            return 0 if log is None else log.next

    def consumer(self, topic: str, group: str, single_owner: bool = False) -> "EmbeddedConsumer":
        """A consumer of ``topic`` in ``group``; ``single_owner`` changes nothing here: the embedded
        bus lives in one process, whose one consumer of a group owns the whole topic."""
        with self._cond:
            self._log(topic).groups.add(group)
        return EmbeddedConsumer(self, topic, group)

    def _committed_to(self, topic: str, group: str, offset: int) -> None:
        """A group committed: drop what every group of the topic has read (in chunks)."""
        self._committed[(topic, group)] = offset
        log = self._logs.get(topic)
        if log is None or not log.groups:
            return
        read = min(self._committed.get((topic, g), 0) for g in log.groups)
        self._compact(log, read)
        held = len(log.records) - (log.next - read)  # read records still held
        if held >= 2 * self._keep_read:
            log.drop_before(log.offsets[held - self._keep_read])

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _read(self, topic: str, start: int, timeout_s: float, max_records: int) -> list[Record]:
        with self._cond:
            log = self._logs.get(topic)
            if (log is None or log.next <= start) and not self._closed:
                self._cond.wait(timeout_s)
                log = self._logs.get(topic)
            if log is None:
                return []
            i = log.index(start)
            return [Record(topic, k, v, o) for (k, v), o in
                    zip(log.records[i:i + max_records], log.offsets[i:i + max_records])]


class EmbeddedConsumer:
    def __init__(self, bus: EmbeddedBus, topic: str, group: str) -> None:
        self._bus, self._topic, self._group = bus, topic, group
        self._position = bus._committed.get((topic, group), 0)

    def poll(self, timeout_s: float = 0.5, max_records: int = 1000) -> list[Record]:
        records = self._bus._read(self._topic, self._position, timeout_s, max_records)
        if records:
            self._position = records[-1].offset + 1
        return records

    def commit(self, upto: dict[int, int] | None = None) -> None:
        """Commit what the polls returned, or with ``upto`` (partition → next offset) that far."""
        with self._bus._cond:
            offset = self._position if upto is None else upto.get(
                0, self._bus._committed.get((self._topic, self._group), 0))
            self._bus._committed_to(self._topic, self._group, offset)

    def lag(self) -> int:
        """Records on the topic this consumer has not polled yet."""
        return max(0, self._bus.end_offset(self._topic) - self._position)

    def lags(self) -> dict[int, int]:
        """``lag`` per partition (the embedded bus has one)."""
        return {0: self.lag()}

    def partitions(self) -> set[int]:
        """The partitions this consumer owns: the one partition (one consumer per group here)."""
        return {0}

    def committed_offsets(self) -> dict[int, int]:
        """The group's committed offset of the one partition, if it committed."""
        with self._bus._cond:
            committed = self._bus._committed.get((self._topic, self._group))
        return {} if committed is None else {0: committed}

    def close(self) -> None:
        pass


DEADLETTER_RETAIN = 10_000  # dead letters the embedded bus keeps (nothing in one process reads them)


def make_bus(url: str, prefix: str = "") -> Bus:
    """The bus for ``MFC_BUS``; ``prefix`` (``MFC_KAFKA_PREFIX``) goes before Kafka topic and group names."""
    if url == "embedded":
        from services.bus import topics
        return EmbeddedBus(retain_by_topic={topics.DEADLETTER: DEADLETTER_RETAIN},
                           compacted=COMPACTED_TOPICS)
    if url.startswith("kafka://"):
        from services.bus.kafka_bus import KafkaBus  # imported only when used
        return KafkaBus(url[len("kafka://"):], prefix=prefix)
    raise ValueError(f"unknown bus {url!r}")


def _compacted_topics() -> tuple[str, ...]:
    from services.bus import topics
    return (topics.TRACKS, topics.ALERTS, topics.SENSORS, topics.ZONES, topics.agency_alerts(""))


COMPACTED_TOPICS = _compacted_topics()  # states by key: the latest record per key is the state


def consumer_waiting_for_broker(bus: Bus, topic: str, group: str, max_wait_s: float = 30.0, **kw: Any):
    """``bus.consumer(topic, group)``, waiting for the broker while it cannot be reached (a service
    started during a broker outage waits for it instead of dying): retried with backoff up to
    ``max_wait_s`` between tries, each failure logged."""
    wait = 1.0
    while True:
        try:
            return bus.consumer(topic, group, **kw)
        except Exception as exc:  # noqa: BLE001 - only the broker's own errors are waited out
            if not type(exc).__module__.startswith("kafka"):
                raise
            logging.getLogger("mfc.bus").warning("%s: the broker cannot be reached (%s); trying again in %.0f s",
                                                 topic, exc, wait)
            _time.sleep(wait)
            wait = min(wait * 2.0, max_wait_s)
