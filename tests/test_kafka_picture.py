"""The picture through Kafka is the batch picture: the same feed published at once to six
partitions of ``mfc.obs`` (AIS keyed by MMSI, radar by sensor, as ingest keys them) and fused by
``mfc fusion``, against ``mfc fuse`` on the same files.

Six partitions are polled unevenly (a backlog comes in large chunks of some partitions and none
of others); fused as polled, AIS and radar of one vessel arrive minutes apart, fail to
associate, and the picture fills with radar-only ghosts beside the identified tracks.  A user
must get the same vessels, the same radar-only contacts and the same positions either way.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from pyproj import Geod

from ingest.timeparse import parse_iso
from services.bus import topics
from services.bus.kafka_bus import KafkaBus, TopicSpec, ensure_topics

from .conftest import wait_for
from .kafka_fixture import kafka_bootstrap, unique_name  # noqa: F401
from .test_kafka_resilience import (  # noqa: F401  (services: a fixture)
    MFC, ROOT, covered_of, end_offsets, latest, make_feed, read_topic, service_env, services,
)

pytestmark = pytest.mark.slow
LIVE = ("confirmed", "coasting")
WGS84 = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    """An hour of 60 vessels: several polls' worth of records (a poll takes at most 5,000)."""
    return make_feed(tmp_path_factory.mktemp("feed"), vessels=60, minutes=60, seed=5)


def _summary(tracks: dict) -> tuple[dict[int, dict], list[dict]]:
    """Live identified tracks by MMSI, and the live radar-only tracks."""
    live = [t for t in tracks.values() if t["status"] in LIVE]
    by_mmsi = {t["mmsi"]: t for t in live if t.get("mmsi")}
    radar_only = [t for t in live if not t.get("mmsi")]
    return by_mmsi, radar_only


def test_the_picture_through_six_partitions_is_the_batch_picture(kafka_bootstrap, feed, tmp_path,  # noqa: F811
                                                                 services):
    out, sensors, observations = feed
    batch = tmp_path / "batch"
    batch.mkdir()
    done = subprocess.run(MFC + ["fuse", str(out / "ais.nmea"), str(out / "radar.jsonl"), "--sensors",
                                 str(out / "sensors.json"), "--tracks-out", str(batch / "tracks.jsonl"),
                                 "--alerts-out", str(batch / "alerts.jsonl"), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    want: dict[str, dict] = {}
    for line in (batch / "tracks.jsonl").read_text().splitlines():
        value = json.loads(line)
        want[value["track_id"]] = value
    want_ids, want_radar = _summary(want)
    assert len(want_ids) >= 25 and want_radar and len(observations) > 5 * 5000  # a feed with identified vessels and radar-only contacts

    prefix = unique_name("picture") + "."
    bus = KafkaBus(kafka_bootstrap, prefix=prefix)
    try:
        ensure_topics(bus, {topics.OBS: TopicSpec(6)})
        ensure_topics(bus)
        for obs in observations:  # the whole feed at once: a backlog on six partitions
            value = obs.to_dict()
            bus.publish(topics.OBS, topics.obs_key(value), value)
        bus.flush()
    finally:
        bus.close()
    ends = end_offsets(kafka_bootstrap, prefix + topics.OBS)
    assert sum(1 for n in ends.values() if n) >= 4 and sum(ends.values()) == len(observations)
    env = service_env(kafka_bootstrap, tmp_path, out / "sensors.json", prefix)
    ckpt = tmp_path / "fusion.ckpt"
    fusion = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "fusion.log").start()
    assert wait_for(lambda: ckpt.exists() and covered_of(ckpt) == ends, timeout_s=180, every_s=0.5), fusion.output()
    assert fusion.stop() == 0, fusion.output()
    got_ids, got_radar = _summary(latest(read_topic(kafka_bootstrap, prefix + topics.TRACKS), "track_id"))

    assert sorted(got_ids) == sorted(want_ids)  # the same vessels
    assert abs(len(got_radar) - len(want_radar)) <= 2, (len(got_radar), len(want_radar))
    # The service holds the feed's last radar scan until feed time passes its scan period (no
    # later data comes), where ``mfc fuse`` ends its input: a track's newest line may then be
    # its previous report, up to an AIS reporting interval older.  Dead-reckoned to the batch
    # line's time with its own speed and course, it must be where the batch picture has it.
    worst = 0.0
    for mmsi, t in want_ids.items():
        g = got_ids[mmsi]
        dt = parse_iso(t["time"]) - parse_iso(g["time"])
        assert 0.0 <= dt <= 30.0, json.dumps([g, t])
        lon, lat, _ = WGS84.fwd(g["lon"], g["lat"], g["cog_deg"] or 0.0, (g["sog_kn"] or 0.0) * 1852 / 3600 * dt)
        worst = max(worst, WGS84.inv(t["lon"], t["lat"], lon, lat)[2])
    assert worst < 100.0, worst  # metres
