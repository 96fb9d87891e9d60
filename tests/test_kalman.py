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


def test_out_of_sequence_update_matches_matrix_form():
    """A fix ``lag`` seconds old updates the current state through the retrodicted one:
    cross-covariance P·F(-lag)ᵀ, innovation variance H(F P Fᵀ + Q)Hᵀ + R."""
    from fusion.kalman import retro_position_gain, retro_velocity_gain
    cov, lag, q, r = (900.0, 30.0, 9.0), 120.0, 0.05, 100.0
    P = np.array([[900.0, 30.0], [30.0, 9.0]])
    F = np.array([[1, -lag], [0, 1]])
    Q = q * np.array([[lag**3 / 3, lag**2 / 2], [lag**2 / 2, lag]])
    H = np.array([[1.0, 0.0]])
    S = (H @ (F @ P @ F.T + Q) @ H.T).item() + r
    K = (P @ F.T @ H.T).ravel() / S
    k0, k1, s, post = retro_position_gain(cov, lag, q, r)
    assert s == pytest.approx(S) and (k0, k1) == pytest.approx(tuple(K))
    want = P - np.outer(K, K) * S
    assert post == pytest.approx((want[0, 0], want[0, 1], want[1, 1]))
    k0, k1, post = retro_velocity_gain(cov, lag, q, 0.25)
    S = P[1, 1] + q * lag + 0.25
    assert (k0, k1) == pytest.approx((P[0, 1] / S, P[1, 1] / S))


def test_track_out_of_sequence_update_equals_kalman_functions():
    """``Track.update`` with an old fix applies exactly ``retro_position_gain``."""
    from fusion.geodesy import from_local
    from fusion.kalman import retro_position_gain
    from fusion.track import Track
    track = Track("T1", 10.0, 114.0, 1000.0, ve=3.0, vn=-2.0, a=400.0, b=10.0, c=2.0)
    lat, lon = from_local(10.0, 114.0, -250.0, 180.0)  # a fix 100 s old, off the retrodicted track
    track.update(lat, lon, 20.0, 900.0, 0.05)
    k0, k1, _, post = retro_position_gain((400.0, 10.0, 2.0), 100.0, 0.05, 400.0)
    ye, yn = -250.0 + 300.0, 180.0 - 200.0
    assert track.time_s == 1000.0
    assert (track.ve, track.vn) == pytest.approx((3.0 + k1 * ye, -2.0 + k1 * yn))
    assert track.cov == pytest.approx(post)
    assert (track.lat, track.lon) == pytest.approx(from_local(10.0, 114.0, k0 * ye, k0 * yn))
