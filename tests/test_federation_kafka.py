"""Federation on real parts: two nodes, each on its own Apache Kafka broker (``scripts/kafka-dev``),
linked by Apache Kafka's MirrorMaker 2 (``scripts/federation-mirror``).  What A shares reaches
B's picture through the replication, verified; B stopped while A sends 1,000 records ends
with all 1,000 at B, in A's order."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services import topics
from services.kafka_bus import KafkaBus

from .conftest import LiveServer, make_runtime, wait_for
from .kafka_fixture import KAFKA_DEV, MISSING_PREREQUISITE, _free_port, unique_name
from .test_federation_inbound import KEYS, OFFICER, PH, SG, agree, link, live_radars, partner_tracks, public_key

pytestmark = pytest.mark.slow
MIRROR = Path(__file__).resolve().parents[1] / "scripts" / "federation-mirror"


def _run(cmd: list[str], env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode == MISSING_PREREQUISITE:
        pytest.skip(f"{cmd[0]}: {done.stderr.strip()[-500:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def link_a_to_b():
    """Two fresh brokers (A's and B's) and MirrorMaker 2 replicating A's share for B onto B's."""
    if shutil.which("java") is None:
        pytest.skip("no Kafka broker: java not found")
    work = Path(tempfile.mkdtemp(prefix="mfc-federation-"))
    envs, boots = {}, {}
    try:
        for node in ("A", "B"):
            port, controller = _free_port(), _free_port()
            while controller == port:
                controller = _free_port()
            envs[node] = dict(os.environ, MFC_KAFKA_PORT=str(port), MFC_KAFKA_CONTROLLER_PORT=str(controller),
                              MFC_KAFKA_DATA=str(work / f"kafka-{node}"))
            boots[node] = _run([str(KAFKA_DEV), "start", "--ttl", "1800"], envs[node]).stdout.strip().splitlines()[-1]
        mirror_env = dict(os.environ, MFC_MIRROR_DATA=str(work / "mirror"))
        _run([str(MIRROR), "start", f"A={boots['A']}", f"B={boots['B']}", "--ttl", "1800"], mirror_env)
        yield boots
    finally:
        subprocess.run([str(MIRROR), "stop", "A", "B"], env=dict(os.environ, MFC_MIRROR_DATA=str(work / "mirror")),
                       capture_output=True, timeout=120)
        for env in envs.values():
            subprocess.run([str(KAFKA_DEV), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def node(tmp_path: Path, name: str, bootstrap: str):
    (tmp_path / name).mkdir(exist_ok=True)
    runtime = make_runtime(tmp_path / name, api_keys=KEYS, node_id=name, bus=f"kafka://{bootstrap}")
    with LiveServer(runtime) as server:
        yield server


def test_a_partners_share_crosses_mirrormaker_verified_and_survives_the_receiver_stopping(link_a_to_b, tmp_path):
    boots = link_a_to_b
    with node(tmp_path, "A", boots["A"]) as a:
        with node(tmp_path, "B", boots["B"]) as b:
            agree(a, "B", ["ASEAN", "SG"])
            agree(b, "A", ["ASEAN"], key=public_key(a))
            with live_radars(a, {"RAD-SG": (11.0, ["SG"]), "RAD-PH": (11.3, ["PH"])}):
                assert wait_for(lambda: len(partner_tracks(b, OFFICER)) == 1, 90), \
                    (link(b, "A", "in"), a.runtime.federation.status(), httpx.get(f"{a.url}/v1/tracks", headers=OFFICER).json())
                (track,) = partner_tracks(b, OFFICER).values()
                assert track["origin"] == ["A"] and abs(track["lat"] - 11.1) < 0.01  # the SG radar's, not the PH one's
                assert set(partner_tracks(b, SG)) == {track["track_id"]} and partner_tracks(b, PH) == {}
                assert wait_for(lambda: (link(b, "A", "in") or {}).get("state") == "up", 30), link(b, "A", "in")
                assert link(b, "A", "in")["refused"] == 0

        # B is down while A raises 1,000 alerts; B comes back and catches up, in A's order
        ids = [f"K{i:04d}" for i in range(1000)]
        for alert_id in ids:
            a.runtime.bus.publish(topics.ALERTS, alert_id, {
                "alert_id": alert_id, "type": "zone_entry", "severity": "low", "time": "2026-12-07T10:00:00Z",
                "lat": 11.0, "lon": 115.0, "zone": "Z", "summary": "entered Z", "state": "open",
                "evidence": {"releasability": ["ASEAN"]}})
        a.runtime.bus.flush()
        assert wait_for(lambda: a.runtime.federation.shared["B"]["alerts"] >= 1000, 60)
        time.sleep(10)  # the link keeps replicating into B's broker while B is away
        with node(tmp_path, "B", boots["B"]) as b:
            def stored() -> int:
                return len([x for x in b.runtime.store.alerts(limit=5000) if x["alert_id"].startswith("A:K")])
            assert wait_for(lambda: stored() == 1000, 120), (stored(), link(b, "A", "in"), a.runtime.federation.status())
            assert link(b, "A", "in")["refused"] == 0
        # the link itself: on B's broker, A's 1,000 alerts once each, in the order A sent them
        reader = KafkaBus(boots["B"])
        try:
            consumer = reader.consumer("A_mfc.federation.B.alerts", unique_name("order"))
            seen: list[str] = []
            deadline = time.time() + 60
            while len(seen) < 1000 and time.time() < deadline:
                seen += [r.value["envelope"]["record"]["alert_id"] for r in consumer.poll(1.0, 5000)
                         if r.value["envelope"]["kind"] == "alerts"]
            time.sleep(1.0)
            seen += [r.value["envelope"]["record"]["alert_id"] for r in consumer.poll(1.0, 5000)
                     if r.value["envelope"]["kind"] == "alerts"]
            assert seen == ids
            consumer.close()
        finally:
            reader.close()
