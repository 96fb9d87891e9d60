"""The bus contract, run against both backends: embedded (in process) and Kafka (a real broker)."""

from __future__ import annotations

import time

import pytest

from services.bus.core import EmbeddedBus, Record, encode
from services.bus.kafka_bus import CONTRACT_TOPICS, KafkaBus, TopicSpec, ensure_topics, topic_info

from .kafka_fixture import kafka_bootstrap, unique_name  # noqa: F401

# Kafka: the first poll of a new consumer joins its group, so allow for that.
DRAIN_TIMEOUT_S = 20.0


@pytest.fixture(params=["embedded", "kafka"])
def bus(request):
    if request.param == "embedded":
        b = EmbeddedBus()
    else:
        b = KafkaBus(request.getfixturevalue("kafka_bootstrap"))
    consumers = []
    b.test_consumers = consumers  # closed at the end even when a test fails
    yield b
    for c in consumers:
        c.close()
    b.close()


def new_topic(bus, partitions: int = 3) -> str:
    """A fresh topic; on Kafka with several partitions so that per-key order is really tested."""
    name = unique_name("t")
    if isinstance(bus, KafkaBus):
        ensure_topics(bus, {name: TopicSpec(partitions)})
    return name


def open_consumer(bus, topic: str, group: str):
    c = bus.consumer(topic, group)
    bus.test_consumers.append(c)
    return c


