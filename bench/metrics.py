"""GOSPA (generalised optimal sub-pattern assignment) between two point sets.

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


@dataclass(frozen=True, slots=True)
class RunResult:
    """One tracker's run over a radar scenario's first ``scans`` scans."""
    seconds: float        # tracker loop only (process CPU time)
    detections: int       # detections fed
    scans: int            # scans fed
    per_scan: list[Gospa]  # GOSPA of each scan after the burn-in

    @property
    def rate(self) -> float:
        return self.detections / self.seconds if self.seconds > 0 else float("nan")

    @property
    def mean(self) -> Gospa:
        return mean_gospa(self.per_scan)


def mean_gospa(values: list[Gospa]) -> Gospa:
    """Component-wise mean over scans (counts become mean counts)."""
    if not values:
        return Gospa(*[float("nan")] * 6)
    arr = np.array([[g.total, g.localisation, g.missed, g.false, g.n_missed, g.n_false]
                    for g in values])
    mean = arr.mean(axis=0)
    return Gospa(*map(float, mean))
