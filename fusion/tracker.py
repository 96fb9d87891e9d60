"""The multi-sensor tracker: one push call, ``update(observations)``.

AIS position reports join their MMSI's track after a kinematic consistency
check (an MMSI is an attribute, not the track id: an inconsistent report opens
a second track, so clashes stay visible).  Radar plots are buffered per sensor
for one scan, gated against the tracks near them and associated by global
nearest neighbour; unassociated plots start tentative tracks confirmed after M
hits within N scans.  A new MMSI first tries to adopt a radar-only track at its
position; radar-only tracks that keep agreeing with an identified track are
merged into it.  Silent tracks coast, then are published once as ``lost`` and
dropped.  Time only advances with the observations' own timestamps.

Motion: by default radar plots update an interacting multiple model per track (a
quiet and a manoeuvre nearly-constant-velocity model, ``imm``), whose mixture is
the published state; AIS reports and fixes carrying a velocity update that state
with one model (``Track.update``) and the models restart from it at the next plot.

How it stays fast with many live tracks:

* each ``Track`` keeps its state in plain floats (the AIS and update paths are
  scalar Python); a NumPy table (one row per track, ``association.LAT`` …)
  mirrors the states for the array work and is brought up to date lazily,
  only for the tracks changed since the last array operation;
* a radar scan is gated as a whole against that table (``association``) and its
  plots update their tracks' IMM models at once (a second table, ``_models``);
* the merge check of radar-only tracks against identified ones runs on the
  table too (a k-d tree of the radar-only tracks);
* coasting, loss and the end of a tentative track's confirmation window are
  deadlines in a heap: housekeeping pops only the tracks that are due.

Late data: a fix older than its track's state updates the track through the
retrodicted state (out-of-sequence update, ``Track.update``), so the track
never moves back in time.  A fix more than ``late_window_s`` older than the
newest feed time is too late for the live picture (``stats["too_late"]``):
radar plots are dropped; an AIS position report still belongs to its vessel
(``_late_ais``): it updates the MMSI's track when nothing newer is known of it
(a sparse source: satellite AIS, a backfill), else it becomes a history point
(a track line marked ``late``).  A track fed by such fixes ages from when it
was last fed, not from its fix's time, so a backfill keeps its tracks.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields

import numpy as np
from scipy.spatial import cKDTree

from .association import IVL, KX, KY, LAT, LON, N_COLS, NIS, PA, PB, PC, QS, TIME, VE, VN, assign, gate_scan
from .config import TrackerConfig
from .geodesy import DEG, KN_TO_MS, M_PER_DEG_LAT, from_local, m_per_deg, m_per_deg_array, velocity_from_course
from .identity import flag_of
from .imm import A2, B2, C2, E2, MU, N2, N_MODEL_ROWS, VE2, VN2, imm_update
from .model import AisRadarConflict, Observation, Sensor, TrackLine
from .reporting import reporting_interval_s
from .track import AIS, BOTH, RADAR, Track

_LIVE = ("confirmed", "coasting")
_CODE = {"tentative": 0, "confirmed": 1, "coasting": 2}
_FREE = -1
_RECENT_AIS = 16         # AIS fixes remembered per track to recognise echoes via other stations
_ADOPT_BOX_DEG = 0.25    # radar-only tracks this near (at their last update) may be adopted
_WIDE_M = 3000.0         # merge check: identified tracks with a wider search radius are queried one by one


class Tracker:
    def __init__(self, sensors: Mapping[str, Sensor] | None = None,
                 config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.sensors = sensors if sensors is not None else {}  # shared: sensors registered later are seen
        self.tracks: dict[str, Track] = {}
        self.by_mmsi: dict[int, list[Track]] = {}
        self.identities: dict[int, dict[str, object]] = {}
        self.now_s = -math.inf
        self.stats = {"out_of_sequence": 0, "too_late": 0, "echoes": 0, "ais_radar_conflicts": 0,
                      "late_applied": 0, "late_history": 0}
        self.conflicts: list[AisRadarConflict] = []  # since the last ``take_conflicts``
        self._next_id = 1
        self._pending: dict[str, list[Observation]] = {}
        self._ais_q: list[Observation] = []  # AIS position reports not yet applied (empty between calls)
        self._arpa: dict[tuple[str, str], Track] = {}  # (sensor id, ARPA target id) → its track
        self._retired: OrderedDict[int, Track] = OrderedDict()  # MMSI → its last lost track (``_resume``)
        self._housekept_s = -math.inf
        self._out: list[TrackLine] = []
        # state table mirroring the tracks (rows reused through a free list)
        self._state = np.zeros((N_COLS, 1024))  # one column per track
        self._models = np.full((N_MODEL_ROWS, 1024), -1.0)  # the IMM models of each column (``imm``)
        self._hi = 0                             # columns ever used
        self._code = np.full(1024, _FREE, np.int8)
        self._ident = np.zeros(1024, bool)
        self._rows: list[Track | None] = [None] * 1024
        self._free: list[int] = list(range(1023, -1, -1))
        self._dirty: dict[int, Track] = {}
        # expiry heap: (due time, sequence, track)
        self._heap: list[tuple[float, int, Track]] = []
        self._seq = 0

    def __setstate__(self, state: dict) -> None:
        """Restore a pickled tracker, also one saved by an earlier version of this class."""
        self.__dict__.update(state)
        cfg = self.config
        if any(not hasattr(cfg, f.name) for f in fields(TrackerConfig)):  # settings added since: defaults
            self.config = TrackerConfig(**{f.name: getattr(cfg, f.name) for f in fields(TrackerConfig)
                                           if hasattr(cfg, f.name)})
        self.__dict__.setdefault("_arpa", {})
        if "_models" not in self.__dict__:  # saved before the IMM: every track's models restart
            self._models = np.full((N_MODEL_ROWS, self._state.shape[1]), -1.0)
        self.__dict__.setdefault("_ais_q", [])
        self.__dict__.setdefault("conflicts", [])
        self.__dict__.setdefault("_retired", OrderedDict())
        self.stats.setdefault("ais_radar_conflicts", 0)
        self.stats.setdefault("late_applied", 0)
        self.stats.setdefault("late_history", 0)
        for track in self.tracks.values():
            if not hasattr(track, "arpa"):
                track.arpa = None
            if not hasattr(track, "feeders"):
                track.feeders = None
            if not hasattr(track, "late_fed_s"):
                track.late_fed_s = -math.inf
            if not hasattr(track, "sensors_cache"):
                track.sensors_cache, track.sensors_from, track.sensors_until = None, math.inf, -math.inf
            if not hasattr(track, "reports"):  # saved before the publication policy
                track.reports, track.heard_by, track.report_s = track.hits, None, 0.0
            if isinstance(track.recent_ais, list):
                track.recent_ais = dict.fromkeys(track.recent_ais)
        if self._state.shape[0] < N_COLS:  # older, narrower state table: rebuilt from the tracks
            self._state = np.vstack([self._state, np.zeros((N_COLS - self._state.shape[0], self._state.shape[1]))])
            self._dirty.update((t.slot, t) for t in self.tracks.values())

    # ----------------------------------------------------------------- push API
    def update(self, observations: Iterable[Observation]) -> list[TrackLine]:
        """Take observations (in time order, ideally) and return the track lines they caused."""
        every = self.config.housekeeping_s
        ais_q = self._ais_q
        for obs in observations:
            if obs.time_s > self.now_s:
                self.now_s = obs.time_s
            kind = obs.kind
            if kind == "ais_position":
                if obs.time_s < self.now_s - self.config.late_window_s:
                    self._late_ais(obs)
                else:
                    ais_q.append(obs)  # taken in batches (``_flush_ais``)
            elif kind == "radar_plot":
                self._buffer(obs)
            elif kind == "radar_track":
                if obs.local_id is None:
                    self._buffer(obs)
                else:
                    self._arpa_target(obs)
            elif kind == "ais_static":
                self._static(obs)
            if self.now_s - self._housekept_s >= every:
                self._housekeep()
        if ais_q:
            self._flush_ais()
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

    def take_conflicts(self) -> list[AisRadarConflict]:
        """AIS fixes contradicted by the radar since the last call (and forget them).

        A fix is recorded when its MMSI's track had a radar update within
        ``source_window_s`` of it and the fix lies beyond both ``ais_conflict_chi2``
        (normalised innovation squared against the track) and ``ais_conflict_min_m``.
        ``stats["ais_radar_conflicts"]`` counts them all.  Only the last 10,000 are
        kept if nobody takes them."""
        out, self.conflicts = self.conflicts, []
        return out

    def snapshot(self, time_s: float) -> list[TrackLine]:
        """Every live confirmed track, predicted to ``time_s``."""
        cfg = self.config
        return [t.line(time_s, cfg.accel_psd_m2_s3, cfg.source_window_s, None, cfg.manoeuvre_tau_s)
                for t in self.tracks.values() if t.status in _LIVE]

    # ---------------------------------------------------------------------- AIS
    def _flush_ais(self) -> None:
        """Apply the queued AIS position reports, in arrival order as far as it matters.

        A report whose MMSI has one track and no other report in the queue, with course
        and speed, not an echo and consistent with the track, is applied with the others
        like it in one NumPy pass (the algebra of ``Track.update`` with a velocity); the
        rest go through ``_ais`` one by one, in order.  Called before anything that reads
        tracks (a scan, housekeeping, an ARPA or static report) and at the end of ``update``."""
        queue = self._ais_q[:]
        self._ais_q.clear()  # the same list: ``update`` holds it
        cfg = self.config
        if len(queue) < 8:
            for obs in queue:
                self._ais(obs)
            return
        counts = Counter([obs.mmsi for obs in queue])
        by_mmsi = self.by_mmsi
        slack, max_ms = cfg.ais_jump_slack_m, cfg.ais_max_speed_kn * KN_TO_MS
        batch: list[tuple[Track, Observation]] = []
        for obs in queue:
            mmsi = obs.mmsi
            tracks = by_mmsi.get(mmsi)  # type: ignore[arg-type]
            if tracks is not None and len(tracks) == 1 and counts[mmsi] == 1 and obs.sog_kn is not None \
                    and obs.cog_deg is not None:
                t = tracks[0]
                key = (obs.time_s, obs.lat, obs.lon)
                if key not in t.recent_ais:
                    ref_t, ref_lat, ref_lon = t.last_ais or (t.time_s, t.lat, t.lon)
                    reach = slack + max_ms * abs(obs.time_s - ref_t)
                    kx, ky = m_per_deg(obs.lat)  # type: ignore[arg-type]
                    dy = (obs.lat - ref_lat) * ky  # type: ignore[operator]
                    dx = (obs.lon - ref_lon) * kx  # type: ignore[operator]
                    if dx * dx + dy * dy <= reach * reach:
                        batch.append((t, obs))
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

    def _apply_ais(self, batch: list[tuple[Track, Observation]]) -> Callable[[int], None]:
        """Kalman-update at once, on the state table, tracks with one AIS report each, with
        exactly the arithmetic of ``Track.update`` (elementary operations in the same order,
        the transcendental functions from ``math``).  Returns the function that finishes
        report k of the batch (the track's own copy, status, schedule, line)."""
        cfg = self.config
        cos, sin, exp = math.cos, math.sin, math.exp
        self._sync()
        rows = np.fromiter((t.slot for t, _ in batch), np.intp, len(batch))
        obs = np.array([(o.lat, o.lon, o.time_s, o.sigma_m, o.sog_kn, o.cog_deg) for _, o in batch])
        st = self._state[:, rows]
        t = obs[:, 2]
        t_old = st[TIME]
        dt = t - t_old
        fwd = dt >= 0.0
        all_fwd = bool(fwd.all())
        q, tau = cfg.accel_psd_m2_s3, cfg.manoeuvre_tau_s
        lat, lon, ve, vn = st[LAT], st[LON], st[VE], st[VN]
        a, b, c, qs0, ivl = st[PA], st[PB], st[PC], st[QS], st[IVL]
        kx, ky = np.array([m_per_deg(x) for x in lat.tolist()]).T  # as Track.update: from ``math``
        e0 = (obs[:, 1] - lon) * kx
        n0 = (obs[:, 0] - lat) * ky
        r = obs[:, 3] * obs[:, 3]
        speed = obs[:, 4] * KN_TO_MS
        course = (obs[:, 5] * DEG).tolist()
        vme = speed * np.array([sin(x) for x in course])
        vmn = speed * np.array([cos(x) for x in course])
        vsig = cfg.ais_velocity_sigma_ms
        vsig2 = vsig * vsig
        raised = qs0 > 1.0
        any_raised = bool(raised.any())
        # forward: predict to the report, position then velocity update
        dtf = dt if all_fwd else np.maximum(dt, 0.0)
        qs = qs0
        if any_raised:
            qs = qs0.copy()
            idx = np.flatnonzero(raised)
            qs[idx] = [1.0 + (x - 1.0) * exp(-d / tau) for x, d in zip(qs0[idx].tolist(), dtf[idx].tolist())]
        dt2 = dtf * dtf
        qq = q * qs
        pa = a + 2.0 * b * dtf + c * dt2 + qq * dt2 * dtf / 3.0
        pb = b + c * dtf + qq * dt2 / 2.0
        pc = c + qq * dtf
        ye, yn = e0 - ve * dtf, n0 - vn * dtf
        s = pa + r
        k0, k1 = pa / s, pb / s
        e, n = ve * dtf + k0 * ye, vn * dtf + k0 * yn
        ve1, vn1 = ve + k1 * ye, vn + k1 * yn
        a1, b1, c1 = (1.0 - k0) * pa, (1.0 - k0) * pb, pc - k1 * pb
        s = c1 + vsig2
        k0, k1 = b1 / s, c1 / s
        ye, yn = vme - ve1, vmn - vn1
        e, n, ve1, vn1 = e + k0 * ye, n + k0 * yn, ve1 + k1 * ye, vn1 + k1 * yn
        a1, b1, c1 = a1 - k0 * b1, b1 - k0 * c1, c1 - k1 * c1
        ivl = np.where(dt > 0.5, 0.8 * ivl + 0.2 * dt, ivl)
        time = t
        if not all_fwd:
            # out of sequence: the current state updated through the retrodicted one
            lag = np.maximum(-dt, 0.0)
            lag2 = lag * lag
            qq = np.full(len(lag), q)
            if any_raised:
                idx = np.flatnonzero(raised)
                qq[idx] = [q * (1.0 + (x - 1.0) * exp(-d / tau)) for x, d in zip(qs0[idx].tolist(), lag[idx].tolist())]
            ca, cb = a - b * lag, b - c * lag
            s = a - 2.0 * b * lag + c * lag2 + qq * lag2 * lag / 3.0 + r
            ye, yn = e0 + ve * lag, n0 + vn * lag
            k0, k1 = ca / s, cb / s
            eo, no = k0 * ye, k0 * yn
            veo, vno = ve + k1 * ye, vn + k1 * yn
            ao, bo, co = a - k0 * ca, b - k0 * cb, c - k1 * cb
            s = co + qq * lag + vsig2
            k0, k1 = bo / s, co / s
            ye, yn = vme - veo, vmn - vno
            eo, no, veo, vno = eo + k0 * ye, no + k0 * yn, veo + k1 * ye, vno + k1 * yn
            ao, bo, co = ao - k0 * bo, bo - k0 * co, co - k1 * co
            e, n = np.where(fwd, e, eo), np.where(fwd, n, no)
            ve1, vn1 = np.where(fwd, ve1, veo), np.where(fwd, vn1, vno)
            a1, b1, c1 = np.where(fwd, a1, ao), np.where(fwd, b1, bo), np.where(fwd, c1, co)
            qs = np.where(fwd, qs, qs0)
            time = np.where(fwd, t, t_old)
        lat = lat + n / ky
        lon = lon + e / kx
        lat_l = lat.tolist()
        kx, ky = np.array([m_per_deg(x) for x in lat_l]).T
        self._state[:, rows] = np.array([lat, lon, ve1, vn1, time, a1, b1, c1, qs, kx, st[NIS], ivl, ky])
        self._models[MU, rows] = -1.0  # AIS updates the combined state: the IMM models restart from it
        lat_v, lon_v, ve_v, vn_v, t_v = lat_l, lon.tolist(), ve1.tolist(), vn1.tolist(), time.tolist()
        a_v, b_v, c_v, qs_v, ivl_v = a1.tolist(), b1.tolist(), c1.tolist(), qs.tolist(), ivl.tolist()
        window, tentative_too = cfg.source_window_s, cfg.publish_tentative
        out, dirty, schedule = self._out, self._dirty, self._schedule
        hypot, atan2, degrees, sqrt = math.hypot, math.atan2, math.degrees, math.sqrt

        def done(k: int) -> None:
            track, o = batch[k]
            la, lo, ve_, vn_, t_ = lat_v[k], lon_v[k], ve_v[k], vn_v[k], t_v[k]
            a_, b_, c_, qs_, ivl_ = a_v[k], b_v[k], c_v[k], qs_v[k], ivl_v[k]
            if track.last_radar_s >= o.time_s - window:
                self._check_conflict(track, o)
            if o.time_s < track.time_s:
                self.stats["out_of_sequence"] += 1
            track.lat, track.lon, track.ve, track.vn, track.time_s = la, lo, ve_, vn_, t_
            track.a, track.b, track.c, track.qs, track.interval_s = a_, b_, c_, qs_, ivl_
            t_obs = o.time_s
            ais = track.last_ais_s
            if t_obs > ais:
                ais = track.last_ais_s = t_obs
            track.feed(o.sensor_id, t_obs)
            track.fix(o.sensor_id, t_obs, o.lat, o.lon, o.sog_kn, o.cog_deg)  # type: ignore[arg-type]
            key = (t_obs, o.lat, o.lon)
            last = track.last_ais
            if last is None or t_obs >= last[0]:
                track.last_ais = key  # type: ignore[assignment]
            recent = track.recent_ais
            recent[key] = None  # type: ignore[index]
            if len(recent) > _RECENT_AIS:
                del recent[next(iter(recent))]
            track.heard(o.station or o.sensor_id)
            if t_obs == ais:
                report_s = reporting_interval_s(o.ais_class, o.sog_kn, o.nav_status)
                if report_s != track.report_s:
                    track.report_s = report_s
                    schedule(track)
            track.hits += 1
            status = track.status
            if status == "tentative":
                if track.hits >= track.confirm_hits:
                    status = track.status = "confirmed"
                    schedule(track)
                    dirty[track.slot] = track
                elif not tentative_too:
                    return
            elif status == "coasting":
                status = track.status = "confirmed"
                schedule(track)
                dirty[track.slot] = track
            elif ivl_ > 10.0:
                schedule(track)
            if t_ - ais <= window:
                sources = BOTH if t_ - track.last_radar_s <= window else AIS
            else:
                sources = track.sources(t_, window)
            sensors_ = track.sensor_ids(t_, window)
            out.append(TrackLine(track.track_id, t_, la, lo, hypot(ve_, vn_) / KN_TO_MS,
                                 degrees(atan2(ve_, vn_)) % 360.0, sqrt(a_) if a_ > 0.0 else 0.0,
                                 track.mmsi, track.name, track.flag, track.ship_type, sources,
                                 status, sensors_, track.fixes_of(sensors_),  # type: ignore[arg-type]
                                 track.reports, track.receivers, track.created_s))

        return done

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
        if key in newest.recent_ais:
            self.stats["echoes"] += 1
            return
        self.stats["late_history"] += 1
        newest.recent_ais[key] = None
        if len(newest.recent_ais) > _RECENT_AIS:
            del newest.recent_ais[next(iter(newest.recent_ais))]
        if newest.status != "tentative" or self.config.publish_tentative:
            self._out.append(TrackLine(
                newest.track_id, obs.time_s, obs.lat, obs.lon, obs.sog_kn or 0.0, obs.cog_deg or 0.0,  # type: ignore[arg-type]
                obs.sigma_m, newest.mmsi, newest.name, newest.flag, newest.ship_type, AIS,
                newest.status, (obs.sensor_id,), late=True))  # type: ignore[arg-type]

    def _ais(self, obs: Observation) -> Track | None:
        """Apply one AIS position report; the track it fed (None for an echo)."""
        cfg = self.config
        tracks = self.by_mmsi.get(obs.mmsi)  # type: ignore[arg-type]
        key = (obs.time_s, obs.lat, obs.lon)
        track = None
        if tracks:
            for t in tracks:
                if key in t.recent_ais:  # same report via another station
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
        track.heard(obs.station or obs.sensor_id)
        self._apply(track, obs, velocity, True)
        if track.last_ais is None or obs.time_s >= track.last_ais[0]:
            track.last_ais = key
            self._set_report_interval(track, obs)
        recent = track.recent_ais
        recent[key] = None
        if len(recent) > _RECENT_AIS:
            del recent[next(iter(recent))]
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
        track.recent_ais[key] = None
        track.heard(obs.station or obs.sensor_id)
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

    def _set_report_interval(self, track: Track, obs: Observation) -> None:
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

    def _consistent(self, tracks: list[Track], obs: Observation) -> Track | None:
        """The MMSI's track this fix can belong to (reachable at ≤ max speed), nearest first."""
        cfg = self.config
        lat, lon = obs.lat, obs.lon
        kx, ky = m_per_deg(lat)  # type: ignore[arg-type]
        best, best_d2 = None, math.inf
        for t in tracks:
            ref_t, ref_lat, ref_lon = t.last_ais or (t.time_s, t.lat, t.lon)
            reach = cfg.ais_jump_slack_m + cfg.ais_max_speed_kn * KN_TO_MS * abs(obs.time_s - ref_t)
            dy = (lat - ref_lat) * ky  # type: ignore[operator]
            dx = (lon - ref_lon) * kx  # type: ignore[operator]
            if dx * dx + dy * dy > reach * reach:
                continue
            if len(tracks) == 1:
                return t
            dt = max(0.0, obs.time_s - t.time_s)
            dy = (lat - t.lat) * ky - t.vn * dt  # type: ignore[operator]
            dx = (lon - t.lon) * kx - t.ve * dt  # type: ignore[operator]
            d2 = dx * dx + dy * dy
            if d2 < best_d2:
                best, best_d2 = t, d2
        return best

    def _adoptable(self, obs: Observation) -> Track | None:
        """A radar-only track where a newly heard MMSI reports, if its kinematics agree."""
        cfg = self.config
        self._sync()
        n = self._hi
        st = self._state
        lat, lon = obs.lat, obs.lon
        box = _ADOPT_BOX_DEG
        near = np.flatnonzero((np.abs(st[LAT, :n] - lat) < box) & (np.abs(st[LON, :n] - lon) < box)
                              & (self._code[:n] >= 0) & ~self._ident[:n])
        best, best_d2 = None, cfg.gate_chi2
        for row in near.tolist():
            t = self._rows[row]
            ye, yn, var = t.innovation(lat, lon, obs.time_s, cfg.accel_psd_m2_s3, cfg.manoeuvre_tau_s)  # type: ignore[union-attr,arg-type]
            d2 = (ye * ye + yn * yn) / (var + obs.sigma_m ** 2)
            if d2 < best_d2 and self._same_motion(t, obs):  # type: ignore[arg-type]
                best, best_d2 = t, d2
        return best

    def _same_motion(self, track: Track, obs: Observation) -> bool:
        if obs.sog_kn is None or obs.cog_deg is None or track.status == "tentative":
            return True
        ve, vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
        slack = 2.0 * math.sqrt(track.c) + self.config.merge_speed_diff_ms
        return math.hypot(ve - track.ve, vn - track.vn) <= slack

    def _static(self, obs: Observation) -> None:
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
        track.mmsi = mmsi
        track.flag = flag_of(mmsi)
        ident = self.identities.get(mmsi, {})
        track.name = ident.get("name")  # type: ignore[assignment]
        track.ship_type = ident.get("ship_type")  # type: ignore[assignment]
        self.by_mmsi.setdefault(mmsi, []).append(track)
        self._ident[track.slot] = True

    # --------------------------------------------------------------------- ARPA
    def _arpa_target(self, obs: Observation) -> None:
        """A sensor-level tracked target: bound to one fused track, which it updates.

        The first report of a target (sensor, local id) binds it to the track it gates
        with (radar-only or identified, tentative ones too), else starts a confirmed
        track; later reports update that track directly.  While a radar's target holds
        a track, that radar's own plots of the vessel are absorbed by the track without
        updating it (they are what the target was made from: no second track, no
        counting the same detections twice).  A report far outside the bound track's
        gate (the radar reused the id) binds afresh."""
        cfg = self.config
        if obs.time_s < self.now_s - cfg.late_window_s:
            self.stats["too_late"] += 1
            return
        if self._ais_q:
            self._flush_ais()
        key = (obs.sensor_id, obs.local_id)
        track = self._arpa.get(key)  # type: ignore[arg-type]
        if track is not None:
            if track.alive:
                ye, yn, var = track.innovation(obs.lat, obs.lon, obs.time_s, cfg.accel_psd_m2_s3,  # type: ignore[arg-type]
                                               cfg.manoeuvre_tau_s)
                jumped = (ye * ye + yn * yn) / (var + obs.sigma_m ** 2) > 4.0 * cfg.gate_chi2
            if not track.alive or jumped:
                self._unbind(key, track)
                track = None
        if track is None:
            track = self._bindable(obs)
            if track is None:
                track = self._new_track(obs, confirm_hits=1, window_s=0.0,
                                        interval_s=self._scan_period(obs.sensor_id))
                self._bind(key, track, obs.time_s)
                self._emit_if_live(track)
                return
            self._bind(key, track, obs.time_s)
            if track.status == "tentative":
                track.confirm_hits = track.hits + 1  # the radar already confirmed the target
        else:
            track.arpa[obs.sensor_id] = (obs.local_id, max(obs.time_s, track.arpa[obs.sensor_id][1]))  # type: ignore[index,assignment]
        velocity = None
        if obs.sog_kn is not None and obs.cog_deg is not None:
            ve, vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
            velocity = (ve, vn, 1.0)
        self._apply(track, obs, velocity, False)

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

    def _bindable(self, obs: Observation) -> Track | None:
        """The track (any, not held by another target of this sensor) a new ARPA target gates with."""
        cfg = self.config
        self._sync()
        n = self._hi
        st = self._state
        box = _ADOPT_BOX_DEG
        near = np.flatnonzero((np.abs(st[LAT, :n] - obs.lat) < box) & (np.abs(st[LON, :n] - obs.lon) < box)
                              & (self._code[:n] >= 0))
        best, best_d2 = None, cfg.gate_chi2
        for row in near.tolist():
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

    # -------------------------------------------------------------------- radar
    def _buffer(self, obs: Observation) -> None:
        if obs.time_s < self.now_s - self.config.late_window_s:
            self.stats["too_late"] += 1
            return
        sensor_id = obs.sensor_id
        buf = self._pending.get(sensor_id)
        if buf is None:
            self._pending[sensor_id] = [obs]
        elif obs.time_s - buf[0].time_s >= self._scan_period(sensor_id):
            self._pending[sensor_id] = [obs]
            self._scan(buf)
        else:
            buf.append(obs)

    def _scan_period(self, sensor_id: str) -> float:
        sensor = self.sensors.get(sensor_id)
        return sensor.scan_period_s if sensor else 3.0

    def _scan(self, plots: list[Observation]) -> None:
        if self._ais_q:
            self._flush_ais()
        period = self._scan_period(plots[0].sensor_id)
        times = [p.time_s for p in plots]
        if max(times) - min(times) >= period:  # out-of-order plots: one scan period at a time
            plots = sorted(plots, key=lambda p: p.time_s)
            start = 0
            for k in range(1, len(plots) + 1):
                if k == len(plots) or plots[k].time_s - plots[start].time_s >= period:
                    self._scan_one(plots[start:k], period)
                    start = k
            return
        self._scan_one(plots, period)

    def _scan_one(self, plots: list[Observation], period: float) -> None:
        cfg = self.config
        self._sync()
        arr = np.array([(p.lat, p.lon, p.time_s, p.sigma_m) for p in plots])
        code = self._code[:self._hi]
        if cfg.two_stage_association:
            # established (confirmed and coasting) tracks take their plots first; tentative
            # tracks only see the plots left over (a fresh tentative track must not steal the
            # plot of a coasting track that has its vessel back inside the gate)
            pi, rows, cost = gate_scan(arr, self._state, code >= 1, cfg.accel_psd_m2_s3, cfg.gate_chi2,
                                       cfg.manoeuvre_tau_s)
        else:
            extra = (code == 0) * cfg.tentative_cost if cfg.tentative_cost else None
            pi, rows, cost = gate_scan(arr, self._state, code >= 0, cfg.accel_psd_m2_s3, cfg.gate_chi2,
                                       cfg.manoeuvre_tau_s, extra)
        assigned = assign(len(plots), pi, rows, cost)
        track_rows = self._rows
        if cfg.manoeuvre_q_max > 1.0 and len(assigned) < len(plots):
            # second chance: a live track updated in the last scans but left without a
            # plot may be manoeuvring; gate the plots left over with its IMM's manoeuvre
            # model (single model: with the largest noise).  The plot then updates the track
            # as any other: by the IMM's likelihoods; with one model, with the track's own
            # noise: one fix just outside the usual gate is often the tail of the measurement
            # noise (one plot in a thousand of a vessel on a steady course); its NIS enters
            # the running mean, which raises the noise if the next fixes miss as well (a turn).
            free = [i for i in range(len(plots)) if i not in assigned]
            mask = (code >= 1) & (self._state[TIME, :self._hi] >= arr[:, 2].min() - 2.5 * period)
            if assigned:
                mask[list(assigned.values())] = False
            cols = np.flatnonzero(mask)
            if len(cols):
                # only tracks near the leftover plots can take one: a box of the plots widened by
                # far more than such a track can move, or gate, in 2.5 scan periods at 100 m/s
                left = arr[free]
                pad = (5000.0 + 250.0 * period) / M_PER_DEG_LAT
                lat_lo, lat_hi = float(left[:, 0].min()) - pad, float(left[:, 0].max()) + pad
                pad_lon = pad / math.cos(min(max(abs(lat_lo), abs(lat_hi)), 89.0) * DEG)
                lat_c, lon_c = self._state[LAT, cols], self._state[LON, cols]
                cols = cols[(lat_c >= lat_lo) & (lat_c <= lat_hi) & (lon_c >= float(left[:, 1].min()) - pad_lon)
                            & (lon_c <= float(left[:, 1].max()) + pad_lon)]
            if len(cols):
                if cfg.motion_model == "imm":
                    pi, at, cost = gate_scan(left, self._manoeuvre_states(cols), np.ones(len(cols), bool),
                                             cfg.accel_psd_m2_s3, cfg.gate_chi2, math.inf)
                    rows = cols[at]
                else:
                    mask = np.zeros(self._hi, bool)
                    mask[cols] = True
                    pi, rows, cost = gate_scan(left, self._state, mask,
                                               cfg.accel_psd_m2_s3 * cfg.manoeuvre_q_max, cfg.gate_chi2,
                                               cfg.manoeuvre_tau_s)
                for i, row in assign(len(free), pi, rows, cost).items():
                    assigned[free[i]] = row
        if cfg.two_stage_association and len(assigned) < len(plots):
            tentative = code == 0
            if tentative.any():
                free = [i for i in range(len(plots)) if i not in assigned]
                pi, rows, cost = gate_scan(arr[free], self._state, tentative, cfg.accel_psd_m2_s3,
                                           cfg.gate_chi2, cfg.manoeuvre_tau_s)
                for i, row in assign(len(free), pi, rows, cost).items():
                    assigned[free[i]] = row
        absorbed: set[int] = set()
        if self._arpa and assigned:
            kept = dict(assigned)
            self._absorbed(plots, kept, period)
            absorbed = assigned.keys() - kept.keys()
            assigned = kept
        batch = self._apply_scan(plots, arr, assigned) if assigned else {}
        for i, plot in enumerate(plots):
            if i in batch or i in absorbed:
                continue
            velocity = None
            if plot.sog_kn is not None and plot.cog_deg is not None:
                ve, vn = velocity_from_course(plot.sog_kn, plot.cog_deg)
                velocity = (ve, vn, 1.0)
            row = assigned.get(i)
            if row is None:
                track = self._new_track(plot, confirm_hits=cfg.confirm_hits,
                                        window_s=(cfg.confirm_scans + 0.5) * period, interval_s=period)
                if velocity:
                    track.ve, track.vn = velocity[0], velocity[1]
            else:
                track = track_rows[row]
                self._apply(track, plot, velocity, False)  # type: ignore[arg-type]

    def _manoeuvre_states(self, cols: np.ndarray) -> np.ndarray:
        """State-table columns for ``cols`` holding each track's manoeuvre model (its own mean
        and covariance, its noise as a ``QS`` that does not fade), for the second-chance gate.
        A track whose models are not set keeps its combined state with the largest noise."""
        cfg, q = self.config, self.config.accel_psd_m2_s3
        st = self._state[:, cols]
        m = self._models[:, cols]
        qs = np.maximum(st[QS], 1.0) * cfg.manoeuvre_q_max
        ok = m[MU] >= 0.0
        if ok.any():
            st[LAT] = np.where(ok, st[LAT] + m[N2] / st[KY], st[LAT])
            st[LON] = np.where(ok, st[LON] + m[E2] / st[KX], st[LON])
            for row, model_row in ((VE, VE2), (VN, VN2), (PA, A2), (PB, B2), (PC, C2)):
                st[row] = np.where(ok, m[model_row], st[row])
            qs = np.where(ok, cfg.imm_q_manoeuvre_m2_s3 / q, qs)
        st[QS] = qs
        st[KX], st[KY] = m_per_deg_array(st[LAT])
        return st

    def _apply_scan(self, plots: list[Observation], arr: np.ndarray, assigned: dict[int, int]) -> dict[int, int]:
        """Kalman-update at once, on the state table, every track assigned a plain plot
        (no velocity) of the scan: the same algebra as ``Track.update``, forward or out
        of sequence.  The rest (plots with a velocity) go through ``_apply``.  Returns the
        plots done (plot index → track row)."""
        cfg = self.config
        pidx = np.fromiter(assigned.keys(), np.intp, len(assigned))
        rows = np.fromiter(assigned.values(), np.intp, len(assigned))
        plain = np.fromiter((plots[i].sog_kn is None or plots[i].cog_deg is None for i in pidx.tolist()),
                            bool, len(pidx))
        if not plain.all():
            pidx, rows = pidx[plain], rows[plain]
            if len(rows) == 0:
                return {}
        st = self._state[:, rows]
        obs = arr[pidx]
        t = obs[:, 2]
        t_old = st[TIME]
        dt = t - t_old
        fwd = dt >= 0.0
        all_fwd = bool(fwd.all())
        q, tau = cfg.accel_psd_m2_s3, cfg.manoeuvre_tau_s
        lat, lon, ve, vn, kx, ky = st[LAT], st[LON], st[VE], st[VN], st[KX], st[KY]
        a, b, c, qs0, nis_avg, ivl = st[PA], st[PB], st[PC], st[QS], st[NIS], st[IVL]
        e0 = (obs[:, 1] - lon) * kx
        n0 = (obs[:, 0] - lat) * ky
        r = obs[:, 3] * obs[:, 3]
        dtf = dt if all_fwd else np.maximum(dt, 0.0)
        moved = dt > 0.0
        mem = cfg.manoeuvre_memory
        models = None
        if cfg.motion_model == "imm":
            # forward: one IMM cycle (``imm``); the combined state is what is published
            q1, q2 = cfg.imm_q_quiet_m2_s3, cfg.imm_q_manoeuvre_m2_s3
            e, n, ve1, vn1, a1, b1, c1, models, nis = imm_update(
                self._models[:, rows], ve, vn, a, b, c, e0, n0, r, dtf, q1, q2,
                cfg.imm_quiet_s, cfg.imm_manoeuvre_s)
            nis_avg = np.where(moved, mem * nis_avg + (1.0 - mem) * np.minimum(nis, 50.0), nis_avg)
            # the noise the next gate assumes: the models' mix at the new probabilities (as a
            # scale of the base noise, fading back to it; never below it)
            qs = np.maximum((q1 + (q2 - q1) * models[MU]) / q, 1.0)
        else:
            # forward: predict to the plot, update, raise the noise while the model misfits
            qs = np.where(qs0 > 1.0, 1.0 + (qs0 - 1.0) * np.exp(-dtf / tau), qs0)
            dt2 = dtf * dtf
            qq = q * qs
            pa = a + 2.0 * b * dtf + c * dt2 + qq * dt2 * dtf / 3.0
            pb = b + c * dtf + qq * dt2 / 2.0
            pc = c + qq * dtf
            ye, yn = e0 - ve * dtf, n0 - vn * dtf
            s = pa + r
            nis = (ye * ye + yn * yn) / s
            m = mem * nis_avg + (1.0 - mem) * np.minimum(nis, 50.0)
            nis_avg = np.where(moved, m, nis_avg)
            up = moved & (m > cfg.manoeuvre_nis) & (qs < cfg.manoeuvre_q_max)
            if up.any():
                qs = np.where(up, np.minimum(qs * cfg.manoeuvre_boost, cfg.manoeuvre_q_max), qs)
                qq = q * qs
                pa = a + 2.0 * b * dtf + c * dt2 + qq * dt2 * dtf / 3.0
                pb = b + c * dtf + qq * dt2 / 2.0
                pc = c + qq * dtf
                s = pa + r
            k0, k1 = pa / s, pb / s
            e, n = ve * dtf + k0 * ye, vn * dtf + k0 * yn
            ve1, vn1 = ve + k1 * ye, vn + k1 * yn
            a1, b1, c1 = (1.0 - k0) * pa, (1.0 - k0) * pb, pc - k1 * pb
        ivl = np.where(dt > 0.5, 0.8 * ivl + 0.2 * dt, ivl)
        time = t
        if not all_fwd:
            # out of sequence: the current state updated through the retrodicted one
            self.stats["out_of_sequence"] += int(len(fwd) - np.count_nonzero(fwd))
            lag = np.maximum(-dt, 0.0)
            lag2 = lag * lag
            qq = q * np.where(qs0 > 1.0, 1.0 + (qs0 - 1.0) * np.exp(-lag / tau), 1.0)
            ca, cb = a - b * lag, b - c * lag
            s = a - 2.0 * b * lag + c * lag2 + qq * lag2 * lag / 3.0 + r
            ye, yn = e0 + ve * lag, n0 + vn * lag
            k0, k1 = ca / s, cb / s
            e, n = np.where(fwd, e, k0 * ye), np.where(fwd, n, k0 * yn)
            ve1, vn1 = np.where(fwd, ve1, ve + k1 * ye), np.where(fwd, vn1, vn + k1 * yn)
            a1, b1, c1 = (np.where(fwd, a1, a - k0 * ca), np.where(fwd, b1, b - k0 * cb),
                          np.where(fwd, c1, c - k1 * cb))
            qs = np.where(fwd, qs, qs0)
            time = np.where(fwd, t, t_old)
            if models is not None:
                models[MU] = np.where(fwd, models[MU], -1.0)  # the combined state only: models restart
        lat = lat + n / ky
        lon = lon + e / kx
        kx, ky = m_per_deg_array(lat)
        self._state[:, rows] = np.array([lat, lon, ve1, vn1, time, a1, b1, c1, qs, kx, nis_avg, ivl, ky])
        if models is not None:
            self._models[:, rows] = models
        # the tracks' own copies, their status and their published lines
        sog = np.hypot(ve1, vn1) / KN_TO_MS
        cog = np.degrees(np.arctan2(ve1, vn1)) % 360.0
        sig = np.sqrt(np.maximum(a1, 0.0))
        window, tentative_too = cfg.source_window_s, cfg.publish_tentative
        sensor_id = plots[0].sensor_id  # a scan is one sensor's
        out, track_rows, dirty, schedule = self._out, self._rows, self._dirty, self._schedule
        # (column lists zipped, not a row list per plot: fewer objects for the garbage collector)
        for track, t_obs, la, lo, ve_, vn_, t_, a_, b_, c_, qs_, nis_, ivl_, sog_, cog_, sig_, p_lat, p_lon in zip(
                [track_rows[row] for row in rows.tolist()], t.tolist(), lat.tolist(), lon.tolist(),
                ve1.tolist(), vn1.tolist(), time.tolist(), a1.tolist(), b1.tolist(), c1.tolist(), qs.tolist(),
                nis_avg.tolist(), ivl.tolist(), sog.tolist(), cog.tolist(), sig.tolist(),
                obs[:, 0].tolist(), obs[:, 1].tolist()):
            track.lat, track.lon, track.ve, track.vn, track.time_s = la, lo, ve_, vn_, t_  # type: ignore[union-attr]
            track.a, track.b, track.c, track.qs, track.nis_avg = a_, b_, c_, qs_, nis_  # type: ignore[union-attr]
            track.interval_s = ivl_  # type: ignore[union-attr]
            radar = track.last_radar_s  # type: ignore[union-attr]
            if t_obs > radar:
                radar = track.last_radar_s = t_obs  # type: ignore[union-attr]
            track.feed(sensor_id, t_obs)  # type: ignore[union-attr]
            track.fix(sensor_id, t_obs, p_lat, p_lon)  # type: ignore[union-attr]
            track.hits += 1  # type: ignore[union-attr]
            status = track.status  # type: ignore[union-attr]
            if status == "tentative":
                if track.hits >= track.confirm_hits:  # type: ignore[union-attr]
                    status = track.status = "confirmed"  # type: ignore[union-attr]
                    schedule(track)  # type: ignore[arg-type]
                    dirty[track.slot] = track  # type: ignore[union-attr]
                elif not tentative_too:
                    continue
            elif status == "coasting":
                status = track.status = "confirmed"  # type: ignore[union-attr]
                schedule(track)  # type: ignore[arg-type]
                dirty[track.slot] = track  # type: ignore[union-attr]
            elif ivl_ > 10.0:
                schedule(track)  # type: ignore[arg-type]
            if t_ - radar <= window:
                sources = BOTH if t_ - track.last_ais_s <= window else RADAR  # type: ignore[union-attr]
            else:
                sources = track.sources(t_, window)  # type: ignore[union-attr]
            sensors_ = track.sensor_ids(t_, window)  # type: ignore[union-attr]
            out.append(TrackLine(track.track_id, t_, la, lo, sog_, cog_, sig_, track.mmsi, track.name,  # type: ignore[union-attr]
                                 track.flag, track.ship_type, sources, status,  # type: ignore[union-attr,arg-type]
                                 sensors_, track.fixes_of(sensors_),  # type: ignore[union-attr]
                                 track.reports, track.receivers, track.created_s))  # type: ignore[union-attr]
        return dict(zip(pidx.tolist(), rows.tolist()))

    # ------------------------------------------------------------------ common
    def _new_track(self, obs: Observation, confirm_hits: int, window_s: float,
                   interval_s: float, track_id: str | None = None) -> Track:
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
        if not self._free:
            self._grow()
        row = self._free.pop()
        if row >= self._hi:
            self._hi = row + 1
        track.slot = row
        self._rows[row] = track
        self._dirty[row] = track
        self._models[MU, row] = -1.0
        self._ident[row] = False
        self._code[row] = _CODE[track.status]
        self._schedule(track)
        return track

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
        track.hits += 1
        status = track.status
        if status == "tentative":
            if track.hits >= track.confirm_hits:
                track.status = "confirmed"
                self._schedule(track)
        elif status == "coasting":
            track.status = "confirmed"
            self._schedule(track)
        elif track.interval_s > 10.0:  # a shrinking long interval can bring the coast deadline forward
            self._schedule(track)
        self._dirty[track.slot] = track
        if track.status != "tentative" or cfg.publish_tentative:
            self._out.append(track.current_line(cfg.source_window_s))

    def _emit_if_live(self, track: Track) -> None:
        if track.status in _LIVE or self.config.publish_tentative:
            cfg = self.config
            self._out.append(track.line(track.time_s, cfg.accel_psd_m2_s3, cfg.source_window_s))

    def _drain(self) -> list[TrackLine]:
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------ state table
    def _grow(self) -> None:
        n = len(self._rows)
        self._state = np.concatenate([self._state, np.zeros((N_COLS, n))], axis=1)
        self._models = np.concatenate([self._models, np.full((N_MODEL_ROWS, n), -1.0)], axis=1)
        self._code = np.concatenate([self._code, np.full(n, _FREE, np.int8)])
        self._ident = np.concatenate([self._ident, np.zeros(n, bool)])
        self._rows.extend([None] * n)
        self._free.extend(range(2 * n - 1, n - 1, -1))

    def _sync(self) -> None:
        """Copy the states of the tracks changed since the last array operation into the table."""
        if not self._dirty:
            return
        tracks = list(self._dirty.values())
        self._dirty.clear()
        rows = [t.slot for t in tracks]
        self._state[:, rows] = np.array(
            [(t.lat, t.lon, t.ve, t.vn, t.time_s, t.a, t.b, t.c, t.qs, (k := m_per_deg(t.lat))[0], t.nis_avg,
              t.interval_s, k[1]) for t in tracks]).T
        self._code[rows] = [_CODE[t.status] for t in tracks]

    # ------------------------------------------------------------ housekeeping
    def _due(self, track: Track) -> float:
        """When the track's status must next be looked at (it changes only strictly after)."""
        cfg = self.config
        status = track.status
        if status == "tentative":
            return track.confirm_by_s + max(0.0, track.late_fed_s - track.time_s)
        heard = max(track.time_s, track.late_fed_s)
        interval = track.interval_s if track.interval_s >= track.report_s else track.report_s
        if status == "confirmed":
            return heard + max(cfg.coast_after_intervals * interval, cfg.coast_min_s)
        floor = cfg.ais_lost_min_s if track.mmsi is not None else cfg.radar_lost_min_s
        return heard + max(cfg.lost_after_intervals * interval, floor)

    def _schedule(self, track: Track) -> None:
        """Make sure the heap holds an entry no later than the track's deadline."""
        due = self._due(track)
        if track.heap_seq >= 0 and track.heap_due <= due:
            return
        self._seq += 1
        track.heap_seq, track.heap_due = self._seq, due
        heapq.heappush(self._heap, (due, self._seq, track))

    def _housekeep(self) -> None:
        """Finish scans whose window has passed, coast and drop silent tracks, merge twins."""
        self._housekept_s = self.now_s
        if self._ais_q:
            self._flush_ais()
        for sensor_id, buf in list(self._pending.items()):
            if self.now_s - buf[0].time_s >= self._scan_period(sensor_id):
                del self._pending[sensor_id]
                self._scan(buf)
        heap, now = self._heap, self.now_s
        while heap and heap[0][0] < now:
            _, seq, track = heapq.heappop(heap)
            if not track.alive or seq != track.heap_seq:
                continue
            track.heap_seq = -1
            self._age(track)
            if track.alive:
                self._schedule(track)
        self._merge_twins()

    def _age(self, track: Track) -> None:
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
        if silence > max(cfg.lost_after_intervals * interval, floor):
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

    def _retire(self, track: Track) -> None:
        """Remember a lost identified track, so that its vessel re-heard continues it."""
        retired = self._retired
        retired.pop(track.mmsi, None)  # type: ignore[arg-type]
        retired[track.mmsi] = track  # type: ignore[index]
        while len(retired) > self.config.ais_resume_max:
            retired.popitem(last=False)

    def _drop(self, track: Track) -> None:
        del self.tracks[track.track_id]
        track.alive = False
        if track.arpa:
            for sensor_id, (local_id, _) in track.arpa.items():
                if self._arpa.get((sensor_id, local_id)) is track:
                    del self._arpa[(sensor_id, local_id)]
        row = track.slot
        self._dirty.pop(row, None)
        self._code[row] = _FREE
        self._ident[row] = False
        self._rows[row] = None
        self._free.append(row)
        if track.mmsi is not None:
            twins = self.by_mmsi.get(track.mmsi, [])
            if track in twins:
                twins.remove(track)
            if not twins:
                self.by_mmsi.pop(track.mmsi, None)

    def _merge_twins(self) -> None:
        """Radar-only tracks that keep agreeing with an identified track are that vessel."""
        cfg = self.config
        self._sync()
        code, ident = self._code[:self._hi], self._ident[:self._hi]
        radar_only = np.flatnonzero((code == 1) & ~ident)
        if len(radar_only) == 0:
            return
        twin_of = self._twins(radar_only, np.flatnonzero((code >= 1) & ident))
        rows = self._rows
        for row, twin_row in zip(radar_only.tolist(), twin_of.tolist()):
            track = rows[row]
            if twin_row < 0:
                track.merge_votes = 0  # type: ignore[union-attr]
                continue
            track.merge_votes += 1  # type: ignore[union-attr]
            if track.merge_votes >= cfg.merge_checks:  # type: ignore[union-attr]
                twin = rows[twin_row]
                if track.last_radar_s > twin.last_radar_s:  # type: ignore[union-attr]
                    twin.last_radar_s = track.last_radar_s  # type: ignore[union-attr]
                for sid, t_fed in (track.feeders or {}).items():  # type: ignore[union-attr]
                    twin.feed(sid, t_fed)  # type: ignore[union-attr]
                self._out.append(track.line(track.time_s, cfg.accel_psd_m2_s3, cfg.source_window_s, "lost"))  # type: ignore[union-attr]
                self._drop(track)  # type: ignore[arg-type]

    def _twins(self, a_rows: np.ndarray, b_rows: np.ndarray) -> np.ndarray:
        """For each radar-only row, the nearest identified live row that moves with it, else -1."""
        cfg, q = self.config, self.config.accel_psd_m2_s3
        out = np.full(len(a_rows), -1, np.intp)
        if len(b_rows) == 0:
            return out
        now = self.now_s

        def predicted(rows: np.ndarray) -> tuple[np.ndarray, ...]:
            s = self._state[:, rows]
            dt = np.maximum(now - s[TIME], 0.0)
            qs = 1.0 + (s[QS] - 1.0) * np.exp(-dt / cfg.manoeuvre_tau_s)
            var = s[PA] + dt * (2.0 * s[PB] + dt * (s[PC] + (q / 3.0) * qs * dt))
            lat = s[LAT] + s[VN] * dt / s[KY]
            lon = s[LON] + s[VE] * dt / s[KX]
            return lat, lon, var, s[VE], s[VN]

        alat, alon, avar, ave, avn = predicted(a_rows)
        blat, blon, bvar, bve, bvn = predicted(b_rows)
        kx0, ky0 = m_per_deg(float(alat.mean()))
        # a plane good to well under 15 % in east-west scale over the whole region (checked exactly below)
        tree = cKDTree(np.column_stack([alon * kx0, alat * ky0]))
        radius = np.sqrt(cfg.gate_chi2 * (bvar + float(avar.max()) + 2500.0)) * 1.2 + 1.0
        bxy = np.column_stack([blon * kx0, blat * ky0])
        # the identified tracks with the usual radius joined as a whole (k-d tree to k-d tree),
        # the few with a wider one one by one
        wide = radius > _WIDE_M
        ais, bjs = [], []
        narrow = np.flatnonzero(~wide)
        if len(narrow):
            found = tree.sparse_distance_matrix(cKDTree(bxy[narrow]), float(radius[narrow].max()),
                                                output_type="ndarray")
            keep = found["v"] <= radius[narrow[found["j"]]]
            ais.append(found["i"][keep].astype(np.intp))
            bjs.append(narrow[found["j"][keep]])
        if wide.any():
            far = np.flatnonzero(wide)
            hits = tree.query_ball_point(bxy[far], radius[far])
            counts = np.fromiter(map(len, hits), np.intp, len(hits))
            ais.append(np.fromiter((i for h in hits for i in h), np.intp, int(counts.sum())))
            bjs.append(np.repeat(far, counts))
        ai, bj = np.concatenate(ais), np.concatenate(bjs)
        if len(ai) == 0:
            return out
        mlat = 0.5 * (alat[ai] + blat[bj])
        kxm, kym = m_per_deg_array(mlat)
        dx = (alon[ai] - blon[bj]) * kxm
        dy = (alat[ai] - blat[bj]) * kym
        d2 = (dx * dx + dy * dy) / (avar[ai] + bvar[bj] + 2500.0)
        ok = (d2 <= cfg.gate_chi2) & (np.hypot(ave[ai] - bve[bj], avn[ai] - bvn[bj]) <= cfg.merge_speed_diff_ms)
        ai, bj, d2 = ai[ok], bj[ok], d2[ok]
        order = np.lexsort((b_rows[bj], d2, ai))  # per radar-only track, nearest first
        ai, bj = ai[order], bj[order]
        first = np.ones(len(ai), bool)
        first[1:] = ai[1:] != ai[:-1]
        out[ai[first]] = b_rows[bj[first]]
        return out