def drain(consumer, count: int, timeout_s: float = DRAIN_TIMEOUT_S) -> list[Record]:
    """Poll until ``count`` records came back (or the time is up)."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < count and time.monotonic() < deadline:
        out += consumer.poll(timeout_s=0.5, max_records=1000)
    return out


def assert_nothing_more(consumer, wait_s: float = 1.0) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        extra = consumer.poll(timeout_s=0.25)
        assert extra == [], f"unexpected records: {extra}"


def publish_numbered(bus, topic: str, keys: list[str | None], start: int, count: int) -> list[tuple]:
    sent = []
    for n in range(start, start + count):
        key = keys[n % len(keys)]
        value = {"n": n, "key": key}
        bus.publish(topic, key, value)
        sent.append((key, value))
    bus.flush()
    return sent


KEYS = ["548123456", "PH-PAL-R1", "VN-CGS-1", "T42", "Đà-Nẵng-AIS"]


def test_records_come_back_in_order_per_key_with_keys_and_values_intact(bus):
    topic = new_topic(bus)
    special = [
        ("T42", {"name": "BIỂN ĐÔNG 01", "zone": "南沙群岛 / Kalayaan", "note": "ดาวเทียม ✓ 🚢",
                 "lat": 9.7, "lon": 115.9, "mmsi": 548123456, "sources": ["ais", "radar"],
                 "nested": {"a": [1, 2.5, None, True], "empty": {}}, "quote": 'say "hi"\n\t\\'}),
        ("Lăng-Cô", {"summary": "Tàu cá ngừng phát AIS 47 phút"}),
        (None, {"keyless": True}),
    ]
    for key, value in special:
        bus.publish(topic, key, value)
    sent = special + publish_numbered(bus, topic, KEYS, 0, 60)

    got = drain(open_consumer(bus, topic, unique_name("g")), len(sent))

    assert len(got) == len(sent)
    assert all(isinstance(r, Record) and r.topic == topic and isinstance(r.offset, int) for r in got)
    assert sorted((r.key or "", encode(r.value)) for r in got) == sorted((k or "", encode(v)) for k, v in sent)
    for key in KEYS:
        ns = [r.value["n"] for r in got if r.key == key and "n" in r.value]
        assert ns == sorted(ns) and len(ns) == 12, (key, ns)
    by_key = {r.key: r.value for r in got if "n" not in r.value}
    assert by_key["T42"] == special[0][1]
    assert by_key["Lăng-Cô"]["summary"] == "Tàu cá ngừng phát AIS 47 phút"
    assert by_key[None] == {"keyless": True}


def test_each_group_sees_everything_independently(bus):
    topic = new_topic(bus)
    sent = publish_numbered(bus, topic, KEYS, 0, 20)

    first = open_consumer(bus, topic, unique_name("g"))
    assert len(drain(first, len(sent))) == len(sent)
    first.commit()

    second = open_consumer(bus, topic, unique_name("g"))
    got = drain(second, len(sent))
    assert sorted(r.value["n"] for r in got) == list(range(20))


def test_records_not_committed_are_delivered_again(bus):
    topic, group = new_topic(bus), unique_name("g")
    publish_numbered(bus, topic, KEYS, 0, 15)

    first = open_consumer(bus, topic, group)
    assert len(drain(first, 15)) == 15
    first.close()  # no commit: as if the process died mid-batch

    again = open_consumer(bus, topic, group)
    got = drain(again, 15)
    assert sorted(r.value["n"] for r in got) == list(range(15))


def test_after_a_commit_the_group_sees_only_newer_records(bus):
    topic, group = new_topic(bus), unique_name("g")
    publish_numbered(bus, topic, KEYS, 0, 10)

    first = open_consumer(bus, topic, group)
    assert len(drain(first, 10)) == 10
    first.commit()
    first.close()

    publish_numbered(bus, topic, KEYS, 10, 7)
    second = open_consumer(bus, topic, group)
    got = drain(second, 7)
    assert sorted(r.value["n"] for r in got) == list(range(10, 17))
    assert_nothing_more(second)


def test_a_consumer_waiting_before_the_first_record_gets_it(bus):
    topic = unique_name("t")  # not created beforehand: the consumer comes first
    consumer = open_consumer(bus, topic, unique_name("g"))
    assert consumer.poll(timeout_s=0.5) == []
    publish_numbered(bus, topic, ["k"], 0, 3)
    got = drain(consumer, 3)
    assert [r.value["n"] for r in got] == [0, 1, 2]


def test_undecodable_values_come_back_marked_and_the_stream_goes_on(kafka_bootstrap):  # noqa: F811
    from kafka import KafkaProducer

    bus = KafkaBus(kafka_bootstrap)
    topic = new_topic(bus, partitions=1)
    raw = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    payloads = [encode({"n": 0}), b"\xff\xfe not utf-8", b"{not json", b"[1, 2]", b'"text"',
                encode({"n": 1})]
    for payload in payloads:
        raw.send(topic, key=b"sensor-1", value=payload)
    raw.flush()
    raw.close()

    consumer = bus.consumer(topic, unique_name("g"))
    try:
        got = drain(consumer, len(payloads))
        assert [r.offset for r in got] == list(range(len(payloads)))
        assert all(r.key == "sensor-1" for r in got)
        assert got[0].value == {"n": 0}
        assert got[-1].value == {"n": 1}
        bad = [r.value for r in got[1:-1]]
        assert all(set(v) == {"_undecodable", "_reason"} for v in bad), bad
        assert bad[0]["_undecodable"] == repr(b"\xff\xfe not utf-8") and "UTF-8" in bad[0]["_reason"]
        assert bad[1]["_undecodable"] == "{not json" and "JSON" in bad[1]["_reason"]
        assert bad[2]["_undecodable"] == "[1, 2]" and bad[3]["_undecodable"] == '"text"'
        assert consumer.partition_of(got[0]) == 0
        consumer.commit()
    finally:
        consumer.close()
        bus.close()


def test_ensure_topics_creates_partitions_and_configs_and_tolerates_existing(kafka_bootstrap):  # noqa: F811
    bus = KafkaBus(kafka_bootstrap)
    try:
        # The contract topics (on a shared broker they may exist already).
        first = ensure_topics(bus)
        assert set(first) == set(CONTRACT_TOPICS)
        assert set(ensure_topics(bus).values()) == {"exists"}

        # Same specs under fresh names, to check partitions and configs on any broker.
        specs = {unique_name(name): spec for name, spec in CONTRACT_TOPICS.items()}
        assert set(ensure_topics(bus, specs).values()) == {"created"}
        for name, spec in specs.items():
            info = topic_info(bus, name)
            assert info["partitions"] == spec.partitions, (name, info)
            assert all(info["configs"].get(k) == v for k, v in spec.configs.items()), (name, info)
        tracks = next(name for name in specs if name.startswith("mfc.tracks"))
        assert topic_info(bus, tracks)["configs"]["cleanup.policy"] == "compact"
        assert ensure_topics(EmbeddedBus()) == {}
    finally:
        bus.close()


def test_a_consumer_knows_how_many_records_it_has_not_polled_yet(bus):
    """What lets the fusion worker tell a backlog (read it in feed time) from the live edge."""
    topic, group = new_topic(bus), unique_name("g")
    publish_numbered(bus, topic, KEYS, 0, 30)
    consumer = open_consumer(bus, topic, group)
    got: list[Record] = []
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while not got and time.monotonic() < deadline:
        got = consumer.poll(timeout_s=0.5, max_records=10)
    assert 0 < len(got) <= 10
    assert consumer.lag() == 30 - len(got)  # the rest is waiting
    got += drain(consumer, 30 - len(got))
    assert len(got) == 30 and consumer.lag() == 0  # caught up


def test_a_lone_single_owner_consumer_owns_every_partition_and_sees_the_group_commits(bus):
    topic, group = new_topic(bus), unique_name("g")
    publish_numbered(bus, topic, KEYS, 0, 20)
    first = bus.consumer(topic, group, single_owner=True)
    bus.test_consumers.append(first)
    got = drain(first, 20)
    assert len(got) == 20
    parts = {r.partition for r in got}
    assert first.partitions() >= parts and first.partitions()  # the only member owns what it read
    assert first.committed_offsets() == {}  # nothing committed yet
    upto = {}
    for r in got:
        upto[r.partition] = max(upto.get(r.partition, 0), r.offset + 1)
    first.commit(upto=upto)
    assert first.committed_offsets() == upto
