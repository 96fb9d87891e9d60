"""Several ``mfc fusion`` processes in one group, on a real broker: one picture, never two.

An operator who starts a second fusion service (``docker-compose up --scale fusion=2``, or a
second host for availability) gets a hot standby: one member owns ``mfc.obs``, the other waits,
and takes the state over from the shared checkpoint when the owner dies.  The picture on
``mfc.tracks`` and ``mfc.alerts`` must then be the uninterrupted run's, with no track or alert id
handed out twice.  A member paused beyond the session timeout (a zombie) must not come back and
publish or save an older state over the new owner's, and a member whose checkpoint does not
cover what the group already fused must refuse to start rather than number tracks anew.
"""

from __future__ import annotations

import signal
import time

import pytest

from services.bus import topics
from services.bus.kafka_bus import KafkaBus, TopicSpec, ensure_topics

from .conftest import wait_for
from .kafka_fixture import kafka_bootstrap, unique_name  # noqa: F401
from .test_kafka_resilience import (  # noqa: F401  (fixtures)
    chunked, covered_of, end_offsets, feed, latest, publish_paced, read_topic, reference, service_env, services,
)

pytestmark = pytest.mark.slow


def _setup(bootstrap, feed, tmp_path):
    out, sensors, observations = feed
    prefix = unique_name("standby") + "."
    bus = KafkaBus(bootstrap, prefix=prefix)
    ensure_topics(bus, {topics.OBS: TopicSpec(1)})  # one partition: the feed's order, as in the reference run
    ensure_topics(bus)
    return prefix, bus, service_env(bootstrap, tmp_path, out / "sensors.json", prefix)


def _owner_and_standby(env, tmp_path, services):
    """Two ``mfc fusion`` with one environment (one checkpoint): the first owns, the second stands by."""
    ckpt = tmp_path / "fusion.ckpt"
    first = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "first.log").start()
    assert wait_for(lambda: ckpt.exists(), timeout_s=90), first.output()
    second = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "second.log").start()
    assert wait_for(lambda: "standby" in second.output(), timeout_s=90), second.output()
    return ckpt, first, second


def _picture(bootstrap, prefix):
    return (latest(read_topic(bootstrap, prefix + topics.TRACKS), "track_id"),
            latest(read_topic(bootstrap, prefix + topics.ALERTS), "alert_id"))


def _finish(bootstrap, prefix, ckpt, member, n_obs):
    ends = end_offsets(bootstrap, prefix + topics.OBS)
    assert sum(ends.values()) == n_obs
    assert wait_for(lambda: ckpt.exists() and covered_of(ckpt) == ends, timeout_s=120, every_s=0.5), member.output()
    assert member.stop() == 0, member.output()


def test_a_standby_takes_over_from_a_killed_owner_with_the_same_picture(kafka_bootstrap, feed, tmp_path,  # noqa: F811
                                                                        services):
    _, sensors, observations = feed
    want_tracks, want_alerts = reference(sensors, observations)
    prefix, bus, env = _setup(kafka_bootstrap, feed, tmp_path)
    ckpt, first, second = _owner_and_standby(env, tmp_path, services)

    def kill_the_owner(chunk: int) -> None:
        if chunk == 10:
            assert first.alive(), first.output()
            first.kill()
    try:
        publish_paced(bus, chunked(observations, 20), pause_s=0.3, on_chunk=kill_the_owner)
    finally:
        bus.close()
    assert not first.alive()
    assert wait_for(lambda: "took over" in second.output(), timeout_s=60), second.output()
    _finish(kafka_bootstrap, prefix, ckpt, second, len(observations))

    tracks, alerts = _picture(kafka_bootstrap, prefix)
    assert sorted(tracks) == sorted(want_tracks)  # no ghost, lost or renumbered track
    assert tracks == want_tracks
    assert sorted(alerts) == sorted(want_alerts)
    assert alerts == want_alerts


def test_a_paused_owner_does_not_come_back_over_the_member_that_took_over(kafka_bootstrap, feed,  # noqa: F811
                                                                          tmp_path, services):
    _, sensors, observations = feed
    want_tracks, want_alerts = reference(sensors, observations)
    prefix, bus, env = _setup(kafka_bootstrap, feed, tmp_path)
    ckpt, first, second = _owner_and_standby(env, tmp_path, services)
    chunks = chunked(observations, 20)
    try:
        publish_paced(bus, chunks[:10], pause_s=0.3)
        # the owner is idle (it saved what it fused) when it freezes, as a VM or a GC pause would
        half = end_offsets(kafka_bootstrap, prefix + topics.OBS)
        assert wait_for(lambda: covered_of(ckpt) == half, timeout_s=60), first.output()
        first.proc.send_signal(signal.SIGSTOP)
        publish_paced(bus, chunks[10:], pause_s=0.3)
    finally:
        bus.close()
    try:
        assert wait_for(lambda: "took over" in second.output(), timeout_s=60), second.output()
        ends = end_offsets(kafka_bootstrap, prefix + topics.OBS)
        assert wait_for(lambda: covered_of(ckpt) == ends, timeout_s=120), second.output()
    finally:
        first.proc.send_signal(signal.SIGCONT)
    # The paused member wakes up: it learns it lost mfc.obs and stops, saving and publishing nothing.
    rc = first.proc.wait(timeout=90)
    assert rc == 1, first.output()
    assert "another member" in first.output()
    time.sleep(2.0)
    assert second.alive(), second.output()  # the member that took over keeps the partitions
    _finish(kafka_bootstrap, prefix, ckpt, second, len(observations))

    tracks, alerts = _picture(kafka_bootstrap, prefix)
    assert tracks == want_tracks
    assert alerts == want_alerts


def test_a_member_whose_state_does_not_cover_the_group_refuses_to_fuse(kafka_bootstrap, feed, tmp_path,  # noqa: F811
                                                                       services):
    _, sensors, observations = feed
    prefix, bus, env = _setup(kafka_bootstrap, feed, tmp_path)
    ckpt = tmp_path / "fusion.ckpt"
    first = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "first.log").start()
    try:
        publish_paced(bus, chunked(observations, 4), pause_s=0.2)
    finally:
        bus.close()
    _finish(kafka_bootstrap, prefix, ckpt, first, len(observations))  # stopped gracefully: offsets committed
    tracks_end = end_offsets(kafka_bootstrap, prefix + topics.TRACKS)

    # A member started with its own, empty checkpoint (e.g. a replica whose volume is not shared)
    lost = dict(env, MFC_CHECKPOINT=str(tmp_path / "elsewhere" / "fusion.ckpt"))
    (tmp_path / "elsewhere").mkdir()
    other = services(["fusion", "--checkpoint-every", "1"], lost, tmp_path / "other.log").start()
    rc = other.proc.wait(timeout=120)
    assert rc == 1, other.output()
    assert "does not cover what the group already fused" in other.output()
    assert end_offsets(kafka_bootstrap, prefix + topics.TRACKS) == tracks_end  # it published nothing
