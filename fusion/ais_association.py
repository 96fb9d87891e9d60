"""AIS association: which existing track an AIS position report belongs to.

The identity gate comes first: a report only ever joins a track of its own MMSI, and
then only one it is kinematically consistent with — the vessel can have got from the
track's last AIS fix to the report at ``ais_max_speed_kn`` (plus ``ais_jump_slack_m``);
among several such tracks the nearest to its prediction wins (``_consistent``).

An MMSI with no track may *adopt* a radar-only track where it reports (``_adoptable``):
the nearest within the ``gate_chi2`` gate whose motion agrees with the report's course
and speed (``_same_motion``, also used by the ARPA binding).  What happens to a report
no track takes is initiation (``lifecycle``).

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes).
"""

from __future__ import annotations

import math

import numpy as np

from .association import LAT, LON
from .geodesy import KN_TO_MS, m_per_deg, velocity_from_course
from .model import Observation
from .track import Track

_ADOPT_BOX_DEG = 0.25    # radar-only tracks this near (at their last update) may be adopted


class AisAssociation:
    """The gates of an AIS report: its MMSI's tracks, else a radar-only track to adopt."""

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

    def _near_columns(self, obs: Observation, radar_only: bool) -> list[int]:
        """Columns of live tracks within ``_ADOPT_BOX_DEG`` of ``obs`` (at their last update)."""
        self._sync()
        n = self._hi
        st = self._state
        box = _ADOPT_BOX_DEG
        near = (np.abs(st[LAT, :n] - obs.lat) < box) & (np.abs(st[LON, :n] - obs.lon) < box) & (self._code[:n] >= 0)
        if radar_only:
            near &= ~self._ident[:n]
        return np.flatnonzero(near).tolist()  # type: ignore[no-any-return]

    def _adoptable(self, obs: Observation) -> Track | None:
        """A radar-only track where a newly heard MMSI reports, if its kinematics agree."""
        cfg = self.config
        lat, lon = obs.lat, obs.lon
        best, best_d2 = None, cfg.gate_chi2
        for row in self._near_columns(obs, radar_only=True):
            t = self._rows[row]
            ye, yn, var = t.innovation(lat, lon, obs.time_s, cfg.accel_psd_m2_s3, cfg.manoeuvre_tau_s)  # type: ignore[union-attr,arg-type]
            d2 = (ye * ye + yn * yn) / (var + obs.sigma_m ** 2)
            if d2 < best_d2 and self._same_motion(t, obs):  # type: ignore[arg-type]
                best, best_d2 = t, d2
        return best

    def _same_motion(self, track: Track, obs: Observation) -> bool:
        """The report's course and speed (if any) agree with the track's velocity."""
        if obs.sog_kn is None or obs.cog_deg is None or track.status == "tentative":
            return True
        ve, vn = velocity_from_course(obs.sog_kn, obs.cog_deg)
        slack = 2.0 * math.sqrt(track.c) + self.config.merge_speed_diff_ms
        return math.hypot(ve - track.ve, vn - track.vn) <= slack
