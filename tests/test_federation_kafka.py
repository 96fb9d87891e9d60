"""Federation on real parts: two nodes, each on its own Apache Kafka broker (``scripts/kafka-dev``),
linked by Apache Kafka's MirrorMaker 2 (``scripts/federation-mirror``) over mutual TLS, each
node with its own certificate authority (``mfc federation certs``).  What A shares reaches B's
picture through the replication, verified; B stopped for a minute while A sends 1,000 records ends with all
1,000 at B, in A's order.  On A's broker, B's certificate reads B's share and nothing else, a
certificate B's CA did not issue gets no connection, and ending the agreement ends B's access."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import struct
import sys
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kafka import KafkaConsumer, TopicPartition

from services.bus import topics
from services.bus.kafka_bus import KafkaBus, decode_value

from .conftest import LiveServer, make_runtime, wait_for
from .kafka_fixture import KAFKA_DEV, MISSING_PREREQUISITE, _free_port, unique_name
from .test_federation_inbound import ADMIN, KEYS, OFFICER, PH, SG, agree, link, live_radars, partner_tracks, public_key

pytestmark = pytest.mark.slow
MIRROR = Path(__file__).resolve().parents[1] / "scripts" / "federation-mirror"


def _run(cmd: list[str], env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode == MISSING_PREREQUISITE:
        pytest.skip(f"{cmd[0]}: {done.stderr.strip()[-500:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _certs(node: str, out: Path) -> Path:
    """``node``'s CA and link certificate, made as an admin makes them (``mfc federation certs``)."""
    _run([sys.executable, "-m", "mfc", "federation", "certs", node, "--out", str(out)], dict(os.environ))
    return out


@pytest.fixture(scope="module")
def link_a_to_b():
    """Two fresh brokers (A's and B's), each node with its own CA; A's broker keeps a mutual-TLS
    listener for B (trusting only B's CA); MirrorMaker 2, run for B with B's certificate,
    replicates A's share for B onto B's broker."""
    if shutil.which("java") is None:
        pytest.skip("no Kafka broker: java not found")
    work = Path(tempfile.mkdtemp(prefix="mfc-federation-"))
    envs, boots = {}, {}
    try:
        tls = {node: _certs(node, work / f"certs-{node}") for node in ("A", "B")}
        shutil.copy(tls["B"] / "ca.pem", tls["A"] / "partners" / "B.pem")  # the CAs exchanged by the admins
        shutil.copy(tls["A"] / "ca.pem", tls["B"] / "partners" / "A.pem")
        fed_port = _free_port()
        for node in ("A", "B"):
            port, controller = _free_port(), _free_port()
            while controller in (port, fed_port) or port == fed_port:
                port, controller = _free_port(), _free_port()
            envs[node] = dict(os.environ, MFC_KAFKA_PORT=str(port), MFC_KAFKA_CONTROLLER_PORT=str(controller),
                              MFC_KAFKA_DATA=str(work / f"kafka-{node}"))
            if node == "A":
                envs[node].update(MFC_KAFKA_FEDERATION=f"B={fed_port}", MFC_KAFKA_TLS_DIR=str(tls["A"]))
            boots[node] = _run([str(KAFKA_DEV), "start", "--ttl", "1800"], envs[node]).stdout.strip().splitlines()[-1]
        boots["A-for-B"] = f"127.0.0.1:{fed_port}"
        mirror_env = dict(os.environ, MFC_MIRROR_DATA=str(work / "mirror"), MFC_MIRROR_TLS_DIR=str(tls["B"]))
        _run([str(MIRROR), "start", f"A={boots['A-for-B']}", f"B={boots['B']}", "--ttl", "1800"], mirror_env)
        boots["tls"], boots["work"] = tls, work
        yield boots
    finally:
        subprocess.run([str(MIRROR), "stop", "A", "B"], env=dict(os.environ, MFC_MIRROR_DATA=str(work / "mirror")),
                       capture_output=True, timeout=120)
        for env in envs.values():
            subprocess.run([str(KAFKA_DEV), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def node(tmp_path: Path, name: str, bootstrap: str, **settings):
    (tmp_path / name).mkdir(exist_ok=True)
    runtime = make_runtime(tmp_path / name, api_keys=KEYS, node_id=name, bus=f"kafka://{bootstrap}", **settings)
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
                # B's own broker checks nothing (no authorizer): its admin is told so on its link to A
                assert link(b, "A", "out")["broker_access"] == "no authorizer"

        # B is down for a minute while A raises 1,000 alerts; B comes back and catches up, in A's order
        stopped = time.monotonic()
        ids = [f"K{i:04d}" for i in range(1000)]
        for alert_id in ids:
            a.runtime.bus.publish(topics.ALERTS, alert_id, {
                "alert_id": alert_id, "type": "zone_entry", "severity": "low", "time": "2026-12-07T10:00:00Z",
                "lat": 11.0, "lon": 115.0, "zone": "Z", "summary": "entered Z", "state": "open",
                "evidence": {"releasability": ["ASEAN"]}})
        a.runtime.bus.flush()
        assert wait_for(lambda: a.runtime.federation.shared["B"]["alerts"] >= 1000, 60)
        time.sleep(max(0.0, 60 - (time.monotonic() - stopped)))  # the link keeps replicating into B's broker
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


def _tls_reader(boot: str, cafile: Path, identity: Path) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=boot, security_protocol="SSL", ssl_cafile=str(cafile),
                         ssl_certfile=str(identity), ssl_keyfile=str(identity), request_timeout_ms=10_000)


def _read_all(consumer: KafkaConsumer, topic: str, seconds: float = 8.0) -> list[dict]:
    """Every record of ``topic`` the consumer may read, decoded."""
    part = TopicPartition(topic, 0)
    consumer.assign([part])
    consumer.seek_to_beginning(part)
    values: list[dict] = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        values += [decode_value(m.value) for batch in consumer.poll(1000).values() for m in batch]
    return values


def _kafka_answers(boot: str, cafile: Path, identity: Path | None) -> bool:
    """Whether A's broker answers a Kafka ApiVersions request on a TLS connection made with
    ``identity`` (a certificate and key, or none), with Python's ``ssl`` (OpenSSL) as the client."""
    host, port = boot.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(cafile))
    if identity is not None:
        context.load_cert_chain(str(identity))
    request = struct.pack(">hhih", 18, 0, 7, 4) + b"test"  # ApiVersions v0, correlation id 7
    try:
        with context.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname=host) as s:
            s.sendall(struct.pack(">i", len(request)) + request)
            head = s.recv(8)
    except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
        return False
    return len(head) == 8 and struct.unpack(">ii", head)[1] == 7


