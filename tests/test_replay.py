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
            [sys.executable, "-m", "mfc", "replay", str(feed / "ais.nmea"), str(feed / "radar.jsonl"),
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


def _replay(feed, url: str, speed: float) -> subprocess.CompletedProcess:
    # VN-NMY-A1's lines carry only a leading timestamp (no tag block naming the station)
    return subprocess.run(
        [sys.executable, "-m", "mfc", "replay", str(feed / "ais.nmea"), str(feed / "radar.jsonl"),
         "--to", url, "--speed", str(speed), "--key", ADMIN_KEY, "--sensor-id", "VN-NMY-A1"],
        capture_output=True, text=True, timeout=300)


def test_a_fast_replay_into_a_wall_clock_system_is_refused_up_front_and_sends_nothing(tmp_path):
    """At 400x a 30-minute feed would run 30 min ahead of the server's clock, and the ingest would
    refuse nearly every line as a clock fault: mfc replay says so before sending anything."""
    feed = tmp_path / "feed"
    generate(feed, vessels=10, minutes=30, seed=6, start="2026-11-24T08:00:00Z")
    with LiveServer(make_runtime(tmp_path, load_sensors(feed / "sensors.json"))) as server:
        done = _replay(feed, server.url, 400)
        assert done.returncode == 2
        assert "--speed 400 cannot work" in done.stderr and "MFC_FUSION_CLOCK=feed" in done.stderr
        assert "mfc fuse" in done.stderr
        rows = httpx.get(f"{server.url}/v1/tracks", headers={"Authorization": f"Bearer {OFFICER_KEY}"}).json()
        assert rows["tracks"] == []


def test_a_feed_clock_system_takes_a_replay_at_any_speed(tmp_path):
    feed = tmp_path / "feed"
    generate(feed, vessels=10, minutes=30, seed=6, start="2026-11-24T08:00:00Z")
    lines = sum(1 for _ in (feed / "ais.nmea").open()) + sum(1 for _ in (feed / "radar.jsonl").open())
    with LiveServer(make_runtime(tmp_path, load_sensors(feed / "sensors.json"), fusion_clock="feed")) as server:
        assert httpx.get(f"{server.url}/healthz").json()["clock"] == "feed"
        done = _replay(feed, server.url, 400)
        assert done.returncode == 0, done.stderr
        assert "ahead of receipt" not in done.stderr
        summary = done.stderr.strip().splitlines()[-1]
        accepted = int(summary.split(" accepted")[0].rsplit(" ", 1)[-1])
        assert accepted > 0.99 * lines, summary  # all but the feed's deliberate junk lines (~0.2 %)

        def identified():
            rows = httpx.get(f"{server.url}/v1/tracks", headers={"Authorization": f"Bearer {OFFICER_KEY}"}).json()
            return {t["mmsi"] for t in rows["tracks"] if t["mmsi"] is not None}
        assert wait_for(lambda: len(identified()) >= 5, timeout_s=20)
