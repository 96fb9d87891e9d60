"""Late lines over HTTP: the verdict and the sensor's health count them, and they still reach
the vessel's track and its history (nothing accepted is silently dropped)."""

from __future__ import annotations

import time

import httpx

from fusion.model import iso_time
from ingest.timeparse import parse_iso

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, wait_for
from .test_api import position_sentence, with_time

OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
MMSI = 548_777_001


def test_lines_older_than_the_live_window_are_accepted_counted_late_and_kept_in_history(live_server):
    now = int(time.time())
    t0 = now - 2 * 3600  # a recording from two hours ago: 20 reports, one a minute
    recorded = [with_time(position_sentence(MMSI, 10.10 + 0.002 * k, 114.10, 7.0, 0.0), t0 + 60 * k)
                for k in range(20)]
    fresh = with_time(position_sentence(548_777_002, 10.3, 114.3), now)
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content="\n".join(recorded + [fresh]),
                   headers=INTEGRATOR)
    assert r.status_code == 202
    verdict = r.json()
    assert (verdict["accepted"], verdict["late"], verdict["rejected"]) == (21, 20, 0)
    sensors = httpx.get(f"{live_server.url}/v1/sensors", headers=OFFICER).json()["sensors"]
    (health,) = [s["health"] for s in sensors if s["id"] == "AIS-T1"]
    assert (health["accepted"], health["late"]) == (21, 20)

    def replayed():  # the picture as it was 10 minutes into the recording (from stored history)
        at = iso_time(t0 + 600)
        rows = httpx.get(f"{live_server.url}/v1/picture", headers=OFFICER, params={"at": at}).json()["features"]
        return [f["properties"] for f in rows if f["properties"]["mmsi"] == MMSI]

    (then,) = wait_for(replayed, timeout_s=20)
    assert then["time"] == iso_time(t0 + 600) and abs(then["lat"] - 10.12) < 0.001
    points = httpx.get(f"{live_server.url}/v1/tracks/{then['track_id']}/history", headers=OFFICER).json()["points"]
    recorded_times = {t0 + 60 * k for k in range(1, 20)}  # from its second report (the confirmation)
    assert recorded_times <= {round(parse_iso(p["time"])) for p in points}
