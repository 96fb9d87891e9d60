"""Ingest from the raw topics, from NMEA sockets (TCP and UDP) and from ASTERIX UDP into ``mfc.obs``,
in batches (a poll; what a connection read within ``nmea_batch_wait_s``; a datagram).

``mfc.raw.ais`` records are keyed by sensor id with value
``{"line": "<NMEA line>", "receipt_time": <epoch s, optional>}``;
``mfc.raw.radar`` records are radar JSON objects.  Every line gets the same
verdict as over HTTP: accepted into ``mfc.obs`` or dead-lettered with its reason.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from services.bus import topics
from services.bus.core import Bus, Record
from services.config.limits import Limits, LimitsError
from services.workers.ingest_service import Gathered, IngestService
from services.workers.loops import Worker

log = logging.getLogger("mfc.ingest")


class RawIngestWorker(Worker):
    def __init__(self, bus: Bus, ingest: IngestService, group: str = "ingest") -> None:
        super().__init__("raw-ingest")
        self.bus, self.ingest = bus, ingest
        self.ais = bus.consumer(topics.RAW_AIS, f"{group}-ais")  # one group per topic: members of a Kafka group share one subscription
        self.radar = bus.consumer(topics.RAW_RADAR, f"{group}-radar")

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                ais = self.ais.poll(timeout_s=0.1, max_records=5000)
                radar = self.radar.poll(timeout_s=0.1, max_records=5000)
                with self.ingest.batching():  # the poll's observations go to mfc.obs in batches
                    for rec in ais:
                        self._ais(rec)
                    for rec in radar:
                        self._radar(rec)
                self.bus.flush()
                if ais:
                    self.ais.commit()
                if radar:
                    self.radar.commit()
                self.handled += len(ais) + len(radar)
        finally:
            self.ais.close()
            self.radar.close()

    def _ais(self, rec: Record) -> None:
        value, sensor_id = rec.value, rec.key or ""
        line = value.get("line")
        if not isinstance(line, str):
            self._dead(rec, "mfc.raw.ais value needs a string field 'line'")
            return
        receipt = value.get("receipt_time")
        self.ingest.ingest_ais(line, sensor_id, receipt if isinstance(receipt, (int, float)) else None)

    def _radar(self, rec: Record) -> None:
        if "_undecodable" in rec.value:
            self._dead(rec, rec.value.get("_reason", "undecodable value"))
            return
        self.ingest.ingest_radar(json.dumps(rec.value))

    def _dead(self, rec: Record, reason: str) -> None:
        self.bus.publish(topics.DEADLETTER, rec.key or rec.topic, {
            "topic": rec.topic, "partition": rec.partition, "offset": rec.offset,
            "value": rec.value, "reason": reason})


STOP_WAIT_S = 10.0  # how long stopping an NMEA TCP listener waits for its connections' last batches
RECV_BYTES = 65_536


class _TcpHandler(socketserver.BaseRequestHandler):
    """One NMEA sentence per line; a line over the limit is dead-lettered (cut) and skipped,
    the connection goes on; a connection silent for ``nmea_idle_timeout_s`` is closed.

    The connection's accepted observations go to ``mfc.obs`` in batches, in line order
    (:meth:`IngestService.batching`, in this connection's thread): a batch is published when
    it holds ``nmea_batch_observations``, ``nmea_batch_wait_s`` after its first observation
    (the socket is read with that deadline as its timeout), and when the connection ends for
    any reason (closed or reset by the sender, idle, the listener stopping).  Rejects are
    dead-lettered at once, as before.  The bus refusing a batch ends the connection (through
    ``handle_error``, as a refused line did when each line was published alone)."""

    def handle(self) -> None:
        server: Any = self.server
        done = server.opened(self.request)
        try:
            with server.ingest.batching() as batch:
                try:
                    self._serve(server, batch)
                except ConnectionError as exc:  # reset by the sender: what it sent still goes out
                    log.info("NMEA TCP connection from %s: %s", self.client_address[0], exc)
                finally:
                    batch.publish()  # what is pending, whatever ended the connection
        finally:
            server.closed(self.request, done)

    def _serve(self, server: Any, batch: Gathered) -> None:
        sock: socket.socket = self.request
        limits: Limits = server.limits
        idle_s, wait_s = limits.nmea_idle_timeout_s, limits.nmea_batch_wait_s
        rest = b""  # the start of a line whose end has not come yet
        skipping: tuple[bytes, int] | None = None  # an overlong line's first bytes and size so far
        heard = time.monotonic()
        while not server.stopping.is_set():
            now = time.monotonic()
            if batch.since is not None and now - batch.since >= wait_s:
                batch.publish()
            timeout = heard + idle_s - now
            if batch.since is not None:
                timeout = min(timeout, batch.since + wait_s - now)
            sock.settimeout(max(timeout, 0.001))
            try:
                chunk = sock.recv(RECV_BYTES)
            except TimeoutError:
                if batch.since is None and time.monotonic() - heard >= idle_s:
                    log.info("NMEA TCP connection from %s idle for %.0f s: closed", self.client_address[0], idle_s)
                    _say(sock, f"closed: idle for {idle_s:.0f} s")
                    return
                continue
            if not chunk:  # the sender closed
                break
            heard = time.monotonic()
            data = rest + chunk if rest else chunk
            if skipping is not None:
                end = data.find(b"\n")
                if end < 0:
                    skipping, rest = (skipping[0], skipping[1] + len(data)), b""
                    continue
                tail = data[:end]
                _overlong(server, skipping[0], skipping[1] + len(tail.rstrip(b"\r")))
                skipping, data = None, data[end + 1:]
            lines = data.split(b"\n")
            rest = lines.pop()
            for raw in lines:
                self._line(server, batch, raw)
            if len(rest) > limits.ingest_max_line_bytes + 1:  # over the cap even if a CR ends it
                skipping, rest = (rest[:limits.ingest_max_line_bytes], len(rest)), b""
        # the end of what the sender sent, or the listener stopping: a last line without its
        # line break is a line too (as ``readline`` gave it)
        if skipping is not None:
            _overlong(server, *skipping)
        elif rest:
            self._line(server, batch, rest)

    @staticmethod
    def _line(server: Any, batch: Gathered, raw: bytes) -> None:
        line = raw.rstrip(b"\r\n")
        if len(line) > server.limits.ingest_max_line_bytes:
            _overlong(server, line, len(line))
            return
        server.ingest.ingest_ais(line.decode("utf-8", errors="replace"), server.sensor_id)
        if len(batch) >= server.limits.nmea_batch_observations:
            batch.publish()


def _overlong(server: Any, head: bytes, size: int) -> None:
    """Dead-letter the first ``cap`` bytes of an overlong line of ``size`` bytes (without its line break)."""
    cap = server.limits.ingest_max_line_bytes
    server.ingest.refuse(server.sensor_id, head[:cap].decode("utf-8", errors="ignore"),
                         f"line of {size} bytes is over the {cap}-byte limit; not parsed")


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        data = self.request[0].decode("utf-8", errors="replace")
        server.ingest.ingest_ais(data, server.sensor_id)


class _Guarded:
    """Source allow-list (``MFC_NMEA_ALLOW``, default loopback) and refusal counting, for both listeners."""

    limits: Limits
    refused: int = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.limits.nmea_allows(client_address[0]):
            return True
        self._refuse(request, client_address, "source address not in MFC_NMEA_ALLOW")
        return False

    def _refuse(self, request: Any, client_address: Any, reason: str) -> None:
        self.refused += 1
        if self.refused <= 100 or self.refused % 1000 == 0:
            log.warning("NMEA %s refused %s: %s (%d refused so far)", type(self).__name__,
                        client_address[0], reason, self.refused)
        if isinstance(request, socket.socket):
            _say(request, f"refused: {reason}")


class _TcpServer(_Guarded, socketserver.ThreadingTCPServer):
    """A thread per connection, each with its own batch (see :class:`_TcpHandler`).
    ``shutdown()`` stops accepting, ends the open connections (what they had read is
    published) and waits for them, at most ``STOP_WAIT_S``."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], limits: Limits) -> None:
        self.limits = limits
        self.slots = threading.BoundedSemaphore(limits.nmea_max_connections)
        self.stopping = threading.Event()
        self._open: dict[socket.socket, threading.Event] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, _TcpHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self._refuse(request, client_address,
                         f"{self.limits.nmea_max_connections} connections open, the limit")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def opened(self, sock: socket.socket) -> threading.Event:
        done = threading.Event()
        with self._open_lock:
            self._open[sock] = done
        return done

    def closed(self, sock: socket.socket, done: threading.Event) -> None:
        with self._open_lock:  # before the socket is closed: shutdown() never touches a closed one
            self._open.pop(sock, None)
        done.set()

    def shutdown(self) -> None:
        super().shutdown()  # no new connections
        self.stopping.set()
        with self._open_lock:
            connections = list(self._open.items())
            for sock, _ in connections:
                try:
                    sock.shutdown(socket.SHUT_RD)  # wakes its reader: it publishes what it has and ends
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_WAIT_S
        for _, done in connections:
            if not done.wait(max(0.0, deadline - time.monotonic())):
                log.error("NMEA TCP listener stopping: a connection did not end within %.0f s", STOP_WAIT_S)
                break


class _UdpServer(_Guarded, socketserver.UDPServer):
    """Datagrams handled one at a time on the listener's thread: no thread per datagram.  Their
    observations are gathered in one batch (:meth:`IngestService.batching` on that thread),
    published when it holds ``nmea_batch_observations``, ``nmea_batch_wait_s`` after its first
    and when the listener stops.  The bus refusing a batch is logged and the listener goes on
    (as for a datagram when each was published alone)."""

    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], limits: Limits) -> None:
        self.limits = limits
        self._stop, self._stopped = threading.Event(), threading.Event()
        super().__init__(address, _UdpHandler)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        ingest: IngestService = self.ingest  # type: ignore[attr-defined]
        wait_s, most = self.limits.nmea_batch_wait_s, self.limits.nmea_batch_observations
        try:
            with ingest.batching() as batch, selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                try:
                    while not self._stop.is_set():
                        wait = poll_interval  # as long as shutdown() may wait to be seen
                        if batch.since is not None:
                            wait = min(wait, batch.since + wait_s - time.monotonic())
                        if selector.select(max(wait, 0.0)):
                            self._handle_request_noblock()
                        if len(batch) >= most or (batch.since is not None
                                                  and time.monotonic() - batch.since >= wait_s):
                            self._publish(batch)
                finally:
                    self._publish(batch)
        finally:
            self._stopped.set()

    def _publish(self, batch: Gathered) -> None:
        count = len(batch)
        try:
            batch.publish()
        except Exception as exc:  # the bus refused: logged, the listener goes on
            log.error("NMEA UDP: %d observations not published: %s: %s", count, type(exc).__name__, exc)

    def shutdown(self) -> None:
        """Stop serving; returns once the pending batch is published."""
        self._stop.set()
        self._stopped.wait()


