"""The AIS batch update: many simple AIS reports applied to their tracks in one NumPy pass.

A queued report takes this fast path (``_batchable``) when its MMSI has exactly one track
and no other report in the queue, it carries course and speed, it is not an echo and it
is consistent with the track (the same reach test as ``ais_association._consistent``).
The update is exactly the arithmetic of ``Track.update`` with a velocity (elementary
operations in the same order, the transcendental functions from ``math``): predict to
the report, position then velocity update (``_ais_forward``); a report older than its
track updates the current state through the retrodicted one (``_ais_out_of_sequence``).
Each report is then finished in arrival order (``_finish_ais``: the track's own copy,
its confirmation and schedule, its published line), so the output is the one of the
one-by-one path whatever the batch.

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np

from .ais_path import _remember
from .association import IVL, LAT, LON, NIS, PA, PB, PC, QS, TIME, VE, VN
from .geodesy import DEG, KN_TO_MS, m_per_deg
from .imm import MU
from .kalman import predict_cov
from .model import Observation, TrackLine
from .reporting import reporting_interval_s
from .track import AIS, BOTH, Track

_State = tuple[float, float, float, float, float, float, float, float, float, float]


def _raised_noise(q0: np.ndarray, raised: np.ndarray, dt: np.ndarray, tau: float) -> list[float]:
    """The raised noise scales of the ``raised`` tracks faded over ``dt`` (as ``Track.update``)."""
    idx = np.flatnonzero(raised)
    return [1.0 + (x - 1.0) * math.exp(-d / tau) for x, d in zip(q0[idx].tolist(), dt[idx].tolist())]


def _ais_forward(prior: tuple[np.ndarray, ...], meas: tuple[np.ndarray, ...], dtf: np.ndarray,
                 raised: np.ndarray | None, q: float, tau: float, vsig2: float) -> tuple[np.ndarray, ...]:
    """Predict to the reports, then the position update and the velocity update."""
    ve, vn, a, b, c, qs0 = prior
    e0, n0, r, vme, vmn = meas
    qs = qs0
    if raised is not None:
        qs = qs0.copy()
        qs[np.flatnonzero(raised)] = _raised_noise(qs0, raised, dtf, tau)
    qq = q * qs
    pa, pb, pc = predict_cov((a, b, c), dtf, qq)
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
    return e, n, ve1, vn1, a1, b1, c1, qs


def _ais_out_of_sequence(prior: tuple[np.ndarray, ...], meas: tuple[np.ndarray, ...], dt: np.ndarray,
                         raised: np.ndarray | None, q: float, tau: float, vsig2: float) -> tuple[np.ndarray, ...]:
    """The current states updated through the retrodicted ones (reports older than their track)."""
    ve, vn, a, b, c, qs0 = prior
    e0, n0, r, vme, vmn = meas
    lag = np.maximum(-dt, 0.0)
    lag2 = lag * lag
    qq = np.full(len(lag), q)
    if raised is not None:
        qq[np.flatnonzero(raised)] = [q * x for x in _raised_noise(qs0, raised, lag, tau)]
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
    return eo, no, veo, vno, ao, bo, co


class AisBatch:
    """The vectorised update of simple AIS reports, finished one by one in arrival order."""

    def _batchable(self, queue: list[Observation]) -> list[tuple[Track, Observation]]:
        """The queued reports (with their track) that may take the batch update, in queue order."""
        cfg = self.config
        counts = Counter([obs.mmsi for obs in queue])
        by_mmsi = self.by_mmsi
        slack, max_ms = cfg.ais_jump_slack_m, cfg.ais_max_speed_kn * KN_TO_MS
        batch: list[tuple[Track, Observation]] = []
        for obs in queue:
            mmsi = obs.mmsi
            tracks = by_mmsi.get(mmsi)  # type: ignore[arg-type]
            if tracks is None or len(tracks) != 1 or counts[mmsi] != 1 or obs.sog_kn is None \
                    or obs.cog_deg is None:
                continue
            t = tracks[0]
            key = (obs.time_s, obs.lat, obs.lon)
            if hash(key) in t.recent_ais:
                continue
            ref_t, ref_lat, ref_lon = t.last_ais or (t.time_s, t.lat, t.lon)
            reach = slack + max_ms * abs(obs.time_s - ref_t)
            kx, ky = m_per_deg(obs.lat)  # type: ignore[arg-type]
            dy = (obs.lat - ref_lat) * ky  # type: ignore[operator]
            dx = (obs.lon - ref_lon) * kx  # type: ignore[operator]
            if dx * dx + dy * dy <= reach * reach:
                batch.append((t, obs))
        return batch

    def _apply_ais(self, batch: list[tuple[Track, Observation]]) -> Callable[[int], None]:
        """Kalman-update at once, on the state table, tracks with one AIS report each.
        Returns the function that finishes report k of the batch (``_finish_ais``)."""
        cfg = self.config
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
        lat, lon = st[LAT], st[LON]
        prior = (st[VE], st[VN], st[PA], st[PB], st[PC], st[QS])
        kx, ky = np.array([m_per_deg(x) for x in lat.tolist()]).T  # as Track.update: from ``math``
        meas = self._ais_measurements(obs, lat, lon, kx, ky)
        vsig = cfg.ais_velocity_sigma_ms
        vsig2 = vsig * vsig
        raised = st[QS] > 1.0
        if not raised.any():
            raised = None
        dtf = dt if all_fwd else np.maximum(dt, 0.0)
        e, n, ve1, vn1, a1, b1, c1, qs = _ais_forward(prior, meas, dtf, raised, q, tau, vsig2)
        ivl = np.where(dt > 0.5, 0.8 * st[IVL] + 0.2 * dt, st[IVL])
        time = t
        if not all_fwd:
            old = _ais_out_of_sequence(prior, meas, dt, raised, q, tau, vsig2)
            e, n, ve1, vn1, a1, b1, c1 = (np.where(fwd, x, y) for x, y in zip((e, n, ve1, vn1, a1, b1, c1), old))
            qs = np.where(fwd, qs, st[QS])
            time = np.where(fwd, t, t_old)
        lat = lat + n / ky
        lon = lon + e / kx
        lat_l = lat.tolist()
        kx, ky = np.array([m_per_deg(x) for x in lat_l]).T
        self._state[:, rows] = np.array([lat, lon, ve1, vn1, time, a1, b1, c1, qs, kx, st[NIS], ivl, ky])
        self._models[MU, rows] = -1.0  # AIS updates the combined state: the IMM models restart from it
        states = list(zip(lat_l, lon.tolist(), ve1.tolist(), vn1.tolist(), time.tolist(), a1.tolist(),
                          b1.tolist(), c1.tolist(), qs.tolist(), ivl.tolist()))
        return lambda k: self._finish_ais(batch[k][0], batch[k][1], states[k])

    @staticmethod
    def _ais_measurements(obs: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                          kx: np.ndarray, ky: np.ndarray) -> tuple[np.ndarray, ...]:
        """The reports as offsets east and north of their tracks (m), variance, velocity (m/s)."""
        e0 = (obs[:, 1] - lon) * kx
        n0 = (obs[:, 0] - lat) * ky
        r = obs[:, 3] * obs[:, 3]
        speed = obs[:, 4] * KN_TO_MS
        course = (obs[:, 5] * DEG).tolist()
        vme = speed * np.array([math.sin(x) for x in course])
        vmn = speed * np.array([math.cos(x) for x in course])
        return e0, n0, r, vme, vmn

    def _finish_ais(self, track: Track, o: Observation, state: _State) -> None:
        """Report k of the batch, in arrival order: the track's own copy of its new state,
        the report's bookkeeping, the track's confirmation and schedule, its published line."""
        window = self.config.source_window_s
        if track.last_radar_s >= o.time_s - window:
            self._check_conflict(track, o)
        if o.time_s < track.time_s:
            self.stats["out_of_sequence"] += 1
        (track.lat, track.lon, track.ve, track.vn, track.time_s,
         track.a, track.b, track.c, track.qs, track.interval_s) = state
        ais = self._note_ais_report(track, o)
        if self._on_hit(track):
            self._dirty[track.slot] = track
        if track.status == "tentative" and not self.config.publish_tentative:
            return
        self._out.append(self._ais_line(track, ais, window))

    def _note_ais_report(self, track: Track, o: Observation) -> float:
        """Feeders, fixes, the last and recent AIS reports, receivers, reporting interval;
        returns the time of the track's latest AIS report."""
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
        track.recent_ais = _remember(track.recent_ais, key)  # type: ignore[arg-type]
        track.heard(o.station or o.sensor_id, t_obs)
        if t_obs == ais:
            report_s = reporting_interval_s(o.ais_class, o.sog_kn, o.nav_status)
            if report_s != track.report_s:
                track.report_s = report_s
                self._schedule(track)
        return ais

    @staticmethod
    def _ais_line(track: Track, ais: float, window: float) -> TrackLine:
        t_, ve_, vn_, a_ = track.time_s, track.ve, track.vn, track.a
        if t_ - ais <= window:
            sources = BOTH if t_ - track.last_radar_s <= window else AIS
        else:
            sources = track.sources(t_, window)
        sensors_ = track.sensor_ids(t_, window)
        return TrackLine(track.track_id, t_, track.lat, track.lon, math.hypot(ve_, vn_) / KN_TO_MS,
                         math.degrees(math.atan2(ve_, vn_)) % 360.0, math.sqrt(a_) if a_ > 0.0 else 0.0,
                         track.mmsi, track.name, track.flag, track.ship_type, sources,
                         track.status, sensors_, track.fixes_of(sensors_),  # type: ignore[arg-type]
                         track.reports, track.receivers, track.created_s, stations=track.stations(t_))

