"""Long-running loops: fusion (mfc.obs → tracks) and store (tracks/alerts → database).

Each loop polls a batch, handles it fully, publishes, then commits its offset
(at-least-once; the effects are idempotent).  A bad record goes to the
dead-letter topic with its reason and the loop goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from fusion.model import Observation
from fusion.pipeline import Fusion

from . import topics
from .broadcast import Broadcaster
from .bus import Bus
from .checkpoint import Checkpoint
from .store import Store

log = logging.getLogger("mfc.workers")


class Worker(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()
        self.handled = 0

    def stop(self) -> None:
        self.stopping.set()


class FusionWorker(Worker):
    """Runs tracker and rules over ``mfc.obs``, publishing ``mfc.tracks`` and ``mfc.alerts``.

    With a clock, live time passes between batches (tracks coast when a feed stops).
    With a checkpoint, the fusion state and the input offsets it covers are saved
    together every ``checkpoint_every_s`` and at stop, and only then are the offsets
    committed; after a crash the worker reloads the state and skips records the
    state already holds, so a replay makes no second track or alert.
    """

    def __init__(self, bus: Bus, fusion: Fusion, clock: Callable[[], float] | None = None,
                 group: str = "fusion", checkpoint: Checkpoint | None = None,
                 checkpoint_every_s: float = 10.0) -> None:
        super().__init__("fusion")
        self.bus, self.clock, self.checkpoint = bus, clock, checkpoint
        self.fusion = fusion
        self.covered: dict[int, int] = {}  # partition → next offset the state holds
        if checkpoint is not None:
            saved = checkpoint.load()
            if saved is not None:
                self.fusion, self.covered = saved
        self.every_s = checkpoint_every_s
        self.consumer = bus.consumer(topics.OBS, group)
        self._controls: queue.SimpleQueue[Callable[[Fusion], object]] = queue.SimpleQueue()

    def control(self, action: Callable[[Fusion], object], wait_s: float = 5.0) -> bool:
        """Run ``action(fusion)`` on the fusion thread between two batches (e.g. add a zone).

        Waits until it ran (at most ``wait_s``) so that a caller can promise it applies to
        every observation published afterwards; False if the worker did not get to it in time.
        """
        done = threading.Event()

        def run(fusion: Fusion) -> None:
            try:
                action(fusion)
            finally:
                done.set()

        self._controls.put(run)
        if not self.is_alive():
            return False
        return done.wait(wait_s)

    def run(self) -> None:
        last_tick = last_save = time.monotonic()
        try:
            while not self.stopping.is_set():
                while not self._controls.empty():
                    self._controls.get()(self.fusion)
                records = self.consumer.poll(timeout_s=0.2, max_records=5000)
                lines, alerts = self.fusion.update(self._observations(records))
                if self.clock is not None and time.monotonic() - last_tick >= 1.0:
                    last_tick = time.monotonic()
                    more_lines, more_alerts = self.fusion.advance(self.clock())
                    lines, alerts = lines + more_lines, alerts + more_alerts
                self._publish(lines, alerts)
                self.handled += len(records)
                if self.checkpoint is None:
                    if records:
                        self.consumer.commit()
                elif time.monotonic() - last_save >= self.every_s:
                    self._save()
                    last_save = time.monotonic()
        finally:
            if self.checkpoint is not None:
                self._save()
            self.consumer.close()

    def _observations(self, records: list) -> list[Observation]:
        observations = []
        for rec in records:
            if rec.offset < self.covered.get(rec.partition, 0):
                continue  # already inside the checkpointed state
            self.covered[rec.partition] = rec.offset + 1
            try:
                observations.append(Observation.from_dict(rec.value))
            except (TypeError, ValueError) as exc:
                self.bus.publish(topics.DEADLETTER, "fusion", {
                    "topic": rec.topic, "partition": rec.partition, "offset": rec.offset,
                    "value": rec.value, "reason": f"not an observation: {exc}"})
        observations.sort(key=lambda o: o.time_s)
        return observations

    def _publish(self, lines: list, alerts: list) -> None:
        for line in lines:
            self.bus.publish(topics.TRACKS, line.track_id, line.to_dict())
        for alert in alerts:
            self.bus.publish(topics.ALERTS, alert.alert_id, alert.to_dict())
        if lines or alerts:
            self.bus.flush()

    def _save(self) -> None:
        assert self.checkpoint is not None
        self.bus.flush()
        self.checkpoint.save(self.fusion, self.covered)
        self.consumer.commit()


class StoreWorker(Worker):
    """Writes track lines and alerts into the store."""

    def __init__(self, bus: Bus, store: Store, group: str = "store", keep_history_s: float = 86_400.0,
                 clock: Callable[[], float] = time.time, broadcaster: Broadcaster | None = None) -> None:
        super().__init__("store")
        self.bus, self.store, self.broadcaster = bus, store, broadcaster
        self.keep_history_s, self.clock = keep_history_s, clock
        self._pruned = 0.0
        self.tracks = bus.consumer(topics.TRACKS, f"{group}-tracks")  # one group per topic
        self.alerts = bus.consumer(topics.ALERTS, f"{group}-alerts")

    def run(self) -> None:
        while not self.stopping.is_set():
            t_recs = self.tracks.poll(timeout_s=0.2, max_records=5000)
            a_recs = self.alerts.poll(timeout_s=0.05, max_records=1000)  # Kafka needs time in poll to join
            while not self._write(t_recs, a_recs):
                if self.stopping.wait(1.0):
                    return
            if self.broadcaster is not None:
                self.broadcaster.publish("track", [r.value for r in t_recs])
                self.broadcaster.publish("alert", [r.value for r in a_recs])
            if t_recs:
                self.tracks.commit()
            if a_recs:
                self.alerts.commit()
            self.handled += len(t_recs) + len(a_recs)
            if time.monotonic() - self._pruned > 600:
                self._pruned = time.monotonic()
                self._write_safely(lambda: self.store.prune_history(self.clock() - self.keep_history_s))

    def _write(self, t_recs: list, a_recs: list) -> bool:
        return self._write_safely(lambda: (self.store.write_tracks(r.value for r in t_recs),
                                           self.store.write_alerts(r.value for r in a_recs)))

    def _write_safely(self, action: Callable[[], object]) -> bool:
        try:
            action()
            return True
        except Exception as exc:  # a store fault must not kill the loop: the caller retries
            log.error("store write failed, will retry: %s", exc)
            return False
