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


def test_alpha_other_than_two_is_refused():
    with pytest.raises(ValueError):
        gospa(np.array([[0.0, 0.0]]), np.empty((0, 2)), c=C, alpha=1.0)


def test_assigned_pair_beyond_c_is_not_localisation():
    # one truth, two estimates: the near one pairs (40 m), the far one (600 m) is false
    g = gospa(np.array([[0.0, 0.0]]), np.array([[600.0, 0.0], [0.0, 40.0]]), c=C)
    assert g.localisation == pytest.approx(40.0)
    assert (g.n_missed, g.n_false) == (0, 1)
    assert g.total == pytest.approx(40.0 + C / 2)


# ----------------------------------------------------- scenario generators
def test_radar_scenario_is_seeded_and_deterministic():
    from bench.scenarios import radar_scenario
    a = radar_scenario("sparse", 30, 4, seed=7)
    b = radar_scenario("sparse", 30, 4, seed=7)
    c = radar_scenario("sparse", 30, 4, seed=8)
    assert len(a.scans) == 4 and a.n_detections == b.n_detections
    for sa, sb in zip(a.scans, b.scans):
        assert sa.time_s == sb.time_s
        np.testing.assert_array_equal(sa.xy, sb.xy)
        np.testing.assert_array_equal(sa.latlon, sb.latlon)
        np.testing.assert_array_equal(sa.truth, sb.truth)
    assert not np.array_equal(a.scans[0].truth, c.scans[0].truth)
    # every vessel has a truth; the plots are the detected vessels (σ 40 m) plus clutter
    assert a.scans[0].truth.shape == (30, 2)
    d = np.hypot(*(a.scans[0].xy[:, None, :] - a.scans[0].truth[None, :, :]).transpose(2, 0, 1))
    assert (d.min(axis=0) < 250.0).mean() >= 0.7  # pd = 0.9


def test_radar_scenario_latlon_is_the_same_plane_as_xy():
    from bench.scenarios import radar_scenario, to_xy
    s = radar_scenario("dense", 20, 2, seed=3)
    for scan in s.scans:
        x, y = to_xy(s.sensor.lat, s.sensor.lon, scan.latlon[:, 0], scan.latlon[:, 1])
        np.testing.assert_allclose(np.column_stack([x, y]), scan.xy, atol=1e-6)


def test_large_scenario_is_seeded_and_time_sorted():
    from bench.scenarios import LargeScenario

    def first(seed, batch=5000):
        sc = LargeScenario(200, 60.0, seed=seed, batch=batch)
        return [[(o.kind, o.sensor_id, o.time_s, o.lat, o.lon, o.mmsi) for o in obs]
                for _, batches in sc.chunks() for obs in batches]

    a, b = first(5), first(5)
    assert a == b and len(a) > 0
    flat = [x for obs in a for x in obs]
    assert all(x[2] <= y[2] for x, y in zip(flat, flat[1:]))
    assert {x[0] for x in flat} == {"ais_position", "radar_plot"}
    assert a != first(6)
    # fed in service-sized batches: the same feed, cut into lists of at most ``batch``
    small = first(5, batch=100)
    assert max(map(len, small)) == 100 and [x for obs in small for x in obs] == flat
