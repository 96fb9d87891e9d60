"""identity_clash from the radar: an MMSI's AIS position contradicted by the radar holding its track.

The tracker records an ``AisRadarConflict`` when an AIS fix lies far outside the gate
of its MMSI's track while radar has been updating that track (``Tracker.take_conflicts``:
beyond ``ais_conflict_chi2`` and ``ais_conflict_min_m``).  The radar sees a vessel at
one place, the MMSI's own reports put it at another: a spoofed or faulty position, or
an MMSI used by another vessel.  A single contradicted fix can be a plot of a
neighbour taken by the track, so the alert needs ``radar_clash_min_fixes`` of them
within ``radar_clash_window_s``.  One alert per track and episode, updated by each
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
        self.pending: dict[str, list[AisRadarConflict]] = {}  # contradicted fixes not alerted yet

    @staticmethod
    def _evidence(c: AisRadarConflict) -> dict:
        return {"time_s": c.time_s, "ais_position": {"lat": round(c.lat, 6), "lon": round(c.lon, 6)},
                "radar_position": {"lat": round(c.track_lat, 6), "lon": round(c.track_lon, 6)},
                "distance_m": round(c.distance_m), "nis": round(c.nis, 1), "last_radar_s": c.last_radar_s,
                "sensor_id": c.sensor_id, "station": c.station}

    def on_conflict(self, c: AisRadarConflict) -> None:
        ep = self.open.get(c.track_id)
        if ep is not None:
            ep.fixes += 1
            ep.last_s = max(ep.last_s, c.time_s)
            self.ctx.book.update(ep.alert, c.time_s, force=False, contradicted_fixes=ep.fixes, sensors=self._sensors(c),
                                 latest=self._evidence(c))
            return
        cfg = self.cfg
        seen = [p for p in self.pending.get(c.track_id, ()) if c.time_s - p.time_s <= cfg.radar_clash_window_s]
        seen.append(c)
        if len(seen) < cfg.radar_clash_min_fixes:
            if len(self.pending) >= 10_000:  # forget the oldest single contradictions
                for tid in list(self.pending)[:1000]:
                    del self.pending[tid]
            self.pending[c.track_id] = seen
            return
        self.pending.pop(c.track_id, None)
        # the first contradicted fix is the radar's own view: later ones meet a track the
        # spoofed fixes have already pulled towards them
        first = seen[0]
        summary = (f"MMSI {c.mmsi} reports positions {first.distance_m / 1000:.1f} km from where radar "
                   f"holds its vessel ({len(seen)} fixes in {minutes(c.time_s - first.time_s)}): spoofed "
                   f"or faulty position, or another vessel's MMSI")
        alert = self.ctx.book.open(
            "identity_clash", self.cfg.severity["identity_clash"], c.time_s, summary,
            track_id=c.track_id, mmsi=c.mmsi, lat=first.track_lat, lon=first.track_lon,
            evidence={"cause": "radar_contradiction", "first": self._evidence(first), "latest": self._evidence(c),
                      "contradicted_fixes": len(seen), "releasability": self.ctx.releasability(self._sensors(c))})
        self.open[c.track_id] = _Episode(alert, c.time_s, len(seen))
        self._arm(c.track_id, c.time_s)

    def _sensors(self, c: AisRadarConflict) -> list[str]:
        """The AIS sensor of the fix and the sensors holding the track (its radar position is evidence)."""
        line = self.ctx.lines.get(c.track_id)
        return [c.sensor_id, *(line.sensors if line is not None else ("?unknown-track",))]

    def on_line(self, line: TrackLine) -> None:
        if line.status == "lost":
            self.pending.pop(line.track_id, None)
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