def _say(sock: socket.socket, text: str) -> None:
    try:
        sock.sendall(f"{text}\r\n".encode())
    except OSError:
        pass


def nmea_listeners(ingest: IngestService, sensor_id: str, host: str, tcp_port: int | None,
                   udp_port: int | None, limits: Limits | None = None) -> list[socketserver.BaseServer]:
    """Start NMEA listeners (one sentence per line over TCP; one or more per UDP datagram).

    Bounded by ``limits`` (default: from the environment): sources outside ``nmea_allow``
    (default loopback only) and connections beyond ``nmea_max_connections`` are refused
    and counted (``server.refused``); lines over ``ingest_max_line_bytes`` are dead-lettered;
    idle TCP connections close after ``nmea_idle_timeout_s``.  Observations go to ``mfc.obs`` in
    batches per TCP connection (and for the UDP listener): at ``nmea_batch_observations`` or
    ``nmea_batch_wait_s`` after the first, and when the connection ends or ``shutdown()`` is called."""
    limits = limits or Limits.from_env()
    servers: list[socketserver.BaseServer] = []
    if tcp_port:
        servers.append(_TcpServer((host, tcp_port), limits))
    if udp_port:
        servers.append(_UdpServer((host, udp_port), limits))
    for server in servers:
        server.ingest, server.sensor_id = ingest, sensor_id  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, name=f"nmea-{type(server).__name__}", daemon=True).start()
    return servers


