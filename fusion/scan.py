"""Radar scan association: which plot of a scan updates which track.

Plots are buffered per sensor for one scan period (``_buffer``; a scan is finished when
the next scan starts or housekeeping finds its window passed) and a scan is associated
as a whole (``_scan_one``), against the state table (``association.gate_scan``: a chi²
gate ``gate_chi2`` on the predicted position, then global nearest neighbour, ``assign``):

1. **First stage** (``_first_stage``).  With ``two_stage_association`` the established
   tracks (confirmed and coasting) take their plots first; else every track competes,
   tentative ones at an extra cost ``tentative_cost``.
2. **Second chance** (``_second_chance``).  A live track updated in the last scans but
   left without a plot may be manoeuvring: the plots left over are gated with its IMM's
   manoeuvre model (single model: the largest noise).
3. **Tentative stage** (``_tentative_stage``).  With two-stage association, tentative
   tracks see only the plots left over (a fresh tentative track must not steal the plot
   of a coasting track that has its vessel back inside the gate).

Plots whose track is held by an ARPA target of their radar are absorbed (``arpa``).
Plain plots then update their tracks in one pass (``scan_update``); plots with a
velocity go through the scalar update; a plot no track took starts a tentative track
(``lifecycle.Lifecycle._start_radar_track``).

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes).
"""

from __future__ import annotations

import math

import numpy as np

from .association import KX, KY, LAT, LON, PA, PB, PC, QS, TIME, VE, VN, assign, gate_scan
from .geodesy import DEG, M_PER_DEG_LAT, m_per_deg_array, velocity_from_course
from .imm import A2, B2, C2, E2, MU, N2, VE2, VN2
from .model import Observation


