"""On the real broker: an hour of recorded feed published to ``mfc.obs`` at once, read by a
fusion worker on the wall clock (``mfc fusion``'s default), is fused in feed time — no
observation too late — and the worker then joins the live clock."""

from __future__ import annotations

import time

import pytest

from fusion.model import iso_time
from fusion.pipeline import Fusion
from ingest.sensors import load_sensors
from sample_feeds.generate import generate
from services.bus import topics
from services.bus.kafka_bus import KafkaBus, ensure_topics
from services.geo.geography import build_geography
from services.workers.fuse import load_observations
from services.workers.loops import FusionWorker

from .conftest import wait_for
from .kafka_fixture import kafka_bootstrap, unique_name  # noqa: F401

pytestmark = pytest.mark.slow


def test_a_backfilled_hour_on_kafka_is_fused_in_feed_time_then_live(kafka_bootstrap, tmp_path):  # noqa: F811
    feed = tmp_path / "feed"
    generate(feed, vessels=30, minutes=60, seed=12, start=iso_time(time.time() - 80 * 60))  # ended 20 min ago
    sensors = load_sensors(feed / "sensors.json")
    observations, _ = load_observations([feed / "ais.nmea", feed / "radar.jsonl"], sensors)
    reference = Fusion(sensors, build_geography(sensors))
    lines = reference.update(observations)[0] + reference.flush()[0]
    want = {x.mmsi for x in lines if x.mmsi is not None}  # the vessels an uninterrupted run tracks

    bus = KafkaBus(kafka_bootstrap, prefix=unique_name("catchup") + ".")
    ensure_topics(bus)
    bus.publish_many(topics.OBS, [(topics.obs_key(o.to_dict()), o.to_dict()) for o in observations])
    bus.flush()
    worker = FusionWorker(bus, Fusion(sensors, build_geography(sensors)), time.time)
    tracks = bus.consumer(topics.TRACKS, unique_name("reader"))
    worker.start()
    try:
        tracker = worker.fusion.tracker
        assert wait_for(lambda: worker.handled == len(observations), timeout_s=180), \
            f"handled {worker.handled} of {len(observations)}"
        # joined the live clock after the backlog ...
        assert wait_for(lambda: not worker.catching_up and tracker.now_s > time.time() - 30, timeout_s=30)
        # ... having read all of it in feed time
        assert tracker.stats["too_late"] == 0
        got: set = set()
        deadline = time.monotonic() + 60
        while not want <= got and time.monotonic() < deadline:
            got |= {r.value["mmsi"] for r in tracks.poll(timeout_s=0.5, max_records=5000)}
        assert len(want & got) >= 0.99 * len(want) and len(want) >= 25
    finally:
        worker.stop()
        worker.join(timeout=30)
        tracks.close()
        bus.close()


def test_a_backlog_on_six_partitions_is_fused_to_its_end_by_each_worker_in_turn(kafka_bootstrap, tmp_path):  # noqa: F811
    """A backlog of 20,000 reports of 5,000 vessels, spread over the six partitions: the worker
    holds what it polled from one partition until the others' catch up in feed time, and must keep
    fetching them meanwhile.  (Polling with no wait while holding records starved the fetches:
    the second worker of a process stalled with 5,000 records held and none handled.)"""
    from fusion.model import Observation
    from fusion.rules import Geography
    from services.state.checkpoint import Checkpoint
    t0 = time.time() - 3600
    observations = [Observation("ais_position", "AIS1", t0 + (i // 5000) * 2.0 + (i % 5000) * 0.0004,
                                lat=8.0 + (i % 5000) * 0.0016, lon=110.0 + (i % 5000) * 0.0016 + (i // 5000) * 0.0002,
                                sigma_m=30.0, mmsi=548_000_000 + i % 5000, sog_kn=12.0, cog_deg=90.0,
                                ais_class="A", msg_type=1) for i in range(20_000)]
    for attempt in range(2):
        bus = KafkaBus(kafka_bootstrap, prefix=unique_name("backlog") + ".")
        try:
            ensure_topics(bus)
            bus.publish_many(topics.OBS, [(str(o.mmsi), o.to_dict()) for o in observations])
            bus.flush()
            worker = FusionWorker(bus, Fusion({}, Geography()), None,
                                  checkpoint=Checkpoint(tmp_path / f"fusion-{attempt}.ckpt"))
            worker.start()
            try:
                assert wait_for(lambda: worker.handled == len(observations), timeout_s=120), \
                    f"worker {attempt + 1}: handled {worker.handled} of {len(observations)}"
            finally:
                worker.stop()
                worker.join(timeout=60)
        finally:
            bus.close()
