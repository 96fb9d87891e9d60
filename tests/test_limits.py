"""Caps on what untrusted input can make the centre hold: at the cap accepted, over it refused
with a reason (ingest lines and line length, echoed rejects, sensors per owner, live streams,
test_limits_state.py has the fragments, per-MMSI state and the bus)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from pyais.encode import encode_dict

from api.app import create_app
from services.bus import topics
from services.config.limits import Limits, LimitsError
from services.config.settings import ApiKey, Settings
from services.delivery.broadcast import Broadcaster, TooManyListeners
from services.workers.runtime import Runtime

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, SENSORS, LiveServer

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
