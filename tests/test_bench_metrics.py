"""GOSPA of bench/metrics.py against hand-computed cases (p=1, c=500 m, α=2 unless stated)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.metrics import gospa, mean_gospa

C = 500.0


def test_both_empty_is_zero():
    g = gospa(np.empty((0, 2)), np.empty((0, 2)), c=C)
    assert (g.total, g.localisation, g.missed, g.false) == (0.0, 0.0, 0.0, 0.0)


def test_one_missed_target_costs_c_over_alpha():
    g = gospa(np.array([[0.0, 0.0]]), np.empty((0, 2)), c=C)
    assert g.total == pytest.approx(C / 2)
    assert (g.missed, g.false, g.n_missed, g.n_false) == (C / 2, 0.0, 1, 0)


def test_one_false_track_costs_c_over_alpha():
    g = gospa([], np.array([[10.0, 20.0]]), c=C)
    assert g.total == pytest.approx(C / 2)
    assert (g.missed, g.false, g.n_missed, g.n_false) == (0.0, C / 2, 0, 1)


def test_localisation_error_is_the_distance():
    g = gospa(np.array([[0.0, 0.0]]), np.array([[30.0, 40.0]]), c=C)
    assert g.total == pytest.approx(50.0)
    assert g.localisation == pytest.approx(50.0)
    assert (g.missed, g.false) == (0.0, 0.0)


def test_far_estimate_is_one_miss_and_one_false():
    g = gospa(np.array([[0.0, 0.0]]), np.array([[800.0, 0.0]]), c=C)
    assert g.total == pytest.approx(C)
    assert (g.localisation, g.n_missed, g.n_false) == (0.0, 1, 1)


def test_optimal_assignment_and_parts_add_up():
    truth = np.array([[0.0, 0.0], [1000.0, 0.0], [5000.0, 5000.0]])
    est = np.array([[1010.0, 0.0], [0.0, 20.0], [-3000.0, 0.0], [9000.0, 9000.0]])
    g = gospa(truth, est, c=C)
    # pairs (0,1): 20 m, (1,0): 10 m; truth 2 missed; estimates 2 and 3 false
    assert g.localisation == pytest.approx(30.0)
    assert (g.n_missed, g.n_false) == (1, 2)
    assert g.total == pytest.approx(30.0 + 3 * C / 2)


def test_p2_takes_the_root():
    g = gospa(np.array([[0.0, 0.0], [0.0, 1000.0]]), np.array([[3.0, 4.0]]), c=10.0, p=2.0)
    assert g.total == pytest.approx(math.sqrt(25.0 + 100.0 / 2))


def test_mean_is_componentwise():
    a = gospa(np.array([[0.0, 0.0]]), np.empty((0, 2)), c=C)
    b = gospa(np.array([[0.0, 0.0]]), np.array([[0.0, 100.0]]), c=C)
    m = mean_gospa([a, b])
    assert m.total == pytest.approx((250.0 + 100.0) / 2)
    assert m.missed == pytest.approx(125.0) and m.localisation == pytest.approx(50.0)
    assert m.n_missed == pytest.approx(0.5)
