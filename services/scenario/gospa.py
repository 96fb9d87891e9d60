"""GOSPA (generalised optimal sub-pattern assignment) between two point sets (``mfc score``,
the benchmarks).

Rahmathullah, García-Fernández and Svensson (2017), with α = 2 so that the
metric splits into localisation, missed-target and false-target parts:

    GOSPA^p = min over assignments γ of  Σ_(i,j)∈γ d(x_i, y_j)^p
                                         + c^p/2 · (#missed + #false)

where only pairs closer than ``c`` are assigned (a pair at ``d ≥ c`` costs
the same ``c^p`` either way, so it is counted as one miss and one false).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


@dataclass(frozen=True, slots=True)
class Gospa:
    total: float          # GOSPA itself: (loc + missed + false) ** (1/p)
    localisation: float   # Σ d^p over assigned pairs
    missed: float         # c^p/α · number of missed truths
    false: float          # c^p/α · number of false estimates
    n_missed: float       # counts (means when averaged)
    n_false: float


def gospa(truth: np.ndarray, estimates: np.ndarray, c: float = 500.0, p: float = 1.0,
          alpha: float = 2.0) -> Gospa:
    """GOSPA between truth (n×d) and estimates (m×d) point arrays, same units as ``c``."""
    if alpha != 2.0:
        raise ValueError("only alpha = 2 splits into localisation, missed and false parts")
    truth, estimates = _points(truth), _points(estimates)
    n, m = len(truth), len(estimates)
    half = c ** p / alpha
    n_pairs, loc = 0, 0.0
    if n and m:
        diff = truth[:, None, :] - estimates[None, :, :]
        dist = np.minimum(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), c)
        cost = dist ** p
        rows, cols = linear_sum_assignment(cost)
        keep = dist[rows, cols] < c
        n_pairs = int(keep.sum())
        loc = float(cost[rows, cols][keep].sum())
    n_missed, n_false = n - n_pairs, m - n_pairs
    missed, false = half * n_missed, half * n_false
    return Gospa((loc + missed + false) ** (1.0 / p), loc, missed, false, n_missed, n_false)


def _points(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(0, 2) if a.size == 0 else a.reshape(len(a), -1)


def gospa_pairs(truth: np.ndarray, estimates: np.ndarray, c: float = 500.0, p: float = 1.0
                ) -> tuple[Gospa, list[tuple[int, int, float]]]:
    """GOSPA (α = 2) and its optimal assignment, for large sets: only pairs closer than ``c`` can
    be assigned, so the problem splits into the connected groups of such pairs, each solved
    exactly (same value as :func:`gospa`).  Returns the assigned (truth index, estimate index,
    distance) pairs too."""
    truth, estimates = _points(truth), _points(estimates)
    n, m = len(truth), len(estimates)
    half = c ** p / 2.0
    pairs: list[tuple[int, int, float]] = []
    loc = 0.0
    if n and m:
        near = cKDTree(truth).sparse_distance_matrix(cKDTree(estimates), c, output_type="coo_matrix")
        keep = near.data < c
        rows, cols, dist = near.row[keep], near.col[keep], near.data[keep]
        if len(rows):
            # components of the bipartite graph of close pairs: truths 0..n-1, estimates n..n+m-1
            from scipy.sparse import coo_matrix
            g = coo_matrix((np.ones(len(rows)), (rows, cols + n)), shape=(n + m, n + m))
            _, label = connected_components(g, directed=False)
            order = np.argsort(label[rows], kind="stable")
            rows, cols, dist = rows[order], cols[order], dist[order]
            comp = label[rows]
            bounds = np.flatnonzero(np.diff(comp)) + 1
            for r, k, d in zip(np.split(rows, bounds), np.split(cols, bounds), np.split(dist, bounds)):
                ur, ri = np.unique(r, return_inverse=True)
                uk, ki = np.unique(k, return_inverse=True)
                cost = np.full((len(ur), len(uk)), c ** p)
                cost[ri, ki] = d ** p
                a, b = linear_sum_assignment(cost)
                for i, j in zip(a, b):
                    if cost[i, j] < c ** p:
                        dd = float(cost[i, j] ** (1.0 / p))
                        pairs.append((int(ur[i]), int(uk[j]), dd))
                        loc += float(cost[i, j])
    n_pairs = len(pairs)
    n_missed, n_false = n - n_pairs, m - n_pairs
    missed, false = half * n_missed, half * n_false
    return Gospa((loc + missed + false) ** (1.0 / p), loc, missed, false, n_missed, n_false), pairs
