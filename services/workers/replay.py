"""The demo's feeder: recorded feeds replayed at X times real time, rebased to now.

Files are decoded with the ingest decoders, every time is shifted so the feed
starts at the moment the replay starts, and observations are published to
``mfc.obs`` when the (scaled) clock reaches them.  With ``loop`` the feed
starts again, rebased again, when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from fusion.model import Observation, Sensor
from services.workers.fuse import load_observations
from services.workers.ingest_service import IngestService

log = logging.getLogger("mfc.replay")


class ScaledClock:
    """Wall-clock time running ``speed`` times faster from the moment it is made."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._wall0 = time.time()

    def __call__(self) -> float:
        return self._wall0 + (time.time() - self._wall0) * self.speed


class Replayer(threading.Thread):
    def __init__(self, paths: list[Path], sensors: dict[str, Sensor], ingest: IngestService,
                 clock: ScaledClock, loop: bool = True) -> None:
        super().__init__(name="replay", daemon=True)
        self.observations, rejects = load_observations(paths, sensors)
        self.rejects = len(rejects)
        self.ingest, self.clock, self.loop = ingest, clock, loop
        self.stopping = threading.Event()
        self.published = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        if not self.observations:
            return
        while not self.stopping.is_set():
            self._once()
            if not self.loop:
                return

    def _once(self) -> None:
        shift = self.clock() - self.observations[0].time_s
        i, n = 0, len(self.observations)
        while i < n and not self.stopping.is_set():
            feed_now = self.clock() - shift
            batch: list[Observation] = []
            while i < n and self.observations[i].time_s <= feed_now:
                src = self.observations[i]
                obs = Observation.from_dict(src.to_dict())
                obs.time_s = src.time_s + shift
                batch.append(obs)
                i += 1
            if batch:
                self.ingest.publish(batch)
                self.published += len(batch)
            self.stopping.wait(0.25)
