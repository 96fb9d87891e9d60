"""``mfc.obs`` in batches: ingest publishes a request's observations as one record per sensor
(at most ``OBS_BATCH`` each), and fusion reads batches and single observations alike, losing
only the bad item of a batch."""

from __future__ import annotations

import json
import time

from pyais import decode
from pyais.encode import encode_dict

from fusion.model import Sensor
from ingest.timeparse import parse_iso
from fusion.pipeline import Fusion
from services.bus import topics
from services.bus.core import EmbeddedBus
from services.workers.ingest_service import IngestService
from services.workers.raw_ingest import RawIngestWorker
from services.workers.loops import FusionWorker

from .builders import T0, make_ais, radar
from .conftest import wait_for

SENSORS = {"AIS1": Sensor("AIS1", "ais", 10.0, 114.0, range_m=150_000.0), "R1": radar("R1"),
           "R2": radar("R2", lat=10.2)}


def sentence(mmsi: int, lat: float, lon: float) -> str:
    return encode_dict({"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": 10.0, "course": 45.0},
                       talker_id="AI")[0]


def records(bus: EmbeddedBus, topic: str = topics.OBS) -> list:
    return bus.consumer(topic, f"check-{time.monotonic_ns()}").poll(timeout_s=0.1, max_records=100_000)


def test_a_request_is_one_record_per_sensor_holding_its_observations_in_line_order():
    bus = EmbeddedBus()
    ingest = IngestService(bus, SENSORS, time.time)
    lines = [sentence(548_000_000 + i, 10.0 + i / 1000, 114.0) for i in range(1_201)]
    assert ingest.ingest_ais("\n".join(lines), "AIS1").accepted == 1_201
    got = records(bus)
    assert [r.key for r in got] == ["AIS1"] * 3  # 1,201 observations: 500 + 500 + 201
    assert [len(r.value["observations"]) for r in got] == [500, 500, 201]
    assert all(r.value["v"] == topics.OBS_BATCH_VERSION for r in got)
    mmsis = [o["mmsi"] for r in got for o in topics.observations_in(r.value)]
    assert mmsis == [decode(line).asdict()["mmsi"] for line in lines]  # pyais as the reference

    now = time.time()
    plots = [{"kind": "plot", "sensor_id": s, "time": now - 1, "lat": 10.1, "lon": round(114.1 + k / 100, 2)}
             for k, s in enumerate(["R1", "R2", "R1"])]
    assert ingest.ingest_radar("\n".join(json.dumps(p) for p in plots)).accepted == 3
    radar_records = records(bus)[3:]
    assert {r.key: [o["lon"] for o in r.value["observations"]] for r in radar_records} == \
        {"R1": [114.1, 114.12], "R2": [114.11]}


def test_a_poll_of_the_raw_topic_goes_out_as_one_batch_not_one_record_per_line():
    bus = EmbeddedBus()
    ingest = IngestService(bus, SENSORS, time.time)
    for i in range(40):
        bus.publish(topics.RAW_AIS, "AIS1", {"line": sentence(548_100_000 + i, 10.0, 114.0 + i / 1000)})
    worker = RawIngestWorker(bus, ingest)
    worker.start()
    try:
        assert wait_for(lambda: worker.handled == 40, timeout_s=10)
    finally:
        worker.stop()
        worker.join(timeout=10)
    got = records(bus)
    assert len(got) < 40 and sum(len(topics.observations_in(r.value)) for r in got) == 40


def test_fusion_reads_batches_and_single_observations_and_dead_letters_only_what_is_bad():
    bus = EmbeddedBus()
    good = [make_ais(548_200_001, T0 + k * 10, 10.0 + k * 0.0005, 114.0, sog_kn=10.0, cog_deg=0.0).to_dict()
            for k in range(3)]
    bad = {**good[0], "lat": 95.0, "time_s": T0 + 5}
    bus.publish(topics.OBS, "AIS1", {"v": 1, "observations": [good[0], bad, good[1]]})
    bus.publish(topics.OBS, "AIS1", {"v": 2, "observations": [good[2]]})  # a version this fusion does not read
    bus.publish(topics.OBS, "AIS1", {"v": 1, "observations": "not a list"})
    bus.publish(topics.OBS, "548200001", good[2])  # one observation, as other producers publish
    dead = bus.consumer(topics.DEADLETTER, "check")
    tracks = bus.consumer(topics.TRACKS, "check")
    worker = FusionWorker(bus, Fusion(dict(SENSORS)), None)
    worker.start()
    try:
        assert wait_for(lambda: worker.handled == 3, timeout_s=20)
        time.sleep(0.3)
    finally:
        worker.stop()
        worker.join(timeout=10)
    reasons = [(r.value.get("item"), r.value["reason"]) for r in dead.poll(timeout_s=0.1, max_records=100)]
    assert len(reasons) == 3
    assert reasons[0][0] == 1 and "lat/lon in range" in reasons[0][1]
    assert reasons[1][0] is None and "version 2" in reasons[1][1]
    assert reasons[2][0] is None and "must be a list" in reasons[2][1]
    lines = [r.value for r in tracks.poll(timeout_s=0.1, max_records=100)]
    assert lines and {line["mmsi"] for line in lines} == {548_200_001}
    assert max(parse_iso(line["time"]) for line in lines) == T0 + 20  # the single observation was fused too
