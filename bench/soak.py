"""Soak: a real ``mfc serve`` fed at a steady rate through the HTTP ingest; its memory over time.

    .venv/bin/python -m bench.soak --rate 2000 --minutes 30 [--vessels 5000] [--csv soak.csv]

Starts ``mfc serve`` on 127.0.0.1 (a free port, SQLite in a temporary directory, the sample
sensors), then posts AIS position reports of ``--vessels`` vessels steaming through the
sample scenario's receiver coverage, ``--rate`` observations per second in four requests a
second, each report stamped with the time of sending (NMEA 4.10 tag block).  Every 10 s it
samples the server's resident memory (``/proc/<pid>/statm``) and the fusion worker's record
count (``/metrics``), writing one CSV row; at the end it prints the memory after the warm-up
and its growth since.  Not a CI test: it takes as long as you ask.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pyais.encode import encode_dict

from fusion.geodesy import KN_TO_MS, destination
from ingest.nmea import nmea_checksum

ROOT = Path(__file__).resolve().parent.parent
SENSORS = ROOT / "sample_feeds" / "scs" / "sensors.json"
KEY = "soak-admin-key-0001"
SENSOR_ID = "PH-PAG-A1"  # a receiver at 11.05 N 114.28 E, 74 km
SAMPLE_EVERY_S = 10.0


class Fleet:
    """Vessels on steady courses within ~0.5° of the receiver, reported in turn."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.lat = [11.05 + rng.uniform(-0.45, 0.45) for _ in range(n)]
        self.lon = [114.28 + rng.uniform(-0.45, 0.45) for _ in range(n)]
        self.sog = [rng.uniform(2.0, 18.0) for _ in range(n)]
        self.cog = [rng.uniform(0.0, 360.0) for _ in range(n)]
        self.last_s: list[float | None] = [None] * n
        self.next = 0

    def reports(self, count: int, now_s: float) -> list[str]:
        out = []
        for _ in range(count):
            k, self.next = self.next, (self.next + 1) % len(self.lat)
            self._move(k, now_s)
            sentence = encode_dict({"type": 1, "mmsi": 548_000_000 + k, "lat": round(self.lat[k], 5),
                                    "lon": round(self.lon[k], 5), "speed": round(self.sog[k], 1),
                                    "course": round(self.cog[k], 1), "heading": int(self.cog[k])},
                                   talker_id="AI")[0]
            out.append(_tagged(sentence, now_s))
        return out

    def _move(self, k: int, now_s: float) -> None:
        last, self.last_s[k] = self.last_s[k], now_s
        d_m = 0.0 if last is None else self.sog[k] * KN_TO_MS * (now_s - last)
        self.lat[k], self.lon[k] = destination(self.lat[k], self.lon[k], self.cog[k], d_m)
        if abs(self.lat[k] - 11.05) > 0.5 or abs(self.lon[k] - 114.28) > 0.5:
            self.cog[k] = (self.cog[k] + 180.0) % 360.0  # turn back into coverage


def _tagged(sentence: str, now_s: float) -> str:
    tag = f"s:{SENSOR_ID},c:{int(now_s * 1000)}"
    return f"\\{tag}*{nmea_checksum(tag)}\\{sentence}"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def fusion_records(client: httpx.Client) -> int | None:
    try:
        text = client.get("/metrics").text
    except httpx.HTTPError:
        return None
    match = re.search(r'mfc_worker_records_total\{worker="fusion[^"]*"\}\s+(\S+)', text)
    return int(float(match[1])) if match else None  # Prometheus may write 1.01e+06


