"""dark_vessel: a confirmed radar-only track (no MMSI) held for ≥ dark_vessel_s inside the AOI
*where AIS reception is expected* (``fusion.coverage``): "AIS would be heard here, and is not".

Every radar-only track line is marked with its ``contact``: ``dark`` where the coverage model
expects its AIS to be heard, ``unidentified`` outside AIS cover (visible in the picture, no
alert by itself).  Per track id: when it was first seen confirmed without identity, since when
it has been continuously inside AIS cover, and one pending timer; the alert fires once it has
been inside cover for dark_vessel_s (for satellite-only cover, cover begins once the silence
exceeds the satellite's revisit).  The episode closes *as explained* (``explained:
ais_associated``) when AIS later associates with the track (a late satellite report, a
receiver back up), or when the track is lost; it is retracted when the lost track turns out to
be the radar twin of an AIS vessel that was already reporting (the tracker merged them): it was
never dark.
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
    covered_s: float | None = None  # since when AIS reception has been expected (None: not now)


class DarkVessel:
    types = ("dark_vessel",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.tracks: dict[str, _Dark] = {}

    def _expected(self, lat: float, lon: float, time_s: float, silence_s: float) -> bool:
        expected = self.ctx.coverage.ais_expected(lat, lon, time_s, silence_s)
        return self.cfg.dark_assume_coverage_without_receivers if expected is None else expected

    def contact(self, line: TrackLine) -> str | None:
        """The ``contact`` of a line (a snapshot's): None when identified, else dark or unidentified."""
        if line.mmsi is not None:
            return None
        st = self.tracks.get(line.track_id)
        since = st.since_s if st is not None else line.time_s
        return "dark" if self._expected(line.lat, line.lon, line.time_s, line.time_s - since) else "unidentified"

    def on_line(self, line: TrackLine) -> None:
        st = self.tracks.get(line.track_id)
        if line.mmsi is None and line.status != "lost":
            since = st.since_s if st is not None else line.time_s
            expected = self._expected(line.lat, line.lon, line.time_s, line.time_s - since)
            line.contact = "dark" if expected else "unidentified"
            if st is not None:
                if not expected:
                    st.covered_s = None
                elif st.covered_s is None:
                    st.covered_s = line.time_s
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
            st = self.tracks[line.track_id] = _Dark(line.time_s, covered_s=line.time_s if line.contact == "dark" else None)
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
        if st.covered_s is None or due_s - st.covered_s < self.cfg.dark_vessel_s:
            # outside AIS cover (an unidentified contact), or not yet long enough inside it
            later = (due_s + self.cfg.sweep_every_s if st.covered_s is None
                     else st.covered_s + self.cfg.dark_vessel_s)
            self.ctx.timers.at(later, partial(self._due, track_id))
            return
        dark = due_s - st.since_s
        stations = self.ctx.coverage.stations_that_could_hear(line.lat, line.lon, due_s)
        st.alert = self.ctx.book.open(
            "dark_vessel", self.cfg.severity["dark_vessel"], due_s,
            f"Radar contact with no AIS identity for {minutes(dark)} where AIS would be heard",
            track_id=track_id, lat=line.lat, lon=line.lon, sensors=line.sensors,
            evidence={"since_s": st.since_s, "dark_s": round(dark), "sources": list(line.sources),
                      "sog_kn": round(line.sog_kn, 1), "cog_deg": round(line.cog_deg),
                      "sigma_m": round(line.sigma_m), "ais_expected_since_s": st.covered_s,
                      "stations": stations})

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
            self.ctx.book.close(st.alert, line.time_s, f"Explained: AIS MMSI {mmsi} associated with the "
                                f"contact after {minutes(line.time_s - st.since_s)} dark",
                                mmsi=mmsi, dark_s=round(line.time_s - st.since_s), explained="ais_associated")

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
