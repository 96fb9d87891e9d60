"""The scan update: every track assigned a plain plot (no velocity) updated in one pass.

The same algebra as ``Track.update``, on the state table's columns: by default one
cycle of the track's interacting multiple model (``imm``: a quiet and a manoeuvre
nearly-constant-velocity model, whose mixture is the published state;
``_imm_forward``), else one nearly-constant-velocity model whose noise is raised while
the running mean of the normalised innovation exceeds ``manoeuvre_nis``
(``_single_forward``).  A plot older than its track updates the current state through
the retrodicted one (``_retrodicted``; the IMM models then restart from the combined
state).  Each track's own copy, its confirmation and schedule and its published line
follow (``_finish_scan``).  Plots with a velocity go through the scalar ``_apply``.

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes).
"""

from __future__ import annotations

import numpy as np

from .association import IVL, KX, KY, LAT, LON, NIS, PA, PB, PC, QS, TIME, VE, VN
from .geodesy import KN_TO_MS, m_per_deg_array
from .imm import MU, imm_update
from .kalman import predict_cov
from .model import Observation, TrackLine
from .track import BOTH, RADAR


def _single_forward(prior: tuple[np.ndarray, ...], meas: tuple[np.ndarray, ...], dtf: np.ndarray,
                    moved: np.ndarray, nis_avg: np.ndarray, cfg) -> tuple[np.ndarray, ...]:  # type: ignore[no-untyped-def]
    """Predict to the plots, update, raise the noise while the model misfits."""
    ve, vn, a, b, c, qs0 = prior
    e0, n0, r = meas
    q, tau, mem = cfg.accel_psd_m2_s3, cfg.manoeuvre_tau_s, cfg.manoeuvre_memory
    qs = np.where(qs0 > 1.0, 1.0 + (qs0 - 1.0) * np.exp(-dtf / tau), qs0)
    qq = q * qs
    pa, pb, pc = predict_cov((a, b, c), dtf, qq)
    ye, yn = e0 - ve * dtf, n0 - vn * dtf
    s = pa + r
    nis = (ye * ye + yn * yn) / s
    m = mem * nis_avg + (1.0 - mem) * np.minimum(nis, 50.0)
    nis_avg = np.where(moved, m, nis_avg)
    up = moved & (m > cfg.manoeuvre_nis) & (qs < cfg.manoeuvre_q_max)
    if up.any():
        qs = np.where(up, np.minimum(qs * cfg.manoeuvre_boost, cfg.manoeuvre_q_max), qs)
        qq = q * qs
        pa, pb, pc = predict_cov((a, b, c), dtf, qq)
        s = pa + r
    k0, k1 = pa / s, pb / s
    e, n = ve * dtf + k0 * ye, vn * dtf + k0 * yn
    ve1, vn1 = ve + k1 * ye, vn + k1 * yn
    a1, b1, c1 = (1.0 - k0) * pa, (1.0 - k0) * pb, pc - k1 * pb
    return e, n, ve1, vn1, a1, b1, c1, qs, nis_avg


def _retrodicted(prior: tuple[np.ndarray, ...], meas: tuple[np.ndarray, ...], dt: np.ndarray,
                 q: float, tau: float) -> tuple[np.ndarray, ...]:
    """The current states updated through the retrodicted ones (plots older than their track)."""
    ve, vn, a, b, c, qs0 = prior
    e0, n0, r = meas
    lag = np.maximum(-dt, 0.0)
    lag2 = lag * lag
    qq = q * np.where(qs0 > 1.0, 1.0 + (qs0 - 1.0) * np.exp(-lag / tau), 1.0)
    ca, cb = a - b * lag, b - c * lag
    s = a - 2.0 * b * lag + c * lag2 + qq * lag2 * lag / 3.0 + r
    ye, yn = e0 + ve * lag, n0 + vn * lag
    k0, k1 = ca / s, cb / s
    return k0 * ye, k0 * yn, ve + k1 * ye, vn + k1 * yn, a - k0 * ca, b - k0 * cb, c - k1 * cb


