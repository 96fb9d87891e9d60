"""Interacting multiple model (IMM) update of many tracks at once, for radar plots.

Two nearly-constant-velocity models that differ only in their white-acceleration
noise: a *quiet* one (a vessel holding course and speed) and a *manoeuvre* one
(turning, accelerating).  A two-state Markov chain switches between them, with
mean sojourn times ``T_quiet`` and ``T_manoeuvre``: over an interval ``dt`` the
switch probabilities are ``1 - exp(-dt / T)``, so irregular revisits are handled.
Each plot runs the standard IMM cycle (Blom & Bar-Shalom 1988):

1. mixing: each model starts from the mixture of both, weighted by the
   probability that the track was in that model and switched (by default asymmetrically:
   the manoeuvre model from its own state, the quiet model from the mixture only while a
   manoeuvre is likely; ``imm_update``'s ``reseed_mu``);
2. prediction and Kalman update of each model with the plot;
3. model probabilities from each model's likelihood of the plot;
4. the published estimate: the moment-matched mixture of the two.

Like ``kalman`` and ``Track``, each axis (east, north) shares one 2×2 covariance
``(a, b, c)`` per model.  The spread-of-means terms of mixing and combining are
not isotropic (a turn moves the means apart along one direction); they are
shared equally between the two axes, which keeps their trace exact.

The tracker's state table holds, per track, the combined state
(``association.LAT`` …); its model table the two models: position offsets from
the combined position (m), velocities (m/s), covariances, and the manoeuvre
model's probability ``MU``.  ``MU < 0`` marks a track whose models are not set (new, or
last updated by AIS, an ARPA target or an out-of-sequence fix, which update the
combined state only): it restarts both models from the combined state.
"""

from __future__ import annotations

import numpy as np

# rows of the tracker's model table (one column per track, as its state table): model 1
# (quiet), model 2 (manoeuvre), the manoeuvre model's probability
E1, N1, VE1, VN1, A1, B1, C1, E2, N2, VE2, VN2, A2, B2, C2, MU = range(15)
N_MODEL_ROWS = 15


def mix_probabilities(mu2: np.ndarray, dt: np.ndarray, t_quiet: float, t_man: float):
    """Predicted model probabilities (c1, c2) after ``dt`` and the mixing weights
    (w11, w21, w12, w22): ``wij`` is the weight of model i in model j's start."""
    p12 = -np.expm1(-dt / t_quiet)
    p21 = -np.expm1(-dt / t_man)
    mu1 = 1.0 - mu2
    s11, s21 = mu1 * (1.0 - p12), mu2 * p21
    s12, s22 = mu1 * p12, mu2 * (1.0 - p21)
    c1, c2 = s11 + s21, s12 + s22
    return c1, c2, s11 / c1, s21 / c1, s12 / c2, s22 / c2


def stationary_manoeuvre(t_quiet: float, t_man: float) -> float:
    """Long-run share of time in the manoeuvre model."""
    return t_man / (t_quiet + t_man)


