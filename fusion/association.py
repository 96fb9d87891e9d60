"""Global nearest neighbour association of one radar scan to the tracks near it.

Everything here works on arrays over the whole scan:

1. every live track is predicted to the scan (``Tracker`` keeps the states in a
   NumPy table, one row per track) and those whose gate can reach the scan's
   bounding box are kept;
2. a k-d tree of the scan's plots (``scipy.spatial.cKDTree``) gives, for each
   of those tracks, the plots within its gate radius;
3. the exact Mahalanobis distance of each such pair is computed with the
   pair's own time difference (a plot older than the track is compared with
   the track retrodicted to the plot's time), in the track's local frame;
4. the gated pairs form a bipartite graph: pairs alone in their row and column
   are assigned directly, the remaining connected clusters are each solved
   with ``scipy.optimize.linear_sum_assignment`` on the cost ``d² + ln|S|``
   (the negative log-likelihood up to a constant); a cluster of at most four plots and
   four tracks is solved by enumeration, the same optimum (``_assignment``), so a scene of
   small clusters never loads ``scipy.optimize`` (a fifth of a second of every start).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.spatial import cKDTree

from .geodesy import m_per_deg

_NO = 1e9
_ENUMERATE_MAX = 4  # clusters up to 4 x 4 are solved by enumeration (at most 24 candidates)
_WIDE_M = 3000.0  # tracks whose gate reaches further are searched one by one

# rows of the tracker's state table (one column per track); KX and KY are the metres per
# degree of longitude and of latitude at the track's latitude (``geodesy.m_per_deg``)
LAT, LON, VE, VN, TIME, PA, PB, PC, QS, KX, NIS, IVL, KY = range(13)
N_COLS = 13


def gate_scan(plots: np.ndarray, state: np.ndarray, live: np.ndarray, q: float,
              gate_chi2: float, tau_s: float = 60.0,
              extra_cost: np.ndarray | None = None,
              max_gate_m: float = math.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gated (plot index, track column, cost) triples of one scan, sorted by plot then column.

    ``plots`` is an m×4 array (lat, lon, time_s, sigma_m); ``state`` the track
    table (``N_COLS`` rows, one column per track; ``KX``/``KY`` its frame's metres per
    degree) and ``live`` a boolean mask of the columns in use.  The process
    noise of a track is ``q · (1 + (QS - 1)·exp(-|dt| / tau_s))`` as in ``Track``;
    ``extra_cost`` (per column) is added to the cost of every pair with that track.
    ``max_gate_m`` caps the gate's radius: a track's predicted spread is counted at most as
    ``max_gate_m² / gate_chi2`` (a track coasting for minutes has a spread of kilometres, and
    would otherwise take clutter, or another vessel's echo, kilometres from where it can be).
    """
    empty = (np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0))
    if len(plots) == 0:
        return empty
    plat, plon, pt, psig = plots[:, 0], plots[:, 1], plots[:, 2], plots[:, 3]
    t_lo, t_hi = float(pt.min()), float(pt.max())
    t_mid, half = 0.5 * (t_lo + t_hi), 0.5 * (t_hi - t_lo)
    lat0, lon0 = float(np.add.reduce(plat)) / len(plat), float(np.add.reduce(plon)) / len(plon)
    kx0, ky0 = m_per_deg(lat0)
    r_max = float((psig * psig).max())
    py = (plat - lat0) * ky0
    px = (plon - lon0) * kx0
    # 1. every track predicted to mid-scan; keep those whose widest gate over the
    #    scan's time span can reach the plots' box (QS bounds the noise scale)
    n = len(live)
    cand = None
    n_live = int(np.count_nonzero(live))
    if n_live == 0:
        return empty
    if n_live * 4 < n:  # a few columns (second chance, tentative tracks): predict only those
        cand = np.flatnonzero(live)
        st = state[:, cand]
    else:
        st = state[:, :n]
    dt = t_mid - st[TIME]
    adt = np.abs(dt)
    adt += half
    var = adt * st[PC]
    var += 2.0 * np.abs(st[PB])
    var *= adt
    var += st[PA]
    adt3 = adt * adt
    adt3 *= adt
    adt3 *= st[QS]
    adt3 *= q / 3.0
    var += adt3
    var += r_max
    var *= gate_chi2 * 1.0202
    if max_gate_m < math.inf:
        np.minimum(var, max_gate_m * max_gate_m * 1.0202, out=var)
    reach = np.sqrt(var, out=var)
    reach += (np.abs(st[VE]) + np.abs(st[VN])) * half + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):  # free columns (KX = KY = 0) fail ``live`` below
        y = st[LAT] - lat0
        y *= ky0
        y += (st[VN] * dt) * (ky0 / st[KY])
        x = st[LON] - lon0
        x *= kx0
        x += (st[VE] * dt) * (kx0 / st[KX])
    near = (x + reach >= px.min()) & (x - reach <= px.max()) & (y + reach >= py.min()) & (y - reach <= py.max())
    if cand is None:
        near &= live
    k = np.flatnonzero(near)  # columns, or positions in ``cand`` (mapped back below)
    if len(k) == 0:
        return empty
    # 2. plots within each candidate track's reach: k-d trees of the plots and of the
    #    candidates joined at the usual reach, the few tracks with a wider gate one by one
    tree = cKDTree(np.column_stack([px, py]))
    rk = reach[k]
    wide = rk > _WIDE_M
    pis, colss = [], []
    narrow = k[~wide]
    if len(narrow):
        found = tree.sparse_distance_matrix(
            cKDTree(np.column_stack([x[narrow], y[narrow]])), float(rk[~wide].max()) * 1.002 + 1.0,
            output_type="ndarray")
        pis.append(found["i"].astype(np.intp))
        colss.append(narrow[found["j"]])
    if wide.any():
        far = k[wide]
        hits = tree.query_ball_point(np.column_stack([x[far], y[far]]), rk[wide] * 1.002 + 1.0)
        counts = np.fromiter(map(len, hits), np.intp, len(hits))
        pis.append(np.fromiter(itertools.chain.from_iterable(hits), np.intp, int(counts.sum())))
        colss.append(np.repeat(far, counts))
    pi = np.concatenate(pis) if len(pis) > 1 else pis[0]
    cols = np.concatenate(colss) if len(colss) > 1 else colss[0]
    if len(pi) == 0:
        return empty
    if cand is not None:
        cols = cand[cols]
    # 3. exact Mahalanobis distance of each pair in the track's own frame
    t = state[:, cols]
    dtp = pt[pi] - t[TIME]
    east = (plon[pi] - t[LON]) * t[KX] - t[VE] * dtp
    north = (plat[pi] - t[LAT]) * t[KY] - t[VN] * dtp
    adtp = np.abs(dtp)
    qs = 1.0 + (t[QS] - 1.0) * np.exp(-adtp / tau_s)
    sv = (t[PA] + dtp * (2.0 * t[PB] + dtp * t[PC]) + (q / 3.0) * qs * adtp * adtp * adtp
          + psig[pi] ** 2)
    if max_gate_m < math.inf:
        np.minimum(sv, max_gate_m * max_gate_m / gate_chi2, out=sv)
    d2 = (east * east + north * north) / sv
    ok = d2 <= gate_chi2
    pi, cols, cost = pi[ok], cols[ok], d2[ok] + 2.0 * np.log(sv[ok])
    if extra_cost is not None:
        cost += extra_cost[cols]
    order = np.lexsort((cols, pi))
    return pi[order], cols[order], cost[order]


