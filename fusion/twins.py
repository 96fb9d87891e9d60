"""Twin merging: a radar-only track that keeps agreeing with an identified track is that vessel.

At every housekeeping, each confirmed radar-only track is compared with the live
identified tracks (``_twins``): both predicted to now, within the ``gate_chi2`` gate of
their combined uncertainty (plus 50 m) and moving alike (velocity difference at most
``merge_speed_diff_ms``); the nearest such identified track is its twin.  After
``merge_checks`` consecutive agreeing checks the radar-only track is merged into its twin
(``_merge_twins``): its radar feed is credited to the twin and it is published once as
``lost`` and dropped.  The candidate pairs come from a k-d tree of the radar-only tracks.

With ``merge_radar_twins``, a confirmed radar-only track with no identified twin is compared
the same way with the older live radar-only tracks (``_radar_twins``: no antenna-offset
allowance, and never two tracks whose newest plots of one radar are of the same scan: the
radar resolved two objects there); after ``merge_checks`` agreeing checks the younger is
merged into the older (two tracks started on one vessel, e.g. from its plot and a clutter
plot beside it).

A mixin of ``tracker.Tracker`` (its state is the tracker's attributes).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .association import KX, KY, LAT, LON, PA, PB, PC, QS, TIME, VE, VN
from .geodesy import m_per_deg, m_per_deg_array

_WIDE_M = 3000.0         # merge check: identified tracks with a wider search radius are queried one by one


def _predicted(s: np.ndarray, now: float, q: float, tau: float) -> tuple[np.ndarray, ...]:
    """Position, position variance and velocity of state-table columns ``s`` predicted to ``now``."""
    dt = np.maximum(now - s[TIME], 0.0)
    qs = 1.0 + (s[QS] - 1.0) * np.exp(-dt / tau)
    var = s[PA] + dt * (2.0 * s[PB] + dt * (s[PC] + (q / 3.0) * qs * dt))
    lat = s[LAT] + s[VN] * dt / s[KY]
    lon = s[LON] + s[VE] * dt / s[KX]
    return lat, lon, var, s[VE], s[VN]


def _pairs_within(tree: cKDTree, bxy: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a in the tree, b in ``bxy``) closer than b's radius: the identified tracks
    with the usual radius joined as a whole (k-d tree to k-d tree), the few with a wider one
    one by one."""
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
    return np.concatenate(ais), np.concatenate(bjs)


