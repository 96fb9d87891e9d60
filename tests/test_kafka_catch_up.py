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
from services import topics
from services.fuse import load_observations
from services.geography import build_geography
from services.kafka_bus import KafkaBus, ensure_topics
from services.workers import FusionWorker

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
