"""Caps on the state untrusted input makes the centre keep: AIS fragments pending, per-MMSI rule
state and the tracker's static identities (aged out in feed time), the embedded bus's records."""

from __future__ import annotations

import pyais
from pyais.encode import encode_dict

from fusion.config import TrackerConfig
from fusion.model import Observation
from fusion.tracker import Tracker
from ingest.ais import AisDecoder
from services.bus import topics

from .rules_builders import T0, ais, engine


# ---------------------------------------------------------------------- AIS fragments

def two_part_message(mmsi: int) -> list[str]:
    return encode_dict({"type": 5, "mmsi": mmsi, "shipname": "SEA ROVER", "ship_type": 30}, talker_id="AI")


def test_fragments_within_the_age_limit_join_and_older_ones_are_given_up():
    first, second = two_part_message(548000005)
    dec = AisDecoder("AIS-T1", live=True)
    assert dec.feed(first, 1, receipt_time_s=T0) == ([], [])
    obs, rejects = dec.feed(second, 2, receipt_time_s=T0 + 60)
    assert rejects == [] and obs[0].name == pyais.decode(first, second).shipname == "SEA ROVER"

    dec.feed(first, 3, receipt_time_s=T0 + 100)
    obs, rejects = dec.feed(second, 4, receipt_time_s=T0 + 161)
    assert obs == []
    assert [(r.line_no, r.reason) for r in rejects] == [
        (3, "incomplete multi-fragment message: got 1 of 2 fragments (no further fragment within 60 s)"),
        (4, "fragment 2 of 2 without the earlier fragments (sequential id 0, channel A)")]


def test_fragments_pending_are_capped_per_source_oldest_given_up_first():
    dec = AisDecoder("AIS-T1", live=True, max_pending=128)
    given_up = []
    for k in range(129):  # 129 first fragments from 129 stations: 129 different messages
        first = two_part_message(548100000 + k)[0]
        given_up += dec.feed(_station(first, k), k + 1, receipt_time_s=T0)[1]
    assert len(dec._pending) == 128
    assert [(r.line_no, r.reason) for r in given_up] == [
        (1, "incomplete multi-fragment message: got 1 of 2 fragments")]


def _station(sentence: str, k: int) -> str:
    tag = f"s:rx{k}"
    value = 0
    for ch in tag.encode():
        value ^= ch
    return f"\\{tag}*{value:02X}\\{sentence}"


# ---------------------------------------------------------------------- per-MMSI state

def test_per_mmsi_rule_state_is_forgotten_after_the_silence_in_feed_time():
    eng = engine(mmsi_keep_s=3600.0)
    eng.process([ais(548000000 + k, T0 + k, 10.5, 114.5) for k in range(1000)], [])
    jumps = next(r for r in eng.rules if type(r).__name__ == "Jumps")
    assert len(jumps.mmsis) == 1000 and len(eng.ctx.mmsi_first_s) == 1000
    eng.process([ais(548999999, T0 + 3600 + 500.5, 10.5, 114.5)], [])
    # MMSIs last heard more than an hour before are gone; the 499 heard since remain
    assert len(jumps.mmsis) == 500 and len(eng.ctx.mmsi_first_s) == 500 and len(eng.ctx.mmsi_seen) == 500


def test_invalid_identity_alerts_again_for_an_mmsi_back_after_being_forgotten():
    eng = engine(mmsi_keep_s=3600.0)
    first = eng.process([ais(123456789, T0, 10.5, 114.5)], [])
    soon = eng.process([ais(123456789, T0 + 1800, 10.5, 114.5)], [])
    back = eng.process([ais(123456789, T0 + 1800 + 3601, 10.5, 114.5)], [])
    assert [a.type for a in first] == ["invalid_identity"] and soon == []
    assert [a.type for a in back] == ["invalid_identity"]


def test_an_mmsi_with_an_open_speed_jump_keeps_its_state_until_the_episode_closes():
    eng = engine(mmsi_keep_s=600.0, speed_jump_quiet_s=1800.0)
    eng.process([ais(548000001, T0, 10.5, 114.5), ais(548000001, T0 + 10, 10.9, 114.5)], [])
    jumps = next(r for r in eng.rules if type(r).__name__ == "Jumps")
    assert jumps.mmsis[548000001].jump is not None
    eng.advance(T0 + 1000)  # silent past mmsi_keep_s, episode still open
    assert 548000001 in jumps.mmsis
    closed = eng.advance(T0 + 10 + 1800 + 600 + 1)
    assert [a.state for a in closed] == ["closed"] and 548000001 not in jumps.mmsis