class TwinMerge:
    """Radar-only tracks merged into the identified track they keep agreeing with."""

    def _merge_twins(self) -> None:
        """Radar-only tracks that keep agreeing with an identified track are that vessel; with
        ``merge_radar_twins``, a radar-only track that keeps agreeing with an older radar-only
        track (and never took a plot of the same scan as it) is that track's duplicate."""
        cfg = self.config
        self._sync()
        code, ident = self._code[:self._hi], self._ident[:self._hi]
        radar_only = np.flatnonzero((code == 1) & ~ident)
        if len(radar_only) == 0:
            return
        twin_of = self._twins(radar_only, np.flatnonzero((code >= 1) & ident))
        rows = self._rows
        if cfg.merge_radar_twins:
            lone = twin_of < 0
            if lone.any():
                twin_of[lone] = self._radar_twins(radar_only[lone], np.flatnonzero((code >= 1) & ~ident))
        for row, twin_row in zip(radar_only.tolist(), twin_of.tolist()):
            track = rows[row]
            if twin_row < 0:
                track.merge_votes = 0  # type: ignore[union-attr]
                continue
            track.merge_votes += 1  # type: ignore[union-attr]
            if track.merge_votes >= cfg.merge_checks:  # type: ignore[union-attr]
                twin = rows[twin_row]
                if not twin.alive:  # type: ignore[union-attr]
                    continue
                if track.last_radar_s > twin.last_radar_s:  # type: ignore[union-attr]
                    twin.last_radar_s = track.last_radar_s  # type: ignore[union-attr]
                for sid, t_fed in (track.feeders or {}).items():  # type: ignore[union-attr]
                    twin.feed(sid, t_fed)  # type: ignore[union-attr]
                self._out.append(track.line(track.time_s, cfg.accel_psd_m2_s3, cfg.source_window_s, "lost"))  # type: ignore[union-attr]
                self._drop(track)  # type: ignore[arg-type]

    def _radar_twins(self, a_rows: np.ndarray, b_rows: np.ndarray) -> np.ndarray:
        """For each radar-only row, an older live radar-only row that moves with it (``_twins``,
        no allowance for an antenna offset) and took no plot of the same scan of a radar as it,
        else -1 (two plots of one scan are two objects the radar resolved)."""
        out = self._twins(a_rows, b_rows, offset_m2=0.0, exclude_self=True)
        rows = self._rows
        for k in np.flatnonzero(out >= 0).tolist():
            a, b = rows[int(a_rows[k])], rows[int(out[k])]
            if (b.created_s, _id_number(b)) > (a.created_s, _id_number(a)) or _same_scan(self, a, b):  # type: ignore[union-attr,arg-type]
                out[k] = -1
        return out

    def _twins(self, a_rows: np.ndarray, b_rows: np.ndarray, offset_m2: float = 2500.0,
               exclude_self: bool = False) -> np.ndarray:
        """For each radar-only row, the nearest identified live row that moves with it, else -1
        (``offset_m2``: the variance allowed for a GNSS antenna's offset from the radar echo's
        centre; ``exclude_self`` when ``b_rows`` holds ``a_rows``)."""
        cfg, q = self.config, self.config.accel_psd_m2_s3
        out = np.full(len(a_rows), -1, np.intp)
        if len(b_rows) == 0:
            return out
        alat, alon, avar, ave, avn = _predicted(self._state[:, a_rows], self.now_s, q, cfg.manoeuvre_tau_s)
        blat, blon, bvar, bve, bvn = _predicted(self._state[:, b_rows], self.now_s, q, cfg.manoeuvre_tau_s)
        kx0, ky0 = m_per_deg(float(alat.mean()))
        # a plane good to well under 15 % in east-west scale over the whole region (checked exactly below)
        tree = cKDTree(np.column_stack([alon * kx0, alat * ky0]))
        radius = np.sqrt(cfg.gate_chi2 * (bvar + float(avar.max()) + offset_m2)) * 1.2 + 1.0
        ai, bj = _pairs_within(tree, np.column_stack([blon * kx0, blat * ky0]), radius)
        if len(ai) == 0:
            return out
        mlat = 0.5 * (alat[ai] + blat[bj])
        kxm, kym = m_per_deg_array(mlat)
        dx = (alon[ai] - blon[bj]) * kxm
        dy = (alat[ai] - blat[bj]) * kym
        d2 = (dx * dx + dy * dy) / (avar[ai] + bvar[bj] + offset_m2)
        ok = (d2 <= cfg.gate_chi2) & (np.hypot(ave[ai] - bve[bj], avn[ai] - bvn[bj]) <= cfg.merge_speed_diff_ms)
        if exclude_self:
            ok &= a_rows[ai] != b_rows[bj]
        ai, bj, d2 = ai[ok], bj[ok], d2[ok]
        order = np.lexsort((b_rows[bj], d2, ai))  # per radar-only track, nearest first
        ai, bj = ai[order], bj[order]
        first = np.ones(len(ai), bool)
        first[1:] = ai[1:] != ai[:-1]
        out[ai[first]] = b_rows[bj[first]]
        return out


def _id_number(track) -> int:  # type: ignore[no-untyped-def]
    """The counter in a track id (``T12`` → 12): the order tracks were started in."""
    tid = track.track_id
    return int(tid[1:]) if tid[1:].isdigit() else 0


def _same_scan(tracker, a, b) -> bool:  # type: ignore[no-untyped-def]
    """Whether the newest plots of one radar in ``a`` and ``b`` are of one scan (closer in time
    than half its period) at different places."""
    fa, fb = a.fixes or {}, b.fixes or {}
    for sid, (ta, lat_a, lon_a, *_) in fa.items():
        other = fb.get(sid)
        if other is None:
            continue
        if abs(ta - other[0]) < 0.5 * tracker._scan_period(sid) and (lat_a, lon_a) != (other[1], other[2]):
            return True
    return False
