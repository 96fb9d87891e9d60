"""``python -m bench.federation_link``: latency and throughput of a federation link on real parts.

Two nodes, A and B, each a ``Runtime`` (exporter, importer, store writer) on its own Apache
Kafka broker started by ``scripts/kafka-dev``, linked by MirrorMaker 2 started by
``scripts/federation-mirror`` (A → B), all on this machine's two cores.  A shares tracks marked
``ASEAN`` with B; B holds A's key.

A's fusion is left out: the bench publishes track lines on A's ``mfc.tracks`` as fusion does,
each carrying the wall time it was handed to A's producer; a reader of B's ``mfc.tracks`` (what
B's store and live stream read) notes when each arrives, verified and renamed ``A:<id>``.

- Latency: ``--rate`` track updates a second (default 200) for ``--seconds`` (default 30);
  p50, p99 and max of arrival − hand-over, over every update.
- Throughput: ``--burst`` updates (default 20,000) published at once; updates per second from
  the first hand-over to the last arrival.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from fusion.model import Sensor, iso_time
from services import topics
from services.federation import Agreement, public_pem
from services.kafka_bus import KafkaBus
from services.runtime import Runtime
from services.settings import ApiKey, Settings

ROOT = Path(__file__).resolve().parents[1]
KAFKA_DEV, MIRROR = ROOT / "scripts" / "kafka-dev", ROOT / "scripts" / "federation-mirror"
SENSORS = {"RAD-1": Sensor("RAD-1", "radar", 11.0, 115.0, accuracy_m=30.0, releasability=("ASEAN",))}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], env: dict) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _runtime(work: Path, node: str, bootstrap: str) -> Runtime:
    (work / node).mkdir()
    settings = Settings(db=f"sqlite:///{work / node / 'mfc.db'}", bus=f"kafka://{bootstrap}", node_id=node,
                        demo_key="bench-officer-key-0001", exercise_dir=str(work / node / "exercises"),
                        api_keys=(ApiKey("bench-admin-key-00001", "admin", "bench"),))
    return Runtime(settings, dict(SENSORS), fusion=False)


def _line(i: int, handed_s: float) -> dict:
    return {"track_id": f"T{i % 500:04d}", "time": iso_time(handed_s), "lat": 11.0 + (i % 500) * 1e-3,
            "lon": 115.0, "sog_kn": 10.0, "cog_deg": 90.0, "sigma_m": 30.0, "status": "confirmed",
            "sources": ["radar"], "sensors": ["RAD-1"], "bench_i": i, "bench_handed_s": handed_s}


class Arrivals(threading.Thread):
    """Reads B's ``mfc.tracks`` all along, noting when each bench update arrives (by index)."""

    def __init__(self, reader) -> None:
        super().__init__(daemon=True)
        self.reader, self.at = reader, {}
        self.latency: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for r in self.reader.poll(0.2, 5000):
                i = r.value.get("bench_i")
                if isinstance(i, int) and r.value.get("origin") and i not in self.at:
                    now = time.time()
                    self.at[i], self.latency[i] = now, now - r.value["bench_handed_s"]

    def wait(self, want: range, timeout_s: float, stages=None) -> None:
        deadline, shown = time.time() + timeout_s, time.time()
        while any(i not in self.at for i in want) and time.time() < deadline:
            time.sleep(0.2)
            if stages is not None and time.time() - shown >= 5:
                shown = time.time()
                print(f"  {stages()}, arrived {sum(1 for i in want if i in self.at):,}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=20_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mfc-bench-federation-"))
    envs, boots = {}, {}
    runtimes: list[Runtime] = []
    mirror_env = dict(os.environ, MFC_MIRROR_DATA=str(work / "mirror"))
    try:
        for node in ("A", "B"):
            envs[node] = dict(os.environ, MFC_KAFKA_PORT=str(_port()), MFC_KAFKA_CONTROLLER_PORT=str(_port()),
                              MFC_KAFKA_DATA=str(work / f"kafka-{node}"))
            boots[node] = _run([str(KAFKA_DEV), "start", "--ttl", "3600"], envs[node])
        _run([str(MIRROR), "start", f"A={boots['A']}", f"B={boots['B']}", "--ttl", "3600"], mirror_env)
        a, b = _runtime(work, "A", boots["A"]), _runtime(work, "B", boots["B"])
        runtimes = [a, b]
        a.agreements.put(Agreement("B", ("ASEAN",), ("tracks",)), "bench")
        b.agreements.put(Agreement("A", ("ASEAN",), ("tracks",), public_key=public_pem(a.agreements.node_key())),
                         "bench")
        a.start()
        b.start()
        arrivals = Arrivals(KafkaBus(boots["B"]).consumer(topics.TRACKS, f"bench-{time.time_ns()}"))
        arrivals.start()
        # warm-up: the link carries a first record end to end (topics made, groups joined)
        a.bus.publish(topics.TRACKS, "T-1", _line(-1, time.time()))
        a.bus.flush()
        arrivals.wait(range(-1, 0), 120)
        if -1 not in arrivals.at:
            raise SystemExit("the link never carried the warm-up record")
        print(f"warm-up record arrived after {arrivals.latency[-1]:.1f} s")

        n = args.rate * args.seconds
        t0 = time.time()
        for i in range(n):
            due = t0 + i / args.rate
            while (now := time.time()) < due:
                time.sleep(min(0.005, due - now))
            a.bus.publish(topics.TRACKS, f"T{i % 500:04d}", _line(i, time.time()))
            a.bus.flush()  # each update goes when it is made, as fusion's lines do
        arrivals.wait(range(n), 120)
        lat = sorted(arrivals.latency[i] for i in range(n) if i in arrivals.latency)
        print(f"latency at {args.rate} updates/s for {args.seconds} s: {len(lat)}/{n} arrived; "
              f"p50 {statistics.median(lat) * 1000:.0f} ms, p99 {lat[int(0.99 * (len(lat) - 1))] * 1000:.0f} ms, "
              f"max {lat[-1] * 1000:.0f} ms")

        burst = range(1_000_000, 1_000_000 + args.burst)
        t0 = time.time()
        for i in burst:
            a.bus.publish(topics.TRACKS, f"T{i % 500:04d}", _line(i, time.time()))
        a.bus.flush()
        handed = time.time() - t0

        def stages() -> str:
            return (f"shared by A {a.federation.shared['B']['tracks']:,}, "
                    f"received by B {b.federation_in.links['A'].received['tracks']:,}")
        arrivals.wait(burst, 600, stages)
        got = [arrivals.at[i] for i in burst if i in arrivals.at]
        elapsed = max(got) - t0
        print(f"burst of {args.burst:,} (handed to A's producer in {handed:.1f} s): {len(got):,} arrived; "
              f"{len(got) / elapsed:,.0f} updates/s end to end over {elapsed:.1f} s")
        arrivals.stopping.set()
        arrivals.join(5)
        arrivals.reader.close()
    finally:
        for r in runtimes:
            r.stop()
        subprocess.run([str(MIRROR), "stop", "A", "B"], env=mirror_env, capture_output=True, timeout=120)
        for env in envs.values():
            subprocess.run([str(KAFKA_DEV), "stop"], env=env, capture_output=True, timeout=120)


if __name__ == "__main__":
    main()
