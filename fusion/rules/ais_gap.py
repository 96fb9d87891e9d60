"""ais_gap: a vessel that was reporting regularly falls silent inside the AOI and AIS coverage.

Per MMSI: the times of the last reports (from observations) and whether a radar-fed
track line still carries that MMSI after the silence (from track lines).  One timer
per MMSI at last report + ais_gap_s; when it fires and the MMSI is still silent, the
alert opens (high if radar still holds the vessel, else medium).  The episode closes
when AIS resumes; a late report from inside the supposed silence shortens it or, if
the silence was then shorter than the threshold, retracts it.  Coverage is judged where
the vessel is believed to be: the radar position, else the last report dead-reckoned
over the silence.  A ship under way must have spent ``ais_gap_s`` of its silence inside coverage
on that dead-reckoned path: one that steamed out of every receiver's range has gone out of
earshot, not silent; one crossing a hole between two receivers' ranges, or steaming in from
outside them, is judged again once it could have been heard that long (for up to
``_DR_HORIZON_S`` of silence).  "Inside coverage" means inside some
receiver's registered range by ``ais_gap_edge_margin`` of it: reception fades out over the last
kilometres of a nominal range, so a vessel falling silent at its edge has not gone dark.
"""

from __future__ import annotations

import math
from functools import partial

from collections import deque
from dataclasses import dataclass, field

from ..geodesy import KN_TO_MS, from_local
from ..model import Alert, Observation, TrackLine
from .base import Context, minutes
from .identity import not_a_vessel

_PATH_STEP_S = 60.0   # the dead-reckoned path through a silence is sampled this often ...
_DR_HORIZON_S = 3 * 3600.0  # ... and followed this long (beyond, where the ship is is a guess)


@dataclass(slots=True)
class _Vessel:
    times: deque = field(default_factory=lambda: deque(maxlen=10))
    last_s: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
    sensor: str = ""
    sog_kn: float = 0.0
    cog_deg: float = 0.0
    track_id: str | None = None
    radar_s: float = float("-inf")      # last radar-fed line time with this MMSI
    radar_lat: float = 0.0
    radar_lon: float = 0.0
    due_s: float | None = None        # the one pending timer that counts
    alert: Alert | None = None
    judged_s: float = float("-inf")     # the silence starting at this report was judged


