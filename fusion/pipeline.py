"""Tracker and anomaly rules composed: observations in, track lines and alerts out.

This is what every process runs (``mfc fuse``, the demo, the fusion service):
the tracker takes a time-ordered batch, and the rules see the same
observations together with the track lines they caused.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import replace

from .config import TrackerConfig
from .model import Alert, Observation, Sensor, TrackLine
from .rules import Geography, RuleEngine, RulesConfig
from .tracker import Tracker


def _by_time(lines: list[TrackLine]) -> list[TrackLine]:
    return sorted(lines, key=lambda line: line.time_s)


class Fusion:
    def __init__(self, sensors: Mapping[str, Sensor], geography: Geography | None = None,
                 tracker_config: TrackerConfig | None = None, rules_config: RulesConfig | None = None) -> None:
        self.tracker = Tracker(sensors, tracker_config)
        self.rules = RuleEngine(geography or Geography(), rules_config)

    def update(self, observations: Sequence[Observation]) -> tuple[list[TrackLine], list[Alert]]:
        # a report sent again long after it was taken, stamped as new (replayed traffic), is
        # evidence for sensor_integrity, never a position: the tracker does not take it
        replayed = self.rules.replayed(observations)
        to_track: Sequence[Observation] = [o for o in observations if id(o) not in replayed] if replayed else observations
        to_track = self._retime(to_track)
        # a radar found misregistered against AIS: its plots reach the tracker corrected
        moved = self.rules.registered(to_track)
        if moved:
            to_track = [replace(o, lat=moved[id(o)][0], lon=moved[id(o)][1]) if id(o) in moved else o
                        for o in to_track]
        lines = self.tracker.update(to_track)
        return lines, self.rules.process(observations, _by_time(lines)) + self._conflicts()

    def _retime(self, observations: Sequence[Observation]) -> Sequence[Observation]:
        """Reports of a receiver whose clock was found wrong reach the tracker at the corrected
        time.  A clock found behind puts them later than the feed around them: they are held
        until the feed reaches their time (as they would have come had the clock been right)."""
        retimed = self.rules.retimed(observations)
        held = getattr(self, "_held", None)
        if not retimed and not held:
            return observations
        if held is None:
            held = self._held = []
        now = max((o.time_s for o in observations if id(o) not in retimed), default=None)
        out: list[Observation] = []
        for o in observations:
            t = retimed.get(id(o))
            if t is None:
                out.append(o)
            else:
                self._seq = getattr(self, "_seq", 0) + 1
                heapq.heappush(held, (t, self._seq, replace(o, time_s=t)))
        if now is not None:   # (a batch of held reports only: they wait for the feed)
            out += self._release(now)
        out.sort(key=lambda o: o.time_s)
        return out

    def _release(self, until_s: float | None) -> list[Observation]:
        """Held reports due by ``until_s`` (all of them when None)."""
        held = getattr(self, "_held", None)
        out: list[Observation] = []
        while held and (until_s is None or held[0][0] <= until_s):
            out.append(heapq.heappop(held)[2])
        return out

    def advance(self, time_s: float) -> tuple[list[TrackLine], list[Alert]]:
        due = self._release(time_s)
        early = self.tracker.update(due) if due else []
        lines = early + self.tracker.advance(time_s)
        alerts = self.rules.process((), _by_time(lines)) + self._conflicts() + self.rules.advance(time_s)
        return lines, alerts

    def flush(self, end: bool = False) -> tuple[list[TrackLine], list[Alert]]:
        """Process every buffered radar scan now; ``end``: the feed is over, so the reports held
        for a receiver's corrected clock go in too."""
        due = self._release(None) if end else []
        lines = (self.tracker.update(due) if due else []) + self.tracker.flush()
        return lines, self.rules.process((), _by_time(lines)) + self._conflicts()

    def _conflicts(self) -> list[Alert]:
        """AIS fixes the radar contradicted in this batch go to the rules (identity_clash)."""
        taken = self.tracker.take_conflicts()
        return self.rules.conflicts(taken) if taken else []

    def snapshot(self, time_s: float) -> list[TrackLine]:
        """Live tracks predicted to ``time_s``; radar-only ones say whether AIS is expected there."""
        lines = self.tracker.snapshot(time_s)
        dark = next((r for r in self.rules.rules if hasattr(r, "contact")), None)
        if dark is not None:
            for line in lines:
                if line.mmsi is None:
                    line.contact = dark.contact(line)
        return lines

    def add_zone(self, name: str, kind: str, polygon: object) -> None:
        """Watch a zone from now on (a user zone added at run time)."""
        self.rules.ctx.geo.add_zone(name, kind, polygon)

    def remove_zone(self, name: str) -> None:
        self.rules.ctx.geo.remove_zone(name)
