"""The AIS path: position reports join their vessel's track; static reports name it.

An MMSI is an attribute of a track, not its id.  A position report (``_ais``):

1. is dropped as an *echo* when one of its MMSI's tracks already has the same report
   (time, position) through another station;
2. joins the MMSI's track it is kinematically consistent with, else a radar-only track
   it lands on (adoption) when the MMSI has no track (``ais_association``);
3. else starts a track (``lifecycle.Lifecycle._first_report``): an inconsistent report
   opens a second track of the MMSI, so a clash stays visible.

A report that joins a track recently held by radar is first checked against it
(``_check_conflict``: an ``AisRadarConflict`` when far outside its gate).  Reports are
queued during ``update`` and applied in arrival order by ``_flush_ais``; the simple ones
go through the batch update (``ais_batch``).  A report older than the live window is
handled by ``_late_ais``.  Static reports (``_static``) refresh the MMSI's identity table
(``_identity``) and rename its tracks.

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes).
"""

from __future__ import annotations

import math

from .geodesy import from_local, m_per_deg, velocity_from_course
from .identity import flag_of
from .model import AisRadarConflict, Observation, TrackLine
from .reporting import reporting_interval_s
from .state_table import _LIVE
from .track import AIS, Track

_RECENT_AIS = 16         # AIS fixes remembered per track to recognise echoes via other stations


def _remember(recent: tuple[int, ...], key: tuple[float, float, float]) -> tuple[int, ...]:
    """``recent`` with ``key`` among the track's last ``_RECENT_AIS`` reports (to recognise
    echoes), as the key's hash: sixteen (time, lat, lon) keys in a dict were about 3 kB of every
    AIS track, sixteen ints in a tuple are about 0.7 kB.  Floats hash the same in every process
    (no salt), so a checkpoint keeps them; two fixes with one 64-bit hash are 1 in 2**64."""
    return (recent + (hash(key),))[-_RECENT_AIS:]


