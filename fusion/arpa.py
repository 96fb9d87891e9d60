"""ARPA targets: tracks a radar already formed itself, each bound to one fused track.

What this part decides: the first report of a target (sensor, local id) binds it to the
track it gates with (``_bindable``: radar-only or identified, tentative ones too, not
held by another target of that sensor), else starts a confirmed track; later reports
update that track directly.  A report far outside the bound track's gate (four times
``gate_chi2``: the radar reused the id) binds afresh.  While a radar's target holds a
track, that radar's own plots of the vessel are absorbed by the track without updating
it (``_absorbed``: they are what the target was made from).

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes; ``_arpa`` maps
(sensor id, target id) to the track, ``Track.arpa`` the other way).
"""

from __future__ import annotations

from .geodesy import velocity_from_course
from .model import Observation
from .track import Track


class ArpaTargets:
    """Sensor-level tracked targets bound to fused tracks."""

    def _arpa_target(self, obs: Observation) -> None:
        """A sensor-level tracked target: bound to one fused track, which it updates."""
        cfg = self.config
        if obs.time_s < self.now_s - cfg.late_window_s:
            self.stats["too_late"] += 1
            return
        if self._ais_q:
            self._flush_ais()
        key = (obs.sensor_id, obs.local_id)
        track = self._bound_track(key, obs)  # type: ignore[arg-type]
        if track is None:
            track = self._bindable(obs)
            if track is None:
                track = self._new_track(obs, confirm_hits=1, window_s=0.0,
                                        interval_s=self._scan_period(obs.sensor_id))
                self._bind(key, track, obs.time_s)  # type: ignore[arg-type]
                self._emit_if_live(track)
                return
            self._bind(key, track, obs.time_s)  # type: ignore[arg-type]
            if track.status == "tentative":
                track.confirm_hits = track.hits + 1  # the radar already confirmed the target
        else:
            track.arpa[obs.sensor_id] = (obs.local_id, max(obs.time_s, track.arpa[obs.sensor_id][1]))  # type: ignore[index,assignment]
        velocity = None
        if obs.sog_kn is not None and obs.cog_deg is not None:
            ve, vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
            velocity = (ve, vn, 1.0)
        self._apply(track, obs, velocity, False)

    def _bound_track(self, key: tuple[str, str], obs: Observation) -> Track | None:
        """The live track the target is bound to, unbound when dropped or when it jumped."""
        cfg = self.config
        track = self._arpa.get(key)
        if track is None:
            return None
        if track.alive:
            ye, yn, var = track.innovation(obs.lat, obs.lon, obs.time_s, cfg.accel_psd_m2_s3,  # type: ignore[arg-type]
                                           cfg.manoeuvre_tau_s)
            jumped = (ye * ye + yn * yn) / (var + obs.sigma_m ** 2) > 4.0 * cfg.gate_chi2
            if not jumped:
                return track
        self._unbind(key, track)
        return None

    def _bind(self, key: tuple[str, str], track: Track, time_s: float) -> None:
        if track.arpa is None:
            track.arpa = {}
        old = track.arpa.get(key[0])
        if old is not None and old[0] != key[1]:
            self._arpa.pop((key[0], old[0]), None)
        track.arpa[key[0]] = (key[1], time_s)
        self._arpa[key] = track

    def _unbind(self, key: tuple[str, str], track: Track) -> None:
        self._arpa.pop(key, None)
        if track.arpa is not None and track.arpa.get(key[0], ("",))[0] == key[1]:
            del track.arpa[key[0]]

    def _unbind_all(self, track: Track) -> None:
        """A dropped track's targets are free again."""
        for sensor_id, (local_id, _) in track.arpa.items():  # type: ignore[union-attr]
            if self._arpa.get((sensor_id, local_id)) is track:
                del self._arpa[(sensor_id, local_id)]

    def _bindable(self, obs: Observation) -> Track | None:
        """The track (any, not held by another target of this sensor) a new ARPA target gates with."""
        cfg = self.config
        best, best_d2 = None, cfg.gate_chi2
        for row in self._near_columns(obs, radar_only=False):
            t = self._rows[row]
            if t.arpa and obs.sensor_id in t.arpa:  # type: ignore[union-attr]
                continue
            ye, yn, var = t.innovation(obs.lat, obs.lon, obs.time_s, cfg.accel_psd_m2_s3, cfg.manoeuvre_tau_s)  # type: ignore[union-attr,arg-type]
            d2 = (ye * ye + yn * yn) / (var + obs.sigma_m ** 2)
            if d2 < best_d2 and self._same_motion(t, obs):  # type: ignore[arg-type]
                best, best_d2 = t, d2
        return best

    def _absorbed(self, plots: list[Observation], assigned: dict[int, int], period: float) -> None:
        """Drop from ``assigned`` the plots whose track is held by an ARPA target of their radar."""
        rows = self._rows
        for i, row in list(assigned.items()):
            held = rows[row].arpa  # type: ignore[union-attr]
            if held:
                plot = plots[i]
                target = held.get(plot.sensor_id)
                if target is not None and plot.time_s - target[1] <= 3.0 * period:
                    del assigned[i]