# -- ASTERIX over UDP ------------------------------------------------------------------------

REFUSALS_DEAD_LETTERED = 100  # refused datagrams dead-lettered one by one; after that every 1000th


def parse_asterix_sources(items: list[str]) -> dict[str, str]:
    """``["192.0.2.7=PH-PAL-R1", "::1=R2"]`` → {normalised address: sensor id}; one radar per
    source address (a second sensor for the same address is an error)."""
    out: dict[str, str] = {}
    for item in items:
        address, sep, sensor_id = item.rpartition("=")
        if not sep or not address.strip() or not sensor_id.strip():
            raise LimitsError(f"ASTERIX source {item!r} is not ADDRESS=SENSOR_ID")
        try:
            key = _normal_address(address.strip())
        except ValueError:
            raise LimitsError(f"ASTERIX source {item!r}: {address!r} is not an IP address") from None
        if key in out and out[key] != sensor_id.strip():
            raise LimitsError(f"ASTERIX source {key} is mapped to both {out[key]!r} and {sensor_id.strip()!r}")
        out[key] = sensor_id.strip()
    return out


def _normal_address(address: str) -> str:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


class _AsterixHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.datagram(self.request[0], self.client_address[0])  # type: ignore[attr-defined]


class AsterixUdpServer(socketserver.UDPServer):
    """ASTERIX datablocks over UDP from coastal and VTS radars, one datagram at a time.

    Each source address is mapped to its radar's sensor id (``sources``); a datagram from any
    other address is refused, counted and dead-lettered (the first 100, then every 1000th, so a
    flood cannot fill the topic).  A datagram over ``max_bytes`` is rejected undecoded; every
    other one gets :meth:`IngestService.ingest_datagram`'s verdict: its reports on ``mfc.obs``,
    its refused blocks and records on ``mfc.deadletter`` with their reasons, the datagram counted
    in the radar's health.  Nothing a datagram holds stops the listener."""

    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ingest: IngestService, sources: Mapping[str, str],
                 limits: Limits, clock: Callable[[], float] = time.time) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.ingest, self.clock = ingest, clock
        self.sources = {_normal_address(a): s for a, s in sources.items()}
        self.max_bytes = limits.asterix_max_datagram_bytes
        self.max_packet_size = self.max_bytes + 1  # one byte more: an overlong datagram is seen, not cut
        self.datagrams = self.accepted = self.rejected = self.refused = self.failed = 0
        super().__init__(address, _AsterixHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        try:
            known = _normal_address(client_address[0]) in self.sources
        except ValueError:
            known = False
        if not known:
            self._refuse(request[0], client_address[0])
        return known

    def _refuse(self, data: bytes, source: str) -> None:
        self.refused += 1
        reason = (f"source address {source} is not in the ASTERIX source list (--asterix-source); "
                  f"{self.refused} datagrams refused so far")
        if self.refused <= REFUSALS_DEAD_LETTERED or self.refused % 1000 == 0:
            log.warning("ASTERIX UDP: %s", reason)
            try:
                self.ingest.refuse("asterix-udp", data[:64].hex(), reason)
            except Exception as exc:  # the bus down: the refusal is still counted and logged
                log.error("ASTERIX UDP: cannot dead-letter a refusal: %s", exc)

    def datagram(self, data: bytes, source: str) -> None:
        sensor_id = self.sources[_normal_address(source)]
        self.datagrams += 1
        try:
            verdict = self.ingest.ingest_datagram(data, sensor_id, self.max_bytes, self.clock())
        except Exception as exc:  # the bus refused, or a decoder fault: counted and logged, never fatal
            self.failed += 1
            log.error("ASTERIX UDP datagram from %s (%s, %d bytes) not handled: %s: %s", source, sensor_id,
                      len(data), type(exc).__name__, exc)
            return
        self.accepted += verdict.accepted
        self.rejected += verdict.rejected_count


def asterix_listener(ingest: IngestService, host: str, port: int, sources: Mapping[str, str],
                     limits: Limits | None = None) -> AsterixUdpServer:
    """Start the ASTERIX UDP listener on ``host:port`` (a daemon thread); ``server.shutdown()`` stops it.
    The category definitions are loaded first, so that the first datagrams do not wait for them."""
    from ingest.asterix import _uaps
    _uaps()
    server = AsterixUdpServer((host, port), ingest, sources, limits or Limits.from_env())
    threading.Thread(target=server.serve_forever, name="asterix-udp", daemon=True).start()
    return server
