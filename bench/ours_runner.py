"""Our ``fusion.tracker.Tracker`` on a radar scenario, scored in the radar's x/y plane."""

from __future__ import annotations

import time

import numpy as np

from fusion.config import TrackerConfig
from fusion.model import Observation
from fusion.tracker import Tracker

from .metrics import Gospa, gospa
from .scenarios import T0, RadarScenario, to_xy


def run(scenario: RadarScenario, n_scans: int | None = None, burn_in: int = 5, c: float = 500.0,
        config: TrackerConfig | None = None) -> tuple[float, int, list[Gospa]]:
    """(tracker-loop seconds, detections fed, GOSPA per scan after burn-in).

    Each scan's plots go in with one ``update`` call, then ``advance`` to the end
    of the scan closes it; the estimate is ``snapshot`` at the scan time (its
    confirmed and coasting tracks).  Only ``update`` + ``advance`` are timed.
    """
    sensor = scenario.sensor
    tracker = Tracker({sensor.id: sensor}, config)
    scans = scenario.scans[:n_scans]
    inputs = [[Observation("radar_plot", sensor.id, T0 + scan.time_s, lat, lon, scenario.sigma_m)
               for lat, lon in scan.latlon.tolist()] for scan in scans]
    spent, n_det, values = 0.0, 0, []
    for k, (scan, plots) in enumerate(zip(scans, inputs)):
        t = time.perf_counter()
        tracker.update(plots)
        tracker.advance(T0 + scan.time_s + scenario.period_s)
        spent += time.perf_counter() - t
        n_det += len(plots)
        if k >= burn_in:
            lines = tracker.snapshot(T0 + scan.time_s)
            x, y = to_xy(sensor.lat, sensor.lon, [ln.lat for ln in lines], [ln.lon for ln in lines])
            values.append(gospa(scan.truth, np.column_stack([x, y]), c=c))
    return spent, n_det, values
