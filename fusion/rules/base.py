"""Shared machinery: the Rule protocol, the alert book, feed-time timers, a point grid."""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ..coverage import Coverage
from ..geodesy import M_PER_DEG_LAT
from ..model import Alert, Observation, TrackLine
from .config import RulesConfig
from .geography import Geography, meet_tokens
from .traffic import TrafficMap


class Rule(Protocol):
    """A rule implements any of ``on_obs(obs)`` and ``on_line(line)``; it keeps its own
    state keyed by MMSI or track id and uses ``ctx.timers`` for anything that fires on silence."""

    types: tuple[str, ...]


class AlertBook:
    """Assigns alert ids ("A1", "A2"…) in order and collects new/changed alerts (as copies)."""

    def __init__(self, geo: Geography, cfg: RulesConfig) -> None:
        self.geo, self.cfg = geo, cfg
        self._next = 1
        self._out: list[Alert] = []
        self._emitted_s: dict[str, float] = {}

    def open(self, type_: str, severity: str, time_s: float, summary: str, *, track_id: str | None = None,
             mmsi: int | None = None, lat: float | None = None, lon: float | None = None,
             zone: str | None = None, evidence: dict[str, Any] | None = None,
             sensors: Iterable[str] = ()) -> Alert:
        """A new alert.  Its releasability is what ``sensors`` (every sensor behind it, of every
        track it is about) all allow; unknown or no sensors: no agency (fails closed)."""
        ev = dict(evidence or {})
        if "releasability" not in ev:
            ev["releasability"] = self.geo.releasability_of(sensors, self.cfg.default_releasability)
        if zone is None and lat is not None and lon is not None:
            zone = self.geo.zone_name_at(lat, lon)
        alert = Alert(f"A{self._next}", type_, severity, time_s, track_id, mmsi, lat, lon, zone,
                      summary, ev, "open")
        self._next += 1
        self._emit(alert, time_s)
        return alert

    def update(self, alert: Alert, time_s: float, *, force: bool = True, summary: str | None = None,
               severity: str | None = None, lat: float | None = None, lon: float | None = None,
               sensors: Iterable[str] | None = None, **evidence: Any) -> None:
        """Change an open alert; re-emit it now if ``force``, else at most every update_every_s.
        ``sensors`` newly behind the alert narrow its releasability (never widen it)."""
        if alert.state != "open":
            return
        if sensors is not None:
            now = self.geo.releasability_of(sensors, self.cfg.default_releasability)
            old = alert.evidence.get("releasability", [])
            narrowed = meet_tokens(old, now)
            if narrowed != sorted(old):
                alert.evidence["releasability"], force = narrowed, True
        if summary is not None:
            alert.summary = summary
        if severity is not None and severity != alert.severity:
            alert.severity, force = severity, True
        if lat is not None and lon is not None:
            alert.lat, alert.lon = lat, lon
        alert.evidence.update(evidence)
        alert.evidence["updated_s"] = time_s
        if force or time_s - self._emitted_s.get(alert.alert_id, -math.inf) >= self.cfg.update_every_s:
            self._emit(alert, time_s)

    def close(self, alert: Alert, time_s: float, summary: str | None = None, **evidence: Any) -> None:
        if alert.state != "open":
            return
        alert.state = "closed"
        if summary is not None:
            alert.summary = summary
        alert.evidence.update(evidence)
        alert.evidence["closed_s"] = time_s
        self._emit(alert, time_s)
        self._emitted_s.pop(alert.alert_id, None)

    def retract(self, alert: Alert, time_s: float, reason: str, **evidence: Any) -> None:
        if alert.state == "retracted":
            return
        alert.state = "retracted"
        alert.summary = f"Retracted: {reason}"
        alert.evidence.update(evidence)
        alert.evidence["retracted_s"] = time_s
        self._emit(alert, time_s)
        self._emitted_s.pop(alert.alert_id, None)

    def _emit(self, alert: Alert, time_s: float) -> None:
        self._emitted_s[alert.alert_id] = time_s
        self._out.append(copy.deepcopy(alert))

    def emitted_at(self, alert: Alert) -> float:
        """The feed time ``alert`` last went out (-inf: never)."""
        return self._emitted_s.get(alert.alert_id, -math.inf)

    def amend(self, alert: Alert) -> None:
        """``alert`` changed in a way that needs no delivery of its own (a link filled in): a
        copy still waiting to go out in this batch is replaced; otherwise the change goes out
        with the alert's next emission."""
        for k in range(len(self._out) - 1, -1, -1):
            if self._out[k].alert_id == alert.alert_id:
                self._out[k] = copy.deepcopy(alert)
                return

    def drain(self) -> list[Alert]:
        out, self._out = self._out, []
        return out