class AisPath:
    """AIS position and static reports."""

    def _flush_ais(self) -> None:
        """Apply the queued AIS position reports, in arrival order as far as it matters.

        A report whose MMSI has one track and no other report in the queue, with course
        and speed, not an echo and consistent with the track, is applied with the others
        like it in one NumPy pass (``ais_batch``: the algebra of ``Track.update`` with a
        velocity); the rest go through ``_ais`` one by one, in order.  Called before
        anything that reads tracks (a scan, housekeeping, an ARPA or static report) and at
        the end of ``update``."""
        queue = self._ais_q[:]
        self._ais_q.clear()  # the same list: ``update`` holds it
        batch = self._batchable(queue) if len(queue) >= 8 else []
        if not batch:
            for obs in queue:
                self._ais(obs)
            return
        # the batch's states at once; then everything in arrival order (the same tracks,
        # numbers, schedule and lines as one by one, however the feed was cut into calls)
        done = self._apply_ais(batch)
        k, n = 0, len(batch)
        for obs in queue:
            if k < n and batch[k][1] is obs:
                done(k)
                k += 1
            else:
                self._ais(obs)

    def _ais(self, obs: Observation) -> Track | None:
        """Apply one AIS position report; the track it fed (None for an echo)."""
        cfg = self.config
        tracks = self.by_mmsi.get(obs.mmsi)  # type: ignore[arg-type]
        key = (obs.time_s, obs.lat, obs.lon)
        track = None
        if tracks:
            seen = hash(key)
            if any(seen in t.recent_ais for t in tracks):  # same report via another station
                self.stats["echoes"] += 1
                return None
            track = self._consistent(tracks, obs)
        else:
            track = self._adoptable(obs)
            if track is not None:
                self._identify(track, obs.mmsi)  # type: ignore[arg-type]
        if track is None:
            return self._first_report(obs, key, resume=not tracks)
        velocity = None
        if obs.sog_kn is not None and obs.cog_deg is not None:
            ve, vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
            velocity = (ve, vn, cfg.ais_velocity_sigma_ms)
        if track.last_radar_s >= obs.time_s - cfg.source_window_s:
            self._check_conflict(track, obs)
        track.heard(obs.station or obs.sensor_id, obs.time_s)
        self._apply(track, obs, velocity, True)
        if track.last_ais is None or obs.time_s >= track.last_ais[0]:
            track.last_ais = key
            self._set_report_interval(track, obs)
        track.recent_ais = _remember(track.recent_ais, key)
        return track

    def _late_ais(self, obs: Observation) -> None:
        """An AIS report older than the live window: it updates its vessel's track if nothing
        newer is known of the vessel, else it is a history point of the newest track."""
        self.stats["too_late"] += 1
        if self._ais_q:
            self._flush_ais()
        newest = max(self.by_mmsi.get(obs.mmsi, ()), key=lambda t: t.time_s, default=None)  # type: ignore[arg-type]
        if newest is None or newest.time_s < obs.time_s:
            track = self._ais(obs)
            if track is not None:
                track.late_fed_s = self.now_s
                self.stats["late_applied"] += 1
                self._schedule(track)
            return
        key = (obs.time_s, obs.lat, obs.lon)
        if hash(key) in newest.recent_ais:
            self.stats["echoes"] += 1
            return
        self.stats["late_history"] += 1
        newest.recent_ais = _remember(newest.recent_ais, key)
        if newest.status != "tentative" or self.config.publish_tentative:
            self._out.append(TrackLine(
                newest.track_id, obs.time_s, obs.lat, obs.lon, obs.sog_kn or 0.0, obs.cog_deg or 0.0,  # type: ignore[arg-type]
                obs.sigma_m, newest.mmsi, newest.name, newest.flag, newest.ship_type, AIS,
                newest.status, (obs.sensor_id,), late=True))  # type: ignore[arg-type]

    def _set_report_interval(self, track: Track, obs: Observation) -> None:
        """The nominal reporting interval of the vessel (ITU-R M.1371) from its latest report."""
        report_s = reporting_interval_s(obs.ais_class, obs.sog_kn, obs.nav_status)
        if report_s != track.report_s:
            track.report_s = report_s
            self._schedule(track)

    def _check_conflict(self, track: Track, obs: Observation) -> None:
        """Record an AIS fix far outside the gate of its radar-held track (before it is applied)."""
        cfg = self.config
        dt = obs.time_s - track.time_s
        kx, ky = m_per_deg(track.lat)
        ye = (obs.lon - track.lon) * kx - track.ve * dt  # type: ignore[operator]
        yn = (obs.lat - track.lat) * ky - track.vn * dt  # type: ignore[operator]
        if ye * ye + yn * yn <= cfg.ais_conflict_min_m ** 2:  # the common case: near the track
            return
        ye, yn, var = track.innovation(obs.lat, obs.lon, obs.time_s, cfg.accel_psd_m2_s3,  # type: ignore[arg-type]
                                       cfg.manoeuvre_tau_s)
        d2 = ye * ye + yn * yn
        nis = d2 / (var + obs.sigma_m * obs.sigma_m)
        if nis <= cfg.ais_conflict_chi2 or d2 <= cfg.ais_conflict_min_m ** 2:
            return
        self.stats["ais_radar_conflicts"] += 1
        lat, lon = from_local(obs.lat, obs.lon, -ye, -yn)  # type: ignore[arg-type]
        self.conflicts.append(AisRadarConflict(
            track.track_id, obs.mmsi, obs.time_s, obs.lat, obs.lon, lat, lon, math.sqrt(d2), nis,  # type: ignore[arg-type]
            track.last_radar_s, obs.sensor_id, obs.station))
        if len(self.conflicts) > 10_000:
            del self.conflicts[:-10_000]

    # ------------------------------------------------------------------ identity
    def _static(self, obs: Observation) -> None:
        """A static report: the MMSI's identity refreshed, its tracks renamed and republished."""
        if obs.mmsi is None:
            return
        if self._ais_q:
            self._flush_ais()
        ident = self._identity(obs.mmsi, obs.time_s)
        for key in ("name", "ship_type", "callsign", "imo"):
            value = getattr(obs, key)
            if value not in (None, ""):
                ident[key] = value
        cfg = self.config
        for t in self.by_mmsi.get(obs.mmsi, []):
            name = ident.get("name", t.name)
            ship_type = ident.get("ship_type", t.ship_type)
            if name == t.name and ship_type == t.ship_type:
                continue
            t.name = name  # type: ignore[assignment]
            t.ship_type = ship_type  # type: ignore[assignment]
            if t.status in _LIVE or cfg.publish_tentative:
                # publish the new identity now (at the track's own time: never back in time)
                self._out.append(t.current_line(cfg.source_window_s))

    def _identity(self, mmsi: int, time_s: float) -> dict[str, object]:
        """The static data of an MMSI, refreshed at ``time_s``; forgets those silent for
        ``identity_keep_s`` (the table is in order of the latest report: only they are looked at)."""
        ident = self.identities.pop(mmsi, None) or {}
        ident["seen_s"] = max(time_s, ident.get("seen_s", time_s))  # type: ignore[type-var]
        self.identities[mmsi] = ident
        cutoff = time_s - self.config.identity_keep_s
        while True:
            first = next(iter(self.identities))
            seen_s = self.identities[first].get("seen_s")
            if seen_s is None:  # restored from before identities aged: counts as heard now
                self.identities[first] = {**self.identities.pop(first), "seen_s": time_s}
            elif seen_s >= cutoff:  # type: ignore[operator]
                return ident
            else:
                del self.identities[first]

    def _identify(self, track: Track, mmsi: int) -> None:
        """Give a track its MMSI (and the MMSI's flag and static data)."""
        track.mmsi = mmsi
        track.flag = flag_of(mmsi)
        ident = self.identities.get(mmsi, {})
        track.name = ident.get("name")  # type: ignore[assignment]
        track.ship_type = ident.get("ship_type")  # type: ignore[assignment]
        self.by_mmsi.setdefault(mmsi, []).append(track)
        self._ident[track.slot] = True
