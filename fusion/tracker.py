"""The multi-sensor tracker: one push call, ``update(observations)``.

AIS position reports join their MMSI's track after a kinematic consistency
check (an MMSI is an attribute, not the track id: an inconsistent report opens
a second track, so clashes stay visible).  Radar plots are buffered per sensor
for one scan, gated against nearby tracks of any kind and associated by global
nearest neighbour; unassociated plots start tentative tracks confirmed after M
hits within N scans.  A new MMSI first tries to adopt a radar-only track at its
position; radar-only tracks that keep agreeing with an identified track are
merged into it.  Silent tracks coast, then are published once as ``lost`` and
dropped.  Time only advances with the observations' own timestamps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from .association import assign, gated_pairs
from .config import TrackerConfig
from .geodesy import KN_TO_MS, distance_m, velocity_from_course
from .grid import TrackGrid
from .identity import flag_of
from .model import Observation, Sensor, TrackLine
from .track import Track

_LIVE = ("confirmed", "coasting")


class Tracker:
    def __init__(self, sensors: Mapping[str, Sensor] | None = None,
                 config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.sensors = sensors if sensors is not None else {}  # shared: sensors registered later are seen
        self.tracks: dict[str, Track] = {}
        self.by_mmsi: dict[int, list[Track]] = {}
        self.identities: dict[int, dict[str, object]] = {}
        self.grid = TrackGrid(self.config.cell_deg)
        self.now_s = -math.inf
        self._next_id = 1
        self._pending: dict[str, list[Observation]] = {}
        self._housekept_s = -math.inf
        self._out: list[TrackLine] = []

    # ----------------------------------------------------------------- push API
    def update(self, observations: Iterable[Observation]) -> list[TrackLine]:
        """Take observations (in time order, ideally) and return the track lines they caused."""
        for obs in observations:
            if obs.time_s > self.now_s:
                self.now_s = obs.time_s
            if obs.kind == "ais_position":
                self._ais(obs)
            elif obs.kind == "radar_plot" or obs.kind == "radar_track":
                self._buffer(obs)
            elif obs.kind == "ais_static":
                self._static(obs)
            if self.now_s - self._housekept_s >= self.config.housekeeping_s:
                self._housekeep()
        return self._drain()

    def advance(self, time_s: float) -> list[TrackLine]:
        """Let feed time pass with no data: finish scans, coast and drop silent tracks."""
        self.now_s = max(self.now_s, time_s)
        self._housekeep()
        return self._drain()

    def flush(self) -> list[TrackLine]:
        """End of feed: process every buffered scan."""
        for sensor_id in list(self._pending):
            self._scan(self._pending.pop(sensor_id))
        return self._drain()

    def snapshot(self, time_s: float) -> list[TrackLine]:
        """Every live confirmed track, predicted to ``time_s``."""
        cfg = self.config
        return [t.line(time_s, cfg.accel_psd_m2_s3, cfg.source_window_s)
                for t in self.tracks.values() if t.status in _LIVE]

    # ---------------------------------------------------------------------- AIS
    def _ais(self, obs: Observation) -> None:
        assert obs.mmsi is not None and obs.lat is not None and obs.lon is not None
        tracks = self.by_mmsi.get(obs.mmsi, [])
        for t in tracks:
            if t.last_ais == (obs.time_s, obs.lat, obs.lon):  # same report via another station
                return
        track = self._consistent(tracks, obs)
        if track is None and not tracks:
            track = self._adoptable(obs)
            if track is not None:
                self._identify(track, obs.mmsi)
        if track is None:
            track = self._new_track(obs, confirm_hits=self.config.ais_confirm_reports,
                                    window_s=self.config.ais_confirm_window_s, interval_s=10.0)
            self._identify(track, obs.mmsi)
            track.last_ais = (obs.time_s, obs.lat, obs.lon)
            self._emit_if_live(track)
            return
        velocity = None
        if obs.sog_kn is not None and obs.cog_deg is not None:
            ve, vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
            velocity = (ve, vn, self.config.ais_velocity_sigma_ms)
        self._apply(track, obs, velocity)
        track.last_ais = (obs.time_s, obs.lat, obs.lon)

    def _consistent(self, tracks: list[Track], obs: Observation) -> Track | None:
        """The MMSI's track this fix can belong to (reachable at ≤ max speed), nearest first."""
        cfg = self.config
        best, best_d = None, math.inf
        for t in tracks:
            ref_t, ref_lat, ref_lon = t.last_ais or (t.time_s, t.lat, t.lon)
            reach = cfg.ais_jump_slack_m + cfg.ais_max_speed_kn * KN_TO_MS * abs(obs.time_s - ref_t)
            if distance_m(ref_lat, ref_lon, obs.lat, obs.lon) > reach:  # type: ignore[arg-type]
                continue
            lat, lon, _ = t.predicted(obs.time_s, cfg.accel_psd_m2_s3)
            d = distance_m(lat, lon, obs.lat, obs.lon)  # type: ignore[arg-type]
            if d < best_d:
                best, best_d = t, d
        return best

    def _adoptable(self, obs: Observation) -> Track | None:
        """A radar-only track where a newly heard MMSI reports, if its kinematics agree."""
        cfg = self.config
        best, best_d2 = None, cfg.gate_chi2
        for t in self.grid.near(obs.lat, obs.lon):  # type: ignore[arg-type]
            if t.mmsi is not None:
                continue
            ye, yn, var = t.innovation(obs.lat, obs.lon, obs.time_s, cfg.accel_psd_m2_s3)  # type: ignore[arg-type]
            d2 = (ye * ye + yn * yn) / (var + obs.sigma_m ** 2)
            if d2 < best_d2 and self._same_motion(t, obs):
                best, best_d2 = t, d2
        return best

    def _same_motion(self, track: Track, obs: Observation) -> bool:
        if obs.sog_kn is None or obs.cog_deg is None or track.status == "tentative":
            return True
        ve, vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
        slack = 2.0 * math.sqrt(track.cov[2]) + self.config.merge_speed_diff_ms
        return math.hypot(ve - track.ve, vn - track.vn) <= slack

    def _static(self, obs: Observation) -> None:
        if obs.mmsi is None:
            return
        ident = self.identities.setdefault(obs.mmsi, {})
        for key in ("name", "ship_type", "callsign", "imo"):
            value = getattr(obs, key)
            if value not in (None, ""):
                ident[key] = value
        for t in self.by_mmsi.get(obs.mmsi, []):
            t.name = ident.get("name", t.name)  # type: ignore[assignment]
            t.ship_type = ident.get("ship_type", t.ship_type)  # type: ignore[assignment]

    def _identify(self, track: Track, mmsi: int) -> None:
        track.mmsi = mmsi
        track.flag = flag_of(mmsi)
        ident = self.identities.get(mmsi, {})
        track.name = ident.get("name")  # type: ignore[assignment]
        track.ship_type = ident.get("ship_type")  # type: ignore[assignment]
        self.by_mmsi.setdefault(mmsi, []).append(track)

    # -------------------------------------------------------------------- radar
    def _buffer(self, obs: Observation) -> None:
        buf = self._pending.get(obs.sensor_id)
        if buf and obs.time_s - buf[0].time_s >= self._scan_period(obs.sensor_id):
            self._scan(buf)
            buf = None
        if buf is None:
            self._pending[obs.sensor_id] = [obs]
        else:
            buf.append(obs)

    def _scan_period(self, sensor_id: str) -> float:
        sensor = self.sensors.get(sensor_id)
        return sensor.scan_period_s if sensor else 3.0

    def _scan(self, plots: list[Observation]) -> None:
        cfg = self.config
        candidates = [list(self.grid.near(p.lat, p.lon)) for p in plots]  # type: ignore[arg-type]
        pairs = gated_pairs(plots, candidates, cfg.accel_psd_m2_s3, cfg.gate_chi2)
        assigned = assign(len(plots), pairs)
        period = self._scan_period(plots[0].sensor_id)
        for i, plot in enumerate(plots):
            velocity = None
            if plot.sog_kn is not None and plot.cog_deg is not None:
                ve, vn = velocity_from_course(plot.sog_kn, plot.cog_deg)
                velocity = (ve, vn, 1.0)
            track = assigned.get(i)
            if track is None:
                track = self._new_track(plot, confirm_hits=cfg.confirm_hits,
                                        window_s=(cfg.confirm_scans + 0.5) * period, interval_s=period)
                if velocity:
                    track.ve, track.vn = velocity[0], velocity[1]
            else:
                self._apply(track, plot, velocity)

    # ------------------------------------------------------------------ common
    def _new_track(self, obs: Observation, confirm_hits: int, window_s: float,
                   interval_s: float) -> Track:
        cfg = self.config
        source = "ais" if obs.kind.startswith("ais") else "radar"
        track = Track(
            track_id=f"T{self._next_id}", lat=obs.lat, lon=obs.lon, time_s=obs.time_s,  # type: ignore[arg-type]
            cov=(obs.sigma_m ** 2, 0.0, cfg.init_speed_sigma_ms ** 2), created_s=obs.time_s,
            confirm_by_s=obs.time_s + window_s, interval_s=interval_s,
            last_seen={source: obs.time_s},
        )
        if obs.sog_kn is not None and obs.cog_deg is not None:
            track.ve, track.vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
        track.hits = 1
        track.confirm_hits = confirm_hits
        track.status = "confirmed" if confirm_hits <= 1 else "tentative"
        self._next_id += 1
        self.tracks[track.track_id] = track
        self.grid.place(track)
        return track

    def _apply(self, track: Track, obs: Observation,
               velocity: tuple[float, float, float] | None) -> None:
        """Update a track with an associated fix, confirm it, publish it."""
        if obs.time_s >= track.time_s:
            track.update(obs.lat, obs.lon, obs.sigma_m, obs.time_s,  # type: ignore[arg-type]
                         self.config.accel_psd_m2_s3, velocity)
            self.grid.place(track)
        source = "ais" if obs.kind.startswith("ais") else "radar"
        track.last_seen[source] = max(track.last_seen.get(source, obs.time_s), obs.time_s)
        track.hits += 1
        if track.status == "tentative" and track.hits >= track.confirm_hits:
            track.status = "confirmed"
        elif track.status == "coasting":
            track.status = "confirmed"
        self._emit_if_live(track)

    def _emit_if_live(self, track: Track) -> None:
        if track.status in _LIVE or self.config.publish_tentative:
            cfg = self.config
            self._out.append(track.line(track.time_s, cfg.accel_psd_m2_s3, cfg.source_window_s))

    def _drain(self) -> list[TrackLine]:
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------ housekeeping
    def _housekeep(self) -> None:
        """Finish scans whose window has passed, coast and drop silent tracks, merge twins."""
        self._housekept_s = self.now_s
        for sensor_id, buf in list(self._pending.items()):
            if self.now_s - buf[0].time_s >= self._scan_period(sensor_id):
                del self._pending[sensor_id]
                self._scan(buf)
        for track in list(self.tracks.values()):
            self._age(track)
        self._merge_twins()

    def _age(self, track: Track) -> None:
        cfg, silence = self.config, self.now_s - track.time_s
        if track.status == "tentative":
            if self.now_s > track.confirm_by_s:
                self._drop(track)
            return
        floor = cfg.ais_lost_min_s if track.mmsi is not None else cfg.radar_lost_min_s
        if silence > max(cfg.lost_after_intervals * track.interval_s, floor):
            self._out.append(track.line(self.now_s, cfg.accel_psd_m2_s3, cfg.source_window_s, "lost"))
            self._drop(track)
        elif track.status == "confirmed" and silence > max(
                cfg.coast_after_intervals * track.interval_s, cfg.coast_min_s):
            track.status = "coasting"
            self._out.append(track.line(self.now_s, cfg.accel_psd_m2_s3, cfg.source_window_s))

    def _drop(self, track: Track) -> None:
        del self.tracks[track.track_id]
        self.grid.remove(track)
        if track.mmsi is not None:
            twins = self.by_mmsi.get(track.mmsi, [])
            if track in twins:
                twins.remove(track)
            if not twins:
                self.by_mmsi.pop(track.mmsi, None)

    def _merge_twins(self) -> None:
        """Radar-only tracks that keep agreeing with an identified track are that vessel."""
        cfg = self.config
        for track in list(self.tracks.values()):
            if track.mmsi is not None or track.status != "confirmed":
                continue
            twin = self._twin(track)
            track.merge_votes = track.merge_votes + 1 if twin else 0
            if twin is not None and track.merge_votes >= cfg.merge_checks:
                twin.last_seen["radar"] = max(twin.last_seen.get("radar", -math.inf),
                                              track.last_seen.get("radar", -math.inf))
                self._out.append(track.line(track.time_s, cfg.accel_psd_m2_s3, cfg.source_window_s, "lost"))
                self._drop(track)

    def _twin(self, track: Track) -> Track | None:
        cfg, q = self.config, self.config.accel_psd_m2_s3
        lat, lon, var = track.predicted(self.now_s, q)
        for other in self.grid.near(lat, lon):
            if other.mmsi is None or other.status not in _LIVE:
                continue
            olat, olon, ovar = other.predicted(self.now_s, q)
            d = distance_m(lat, lon, olat, olon)
            if d * d / (var + ovar + 2500.0) > cfg.gate_chi2:
                continue
            if math.hypot(track.ve - other.ve, track.vn - other.vn) <= cfg.merge_speed_diff_ms:
                return other
        return None
