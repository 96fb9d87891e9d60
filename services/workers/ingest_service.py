"""Ingest as a service: bytes from integrators → observations on ``mfc.obs``.

Every line gets a verdict.  Accepted observations are published before the
verdict is returned; rejected lines go to ``mfc.deadletter`` with their reason,
so nothing is dropped silently and one bad line never costs its neighbours.

Bounded: a request holds at most ``max_lines`` lines (``TooManyLines`` beyond);
a line longer than ``max_line_bytes`` is rejected without being parsed, and it
is echoed and dead-lettered cut to that length; a verdict lists at most
``max_echoed_rejects`` rejects and counts the rest (``rejects_truncated``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

from fusion.config import TrackerConfig
from fusion.model import Observation, Sensor
from ingest.ais import AisDecoder
from ingest.asterix import decode_asterix
from ingest.errors import IngestError
from ingest.radar import decode_radar_line
from services.bus import topics
from services.bus.core import Bus

MAX_FUTURE_S = 300.0  # a live report this far ahead of its receipt is a clock fault
DELIVERY_TIMEOUT_S = 10.0  # how long an HTTP ingest waits for the bus to acknowledge its lines
MAX_LINES = 100_000  # lines in one request
MAX_LINE_BYTES = 4096  # one line, UTF-8; NMEA sentences are at most 82 characters, tag blocks add a few dozen
MAX_ECHOED_REJECTS = 1000  # rejects listed in one verdict; the rest are only counted
MAX_WARNINGS_LISTED = 100  # warnings listed in one reply (all are counted)


class BusUnavailable(RuntimeError):
    """The bus refused or did not acknowledge published records in time.

    The lines of the request must not be reported as accepted: the API answers 503 and the
    integrator sends them again (at-least-once; some may then arrive twice).
    """


class TooManyLines(ValueError):
    """A request with more lines than the service takes at once (the API answers 413)."""


@dataclass
class Verdict:
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # the first ``max_echoed`` rejects
    ignored: int = 0
    late: int = 0  # of the accepted: older than the live window at receipt (history, not the live picture)
    warned: int = 0  # lines accepted with a warning (the first MAX_WARNINGS_LISTED in ``warnings``)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0  # every reject, echoed or not
    rejected_earlier: int = 0  # of those, fragments held by an earlier line or request, then given up
    extra_sentences: int = 0  # sentences beyond the first on lines carrying several (each has an outcome)
    max_echoed: int = MAX_ECHOED_REJECTS
    outgoing: list[dict[str, Any]] = field(default_factory=list, repr=False)  # accepted, published in batches at the end

    @property
    def decided(self) -> int:
        """Outcomes of this request so far (accepted + rejected - rejected_earlier): one per line, one
        per sentence on a line with several."""
        return self.accepted + self.rejected_count - self.rejected_earlier

    def add_reject(self, item: dict[str, Any]) -> None:
        self.rejected_count += 1
        if len(self.rejected) < self.max_echoed:
            self.rejected.append(item)

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected_count, "ignored": self.ignored,
                "rejected_earlier": self.rejected_earlier, "rejects": self.rejected,
                "rejects_truncated": self.rejected_count > len(self.rejected), "late": self.late,
                "warned": self.warned, "warnings": self.warnings, "extra_sentences": self.extra_sentences}


class Gathered:
    """Observations accepted inside :meth:`IngestService.batching`, not yet handed to the bus.
    Used by one thread (the one in the block)."""

    def __init__(self, publish: Callable[[list[dict[str, Any]]], None]) -> None:
        self._publish = publish
        self.values: list[dict[str, Any]] = []
        self.since: float | None = None  # time.monotonic() when the first of them was gathered

    def extend(self, values: list[dict[str, Any]]) -> None:
        if values and not self.values:
            self.since = time.monotonic()
        self.values.extend(values)

    def __len__(self) -> int:
        return len(self.values)

    def publish(self) -> None:
        """Hand what is gathered to the bus now, as ``mfc.obs`` batches; ``BusUnavailable`` if
        the bus refuses them (they are then given up, not kept for another try)."""
        values, self.values, self.since = self.values, [], None
        if values:
            self._publish(values)


class IngestService:
    def __init__(self, bus: Bus, sensors: dict[str, Sensor], clock: Callable[[], float],
                 max_lines: int = MAX_LINES, max_line_bytes: int = MAX_LINE_BYTES,
                 max_echoed_rejects: int = MAX_ECHOED_REJECTS,
                 late_window_s: float = TrackerConfig().late_window_s,
                 max_future_s: float | None = MAX_FUTURE_S) -> None:
        self.bus = bus
        self.max_future_s = max_future_s  # None: the feed's time is trusted (a feed-clock system)
        self.sensors = sensors
        self.clock = clock
        self.max_lines, self.max_line_bytes = max_lines, max_line_bytes
        self.max_echoed_rejects = max_echoed_rejects
        self.late_window_s = late_window_s  # the fusion's live window: older observations are counted late
        self._decoders: dict[str, AisDecoder] = {}
        # per sensor, what this process's ingest saw: counts, last receipt, last reject reason
        self.health: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()  # per thread: the futures of records not yet delivered
        self._flush_takes_timeout = "timeout_s" in inspect.signature(bus.flush).parameters

    def deliver(self, timeout_s: float = DELIVERY_TIMEOUT_S) -> None:
        """Wait until everything this thread published so far is acknowledged by the bus.

        Call before answering 202 (in the thread that ingested): raises ``BusUnavailable`` if
        the bus failed or timed out.  Each request waits for its own records, so one request
        cannot take (and hide) another's delivery error.
        """
        pending, self._local.pending = self._pending(), []
        try:
            if pending:
                deadline = time.monotonic() + timeout_s
                for future in pending:
                    future.get(timeout=max(0.0, deadline - time.monotonic()))
            elif self._flush_takes_timeout:
                self.bus.flush(timeout_s=timeout_s)  # type: ignore[call-arg]
            else:
                self.bus.flush()
        except Exception as exc:  # KafkaTimeoutError, a delivery error, ...
            raise BusUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _pending(self) -> list:
        pending = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = []
        return pending

    def _publish(self, topic: str, key: str | None, value: dict[str, Any]) -> None:
        try:
            future = self.bus.publish(topic, key, value)
        except Exception as exc:  # e.g. no metadata from the broker within max_block_ms
            raise BusUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if future is not None and hasattr(future, "get"):
            pending = self._pending()
            pending.append(future)
            if len(pending) > 50_000:  # a caller that never calls deliver() (socket listeners)
                pending[:] = [f for f in pending if not f.is_done or f.failed()][-50_000:]

    def _health(self, sensor_id: str) -> dict[str, Any]:
        h = self.health.get(sensor_id)
        if h is None:
            h = self.health[sensor_id] = {"accepted": 0, "rejected": 0, "late": 0, "last_receipt_s": None,
                                          "last_observation_s": None, "last_reject": None,
                                          "warnings": 0, "last_warning": None,
                                          "range_exceeded": 0, "farthest_range_m": None,
                                          "datagrams": 0, "datagrams_rejected": 0}
        return h

    def forget_sensor(self, sensor_id: str) -> None:
        """A sensor was unregistered: drop its decoder and health."""
        with self._lock:
            self._decoders.pop(sensor_id, None)
            self.health.pop(sensor_id, None)

    def lines(self, text: str) -> list[str]:
        """The lines of a request; ``TooManyLines`` over ``max_lines``."""
        if text.count("\n") > self.max_lines:  # cheap first look, before making the list
            raise TooManyLines(f"more than {self.max_lines} lines in one request, the limit; split it")
        lines = text.splitlines()
        if len(lines) > self.max_lines:
            raise TooManyLines(f"{len(lines)} lines in one request, the limit is {self.max_lines}; split it")
        return lines

    def _overlong(self, line: str) -> str | None:
        """The reject reason for a line over ``max_line_bytes``, else None (cheap for short lines)."""
        if len(line) * 4 <= self.max_line_bytes:
            return None
        size = len(line.encode("utf-8", errors="replace"))
        if size <= self.max_line_bytes:
            return None
        return f"line of {size} bytes is over the {self.max_line_bytes}-byte limit; not parsed"

    def _warn(self, verdict: Verdict, no: int, line: str, reason: str, sensor_id: str) -> None:
        """A line accepted despite a fault the field tolerates: counted, listed (bounded)."""
        verdict.warned += 1
        if len(verdict.warnings) < MAX_WARNINGS_LISTED:
            verdict.warnings.append({"line_no": no, "line": line, "reason": reason})
        if sensor_id in self.sensors:
            h = self._health(sensor_id)
            h["warnings"] += 1
            h["last_warning"] = reason

    def ingest_ais(self, text: str, sensor_id: str, receipt_time_s: float | None = None) -> Verdict:
        verdict = Verdict(max_echoed=self.max_echoed_rejects)
        lines = self.lines(text)
        if sensor_id not in self.sensors:
            for no, line in enumerate(lines, start=1):
                if line.strip():
                    self._reject(verdict, no, line, f"unknown sensor {sensor_id!r}: register it first", sensor_id)
                else:
                    verdict.ignored += 1
            return verdict
        now = self.clock() if receipt_time_s is None else receipt_time_s
        with self._lock:
            decoder = self._decoders.setdefault(
                sensor_id, AisDecoder(sensor_id=sensor_id, live=True, sensors=self.sensors))
            for no, line in enumerate(lines, start=1):
                too_long = self._overlong(line)
                if too_long is not None:
                    self._reject(verdict, no, line, too_long, sensor_id)
                    continue
                decided = verdict.decided
                observations, rejects = decoder.feed(line, line_no=no, receipt_time_s=now)
                for r in rejects:
                    self._reject(verdict, r.line_no, r.line, r.reason, sensor_id)
                    if r.line is not line:  # a fragment held earlier and now given up
                        verdict.rejected_earlier += 1
                for w in decoder.take_warnings():
                    self._warn(verdict, w.line_no, w.line, w.reason, sensor_id)
                self._accept(verdict, observations, no, line, now, sensor_id)
                sentences = max(1, decoder.last_sentences)
                verdict.extra_sentences += sentences - 1  # several sentences on the line: one outcome each
                if verdict.decided - decided < sentences:  # blank, comment, unused type, or a fragment held
                    verdict.ignored += sentences - (verdict.decided - decided)
            return self._sent(verdict)  # under the lock: a sensor's batches go in the order its lines came

    def ingest_radar(self, text: str, allowed: Callable[[str], bool] | None = None,
                     receipt_time_s: float | None = None) -> Verdict:
        verdict = Verdict(max_echoed=self.max_echoed_rejects)
        now = self.clock() if receipt_time_s is None else receipt_time_s
        for no, line in enumerate(self.lines(text), start=1):
            if not line.strip():
                verdict.ignored += 1
                continue
            too_long = self._overlong(line)
            if too_long is not None:
                self._reject(verdict, no, line, too_long, "radar")
                continue
            notes: list[str] = []
            try:
                obs = decode_radar_line(line, self.sensors, notes)
            except IngestError as exc:
                self._reject(verdict, no, line, exc.reason, "radar", _radar_sensor_of(line))
                continue
            if allowed is not None and not allowed(obs.sensor_id):
                self._reject(verdict, no, line, f"this key may not write for sensor {obs.sensor_id!r}", "radar")
                continue
            obs.receive_time_s = now
            for note in notes:
                self._warn(verdict, no, line, note, obs.sensor_id)
                self._range_exceeded(obs.sensor_id, line)
            self._accept(verdict, [obs], no, line, now, obs.sensor_id)
        return self._sent(verdict)

    def ingest_asterix(self, data: bytes, sensor_id: str, receipt_time_s: float | None = None) -> Verdict:
        """ASTERIX datablocks (CAT010/CAT048) from one radar: each target report an observation,
        each refused block or report a reject (``line_no`` 0, ``line`` the datagram's first
        bytes in hex, the reason naming the record)."""
        verdict = Verdict(max_echoed=self.max_echoed_rejects)
        sensor = self.sensors.get(sensor_id)
        head = data[:64].hex()
        if sensor is None or sensor.kind != "radar":
            self._reject(verdict, 0, head, f"unknown radar {sensor_id!r}: register it first", sensor_id)
            return verdict
        now = self.clock() if receipt_time_s is None else receipt_time_s
        observations, problems = decode_asterix(data, sensor, now)
        for reason in problems:
            self._reject(verdict, 0, head, reason, sensor_id)
        self._accept(verdict, observations, 0, head, now, sensor_id)
        if not observations and not problems:
            verdict.ignored += 1  # service messages only (CAT034 north marker, sector crossing)
        return self._sent(verdict)

    def ingest_datagram(self, data: bytes, sensor_id: str, max_bytes: int,
                        receipt_time_s: float | None = None) -> Verdict:
        """One ASTERIX UDP datagram from the radar its source address is mapped to: the verdict of
        :meth:`ingest_asterix`, and the datagram counted in the radar's health (``datagrams``;
        ``datagrams_rejected`` when none of its reports was accepted).  A datagram over
        ``max_bytes`` (the listener reads one byte more to tell) is rejected undecoded."""
        if len(data) > max_bytes:
            verdict = Verdict(max_echoed=self.max_echoed_rejects)
            self._reject(verdict, 0, data[:64].hex(), f"datagram of more than {max_bytes} bytes is over the "
                         f"{max_bytes}-byte limit (MFC_ASTERIX_MAX_DATAGRAM_BYTES); not decoded", sensor_id)
        else:
            verdict = self.ingest_asterix(data, sensor_id, receipt_time_s)
        if sensor_id in self.sensors:
            with self._lock:
                h = self._health(sensor_id)
                h["datagrams"] = h.get("datagrams", 0) + 1
                if verdict.accepted == 0 and verdict.rejected_count > 0:
                    h["datagrams_rejected"] = h.get("datagrams_rejected", 0) + 1
        return verdict

    def _range_exceeded(self, sensor_id: str, line: str) -> None:
        """A radar's plot beyond its registered range: its health says so (count, farthest)."""
        h = self._health(sensor_id)
        h["range_exceeded"] += 1
        range_m = json.loads(line).get("range_m")
        if isinstance(range_m, (int, float)):
            h["farthest_range_m"] = max(h.get("farthest_range_m") or 0.0, float(range_m))

    def publish(self, observations: list[Observation]) -> None:
        """Publish already-decoded observations (the demo's replayer)."""
        self._publish_observations([obs.to_dict() for obs in observations])

    def _publish_observations(self, values: list[dict[str, Any]]) -> None:
        """Observations to ``mfc.obs`` in batches (``topics.obs_batches``): one record per sensor
        and at most ``topics.OBS_BATCH`` observations, so the bus's cost is paid per batch."""
        for key, value in topics.obs_batches(values):
            self._publish(topics.OBS, key, value)

    def _sent(self, verdict: Verdict) -> Verdict:
        """The verdict, once its accepted observations are handed to the bus (inside
        :meth:`batching`: to the batch it publishes at its end)."""
        values, verdict.outgoing = verdict.outgoing, []
        gathering = getattr(self._local, "gathering", None)
        if gathering is not None:
            gathering.extend(values)
        elif values:
            self._publish_observations(values)
        return verdict

    @contextlib.contextmanager
    def batching(self) -> Iterator["Gathered"]:
        """Calls in this thread within the block publish their observations together at its
        end (a poll of the raw topics: one ``mfc.obs`` batch per sensor, not one per line).

        The block gets the :class:`Gathered` observations, which it may publish before the end
        (``gathered.publish()``: an NMEA connection's batch when full or due).  If the block
        raises, what is still gathered is not published (the caller decides)."""
        outer = getattr(self._local, "gathering", None)
        if outer is not None:
            yield outer  # nested: the outer block publishes
            return
        self._local.gathering = gathered = Gathered(self._publish_observations)
        try:
            yield gathered
        finally:
            self._local.gathering = None
        gathered.publish()

    def _accept(self, verdict: Verdict, observations: list[Observation], no: int, line: str,
                now: float, source: str) -> None:
        for obs in observations:
            if self.max_future_s is not None and obs.time_s > now + self.max_future_s:
                self._reject(verdict, no, line, f"time is {obs.time_s - now:.0f} s ahead of receipt "
                             f"(clock fault?)", source)
                continue
            verdict.outgoing.append(obs.to_dict())
            verdict.accepted += 1
            h = self._health(obs.sensor_id)
            h["accepted"] += 1
            if obs.time_s < now - self.late_window_s:
                verdict.late += 1
                h["late"] = h.get("late", 0) + 1
            h["last_receipt_s"] = now
            h["last_observation_s"] = max(h["last_observation_s"] or obs.time_s, obs.time_s)

    def _reject(self, verdict: Verdict, no: int, line: str, reason: str, source: str,
                sensor_id: str | None = None) -> None:
        item = {"line_no": no, "line": self._cut(line), "reason": reason}
        verdict.add_reject(item)
        sensor_id = sensor_id or source
        if sensor_id in self.sensors:
            h = self._health(sensor_id)
            h["rejected"] += 1
            h["last_reject"] = reason
        self._publish(topics.DEADLETTER, source, {**item, "source": source, "received": self.clock()})


    def refuse(self, source: str, line: str, reason: str) -> None:
        """Dead-letter a line refused before decoding (e.g. an overlong socket line)."""
        self._reject(Verdict(max_echoed=0), 0, line, reason, source)

    def _cut(self, line: str) -> str:
        """A line as echoed and dead-lettered: at most ``max_line_bytes`` of it."""
        if len(line) * 4 <= self.max_line_bytes:
            return line
        return line.encode("utf-8", errors="replace")[:self.max_line_bytes].decode("utf-8", errors="ignore")


def _radar_sensor_of(line: str) -> str | None:
    """The sensor a rejected radar line names, if it is JSON enough to tell (for its health)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    sensor_id = value.get("sensor_id") if isinstance(value, dict) else None
    return sensor_id if isinstance(sensor_id, str) else None
