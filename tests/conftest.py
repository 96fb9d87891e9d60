"""Shared fixtures: a real HTTP server on loopback, and CI's rule that a skip is a failure."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from fusion.model import Sensor
from services.config.settings import ApiKey, Settings
from services.workers.runtime import Runtime

OFFICER_KEY = "officer-key-for-tests"
INTEGRATOR_KEY = "integrator-key-for-tests"
ADMIN_KEY = "admin-key-for-tests"
SENSORS = {
    "AIS-T1": Sensor("AIS-T1", "ais", 10.0, 114.0, range_m=74_000, owner="test-integrator", releasability=("ASEAN",)),
    "RAD-T1": Sensor("RAD-T1", "radar", 10.0, 114.0, range_m=60_000, scan_period_s=3.0, owner="test-integrator", releasability=("ASEAN",)),
    "RAD-OTHER": Sensor("RAD-OTHER", "radar", 10.0, 114.0, range_m=60_000, owner="someone-else", releasability=("ASEAN",)),
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a test that would skip for a missing component fails instead."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() == "true" and call.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {report.longrepr}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(runtime)
        self.app_state = self.app.state
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.runtime.start()
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.runtime.stop()


def make_runtime(tmp_path: Path, sensors: dict[str, Sensor] | None = None, fusion: bool = True,
                 **settings: object) -> Runtime:
    base = dict(db=f"sqlite:///{tmp_path / 'mfc.db'}", demo_key=OFFICER_KEY, exercise_dir=str(tmp_path / "exercises"),
                api_keys=(ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"),
                          ApiKey(ADMIN_KEY, "admin", "test-admin")))
    base.update(settings)
    return Runtime(Settings(**base), dict(SENSORS if sensors is None else sensors),  # type: ignore[arg-type]
                   fusion=fusion)


@pytest.fixture
def live_server(tmp_path):
    with LiveServer(make_runtime(tmp_path)) as server:
        yield server


def wait_for(predicate, timeout_s: float = 10.0, every_s: float = 0.1):
    """Poll until ``predicate()`` is truthy; return its value (or the last falsy one)."""
    deadline = time.time() + timeout_s
    value = predicate()
    while not value and time.time() < deadline:
        time.sleep(every_s)
        value = predicate()
    return value
