"""The bus: topics of keyed JSON records, consumer groups with committed offsets.

Two backends share this interface: ``EmbeddedBus`` (in process, the default)
and the Kafka backend.  Both give at-least-once delivery: a consumer sees a
record again until its group commits past it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol


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
    def close(self) -> None: ...


class Bus(Protocol):
    def publish(self, topic: str, key: str | None, value: dict[str, Any]) -> None: ...
    def flush(self) -> None: ...
    def consumer(self, topic: str, group: str) -> Consumer: ...
    def close(self) -> None: ...


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Log:
    def __init__(self, retain: int) -> None:
        self.records: list[tuple[str | None, dict[str, Any]]] = []
        self.base = 0  # offset of records[0]
        self.retain = retain
        self.groups: set[str] = set()  # consumer groups that read this topic

    def append(self, key: str | None, value: dict[str, Any]) -> None:
        self.records.append((key, value))
        if len(self.records) > self.retain * 2:
            self.drop_before(self.base + len(self.records) - self.retain)

    def drop_before(self, offset: int) -> None:
        drop = offset - self.base
        if drop > 0:
            del self.records[:drop]
            self.base += drop


class EmbeddedBus:
    """In-process topics: append-only logs with per-group committed offsets.

    Memory is bounded: a topic keeps at most ``retain`` records (twice that before a trim),
    or its own number from ``retain_by_topic`` (e.g. the dead letters, which nothing in one
    process reads); records every group reading the topic has committed are dropped but for
    the last ``keep_read`` (a group that joins later reads those).
    """

    def __init__(self, retain: int = 2_000_000, keep_read: int = 10_000,
                 retain_by_topic: dict[str, int] | None = None) -> None:
        self._logs: dict[str, _Log] = {}
        self._committed: dict[tuple[str, str], int] = {}
        self._cond = threading.Condition()
        self._retain, self._keep_read = retain, keep_read
        self._retain_by_topic = dict(retain_by_topic or {})
        self._closed = False

    def _log(self, topic: str) -> _Log:
        log = self._logs.get(topic)
        if log is None:
            log = self._logs[topic] = _Log(self._retain_by_topic.get(topic, self._retain))
        return log

    def publish(self, topic: str, key: str | None, value: dict[str, Any]) -> None:
        with self._cond:
            self._log(topic).append(key, value)
            self._cond.notify_all()

    def publish_many(self, topic: str, items: list[tuple[str | None, dict[str, Any]]]) -> None:
        with self._cond:
            log = self._log(topic)
            for key, value in items:
                log.append(key, value)
            self._cond.notify_all()

    def flush(self) -> None:
        pass

    def end_offset(self, topic: str) -> int:
        with self._cond:
            log = self._logs.get(topic)
            return 0 if log is None else log.base + len(log.records)

    def consumer(self, topic: str, group: str) -> "EmbeddedConsumer":
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
        if read - self._keep_read - log.base >= self._keep_read:
            log.drop_before(read - self._keep_read)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _read(self, topic: str, start: int, timeout_s: float, max_records: int) -> list[Record]:
        with self._cond:
            log = self._logs.get(topic)
            if (log is None or log.base + len(log.records) <= start) and not self._closed:
                self._cond.wait(timeout_s)
                log = self._logs.get(topic)
            if log is None:
                return []
            first = max(start, log.base)
            chunk = log.records[first - log.base:first - log.base + max_records]
            return [Record(topic, k, v, first + i) for i, (k, v) in enumerate(chunk)]


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

    def close(self) -> None:
        pass


DEADLETTER_RETAIN = 10_000  # dead letters the embedded bus keeps (nothing in one process reads them)


def make_bus(url: str, prefix: str = "") -> Bus:
    """The bus for ``MFC_BUS``; ``prefix`` (``MFC_KAFKA_PREFIX``) goes before Kafka topic and group names."""
    if url == "embedded":
        from . import topics
        return EmbeddedBus(retain_by_topic={topics.DEADLETTER: DEADLETTER_RETAIN})
    if url.startswith("kafka://"):
        from .kafka_bus import KafkaBus  # imported only when used
        return KafkaBus(url[len("kafka://"):], prefix=prefix)
    raise ValueError(f"unknown bus {url!r}")
