"""A real Kafka broker for the tests: ``kafka_bootstrap`` (session scope) → ``"127.0.0.1:PORT"``.

With ``MFC_TEST_KAFKA=host:port`` (or ``kafka://host:port``) the tests use that broker.
Otherwise ``scripts/kafka-dev`` starts one on free loopback ports with a fresh data directory
and a one-hour watchdog (so it cannot outlive a crashed run) and stops it at session end.
No Java, or no jars and no Maven → the tests skip, which ``conftest.py`` fails under CI=true.

Tests share the broker, so each uses its own topics and groups: ``unique_name()``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

KAFKA_DEV = Path(__file__).resolve().parents[1] / "scripts" / "kafka-dev"
MISSING_PREREQUISITE = 3  # kafka-dev's exit status for "no java / mvn / jars"


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def kafka_bootstrap():
    given = os.environ.get("MFC_TEST_KAFKA", "").strip()
    if given:
        yield given.removeprefix("kafka://")
        return
    if shutil.which("java") is None:
        pytest.skip("no Kafka broker: java not found (or set MFC_TEST_KAFKA=host:port)")
    # Maven is needed only until the jars are cached; kafka-dev exits 3 when it is missing then.

    data = tempfile.mkdtemp(prefix="mfc-kafka-test-")
    port = _free_port()
    controller_port = _free_port()
    while controller_port == port:
        controller_port = _free_port()
    env = dict(os.environ, MFC_KAFKA_PORT=str(port), MFC_KAFKA_CONTROLLER_PORT=str(controller_port),
               MFC_KAFKA_DATA=data)
    try:
        started = subprocess.run([str(KAFKA_DEV), "start", "--ttl", "3600"], env=env, capture_output=True,
                                 text=True, timeout=900)
    except subprocess.TimeoutExpired:
        subprocess.run([str(KAFKA_DEV), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail("scripts/kafka-dev start did not finish within 15 minutes")
    if started.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        reason = f"scripts/kafka-dev start failed ({started.returncode}): {started.stderr.strip()[-2000:]}"
        if started.returncode == MISSING_PREREQUISITE:
            pytest.skip(reason)
        pytest.fail(reason)
    bootstrap = started.stdout.strip().splitlines()[-1]
    try:
        yield bootstrap
    finally:
        subprocess.run([str(KAFKA_DEV), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(data, ignore_errors=True)
