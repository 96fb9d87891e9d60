"""Conflation of ``mfc.tracks``: a steady track is republished at most every few seconds, a
material change goes at once, and the picture a reader ends with is the unconflated one."""

from __future__ import annotations

import random
import time

from fusion.model import Sensor
from fusion.pipeline import Fusion
from services.bus import topics
from services.bus.core import EmbeddedBus
from services.delivery.conflation import Conflator
from services.workers.loops import FusionWorker

from .builders import T0, radar, vessel_ais, vessel_plots
from .conftest import wait_for

SENSORS = {"R1": radar(scan_period_s=3.0), "AIS1": Sensor("AIS1", "ais", 10.0, 114.0, range_m=150_000.0)}


def _line(t: float, sog: float = 12.0, cog: float = 90.0, status: str = "confirmed", mmsi: int | None = 548123456,
          sensors=("AIS1",)) -> dict:
    return {"track_id": "T1", "time_s": t, "sog_kn": sog, "cog_deg": cog, "status": status, "mmsi": mmsi,
            "sources": ["ais"], "sensors": list(sensors)}


def test_a_steady_track_goes_out_every_five_seconds_and_a_change_at_once():
    c = Conflator(5.0)
    wall = 0.0
    sent = [t for t in range(30) if c.offer("T1", _line(T0 + t), T0 + t, wall)]
    assert sent == [0, 5, 10, 15, 20, 25]  # every second offered, every fifth published
    assert c.offer("T1", _line(T0 + 31, cog=100.0), T0 + 31, wall)  # a 10° turn: at once
    assert c.offer("T1", _line(T0 + 32, cog=100.0, sog=14.0), T0 + 32, wall)  # 2 kn faster: at once
    assert c.offer("T1", _line(T0 + 33, cog=100.0, sog=14.0, sensors=("AIS1", "R1")), T0 + 33, wall)  # a radar joins
    assert c.offer("T1", _line(T0 + 34, cog=100.0, sog=14.0, sensors=("AIS1", "R1"), status="coasting"),
                   T0 + 34, wall)
    assert c.offer("T1", {**_line(T0 + 20), "late": True}, T0 + 20, wall)  # a history point
    # a slow vessel's course is noise: no line for it
    assert c.offer("T2", _line(T0, sog=0.5, cog=10.0), T0, wall)
    assert not c.offer("T2", _line(T0 + 1, sog=0.6, cog=200.0), T0 + 1, wall)


def test_a_held_line_goes_out_when_the_feed_or_the_clock_moves_on_and_at_a_flush():
    c = Conflator(5.0)
    assert c.offer("T1", _line(T0), T0, 100.0)
    assert not c.offer("T1", _line(T0 + 2), T0 + 2, 100.0)
    assert c.due(101.0) == []
    # other vessels' reports move the feed time on: 5 s after it, with no newer line, it is due
    assert c.offer("T2", _line(T0 + 6, mmsi=1), T0 + 6, 101.0)
    assert c.due(101.0) == []
    assert c.offer("T3", _line(T0 + 7, mmsi=2), T0 + 7, 101.0)
    assert [line["time_s"] for _, line in c.due(101.0)] == [T0 + 2]
    # a quiet feed: the wall clock sends it
    assert not c.offer("T1", _line(T0 + 3), T0 + 3, 200.0)
    assert c.due(204.0) == []
    assert [line["time_s"] for _, line in c.due(205.0)] == [T0 + 3]
    assert not c.offer("T1", _line(T0 + 4), T0 + 4, 300.0)
    assert [line["time_s"] for _, line in c.flush()] == [T0 + 4]
    assert c.flush() == []


def _run(observations, conflate_s: float) -> tuple[int, dict]:
    bus = EmbeddedBus()
    reader = bus.consumer(topics.TRACKS, "reader")
    bus.publish_many(topics.OBS, [(topics.obs_key(o.to_dict()), o.to_dict()) for o in observations])
    worker = FusionWorker(bus, Fusion(SENSORS), None, conflate_s=conflate_s)
    worker.start()
    assert wait_for(lambda: worker.handled == len(observations), timeout_s=120)
    time.sleep(0.3)
    worker.stop()
    worker.join(timeout=30)
    lines = []
    while batch := reader.poll(timeout_s=0.2, max_records=100_000):
        lines += batch
    return len(lines), {r.key: r.value for r in lines}


def test_conflated_the_service_publishes_a_third_of_the_lines_and_ends_with_the_same_picture():
    rng = random.Random(7)
    observations = []
    for k in range(20):  # AIS every 2 s (a class A ship at speed), half also on a 3 s radar, 10 minutes
        lat, lon, sog, cog = 9.8 + 0.02 * k, 113.8 + 0.02 * k, 12.0 + k % 8, (37.0 * k) % 360
        observations += vessel_ais(548_300_000 + k, lat, lon, sog, cog, 300, 2.0, T0 + k % 2)
        if k % 2 == 0:
            observations += vessel_plots(rng, lat, lon, sog, cog, 200, t0=T0 + 0.5)
    observations.sort(key=lambda o: o.time_s)
    every, picture = _run(observations, 0.0)
    conflated, conflated_picture = _run(observations, 5.0)
    assert conflated_picture == picture  # every track's last line is the same
    assert conflated < every / 2, (conflated, every)  # 0.375 when measured


def test_a_track_silent_for_an_hour_is_forgotten():
    c = Conflator(5.0)
    assert c.offer("T1", _line(T0), T0, 0.0)
    assert c.offer("T2", _line(T0 + 3700, mmsi=2), T0 + 3700, 0.0)
    c.due(0.0)
    assert "T1" not in c.sent and "T2" in c.sent  # its memory is let go (no last line came)
    assert c.offer("T1", _line(T0 + 3701), T0 + 3701, 0.0)  # if it comes back, its line goes at once