class Timers:
    """Callbacks due at a feed time.  Rules keep at most one pending timer per key themselves."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = 0

    def at(self, due_s: float, fn: Callable[[float], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due_s, self._seq, fn))

    def run(self, now_s: float) -> None:
        """Run every callback due at or before ``now_s``, each with its own due time."""
        heap = self._heap
        while heap and heap[0][0] <= now_s:
            due, _, fn = heapq.heappop(heap)
            fn(due)

    def __len__(self) -> int:
        return len(self._heap)


class PointGrid:
    """Keyed points in square lat/lon cells (about ``cell_m`` wide) for neighbour queries."""

    def __init__(self, cell_m: float) -> None:
        self.cell_deg = cell_m / M_PER_DEG_LAT
        self.cells: dict[tuple[int, int], dict[Any, tuple[float, float]]] = {}
        self.where: dict[Any, tuple[int, int]] = {}

    def key(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self.cell_deg), math.floor(lon / self.cell_deg)

    def place(self, item: Any, lat: float, lon: float) -> None:
        cell = self.key(lat, lon)
        old = self.where.get(item)
        if old is not None and old != cell:
            self.remove(item)
        self.cells.setdefault(cell, {})[item] = (lat, lon)
        self.where[item] = cell

    def remove(self, item: Any) -> None:
        cell = self.where.pop(item, None)
        if cell is not None:
            bucket = self.cells[cell]
            bucket.pop(item, None)
            if not bucket:
                del self.cells[cell]

    def near(self, lat: float, lon: float, rings: int = 1) -> Iterator[tuple[Any, float, float]]:
        ci, cj = self.key(lat, lon)
        for i in range(ci - rings, ci + rings + 1):
            for j in range(cj - rings, cj + rings + 1):
                bucket = self.cells.get((i, j))
                if bucket:
                    for item, (la, lo) in bucket.items():
                        yield item, la, lo

    def __len__(self) -> int:
        return len(self.where)


class Context:
    """What every rule sees: geography, config, the alert book, timers, latest track lines."""

    def __init__(self, geo: Geography, cfg: RulesConfig) -> None:
        self.geo, self.cfg = geo, cfg
        self.book = AlertBook(geo, cfg)
        self.timers = Timers()
        self.now_s = -math.inf
        self.lines: dict[str, TrackLine] = {}           # latest line of each live track
        self.mmsi_first_s: dict[int, float] = {}        # when each MMSI was first heard
        self.mmsi_seen: dict[int, float] = {}           # when each MMSI was last heard, oldest first
        self.mmsi_tracks: dict[int, dict[str, None]] = {}  # live track ids carrying each MMSI
        self.idgrid = PointGrid(2000.0)                 # live identified tracks (for twin checks)
        self.position_faults: list[Callable[[str, Observation, float, float], None]] = []
        self.traffic = TrafficMap(cfg)                  # anchorages and water learned from traffic
        self.coverage = self.new_coverage()

    def new_coverage(self) -> Coverage:
        return Coverage(self.geo, self.cfg.coverage_cell_m, self.cfg.coverage_prior_weight,
                        self.cfg.coverage_station_silent_s)

    def __getattr__(self, name: str) -> Any:
        """A context checkpointed before the coverage model existed gets an empty one."""
        if name == "coverage" and "geo" in self.__dict__:
            self.coverage = self.new_coverage()
            return self.coverage
        raise AttributeError(name)

    def heard(self, mmsi: int, time_s: float) -> None:
        """An MMSI reported at ``time_s``: it moves to the end of ``mmsi_seen``."""
        seen = self.mmsi_seen.pop(mmsi, time_s)
        self.mmsi_seen[mmsi] = max(seen, time_s)

    def silent_mmsis(self, now_s: float) -> list[int]:
        """Take out the MMSIs not heard for ``cfg.mmsi_keep_s`` (looks only at those)."""
        cutoff, out = now_s - self.cfg.mmsi_keep_s, []
        for mmsi, seen_s in self.mmsi_seen.items():
            if seen_s >= cutoff:
                break
            out.append(mmsi)
        for mmsi in out:
            del self.mmsi_seen[mmsi]
            self.mmsi_first_s.pop(mmsi, None)
        return out

    def releasability(self, sensor_ids: list[str]) -> list[str]:
        return self.geo.releasability_of(sensor_ids, self.cfg.default_releasability)

    def fault(self, kind: str, obs: Observation, lat: float, lon: float) -> None:
        """A position fault (speed jump, on-land fix) for area-level rules (gnss_interference)."""
        for fn in self.position_faults:
            fn(kind, obs, lat, lon)


def minutes(seconds: float) -> str:
    m = seconds / 60.0
    return f"{m:.0f} min" if m < 120 else f"{m / 60.0:.1f} h"