def test_tracker_static_identities_are_forgotten_after_identity_keep_s():
    tracker = Tracker({}, TrackerConfig(identity_keep_s=3600.0))
    statics = [Observation("ais_static", "AIS-T1", T0 + k, None, None, mmsi=548000000 + k, name=f"V{k}")
               for k in range(1000)]
    tracker.update(statics)
    assert len(tracker.identities) == 1000
    late = Observation("ais_static", "AIS-T1", T0 + 3600 + 500.5, None, None, mmsi=548999999, name="LATE")
    tracker.update([late])
    assert len(tracker.identities) == 500 and tracker.identities[548999999]["name"] == "LATE"


# ---------------------------------------------------------------------- the embedded bus

def test_the_embedded_bus_drops_what_every_group_has_read_but_not_what_one_still_needs():
    from services.bus.core import EmbeddedBus
    bus = EmbeddedBus(keep_read=100)
    fast, slow = bus.consumer("t", "fast"), bus.consumer("t", "slow")
    for n in range(1000):
        bus.publish("t", None, {"n": n})
    assert len(fast.poll(timeout_s=0, max_records=10_000)) == 1000
    fast.commit()
    late = bus.consumer("t", "late-1")
    assert len(late.poll(timeout_s=0, max_records=10_000)) == 1000  # slow has read nothing: all kept
    late.commit()
    assert [r.value["n"] for r in slow.poll(timeout_s=0, max_records=10_000)] == list(range(1000))
    slow.commit()
    late = bus.consumer("t", "late-2").poll(timeout_s=0, max_records=10_000)
    assert [r.offset for r in late] == list(range(900, 1000))  # only the last keep_read remain


def test_dead_letters_of_the_embedded_bus_are_bounded_newest_kept():
    from services.bus.core import DEADLETTER_RETAIN, make_bus
    bus = make_bus("embedded")
    for n in range(3 * DEADLETTER_RETAIN):
        bus.publish(topics.DEADLETTER, "AIS-T1", {"line": f"junk {n}", "reason": "not NMEA"})
    kept = bus.consumer(topics.DEADLETTER, "check").poll(timeout_s=0, max_records=10**6)
    assert DEADLETTER_RETAIN <= len(kept) <= 2 * DEADLETTER_RETAIN
    assert kept[-1].value["line"] == f"junk {3 * DEADLETTER_RETAIN - 1}"


def test_the_embedded_bus_keeps_one_read_state_per_key_of_a_compacted_topic():
    """A grouped zone alert is re-sent, whole, at every vessel's entry: once read, only its
    latest state is kept (as Kafka compacts a topic), not thousands of near-copies."""
    from services.bus.core import EmbeddedBus, make_bus
    bus = EmbeddedBus(keep_read=10_000, compacted=(topics.ALERTS,), compact_every=100)
    store = bus.consumer(topics.ALERTS, "store")
    for n in range(5000):
        bus.publish(topics.ALERTS, "A1", {"alert_id": "A1", "track_ids": [f"T{k}" for k in range(n % 50)]})
        if n % 7 == 0:
            bus.publish(topics.ALERTS, f"A{n + 2}", {"alert_id": f"A{n + 2}", "state": "closed"})
    seen = [r for r in iter(lambda: store.poll(timeout_s=0, max_records=1000), [])]
    assert sum(map(len, seen)) == 5000 + 715  # every group reads every record it has not read
    store.commit()
    bus.publish(topics.ALERTS, "A1", {"alert_id": "A1", "track_ids": ["T1"]})
    late = bus.consumer(topics.ALERTS, "late").poll(timeout_s=0, max_records=100_000)
    by_key: dict = {}
    for r in late:
        by_key.setdefault(r.key, []).append(r)
    assert len(by_key) == 716 and all(len(v) <= 2 for v in by_key.values())  # one read state per key
    assert len(late) <= 716 + 101
    assert late[-1].value == {"alert_id": "A1", "track_ids": ["T1"]} and late[-1].offset == 5715
    assert [r.offset for r in late] == sorted(r.offset for r in late)
    # unkeyed topics (observations) are never compacted
    obs = make_bus("embedded")
    fusion = obs.consumer(topics.OBS, "fusion")
    for n in range(3000):
        obs.publish(topics.OBS, "548000001", {"n": n})
    assert len(fusion.poll(timeout_s=0, max_records=10_000)) == 3000
    fusion.commit()
    assert len(obs.consumer(topics.OBS, "late").poll(timeout_s=0, max_records=10_000)) == 3000
