"""Our ``fusion.tracker.Tracker`` on a radar scenario, scored in the radar's x/y plane."""

from __future__ import annotations

import time

import numpy as np

from fusion.config import TrackerConfig
from fusion.model import Observation
from fusion.tracker import Tracker

from .metrics import RunResult, gospa
from .scenarios import T0, RadarScenario, to_xy


def run(scenario: RadarScenario, n_scans: int | None = None, burn_in: int = 5, c: float = 500.0,
        config: TrackerConfig | None = None) -> RunResult:
    """Tracker-loop CPU seconds, detections fed and GOSPA per scan from scan ``burn_in`` on.

    Each scan's plots go in with one ``update`` call and ``flush`` closes the
    scan at once, so the scan is processed at its own time (as Stone Soup's
    ``update_tracker`` does).  Housekeeping (coasting, dropping silent tracks)
    runs inside the next scan's ``update``, at that scan's time, before its
    plots are associated.  The estimate is ``snapshot`` at the scan time: the
    confirmed and coasting tracks, predicted to it (tentative ones are not
    published, just as Stone Soup keeps its holding tracks in the initiator).
    Only ``update`` + ``flush`` are timed, with the process CPU clock.
    """
    sensor = scenario.sensor
    tracker = Tracker({sensor.id: sensor}, config)
    scans = scenario.scans[:n_scans]
    inputs = [[Observation("radar_plot", sensor.id, T0 + scan.time_s, lat, lon, scenario.sigma_m)
               for lat, lon in scan.latlon.tolist()] for scan in scans]
    spent, n_det, values = 0.0, 0, []
    for k, (scan, plots) in enumerate(zip(scans, inputs)):
        t = time.process_time()
        tracker.update(plots)
        tracker.flush()
        spent += time.process_time() - t
        n_det += len(plots)
        if k >= burn_in:
            lines = tracker.snapshot(T0 + scan.time_s)
            x, y = to_xy(sensor.lat, sensor.lon, [ln.lat for ln in lines], [ln.lon for ln in lines])
            values.append(gospa(scan.truth, np.column_stack([x, y]), c=c))
    return RunResult(spent, n_det, len(scans), values)