def test_on_a_broker_the_partners_certificate_reads_its_share_only_and_the_agreement_ends_it(link_a_to_b, tmp_path):
    boots, tls = link_a_to_b, link_a_to_b["tls"]
    a_ca, b_identity = tls["A"] / "ca.pem", tls["B"] / "node.pem"
    # an impostor: a CA of its own that certifies "B" (the subject B's real certificate has)
    impostor = _certs("B", boots["work"] / "certs-impostor") / "node.pem"
    assert _kafka_answers(boots["A-for-B"], a_ca, b_identity)
    assert not _kafka_answers(boots["A-for-B"], a_ca, impostor)
    assert not _kafka_answers(boots["A-for-B"], a_ca, None)

    with node(tmp_path, "A", boots["A"]) as a:
        agree(a, "B", ["ASEAN"])
        assert link(a, "B", "out")["broker_access"] == "granted"
        a.runtime.bus.publish(topics.ALERTS, "T1", {
            "alert_id": "T1", "type": "zone_entry", "severity": "low", "time": "2026-12-07T10:00:00Z",
            "lat": 11.0, "lon": 115.0, "zone": "Z", "summary": "entered Z", "state": "open",
            "evidence": {"releasability": ["ASEAN"]}})
        a.runtime.bus.flush()
        assert wait_for(lambda: a.runtime.federation.shared["B"]["alerts"] >= 1, 30)
        everything = set(KafkaConsumer(bootstrap_servers=boots["A"]).topics())
        assert {topics.TRACKS, topics.ALERTS, "mfc.federation.B.alerts"} <= everything  # A's own view of its broker
        reader = _tls_reader(boots["A-for-B"], a_ca, b_identity)
        try:
            visible = reader.topics()
            assert visible and all(t.startswith("mfc.federation.B.") for t in visible), visible
            shared = [v["envelope"]["record"].get("alert_id") for v in _read_all(reader, "mfc.federation.B.alerts")]
            assert "T1" in shared, shared
            assert _read_all(reader, topics.ALERTS) == []  # A's own alerts: not B's to read
        finally:
            reader.close()

        r = httpx.delete(f"{a.url}/v1/federation/agreements/B", headers=ADMIN)
        assert r.status_code == 200, r.text
        # from the reply on: the broker lets B read nothing, not even what was shared before
        reader = _tls_reader(boots["A-for-B"], a_ca, b_identity)
        try:
            assert reader.topics() == set()
            assert _read_all(reader, "mfc.federation.B.alerts") == []
        finally:
            reader.close()


def test_a_partner_without_the_kafka_link_gets_its_share_pushed_over_http(link_a_to_b, tmp_path):
    """The same two brokers, no replication used: A pushes B's share, read from its outbound
    topic on A's broker, to B's ``POST /v1/federation/inbound``; every alert arrives, verified,
    with no gap."""
    boots = link_a_to_b
    # topics and groups of their own (the earlier tests' nodes, with other keys, left records on
    # the shared brokers' inbound topics, which these nodes would rightly refuse)
    with node(tmp_path, "A", boots["A"], kafka_prefix="push.") as a, \
            node(tmp_path, "B", boots["B"], kafka_prefix="push.") as b:
        agree(b, "A", ["ASEAN"], key=public_key(a))
        agree(a, "B", ["ASEAN"], kinds=["alerts"], push_url=f"{b.url}/v1/federation/inbound")
        for i in range(50):
            a.runtime.bus.publish(topics.ALERTS, f"H{i:02d}", {
                "alert_id": f"H{i:02d}", "type": "zone_entry", "severity": "low", "time": "2026-12-07T10:00:00Z",
                "lat": 11.0, "lon": 115.0, "zone": "Z", "summary": "entered Z", "state": "open",
                "evidence": {"releasability": ["ASEAN"]}})
        a.runtime.bus.flush()

        def pushed() -> int:
            return len([x for x in b.runtime.store.alerts(limit=5000) if x["alert_id"].startswith("A:H")])
        assert wait_for(lambda: pushed() == 50, 60), (pushed(), link(a, "B", "out")["push"], link(b, "A", "in"))
        assert link(a, "B", "out")["push"]["last_error"] is None
        assert link(b, "A", "in")["refused"] == 0 and link(b, "A", "in")["gaps"] == 0
