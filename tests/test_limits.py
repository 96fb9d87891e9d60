"""Caps on what untrusted input can make the centre hold: at the cap accepted, over it refused
with a reason (ingest lines and line length, echoed rejects, sensors per owner, live streams,
AIS fragments, per-MMSI rule state, the tracker's static identities)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import httpx
import pyais
import pytest
from fastapi.testclient import TestClient
from pyais.encode import encode_dict

from api.app import create_app
from fusion.config import TrackerConfig
from fusion.model import Observation
from fusion.tracker import Tracker
from ingest.ais import AisDecoder
from services import topics
from services.broadcast import Broadcaster, TooManyListeners
from services.limits import Limits, LimitsError
from services.runtime import Runtime
from services.settings import ApiKey, Settings

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, SENSORS, LiveServer
from .rules_builders import T0, ais, engine

INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}


def runtime(tmp_path, **limits: object) -> Runtime:
    settings = Settings(db=f"sqlite:///{tmp_path / 'mfc.db'}", demo_key=OFFICER_KEY,
                        api_keys=(ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"),))
    return Runtime(settings, dict(SENSORS), limits=Limits(**limits))  # type: ignore[arg-type]


def position(mmsi: int, lat: float = 10.1, lon: float = 114.3) -> str:
    return encode_dict({"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": 10.0, "course": 45.0},
                       talker_id="AI")[0]


def post_ais(client: TestClient, text: str) -> httpx.Response:
    return client.post("/v1/ingest/ais?sensor_id=AIS-T1", content=text, headers=INTEGRATOR)


# ---------------------------------------------------------------------- ingest requests

def test_a_line_at_the_length_cap_is_decoded_and_one_byte_over_is_rejected_unparsed(tmp_path):
    sentence = position(548000001)
    at_cap = " " * (4096 - len(sentence)) + sentence  # blanks around a sentence are allowed
    with TestClient(create_app(runtime(tmp_path))) as client:
        ok = post_ais(client, at_cap).json()
        assert ok["accepted"] == 1 and ok["rejected"] == 0, ok
        over = post_ais(client, " " + at_cap).json()
    assert over["accepted"] == 0 and over["rejected"] == 1
    (reject,) = over["rejects"]
    assert reject["reason"] == "line of 4097 bytes is over the 4096-byte limit; not parsed"
    assert len(reject["line"].encode()) == 4096  # echoed cut to the cap


def test_line_length_counts_utf8_bytes_not_characters(tmp_path):
    line = "é" * 2049  # 4098 bytes in 2049 characters
    with TestClient(create_app(runtime(tmp_path))) as client:
        r = client.post("/v1/ingest/radar", content=line, headers=INTEGRATOR).json()
    assert r["rejected"] == 1 and "4098 bytes is over the 4096-byte limit" in r["rejects"][0]["reason"]


def test_lines_per_request_at_the_cap_accepted_and_over_it_413(tmp_path):
    lines = [position(548000000 + k) for k in range(50)]
    with TestClient(create_app(runtime(tmp_path, ingest_max_lines=50))) as client:
        ok = post_ais(client, "\n".join(lines))
        assert ok.status_code == 202 and ok.json()["accepted"] == 50
        over = post_ais(client, "\n".join(lines + [position(548000099)]))
        blank = post_ais(client, "\n" * 60)  # blank lines count too
    assert over.status_code == 413 and over.json()["error"] == "51 lines in one request, the limit is 50; split it"
    assert blank.status_code == 413 and "more than 50 lines" in blank.json()["error"]


def test_rejects_echoed_up_to_the_limit_counted_exactly_and_all_dead_lettered(tmp_path):
    rt = runtime(tmp_path, ingest_max_echoed_rejects=1000)
    junk = [f"junk line {k}" for k in range(1500)]
    with TestClient(create_app(rt)) as client:
        before = rt.bus.end_offset(topics.DEADLETTER)
        r = post_ais(client, "\n".join(junk + [position(548000001)])).json()
        after = rt.bus.end_offset(topics.DEADLETTER)
    assert r["accepted"] == 1 and r["rejected"] == 1500 and r["rejects_truncated"] is True
    assert len(r["rejects"]) == 1000 and r["rejects"][-1]["line"] == "junk line 999"
    assert after - before == 1500


def test_each_line_gets_one_outcome_also_for_fragments_held_and_given_up(tmp_path):
    first, second = encode_dict({"type": 5, "mmsi": 548000002, "shipname": "LADY M", "ship_type": 70},
                                talker_id="AI")
    with TestClient(create_app(runtime(tmp_path))) as client:
        held = post_ais(client, f"{first}\n\n{position(548000003)}").json()
        # the same message restarted: the first is given up (a line of the earlier request)
        done = post_ais(client, f"{first}\n{second}").json()
    assert (held["accepted"], held["rejected"], held["ignored"]) == (1, 0, 2)
    assert (done["accepted"], done["rejected"], done["rejected_earlier"], done["ignored"]) == (1, 1, 1, 1)
    assert done["accepted"] + done["rejected"] - done["rejected_earlier"] + done["ignored"] == 2


# ---------------------------------------------------------------------- sensors per owner

def test_sensors_per_owner_at_the_cap_registered_and_over_it_409(tmp_path):
    # test-integrator owns AIS-T1 and RAD-T1 already
    radar = {"kind": "radar", "lat": 11.0, "lon": 115.0, "range_m": 40000}
    with TestClient(create_app(runtime(tmp_path, sensors_per_integrator=3))) as client:
        third = client.post("/v1/sensors", json={"id": "RAD-3", **radar}, headers=INTEGRATOR)
        fourth = client.post("/v1/sensors", json={"id": "RAD-4", **radar}, headers=INTEGRATOR)
        again = client.post("/v1/sensors", json={"id": "RAD-3", **radar, "range_m": 30000}, headers=INTEGRATOR)
    assert third.status_code == 201, third.text
    assert fourth.status_code == 409
    assert fourth.json()["error"] == ("owner 'test-integrator' would have 4 sensors, the limit is 3 "
                                      "(3 registered); delete some first")
    assert again.status_code == 201  # changing a sensor one has is not a new one


# ---------------------------------------------------------------------- live streams

def open_stream(url: str, key: str) -> tuple[int, str, Callable[[], None]]:
    """Open /v1/stream; returns its status, the first bytes, and a closer."""
    client = httpx.Client(timeout=10)
    cm = client.stream("GET", f"{url}/v1/stream?key={key}")
    r = cm.__enter__()
    chunks = r.iter_text()  # kept until close: dropping the iterator closes the connection
    first = next(chunks) if r.status_code == 200 else r.read().decode()

    def close() -> None:
        chunks.close()
        cm.__exit__(None, None, None)
        client.close()
    return r.status_code, first, close


def test_streams_per_key_at_the_cap_open_and_over_it_429_until_one_closes(tmp_path):
    with LiveServer(runtime(tmp_path, streams_per_key=2)) as server:
        opened = [open_stream(server.url, OFFICER_KEY) for _ in range(2)]
        status, body, close = open_stream(server.url, OFFICER_KEY)
        close()
        assert [s for s, _, _ in opened] == [200, 200]
        assert status == 429 and "already has 2 live streams open, the limit is 2" in body
        opened[0][2]()
        assert _wait(lambda: len(server.runtime.broadcaster) == 1)
        again = open_stream(server.url, OFFICER_KEY)
        assert again[0] == 200
        for _, _, closer in (opened[1], again):
            closer()


def _wait(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_listeners_overall_capped():
    async def scenario() -> str:
        b = Broadcaster(max_per_key=5, max_total=3)
        for name in ("a", "b", "c"):
            b.listen(frozenset({"track"}), key=name)
        with pytest.raises(TooManyListeners) as exc:
            b.listen(frozenset({"track"}), key="d")
        return str(exc.value)
    assert asyncio.run(scenario()) == "3 live streams open, the limit of this server is 3; retry later"


def test_events_are_filtered_before_queueing_so_unwanted_ones_never_lag_a_listener():
    async def scenario() -> tuple[int, int, int, int]:
        b = Broadcaster(queue_size=100)
        picky = b.listen(frozenset({"track"}), lambda kind, v: {"seen": v["n"]} if v["n"] % 1000 == 0 else None,
                         key="agency:PH")
        greedy = b.listen(frozenset({"track"}), key="officer:x")
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        def publisher() -> None:  # the store worker's thread
            b.publish("track", [{"n": n} for n in range(10_000)])
            loop.call_soon_threadsafe(done.set)
        threading.Thread(target=publisher).start()
        await done.wait()
        await asyncio.sleep(0)  # let the offers scheduled before ``done`` run
        picked = [picky.queue.get_nowait() for _ in range(picky.queue.qsize())]
        return picked, picky.dropped, greedy.queue.qsize(), greedy.dropped
    picked, picky_dropped, greedy_n, greedy_dropped = asyncio.run(scenario())
    # only its ten events, as its view shows them, nothing lost
    assert (picked, picky_dropped) == ([("track", {"seen": n}) for n in range(0, 10_000, 1000)], 0)
    assert (greedy_n, greedy_dropped) == (100, 9_900)  # the slow greedy one lags, as before


def test_a_failing_filter_sends_nothing():
    async def scenario() -> int:
        b = Broadcaster()
        listener = b.listen(frozenset({"alert"}), lambda kind, v: v["missing"], key="agency:VN")
        b.publish("alert", [{"alert_id": "A1"}])
        await asyncio.sleep(0.01)
        return listener.queue.qsize()
    assert asyncio.run(scenario()) == 0


# ---------------------------------------------------------------------- settings

def test_limits_from_the_environment_and_precise_errors():
    lim = Limits.from_env({"MFC_STREAMS_PER_KEY": "3", "MFC_NMEA_ALLOW": "10.0.0.0/8, 192.0.2.7"})
    assert lim.streams_per_key == 3 and lim.ingest_max_line_bytes == 4096
    assert lim.nmea_allows("10.1.2.3") and lim.nmea_allows("192.0.2.7") and not lim.nmea_allows("192.0.2.8")
    assert not lim.nmea_allows("127.0.0.1")  # an explicit list replaces the loopback default
    assert Limits().nmea_allows("127.0.0.1") and Limits().nmea_allows("::1")
    assert Limits().nmea_allows("::ffff:127.0.0.1") and not Limits().nmea_allows("192.0.2.1")
    with pytest.raises(LimitsError, match="MFC_INGEST_MAX_LINES must be positive"):
        Limits.from_env({"MFC_INGEST_MAX_LINES": "0"})
    with pytest.raises(LimitsError, match="'10.0.0.0/33' is not an address or network"):
        Limits.from_env({"MFC_NMEA_ALLOW": "10.0.0.0/33"})


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
    from services.bus import EmbeddedBus
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
    from services.bus import DEADLETTER_RETAIN, make_bus
    bus = make_bus("embedded")
    for n in range(3 * DEADLETTER_RETAIN):
        bus.publish(topics.DEADLETTER, "AIS-T1", {"line": f"junk {n}", "reason": "not NMEA"})
    kept = bus.consumer(topics.DEADLETTER, "check").poll(timeout_s=0, max_records=10**6)
    assert DEADLETTER_RETAIN <= len(kept) <= 2 * DEADLETTER_RETAIN
    assert kept[-1].value["line"] == f"junk {3 * DEADLETTER_RETAIN - 1}"
