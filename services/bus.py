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

    def append(self, key: str | None, value: dict[str, Any]) -> None:
        self.records.append((key, value))
        if len(self.records) > self.retain * 2:
            drop = len(self.records) - self.retain
            del self.records[:drop]
            self.base += drop


class EmbeddedBus:
    """In-process topics: append-only logs with per-group committed offsets."""

    def __init__(self, retain: int = 2_000_000) -> None:
        self._logs: dict[str, _Log] = {}
        self._committed: dict[tuple[str, str], int] = {}
        self._cond = threading.Condition()
        self._retain = retain
        self._closed = False

    def publish(self, topic: str, key: str | None, value: dict[str, Any]) -> None:
        with self._cond:
            self._logs.setdefault(topic, _Log(self._retain)).append(key, value)
            self._cond.notify_all()

    def publish_many(self, topic: str, items: list[tuple[str | None, dict[str, Any]]]) -> None:
        with self._cond:
            log = self._logs.setdefault(topic, _Log(self._retain))
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
        return EmbeddedConsumer(self, topic, group)

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
            self._bus._committed[(self._topic, self._group)] = self._position if upto is None else upto.get(
                0, self._bus._committed.get((self._topic, self._group), 0))

    def lag(self) -> int:
        """Records on the topic this consumer has not polled yet."""
        return max(0, self._bus.end_offset(self._topic) - self._position)

    def lags(self) -> dict[int, int]:
        """``lag`` per partition (the embedded bus has one)."""
        return {0: self.lag()}

    def close(self) -> None:
        pass


def make_bus(url: str, prefix: str = "") -> Bus:
    """The bus for ``MFC_BUS``; ``prefix`` (``MFC_KAFKA_PREFIX``) goes before Kafka topic and group names."""
    if url == "embedded":
        return EmbeddedBus()
    if url.startswith("kafka://"):
        from .kafka_bus import KafkaBus  # imported only when used
        return KafkaBus(url[len("kafka://"):], prefix=prefix)
    raise ValueError(f"unknown bus {url!r}")
