"""Global nearest neighbour association of one radar scan to the tracks near it.

Plots and tracks are gated with the Mahalanobis distance of the innovation;
the gated pairs form a bipartite graph whose connected clusters are each
solved with ``scipy.optimize.linear_sum_assignment`` on the cost
``d² + ln|S|`` (the negative log-likelihood up to a constant).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .model import Observation
from .track import Track

_NO = 1e9


def gated_pairs(plots: list[Observation], candidates: list[list[Track]], q: float,
                gate_chi2: float) -> list[tuple[int, Track, float]]:
    """(plot index, track, cost) for every plot-track pair inside the gate."""
    pairs = []
    for i, (plot, tracks) in enumerate(zip(plots, candidates)):
        r = plot.sigma_m * plot.sigma_m
        for track in tracks:
            ye, yn, var = track.innovation(plot.lat, plot.lon, plot.time_s, q)  # type: ignore[arg-type]
            s = var + r
            d2 = (ye * ye + yn * yn) / s
            if d2 <= gate_chi2:
                pairs.append((i, track, d2 + 2.0 * math.log(s)))
    return pairs


def assign(n_plots: int, pairs: list[tuple[int, Track, float]]) -> dict[int, Track]:
    """Plot index → track, the cheapest one-to-one assignment within each cluster."""
    if not pairs:
        return {}
    track_index: dict[str, int] = {}
    tracks: list[Track] = []
    for _, track, _ in pairs:
        if track.track_id not in track_index:
            track_index[track.track_id] = len(tracks)
            tracks.append(track)
    rows = np.array([p[0] for p in pairs])
    cols = np.array([track_index[p[1].track_id] for p in pairs]) + n_plots
    n = n_plots + len(tracks)
    graph = coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    clusters: dict[int, list[tuple[int, int, float]]] = {}
    for (i, _, cost), j in zip(pairs, cols - n_plots):
        clusters.setdefault(int(labels[i]), []).append((i, int(j), cost))
    result: dict[int, Track] = {}
    for members in clusters.values():
        if len(members) == 1:
            i, j, _ = members[0]
            result[i] = tracks[j]
            continue
        result.update(_solve(members, tracks))
    return result


def _solve(members: list[tuple[int, int, float]], tracks: list[Track]) -> dict[int, Track]:
    plot_ids = sorted({m[0] for m in members})
    track_ids = sorted({m[1] for m in members})
    pi = {p: k for k, p in enumerate(plot_ids)}
    ti = {t: k for k, t in enumerate(track_ids)}
    cost = np.full((len(plot_ids), len(track_ids)), _NO)
    for i, j, c in members:
        cost[pi[i], ti[j]] = c
    rows, cols = linear_sum_assignment(cost)
    return {plot_ids[r]: tracks[track_ids[c]] for r, c in zip(rows, cols) if cost[r, c] < _NO}
