"""Exercises started from the page: ``/v1/exercise`` (admin only) on an exercise system writes a
built-in scenario under MFC_EXERCISE_DIR, plays its feeds through the server's own ingest in the
background, shows the progress and stops; a live system refuses; the truth is never served."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.routing import APIRoute

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
SHORT = {"scenario": "quiet-day", "hours": 0.25}  # 15 min of feed: the quickest built-in to write


def exercise_system(tmp_path: Path) -> LiveServer:
    return LiveServer(make_runtime(tmp_path, {}, exercise="Drill 1", fusion_clock="feed"))


def state(url: str) -> dict:
    r = httpx.get(f"{url}/v1/exercise", headers=ADMIN, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def picture_count(url: str) -> int:
    return len(httpx.get(f"{url}/v1/picture", headers=OFFICER, timeout=30).json()["features"])


def test_a_live_system_refuses_an_exercise_from_the_api(tmp_path):
    with LiveServer(make_runtime(tmp_path, {})) as server:
        url = server.url
        r = httpx.post(f"{url}/v1/exercise", json={"scenario": "distress", "speed": 10}, headers=ADMIN)
        assert r.status_code == 409 and "live system" in r.json()["error"] and "MFC_EXERCISE" in r.json()["error"]
        assert state(url) == {"exercise": None, "state": "none", "scenarios": []}
        r = httpx.delete(f"{url}/v1/exercise", headers=ADMIN)
        assert r.status_code == 409 and "live system" in r.json()["error"]
        assert httpx.get(f"{url}/v1/sensors", headers=OFFICER).json()["sensors"] == []
        assert not (tmp_path / "exercises").exists()


def test_only_an_admin_sees_starts_or_stops_an_exercise(tmp_path):
    with exercise_system(tmp_path) as server:
        for method in ("GET", "POST", "DELETE"):
            body = json.dumps(SHORT) if method == "POST" else None
            r = httpx.request(method, f"{server.url}/v1/exercise", content=body)
            assert r.status_code == 401 and "key" in r.json()["error"], (method, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            r = httpx.request(method, f"{server.url}/v1/exercise", content=body,
                              headers={"Authorization": "Bearer wrong-key-0000000000"})
            assert r.status_code == 401, (method, r.text)
            for key in (OFFICER_KEY, INTEGRATOR_KEY):
                r = httpx.request(method, f"{server.url}/v1/exercise", content=body,
                                  headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 403 and "needs admin" in r.json()["error"], (method, key, r.text)
        assert state(server.url)["state"] == "none"  # nothing started by the refused requests
        assert not (tmp_path / "exercises").exists()


def test_an_unknown_scenario_or_a_bad_body_is_refused_with_the_reason(tmp_path):
    with exercise_system(tmp_path) as server:
        st = state(server.url)
        assert st["exercise"] == "Drill 1" and st["state"] == "none"
        names = [s["name"] for s in st["scenarios"]]
        assert {"distress", "quiet-day", "whitsun-swarm"} <= set(names)
        assert all(s["description"] and s["hours"] > 0 for s in st["scenarios"])
        url = f"{server.url}/v1/exercise"
        r = httpx.post(url, json={"scenario": "no-such-drill"}, headers=ADMIN)
        assert r.status_code == 422 and "no-such-drill" in r.json()["error"]
        assert all(n in r.json()["error"] for n in names)  # the reason lists the built-in ones
        for path in ("services/data/scenarios/distress.toml", "/etc/passwd", "../distress"):  # names, never paths
            assert httpx.post(url, json={"scenario": path}, headers=ADMIN).status_code == 422
        for body, why in (({"scenario": "distress", "speed": 0}, "speed"), ({"speed": 2}, "scenario"),
                          ({"scenario": "distress", "truth": True}, "unknown field 'truth'"),
                          ({"scenario": "distress", "hours": 100}, "hours")):
            r = httpx.post(url, json=body, headers=ADMIN)
            assert r.status_code == 422 and why in r.json()["error"], (body, r.text)
        r = httpx.post(url, content=b"{", headers=ADMIN)
        assert r.status_code == 422 and "invalid JSON" in r.json()["error"]
        r = httpx.delete(url, headers=ADMIN)
        assert r.status_code == 409 and "no exercise is running" in r.json()["error"]
        assert state(server.url)["state"] == "none" and not (tmp_path / "exercises").exists()


def test_a_wall_clock_exercise_system_refuses_a_speed_its_ingest_cannot_take(tmp_path):
    with LiveServer(make_runtime(tmp_path, {}, exercise="Drill 1")) as server:
        r = httpx.post(f"{server.url}/v1/exercise", json={"scenario": "distress", "speed": 100}, headers=ADMIN)
        assert r.status_code == 409 and "MFC_FUSION_CLOCK=feed" in r.json()["error"]
        assert state(server.url)["state"] == "none"


def test_an_instructor_starts_watches_and_stops_an_exercise_whose_truth_is_never_served(tmp_path):
    with exercise_system(tmp_path) as server:
        url = server.url
        t0 = time.time()
        r = httpx.post(f"{url}/v1/exercise", json={**SHORT, "speed": 10}, headers=ADMIN)
        assert r.status_code == 202, r.text
        st = r.json()
        assert st["state"] == "starting" and st["scenario"] == "quiet-day" and st["speed"] == 10
        assert st["by"] == "test-admin" and st["exercise"] == "Drill 1"
        d = Path(st["dir"])
        assert d.parent == tmp_path / "exercises"
        # a second start while one plays
        again = httpx.post(f"{url}/v1/exercise", json={"scenario": "distress", "speed": 10}, headers=ADMIN)
        assert again.status_code == 409 and "already" in again.json()["error"]

        # its feeds play through the ingest: tracks appear in the picture, the progress grows
        assert wait_for(lambda: picture_count(url) > 0, 180, 1.0), state(url)
        st = state(url)
        assert st["state"] == "running" and 0 < st["sent"] < st["total"], st
        assert st["started"] and time.time() - t0 < 180
        assert wait_for(lambda: state(url)["sent"] > st["sent"], 20, 0.5)
        record = json.loads((d / "exercise.json").read_text())
        assert record["state"] == "running" and record["runner"] == "server" and "pid" not in record
        sensors = httpx.get(f"{url}/v1/sensors", headers=OFFICER).json()["sensors"]
        assert sensors and {s["owner"] for s in sensors} == {"MFC-EXERCISE"}

        # the CLI's stop signals a process: never the server's own
        done = subprocess.run([sys.executable, "-m", "mfc", "exercise", "stop", str(d)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "DELETE /v1/exercise" in done.stderr
        assert state(url)["state"] == "running"

        truth = (d / "truth.jsonl").read_text().splitlines()
        assert truth
        _nothing_serves_the_truth(server, d, truth[:3])

        r = httpx.delete(f"{url}/v1/exercise", headers=ADMIN, timeout=60)
        assert r.status_code == 200, r.text
        stopped = r.json()
        assert stopped["state"] == "stopped" and stopped["sent"] < stopped["total"] and stopped["ended"]
        time.sleep(2.0)  # nothing more reaches the ingest
        after = state(url)
        assert after["state"] == "stopped" and after["sent"] == stopped["sent"]
        assert json.loads((d / "exercise.json").read_text())["state"] == "stopped"
        assert httpx.delete(f"{url}/v1/exercise", headers=ADMIN).status_code == 409

        # another may start once it stopped; a short one plays to its end
        r = httpx.post(f"{url}/v1/exercise", json={"scenario": "quiet-day", "hours": 0.05, "speed": 60},
                       headers=ADMIN)
        assert r.status_code == 202, r.text
        assert Path(r.json()["dir"]) != d
        done_state = wait_for(lambda: state(url)["state"] in ("finished", "failed") and state(url), 180, 1.0)
        assert done_state and done_state["state"] == "finished", state(url)
        assert done_state["sent"] == done_state["total"] > 0
        record = json.loads((Path(done_state["dir"]) / "exercise.json").read_text())
        assert record["state"] == "finished" and record["totals"]["accepted"] > 0
        assert record["url"] == url  # what `mfc exercise debrief DIR` reads the alerts from


def _nothing_serves_the_truth(server: LiveServer, d: Path, truth_lines: list[str]) -> None:
    """Every GET path of the app (the stream aside: it never ends), with path parameters aimed at
    the exercise's files, and the static files with the directory's path: no truth in any answer."""
    rel = Path(*([".."] * 12)) / d.relative_to(d.anchor) / "truth.jsonl"
    guesses = ["truth.jsonl", "labels.jsonl", d.name, str(rel), "..%2F..%2Ftruth.jsonl"]
    paths = []
    for route in _routes(server):
        if "GET" not in route.methods or route.path == "/v1/stream":
            continue
        if "{" not in route.path:
            paths.append(route.path)
        else:
            for g in guesses:
                paths.append(route.path.split("{")[0] + g.replace("/", "%2F"))
    for raw in ("/static/" + str(rel), "/static/" + str(rel).replace("..", "%2e%2e"),
                "/static/" + str(rel).replace("/", "%2F"), f"/{d.name}/truth.jsonl", "/exercises/truth.jsonl",
                "/v1/exercise/truth.jsonl", "/v1/exercise?file=truth.jsonl"):
        paths.append(raw)
    assert "/v1/exercise" in paths and "/v1/picture" in paths
    seen = 0
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=60) as client:
        for path in paths:
            r = client.request("GET", httpx.URL(server.url + path) if "%" in path else path)
            text = r.text
            seen += 1
            assert not any(line in text for line in truth_lines), path
            assert '"vessel":"V0' not in text.replace(" ", ""), path
    doc = httpx.get(f"{server.url}/v1/exercise", headers=ADMIN).json()
    assert not {"summary", "totals", "labels", "positive_labels"} & set(doc)
    assert seen > 30


def _routes(server: LiveServer) -> list[APIRoute]:
    return [r for r in server.server.config.app.routes if isinstance(r, APIRoute)]
