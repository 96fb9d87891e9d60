"""Our ``fusion.tracker.Tracker`` on a radar scenario, scored in the radar's x/y plane; and
``mfc fuse`` as a whole process on the same plots (``run_fuse``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fusion.config import TrackerConfig
from fusion.model import Observation
from fusion.tracker import Tracker

from .metrics import RunResult, gospa
from .scenarios import T0, RadarScenario, to_xy

ROOT = Path(__file__).resolve().parent.parent


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


def write_feed(scenario: RadarScenario, folder: Path) -> tuple[Path, Path]:
    """The scenario as users give it to ``mfc fuse``: a sensors file and radar JSON Lines
    (``docs/architecture.md``, geographic plots with ``sigma_m``), one timestamp per scan."""
    s = scenario.sensor
    sensors = {"sensors": [{"id": s.id, "kind": "radar", "lat": s.lat, "lon": s.lon, "range_m": s.range_m,
                            "accuracy_m": s.accuracy_m, "scan_period_s": s.scan_period_s, "owner": "BENCH",
                            "releasability": ["ASEAN"]}]}
    sensors_path = folder / "sensors.json"
    sensors_path.write_text(json.dumps(sensors), encoding="utf-8")
    feed_path = folder / "radar.jsonl"
    head = f'{{"kind": "plot", "sensor_id": "{s.id}", "time": "'
    with open(feed_path, "w", encoding="utf-8") as fh:
        for scan in scenario.scans:
            when = _iso(T0 + scan.time_s)
            fh.writelines(f'{head}{when}", "lat": {lat!r}, "lon": {lon!r}, "sigma_m": {scenario.sigma_m:g}}}\n'
                          for lat, lon in scan.latlon.tolist())
    return feed_path, sensors_path


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def run_fuse(scenario: RadarScenario, c: float = 500.0, extra_args: tuple[str, ...] = ()) -> RunResult:
    """``mfc fuse`` as users run it, a separate process with default settings, on the
    scenario's plots; one snapshot right after each scan (``--sample-every`` the scan period
    with ``--sample-closed``), scored against the truth at the scan.  ``seconds`` is the
    wall-clock time of the whole process (start-up, reading, fusing, rules, writing)."""
    sensor = scenario.sensor
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        feed, sensors = write_feed(scenario, folder)
        tracks = folder / "tracks.jsonl"
        cmd = [sys.executable, "-m", "mfc", "fuse", str(feed), "--sensors", str(sensors),
               "--tracks-out", str(tracks), "--alerts-out", str(folder / "alerts.jsonl"),
               "--sample-every", f"{scenario.period_s:g}", "--sample-closed", *extra_args]
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                       capture_output=True)
        spent = time.perf_counter() - t
        by_scan: dict[int, list[tuple[float, float]]] = {}
        with open(tracks, encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                k = round((datetime.fromisoformat(d["time"]).timestamp() - T0) / scenario.period_s)
                by_scan.setdefault(k, []).append((d["lat"], d["lon"]))
    values = []
    for k, scan in enumerate(scenario.scans):
        pts = by_scan.get(k, [])
        x, y = to_xy(sensor.lat, sensor.lon, [p[0] for p in pts], [p[1] for p in pts])
        values.append(gospa(scan.truth, np.column_stack([x, y]), c=c))
    return RunResult(spent, scenario.n_detections, len(scenario.scans), values)
