"""Fuzzing the HTTP ingest: 100,000 random and mutated NMEA and radar lines through the real app.

Mutations of real lines from ``sample_feeds/scs`` (bit flips, truncation, broken checksums, huge
numbers, NaN and infinities, unicode, empty and overlong lines, random text) are posted in
several requests over the embedded bus, with fusion running on what is accepted.  No request
may fail with a 5xx; every line gets exactly one outcome (accepted, rejected or ignored); the
replies stay bounded; the process's memory does not grow without bound.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.sensors import load_sensors
from services.config.limits import Limits
from services.config.settings import ApiKey, Settings
from services.workers.runtime import Runtime

from .conftest import ADMIN_KEY, OFFICER_KEY, wait_for

SCS = Path(__file__).resolve().parent.parent / "sample_feeds" / "scs"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
LINES = 100_000
PER_REQUEST = 5_000
WEIRD = ["\x00", "\u00e9", "\u2028", "\u0085", "\u202e", "\U0001f6a2", "\ufeff", "\x1c", "\x7f", "\ud7ff",
         "\u0661", "\r"]
HUGE = ["1e308", "-1e308", "1e999", "NaN", "Infinity", "-Infinity", "99999999999999999999999999",
        "-0", "4.9e-324", "null", "true", '"12"', "[]", "{}"]


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (pages × page size)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def mutate(rng: random.Random, line: str) -> str:
    kind = rng.randrange(12)
    if kind == 0 or not line:
        return line  # a real line, unchanged
    if kind == 1:  # flip one bit of one character (staying in ASCII)
        i = rng.randrange(len(line))
        return line[:i] + chr(ord(line[i]) ^ (1 << rng.randrange(7)) if ord(line[i]) < 128 else 65) + line[i + 1:]
    if kind == 2:
        return line[:rng.randrange(len(line))]
    if kind == 3:  # break the checksum, or the JSON's last brace
        return line[:-2] + f"{rng.randrange(256):02X}" if "*" in line else line[:-1] + "]"
    if kind == 4:  # a number replaced by something huge or not a number
        tokens = line.replace(",", ", ").split(" ")
        i = rng.randrange(len(tokens))
        return " ".join(tokens[:i] + [rng.choice(HUGE) + ","] + tokens[i + 1:]).replace(", ", ",")
    if kind == 5:  # unicode, separators and control characters inserted
        i = rng.randrange(len(line) + 1)
        return line[:i] + "".join(rng.choice(WEIRD) for _ in range(rng.randrange(1, 4))) + line[i:]
    if kind == 6:
        return ""
    if kind == 7:  # overlong: just over the cap, or far over it
        size = rng.choices([4097, 4500, 6000, 30_000], weights=[8, 6, 5, 1])[0]
        return (line * (size // len(line) + 1))[:size]
    if kind == 8:  # random printable text
        return "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(1, 120)))
    if kind == 9:  # fields duplicated or dropped
        parts = line.split(",")
        i = rng.randrange(len(parts))
        return ",".join(parts[:i] + parts[i:i + 1] * rng.randrange(0, 3) + parts[i + 1:])
    if kind == 10:  # a tag block or timestamp prefix gone wrong
        return rng.choice(["\\c:99999999999999*00\\", "\\g:1-2-x\\", "2026-13-45T99:00:00Z ", "\\s:",
                           "1e20 ", "\\c:NaN\\"]) + line
    return line.replace("PH-", rng.choice(["XX-", "", "PH-" * 50]))  # unknown sensors


def bodies(rng: random.Random) -> list[tuple[str, str]]:
    """(endpoint, body) pairs, half AIS and half radar, PER_REQUEST lines each."""
    ais = (SCS / "ais.nmea").read_text().splitlines()[:20_000]
    radar = (SCS / "radar.jsonl").read_text().splitlines()[:20_000]
    out = []
    for k in range(LINES // PER_REQUEST):
        pool, endpoint = (ais, "/v1/ingest/ais?sensor_id=PH-PAG-A1") if k % 2 == 0 else (radar, "/v1/ingest/radar")
        start = rng.randrange(len(pool) - PER_REQUEST)
        lines = [mutate(rng, line) for line in pool[start:start + PER_REQUEST]]
        out.append((endpoint, "\n".join(lines)))
    return out


@pytest.mark.slow
def test_fuzzed_lines_each_get_one_outcome_no_5xx_bounded_replies_and_memory(tmp_path):
    rng = random.Random(20261204)
    requests = bodies(rng)
    limits = Limits()
    settings = Settings(db=f"sqlite:///{tmp_path / 'mfc.db'}", demo_key=OFFICER_KEY,
                        api_keys=(ApiKey(ADMIN_KEY, "admin", "test-admin"),))
    runtime = Runtime(settings, load_sensors(SCS / "sensors.json"), limits=limits)
    runtime.start()
    totals = {"sent": 0, "accepted": 0, "outcomes": 0}
    try:
        with TestClient(create_app(runtime)) as client:
            def post(endpoint: str, body: str) -> None:
                r = client.post(endpoint, content=body.encode("utf-8"), headers=ADMIN)
                assert r.status_code == 202, (r.status_code, r.text[:300])
                v = r.json()
                sent = len(body.splitlines())  # Python's (and the service's) line breaks
                assert v["accepted"] + v["rejected"] - v["rejected_earlier"] + v["ignored"] == sent + v["extra_sentences"], v
                assert len(v["rejects"]) <= limits.ingest_max_echoed_rejects
                assert v["rejects_truncated"] == (v["rejected"] > len(v["rejects"]))
                assert len(r.content) <= limits.ingest_max_echoed_rejects * (limits.ingest_max_line_bytes + 1024)
                totals["sent"] += sent
                totals["accepted"] += v["accepted"]
                totals["outcomes"] += (v["accepted"] + v["rejected"] - v["rejected_earlier"] + v["ignored"]
                                       - v["extra_sentences"])

            for endpoint, body in requests[:4]:  # warm-up: caches, decoders, tables
                post(endpoint, body)
            assert wait_for(lambda: runtime.fusion_worker.handled >= totals["accepted"], timeout_s=60)
            before = rss_bytes()
            for endpoint, body in requests[4:]:
                post(endpoint, body)
            assert wait_for(lambda: runtime.fusion_worker.handled >= totals["accepted"], timeout_s=60)
            after = rss_bytes()
    finally:
        runtime.stop()
    assert totals["outcomes"] == totals["sent"] >= LINES
    assert 0 < totals["accepted"] < totals["sent"]
    growth_mb = (after - before) / 1e6
    print(f"fuzz: {totals['sent']} lines, {totals['accepted']} accepted, RSS growth {growth_mb:.1f} MB")
    assert growth_mb < 60, f"RSS grew {growth_mb:.0f} MB over 80,000 fuzzed lines"
