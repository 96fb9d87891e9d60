"""``sensor_integrity`` cause ``single_station``: a vessel only one AIS station ever hears, where
other stations demonstrably hear the traffic around it.

A real transmission reaches every station in range; a vessel injected into one station's feed
(a compromised receiver, a forged feed) reaches only that station.  Per MMSI the rule counts its
class A position reports and the stations that heard them.  Once an MMSI has ``single_min_reports``
reports over ``single_min_span_s``, every one from the same station X, it asks the coverage model
(``fusion.coverage``) about the cell of its latest position: the *other* stations that are up,
whose learned reception of that cell is good and that have heard at least ``single_min_heard``
distinct other vessels along its path (the cells of its latest positions and the eight cells
around each, a band about 15 km wide).  If at least ``single_min_witnesses`` such stations never heard it, and no
radar has fed its track (a radar seeing it makes it real), the alert names station X and the
vessel.  It closes when another station hears the vessel (retracted: it was real) or when the
vessel is no longer reported.

Where no other station overlaps X (a remote island's receiver, an integrator's only sensor with
a stolen key), a **satellite** can witness: it hears every transmission under its footprint
while it passes, so a real vessel reporting every few seconds through a pass is heard unless
the satellite misses every one of its reports.  For each pass during which the satellite heard
other vessels (one is enough) within ``single_sat_within_s`` of one of the MMSI's reports and a
cell of its path (or the eight around it), the mean number of their reports it heard per vessel,
λ, says how well it hears there; missing all of a real vessel's is then about ``exp(−λ)`` a pass (Poisson).
When the product over the passes is below ``single_sat_miss_p`` and the satellite never heard the
MMSI, the satellite is a witness.  The satellite hearing the MMSI at any time retracts the alert.

Class B transmitters (2 W against class A's 12.5 W, so heard over a shorter range) are not
judged.  Satellite AIS and feeds without a registered station are not stations here.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from functools import partial

from ..coverage import ANON_PREFIX
from ..model import Alert, Observation, TrackLine
from .base import Context


_REJUDGE_S = 300.0   # an MMSI not named is judged again after this long (the question costs a coverage lookup)
_SAT_KEEP_S = 6 * 3600.0   # a satellite's reports kept per cell this long (the judged path spans at most 4 h)
_PATH_EVERY_S = 60.0       # an MMSI's path: a point at most this often ...
_PATH_POINTS = 240         # ... the latest this many (4 h)


@dataclass(slots=True)
class _Heard:
    first_s: float
    stations: set[str] = field(default_factory=set)
    reports: int = 0
    last: tuple[float, float, float] = (0.0, 0.0, 0.0)   # time, lat, lon
    radar: bool = False
    alert: Alert | None = None
    judged_s: float = -1e18
    cells: list[tuple[int, int]] = field(default_factory=list)   # coverage cells of its path (latest 24)
    path: list[tuple[float, tuple[int, int]]] = field(default_factory=list)  # (time, cell), for satellites
    sat_heard: bool = False                                      # some satellite heard it: real


class SingleStation:
    types = ("sensor_integrity",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.mmsis: dict[int, _Heard] = {}
        # per satellite, per coverage cell: the (time, MMSI) of the reports it heard there
        self.sat: dict[str, dict[tuple[int, int], deque[tuple[float, int]]]] = {}

    def on_obs(self, obs: Observation) -> None:
        if obs.kind != "ais_position" or obs.mmsi is None or obs.lat is None or obs.lon is None:
            return
        sats = getattr(self.ctx.geo, "satellites", None)
        if sats:
            sat = obs.station if obs.station in sats else obs.sensor_id if obs.sensor_id in sats else None
            if sat is not None:
                self._satellite(sat, obs)
                return
        if obs.ais_class == "B":
            return
        key = self._station(obs)
        if key is None:
            return
        h = self.mmsis.get(obs.mmsi)
        if h is None:
            h = self.mmsis[obs.mmsi] = _Heard(obs.time_s)
        h.stations.add(key)
        if len(h.stations) > 1:
            self._real(obs.mmsi)   # (also long after an episode closed: a second station makes it real)
        h.reports += 1
        h.last = (obs.time_s, obs.lat, obs.lon)
        cell = self.ctx.coverage.cell(obs.lat, obs.lon)
        if not h.cells or h.cells[-1] != cell:
            h.cells.append(cell)
            del h.cells[:-24]
        if not h.path or obs.time_s - h.path[-1][0] >= _PATH_EVERY_S:
            h.path.append((obs.time_s, cell))
            del h.path[:-_PATH_POINTS]
        if h.alert is not None:
            if len(h.stations) > 1:
                other = sorted(h.stations - {h.alert.evidence["receiver"]})
                self.ctx.book.retract(h.alert, obs.time_s, f"MMSI {obs.mmsi} is heard by {', '.join(other)} too: "
                                      "a real transmission")
                h.alert = None
            return
        cfg = self.cfg
        if len(h.stations) != 1 or h.radar or h.sat_heard or h.reports < cfg.single_min_reports \
                or obs.time_s - h.first_s < cfg.single_min_span_s or obs.time_s - h.judged_s < _REJUDGE_S:
            return
        h.judged_s = obs.time_s
        (station,) = h.stations
        cov = self.ctx.coverage
        cell = cov.cell(obs.lat, obs.lon)
        witnesses = []
        for other in cov.stations_that_could_hear(obs.lat, obs.lon, obs.time_s):
            if other == station or other in self.ctx.geo.satellites:
                continue
            if cov.reception(other, cell)[0] < 0.5:
                continue
            cells = cov.heard.get(other, {})
            around: set[int] = set()
            for ci, cj in set(h.cells):
                for i in (ci - 1, ci, ci + 1):
                    for j in (cj - 1, cj, cj + 1):
                        around.update(cells.get((i, j), ()))
            around.discard(obs.mmsi)
            if len(around) >= cfg.single_min_heard:
                witnesses.append(other)
        passes: dict[str, int] = {}
        if len(witnesses) < cfg.single_min_witnesses:
            for sat in sorted(self.sat):
                n = self._satellite_passes(sat, obs.mmsi, h)
                if n:
                    passes[sat] = n
            if not passes:
                return
        named = [*witnesses, *(f"{s} (overhead {n} time{'s' if n > 1 else ''})" for s, n in passes.items())]
        witnesses += sorted(passes)
        lat, lon = obs.lat, obs.lon
        tracks = self.ctx.mmsi_tracks.get(obs.mmsi)
        # a vessel that may not exist: its silence later is not a vessel going dark (``ais_gap``)
        self.ctx.__dict__.setdefault("forged_mmsis", set()).add(obs.mmsi)
        evidence = {"receiver": station, "cause": "single_station", "mmsi": obs.mmsi,
                    "reports": h.reports, "since_s": h.first_s, "witnesses": witnesses}
        if passes:
            evidence["satellite_passes"] = passes
        h.alert = self.ctx.book.open(
            "sensor_integrity", cfg.severity.get("sensor_integrity", "high"), obs.time_s,
            f"MMSI {obs.mmsi} is heard only by {station} ({h.reports} reports in "
            f"{(obs.time_s - h.first_s) / 60:.0f} min) where {', '.join(named)} hear the traffic "
            "around it and never heard it, and no radar sees it: a vessel injected into one station's feed, "
            "or a forged one",
            track_id=next(reversed(tracks)) if tracks else None, mmsi=obs.mmsi, lat=lat, lon=lon,
            # the witnesses' data says they hear the traffic there: the alert goes only where every
            # one of their data may go, as the vessel's own station's (fails closed)
            sensors=[station, *witnesses], evidence=evidence)
        self.ctx.timers.at(obs.time_s + cfg.integrity_quiet_s, partial(self._due, obs.mmsi))

    def _satellite(self, sat: str, obs: Observation) -> None:
        """A report a satellite heard: kept by cell (a witness for the vessels around); the MMSI
        itself is real, and an open alert on it is retracted."""
        cells = self.sat.setdefault(sat, {})
        q = cells.setdefault(self.ctx.coverage.cell(obs.lat, obs.lon), deque())  # type: ignore[arg-type]
        q.append((obs.time_s, obs.mmsi))  # type: ignore[arg-type]
        while q and q[0][0] < obs.time_s - _SAT_KEEP_S:
            q.popleft()
        h = self.mmsis.get(obs.mmsi)  # type: ignore[arg-type]
        if h is None:
            return
        h.sat_heard = True
        self._real(obs.mmsi)
        if h.alert is not None:
            self.ctx.book.retract(h.alert, obs.time_s, f"the satellite {sat} hears MMSI {obs.mmsi} too: a real "
                                  "transmission")
            h.alert = None

    def _satellite_passes(self, sat: str, mmsi: int, h: _Heard) -> int:
        """How many passes of ``sat`` witness that MMSI ``mmsi`` is not there (0: not enough): the
        passes during which it heard other vessels around the MMSI's reported path, when missing
        every report of a real vessel there (``exp(−λ)`` a pass, λ its mean reports heard per other
        vessel) comes to less than ``single_sat_miss_p`` over them all."""
        cfg, cells = self.cfg, self.sat.get(sat, {})
        within = cfg.single_sat_within_s
        heard: list[tuple[float, int]] = []   # the other vessels' reports near the path, (time, MMSI)
        for t, (ci, cj) in h.path:
            for i in (ci - 1, ci, ci + 1):
                for j in (cj - 1, cj, cj + 1):
                    for ts, other in cells.get((i, j), ()):
                        if abs(ts - t) <= within and other != mmsi:
                            heard.append((ts, other))
        if not heard:
            return 0
        heard = sorted(set(heard))
        log_miss, n, per_vessel, last = 0.0, 0, {}, None
        for ts, other in heard + [(math.inf, -1)]:
            if last is not None and ts - last > cfg.single_sat_pass_gap_s:
                if per_vessel:   # a pass: λ = reports heard per vessel around (one heard 30 times is evidence)
                    log_miss -= sum(per_vessel.values()) / len(per_vessel)
                    n += 1
                per_vessel = {}
            if ts == math.inf:
                break
            per_vessel[other] = per_vessel.get(other, 0) + 1
            last = ts
        return n if n and log_miss < math.log(cfg.single_sat_miss_p) else 0

    def _real(self, mmsi: int) -> None:
        """Another witness heard or saw the MMSI: it is a vessel after all."""
        forged = self.ctx.__dict__.get("forged_mmsis")
        if forged:
            forged.discard(mmsi)

    def _station(self, obs: Observation) -> str | None:
        """The registered terrestrial station that heard the report (``Coverage.station_key``),
        None for a satellite or a feed without a registered station (an aggregator)."""
        key = self.ctx.coverage.station_key(obs.sensor_id, obs.station)
        return None if key is None or key.startswith(ANON_PREFIX) else key

    def _due(self, mmsi: int, due_s: float) -> None:
        h = self.mmsis.get(mmsi)
        if h is None or h.alert is None:
            return
        quiet = self.cfg.integrity_quiet_s
        if due_s - h.last[0] >= quiet:
            self.ctx.book.close(h.alert, due_s, f"MMSI {mmsi} has not been reported for {quiet / 60:.0f} min")
            h.alert = None
        else:
            self.ctx.timers.at(h.last[0] + quiet, partial(self._due, mmsi))

    def on_line(self, line: TrackLine) -> None:
        if line.mmsi is None or "radar" not in line.sources:
            return
        h = self.mmsis.get(line.mmsi)
        if h is not None and not h.radar:
            h.radar = True
            self._real(line.mmsi)
            if h.alert is not None:
                self.ctx.book.retract(h.alert, line.time_s, f"a radar sees MMSI {line.mmsi}: a real vessel")
                h.alert = None

    def forget_mmsi(self, mmsi: int) -> bool:
        """An MMSI silent for ``mmsi_keep_s``: its episode ends."""
        h = self.mmsis.pop(mmsi, None)
        self._real(mmsi)   # its episode is over: a later vessel with this MMSI is judged afresh
        if h is not None and h.alert is not None:
            self.ctx.book.close(h.alert, self.ctx.now_s, f"MMSI {mmsi} is no longer reported")
        return True
