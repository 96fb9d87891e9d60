"""``python -m bench.nmea_socket``: AIS lines a second pushed over TCP into ingest's NMEA listener, to the bus.

The listener of ``mfc ingest --tcp`` (``services.workers.raw_ingest.nmea_listeners``, one sensor) on
loopback; a sender thread pushes ``--lines`` AIS position reports (type 1, 2,000 vessels, encoded
by pyais, one sentence a line with CR LF) over one connection as fast as the listener reads them,
then closes its side.  Timed from the first byte sent until the listener has ended the connection
(every line decoded, its last batch published) and the bus has everything: the embedded bus holds
it; Kafka (``flush()``) acknowledged it.  CPU: this process's (the listener's thread, the sender,
kafka-python's I/O thread), the broker's not counted.

Each bus is run twice in the same run: with the listener's batches (``Limits()``: a record per
500 observations or per 50 ms, ``MFC_NMEA_BATCH_OBSERVATIONS`` / ``MFC_NMEA_BATCH_WAIT_S``) and,
as the baseline, one record per observation (``MFC_NMEA_BATCH_OBSERVATIONS=1``: how the listener
published before batches); best of ``--repeat`` by wall clock.  Every run checks that all lines
were accepted and, on the embedded bus, that every observation is on ``mfc.obs`` in line order.

The broker: ``--bootstrap host:port`` (or ``MFC_TEST_KAFKA``), else ``scripts/kafka-dev`` starts
one on free loopback ports and stops it afterwards (as ``bench.kafka_latency``); ``--no-kafka``
runs the embedded bus only.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
import uuid

from fusion.model import Sensor
from services.bus import topics
from services.bus.core import EmbeddedBus
from services.config.limits import Limits
from services.workers.ingest_service import IngestService
from services.workers.raw_ingest import nmea_listeners

SENSOR = Sensor("BENCH-AIS", "ais", 10.0, 114.0, range_m=74_000)
VESSELS = 2000


def feed(count: int) -> tuple[bytes, list[int]]:
    """``count`` position reports as a feed sends them, and their MMSIs in order."""
    from pyais.encode import encode_dict
    lines, mmsis = [], []
    for n in range(count):
        i, k = n % VESSELS, n // VESSELS
        mmsi = 548_000_000 + i
        lines.append(encode_dict({"type": 1, "mmsi": mmsi, "lat": 9.8 + (i * 0.6180339) % 0.6 + k * 1e-4,
                                  "lon": 113.7 + (i * 0.4142135) % 0.6, "speed": 12.0, "course": 45.0,
                                  "second": k % 60}, talker_id="AI", sentence_type="VDM")[0])
        mmsis.append(mmsi)
    return "".join(f"{line}\r\n" for line in lines).encode(), mmsis


def run_once(bus, payload: bytes, count: int, limits: Limits) -> dict:
    """Push ``payload`` through a fresh listener into ``bus``; wall and CPU seconds, records."""
    ingest = IngestService(bus, {SENSOR.id: SENSOR}, time.time)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (server,) = nmea_listeners(ingest, SENSOR.id, "127.0.0.1", port, None, limits)
    before = bus.end_offset(topics.OBS) if isinstance(bus, EmbeddedBus) else 0
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        cpu0, t0 = time.process_time(), time.perf_counter()

        def send() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)  # the end of the feed: the listener publishes what it holds

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        assert sock.recv(100) == b""  # the listener ended the connection: every line handled
        bus.flush()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        sender.join()
        sock.close()
    finally:
        server.shutdown()
        server.server_close()
    accepted = ingest.health[SENSOR.id]["accepted"]
    assert accepted == count, f"{accepted} of {count} lines accepted"
    records = bus.end_offset(topics.OBS) - before if isinstance(bus, EmbeddedBus) else None
    return {"wall": wall, "cpu": cpu, "records": records}


def _kafka_records(bus, prefix: str) -> int:
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bus.bootstrap, enable_auto_commit=False, group_id=None)
    try:
        tps = [TopicPartition(prefix + topics.OBS, p) for p in consumer.partitions_for_topic(prefix + topics.OBS)]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def check_embedded(bus: EmbeddedBus, mmsis: list[int]) -> None:
    consumer = bus.consumer(topics.OBS, f"check-{uuid.uuid4().hex[:6]}")
    got: list[int] = []
    while records := consumer.poll(timeout_s=0.05, max_records=100_000):
        for r in records:
            got.extend(o["mmsi"] for o in topics.observations_in(r.value))
    assert got == mmsis, "observations missing or out of order"


def measure(name: str, make_bus, payload: bytes, mmsis: list[int], repeat: int) -> dict[bool, dict]:
    out = {}
    for batched in (True, False):
        limits = Limits() if batched else Limits(nmea_batch_observations=1)
        best = None
        for _ in range(repeat):
            bus, prefix = make_bus()
            try:
                result = run_once(bus, payload, len(mmsis), limits)
                if isinstance(bus, EmbeddedBus):
                    check_embedded(bus, mmsis)
                else:
                    result["records"] = _kafka_records(bus, prefix)
            finally:
                bus.close()
            if best is None or result["wall"] < best["wall"]:
                best = result
        out[batched] = best
        how = "batches (500 / 50 ms)" if batched else "one record per line"
        print(f"  {name:8s} {how:22s} {len(mmsis) / best['wall']:>10,.0f} lines/s  {best['wall']:6.2f} s wall  "
              f"{best['cpu'] / len(mmsis) * 1e6:6.1f} µs CPU/line  {best['records']:>7,} records", flush=True)
    print(f"  {name:8s} batches / one record per line: {out[False]['wall'] / out[True]['wall']:.2f}x lines/s, "
          f"{out[False]['cpu'] / out[True]['cpu']:.2f}x less CPU", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.nmea_socket", description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=50_000, help="AIS lines pushed per run")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (wall clock)")
    ap.add_argument("--bootstrap", default=os.environ.get("MFC_TEST_KAFKA", "").removeprefix("kafka://") or None)
    ap.add_argument("--no-kafka", action="store_true", help="the embedded bus only")
    args = ap.parse_args(argv)
    payload, mmsis = feed(args.lines)
    print(f"{args.lines:,} AIS lines ({len(payload) / 1e6:.1f} MB) over one loopback TCP connection into the "
          f"NMEA listener; best of {args.repeat}")
    measure("embedded", lambda: (EmbeddedBus(), ""), payload, mmsis, args.repeat)
    if args.no_kafka:
        return 0
    from services.bus.kafka_bus import KafkaBus, ensure_topics

    from .kafka_latency import Broker
    with Broker(args.bootstrap) as bootstrap:

        def kafka():
            prefix = f"bench-{uuid.uuid4().hex[:8]}."
            bus = KafkaBus(bootstrap, prefix=prefix)
            ensure_topics(bus)
            return bus, prefix

        print(f"Kafka broker {bootstrap} (acks=all, idempotent producer, linger 5 ms)", flush=True)
        measure("kafka", kafka, payload, mmsis, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
