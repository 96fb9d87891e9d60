"""``python -m bench.kafka_latency``: end-to-end latency and throughput of fusion through Kafka.

Latency: observations are *published to ``mfc.obs``* (as ``mfc ingest`` and HTTP ingest do
after decoding: each 10 ms tick's observations in batches, ``topics.obs_batches``) at a steady offered load (1,000 and 10,000 observations a second by default)
by a load generator in its own process, ``mfc fusion`` (the deployed service in its own process,
with the product's geography and rules, its checkpoint and journal) fuses them on a real
broker, and a reader of ``mfc.tracks`` in the bench's process notes when each observation's
track update arrives.  Four processes share the machine's cores: the broker, the generator,
the fusion service and the reader.  Latency = arrival of the track line − the time the observation was handed to the
producer; p50 and p99 over every update (the first report of a vessel makes no line: AIS
tracks confirm on the second).  The synthetic feed: vessels on straight courses in the South
China Sea reporting every 2 s (so 1,000 obs/s is 2,000 vessels), feed time = wall time.

With conflation (``--conflate``, the values of ``MFC_TRACKS_CONFLATE_S`` to run, default 0 and
5), a steady vessel's line is held up to 5 s and then shows every report before it: the
latency of a report is then until the first line that shows it.

Throughput: the same observations, published beforehand, fused as fast as possible by
``FusionWorker`` reading from Kafka, and from the embedded bus, in the same run, for each
conflation setting, published in batches (requests of 2,000) and, as the baseline, one record
per observation.

The broker: ``--bootstrap host:port`` (or ``MFC_TEST_KAFKA``), else ``scripts/kafka-dev`` starts
one on free loopback ports with a fresh data directory and stops it afterwards.  Each run
uses its own topic prefix.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from fusion.model import Observation
from fusion.pipeline import Fusion
from fusion.rules import Geography
from services.bus import topics
from services.bus.core import EmbeddedBus
from services.bus.kafka_bus import KafkaBus, ensure_topics
from services.state.checkpoint import Checkpoint
from services.workers.loops import FusionWorker

ROOT = Path(__file__).resolve().parents[1]
REPORT_EVERY_S = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, bootstrap: str | None) -> None:
        self.bootstrap, self.env, self.data = bootstrap, None, None

    def __enter__(self) -> str:
        if self.bootstrap:
            return self.bootstrap
        self.data = tempfile.mkdtemp(prefix="mfc-kafka-bench-")
        port, ctl = _free_port(), _free_port()
        self.env = dict(os.environ, MFC_KAFKA_PORT=str(port), MFC_KAFKA_CONTROLLER_PORT=str(ctl),
                        MFC_KAFKA_DATA=self.data, MFC_KAFKA_HEAP_OPTS="-Xms256m -Xmx1g")
        out = subprocess.run([str(ROOT / "scripts" / "kafka-dev"), "start", "--ttl", "3600"], env=self.env,
                             capture_output=True, text=True, timeout=900, check=True)
        self.bootstrap = out.stdout.strip().splitlines()[-1]
        return self.bootstrap

    def __exit__(self, *exc: object) -> None:
        if self.env is not None:
            subprocess.run([str(ROOT / "scripts" / "kafka-dev"), "stop"], env=self.env, capture_output=True)
            shutil.rmtree(self.data, ignore_errors=True)


def vessel(i: int) -> tuple[int, float, float]:
    """MMSI and start position of vessel ``i`` (spread over 8–16°N, 110–118°E)."""
    return 548_000_000 + i, 8.0 + (i * 0.6180339) % 8.0, 110.0 + (i * 0.4142135) % 8.0


def observation(i: int, k: int, t0: float) -> Observation:
    mmsi, lat, lon = vessel(i)
    t = t0 + k * REPORT_EVERY_S + (i % 1000) * REPORT_EVERY_S / 1000  # spread over the interval
    return Observation("ais_position", "BENCH-AIS", t, lat=lat + k * 0.0005, lon=lon + k * 0.0005,
                       sigma_m=30.0, mmsi=mmsi, sog_kn=12.0, cog_deg=45.0, ais_class="A", msg_type=1)


def _offer(bootstrap: str, prefix: str, rate: int, seconds: float, t0: float, out: str) -> None:
    """The load generator, in its own process: ``rate`` observations a second in 10 ms ticks,
    each published to ``mfc.obs`` as ingest does; writes (mmsi, k, handed-over time) to ``out``."""
    bus = KafkaBus(bootstrap, prefix=prefix)
    vessels = int(rate * REPORT_EVERY_S)
    sent = []
    start, n, tick = time.monotonic(), 0, 0.01
    total = int(rate * seconds)
    while n < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        tick_obs = []
        while n < due:
            i, k = n % vessels, n // vessels
            obs = observation(i, k, t0)
            tick_obs.append(obs.to_dict())
            sent.append((obs.mmsi, k, time.time()))
            n += 1
        for key, value in topics.obs_batches(tick_obs):  # a tick's observations as one request's
            bus.publish(topics.OBS, key, value)
        time.sleep(tick)
    offered_s = time.monotonic() - start
    bus.flush()
    bus.close()
    Path(out).write_text(json.dumps({"offered_s": offered_s, "sent": sent}))


def latency_run(bootstrap: str, rate: int, seconds: float, workdir: Path, conflate_s: float = 5.0) -> dict:
    """Three processes, as deployed: the load generator, ``mfc fusion`` (the service itself,
    with the product's geography and rules, checkpoint and journal) and this one reading
    ``mfc.tracks``; the broker is a fourth."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    bus = KafkaBus(bootstrap, prefix=prefix)
    ensure_topics(bus)
    bus.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFC_")}
    env.update(MFC_BUS=f"kafka://{bootstrap}", MFC_KAFKA_PREFIX=prefix, MFC_FUSION_CLOCK="feed",
               MFC_CHECKPOINT=str(workdir / f"{prefix}ckpt"), PYTHONUNBUFFERED="1",
               MFC_TRACKS_CONFLATE_S=f"{conflate_s:g}")
    log = open(workdir / f"{prefix}fusion.log", "wb")
    fusion = subprocess.Popen([sys.executable, "-m", "mfc", "fusion", "--checkpoint-every", "10"],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        got: dict[tuple[int, int], float] = {}
        newest: dict[int, int] = {}  # per MMSI, the newest report shown (a conflated line shows the ones before)
        from kafka import KafkaConsumer, TopicPartition

        from ingest.timeparse import parse_iso
        reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        tps = [TopicPartition(prefix + topics.TRACKS, p) for p in sorted(reader.partitions_for_topic(prefix + topics.TRACKS))]
        reader.assign(tps)
        reader.seek_to_end(*tps)
        stop = threading.Event()
        t0 = time.time()

        def read() -> None:
            while not stop.is_set():
                for msgs in reader.poll(timeout_ms=200).values():
                    now = time.time()
                    for m in msgs:
                        line = json.loads(m.value)
                        if line.get("mmsi") is None:
                            continue
                        k = round((parse_iso(line["time"]) - t0 - (line["mmsi"] - 548_000_000) % 1000
                                   * REPORT_EVERY_S / 1000) / REPORT_EVERY_S)
                        mmsi = line["mmsi"]
                        for j in range(newest.get(mmsi, k - 1) + 1, k + 1):
                            got.setdefault((mmsi, j), now)
                        newest[mmsi] = max(k, newest.get(mmsi, k))
        reader_thread = threading.Thread(target=read, daemon=True)
        reader_thread.start()
        time.sleep(8.0)  # mfc fusion loads its geography and its consumer joins the group
        out = workdir / f"{prefix}sent.json"
        producer = multiprocessing.get_context("spawn").Process(
            target=_offer, args=(bootstrap, prefix, rate, seconds, t0, str(out)))
        producer.start()
        producer.join()
        result = json.loads(out.read_text())
        sent = {(mmsi, k): t for mmsi, k, t in result["sent"]}
        deadline = time.time() + 120
        want = {key for key in sent if key[1] >= 1}
        while time.time() < deadline and not want <= got.keys():
            time.sleep(0.2)
    finally:  # the service stops with the run, whatever happened
        fusion.send_signal(signal.SIGTERM)
        try:
            fusion.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fusion.kill()
        log.close()
    stop.set()
    reader_thread.join(timeout=5)
    reader.close()
    lat = sorted((got[key] - sent[key]) * 1000 for key in want if key in got)
    return {"rate": rate, "conflate_s": conflate_s, "achieved": len(sent) / result["offered_s"], "n": len(lat),
            "missing": len(want) - len(lat), "p50": _pct(lat, 50), "p99": _pct(lat, 99),
            "max": lat[-1] if lat else float("nan")}


def throughput_run(bootstrap: str, count: int, workdir: Path, conflate: tuple[float, ...] = (0.0, 5.0),
                   batches: tuple[bool, ...] = (True, False)) -> dict:
    """Observations fused per second, per (bus, conflation, batched): batched as ingest publishes
    them (``topics.obs_batches``: 500 a record), or one record per observation (before batches)."""
    t0 = time.time()
    observations = [observation(i % 5000, i // 5000, t0) for i in range(count)]
    results = {}
    for name, conflate_s, batched in [(name, c, b) for c in conflate for b in batches for name in ("embedded", "kafka")]:
        if name == "embedded":
            bus = EmbeddedBus()
        else:
            bus = KafkaBus(bootstrap, prefix=f"bench-{uuid.uuid4().hex[:8]}.")
            ensure_topics(bus)
        if batched:
            values = [obs.to_dict() for obs in observations]
            for i in range(0, len(values), 2000):  # requests of 2,000 observations
                for key, value in topics.obs_batches(values[i:i + 2000]):
                    bus.publish(topics.OBS, key, value)
        else:
            for obs in observations:
                bus.publish(topics.OBS, str(obs.mmsi), obs.to_dict())
        bus.flush()
        worker = FusionWorker(bus, Fusion({}, Geography()), clock=None,
                              checkpoint=Checkpoint(workdir / f"{name}-{uuid.uuid4().hex[:6]}.ckpt"),
                              conflate_s=conflate_s)
        start = time.perf_counter()
        worker.start()
        first, before = None, 0  # timed from the first batch handled (the group joined): the rest
        while worker.handled < count and time.perf_counter() - start < 600:
            if first is None and worker.handled:
                first, before = time.perf_counter(), worker.handled
            time.sleep(0.01)
        elapsed = time.perf_counter() - (first or start)
        worker.stop()
        worker.join(timeout=60)
        bus.close()
        results[(name, conflate_s, batched)] = (count - before) / elapsed
    return results


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.kafka_latency", description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", default=os.environ.get("MFC_TEST_KAFKA", "").removeprefix("kafka://") or None)
    ap.add_argument("--rates", default="1000,10000", help="offered loads, observations a second")
    ap.add_argument("--seconds", type=float, default=10.0, help="how long each load is offered")
    ap.add_argument("--throughput-count", type=int, default=50_000)
    ap.add_argument("--conflate", default="0,5", help="MFC_TRACKS_CONFLATE_S values to run (0: every update)")
    args = ap.parse_args(argv)
    with Broker(args.bootstrap) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        print(f"broker {bootstrap}; observations published to mfc.obs; track lines read from mfc.tracks")
        conflate = tuple(float(c) for c in args.conflate.split(","))
        rows = [latency_run(bootstrap, int(r), args.seconds, Path(tmp), c) for c in conflate
                for r in args.rates.split(",")]
        print(f"\n{'conflate s':>10} {'offered obs/s':>14} {'achieved':>9} {'updates':>8} {'missing':>8} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for r in rows:
            print(f"{r['conflate_s']:>10g} {r['rate']:>14,} {r['achieved']:>9,.0f} {r['n']:>8,} {r['missing']:>8,} "
                  f"{r['p50']:>8.1f} {r['p99']:>8.1f} {r['max']:>8.1f}")
        tp = throughput_run(bootstrap, args.throughput_count, Path(tmp), conflate)
        print(f"\nfusion throughput, {args.throughput_count:,} observations published beforehand:")
        for c in conflate:
            for batched in (True, False):
                emb, kaf = tp[("embedded", c, batched)], tp[("kafka", c, batched)]
                how = "batches of 500" if batched else "one record per observation"
                print(f"  conflate {c:g} s, {how:>26}: embedded bus {emb:>9,.0f} obs/s, Kafka {kaf:>9,.0f} obs/s "
                      f"({kaf / emb:.0%} of embedded)")
            print(f"  conflate {c:g} s: Kafka in batches {tp[('kafka', c, True)] / tp[('kafka', c, False)]:.2f}x "
                  "one record per observation")
        if len(conflate) > 1:
            base = tp[("embedded", conflate[0], True)]
            print(f"  Kafka conflated {conflate[-1]:g} s over the embedded bus unconflated (batches): "
                  f"{tp[('kafka', conflate[-1], True)] / base:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
