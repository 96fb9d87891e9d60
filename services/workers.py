"""Long-running loops: fusion (mfc.obs → tracks) and store (tracks/alerts → database).

Each loop polls a batch, handles it fully, publishes, then commits its offset
(at-least-once; the effects are idempotent).  A bad record goes to the
dead-letter topic with its reason and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from fusion.model import Observation
from fusion.tracker import Tracker

from . import topics
from .bus import Bus
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
    """Runs the tracker over ``mfc.obs``; with a clock, lets live time pass between batches."""

    def __init__(self, bus: Bus, tracker: Tracker, clock: Callable[[], float] | None = None,
                 group: str = "fusion") -> None:
        super().__init__("fusion")
        self.bus, self.tracker, self.clock = bus, tracker, clock
        self.consumer = bus.consumer(topics.OBS, group)

    def run(self) -> None:
        last_tick = 0.0
        while not self.stopping.is_set():
            records = self.consumer.poll(timeout_s=0.2, max_records=5000)
            observations = []
            for rec in records:
                try:
                    observations.append(Observation.from_dict(rec.value))
                except (TypeError, ValueError) as exc:
                    self.bus.publish(topics.DEADLETTER, "fusion", {
                        "topic": rec.topic, "offset": rec.offset, "value": rec.value,
                        "reason": f"not an observation: {exc}"})
            observations.sort(key=lambda o: o.time_s)
            lines = self.tracker.update(observations)
            if self.clock is not None and time.monotonic() - last_tick >= 1.0:
                last_tick = time.monotonic()
                lines += self.tracker.advance(self.clock())
            for line in lines:
                value = line.to_dict()
                self.bus.publish(topics.TRACKS, line.track_id, value)
            if records:
                self.bus.flush()
                self.consumer.commit()
                self.handled += len(records)


class StoreWorker(Worker):
    """Writes track lines and alerts into the store."""

    def __init__(self, bus: Bus, store: Store, group: str = "store") -> None:
        super().__init__("store")
        self.bus, self.store = bus, store
        self.tracks = bus.consumer(topics.TRACKS, group)
        self.alerts = bus.consumer(topics.ALERTS, group)

    def run(self) -> None:
        while not self.stopping.is_set():
            t_recs = self.tracks.poll(timeout_s=0.2, max_records=5000)
            a_recs = self.alerts.poll(timeout_s=0.0, max_records=1000)
            while not self._write(t_recs, a_recs):
                if self.stopping.wait(1.0):
                    return
            if t_recs:
                self.tracks.commit()
            if a_recs:
                self.alerts.commit()
            self.handled += len(t_recs) + len(a_recs)

    def _write(self, t_recs: list, a_recs: list) -> bool:
        try:
            self.store.write_tracks(r.value for r in t_recs)
            self.store.write_alerts(r.value for r in a_recs)
            return True
        except Exception as exc:  # a store fault must not kill the loop: retry the same batch
            log.error("store write failed, will retry: %s", exc)
            return False
