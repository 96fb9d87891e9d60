"""identity_clash from the radar: an MMSI's AIS position contradicted by the radar holding its track.

The tracker records an ``AisRadarConflict`` when an AIS fix lies far outside the gate
of its MMSI's track while radar has been updating that track (``Tracker.take_conflicts``:
beyond ``ais_conflict_chi2`` and ``ais_conflict_min_m``).  The radar sees a vessel at
one place, the MMSI's own reports put it at another: a spoofed or faulty position, or
an MMSI used by another vessel.  One alert per track and episode, updated by each
further contradiction, closed after ``radar_clash_quiet_s`` without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ..model import AisRadarConflict, Alert, TrackLine
from .base import Context, minutes


@dataclass(slots=True)
class _Episode:
    alert: Alert
    last_s: float
    fixes: int


class RadarContradiction:
    types = ("identity_clash",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.open: dict[str, _Episode] = {}

    def on_conflict(self, c: AisRadarConflict) -> None:
        evidence = {"ais_position": {"time_s": c.time_s, "lat": round(c.lat, 6), "lon": round(c.lon, 6)},
                    "radar_position": {"lat": round(c.track_lat, 6), "lon": round(c.track_lon, 6)},
                    "distance_m": round(c.distance_m), "nis": round(c.nis, 1),
                    "last_radar_s": c.last_radar_s, "sensor_id": c.sensor_id, "station": c.station}
        ep = self.open.get(c.track_id)
        if ep is not None:
            ep.fixes += 1
            ep.last_s = max(ep.last_s, c.time_s)
            self.ctx.book.update(ep.alert, c.time_s, force=False, lat=c.track_lat, lon=c.track_lon,
                                 contradicted_fixes=ep.fixes, **evidence)
            return
        summary = (f"MMSI {c.mmsi} reports a position {c.distance_m / 1000:.1f} km from where radar "
                   f"holds its vessel (spoofed or faulty position, or another vessel's MMSI)")
        alert = self.ctx.book.open(
            "identity_clash", self.cfg.severity["identity_clash"], c.time_s, summary,
            track_id=c.track_id, mmsi=c.mmsi, lat=c.track_lat, lon=c.track_lon,
            evidence={"cause": "radar_contradiction", **evidence, "contradicted_fixes": 1,
                      "releasability": self.ctx.releasability([c.sensor_id])})
        self.open[c.track_id] = _Episode(alert, c.time_s, 1)
        self._arm(c.track_id, c.time_s)

    def on_line(self, line: TrackLine) -> None:
        if line.status == "lost" and line.track_id in self.open:
            ep = self.open.pop(line.track_id)
            self.ctx.book.close(ep.alert, line.time_s, "Track lost from the picture")

    def _arm(self, track_id: str, t: float) -> None:
        self.ctx.timers.at(t + self.cfg.radar_clash_quiet_s, partial(self._due, track_id))

    def _due(self, track_id: str, due_s: float) -> None:
        ep = self.open.get(track_id)
        if ep is None:
            return
        if due_s - ep.last_s >= self.cfg.radar_clash_quiet_s:
            self.ctx.book.close(ep.alert, due_s, f"AIS and radar agree again, or radar no longer holds "
                                f"the vessel, for {minutes(due_s - ep.last_s)}")
            del self.open[track_id]
        else:
            self._arm(track_id, ep.last_s)
