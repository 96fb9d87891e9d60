"""Track lifecycle: when a track starts, when it is confirmed, when it coasts and is dropped.

What this part decides (the rules another engineer tunes are all here):

* **Initiation.**  A radar plot no track took starts a *tentative* track that needs
  ``confirm_hits`` hits within ``confirm_scans`` scan periods (``_start_radar_track``).  An
  AIS report no track of its MMSI can take (``_first_report``) continues the MMSI's lost
  track under its old id when the vessel can have got here since (``_resumable``), else
  starts a track published at once when the position is plausible for its receiver
  (``_plausible``), else one needing ``ais_confirm_reports`` reports.
* **Confirmation.**  Every associated fix counts a hit (``_on_hit``): enough hits confirm a
  tentative track, a coasting track heard again is confirmed again.
* **Deletion.**  A track silent for longer than its (observed or nominal) reporting
  interval allows coasts, then is published once as ``lost`` and dropped (``_age``); a
  radar-only track is also lost after ``radar_lost_after_scans`` consecutive missed scans of
  a radar that covers it (``_missed_scans_out``); a
  tentative track whose window ends unconfirmed is dropped silently.  A lost identified
  track is remembered (``_retire``) so its vessel re-heard continues it.

``_apply`` is the scalar update of one track by one associated fix (``Track.update``); the
batch updates of a scan (``scan_update``) and of AIS reports (``ais_batch``) do the same
arithmetic on the state table and share ``_on_hit``.

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes).
"""

from __future__ import annotations

import math

from .geodesy import DEG, KN_TO_MS, M_PER_DEG_LAT, velocity_from_course
from .imm import MU
from .model import Observation
from .state_table import _LIVE
from .track import Track

# a radar-only track's own detection probability decides its loss once it has this many plots
RADAR_PD_MIN_HITS = 20
# below this many plots a radar-only track is young: the accepted chance of losing it by missed
# scans is ``radar_young_false_loss_probability`` (clutter-made tracks and a neighbour's duplicates
# rarely gather ten plots on one course; measured at 6, 8, 10 and 20 in docs/benchmarks.md)
RADAR_YOUNG_HITS = 10


