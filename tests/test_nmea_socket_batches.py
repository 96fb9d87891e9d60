"""NMEA over TCP and UDP reaches ``mfc.obs`` in batches, over real loopback sockets: at most
``nmea_batch_observations`` (500) a batch, published ``nmea_batch_wait_s`` (50 ms) after its
first observation at the latest, in line order, with nothing lost when a connection ends or the
listener stops; multi-sentence messages decode across batches; rejects are as before."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from pyais import decode as pyais_decode
from pyais.encode import encode_dict

from services.bus import topics
from services.bus.core import EmbeddedBus
from services.config.limits import Limits
from services.workers.ingest_service import IngestService
from services.workers.raw_ingest import nmea_listeners

from .conftest import SENSORS, free_port, wait_for


def position(mmsi: int, k: int = 0) -> str:
    return encode_dict({"type": 1, "mmsi": mmsi, "lat": 10.1 + k * 1e-4, "lon": 114.3, "speed": 10.0,
                        "course": 45.0}, talker_id="AI", sentence_type="VDM")[0]


def static(mmsi: int) -> list[str]:
    return encode_dict({"type": 5, "mmsi": mmsi, "shipname": "SAMPAGUITA", "callsign": "DUB1", "imo": 9074729,
                        "ship_type": 70, "destination": "MANILA", "to_bow": 100, "to_stern": 20,
                        "to_port": 10, "to_starboard": 10}, talker_id="AI", sentence_type="VDM", seq_id=3)


def crlf(*lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode()


@pytest.fixture
def listen():
    servers = []

    def start(**limits: object):
        bus = EmbeddedBus()
        ingest = IngestService(bus, dict(SENSORS), time.time)
        tcp, udp = free_port(), free_port()
        found = nmea_listeners(ingest, "AIS-T1", "127.0.0.1", tcp, udp, Limits(**limits))
        servers.extend(found)
        return bus, ingest, found, tcp, udp

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def records(bus: EmbeddedBus) -> list[list[dict]]:
    """Each ``mfc.obs`` record's observations, in order (a fresh group reads from the start)."""
    out = []
    consumer = bus.consumer(topics.OBS, f"t-{time.monotonic_ns()}")
    while batch := consumer.poll(timeout_s=0.05, max_records=10_000):
        out.extend([topics.observations_in(r.value) for r in batch])
    return out


def mmsis(bus: EmbeddedBus) -> list[int]:
    return [o["mmsi"] for record in records(bus) for o in record]


def accepted(ingest: IngestService) -> int:
    return ingest.health.get("AIS-T1", {}).get("accepted", 0)


def test_lines_sent_quickly_arrive_as_batches_of_at_most_500_in_line_order(listen):
    bus, _, _, tcp, _ = listen()
    lines = [position(548_000_000 + i, i) for i in range(1201)]
    expected = [pyais_decode(line).asdict()["mmsi"] for line in lines]  # the reference decoder
    assert len(set(expected)) == 1201
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
        sock.sendall(crlf(*lines))
        assert wait_for(lambda: sum(map(len, records(bus))) == 1201, timeout_s=20)
    got = records(bus)
    assert all(1 <= len(r) <= 500 for r in got)
    assert len(got) <= 60, f"{len(got)} records for 1201 lines sent at once: not batched"
    assert [o["mmsi"] for r in got for o in r] == expected
    keys = {r.key for r in bus.consumer(topics.OBS, "keys").poll(timeout_s=0.1, max_records=10_000)}
    assert keys == {"AIS-T1"}  # a sensor's batches on one partition, in order


def test_a_full_batch_goes_out_at_once_and_the_rest_when_the_connection_closes(listen):
    bus, ingest, _, tcp, _ = listen(nmea_batch_wait_s=60.0)
    lines = [position(548_000_000 + i, i) for i in range(1201)]
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
        sock.sendall(crlf(*lines))
        assert wait_for(lambda: accepted(ingest) == 1201, timeout_s=20)
        assert [len(r) for r in records(bus)] == [500, 500]  # the last 201 wait for the batch's time or the end
    assert wait_for(lambda: sum(map(len, records(bus))) == 1201)  # closed mid-batch: delivered
    assert [len(r) for r in records(bus)] == [500, 500, 201]
    assert mmsis(bus) == [548_000_000 + i for i in range(1201)]


def test_a_single_line_reaches_the_bus_within_the_batch_time(listen):
    bus, _, _, tcp, _ = listen()
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
        for n, mmsi in enumerate((548_000_001, 548_000_002), start=1):
            t0 = time.monotonic()
            sock.sendall(crlf(position(mmsi)))
            assert wait_for(lambda: bus.end_offset(topics.OBS) == n, timeout_s=5, every_s=0.005)
            assert time.monotonic() - t0 < 0.5  # the connection stays open: the time bound sent it
            time.sleep(0.2)
        assert mmsis(bus) == [548_000_001, 548_000_002]