class AisGap:
    types = ("ais_gap",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.vessels: dict[int, _Vessel] = {}

    def on_obs(self, obs: Observation) -> None:
        if obs.kind != "ais_position" or obs.mmsi is None or obs.lat is None or not_a_vessel(obs.mmsi):
            return
        v = self.vessels.get(obs.mmsi)
        if v is None:
            v = self.vessels[obs.mmsi] = _Vessel()
        if v.times and obs.time_s <= v.last_s:
            return  # older than what we know: says nothing about the current silence
        keep, had = False, v.alert is not None
        if had:
            if obs.time_s < v.alert.time_s:
                keep = self._late(obs, v)
            else:
                gap = obs.time_s - v.last_s
                self.ctx.book.close(v.alert, obs.time_s, f"AIS resumed after {minutes(gap)} silence",
                                    gap_s=round(gap), resumed_lat=obs.lat, resumed_lon=obs.lon)
                v.alert = None
        v.times.append(obs.time_s)
        v.last_s, v.lat, v.lon, v.sensor = obs.time_s, obs.lat, obs.lon, obs.sensor_id
        v.sog_kn, v.cog_deg = obs.sog_kn or 0.0, obs.cog_deg or 0.0
        if keep:
            v.judged_s = obs.time_s
        if had and not keep:
            v.due_s = None   # the pending timer was for closing the episode: start watching again
        if v.due_s is None:
            self._arm(obs.mmsi, obs.time_s + self.cfg.ais_gap_s)

    def on_line(self, line: TrackLine) -> None:
        if line.mmsi is None:
            return
        v = self.vessels.get(line.mmsi)
        if v is None:
            return
        v.track_id = line.track_id
        if line.status == "lost":
            if v.alert is not None and v.alert.severity == self.cfg.severity["ais_gap_radar"]:
                self.ctx.book.update(v.alert, line.time_s, severity=self.cfg.severity["ais_gap"],
                                     summary=f"AIS silent since {minutes(line.time_s - v.last_s)} ago; "
                                             "radar has lost the vessel too", radar_lost_s=line.time_s)
            return
        if "radar" in line.sources:
            v.radar_s, v.radar_lat, v.radar_lon = line.time_s, line.lat, line.lon
            if v.alert is not None and v.alert.severity != self.cfg.severity["ais_gap_radar"] \
                    and line.time_s > v.last_s:
                self.ctx.book.update(v.alert, line.time_s, severity=self.cfg.severity["ais_gap_radar"],
                                     summary=self._summary(line.time_s - v.last_s, True),
                                     lat=line.lat, lon=line.lon, sensors=line.sensors, radar_holds=True,
                                     radar_s=line.time_s)

    # ------------------------------------------------------------------ timers
    def _due(self, mmsi: int, due_s: float) -> None:
        v = self.vessels.get(mmsi)
        if v is None or v.due_s != due_s:
            return  # superseded by a newer timer
        v.due_s = None
        cfg = self.cfg
        silence = due_s - v.last_s
        if v.alert is not None:
            if silence >= cfg.ais_gap_close_after_s:
                self.ctx.book.close(v.alert, due_s, f"No AIS for {minutes(silence)}; episode closed",
                                    gap_s=round(silence))
                del self.vessels[mmsi]
            else:
                self._arm(mmsi, v.last_s + cfg.ais_gap_close_after_s)
            return
        if silence < cfg.ais_gap_s:
            self._arm(mmsi, v.last_s + cfg.ais_gap_s)
            return
        if v.judged_s != v.last_s:
            retry = self._judge(mmsi, v, due_s, silence)
            if retry is not None and retry < v.last_s + cfg.ais_gap_close_after_s:
                self._arm(mmsi, retry)   # not yet heard-able long enough: judged again then
                return
            v.judged_s = v.last_s
        if v.alert is None and silence >= cfg.ais_gap_close_after_s:
            del self.vessels[mmsi]   # forget vessels long gone
        else:
            self._arm(mmsi, v.last_s + cfg.ais_gap_close_after_s)

    def _arm(self, mmsi: int, due_s: float) -> None:
        self.vessels[mmsi].due_s = due_s
        self.ctx.timers.at(due_s, partial(self._due, mmsi))

    def _judge(self, mmsi: int, v: _Vessel, now_s: float, silence: float) -> float | None:
        """Open the alert when the silence counts; the feed time to judge again at when the
        vessel has not yet been inside coverage for ``ais_gap_s`` of it (else None)."""
        cfg, geo = self.cfg, self.ctx.geo
        n = len(v.times)
        if n < cfg.ais_gap_min_reports or (v.times[-1] - v.times[0]) / (n - 1) > cfg.ais_gap_regular_interval_s:
            return
        radar = v.radar_s > v.last_s and now_s - v.radar_s <= cfg.ais_gap_radar_fresh_s
        if not radar and mmsi in self.ctx.__dict__.get("forged_mmsis", ()):
            return  # named as maybe forged (``single_station``): its silence is not a vessel going dark
        lat, lon = (v.radar_lat, v.radar_lon) if radar else (v.lat, v.lon)
        if not geo.in_aoi(lat, lon):
            return
        margin = cfg.ais_gap_edge_margin
        if not radar and v.sog_kn > 0.5 and geo.receivers:
            # where dead reckoning from the last report has taken it: a ship that steamed out of
            # every receiver's range has not gone silent, it has gone out of earshot; one that
            # crossed a hole between two ranges, or steamed in, counts from when it could be heard
            heard_s = self._covered_s(v, silence)
            covered = heard_s >= cfg.ais_gap_s - _PATH_STEP_S
            if not covered and silence < _DR_HORIZON_S:
                return now_s + max(_PATH_STEP_S, cfg.ais_gap_s - heard_s)
        else:
            covered = geo.in_coverage(lat, lon, margin)
        if covered is None:
            covered = cfg.ais_gap_assume_coverage_without_receivers
        severity = cfg.severity["ais_gap_radar" if radar else "ais_gap"]
        summary = self._summary(silence, radar)
        if not covered:
            if cfg.ais_gap_uncovered_severity is None:
                return
            severity = cfg.ais_gap_uncovered_severity
            summary += " (outside known AIS receiver coverage)"
        v.alert = self.ctx.book.open(
            "ais_gap", severity, now_s, summary, track_id=v.track_id, mmsi=mmsi, lat=lat, lon=lon,
            evidence={"last_ais_s": v.last_s, "last_ais_lat": v.lat, "last_ais_lon": v.lon,
                      "silence_s": round(silence), "radar_holds": radar,
                      "radar_s": v.radar_s if radar else None, "in_coverage": bool(covered),
                      "reports_before": n, "mean_interval_s": round((v.times[-1] - v.times[0]) / (n - 1), 1),
                      "releasability": self.ctx.releasability(self._sensors(v, radar))})

    def _sensors(self, v: "_Vessel", radar: bool) -> list[str]:
        """The AIS station that heard the vessel and, when radar holds it, the track's sensors."""
        line = self.ctx.lines.get(v.track_id) if radar and v.track_id is not None else None
        return [v.sensor, *line.sensors] if line is not None else [v.sensor]

    def _late(self, obs: Observation, v: _Vessel) -> bool:
        """A report (arriving late) from inside an open gap: shorten the gap or retract it.
        Returns True when the alert stays open."""
        a = v.alert
        assert a is not None
        remaining = self.ctx.now_s - obs.time_s
        if remaining < self.cfg.ais_gap_s:
            self.ctx.book.retract(a, self.ctx.now_s, f"a late AIS report via {obs.sensor_id} shows the "
                                  f"vessel reporting {minutes(obs.time_s - v.last_s)} into the supposed "
                                  "silence", late_report_s=obs.time_s)
            v.alert = None
            return False
        self.ctx.book.update(a, self.ctx.now_s, summary=self._summary(remaining, bool(a.evidence["radar_holds"])),
                             last_ais_s=obs.time_s, silence_s=round(remaining),
                             last_ais_lat=obs.lat, last_ais_lon=obs.lon)
        return True

    def _covered_s(self, v: _Vessel, silence: float) -> float:
        """How long of the silence the vessel spent inside some receiver's range, dead-reckoned
        from its last report (sampled every ``_PATH_STEP_S``)."""
        n = max(1, math.ceil(silence / _PATH_STEP_S))
        step = silence / n
        margin = self.cfg.ais_gap_edge_margin
        inside = sum(1 for k in range(n)
                     if self.ctx.geo.in_coverage(*self._dead_reckoned(v, (k + 0.5) * step), margin))
        return inside * step

    @staticmethod
    def _dead_reckoned(v: _Vessel, silence: float) -> tuple[float, float]:
        d = v.sog_kn * KN_TO_MS * silence
        return from_local(v.lat, v.lon, d * math.sin(math.radians(v.cog_deg)), d * math.cos(math.radians(v.cog_deg)))

    @staticmethod
    def _summary(silence: float, radar: bool) -> str:
        if radar:
            return f"AIS silent {minutes(silence)} while radar still holds the vessel"
        return f"AIS silent {minutes(silence)} inside receiver coverage; no radar contact"
