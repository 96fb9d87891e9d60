"""``python -m bench.federation_link``: latency and throughput of a federation link on real parts.

Two nodes, A and B, each ``mfc api`` in its own process (exporter, importer, store writer,
router) on its own Apache Kafka broker started by ``scripts/kafka-dev``, linked by MirrorMaker 2
started by ``scripts/federation-mirror`` (A → B) over mutual TLS as the product deploys it (each
node's CA from ``mfc federation certs``; A's broker keeps a TLS listener for B with an
authorizer, B's grant made by A's agreement; ``--plaintext``: a PLAINTEXT link, for comparison):
two brokers, MirrorMaker, two nodes and the bench share this machine's two cores.  A shares tracks of an ``ASEAN`` radar with B; B's
agreement holds A's public key (both set through the API, as admins do).

A's fusion is left out: the bench publishes track lines on A's ``mfc.tracks`` as fusion does,
each carrying the wall time it was handed to the producer as its ``time`` (to the millisecond)
and its number as ``reports`` (the receiver keeps only a track line's known fields); a reader
of B's ``mfc.tracks`` (what B's store and live stream read) notes when each arrives, verified
and renamed ``A:<id>``.

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
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from fusion.model import iso_time
from ingest.timeparse import parse_iso
from services.bus import topics
from services.bus.kafka_bus import KafkaBus

from .soak import wait_healthy

ROOT = Path(__file__).resolve().parents[1]
KAFKA_DEV, MIRROR = ROOT / "scripts" / "kafka-dev", ROOT / "scripts" / "federation-mirror"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], env: dict) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


ADMIN, INTEGRATOR = "bench-admin-key-00001", "bench-integrator-key-01"


def _node(work: Path, node: str, bootstrap: str) -> tuple[subprocess.Popen, str]:
    """``mfc api`` of ``node`` on ``bootstrap``, answering on a free loopback port."""
    (work / node).mkdir()
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFC_")}
    env.update(MFC_BUS=f"kafka://{bootstrap}", MFC_NODE_ID=node, MFC_DB=f"sqlite:///{work / node / 'mfc.db'}",
               MFC_HOST="127.0.0.1", MFC_PORT=str(port), PYTHONUNBUFFERED="1",
               MFC_API_KEYS=f"{ADMIN}:admin:bench,{INTEGRATOR}:integrator:bench")
    proc = subprocess.Popen([sys.executable, "-m", "mfc", "api"], cwd=ROOT, env=env,
                            stdout=open(work / node / "api.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not wait_healthy(proc, url, 120):
        proc.kill()
        raise SystemExit(f"mfc api of {node} did not answer (log: {work / node / 'api.log'})")
    return proc, url


def _call(method: str, url: str, key: str, **kw) -> dict:
    r = httpx.request(method, url, headers={"Authorization": f"Bearer {key}"}, timeout=30, **kw)
    if r.status_code >= 300:
        raise SystemExit(f"{method} {url}: {r.status_code} {r.text}")
    return r.json()


def _line(i: int, handed_s: float) -> dict:
    return {"track_id": f"T{i % 500:04d}", "time": iso_time(handed_s), "lat": 11.0 + (i % 500) * 1e-3,
            "lon": 115.0, "sog_kn": 10.0, "cog_deg": 90.0, "sigma_m": 30.0, "status": "confirmed",
            "sources": ["radar"], "sensors": ["RAD-1"], "reports": i}


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
                i = r.value.get("reports")
                if isinstance(i, int) and r.value.get("origin") and i not in self.at:
                    now = time.time()
                    self.at[i], self.latency[i] = now, now - parse_iso(r.value["time"])

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
    ap.add_argument("--plaintext", action="store_true", help="link the brokers without TLS (for comparison)")
    ap.add_argument("--push", action="store_true",
                    help="no MirrorMaker: A pushes B's share to B's POST /v1/federation/inbound (HTTP on loopback)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mfc-bench-federation-"))
    envs, boots = {}, {}
    procs: list[subprocess.Popen] = []
    mirror_env = dict(os.environ, MFC_MIRROR_DATA=str(work / "mirror"))
    try:
        source = None
        if not args.plaintext and not args.push:
            for node in ("A", "B"):
                _run([sys.executable, "-m", "mfc", "federation", "certs", node, "--out", str(work / f"certs-{node}")],
                     dict(os.environ))
            (work / "certs-A" / "partners" / "B.pem").write_bytes((work / "certs-B" / "ca.pem").read_bytes())
            (work / "certs-B" / "partners" / "A.pem").write_bytes((work / "certs-A" / "ca.pem").read_bytes())
            mirror_env["MFC_MIRROR_TLS_DIR"] = str(work / "certs-B")
        for node in ("A", "B"):
            envs[node] = dict(os.environ, MFC_KAFKA_PORT=str(_port()), MFC_KAFKA_CONTROLLER_PORT=str(_port()),
                              MFC_KAFKA_DATA=str(work / f"kafka-{node}"))
            if node == "A" and not args.plaintext and not args.push:
                fed = _port()
                envs[node].update(MFC_KAFKA_FEDERATION=f"B={fed}", MFC_KAFKA_TLS_DIR=str(work / "certs-A"))
                source = f"127.0.0.1:{fed}"
            boots[node] = _run([str(KAFKA_DEV), "start", "--ttl", "3600"], envs[node])
        if not args.push:
            _run([str(MIRROR), "start", f"A={source or boots['A']}", f"B={boots['B']}", "--ttl", "3600"], mirror_env)
        print("link: " + ("HTTP push to B's /v1/federation/inbound" if args.push else
                          "PLAINTEXT" if args.plaintext else "mutual TLS, A granting B its share only"))
        (pa, a), (pb, b) = _node(work, "A", boots["A"]), _node(work, "B", boots["B"])
        procs = [pa, pb]
        _call("POST", f"{a}/v1/sensors", INTEGRATOR, json={"id": "RAD-1", "kind": "radar", "lat": 11.0, "lon": 115.0,
                                                           "range_m": 40000, "accuracy_m": 30,
                                                           "releasability": ["ASEAN"]})
        _call("POST", f"{a}/v1/federation/agreements", ADMIN,
              json={"partner": "B", "releasability": ["ASEAN"], "kinds": ["tracks"],
                    **({"push_url": f"{b}/v1/federation/inbound"} if args.push else {})})
        _call("POST", f"{b}/v1/federation/agreements", ADMIN,
              json={"partner": "A", "releasability": ["ASEAN"], "kinds": ["tracks"],
                    "public_key": _call("GET", f"{a}/v1/federation", ADMIN)["public_key"]})
        producer = KafkaBus(boots["A"])
        arrivals = Arrivals(KafkaBus(boots["B"]).consumer(topics.TRACKS, f"bench-{time.time_ns()}"))
        arrivals.start()
        # warm-up: the link carries a record end to end (topics made, groups joined, and A's
        # exporter knows RAD-1: a line of a sensor it does not know yet is withheld), so a
        # warm-up record goes every 2 s until one arrives
        started = time.time()
        while -1 not in arrivals.at and time.time() - started < 120:
            producer.publish(topics.TRACKS, "T-1", _line(-1, time.time()))
            producer.flush()
            arrivals.wait(range(-1, 0), 2)
        if -1 not in arrivals.at:
            raise SystemExit("the link never carried a warm-up record")
        print(f"the link carried a first record {arrivals.at[-1] - started:.1f} s after the first try")

        n = args.rate * args.seconds
        t0 = time.time()
        for i in range(n):
            due = t0 + i / args.rate
            while (now := time.time()) < due:
                time.sleep(min(0.005, due - now))
            producer.publish(topics.TRACKS, f"T{i % 500:04d}", _line(i, time.time()))
            producer.flush()  # each update goes when it is made, as fusion's lines do
        arrivals.wait(range(n), 120)
        lat = sorted(arrivals.latency[i] for i in range(n) if i in arrivals.latency)
        print(f"latency at {args.rate} updates/s for {args.seconds} s: {len(lat)}/{n} arrived; "
              f"p50 {statistics.median(lat) * 1000:.0f} ms, p99 {lat[int(0.99 * (len(lat) - 1))] * 1000:.0f} ms, "
              f"max {lat[-1] * 1000:.0f} ms")

        burst = range(1_000_000, 1_000_000 + args.burst)
        t0 = time.time()
        for i in burst:
            producer.publish(topics.TRACKS, f"T{i % 500:04d}", _line(i, time.time()))
        producer.flush()
        handed = time.time() - t0

        def stages() -> str:
            out = _call("GET", f"{a}/v1/federation", ADMIN)["links"]
            inn = _call("GET", f"{b}/v1/federation", ADMIN)["links"]
            return (f"shared by A {sum(x['shared'] for x in out):,}, "
                    f"received by B {sum(x['shared'] for x in inn if x['direction'] == 'in'):,}")
        arrivals.wait(burst, 600, stages)
        got = [arrivals.at[i] for i in burst if i in arrivals.at]
        elapsed = max(got) - t0
        print(f"burst of {args.burst:,} (handed to A's producer in {handed:.1f} s): {len(got):,} arrived; "
              f"{len(got) / elapsed:,.0f} updates/s end to end over {elapsed:.1f} s")
        arrivals.stopping.set()
        arrivals.join(5)
        arrivals.reader.close()
        producer.close()
        inbound = [x for x in _call("GET", f"{b}/v1/federation", ADMIN)["links"] if x["direction"] == "in"]
        print(f"B's inbound link: {inbound}")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run([str(MIRROR), "stop", "A", "B"], env=mirror_env, capture_output=True, timeout=120)
        for env in envs.values():
            subprocess.run([str(KAFKA_DEV), "stop"], env=env, capture_output=True, timeout=120)


if __name__ == "__main__":
    main()