@pytest.mark.parametrize("split", ["by count", "by time", "inside a line"])
def test_a_two_sentence_message_split_across_batches_still_decodes(listen, split):
    limits = {"nmea_batch_observations": 3, "nmea_batch_wait_s": 60.0} if split == "by count" else {}
    bus, ingest, _, tcp, _ = listen(**limits)
    first, second = static(548_000_123)
    reference = pyais_decode(first, second).asdict()
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
        if split == "by count":  # the third observation fills the first batch after the first fragment
            sock.sendall(crlf(position(548_000_001), position(548_000_002), first, position(548_000_003)))
            assert wait_for(lambda: bus.end_offset(topics.OBS) == 1)
            sock.sendall(crlf(second))
            assert wait_for(lambda: accepted(ingest) == 4)
        elif split == "by time":  # the first batch went out before the second fragment came
            sock.sendall(crlf(position(548_000_001), first))
            assert wait_for(lambda: bus.end_offset(topics.OBS) == 1)
            time.sleep(0.2)
            sock.sendall(crlf(second))
        else:  # the second fragment's line comes in two pieces, batches apart
            sock.sendall(crlf(position(548_000_001), first) + second[:20].encode())
            assert wait_for(lambda: bus.end_offset(topics.OBS) == 1)
            time.sleep(0.2)
            sock.sendall(second[20:].encode() + b"\r\n")
    assert wait_for(lambda: any(o["kind"] == "ais_static" for r in records(bus) for o in r))
    got = records(bus)
    assert len(got) == 2
    (static_obs,) = [o for o in got[1] if o["kind"] == "ais_static"]
    assert static_obs["mmsi"] == reference["mmsi"] == 548_000_123
    assert static_obs["name"] == reference["shipname"] == "SAMPAGUITA"
    assert static_obs["imo"] == reference["imo"]


def test_a_connection_closed_or_reset_mid_batch_still_delivers_what_it_sent(listen):
    bus, ingest, _, tcp, _ = listen(nmea_batch_wait_s=60.0)
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
        sock.sendall(crlf(*(position(548_000_000 + i) for i in range(10))) + position(548_000_010).encode())
    # closed, its last line without its line break: all eleven go out, long before the batch's time
    assert wait_for(lambda: sum(map(len, records(bus))) == 11, timeout_s=5)
    sock = socket.create_connection(("127.0.0.1", tcp), timeout=10)
    sock.sendall(crlf(*(position(548_000_100 + i) for i in range(5))))
    assert wait_for(lambda: accepted(ingest) == 16)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, not a close
    assert wait_for(lambda: sum(map(len, records(bus))) == 16, timeout_s=5)
    assert mmsis(bus) == [548_000_000 + i for i in range(11)] + [548_000_100 + i for i in range(5)]


def test_stopping_the_listener_publishes_what_its_connections_had_read(listen):
    bus, ingest, (tcp_server, udp_server), tcp, udp = listen(nmea_batch_wait_s=60.0)
    sock = socket.create_connection(("127.0.0.1", tcp), timeout=10)
    sock.sendall(crlf(*(position(548_000_000 + i) for i in range(7))))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(crlf(position(548_000_200), position(548_000_201)), ("127.0.0.1", udp))
    assert wait_for(lambda: accepted(ingest) == 9)
    assert bus.end_offset(topics.OBS) == 0
    t0 = time.monotonic()
    tcp_server.shutdown()
    udp_server.shutdown()
    assert time.monotonic() - t0 < 5
    assert sorted(mmsis(bus)) == sorted([548_000_000 + i for i in range(7)] + [548_000_200, 548_000_201])
    assert sock.recv(100) == b""  # the connection was ended
    sock.close()


def test_udp_datagrams_are_batched_within_the_batch_time(listen):
    bus, _, _, _, udp = listen()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        t0 = time.monotonic()
        u.sendto(crlf(position(548_000_300)), ("127.0.0.1", udp))
        assert wait_for(lambda: bus.end_offset(topics.OBS) == 1, timeout_s=5, every_s=0.005)
        assert time.monotonic() - t0 < 0.5
        for i in range(1, 201):
            u.sendto(crlf(position(548_000_300 + i)), ("127.0.0.1", udp))
    assert wait_for(lambda: sum(map(len, records(bus))) == 201, timeout_s=10)
    got = records(bus)
    assert len(got) < 100 and all(len(r) <= 500 for r in got)
    assert [o["mmsi"] for r in got for o in r] == [548_000_300 + i for i in range(201)]


