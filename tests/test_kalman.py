"""The scalar-per-axis filter equals the textbook matrix Kalman filter."""

import numpy as np
import pytest

from fusion.kalman import position_gain, predict_cov, velocity_gain


def matrix_predict(P, dt, q):
    F = np.array([[1, dt], [0, 1]])
    Q = q * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
    return F @ P @ F.T + Q


def matrix_update(P, H, r):
    S = H @ P @ H.T + r
    K = P @ H.T / S
    return (np.eye(2) - K @ H) @ P, K.ravel()


@pytest.mark.parametrize("dt", [0.5, 6.0, 3600.0], ids=["half-second", "scan", "one-hour-gap"])
def test_predict_matches_matrix_form(dt):
    cov = (400.0, 12.0, 4.0)
    P = np.array([[400.0, 12.0], [12.0, 4.0]])
    got = predict_cov(cov, dt, 0.05)
    want = matrix_predict(P, dt, 0.05)
    assert got == pytest.approx((want[0, 0], want[0, 1], want[1, 1]))


def test_position_update_matches_matrix_form():
    cov = (900.0, 30.0, 9.0)
    P = np.array([[900.0, 30.0], [30.0, 9.0]])
    k0, k1, s, post = position_gain(cov, 2500.0)
    want, K = matrix_update(P, np.array([[1.0, 0.0]]), 2500.0)
    assert (k0, k1) == pytest.approx(tuple(K))
    assert s == pytest.approx(3400.0)
    assert post == pytest.approx((want[0, 0], want[0, 1], want[1, 1]))


def test_velocity_update_matches_matrix_form():
    cov = (900.0, 30.0, 9.0)
    P = np.array([[900.0, 30.0], [30.0, 9.0]])
    k0, k1, post = velocity_gain(cov, 0.25)
    want, K = matrix_update(P, np.array([[0.0, 1.0]]), 0.25)
    assert (k0, k1) == pytest.approx(tuple(K))
    assert post == pytest.approx((want[0, 0], want[0, 1], want[1, 1]))