class ScanUpdate:
    """The batch Kalman/IMM update of a scan's plain plots."""

    def _apply_scan(self, plots: list[Observation], arr: np.ndarray, assigned: dict[int, int]) -> dict[int, int]:
        """Kalman-update at once every track assigned a plain plot of the scan, forward or out
        of sequence.  Returns the plots done (plot index → track row)."""
        cfg = self.config
        pidx, rows = self._plain_plots(plots, assigned)
        if len(rows) == 0:
            return {}
        st = self._state[:, rows]
        obs = arr[pidx]
        t = obs[:, 2]
        t_old = st[TIME]
        dt = t - t_old
        fwd = dt >= 0.0
        all_fwd = bool(fwd.all())
        lat, lon, kx, ky = st[LAT], st[LON], st[KX], st[KY]
        prior = (st[VE], st[VN], st[PA], st[PB], st[PC], st[QS])
        meas = ((obs[:, 1] - lon) * kx, (obs[:, 0] - lat) * ky, obs[:, 3] * obs[:, 3])
        dtf = dt if all_fwd else np.maximum(dt, 0.0)
        moved = dt > 0.0
        models = None
        if cfg.motion_model == "imm":
            e, n, ve1, vn1, a1, b1, c1, models, qs, nis_avg = self._imm_forward(rows, prior, meas, dtf, moved,
                                                                                st[NIS])
        else:
            e, n, ve1, vn1, a1, b1, c1, qs, nis_avg = _single_forward(prior, meas, dtf, moved, st[NIS], cfg)
        ivl = np.where(dt > 0.5, 0.8 * st[IVL] + 0.2 * dt, st[IVL])
        time = t
        if not all_fwd:
            # out of sequence: the current state updated through the retrodicted one
            self.stats["out_of_sequence"] += int(len(fwd) - np.count_nonzero(fwd))
            old = _retrodicted(prior, meas, dt, cfg.accel_psd_m2_s3, cfg.manoeuvre_tau_s)
            e, n, ve1, vn1, a1, b1, c1 = (np.where(fwd, x, y) for x, y in zip((e, n, ve1, vn1, a1, b1, c1), old))
            qs = np.where(fwd, qs, st[QS])
            time = np.where(fwd, t, t_old)
            if models is not None:
                models[MU] = np.where(fwd, models[MU], -1.0)  # the combined state only: models restart
        lat = lat + n / ky
        lon = lon + e / kx
        kx, ky = m_per_deg_array(lat)
        self._state[:, rows] = np.array([lat, lon, ve1, vn1, time, a1, b1, c1, qs, kx, nis_avg, ivl, ky])
        if models is not None:
            self._models[:, rows] = models
        self._finish_scan(plots[0].sensor_id, rows, obs, self._state[:, rows])
        return dict(zip(pidx.tolist(), rows.tolist()))

    def _plain_plots(self, plots: list[Observation], assigned: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The assigned plots without a velocity (plot indices) and their track columns."""
        pidx = np.fromiter(assigned.keys(), np.intp, len(assigned))
        rows = np.fromiter(assigned.values(), np.intp, len(assigned))
        plain = np.fromiter((plots[i].sog_kn is None or plots[i].cog_deg is None for i in pidx.tolist()),
                            bool, len(pidx))
        if not plain.all():
            pidx, rows = pidx[plain], rows[plain]
        return pidx, rows

    def _imm_forward(self, rows: np.ndarray, prior: tuple[np.ndarray, ...], meas: tuple[np.ndarray, ...],
                     dtf: np.ndarray, moved: np.ndarray, nis_avg: np.ndarray) -> tuple[np.ndarray, ...]:
        """One IMM cycle (``imm``); the combined state is what is published."""
        cfg, q = self.config, self.config.accel_psd_m2_s3
        ve, vn, a, b, c, _ = prior
        e0, n0, r = meas
        mem = cfg.manoeuvre_memory
        q1, q2 = cfg.imm_q_quiet_m2_s3, cfg.imm_q_manoeuvre_m2_s3
        e, n, ve1, vn1, a1, b1, c1, models, nis = imm_update(
            self._models[:, rows], ve, vn, a, b, c, e0, n0, r, dtf, q1, q2,
            cfg.imm_quiet_s, cfg.imm_manoeuvre_s, cfg.imm_reseed_mu)
        nis_avg = np.where(moved, mem * nis_avg + (1.0 - mem) * np.minimum(nis, 50.0), nis_avg)
        # the noise the next gate assumes: the models' mix at the new probabilities (as a
        # scale of the base noise, fading back to it; never below it)
        qs = np.maximum((q1 + (q2 - q1) * models[MU]) / q, 1.0)
        return e, n, ve1, vn1, a1, b1, c1, models, qs, nis_avg

    def _finish_scan(self, sensor_id: str, rows: np.ndarray, obs: np.ndarray, new: np.ndarray) -> None:
        """The tracks' own copies of their new states (columns ``new`` of the table), their
        status and their published lines."""
        cfg = self.config
        sog = np.hypot(new[VE], new[VN]) / KN_TO_MS
        cog = np.degrees(np.arctan2(new[VE], new[VN])) % 360.0
        sig = np.sqrt(np.maximum(new[PA], 0.0))
        window, tentative_too = cfg.source_window_s, cfg.publish_tentative
        out, track_rows, dirty = self._out, self._rows, self._dirty
        # (column lists zipped, not a row list per plot: fewer objects for the garbage collector)
        for track, t_obs, la, lo, ve_, vn_, t_, a_, b_, c_, qs_, nis_, ivl_, sog_, cog_, sig_, p_lat, p_lon in zip(
                [track_rows[row] for row in rows.tolist()], obs[:, 2].tolist(), new[LAT].tolist(),
                new[LON].tolist(), new[VE].tolist(), new[VN].tolist(), new[TIME].tolist(), new[PA].tolist(),
                new[PB].tolist(), new[PC].tolist(), new[QS].tolist(), new[NIS].tolist(), new[IVL].tolist(),
                sog.tolist(), cog.tolist(), sig.tolist(), obs[:, 0].tolist(), obs[:, 1].tolist()):
            track.lat, track.lon, track.ve, track.vn, track.time_s = la, lo, ve_, vn_, t_  # type: ignore[union-attr]
            track.a, track.b, track.c, track.qs, track.nis_avg = a_, b_, c_, qs_, nis_  # type: ignore[union-attr]
            track.interval_s = ivl_  # type: ignore[union-attr]
            radar = track.last_radar_s  # type: ignore[union-attr]
            if t_obs > radar:
                radar = track.last_radar_s = t_obs  # type: ignore[union-attr]
            track.feed(sensor_id, t_obs)  # type: ignore[union-attr]
            track.fix(sensor_id, t_obs, p_lat, p_lon)  # type: ignore[union-attr]
            if self._on_hit(track):  # type: ignore[arg-type]
                dirty[track.slot] = track  # type: ignore[union-attr]
            status = track.status  # type: ignore[union-attr]
            if status == "tentative" and not tentative_too:
                continue
            if t_ - radar <= window:
                sources = BOTH if t_ - track.last_ais_s <= window else RADAR  # type: ignore[union-attr]
            else:
                sources = track.sources(t_, window)  # type: ignore[union-attr]
            sensors_ = track.sensor_ids(t_, window)  # type: ignore[union-attr]
            out.append(TrackLine(track.track_id, t_, la, lo, sog_, cog_, sig_, track.mmsi, track.name,  # type: ignore[union-attr]
                                 track.flag, track.ship_type, sources, status,  # type: ignore[union-attr,arg-type]
                                 sensors_, track.fixes_of(sensors_),  # type: ignore[union-attr]
                                 track.reports, track.receivers, track.created_s,  # type: ignore[union-attr]
                                 stations=track.stations(t_)))  # type: ignore[union-attr]
