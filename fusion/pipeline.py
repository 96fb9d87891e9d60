"""Tracker and anomaly rules composed: observations in, track lines and alerts out.

This is what every process runs (``mfc fuse``, the demo, the fusion service):
the tracker takes a time-ordered batch, and the rules see the same
observations together with the track lines they caused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
        lines = self.tracker.update([o for o in observations if id(o) not in replayed] if replayed else observations)
        return lines, self.rules.process(observations, _by_time(lines)) + self._conflicts()

    def advance(self, time_s: float) -> tuple[list[TrackLine], list[Alert]]:
        lines = self.tracker.advance(time_s)
        alerts = self.rules.process((), _by_time(lines)) + self._conflicts() + self.rules.advance(time_s)
        return lines, alerts

    def flush(self) -> tuple[list[TrackLine], list[Alert]]:
        lines = self.tracker.flush()
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