class ScanAssociation:
    """Buffering radar plots into scans and associating each scan with the tracks."""

    def _buffer(self, obs: Observation) -> None:
        """Hold a plot until its sensor's scan is complete."""
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
        """One sensor's buffered plots; out-of-order plots are taken one scan period at a time."""
        if self._ais_q:
            self._flush_ais()
        period = self._scan_period(plots[0].sensor_id)
        times = [p.time_s for p in plots]
        if max(times) - min(times) >= period:
            plots = sorted(plots, key=lambda p: p.time_s)
            start = 0
            for k in range(1, len(plots) + 1):
                if k == len(plots) or plots[k].time_s - plots[start].time_s >= period:
                    self._scan_one(plots[start:k], period)
                    start = k
            return
        self._scan_one(plots, period)

    def _scan_one(self, plots: list[Observation], period: float) -> None:
        """Associate one scan, then update, absorb or start a track for each plot."""
        self._age_due_tracks()  # tracks that missed their radar's scans go before this one (``_due``)
        self._sync()
        arr = np.array([(p.lat, p.lon, p.time_s, p.sigma_m) for p in plots])
        sid = plots[0].sensor_id
        t_scan = float(arr[:, 2].max())
        if t_scan > self._radar_scan_s.get(sid, -math.inf):
            self._radar_scan_s[sid] = t_scan  # the radar scanned (``Lifecycle._missed_scans_out``)
        assigned = self._associate(arr, period)
        absorbed: set[int] = set()
        if self._arpa and assigned:
            kept = dict(assigned)
            self._absorbed(plots, kept, period)
            absorbed = assigned.keys() - kept.keys()
            assigned = kept
        held = self._held_leftovers(arr, assigned) if assigned else set()
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
                if i in held:
                    self.stats["plots_in_live_gate"] += 1
                    continue
                self._start_radar_track(plot, velocity, period)
            else:
                self._apply(self._rows[row], plot, velocity, False)  # type: ignore[arg-type]

    def _held_leftovers(self, arr: np.ndarray, assigned: dict[int, int]) -> set[int]:
        """Plots no track took that lie inside the gate of a live track this scan gave a plot:
        the vessel that track holds, or a neighbour's plot, not a new vessel; they start no track.
        The gate is ``held_gate_chi2`` (95 %: where the held vessel's own echo falls; a
        neighbour beyond it starts its track).  ``stats["plots_in_live_gate"]`` counts them."""
        cfg = self.config
        if cfg.held_gate_chi2 <= 0.0 or len(assigned) == len(arr):
            return set()
        cols = np.fromiter(assigned.values(), np.intp, len(assigned))
        mask = np.zeros(self._hi, bool)
        mask[cols[self._code[cols] >= 1]] = True
        if not mask.any():
            return set()
        free = [i for i in range(len(arr)) if i not in assigned]
        pi, _, _ = gate_scan(arr[free], self._state, mask, cfg.accel_psd_m2_s3, cfg.held_gate_chi2,
                             cfg.manoeuvre_tau_s, max_gate_m=cfg.radar_gate_max_m)
        return {free[i] for i in set(pi.tolist())}

    # ------------------------------------------------------------- association
    def _associate(self, arr: np.ndarray, period: float) -> dict[int, int]:
        """Plot index → track column for the plots of a scan (rows of ``arr``) that a track takes."""
        cfg = self.config
        code = self._code[:self._hi]
        assigned = self._first_stage(arr, code)
        if cfg.manoeuvre_q_max > 1.0 and len(assigned) < len(arr):
            self._second_chance(arr, code, assigned, period)
        if cfg.two_stage_association and len(assigned) < len(arr):
            self._tentative_stage(arr, code, assigned)
        return assigned

    def _first_stage(self, arr: np.ndarray, code: np.ndarray) -> dict[int, int]:
        """Established tracks (two-stage association), else every track with a cost for tentative ones."""
        cfg = self.config
        if cfg.two_stage_association:
            pi, rows, cost = gate_scan(arr, self._state, code >= 1, cfg.accel_psd_m2_s3, cfg.gate_chi2,
                                       cfg.manoeuvre_tau_s, max_gate_m=cfg.radar_gate_max_m)
        else:
            extra = (code == 0) * cfg.tentative_cost if cfg.tentative_cost else None
            pi, rows, cost = gate_scan(arr, self._state, code >= 0, cfg.accel_psd_m2_s3, cfg.gate_chi2,
                                       cfg.manoeuvre_tau_s, extra, max_gate_m=cfg.radar_gate_max_m)
        return assign(len(arr), pi, rows, cost)

    def _second_chance(self, arr: np.ndarray, code: np.ndarray, assigned: dict[int, int], period: float) -> None:
        """Leftover plots gated with the manoeuvre model of live tracks left without a plot.

        The plot then updates the track as any other: by the IMM's likelihoods; with one
        model, with the track's own noise: one fix just outside the usual gate is often the
        tail of the measurement noise (one plot in a thousand of a vessel on a steady
        course); its NIS enters the running mean, which raises the noise if the next fixes
        miss as well (a turn)."""
        cfg = self.config
        free = [i for i in range(len(arr)) if i not in assigned]
        left = arr[free]
        cols = self._unfed_columns(arr, left, code, assigned, period)
        if not len(cols):
            return
        if cfg.motion_model == "imm":
            pi, at, cost = gate_scan(left, self._manoeuvre_states(cols), np.ones(len(cols), bool),
                                     cfg.accel_psd_m2_s3, cfg.gate_chi2, math.inf, max_gate_m=cfg.radar_gate_max_m)
            rows = cols[at]
        else:
            mask = np.zeros(self._hi, bool)
            mask[cols] = True
            pi, rows, cost = gate_scan(left, self._state, mask,
                                       cfg.accel_psd_m2_s3 * cfg.manoeuvre_q_max, cfg.gate_chi2,
                                       cfg.manoeuvre_tau_s, max_gate_m=cfg.radar_gate_max_m)
        for i, row in assign(len(free), pi, rows, cost).items():
            assigned[free[i]] = row

    def _unfed_columns(self, arr: np.ndarray, left: np.ndarray, code: np.ndarray,
                       assigned: dict[int, int], period: float) -> np.ndarray:
        """Live tracks updated in the last 2.5 scan periods, without a plot, near the leftover plots."""
        mask = (code >= 1) & (self._state[TIME, :self._hi] >= arr[:, 2].min() - 2.5 * period)
        if assigned:
            mask[list(assigned.values())] = False
        cols = np.flatnonzero(mask)
        if not len(cols):
            return cols
        # only tracks near the leftover plots can take one: a box of the plots widened by
        # far more than such a track can move, or gate, in 2.5 scan periods at 100 m/s
        pad = (5000.0 + 250.0 * period) / M_PER_DEG_LAT
        lat_lo, lat_hi = float(left[:, 0].min()) - pad, float(left[:, 0].max()) + pad
        pad_lon = pad / math.cos(min(max(abs(lat_lo), abs(lat_hi)), 89.0) * DEG)
        lat_c, lon_c = self._state[LAT, cols], self._state[LON, cols]
        return cols[(lat_c >= lat_lo) & (lat_c <= lat_hi) & (lon_c >= float(left[:, 1].min()) - pad_lon)  # type: ignore[no-any-return]
                    & (lon_c <= float(left[:, 1].max()) + pad_lon)]

    def _tentative_stage(self, arr: np.ndarray, code: np.ndarray, assigned: dict[int, int]) -> None:
        """Tentative tracks take what the established ones left (two-stage association)."""
        cfg = self.config
        tentative = code == 0
        if not tentative.any():
            return
        free = [i for i in range(len(arr)) if i not in assigned]
        pi, rows, cost = gate_scan(arr[free], self._state, tentative, cfg.accel_psd_m2_s3,
                                   cfg.gate_chi2, cfg.manoeuvre_tau_s, max_gate_m=cfg.radar_gate_max_m)
        for i, row in assign(len(free), pi, rows, cost).items():
            assigned[free[i]] = row

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