def imm_update(m: np.ndarray, ve: np.ndarray, vn: np.ndarray, a: np.ndarray, b: np.ndarray,
               c: np.ndarray, e0: np.ndarray, n0: np.ndarray, r: np.ndarray, dt: np.ndarray,
               q1: float, q2: float, t_quiet: float, t_man: float, reseed_mu: float | None = None):
    """One IMM cycle for k tracks, each with one position fix ``dt ≥ 0`` seconds after its state.

    ``m`` is the 15×k block of model rows (``E1`` … ``MU``) and ``ve`` … ``c``
    the combined state, used where a track's models are not set (``MU < 0``); ``e0``,
    ``n0`` the fix east/north of the combined position (m), ``r`` its variance per axis.
    Returns the combined update ``(e, n, ve, vn, a, b, c)`` (position as offsets from the
    old combined position), the new model block (offsets from the new combined position)
    and the fix's NIS under each model, weighed by the models' predicted probabilities.

    ``reseed_mu`` None mixes as the standard IMM does.  A number mixes asymmetrically: the
    manoeuvre model starts from its own state only, and the quiet model takes the standard mix
    only while the manoeuvre model's probability exceeds ``reseed_mu``, else its own state.  In a
    quiet spell the quiet model is then a plain quiet filter (the standard mix hands it a share of
    the manoeuvre model's far larger covariance every cycle, which acts as extra process noise),
    and it is still re-seeded through a manoeuvre.
    """
    mu_prev = m[MU]
    unset = mu_prev < 0.0
    if unset.any():  # both models restart from the combined state
        start = np.array([np.zeros_like(ve), np.zeros_like(ve), ve, vn, a, b, c])
        m = np.where(unset, np.concatenate([start, start, np.full((1, len(ve)), -1.0)]), m)
        mu_prev = np.where(unset, stationary_manoeuvre(t_quiet, t_man), mu_prev)
    # the two models stacked: row 0 quiet, row 1 manoeuvre (2×k each)
    e, n, u, v, pa0, pb0, pc0 = m[:MU].reshape(2, 7, -1).transpose(1, 0, 2)
    c_1, c_2, w11, w21, w12, w22 = mix_probabilities(mu_prev, dt, t_quiet, t_man)
    if reseed_mu is not None:  # asymmetric mixing (above)
        w21 = np.where(mu_prev > reseed_mu, w21, 0.0)
        w11, w12, w22 = 1.0 - w21, np.zeros_like(w12), np.ones_like(w22)
    wa, wb = np.array([w11, w12]), np.array([w21, w22])  # weight of model 1 / model 2 in each start
    # spread of the two models' means (shared between the axes)
    de, dn, du, dv = e[0] - e[1], n[0] - n[1], u[0] - u[1], v[0] - v[1]
    ww = wa * wb
    # mixing
    me, mn = wa * e[0] + wb * e[1], wa * n[0] + wb * n[1]
    mu_, mv = wa * u[0] + wb * u[1], wa * v[0] + wb * v[1]
    ma = wa * pa0[0] + wb * pa0[1] + ww * (0.5 * (de * de + dn * dn))
    mb = wa * pb0[0] + wb * pb0[1] + ww * (0.5 * (de * du + dn * dv))
    mc = wa * pc0[0] + wb * pc0[1] + ww * (0.5 * (du * du + dv * dv))
    # predict and update each model
    q = np.array([[q1], [q2]])
    dt2 = dt * dt
    pa = ma + 2.0 * mb * dt + mc * dt2 + q * (dt2 * dt / 3.0)
    pb = mb + mc * dt + q * (dt2 / 2.0)
    pc = mc + q * dt
    pe, pn = me + mu_ * dt, mn + mv * dt
    ye, yn = e0 - pe, n0 - pn
    s = pa + r
    nis = (ye * ye + yn * yn) / s
    k0, k1 = pa / s, pb / s
    fe, fn, fu, fv = pe + k0 * ye, pn + k0 * yn, mu_ + k1 * ye, mv + k1 * yn
    fa, fb, fc = (1.0 - k0) * pa, (1.0 - k0) * pb, pc - k1 * pb
    # model probabilities: likelihood ratio of the plot (2-D Gaussian: exp(-nis/2) / s)
    x = np.clip(0.5 * (nis[1] - nis[0]), -200.0, 200.0)
    mu2 = 1.0 / (1.0 + (c_1 / c_2) * (s[1] / s[0]) * np.exp(x))
    mu2 = np.clip(mu2, 1e-9, 1.0 - 1e-9)
    mu1 = 1.0 - mu2
    # combined (moment-matched) estimate
    ce, cn = mu1 * fe[0] + mu2 * fe[1], mu1 * fn[0] + mu2 * fn[1]
    cu, cv = mu1 * fu[0] + mu2 * fu[1], mu1 * fv[0] + mu2 * fv[1]
    de, dn, du, dv = fe[0] - fe[1], fn[0] - fn[1], fu[0] - fu[1], fv[0] - fv[1]
    ww = 0.5 * mu1 * mu2
    ca = mu1 * fa[0] + mu2 * fa[1] + ww * (de * de + dn * dn)
    cb = mu1 * fb[0] + mu2 * fb[1] + ww * (de * du + dn * dv)
    cc = mu1 * fc[0] + mu2 * fc[1] + ww * (du * du + dv * dv)
    fe -= ce
    fn -= cn
    new = np.concatenate([np.stack([fe, fn, fu, fv, fa, fb, fc], axis=1).reshape(MU, -1), mu2[None]])
    nis = c_1 * nis[0] + c_2 * nis[1]  # the models' NIS weighed by their predicted probabilities
    return ce, cn, cu, cv, ca, cb, cc, new, nis
