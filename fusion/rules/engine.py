"""The rule engine: observations and track lines in (time order), alerts out.

Items are handled in feed-time order; before each item every timer due by its
time runs, so rules that fire on silence fire at the right feed time even inside
one large batch.  ``advance(time_s)`` only runs timers.  Cost per call is the
items in it plus the timers due, never a pass over every track.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import TypeVar

from ..model import AisRadarConflict, Alert, Observation, TrackLine
from .ais_gap import AisGap
from .base import Context
from .config import RulesConfig
from .dark_vessel import DarkVessel
from .foreign_fishing import ForeignFishing
from .geography import Geography
from .gnss import Gnss
from .identity import Distress, InvalidIdentity
from .integrity import SensorIntegrity
from .jumps import Jumps
from .loitering import Loitering
from .on_land import OnLand
from .radar_contradiction import RadarContradiction
from .registration import RadarRegistration
from .rendezvous import Rendezvous
from .single_station import SingleStation
from .swarm import Swarm
from .traffic import TrafficMap
from .zones import ZoneEntry

RULES = (AisGap, DarkVessel, Jumps, OnLand, InvalidIdentity, Distress, Loitering, Rendezvous,
         ZoneEntry, ForeignFishing, Swarm, Gnss, RadarContradiction, SensorIntegrity, RadarRegistration, SingleStation)
ALERT_TYPES = tuple(dict.fromkeys(t for r in RULES for t in r.types))
T = TypeVar("T")


class RuleEngine:
    def __init__(self, geo: Geography, config: RulesConfig | None = None) -> None:
        self.cfg = config or RulesConfig()
        self.ctx = Context(geo, self.cfg)
        enabled = set(self.cfg.enabled) if self.cfg.enabled is not None else None
        self.rules = [r(self.ctx) for r in RULES if enabled is None or enabled & set(r.types)]
        self._bind()

    def _bind(self) -> None:
        """The rules' handlers, by what they take."""
        self._obs_rules = [r.on_obs for r in self.rules if hasattr(r, "on_obs") and not isinstance(r, SensorIntegrity)]
        self._line_rules = [r.on_line for r in self.rules if hasattr(r, "on_line")]
        self._conflict_rules = [r.on_conflict for r in self.rules if hasattr(r, "on_conflict")]
        self._forget_rules = [r.forget_mmsi for r in self.rules if hasattr(r, "forget_mmsi")]
        self._water_rules = [r.on_water_learned for r in self.rules if hasattr(r, "on_water_learned")]
        self._integrity = next((r for r in self.rules if isinstance(r, SensorIntegrity)), None)
        self._registration = next((r for r in self.rules if isinstance(r, RadarRegistration)), None)

    def __setstate__(self, state: dict) -> None:
        """An engine checkpointed by an earlier version: settings added since take their
        defaults, and rules added since join (with no history)."""
        self.__dict__.update(state)
        cfg = self.cfg
        if any(not hasattr(cfg, f.name) for f in fields(RulesConfig)):
            cfg = RulesConfig(**{f.name: getattr(cfg, f.name) for f in fields(RulesConfig) if hasattr(cfg, f.name)})
            self.cfg = self.ctx.cfg = cfg
            for rule in self.rules:
                if hasattr(rule, "cfg"):
                    rule.cfg = cfg
            if hasattr(self.ctx, "traffic"):
                self.ctx.traffic.cfg = cfg
        enabled = set(cfg.enabled) if cfg.enabled is not None else None
        have = {type(r) for r in self.rules}
        self.rules += [r(self.ctx) for r in RULES if r not in have and (enabled is None or enabled & set(r.types))]
        self._bind()
        if not hasattr(self.ctx, "traffic"):  # before places were learned from traffic
            self.ctx.traffic = TrafficMap(cfg)
        if not hasattr(self.ctx, "mmsi_seen"):  # before per-MMSI state was aged out: all heard now
            known = set(self.ctx.mmsi_first_s)
            for rule in self.rules:
                if hasattr(rule, "forget_mmsi"):
                    known |= set(getattr(rule, "mmsis", ())) | set(getattr(rule, "seen", ()))
            self.ctx.mmsi_seen = dict.fromkeys(known, self.ctx.now_s)

    @property
    def now_s(self) -> float:
        return self.ctx.now_s

    def process(self, observations: Sequence[Observation], lines: Sequence[TrackLine]) -> list[Alert]:
        """Take the observations the tracker just took and the track lines it emitted for them."""
        i = j = 0
        n_obs, n_lines = len(observations), len(lines)
        while i < n_obs or j < n_lines:
            if j >= n_lines or (i < n_obs and observations[i].time_s <= lines[j].time_s):
                obs = observations[i]
                i += 1
                self._tick(obs.time_s)
                self._obs(obs)
            else:
                line = lines[j]
                j += 1
                self._tick(line.time_s)
                self._line(line)
        return self.ctx.book.drain()

    def replayed(self, observations: Sequence[Observation]) -> set[int]:
        """``id()`` of the observations that repeat a report taken long before under a new time
        (``SensorIntegrity.is_replay``): ``process`` gives them to sensor_integrity only."""
        rule = self._integrity
        if rule is None:
            return set()
        return {id(o) for o in observations if rule.is_replay(o)}

    def registered(self, observations: Sequence[Observation]) -> dict[int, tuple[float, float]]:
        """``id()`` -> corrected (lat, lon) of plots from a radar found misregistered against AIS
        (``RadarRegistration.corrected_position``); the rules see the raw plots."""
        rule = getattr(self, "_registration", None)
        return _corrected(observations, rule.corrected_position) if rule is not None and rule.bias else {}

    def retimed(self, observations: Sequence[Observation]) -> dict[int, float]:
        """``id()`` -> corrected time of the observations from a receiver whose clock was found
        wrong (``SensorIntegrity.corrected_time``); the rules see the raw stamps."""
        rule = self._integrity
        return _corrected(observations, rule.corrected_time) \
            if rule is not None and getattr(rule, "clock_fix", None) else {}

    def conflicts(self, items: Sequence[AisRadarConflict]) -> list[Alert]:
        """Take the AIS fixes the radar contradicted (``Tracker.take_conflicts``), after the
        batch that recorded them."""
        for c in sorted(items, key=lambda c: c.time_s):
            self._tick(c.time_s)
            for fn in self._conflict_rules:
                fn(c)
        return self.ctx.book.drain()

    def advance(self, time_s: float) -> list[Alert]:
        """Feed time passes with no data: run the rules that fire on silence."""
        self._tick(time_s)
        return self.ctx.book.drain()

    def run(self, batches: Iterable[tuple[Sequence[Observation], Sequence[TrackLine]]]) -> list[Alert]:
        """Convenience for tests and batch use: process several batches, collect the alerts."""
        out: list[Alert] = []
        for observations, lines in batches:
            out += self.process(observations, lines)
        return out

    # ------------------------------------------------------------------ internals
    def _tick(self, time_s: float) -> None:
        ctx = self.ctx
        if time_s > ctx.now_s:
            ctx.now_s = time_s
            ctx.timers.run(time_s)
            self._forget_silent(time_s)

    def _forget_silent(self, now_s: float) -> None:
        """Per-MMSI state of MMSIs silent for ``mmsi_keep_s`` is dropped, so that a feed of
        ever new MMSIs cannot grow it without bound; a rule with an episode still open keeps
        its state (the MMSI counts as heard now and is looked at again later)."""
        for mmsi in self.ctx.silent_mmsis(now_s):
            kept = [fn(mmsi) for fn in self._forget_rules]
            self.ctx.traffic.forget_mmsi(mmsi)
            if not all(kept):
                self.ctx.heard(mmsi, now_s)

    def _obs(self, obs: Observation) -> None:
        integrity = self._integrity
        replay = integrity is not None and integrity.is_replay(obs)
        if replay:
            integrity.on_obs(obs, True)  # a replayed report: evidence against its receiver, nothing else
            return
        if obs.mmsi is not None:
            self.ctx.heard(obs.mmsi, obs.time_s)
            if obs.mmsi not in self.ctx.mmsi_first_s and obs.kind == "ais_position":
                self.ctx.mmsi_first_s[obs.mmsi] = obs.time_s
            if obs.kind == "ais_position" and obs.lat is not None and obs.lon is not None:
                self.ctx.coverage.heard_at(obs.sensor_id, obs.station, obs.mmsi, obs.lat, obs.lon, obs.time_s)
        self.ctx.traffic.on_obs(obs)
        for fn in self._obs_rules:
            fn(obs)
        if integrity is not None:
            integrity.on_obs(obs, False)

    def _line(self, line: TrackLine) -> None:
        if line.late:
            return  # a history point older than the track's state: its observation was seen in _obs
        ctx, tid = self.ctx, line.track_id
        lost = line.status == "lost"
        if not lost:
            prev = ctx.lines.get(tid)
            ctx.lines[tid] = line
            if line.mmsi is not None:
                ctx.mmsi_tracks.setdefault(line.mmsi, {})[tid] = None
                ctx.idgrid.place(tid, line.lat, line.lon)
                if "radar" in line.sources and "ais" in line.sources:
                    ctx.coverage.radar_saw(line.mmsi, line.lat, line.lon)
            elif prev is not None and prev.mmsi is not None:
                ctx.idgrid.remove(tid)
        water = ctx.traffic.on_line(line, ctx.geo)
        if water is not None:
            for fn in self._water_rules:
                fn(water, line.time_s)
        for fn in self._line_rules:
            fn(line)
        if lost:
            prev = ctx.lines.pop(tid, None)
            ctx.idgrid.remove(tid)
            for mmsi in {line.mmsi, prev.mmsi if prev else None} - {None}:
                tracks = ctx.mmsi_tracks.get(mmsi)  # type: ignore[arg-type]
                if tracks is not None:
                    tracks.pop(tid, None)
                    if not tracks:
                        del ctx.mmsi_tracks[mmsi]  # type: ignore[arg-type]


def _corrected(observations: Sequence[Observation], correct: Callable[[Observation], T | None]) -> dict[int, T]:
    """``id()`` -> ``correct(o)`` for the observations it corrects (not None)."""
    out: dict[int, T] = {}
    for o in observations:
        v = correct(o)
        if v is not None:
            out[id(o)] = v
    return out
