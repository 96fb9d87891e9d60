"""The small clusters of a scan are solved by enumeration: the same optimum as SciPy's
``linear_sum_assignment`` (the reference), on every shape up to 4 x 4 and on single rows and
columns of any length, with pairs the gate refused (``_NO``) among them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from fusion.association import _NO, _assignment, assign


def _cost(m: np.ndarray, r: np.ndarray, c: np.ndarray) -> float:
    return float(m[r, c].sum())


def _gated(m: np.ndarray, r: np.ndarray, c: np.ndarray) -> list[tuple[int, int]]:
    return sorted((i, j) for i, j in zip(r.tolist(), c.tolist()) if m[i, j] < _NO)


@pytest.mark.parametrize("shape", [(a, b) for a in range(1, 5) for b in range(1, 5)] + [(1, 9), (12, 1)])
def test_enumeration_finds_scipys_optimum(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape) * 31 + shape[0])
    for _ in range(300):
        m = rng.uniform(0.0, 20.0, shape)
        m[rng.random(shape) < 0.3] = _NO   # pairs outside each other's gate
        r, c = _assignment(m)
        r_ref, c_ref = linear_sum_assignment(m)
        assert len(r) == len(r_ref) == min(shape)
        assert len(set(r.tolist())) == len(r) and len(set(c.tolist())) == len(c)   # one-to-one
        assert _cost(m, r, c) == pytest.approx(_cost(m, r_ref, c_ref), rel=1e-12)
        # the optimum's gated pairs are unique for continuous random costs: the same pairs (which
        # refused pair fills a row that cannot be matched is a tie, and is dropped by ``assign``)
        assert _gated(m, r, c) == _gated(m, r_ref, c_ref)


def test_a_cluster_takes_the_cheapest_pairs_not_the_nearest_first() -> None:
    """Two plots, two tracks: the greedy choice (plot 0 to its nearest, track 0) would leave
    plot 1 with a far track; the optimum crosses over."""
    pi = np.array([0, 0, 1])
    rows = np.array([10, 11, 10])
    cost = np.array([1.0, 2.0, 1.5])   # plot 0: track 10 at 1.0, 11 at 2.0; plot 1: only track 10
    assert assign(2, pi, rows, cost) == {0: 11, 1: 10}