def test_bad_lines_are_rejected_with_their_reasons_as_over_http(listen):
    bus, _, _, tcp, _ = listen()
    good = [position(548_000_000 + i) for i in range(3)]
    bad = ["!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*FF",  # checksum
           "hello, not NMEA",
           "!AIVDM,2,1,7,A,55NBXV000000000000000000000000000000000000000000000000000000000,0*7D"[:40]]
    overlong = "!" + "A" * 100_000  # longer than a read: skipped across reads
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
        sock.sendall(crlf(good[0], bad[0], overlong, good[1], bad[1], bad[2], good[2]))
        assert wait_for(lambda: sum(map(len, records(bus))) == 3)
    assert mmsis(bus) == [548_000_000, 548_000_001, 548_000_002]
    # the same lines through the HTTP path's service, one request each, as the listener ingests them
    reference_bus = EmbeddedBus()
    reference = IngestService(reference_bus, dict(SENSORS), time.time)
    for line in bad:
        reference.ingest_ais(line, "AIS-T1")
    expected = [r.value for r in reference_bus.consumer(topics.DEADLETTER, "t").poll(timeout_s=0.1)]
    dead = [r.value for r in bus.consumer(topics.DEADLETTER, "t").poll(timeout_s=0.1)]
    assert len(dead) == 4 and len(expected) == 3
    assert dead[1]["reason"] == "line of 100001 bytes is over the 4096-byte limit; not parsed"
    assert dead[1]["line"] == overlong[:4096]
    strip = lambda d: {k: v for k, v in d.items() if k != "received"}  # noqa: E731
    assert [strip(d) for d in dead[:1] + dead[2:]] == [strip(d) for d in expected]
    assert all(d["reason"] for d in expected)


def test_batch_limits_from_the_environment():
    lim = Limits.from_env({"MFC_NMEA_BATCH_OBSERVATIONS": "1", "MFC_NMEA_BATCH_WAIT_S": "0.2"})
    assert (lim.nmea_batch_observations, lim.nmea_batch_wait_s) == (1, 0.2)
    assert (Limits().nmea_batch_observations, Limits().nmea_batch_wait_s) == (500, 0.05)


def test_one_observation_a_batch_is_one_record_per_line(listen):
    bus, _, _, tcp, _ = listen(nmea_batch_observations=1)
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
        sock.sendall(crlf(*(position(548_000_000 + i) for i in range(20))))
        assert wait_for(lambda: bus.end_offset(topics.OBS) == 20)
    assert [len(r) for r in records(bus)] == [1] * 20


class FlakyBus(EmbeddedBus):
    """Refuses ``mfc.obs`` records while ``down``."""

    down = False

    def publish(self, topic, key, value):
        if self.down and topic == topics.OBS:
            raise RuntimeError("broker down")
        return super().publish(topic, key, value)


def test_a_bus_refusing_a_batch_ends_that_connection_as_it_did_a_line_and_the_listeners_go_on():
    bus = FlakyBus()
    ingest = IngestService(bus, dict(SENSORS), time.time)
    tcp, udp = free_port(), free_port()
    servers = nmea_listeners(ingest, "AIS-T1", "127.0.0.1", tcp, udp, Limits())
    try:
        bus.down = True
        with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
            sock.sendall(crlf(position(548_000_001), position(548_000_002)))
            assert sock.recv(100) == b""  # the batch was refused: the connection is ended, no verdict
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(crlf(position(548_000_003)), ("127.0.0.1", udp))
            assert wait_for(lambda: accepted(ingest) == 3)
            time.sleep(0.2)  # its batch refused: logged
            bus.down = False
            u.sendto(crlf(position(548_000_004)), ("127.0.0.1", udp))
        with socket.create_connection(("127.0.0.1", tcp), timeout=10) as sock:
            sock.sendall(crlf(position(548_000_005)))
        assert wait_for(lambda: sorted(mmsis(bus)) == [548_000_004, 548_000_005])
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_several_connections_at_once_each_keep_their_order_and_lose_nothing(listen):
    bus, _, _, tcp, _ = listen()
    sent = {c: [548_100_000 + c * 10_000 + i for i in range(800)] for c in range(4)}
    socks = [socket.create_connection(("127.0.0.1", tcp), timeout=10) for _ in sent]
    threads = [threading.Thread(target=s.sendall, args=(crlf(*(position(m) for m in sent[c])),))
               for c, s in zip(sent, socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wait_for(lambda: sum(map(len, records(bus))) == 3200, timeout_s=20)
    for s in socks:
        s.close()
    got = records(bus)
    assert all(len(r) <= 500 for r in got)
    for c, mmsi_list in sent.items():
        assert [o["mmsi"] for r in got for o in r if o["mmsi"] in set(mmsi_list)] == mmsi_list
