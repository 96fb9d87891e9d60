"""dark_vessel: a confirmed radar-only track (no MMSI) held for ≥ dark_vessel_s inside the AOI.

Per track id: when it was first seen confirmed without identity, and one timer at
that time + dark_vessel_s.  The episode closes when the track acquires an MMSI or is
lost; it is retracted when the lost track turns out to be the radar twin of an AIS
vessel that was already reporting (the tracker merged them): it was never dark.
"""

from __future__ import annotations

from functools import partial

from dataclasses import dataclass

from ..geodesy import distance_m
from ..model import Alert, TrackLine
from .base import Context, minutes


@dataclass(slots=True)
class _Dark:
    since_s: float
    alert: Alert | None = None


class DarkVessel:
    types = ("dark_vessel",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.tracks: dict[str, _Dark] = {}

    def on_line(self, line: TrackLine) -> None:
        st = self.tracks.get(line.track_id)
        if line.status == "lost":
            if st is not None:
                del self.tracks[line.track_id]
                if st.alert is not None:
                    self._lost(line, st)
            return
        if line.mmsi is not None:
            if st is not None:
                del self.tracks[line.track_id]
                if st.alert is not None:
                    self._identified(line, st, line.mmsi, line.track_id, twin=False)
            return
        if st is None and line.status == "confirmed":
            st = self.tracks[line.track_id] = _Dark(line.time_s)
            self.ctx.timers.at(line.time_s + self.cfg.dark_vessel_s,
                               partial(self._due, line.track_id))
        elif st is not None and st.alert is not None:
            self.ctx.book.update(st.alert, line.time_s, force=False, lat=line.lat, lon=line.lon,
                                 sensors=line.sensors, dark_s=round(line.time_s - st.since_s))

    def _due(self, track_id: str, due_s: float) -> None:
        st = self.tracks.get(track_id)
        line = self.ctx.lines.get(track_id)
        if st is None or st.alert is not None or line is None:
            return
        if due_s - line.time_s > self.cfg.stale_s or not self.ctx.geo.in_aoi(line.lat, line.lon):
            self.ctx.timers.at(due_s + self.cfg.sweep_every_s, partial(self._due, track_id))
            return
        dark = due_s - st.since_s
        st.alert = self.ctx.book.open(
            "dark_vessel", self.cfg.severity["dark_vessel"], due_s,
            f"Radar contact with no AIS identity for {minutes(dark)}",
            track_id=track_id, lat=line.lat, lon=line.lon, sensors=line.sensors,
            evidence={"since_s": st.since_s, "dark_s": round(dark), "sources": list(line.sources),
                      "sog_kn": round(line.sog_kn, 1), "cog_deg": round(line.cog_deg),
                      "sigma_m": round(line.sigma_m)})

    def _identified(self, line: TrackLine, st: _Dark, mmsi: int, twin_track: str, twin: bool) -> None:
        """The contact got an identity: adopted by a newly heard MMSI (the vessel switched AIS
        on: close), or merged into the track of an MMSI already heard before the alert (retract)."""
        assert st.alert is not None
        first = self.ctx.mmsi_first_s.get(mmsi, line.time_s)
        if twin and first <= st.alert.time_s:
            self.ctx.book.retract(st.alert, line.time_s, f"the radar contact is MMSI {mmsi} "
                                  f"(track {twin_track}), heard on AIS since before the alert",
                                  mmsi=mmsi, twin_track_id=twin_track)
        else:
            self.ctx.book.close(st.alert, line.time_s, f"Dark contact identified: AIS MMSI {mmsi} "
                                f"after {minutes(line.time_s - st.since_s)} dark",
                                mmsi=mmsi, dark_s=round(line.time_s - st.since_s))

    def _lost(self, line: TrackLine, st: _Dark) -> None:
        """Lost: either radar lost it (close) or the tracker merged it into an AIS twin."""
        best = None
        for tid, la, lo in self.ctx.idgrid.near(line.lat, line.lon):
            other = self.ctx.lines.get(tid)
            if other is None or other.mmsi is None or abs(other.time_s - line.time_s) > 300:
                continue
            d = distance_m(line.lat, line.lon, la, lo)
            if d <= self.cfg.dark_merge_distance_m and (best is None or d < best[0]):
                best = (d, other)
        if best is not None:
            self._identified(line, st, best[1].mmsi, best[1].track_id, twin=True)  # type: ignore[arg-type]
        else:
            self.ctx.book.close(st.alert, line.time_s,  # type: ignore[arg-type]
                                f"Dark contact lost by radar after {minutes(line.time_s - st.since_s)}",
                                dark_s=round(line.time_s - st.since_s))
