"""Ingest from the raw topics and from NMEA sockets (TCP and UDP) into ``mfc.obs``.

``mfc.raw.ais`` records are keyed by sensor id with value
``{"line": "<NMEA line>", "receipt_time": <epoch s, optional>}``;
``mfc.raw.radar`` records are radar JSON objects.  Every line gets the same
verdict as over HTTP: accepted into ``mfc.obs`` or dead-lettered with its reason.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
from typing import Any

from . import topics
from .bus import Bus, Record
from .ingest_service import IngestService
from .workers import Worker

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


class _TcpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        for raw in self.rfile:
            server.ingest.ingest_ais(raw.decode("utf-8", errors="replace").rstrip("\r\n"), server.sensor_id)


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        data = self.request[0].decode("utf-8", errors="replace")
        server.ingest.ingest_ais(data, server.sensor_id)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def nmea_listeners(ingest: IngestService, sensor_id: str, host: str, tcp_port: int | None,
                   udp_port: int | None) -> list[socketserver.BaseServer]:
    """Start NMEA listeners (one sentence per line over TCP; one or more per UDP datagram)."""
    servers: list[socketserver.BaseServer] = []
    if tcp_port:
        servers.append(_TcpServer((host, tcp_port), _TcpHandler))
    if udp_port:
        servers.append(socketserver.ThreadingUDPServer((host, udp_port), _UdpHandler))
    for server in servers:
        server.ingest, server.sensor_id = ingest, sensor_id  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, name=f"nmea-{type(server).__name__}", daemon=True).start()
    return servers
