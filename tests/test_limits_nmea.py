"""The TCP/UDP NMEA listeners, over real sockets on loopback: line length, connection cap,
idle timeout and the source allow-list."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest
from pyais.encode import encode_dict

from services.bus import topics
from services.bus.core import EmbeddedBus
from services.config.limits import Limits
from services.workers.ingest_service import IngestService
from services.workers.raw_ingest import nmea_listeners

from .conftest import SENSORS, free_port, wait_for


def position(mmsi: int) -> bytes:
    sentence = encode_dict({"type": 1, "mmsi": mmsi, "lat": 10.1, "lon": 114.3, "speed": 10.0,
                            "course": 45.0}, talker_id="AI")[0]
    return f"{sentence}\r\n".encode()


@pytest.fixture
def listen():
    servers = []

    def start(**limits: object):
        bus = EmbeddedBus()
        ingest = IngestService(bus, dict(SENSORS), time.time)
        tcp, udp = free_port(), free_port()
        found = nmea_listeners(ingest, "AIS-T1", "127.0.0.1", tcp, udp, Limits(**limits))
        servers.extend(found)
        return bus, found[0], found[1], tcp, udp

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return sock


def read_all(sock: socket.socket) -> bytes:
    """What the server says until it closes the connection."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def deadletters(bus: EmbeddedBus) -> list[dict]:
    return [r.value for r in bus.consumer(topics.DEADLETTER, "t").poll(timeout_s=0.1, max_records=100)]


def test_an_overlong_line_is_dead_lettered_and_the_connection_goes_on(listen):
    bus, _, _, tcp, _ = listen()
    with connect(tcp) as sock:
        sock.sendall(b"!" + b"A" * 10_000 + b"\r\n" + position(548000001))
        assert wait_for(lambda: bus.end_offset(topics.OBS) == 1)
        sentence = position(548000002)
        at_cap = b" " * (4096 - len(sentence.rstrip())) + sentence  # 4096 bytes and CR LF: taken
        sock.sendall(at_cap)
        assert wait_for(lambda: bus.end_offset(topics.OBS) == 2)
    (dead,) = deadletters(bus)
    assert dead["reason"] == "line of 10001 bytes is over the 4096-byte limit; not parsed"
    assert len(dead["line"]) == 4096


def test_connections_over_the_cap_are_refused_with_a_reason_until_one_closes(listen):
    bus, tcp_server, _, tcp, _ = listen(nmea_max_connections=2)
    first, second = connect(tcp), connect(tcp)
    first.sendall(position(548000001))
    second.sendall(position(548000002))
    assert wait_for(lambda: bus.end_offset(topics.OBS) == 2)  # both are being served
    with connect(tcp) as third:
        assert read_all(third) == b"refused: 2 connections open, the limit\r\n"
    assert tcp_server.refused == 1
    first.close()
    assert wait_for(lambda: tcp_server.slots._value == 1)
    with connect(tcp) as fourth:
        fourth.sendall(position(548000004))
        assert wait_for(lambda: bus.end_offset(topics.OBS) == 3)
    second.close()


def test_an_idle_connection_is_closed_with_a_reason(listen):
    _, _, _, tcp, _ = listen(nmea_idle_timeout_s=1.0)
    with connect(tcp) as sock:
        t0 = time.monotonic()
        assert read_all(sock) == b"closed: idle for 1 s\r\n"
        assert 0.9 <= time.monotonic() - t0 < 5


def test_sources_outside_the_allow_list_are_refused_and_counted(listen):
    bus, tcp_server, udp_server, tcp, udp = listen(nmea_allow=(ipaddress.ip_network("127.0.0.2/32"),))
    with connect(tcp, "127.0.0.1") as outsider:
        assert read_all(outsider) == b"refused: source address not in MFC_NMEA_ALLOW\r\n"
    with connect(tcp, "127.0.0.2") as member:
        member.sendall(position(548000001))
        assert wait_for(lambda: bus.end_offset(topics.OBS) == 1)
    for source, mmsi in (("127.0.0.1", 548000002), ("127.0.0.2", 548000003)):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((source, 0))
            s.sendto(position(mmsi), ("127.0.0.1", udp))
    assert wait_for(lambda: bus.end_offset(topics.OBS) == 2 and udp_server.refused == 1)
    assert tcp_server.refused == 1
    obs = [o["mmsi"] for r in bus.consumer(topics.OBS, "t").poll(timeout_s=0.1) for o in topics.observations_in(r.value)]
    assert obs == [548000001, 548000003]
