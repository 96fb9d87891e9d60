"""Nearly-constant-velocity Kalman filter, one axis at a time.

With isotropic position noise and the same white-acceleration noise on both
axes, the east and north filters share one 2×2 covariance ``(a, b, c)``:
``a`` position variance (m²), ``b`` position-velocity covariance, ``c``
velocity variance (m²/s²).  Each function takes and returns plain floats, so
the update costs a few dozen float operations instead of matrix calls.
"""

from __future__ import annotations

Cov = tuple[float, float, float]


def predict_cov(cov: Cov, dt_s: float, q: float) -> Cov:
    """Covariance after ``dt_s`` seconds; ``q`` is the acceleration PSD (m²/s³)."""
    a, b, c = cov
    dt2 = dt_s * dt_s
    return (
        a + 2.0 * b * dt_s + c * dt2 + q * dt2 * dt_s / 3.0,
        b + c * dt_s + q * dt2 / 2.0,
        c + q * dt_s,
    )


def position_gain(cov: Cov, r_m2: float) -> tuple[float, float, float, Cov]:
    """Gains (k_pos, k_vel), innovation variance and posterior for a position fix."""
    a, b, c = cov
    s = a + r_m2
    k0, k1 = a / s, b / s
    return k0, k1, s, ((1.0 - k0) * a, (1.0 - k0) * b, c - k1 * b)


def velocity_gain(cov: Cov, r_v2: float) -> tuple[float, float, Cov]:
    """Gains (k_pos, k_vel) and posterior for a velocity measurement."""
    a, b, c = cov
    s = c + r_v2
    k0, k1 = b / s, c / s
    return k0, k1, (a - k0 * b, b - k0 * c, c - k1 * c)
