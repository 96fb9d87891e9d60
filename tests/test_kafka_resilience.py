"""Resilience of the Kafka deployment, with real ``mfc`` service processes on a real broker.

- the fusion service SIGKILLed mid-feed and started again: every observation is fused once, and
  the final picture (latest line per track id on the compacted ``mfc.tracks``, latest state per
  alert id on ``mfc.alerts``) equals an uninterrupted run's, with no extra track or alert ids;
  on six partitions, the journal makes the restarted service redo its last batches identically,
  so no ghost track is left behind;
- the broker restarted mid-feed: HTTP ingest answers 503 with Retry-After while it is down,
  producers retry, and nothing answered 202 is lost;
- poison records on ``mfc.obs`` and the raw topics go to ``mfc.deadletter`` with their reason
  and the stream goes on.

Tests on the session broker use their own topic and group prefix (``MFC_KAFKA_PREFIX``); the
broker-restart test starts its own broker on its own ports and data directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from fusion.pipeline import Fusion
from fusion.rules import Geography
from ingest.sensors import load_sensors
from sample_feeds.generate import generate
from services.bus import topics
from services.workers.fuse import load_observations
from services.geo.geography import build_geography
from services.bus.core import EmbeddedBus
from services.state.checkpoint import Checkpoint
from services.workers.ingest_service import IngestService
from services.bus.kafka_bus import KafkaBus, TopicSpec, ensure_topics

from .conftest import free_port, wait_for
from .kafka_fixture import KAFKA_DEV, kafka_bootstrap, unique_name  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
MFC = [sys.executable, "-m", "mfc"]
pytestmark = pytest.mark.slow


def make_feed(out: Path, vessels: int, minutes: int, seed: int):
    """A generated feed in ``out``: (folder, sensors, observations decoded from its files)."""
    generate(out, vessels=vessels, minutes=minutes, seed=seed, start="2026-11-24T08:00:00Z")
    sensors = load_sensors(out / "sensors.json")
    observations, _ = load_observations([out / "ais.nmea", out / "radar.jsonl"], sensors)
    return out, sensors, observations


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    return make_feed(tmp_path_factory.mktemp("feed"), vessels=30, minutes=15, seed=11)


def reference(sensors, observations) -> tuple[dict, dict]:
    """An uninterrupted run in process: latest line per track id, latest emission per alert id."""
    fusion = Fusion(sensors, build_geography(sensors))
    tracks, alerts = {}, {}
    for i in range(0, len(observations), 500):
        lines, raised = fusion.update(observations[i:i + 500])
        tracks.update((x.track_id, json.loads(json.dumps(x.to_dict()))) for x in lines)
        alerts.update((a.alert_id, json.loads(json.dumps(a.to_dict()))) for a in raised)
    return tracks, alerts


class Service:
    """One ``mfc <command>`` process with its own log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Service":
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(MFC + self.command, env=self.env, cwd=ROOT, stdout=fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        fh.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM (graceful: the fusion service saves its checkpoint) and wait."""
        assert self.proc is not None
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def services():
    started: list[Service] = []

    def make(command, env, log) -> Service:
        s = Service(command, env, log)
        started.append(s)
        return s
    yield make
    for s in started:
        s.kill()


def service_env(bootstrap: str, tmp_path: Path, sensors_file: Path, prefix: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFC_")}
    env.update(MFC_BUS=f"kafka://{bootstrap}", MFC_KAFKA_PREFIX=prefix, MFC_SENSORS=str(sensors_file),
               MFC_CHECKPOINT=str(tmp_path / "fusion.ckpt"), MFC_FUSION_CLOCK="feed",
               MFC_DB=f"sqlite:///{tmp_path / 'mfc.db'}", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list:
    """Every record of a topic (all partitions, from the beginning to the current end)."""
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        parts = wait_for(lambda: consumer.partitions_for_topic(topic), timeout_s=timeout_s)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for msgs in consumer.poll(timeout_ms=500).values():
                out.extend(msgs)
        return out
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def latest(records, key_field: str) -> dict:
    out = {}
    for msg in sorted(records, key=lambda m: (m.partition, m.offset)):
        value = json.loads(msg.value)
        assert msg.key.decode() == value[key_field]
        out[value[key_field]] = value
    return out


def load_checkpoint(path: Path) -> dict:
    """The saved offsets and state (restored into an empty geography: enough to inspect it)."""
    fusion, covered = Checkpoint(path).load(Fusion({}, Geography()))
    return {"covered": covered, "fusion": fusion}


def covered_of(path: Path) -> dict[int, int]:
    return Checkpoint(path).peek()["covered"]


def chunked(observations, chunks: int, ais_lag: int = 0) -> list[list]:
    """The feed in ``chunks`` time slices; with ``ais_lag``, AIS arrives that many slices late."""
    size = -(-len(observations) // chunks)
    slices = [observations[i:i + size] for i in range(0, len(observations), size)]
    if not ais_lag:
        return slices
    radar = [[o for o in sl if not o.kind.startswith("ais")] for sl in slices]
    ais = [[o for o in sl if o.kind.startswith("ais")] for sl in slices]
    out = []
    for n in range(len(slices) + ais_lag):
        out.append((radar[n] if n < len(slices) else []) + (ais[n - ais_lag] if n >= ais_lag else []))
    return out


def publish_paced(bus: KafkaBus, chunks: list[list], pause_s: float, on_chunk=None) -> None:
    for n, chunk in enumerate(chunks):
        for obs in chunk:
            value = obs.to_dict()
            bus.publish(topics.OBS, topics.obs_key(value), value)
        bus.flush()
        if on_chunk:
            on_chunk(n)
        time.sleep(pause_s)


def run_fusion_with_a_crash(bootstrap, feed, tmp_path, services, obs_partitions: int, ais_lag: int = 0):
    """Publish the feed paced; SIGKILL ``mfc fusion`` mid-feed; start it again; stop it gracefully."""
    out, sensors, observations = feed
    prefix = unique_name("res") + "."
    bus = KafkaBus(bootstrap, prefix=prefix)
    ensure_topics(bus, {topics.OBS: TopicSpec(obs_partitions)})
    ensure_topics(bus)
    env = service_env(bootstrap, tmp_path, out / "sensors.json", prefix)
    ckpt = tmp_path / "fusion.ckpt"
    fusion = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "fusion-1.log").start()
    killed = {}
    attempts = [fusion]

    def maybe_kill(chunk: int) -> None:
        if chunk == 0:  # the service is up and fusing before the feed goes on
            assert wait_for(lambda: ckpt.exists() and covered_of(ckpt), timeout_s=90), \
                fusion.output()
        if not killed and chunk >= 9:
            journal = ckpt.with_name(ckpt.name + ".journal")
            # Kill when batches were fused and published after the last checkpoint.
            wait_for(lambda: journal.exists() and journal.stat().st_size > 0, timeout_s=20, every_s=0.02)
            current = attempts[-1]
            assert current.alive(), current.output()
            current.kill()
            # What a restart will replay: the journal's batches since the checkpoint on disk.
            # A kill that lands between a checkpoint's save and the journal's truncation
            # leaves nothing to replay (that is correct, but proves nothing here): then start
            # the service again and kill it at a later slice of the feed.
            on_disk = Checkpoint(ckpt)
            on_disk.peek()
            if on_disk.journal():
                killed["journal"] = journal.read_text()
            elif chunk < 16:
                attempts.append(services(["fusion", "--checkpoint-every", "1"], env,
                                         tmp_path / f"fusion-{len(attempts) + 1}.log").start())
    try:
        publish_paced(bus, chunked(observations, 20, ais_lag), pause_s=0.3, on_chunk=maybe_kill)
    finally:
        bus.close()
    assert killed and killed["journal"], "the fusion service was not killed between two checkpoints"
    restarted = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "fusion-restarted.log").start()
    obs_topic = prefix + topics.OBS
    ends = end_offsets(bootstrap, obs_topic)
    assert sum(ends.values()) == len(observations)
    done = wait_for(lambda: ckpt.exists() and {p: o for p, o in covered_of(ckpt).items() if o}
                    == {p: o for p, o in ends.items() if o}, timeout_s=120, every_s=0.5)
    assert done, restarted.output()
    assert restarted.stop() == 0, restarted.output()
    state = load_checkpoint(ckpt)
    assert {p: o for p, o in state["covered"].items() if o} == {p: o for p, o in ends.items() if o}
    tracks = latest(read_topic(bootstrap, prefix + topics.TRACKS), "track_id")
    alerts = latest(read_topic(bootstrap, prefix + topics.ALERTS), "alert_id")
    return prefix, state, tracks, alerts, restarted.output()


def test_fusion_killed_mid_feed_resumes_to_the_uninterrupted_picture(kafka_bootstrap, feed, tmp_path,  # noqa: F811
                                                                      services):
    _, sensors, observations = feed
    want_tracks, want_alerts = reference(sensors, observations)
    assert len(want_tracks) >= 20 and want_alerts

    # One partition: the order of the observations is the feed's, as in the reference run.
    prefix, state, tracks, alerts, log = run_fusion_with_a_crash(kafka_bootstrap, feed, tmp_path, services, 1)

    assert "replayed" in log  # the restarted service redid the journal's batches
    assert sorted(tracks) == sorted(want_tracks)  # no ghost or duplicate track ids
    assert tracks == want_tracks
    assert sorted(alerts) == sorted(want_alerts)
    assert alerts == want_alerts
    assert read_topic(kafka_bootstrap, prefix + topics.DEADLETTER) == []


def test_fusion_killed_mid_feed_on_six_partitions_leaves_no_ghost_tracks(kafka_bootstrap, feed, tmp_path,  # noqa: F811
                                                                        services):
    # Six partitions are read interleaved as they come, and here AIS (keyed by MMSI) arrives a
    # few slices behind the radar (keyed by sensor), as from a slower receiver: the batches the
    # service fused before the crash are not the ones a restart would poll.  What was published
    # before the crash must still agree with the state the service ends with.
    prefix, state, tracks, alerts, log = run_fusion_with_a_crash(kafka_bootstrap, feed, tmp_path, services,
                                                                  6, ais_lag=3)
    tracker = state["fusion"].tracker
    assert "replayed" in log
    live = {tid: t for tid, t in tracker.tracks.items() if t.status in ("confirmed", "coasting")}
    published_live = {tid for tid, line in tracks.items() if line["status"] in ("confirmed", "coasting")}
    assert published_live == set(live), (sorted(published_live ^ set(live)))
    for tid, track in live.items():
        assert tracks[tid]["mmsi"] == track.mmsi, tid
    assert max(int(t[1:]) for t in tracks) < tracker._next_id
    # every alert id the restarted engine handed out was published, once, with no gap or ghost
    # (a replay after the crash that raised alerts anew would leave ids the state never knew)
    ids = sorted(int(a[1:]) for a in alerts)
    assert ids == list(range(1, len(ids) + 1)), ids
    assert len(ids) == state["fusion"].rules.ctx.book._next - 1
    assert all(a["state"] in ("open", "closed", "retracted") for a in alerts.values())


def test_poison_records_go_to_the_deadletter_topic_and_the_stream_goes_on(kafka_bootstrap, feed, tmp_path,  # noqa: F811
                                                                          services):
    from kafka import KafkaProducer
    out, sensors, observations = feed
    prefix = unique_name("poison") + "."
    bus = KafkaBus(kafka_bootstrap, prefix=prefix)
    ensure_topics(bus)
    env = service_env(kafka_bootstrap, tmp_path, out / "sensors.json", prefix)
    fusion = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "fusion.log").start()
    ingest = services(["ingest"], env, tmp_path / "ingest.log").start()

    raw = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    poison = [b"\xff\xfe not utf-8", b"{not json", b"[1, 2]",
              json.dumps({"kind": "ais_position", "sensor_id": "PH-PAG-A1", "time_s": "yesterday",
                          "lat": 10.0, "lon": 114.0, "mmsi": 548000001}).encode(),
              json.dumps({"kind": "radar_plot", "sensor_id": "PH-PAG-R1", "time_s": 1795507200.0,
                          "lat": 200.0, "lon": 114.0}).encode(),
              json.dumps({"kind": "ais_position", "sensor_id": "PH-PAG-A1", "time_s": 1795507200.0,
                          "lat": 10.0, "lon": 114.0, "mmsi": "not a number"}).encode(),
              json.dumps({"hello": "world"}).encode()]
    for value in poison:
        raw.send(prefix + topics.OBS, key=b"poison", value=value)
    # ...and poison on the raw topics, for the ingest service
    raw.send(prefix + topics.RAW_AIS, key=b"PH-PAG-A1", value=json.dumps({"no_line": 1}).encode())
    raw.send(prefix + topics.RAW_RADAR, key=b"PH-PAG-R1", value=b"plot at 10N 114E")
    raw.flush()
    # Then the real feed: radar straight onto mfc.obs, AIS as raw lines through the ingest service.
    radar = [o for o in observations if o.kind.startswith("radar")]
    for obs in radar:
        value = obs.to_dict()
        bus.publish(topics.OBS, topics.obs_key(value), value)
    ais_lines = (out / "ais.nmea").read_text().splitlines()
    for line in ais_lines:
        bus.publish(topics.RAW_AIS, "PH-PAG-A1", {"line": line})
    bus.flush()
    bus.close()
    raw.close()

    want_tracks, _ = reference(sensors, observations)
    mmsis = {line["mmsi"] for line in want_tracks.values() if line["mmsi"]}

    def seen_mmsis():
        return {json.loads(m.value).get("mmsi") for m in read_topic(kafka_bootstrap, prefix + topics.TRACKS)}
    assert wait_for(lambda: mmsis <= seen_mmsis(), timeout_s=120, every_s=1.0), fusion.output() + ingest.output()
    dead = [json.loads(m.value) for m in read_topic(kafka_bootstrap, prefix + topics.DEADLETTER)]
    from_fusion = [d for d in dead if d.get("topic") == topics.OBS]
    assert len(from_fusion) == len(poison), dead
    reasons = " | ".join(d["reason"] for d in from_fusion)
    for expected in ("not UTF-8", "not JSON", "not an object", "time_s must be a finite number",
                     "lat/lon in range", "integer mmsi", "kind None"):
        assert expected in reasons, reasons
    assert all(d["partition"] >= 0 and d["offset"] >= 0 for d in from_fusion)
    from_ingest = {d.get("topic"): d["reason"] for d in dead if d.get("topic", "").startswith("mfc.raw")}
    assert "string field 'line'" in from_ingest[topics.RAW_AIS]
    assert "not JSON" in from_ingest[topics.RAW_RADAR]
    assert fusion.alive() and ingest.alive()
    assert fusion.stop() == 0 and ingest.stop() == 0


# ------------------------------------------------------------------ broker restart

class OwnBroker:
    """A second broker (own ports, own data directory) that the test may stop and start."""

    def __init__(self) -> None:
        self.data = tempfile.mkdtemp(prefix="mfc-kafka-restart-")
        port, controller = free_port(), free_port()
        while controller == port:
            controller = free_port()
        self.env = dict(os.environ, MFC_KAFKA_PORT=str(port), MFC_KAFKA_CONTROLLER_PORT=str(controller),
                        MFC_KAFKA_DATA=self.data, MFC_KAFKA_STOP_TIMEOUT="60")
        self.bootstrap = f"127.0.0.1:{port}"

    def run(self, *args: str) -> str:
        done = subprocess.run([str(KAFKA_DEV), *args], env=self.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"kafka-dev {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout.strip()

    def start(self) -> None:
        assert self.run("start", "--ttl", "900").splitlines()[-1] == self.bootstrap

    def stop(self) -> None:
        self.run("stop")

    def close(self) -> None:
        subprocess.run([str(KAFKA_DEV), "stop"], env=self.env, capture_output=True, timeout=120)
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture
def own_broker(kafka_bootstrap):  # noqa: F811  (the session broker's fixture skips/fails without Java)
    broker = OwnBroker()
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


def test_broker_restart_mid_feed_loses_nothing_accepted(own_broker, feed, tmp_path, services):
    out, sensors, observations = feed
    admin_key = "admin-key-for-restart-test"
    port = free_port()
    env = service_env(own_broker.bootstrap, tmp_path, out / "sensors.json", MFC_HOST="127.0.0.1",
                      MFC_PORT=str(port), MFC_API_KEYS=f"{admin_key}:admin:ops")
    api = services(["api"], env, tmp_path / "api.log").start()
    fusion = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "fusion.log").start()
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60)
    assert wait_for(lambda: _healthy(client), timeout_s=120, every_s=0.5), api.output()

    # AIS lines with a tag-block time; each chunk must be accepted (202) in the end.
    lines = [ln for ln in (out / "ais.nmea").read_text().splitlines() if ln.startswith("\\")]
    chunks = [lines[i:i + 60] for i in range(0, len(lines), 60)]
    accepted, answers = 0, []
    stopped_at, restarted = len(chunks) // 3, False
    for n, chunk in enumerate(chunks):
        if n == stopped_at:
            own_broker.stop()
        deadline = time.time() + 180
        while time.time() < deadline:
            r = client.post("/v1/ingest/ais", params={"sensor_id": "PH-PAG-A1"}, content="\n".join(chunk))
            answers.append(r.status_code)
            if r.status_code == 202:
                accepted += r.json()["accepted"]
                break
            assert r.status_code == 503, r.text
            assert int(r.headers["Retry-After"]) > 0
            if not restarted:  # the integrator was told to come back: bring the broker back meanwhile
                own_broker.start()
                restarted = True
            time.sleep(1)
        else:
            raise AssertionError(f"chunk {n} was never accepted in 180 s: {answers[-5:]}")
    assert 503 in answers and restarted
    assert accepted > 1000

    # Everything accepted is on mfc.obs (a 503'd chunk may also be there twice: at-least-once).
    on_obs = [o for m in read_topic(own_broker.bootstrap, topics.OBS) for o in topics.observations_in(json.loads(m.value))]
    assert len(on_obs) >= accepted
    expected = EmbeddedBus()
    reference_ingest = IngestService(expected, sensors, time.time)
    for chunk in chunks:
        assert reference_ingest.ingest_ais("\n".join(chunk), "PH-PAG-A1").accepted > 0
    want = [o for r in expected.consumer(topics.OBS, "check").poll(timeout_s=0, max_records=10**6)
            for o in topics.observations_in(r.value)]
    assert len(want) == accepted

    def identity(o: dict) -> tuple:
        return tuple(sorted((k, v) for k, v in o.items() if k != "receive_time_s"))
    assert {identity(o) for o in on_obs} == {identity(o) for o in want}

    # The fusion service (which lived through the broker restart, or was restarted by us as a
    # supervisor would) fuses them all; the store behind the API holds the tracks.
    # A fusion service whose publish found no broker for 10 s exits 1 (its checkpoint and journal
    # keep what it fused) — possibly some seconds after the broker is back: the supervisor here
    # restarts it whenever it finds it gone, as compose's restart policy does.
    ckpt = tmp_path / "fusion.ckpt"
    ends = end_offsets(own_broker.bootstrap, topics.OBS)
    runs = [fusion]

    def fused_all() -> bool:
        if not runs[-1].alive() and len(runs) < 4:
            runs.append(services(["fusion", "--checkpoint-every", "1"], env,
                                 tmp_path / f"fusion-again-{len(runs)}.log").start())
        return ckpt.exists() and all(covered_of(ckpt).get(p, 0) == o for p, o in ends.items())
    assert wait_for(fused_all, timeout_s=180, every_s=0.5), "\n".join(r.output() for r in runs)
    fusion = runs[-1]
    published = latest(read_topic(own_broker.bootstrap, topics.TRACKS), "track_id")
    assert len(published) >= 10

    def stored() -> set:
        return {t["track_id"] for t in client.get("/v1/tracks", params={"limit": 5000}).json().get("tracks", [])}
    tracked = wait_for(lambda: stored() == set(published), timeout_s=90, every_s=1.0)
    assert tracked, api.output()
    assert fusion.stop() == 0, fusion.output()
    assert api.stop() == 0, api.output()  # graceful: the store writer and router stop, status 0


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def test_fusion_started_during_a_broker_outage_waits_for_the_broker(own_broker, feed, tmp_path, services):
    """A fusion service (re)started while the broker is down waits for it, then fuses: it does not
    die with a bootstrap timeout and leave the feed unfused until someone notices."""
    out, sensors, observations = feed
    own_broker.stop()
    env = service_env(own_broker.bootstrap, tmp_path, out / "sensors.json")
    fusion = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "fusion.log").start()
    time.sleep(45)   # past the client's bootstrap timeout (30 s), which used to end the process
    assert fusion.alive(), fusion.output()
    own_broker.start()
    bus = KafkaBus(own_broker.bootstrap)
    try:
        ensure_topics(bus)
        publish_paced(bus, chunked(observations[:2000], 4), pause_s=0.2)
    finally:
        bus.close()
    ckpt = tmp_path / "fusion.ckpt"
    ends = end_offsets(own_broker.bootstrap, topics.OBS)
    assert sum(ends.values()) == 2000
    assert wait_for(lambda: ckpt.exists() and {p: o for p, o in covered_of(ckpt).items() if o}
                    == {p: o for p, o in ends.items() if o}, timeout_s=180, every_s=0.5), fusion.output()
    assert "cannot be reached" in fusion.output()
    assert fusion.stop() == 0, fusion.output()
