"""``python -m bench.picture_load``: ``/v1/picture`` under polling clients, with the rendering cache off and on.

The scene: ~2,000 live tracks written through the store API (AIS identities, radar and AIS
sensors, receiving stations, per-sensor fixes — about 0.7 MB of GeoJSON), one of the radars
releasable to Singapore only, so an agency's view is the narrowed one of ``services.access.visibility``.
While clients poll, a writer in the bench's process moves 10 % of the tracks every half second
through the store (so the picture changes as a live one does and every cache entry is rebuilt).

``mfc serve`` runs in its own process (as deployed), once with ``MFC_PICTURE_CACHE_S=0`` (each
request queries the store, filters, serialises and gzips: the code path before the cache) and
once with the default cache of 1 s.  N clients (1, 10, 50; threads, each its own connection,
half of them with an officer's key and half with an agency's) poll ``/v1/picture`` back to back
for ``--seconds`` each, asking for gzip as httpx does by default; the body is read but not
decoded (the server's cost is measured, not the client's).  With the cache on, a second run has
the clients send ``If-None-Match`` with the ETag they last got, as a polling system should.
Reported: requests/s, p50 and p99 latency, and the ratios after/before, all in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
OFFICER_KEY, AGENCY_KEY = "bench-officer-9f3a61c2", "bench-agency-5d7e20b4"
SENSORS = {"sensors": [
    {"id": "AIS-SG1", "kind": "ais", "lat": 1.25, "lon": 103.8, "range_m": 74000, "releasability": ["ASEAN"]},
    {"id": "AIS-VN1", "kind": "ais", "lat": 8.6, "lon": 106.6, "range_m": 74000, "releasability": ["ASEAN"]},
    {"id": "RAD-PH1", "kind": "radar", "lat": 11.05, "lon": 114.28, "range_m": 50000, "releasability": ["ASEAN"]},
    {"id": "RAD-SG1", "kind": "radar", "lat": 1.25, "lon": 103.8, "range_m": 50000, "releasability": ["SG"]},
]}


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scene_line(rng: random.Random, k: int, now_s: float) -> dict:
    from fusion.model import iso_time
    lat, lon = rng.uniform(1.0, 20.0), rng.uniform(103.0, 120.0)
    kind = k % 4  # AIS only, AIS+radar, radar only, AIS+restricted radar
    sensors = [["AIS-SG1"], ["AIS-VN1", "RAD-PH1"], ["RAD-PH1"], ["AIS-SG1", "RAD-SG1"]][kind]
    ais = kind != 2
    t = now_s - rng.uniform(0, 30)
    fixes = {s: [t - 2, lat, lon, 9.5, 45.0] for s in sensors}
    return {"track_id": f"T{k:05d}", "time": iso_time(t), "lat": lat, "lon": lon, "sog_kn": round(rng.uniform(0, 20), 1),
            "cog_deg": round(rng.uniform(0, 360), 1), "sigma_m": 35.0,
            "mmsi": 533000000 + k if ais else None, "name": f"VESSEL {k}" if ais else None,
            "flag": "MY" if ais else None, "ship_type": 70 if ais else None,
            "sources": (["ais"] if ais else []) + (["radar"] if kind else []), "status": "confirmed",
            "sensors": sensors, "fixes": fixes, "reports": 40 if ais else 0, "receivers": 1 if ais else 0,
            "first_seen": iso_time(now_s - 3600), "stations": [s for s in sensors if s.startswith("AIS")],
            "contact": None if ais else "unidentified"}


class Mover(threading.Thread):
    """Moves a tenth of the tracks every ``every_s`` through the store, as fusion would."""

    def __init__(self, db: str, lines: list[dict], every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        from services.store.sql import Store
        self.store, self.lines, self.every_s = Store(db), lines, every_s
        self.halt = threading.Event()
        self.writes = 0

    def run(self) -> None:
        from fusion.model import iso_time
        rng = random.Random(7)
        while not self.halt.wait(self.every_s):
            moved = []
            for line in rng.sample(self.lines, len(self.lines) // 10):
                line.update(time=iso_time(time.time()), lat=line["lat"] + 1e-4, lon=line["lon"] + 1e-4)
                moved.append(line)
            self.store.write_tracks(moved)
            self.writes += 1


def start_server(db: str, sensors: Path, port: int, cache_s: float, log: Path,
                 renderer: str = "process") -> subprocess.Popen:
    env = {**os.environ, "MFC_DB": db, "MFC_PICTURE_CACHE_S": str(cache_s), "PYTHONPATH": str(ROOT),
           "MFC_PICTURE_RENDERER": renderer,
           "MFC_API_KEYS": f"{OFFICER_KEY}:officer:bench-officer,{AGENCY_KEY}:agency:PH-CG"}
    env.pop("MFC_DEMO_KEY", None)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from mfc.cli import main; sys.exit(main())",
                             "serve", "--port", str(port), "--sensors", str(sensors)],
                            cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"mfc serve exited: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("mfc serve did not start")


def poll(url: str, clients: int, seconds: float, conditional: bool, every_s: float = 0.0) -> dict:
    """``clients`` threads polling back to back (``every_s`` 0) or each once every ``every_s``
    seconds from a random phase, as agencies' systems poll; latencies of every answered request.
    Paced, a request's latency counts from when it was due, not from when the client got to send
    it, so a server that falls behind is not flattered by clients that wait for it."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        key = OFFICER_KEY if i % 2 == 0 else AGENCY_KEY
        etag = None
        phase = random.Random(i).uniform(0, every_s)
        with httpx.Client(headers={"Authorization": f"Bearer {key}", "Accept-Encoding": "gzip"},
                          timeout=60) as c:
            start.wait()
            due = time.perf_counter() + phase
            while due < stop_at[0]:
                if every_s > 0:
                    time.sleep(max(0.0, due - time.perf_counter()))
                    t0, due = due, due + every_s
                else:
                    t0 = due = time.perf_counter()
                headers = {"If-None-Match": etag} if conditional and etag else {}
                with c.stream("GET", f"{url}/v1/picture", headers=headers) as r:
                    for _ in r.iter_raw():
                        pass
                latencies[i].append(time.perf_counter() - t0)
                etag = r.headers.get("etag") or etag
                with lock:
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(seconds + 120)
    wall = time.perf_counter() - began
    all_ = sorted(x for lat in latencies for x in lat)
    n = len(all_)
    return {"n": n, "rps": n / wall, "p50": statistics.median(all_) if n else float("nan"),
            "p99": all_[min(n - 1, int(0.99 * n))] if n else float("nan"), "statuses": statuses}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.picture_load", description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=2000)
    ap.add_argument("--clients", default="1,10,50", help="comma-separated numbers of concurrent clients")
    ap.add_argument("--seconds", type=float, default=6.0, help="polling time per configuration")
    ap.add_argument("--every", type=float, default=0.0,
                    help="each client polls once every this many seconds (0: back to back, the saturation test)")
    ap.add_argument("--renderer", default="process", choices=("process", "inline", "both"),
                    help="where the server renders the picture (MFC_PICTURE_RENDERER); both: inline, then process")
    ap.add_argument("--modes", default="before,after,inm",
                    help="which servers to run: before (no cache), after (cache), inm (cache, If-None-Match)")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.clients.split(",")]
    from services.store.sql import Store
    with tempfile.TemporaryDirectory(prefix="mfc-picture-bench-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'mfc.db'}"
        sensors = Path(tmp) / "sensors.json"
        sensors.write_text(json.dumps(SENSORS))
        rng, now = random.Random(1), time.time()
        lines = [scene_line(rng, k, now) for k in range(args.tracks)]
        store = Store(db)
        store.write_tracks(lines)
        store.close()
        results: dict[tuple[str, int], dict] = {}
        wanted = set(args.modes.split(","))
        modes = tuple(m for m, tag in ((("before (no cache)", 0.0, False), "before"), (("after", 1.0, False), "after"),
                                       (("after, If-None-Match", 1.0, True), "inm")) if tag in wanted)
        renderers = ("inline", "process") if args.renderer == "both" else (args.renderer,)
        size = None
        for (mode, cache_s, conditional), renderer in ((m, r) for r in renderers for m in modes):
            if len(renderers) > 1:
                if cache_s == 0 and renderer == "process":
                    continue  # without the cache every request renders in the serving process
                mode = f"{renderer}: {mode}"
            port = _free_port()
            proc = start_server(db, sensors, port, cache_s, Path(tmp) / f"serve-{cache_s}.log", renderer)
            url = f"http://127.0.0.1:{port}"
            mover = Mover(db, lines)
            try:
                if size is None:
                    r = httpx.get(f"{url}/v1/picture", headers={"Authorization": f"Bearer {OFFICER_KEY}",
                                                                "Accept-Encoding": "identity"})
                    gz = httpx.get(f"{url}/v1/picture", headers={"Authorization": f"Bearer {OFFICER_KEY}"})
                    size = (len(r.json()["features"]), len(r.content), int(gz.headers.get("content-length", 0)))
                    print(f"\n/v1/picture: {size[0]} live tracks, {size[1] / 1e6:.2f} MB of GeoJSON "
                          f"({size[2] / 1e6:.2f} MB gzipped); {os.cpu_count()} CPUs, clients and server on them",
                          flush=True)
                for key in (OFFICER_KEY, AGENCY_KEY):  # each viewer's first rendering before the clock starts
                    httpx.get(f"{url}/v1/picture", headers={"Authorization": f"Bearer {key}"}, timeout=120)
                mover.start()
                for n in levels:
                    results[(mode, n)] = res = poll(url, n, args.seconds, conditional, args.every)
                    print(f"  {mode:32s} {n:3d} clients: {res['rps']:7.1f} req/s  p50 {res['p50'] * 1e3:8.1f} ms  "
                          f"p99 {res['p99'] * 1e3:8.1f} ms  {res['statuses']}", flush=True)
            finally:
                mover.halt.set()
                mover.join(5)
                proc.terminate()
                proc.wait(15)
        if len(modes) < 3 or len(renderers) > 1:  # the table compares the three modes of one renderer
            return
        print(f"\n{'clients':>7s} | {'before req/s':>12s} {'p50 ms':>8s} {'p99 ms':>8s} | {'after req/s':>11s} "
              f"{'p50 ms':>8s} {'p99 ms':>8s} | {'req/s ×':>7s} {'p99 ÷':>7s} | {'+INM req/s':>10s} {'p99 ms':>7s}")
        for n in levels:
            b, a, c = results[(modes[0][0], n)], results[(modes[1][0], n)], results[(modes[2][0], n)]
            print(f"{n:7d} | {b['rps']:12.1f} {b['p50'] * 1e3:8.1f} {b['p99'] * 1e3:8.1f} | {a['rps']:11.1f} "
                  f"{a['p50'] * 1e3:8.1f} {a['p99'] * 1e3:8.1f} | {a['rps'] / b['rps']:6.1f}× {b['p99'] / a['p99']:6.1f}× | "
                  f"{c['rps']:10.1f} {c['p99'] * 1e3:7.1f}")


if __name__ == "__main__":
    main()
