"""mfc exercise: a scenario played into a running exercise system, a trainee working the alert
queue, and the debrief against the truth, all through the command line and the HTTP API."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from .conftest import ADMIN_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for

MFC = [sys.executable, "-m", "mfc"]
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}


def mfc(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*MFC, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_an_exercise_is_refused_by_a_live_system(tmp_path):
    with LiveServer(make_runtime(tmp_path, {})) as server:
        r = mfc("exercise", "start", "distress", "--to", server.url, "--key", ADMIN_KEY, "--dir", tmp_path / "ex")
        assert r.returncode == 2 and "live system" in r.stderr and "MFC_EXERCISE" in r.stderr
        assert not (tmp_path / "ex").exists()
        sensors = httpx.get(f"{server.url}/v1/sensors", headers=OFFICER).json()["sensors"]
        assert sensors == []


def test_a_drill_played_worked_and_debriefed(tmp_path):
    d = tmp_path / "drill"
    runtime = make_runtime(tmp_path, {}, exercise="Drill 1", fusion_clock="feed")
    with LiveServer(runtime) as server:
        url = server.url
        assert httpx.get(f"{url}/healthz").json()["exercise"] == "Drill 1"
        r = mfc("exercise", "start", "distress", "--to", url, "--key", ADMIN_KEY, "--speed", "300", "--dir", d,
                "--hours", "1")
        assert r.returncode == 0, r.stderr
        record = json.loads((d / "exercise.json").read_text())
        assert record["state"] == "finished" and record["exercise"] == "Drill 1"
        assert (d / "truth.jsonl").exists()  # the truth stays with the instructor

        def distress():
            rows = httpx.get(f"{url}/v1/alerts", params={"type": "distress"}, headers=OFFICER).json()["alerts"]
            return rows
        alerts = wait_for(distress, 20)
        assert len(alerts) == 1, alerts  # the active SART; the one in test mode raised nothing
        aid = alerts[0]["alert_id"]
        # the trainee works the queue
        assert httpx.patch(f"{url}/v1/alerts/{aid}", json={"state": "acknowledged"}, headers=OFFICER).status_code == 200
        assert httpx.patch(f"{url}/v1/alerts/{aid}", json={"state": "closed", "disposition": "true_positive"},
                           headers=OFFICER).status_code == 200
        # everything the system serves says it is an exercise
        picture = httpx.get(f"{url}/v1/picture", headers=OFFICER).json()
        assert picture["exercise"] == "Drill 1" and picture["features"]
        cot = httpx.get(f"{url}/v1/picture.cot", headers=OFFICER).text
        assert 'opex="e-Drill 1"' in cot

        r = mfc("exercise", "debrief", d, "--key", OFFICER_KEY, "--json", tmp_path / "debrief.json")
        assert r.returncode == 0, r.stderr
        assert "scripted cases alerted: 1 of 1" in r.stdout
        data = json.loads((tmp_path / "debrief.json").read_text())
        case = next(c for c in data["cases"] if c["positive"])
        assert case["alerted"] and case["alert_id"] == aid
        assert case["acknowledged_by"] == "demo-officer" and case["closed_by"] == "demo-officer"
        assert case["disposition"] == "true_positive" and case["disposition_right"] is True
        assert case["acknowledged_after_s"] >= 0
        near = next(c for c in data["cases"] if not c["positive"])
        assert near["alerted"] is False
        me = data["trainees"]["demo-officer"]
        assert me["acknowledged"] == 1 and me["closed"] == 1 and me["dispositions_right"] == 1
        assert me["dispositions_wrong"] == 0
