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


def retro_position_gain(cov: Cov, lag_s: float, q: float, r_m2: float) -> tuple[float, float, float, Cov]:
    """Out-of-sequence position fix taken ``lag_s`` seconds before the current state.

    The state is retrodicted to the fix time (``x_d = F(-lag) x``) and the fix
    updates the *current* state through the cross-covariance ``P F(-lag)ᵀ``
    (Bar-Shalom's one-step approximation, the process-noise cross term
    ignored); the retrodicted position variance includes the process noise of
    the lag.  Returns gains (k_pos, k_vel) for the innovation ``z - (p - v·lag)``,
    the innovation variance and the posterior covariance of the current state.
    """
    a, b, c = cov
    lag2 = lag_s * lag_s
    pa = a - b * lag_s          # cov(p_now, p_then)
    pb = b - c * lag_s          # cov(v_now, p_then)
    s = a - 2.0 * b * lag_s + c * lag2 + q * lag2 * lag_s / 3.0 + r_m2
    k0, k1 = pa / s, pb / s
    return k0, k1, s, (a - k0 * pa, b - k0 * pb, c - k1 * pb)


def retro_velocity_gain(cov: Cov, lag_s: float, q: float, r_v2: float) -> tuple[float, float, Cov]:
    """Out-of-sequence velocity measurement ``lag_s`` seconds old (see ``retro_position_gain``)."""
    a, b, c = cov
    s = c + q * lag_s + r_v2
    k0, k1 = b / s, c / s
    return k0, k1, (a - k0 * b, b - k0 * c, c - k1 * c)
