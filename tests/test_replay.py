"""`mfc replay` pushes a recorded feed into a running system as an integrator would."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from ingest.sensors import load_sensors
from sample_feeds.generate import generate

from .conftest import ADMIN_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for


def test_replay_of_a_recorded_feed_builds_the_picture(tmp_path):
    feed = tmp_path / "feed"
    generate(feed, vessels=20, minutes=3, seed=5, start="2026-11-24T08:00:00Z")
    sensors = load_sensors(feed / "sensors.json")
    truth_mmsis = {json.loads(l)["mmsi"] for l in (feed / "truth.jsonl").read_text().splitlines()} - {None}
    with LiveServer(make_runtime(tmp_path, sensors)) as server:
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "replay", str(feed / "ais.nmea"), str(feed / "radar.jsonl"),
             "--to", server.url, "--speed", "30", "--key", ADMIN_KEY],
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        summary = done.stderr.strip().splitlines()[-1]
        assert "accepted" in summary and " 0 accepted" not in summary

        def identified():
            rows = httpx.get(f"{server.url}/v1/tracks", headers={"Authorization": f"Bearer {OFFICER_KEY}"}).json()
            return {t["mmsi"] for t in rows["tracks"] if t["mmsi"] is not None}

        seen = wait_for(lambda: len(identified()) >= 10, timeout_s=20) and identified()
        assert seen and seen <= truth_mmsis  # every identity on the picture is a real vessel's
        # times were shifted to now: the picture is current, not from the recording's day
        picture = httpx.get(f"{server.url}/v1/picture", headers={"Authorization": f"Bearer {OFFICER_KEY}"}).json()
        from ingest.timeparse import parse_iso
        import time
        assert abs(parse_iso(picture["time"]) - time.time()) < 600
