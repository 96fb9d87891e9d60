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

Class B transmitters (2 W against class A's 12.5 W, so heard over a shorter range) are not
judged.  Satellite AIS and feeds without a registered station are not stations here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from ..coverage import ANON_PREFIX
from ..model import Alert, Observation, TrackLine
from .base import Context


_REJUDGE_S = 300.0   # an MMSI not named is judged again after this long (the question costs a coverage lookup)


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


class SingleStation:
    types = ("sensor_integrity",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.mmsis: dict[int, _Heard] = {}

    def on_obs(self, obs: Observation) -> None:
        if obs.kind != "ais_position" or obs.mmsi is None or obs.lat is None or obs.lon is None \
                or obs.ais_class == "B":
            return
        key = self._station(obs)
        if key is None:
            return
        h = self.mmsis.get(obs.mmsi)
        if h is None:
            h = self.mmsis[obs.mmsi] = _Heard(obs.time_s)
        h.stations.add(key)
        h.reports += 1
        h.last = (obs.time_s, obs.lat, obs.lon)
        cell = self.ctx.coverage.cell(obs.lat, obs.lon)
        if not h.cells or h.cells[-1] != cell:
            h.cells.append(cell)
            del h.cells[:-24]
        if h.alert is not None:
            if len(h.stations) > 1:
                other = sorted(h.stations - {h.alert.evidence["receiver"]})
                self.ctx.book.retract(h.alert, obs.time_s, f"MMSI {obs.mmsi} is heard by {', '.join(other)} too: "
                                      "a real transmission")
                h.alert = None
            return
        cfg = self.cfg
        if len(h.stations) != 1 or h.radar or h.reports < cfg.single_min_reports \
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
        if len(witnesses) < cfg.single_min_witnesses:
            return
        lat, lon = obs.lat, obs.lon
        tracks = self.ctx.mmsi_tracks.get(obs.mmsi)
        h.alert = self.ctx.book.open(
            "sensor_integrity", cfg.severity.get("sensor_integrity", "high"), obs.time_s,
            f"MMSI {obs.mmsi} is heard only by {station} ({h.reports} reports in "
            f"{(obs.time_s - h.first_s) / 60:.0f} min) where {', '.join(witnesses)} hear the traffic around it "
            "and never heard it, and no radar sees it: a vessel injected into one station's feed, or a forged one",
            track_id=next(reversed(tracks)) if tracks else None, mmsi=obs.mmsi, lat=lat, lon=lon,
            # the witnesses' data says they hear the traffic there: the alert goes only where every
            # one of their data may go, as the vessel's own station's (fails closed)
            sensors=[station, *witnesses], evidence={"receiver": station, "cause": "single_station", "mmsi": obs.mmsi,
                                         "reports": h.reports, "since_s": h.first_s, "witnesses": witnesses})
        self.ctx.timers.at(obs.time_s + cfg.integrity_quiet_s, partial(self._due, obs.mmsi))

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
            if h.alert is not None:
                self.ctx.book.retract(h.alert, line.time_s, f"a radar sees MMSI {line.mmsi}: a real vessel")
                h.alert = None

    def forget_mmsi(self, mmsi: int) -> bool:
        """An MMSI silent for ``mmsi_keep_s``: its episode ends."""
        h = self.mmsis.pop(mmsi, None)
        if h is not None and h.alert is not None:
            self.ctx.book.close(h.alert, self.ctx.now_s, f"MMSI {mmsi} is no longer reported")
        return True
