"""A vessel turning hard on radar alone keeps one track; one on a steady course gets a smooth one."""

import math
import random

import pytest

from fusion.geodesy import KN_TO_MS, distance_m, from_local
from fusion.tracker import Tracker

from .builders import T0, make_plot, noisy, radar


def turning_plots(rng, rate_deg_s, sog_kn=15.0, period_s=10.0, sigma_m=50.0, turn_at_s=300.0, end_s=900.0):
    """Plots every scan of a vessel going north, turning 90° to starboard at ``rate_deg_s``."""
    v, x, y, heading, t, step, plots = sog_kn * KN_TO_MS, 0.0, 0.0, 0.0, 0.0, 0.5, []
    turn_end = turn_at_s + 90.0 / rate_deg_s
    while t <= end_s + 1e-9:
        if abs(t / period_s - round(t / period_s)) < 1e-9:
            lat, lon = from_local(10.0, 114.0, x, y)
            plots.append(make_plot(T0 + t, *noisy(rng, lat, lon, sigma_m), sigma_m=sigma_m))
        if turn_at_s <= t < turn_end:
            heading += math.radians(rate_deg_s) * step
        x, y, t = x + v * math.sin(heading) * step, y + v * math.cos(heading) * step, t + step
    return plots, from_local(10.0, 114.0, x - v * step, y)


@pytest.mark.parametrize("rate_deg_s", [1.0, 2.0])
@pytest.mark.parametrize("seed", range(4))
def test_ninety_degree_turn_at_15_kn_keeps_one_radar_track(rate_deg_s, seed):
    plots, end = turning_plots(random.Random(seed), rate_deg_s)
    tracker = Tracker({"R1": radar(scan_period_s=10.0)})
    lines = tracker.update(plots) + tracker.flush()
    assert len({line.track_id for line in lines}) == 1
    (track,) = tracker.snapshot(plots[-1].time_s)
    assert abs((track.cog_deg - 90.0 + 180) % 360 - 180) < 10  # settled on the new course
    assert distance_m(track.lat, track.lon, *end) < 150


def test_a_fast_craft_turning_at_three_degrees_a_second_keeps_one_track():
    """25 kn, 90° at 3 °/s (18° a scan on the 6 s radar), seen by 3 s and 6 s radars: the
    manoeuvre model takes over within a scan or two, and a plot that jumps out of the gate
    first is caught by the second chance on the manoeuvre model's own prediction.  (The single
    model with adaptive noise kept one track in 5 of these 16 runs; the IMM with the older
    second chance, in 15.)"""
    kept = 0
    for period in (3.0, 6.0):
        for seed in range(8):
            plots, end = turning_plots(random.Random(seed), 3.0, sog_kn=25.0, period_s=period)
            tracker = Tracker({"R1": radar(scan_period_s=period)})
            lines = tracker.update(plots) + tracker.flush()
            if len({line.track_id for line in lines}) == 1:
                (track,) = tracker.snapshot(plots[-1].time_s)
                assert distance_m(track.lat, track.lon, *end) < 150
                kept += 1
    assert kept == 16


def test_the_track_of_a_vessel_on_a_steady_course_is_smoother_than_the_single_model():
    """The quiet model of the IMM smooths a vessel holding its course better than one
    model whose noise must also cover turns: the published track is nearer the vessel."""
    from fusion.config import TrackerConfig

    def rms_error(motion_model):
        errs = []
        for seed in range(6):
            rng, period, sigma, v = random.Random(seed), 6.0, 40.0, 12.0 * KN_TO_MS
            tracker = Tracker({"R1": radar(scan_period_s=period)}, TrackerConfig(motion_model=motion_model))
            for k in range(120):
                truth = from_local(10.0, 114.0, 0.6 * v * period * k, 0.8 * v * period * k)
                tracker.update([make_plot(T0 + period * k, *noisy(rng, *truth, sigma), sigma_m=sigma)])
                tracker.flush()
                if k >= 20:
                    (line,) = tracker.snapshot(T0 + period * k)
                    errs.append(distance_m(line.lat, line.lon, *truth) ** 2)
        return math.sqrt(sum(errs) / len(errs))

    imm, single = rms_error("imm"), rms_error("adaptive")
    assert imm < 0.95 * single and imm < 0.5 * 40.0 * math.sqrt(2)  # under half a raw plot's 2-D error


@pytest.mark.parametrize("motion_model", ["imm", "adaptive"])
def test_a_plot_just_outside_the_gate_of_a_steady_vessel_is_kept_without_inflating_its_noise(motion_model):
    """The second chance (a wider gate for a confirmed track left without a plot) takes the
    vessel's own plot that fell just outside the usual 99.9 % gate.  The single model weighs it
    with the track's own noise: one such plot is the tail of the measurement noise, not a turn
    (the IMM weighs it by its models' likelihoods).  The track comes back onto the vessel."""
    from fusion.config import TrackerConfig
    from fusion.geodesy import from_local as shift

    cfg, period, sigma = TrackerConfig(motion_model=motion_model), 6.0, 40.0
    rng = random.Random(3)
    tracker = Tracker({"R1": radar(scan_period_s=period)}, cfg)
    v = 10.0 * KN_TO_MS  # due north

    def truth(k):
        return from_local(10.0, 114.0, 0.0, v * period * k)

    for k in range(12):
        tracker.update([make_plot(T0 + period * k, *noisy(rng, *truth(k), sigma), sigma_m=sigma)])
        tracker.flush()
    (track,) = tracker.tracks.values()
    assert track.status == "confirmed" and (track.qs == 1.0 or motion_model == "imm")
    # the next plot on the vessel's path, east of where the track predicts it by a distance
    # between the usual gate and the second-chance gate (the largest noise)
    t = T0 + period * 12
    lat, lon, var = track.predicted(t, cfg.accel_psd_m2_s3)
    wide = var + cfg.accel_psd_m2_s3 * (cfg.manoeuvre_q_max - 1.0) * period ** 3 / 3.0
    d = math.sqrt(cfg.gate_chi2 * (0.5 * (var + wide) + sigma ** 2))
    assert d ** 2 / (var + sigma ** 2) > cfg.gate_chi2  # outside the usual gate
    lines = tracker.update([make_plot(t, *shift(lat, lon, d, 0.0), sigma_m=sigma)]) + tracker.flush()
    assert [line.track_id for line in lines] == [track.track_id] and len(tracker.tracks) == 1
    if motion_model == "adaptive":
        assert track.qs == 1.0 and track.nis_avg > 2.0  # not taken for a turn; its misfit remembered
    # the track comes back onto the vessel with the next plots on its path
    for k in range(13, 18):
        tracker.update([make_plot(T0 + period * k, *noisy(rng, *truth(k), sigma), sigma_m=sigma)])
        tracker.flush()
    (line,) = tracker.snapshot(T0 + period * 17)
    assert distance_m(line.lat, line.lon, *truth(17)) < 3 * sigma and len(tracker.tracks) == 1