def _clusters(n_plots: int, n_tracks: int, pi: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Connected component of each (plot, track) edge, labelled by its smallest plot index.

    Label propagation: each track takes the smallest label of its plots, each plot the
    smallest of its tracks, until nothing changes (as many rounds as the clusters are
    deep: a few; far cheaper than building a sparse graph for the small clusters of a scan)."""
    lp = np.arange(n_plots)
    while True:
        lt = np.full(n_tracks, n_plots)
        np.minimum.at(lt, cols, lp[pi])
        new = lp.copy()
        np.minimum.at(new, pi, lt[cols])
        if np.array_equal(new, lp):
            return lp[pi]
        lp = new


def assign(n_plots: int, pi: np.ndarray, rows: np.ndarray, cost: np.ndarray) -> dict[int, int]:
    """Plot index → track row, the cheapest one-to-one assignment within each cluster."""
    if len(pi) == 0:
        return {}
    uniq, cols = np.unique(rows, return_inverse=True)
    deg_p = np.bincount(pi, minlength=n_plots)
    deg_t = np.bincount(cols, minlength=len(uniq))
    alone = (deg_p[pi] == 1) & (deg_t[cols] == 1)
    result = dict(zip(pi[alone].tolist(), rows[alone].tolist()))
    rest = np.flatnonzero(~alone)
    if len(rest) == 0:
        return result
    pi, cols, cost = pi[rest], cols[rest], cost[rest]
    lab = _clusters(n_plots, len(uniq), pi, cols)
    order = np.argsort(lab, kind="stable")
    lab, pi, cols, cost = lab[order], pi[order], cols[order], cost[order]
    bounds = np.flatnonzero(np.diff(lab)) + 1
    for p, c, w in zip(np.split(pi, bounds), np.split(cols, bounds), np.split(cost, bounds)):
        pu, pinv = np.unique(p, return_inverse=True)
        cu, cinv = np.unique(c, return_inverse=True)
        m = np.full((len(pu), len(cu)), _NO)
        m[pinv, cinv] = w
        r, cc = _assignment(m)
        good = m[r, cc] < _NO
        result.update(zip(pu[r[good]].tolist(), uniq[cu[cc[good]]].tolist()))
    return result


def _assignment(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the cheapest assignment of min(rows, columns) pairs of ``m``:
    ``scipy.optimize.linear_sum_assignment``'s problem, enumerated when the matrix is small."""
    n_r, n_c = m.shape
    if max(n_r, n_c) > _ENUMERATE_MAX and min(n_r, n_c) > 1:
        from scipy.optimize import linear_sum_assignment
        return linear_sum_assignment(m)
    rows = m.tolist() if n_r <= n_c else m.T.tolist()
    n, k = len(rows), len(rows[0])
    best = min(itertools.permutations(range(k), n), key=lambda p: sum(rows[i][p[i]] for i in range(n)))
    short, long = np.arange(n), np.array(best, dtype=np.intp)
    if n_r <= n_c:
        return short, long
    order = np.argsort(long)
    return long[order], short[order]