class Lifecycle:
    """Initiation, confirmation and deletion of tracks."""

    # --------------------------------------------------------------- initiation
    def _new_track(self, obs: Observation, confirm_hits: int, window_s: float,
                   interval_s: float, track_id: str | None = None) -> Track:
        """A track started by ``obs``, registered, in the table and on the schedule."""
        cfg = self.config
        track = Track(
            track_id=track_id or f"T{self._next_id}", lat=obs.lat, lon=obs.lon, time_s=obs.time_s,  # type: ignore[arg-type]
            a=obs.sigma_m ** 2, b=0.0, c=cfg.init_speed_sigma_ms ** 2, created_s=obs.time_s,
            confirm_by_s=obs.time_s + window_s, interval_s=interval_s,
        )
        if obs.kind.startswith("ais"):
            track.last_ais_s = obs.time_s
        else:
            track.last_radar_s = obs.time_s
        track.feeders = {obs.sensor_id: obs.time_s}
        track.fixes = {obs.sensor_id: (obs.time_s, obs.lat, obs.lon, obs.sog_kn, obs.cog_deg)}  # type: ignore[dict-item]
        if obs.sog_kn is not None and obs.cog_deg is not None:
            track.ve, track.vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
        track.hits = 1
        track.confirm_hits = confirm_hits
        track.status = "confirmed" if confirm_hits <= 1 else "tentative"
        if track_id is None:
            self._next_id += 1
        self.tracks[track.track_id] = track
        self._claim_column(track)
        self._schedule(track)
        return track

    def _start_radar_track(self, plot: Observation, velocity: tuple[float, float, float] | None,
                           period: float) -> Track:
        """A tentative track for a plot no track took: ``confirm_hits`` within ``confirm_scans``."""
        cfg = self.config
        track = self._new_track(plot, confirm_hits=cfg.confirm_hits,
                                window_s=(cfg.confirm_scans + 0.5) * period, interval_s=period)
        if velocity:
            track.ve, track.vn = velocity[0], velocity[1]
        return track

    def _first_report(self, obs: Observation, key: tuple[float, float, float], resume: bool) -> Track:
        """A track for a report no track of its MMSI can take: published at once when the
        report is plausible for its receiver (else after ``ais_confirm_reports``); the MMSI's
        lost track continues (same id) when the vessel can have got here since (``_resume``)."""
        cfg = self.config
        old = self._resumable(obs) if resume else None
        if old is not None:
            gap = obs.time_s - old.time_s
            track = self._new_track(obs, 1, 0.0, max(old.interval_s, 0.8 * old.interval_s + 0.2 * gap),
                                    track_id=old.track_id)
            track.created_s, track.reports, track.heard_by = old.created_s, old.reports, old.heard_by
        elif self._plausible(obs):
            track = self._new_track(obs, confirm_hits=1, window_s=0.0, interval_s=10.0)
        else:
            track = self._new_track(obs, confirm_hits=cfg.ais_confirm_reports,
                                    window_s=cfg.ais_confirm_window_s, interval_s=10.0)
        self._identify(track, obs.mmsi)  # type: ignore[arg-type]
        track.last_ais = key
        track.recent_ais = (hash(key),)  # as ais_path._remember keeps them
        track.heard(obs.station or obs.sensor_id, obs.time_s)
        self._set_report_interval(track, obs)
        self._emit_if_live(track)
        return track

    def _plausible(self, obs: Observation) -> bool:
        """A position its receiver can have heard: within ``ais_receiver_range_factor`` times
        the registered range of the AIS sensor (unregistered sensors: no limit)."""
        sensor = self.sensors.get(obs.sensor_id)
        if sensor is None or sensor.kind != "ais" or not sensor.range_m > 0.0:
            return True
        dy = (obs.lat - sensor.lat) * M_PER_DEG_LAT  # type: ignore[operator]
        dx = (obs.lon - sensor.lon) * M_PER_DEG_LAT * math.cos(sensor.lat * DEG)  # type: ignore[operator]
        reach = self.config.ais_receiver_range_factor * sensor.range_m
        return dx * dx + dy * dy <= reach * reach

    def _resumable(self, obs: Observation) -> Track | None:
        """The MMSI's lost track, if the vessel can have got from its last AIS fix to this one."""
        old = self._retired.get(obs.mmsi)  # type: ignore[arg-type]
        if old is None:
            return None
        cfg = self.config
        ref_t, ref_lat, ref_lon = old.last_ais or (old.time_s, old.lat, old.lon)
        gap = obs.time_s - ref_t
        if not 0.0 <= gap <= cfg.ais_resume_s:
            return None
        reach = cfg.ais_jump_slack_m + cfg.ais_max_speed_kn * KN_TO_MS * gap
        dy = (obs.lat - ref_lat) * M_PER_DEG_LAT  # type: ignore[operator]
        dx = (obs.lon - ref_lon) * M_PER_DEG_LAT * math.cos(obs.lat * DEG)  # type: ignore[operator]
        if dx * dx + dy * dy > reach * reach:
            return None
        del self._retired[obs.mmsi]  # type: ignore[arg-type]
        return old

    # --------------------------------------------------- update and confirmation
    def _apply(self, track: Track, obs: Observation,
               velocity: tuple[float, float, float] | None, ais: bool) -> None:
        """Update a track with an associated fix, confirm it, publish it."""
        cfg = self.config
        t = obs.time_s
        if t < track.time_s:
            self.stats["out_of_sequence"] += 1
        track.update(obs.lat, obs.lon, obs.sigma_m, t, cfg.accel_psd_m2_s3, velocity,  # type: ignore[arg-type]
                     cfg.manoeuvre_nis, cfg.manoeuvre_boost, cfg.manoeuvre_q_max, cfg.manoeuvre_tau_s,
                     cfg.manoeuvre_memory)
        self._models[MU, track.slot] = -1.0  # the combined state only: the IMM models restart from it
        if ais:
            if t > track.last_ais_s:
                track.last_ais_s = t
        elif t > track.last_radar_s:
            track.last_radar_s = t
        track.feed(obs.sensor_id, t)
        track.fix(obs.sensor_id, t, obs.lat, obs.lon, obs.sog_kn, obs.cog_deg)  # type: ignore[arg-type]
        self._on_hit(track)
        self._dirty[track.slot] = track
        if track.status != "tentative" or cfg.publish_tentative:
            self._out.append(track.current_line(cfg.source_window_s))

    def _on_hit(self, track: Track) -> bool:
        """Count an associated fix: a tentative track with ``confirm_hits`` hits is confirmed, a
        coasting one is confirmed again; the deadline follows.  True when the status changed."""
        track.hits += 1
        status = track.status
        if status == "tentative":
            if track.hits >= track.confirm_hits:
                track.status = "confirmed"
                self._schedule(track)
                return True
        elif status == "coasting":
            track.status = "confirmed"
            self._schedule(track)
            return True
        elif track.interval_s > 10.0:  # a shrinking long interval can bring the coast deadline forward
            self._schedule(track)
        return False

    def _emit_if_live(self, track: Track) -> None:
        if track.status in _LIVE or self.config.publish_tentative:
            cfg = self.config
            self._out.append(track.line(track.time_s, cfg.accel_psd_m2_s3, cfg.source_window_s))

    # ----------------------------------------------------------------- deletion
    def _age(self, track: Track) -> None:
        """A due track: a tentative one past its window is dropped; a silent one coasts, then is lost."""
        # a track fed late ages from when it was fed, and is published in its feed's time
        cfg, silence = self.config, self.now_s - max(track.time_s, track.late_fed_s)
        at_s = min(self.now_s, track.time_s + silence)
        if track.status == "tentative":
            if self.now_s > track.confirm_by_s + max(0.0, track.late_fed_s - track.time_s):
                self._drop(track)
            return
        # an identified track: the longer of its observed and its nominal reporting interval
        interval = track.interval_s if track.interval_s >= track.report_s else track.report_s
        floor = cfg.ais_lost_min_s if track.mmsi is not None else cfg.radar_lost_min_s
        if silence > max(cfg.lost_after_intervals * interval, floor) or (
                track.mmsi is None and self._missed_scans_out(track)):
            self._out.append(track.line(at_s, cfg.accel_psd_m2_s3, cfg.source_window_s, "lost",
                                        cfg.manoeuvre_tau_s))
            self._drop(track)
            if track.mmsi is not None:
                self._retire(track)
        elif track.status == "confirmed" and silence > max(
                cfg.coast_after_intervals * interval, cfg.coast_min_s):
            track.status = "coasting"
            self._dirty[track.slot] = track
            self._out.append(track.line(at_s, cfg.accel_psd_m2_s3, cfg.source_window_s, None,
                                        cfg.manoeuvre_tau_s))

    def _radar_deadline(self, track: Track) -> tuple[float, float] | None:
        """For a radar-only track: when it has missed ``radar_lost_after_scans`` scans of the
        slowest registered radar that fed it (half a period of slack), and that period."""
        if track.mmsi is not None or not track.feeders:
            return None
        period = 0.0
        for sid in track.feeders:
            sensor = self.sensors.get(sid)
            if sensor is not None and sensor.kind == "radar" and sensor.scan_period_s > period:
                period = sensor.scan_period_s
        if period <= 0.0:
            return None
        n = self._lost_after_scans(track, period)
        return max(track.last_radar_s, track.late_fed_s) + (n + 0.5) * period, period

    def _lost_after_scans(self, track: Track, period: float) -> int:
        """``radar_lost_after_scans`` for this track's own detection probability once it has
        ``RADAR_PD_MIN_HITS`` plots (its plots over the scans since its first one); before that,
        the nominal ``radar_detection_probability``, and below ``RADAR_YOUNG_HITS`` plots the
        young track's accepted loss (``radar_young_lost_after_scans``).  A small boat at long
        range that a radar has held for minutes seeing it one scan in two is kept for ~20
        misses, not 6; a young track, which is where clutter and duplicates live, is dropped
        after 5."""
        cfg = self.config
        if track.hits < RADAR_YOUNG_HITS:
            return cfg.radar_young_lost_after_scans
        if track.hits < RADAR_PD_MIN_HITS:
            return cfg.radar_lost_after_scans
        scans = max(1.0, (max(track.last_radar_s, track.late_fed_s) - track.created_s) / period + 1.0)
        return cfg.lost_after_scans(min(cfg.radar_detection_probability, track.hits / scans))

    def _missed_scans_out(self, track: Track) -> bool:
        """A radar-only track that ``radar_lost_after_scans`` consecutive scans of a radar that
        fed it and covers it brought no plot: the radar scanned all through the silence (its
        last scan is at least N − ½ periods after the track's last plot) and the track's last
        position lies within the (fixed) radar's registered ``range_m``.  A track out of every such
        radar's reach, or whose radar stopped scanning, keeps the time floors."""
        deadline = self._radar_deadline(track)
        if deadline is None or self.now_s <= deadline[0]:
            return False
        n = self._lost_after_scans(track, deadline[1])
        heard = max(track.last_radar_s, track.late_fed_s)
        for sid in track.feeders:  # type: ignore[union-attr]
            sensor = self.sensors.get(sid)
            if sensor is None or sensor.kind != "radar" or sensor.platform != "terrestrial":
                continue  # (a moving radar's reach is not known here: the time floors apply)
            if self._radar_scan_s.get(sid, -math.inf) < heard + (n - 0.5) * sensor.scan_period_s:
                continue
            dy = (track.lat - sensor.lat) * M_PER_DEG_LAT
            dx = (track.lon - sensor.lon) * M_PER_DEG_LAT * math.cos(sensor.lat * DEG)
            if dx * dx + dy * dy <= sensor.range_m * sensor.range_m:
                return True
        return False

    def _retire(self, track: Track) -> None:
        """Remember a lost identified track, so that its vessel re-heard continues it."""
        retired = self._retired
        retired.pop(track.mmsi, None)  # type: ignore[arg-type]
        retired[track.mmsi] = track  # type: ignore[index]
        while len(retired) > self.config.ais_resume_max:
            retired.popitem(last=False)

    def _drop(self, track: Track) -> None:
        """Forget a track: its id, its ARPA bindings, its column, its place among its MMSI's tracks."""
        del self.tracks[track.track_id]
        track.alive = False
        if track.arpa:
            self._unbind_all(track)
        self._release_column(track)
        if track.mmsi is not None:
            twins = self.by_mmsi.get(track.mmsi, [])
            if track in twins:
                twins.remove(track)
            if not twins:
                self.by_mmsi.pop(track.mmsi, None)