def start_server(workdir: Path, code: Path = ROOT) -> tuple[subprocess.Popen, str]:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MFC_DB": f"sqlite:///{workdir / 'soak.db'}", "MFC_API_KEYS": f"{KEY}:admin:soak",
           "MFC_HOST": "127.0.0.1", "MFC_PORT": str(port), "PYTHONPATH": str(code)}
    log = open(workdir / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mfc", "serve", "--sensors", str(SENSORS)],
                            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not wait_healthy(proc, url, 60):
        proc.kill()
        raise SystemExit(f"soak: mfc serve did not start; see {workdir / 'server.log'}")
    return proc, url


def wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float) -> bool:
    """Wait until the server at ``url`` answers ``/healthz`` (False: it exited or timed out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False


def soak(rate: int, minutes: float, vessels: int, csv_path: Path, warmup_s: float, code: Path = ROOT) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="mfc-soak-"))
    proc, url = start_server(workdir, code)
    fleet = Fleet(vessels)
    headers = {"Authorization": f"Bearer {KEY}"}
    rows: list[dict] = []
    latencies: list[float] = []
    totals = {"sent": 0, "accepted": 0, "rejected": 0, "errors": 0}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client, open(csv_path, "w", newline="") as fh:
            out = csv.DictWriter(fh, ["elapsed_s", "rss_mb", "sent", "accepted", "rejected", "errors",
                                      "fusion_records", "post_p50_ms", "post_max_ms"])
            out.writeheader()
            t0 = time.monotonic()
            next_sample, tick_s, per_tick = t0, 0.25, max(1, rate // 4)
            tick = 0
            while (now := time.monotonic()) - t0 < minutes * 60:
                if now >= next_sample:
                    row = _sample(proc.pid, client, now - t0, totals, latencies)
                    rows.append(row)
                    out.writerow(row)
                    fh.flush()
                    print(f"soak: {row['elapsed_s']:6.0f} s  RSS {row['rss_mb']:7.1f} MB  sent {row['sent']:>9,}  "
                          f"fusion {row['fusion_records']}  post p50 {row['post_p50_ms']} ms", flush=True)
                    latencies.clear()
                    next_sample += SAMPLE_EVERY_S
                lines = fleet.reports(per_tick, time.time())
                sent_at = time.perf_counter()
                r = client.post(f"/v1/ingest/ais?sensor_id={SENSOR_ID}", content="\n".join(lines))
                latencies.append((time.perf_counter() - sent_at) * 1000)
                totals["sent"] += len(lines)
                if r.status_code == 202:
                    totals["accepted"] += r.json()["accepted"]
                    totals["rejected"] += r.json()["rejected"]
                else:
                    totals["errors"] += 1
                tick += 1
                delay = t0 + tick * tick_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            rows.append(_sample(proc.pid, client, time.monotonic() - t0, totals, latencies))
            out.writerow(rows[-1])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    _report(rows, warmup_s, rate, csv_path)
    return 0


def _sample(pid: int, client: httpx.Client, elapsed_s: float, totals: dict, latencies: list[float]) -> dict:
    return {"elapsed_s": round(elapsed_s, 1), "rss_mb": round(rss_mb(pid), 1), **totals,
            "fusion_records": fusion_records(client),
            "post_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "post_max_ms": round(max(latencies), 1) if latencies else None}


def _report(rows: list[dict], warmup_s: float, rate: int, csv_path: Path) -> None:
    after = [r for r in rows if r["elapsed_s"] >= warmup_s]
    if len(after) < 2:
        print("soak: too short to tell growth after the warm-up")
        return
    first, last = after[0], after[-1]
    span_min = (last["elapsed_s"] - first["elapsed_s"]) / 60
    achieved = last["sent"] / max(last["elapsed_s"], 1e-9)
    print(f"soak: target {rate} obs/s, achieved {achieved:,.0f} obs/s; {last['accepted']:,} accepted, "
          f"{last['rejected']:,} rejected, {last['errors']} failed requests; fusion handled {last['fusion_records']}")
    print(f"soak: RSS after warm-up ({first['elapsed_s']:.0f} s) {first['rss_mb']:.1f} MB, at the end "
          f"{last['rss_mb']:.1f} MB: growth {last['rss_mb'] - first['rss_mb']:+.1f} MB over {span_min:.1f} min "
          f"({(last['rss_mb'] - first['rss_mb']) / max(span_min, 1e-9):+.2f} MB/min); "
          f"peak {max(r['rss_mb'] for r in rows):.1f} MB; CSV {csv_path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=int, default=2000, help="observations per second (default 2000)")
    p.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    p.add_argument("--vessels", type=int, default=5000, help="vessels reporting in turn (default 5000)")
    p.add_argument("--warmup-s", type=float, default=60.0, help="growth is measured after this (default 60)")
    p.add_argument("--csv", default="soak.csv", help="where to write the samples (default soak.csv)")
    p.add_argument("--code", default=str(ROOT), help="checkout whose mfc serve runs (default this one: "
                   "compare branches)")
    args = p.parse_args(argv)
    return soak(args.rate, args.minutes, args.vessels, Path(args.csv), args.warmup_s, Path(args.code))


if __name__ == "__main__":
    sys.exit(main())
