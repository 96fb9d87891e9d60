"""A vessel turning hard on radar alone keeps one track."""

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
