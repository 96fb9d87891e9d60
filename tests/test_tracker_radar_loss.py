"""Radar-only tracks are lost by missed scans of a radar that covers them (issue 13), and only then.

Positions are placed with pyproj's own ``Geod`` (WGS 84), independent of the project's geodesy.
The expected number of scans comes from the detection probability alone: the fewest misses in a
row that a vessel detected with PD 0.9 makes with probability at most 1e-6 (the defaults, for a
track with 10 plots or more) is ln(1e-6) / ln(0.1) = 6; a younger track, likelier to be clutter
or a duplicate, is held to 1e-5: ln(1e-5) / ln(0.1) = 5.
"""

from __future__ import annotations

import math

import pytest
from pyproj import Geod

from fusion.model import Observation, Sensor
from fusion.tracker import Tracker

GEOD = Geod(ellps="WGS84")
T0 = 1_795_000_000.0
PERIOD = 3.0
RADAR = (10.0, 114.0)
N_MISSES = math.ceil(math.log(1e-6) / math.log(1 - 0.9) - 1e-9)  # 6
N_MISSES_YOUNG = math.ceil(math.log(1e-5) / math.log(1 - 0.9) - 1e-9)  # 5


def at(bearing_deg: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(RADAR[1], RADAR[0], bearing_deg, metres)
    return lat, lon


def plot(t: float, latlon: tuple[float, float]) -> Observation:
    return Observation("radar_plot", "R1", t, latlon[0], latlon[1], sigma_m=50.0)


def scenario(range_m: float, vessel_m: float, beacon_m: float, radar_keeps_scanning: bool, seen_scans: int = 10):
    """A still vessel seen for ``seen_scans`` scans, then no more; a still beacon seen at every
    scan while the radar keeps scanning.  Returns the vessel's track id, its last plot's time and
    every line published up to 90 s after it."""
    tracker = Tracker({"R1": Sensor("R1", "radar", *RADAR, range_m=range_m, scan_period_s=PERIOD)})
    vessel, beacon = at(0.0, vessel_m), at(180.0, beacon_m)
    lines = []
    last = T0 + (seen_scans - 1) * PERIOD
    for k in range(seen_scans + 30):
        t = T0 + k * PERIOD
        scan = [plot(t, vessel)] if t <= last else []
        if radar_keeps_scanning or t <= last:
            scan.append(plot(t, beacon))
        lines += tracker.update(scan) if scan else tracker.advance(t)
    lines += tracker.flush() + tracker.advance(last + 90.0)
    tid = min((ln for ln in lines if ln.time_s <= last), key=lambda ln: abs(ln.lat - vessel[0])).track_id
    return tid, last, [ln for ln in lines if ln.track_id == tid]


@pytest.mark.parametrize("seen_scans, misses", [(30, N_MISSES), (15, N_MISSES), (6, N_MISSES_YOUNG)])
def test_a_radar_only_track_is_lost_after_the_scans_a_real_vessel_would_not_miss(seen_scans: int, misses: int):
    tid, last, lines = scenario(range_m=20_000.0, vessel_m=10_000.0, beacon_m=5_000.0, radar_keeps_scanning=True,
                                seen_scans=seen_scans)
    lost = [ln for ln in lines if ln.status == "lost"]
    assert len(lost) == 1, lines[-3:]
    # kept through N missed scans (and the (N+1)-th, whose miss is known only when it closes: a
    # scan closes when the following one's first plot arrives, at that plot's time), gone before
    # the scan after is associated; not after the 60 s floor
    assert last + (misses + 1) * PERIOD < lost[0].time_s <= last + (misses + 2) * PERIOD + 1e-6


def test_a_radar_only_track_out_of_the_radars_range_is_not_lost_for_scans_it_could_not_see():
    tid, last, lines = scenario(range_m=8_000.0, vessel_m=10_000.0, beacon_m=5_000.0, radar_keeps_scanning=True)
    lost = [ln for ln in lines if ln.status == "lost"]
    assert len(lost) == 1
    assert lost[0].time_s >= last + 60.0  # radar_lost_min_s: the time floor still holds


def test_a_radar_that_stops_scanning_does_not_lose_its_tracks_by_missed_scans():
    tid, last, lines = scenario(range_m=20_000.0, vessel_m=10_000.0, beacon_m=5_000.0, radar_keeps_scanning=False)
    lost = [ln for ln in lines if ln.status == "lost"]
    assert len(lost) == 1
    assert lost[0].time_s >= last + 60.0
