"""A fusion service with the wall clock catching up on a backlog (restart, outage, backfill):
it reads the backlog in feed time, then joins the live clock, losing nothing."""

from __future__ import annotations

import random

from fusion.model import Sensor
from fusion.pipeline import Fusion
from ingest.timeparse import parse_iso
from services.bus import topics
from services.bus.core import EmbeddedBus
from services.store.sql import Store
from services.workers.loops import FusionWorker, StoreWorker

from .builders import T0, radar, vessel_ais, vessel_plots
from .conftest import wait_for

HOUR_S = 3600.0
SENSORS = {"R1": radar(scan_period_s=6.0), "AIS1": Sensor("AIS1", "ais", 10.0, 114.0, range_m=150_000.0)}


class FakeClock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def recorded_hour(vessels: int, seed: int = 3) -> tuple[list, dict[int, list]]:
    """An hour of AIS (every 10 s) and radar plots (every 6 s) of vessels on steady courses."""
    rng = random.Random(seed)
    out, by_mmsi = [], {}
    for k in range(vessels):
        lat, lon, sog, cog = 9.8 + 0.01 * k, 113.8 + 0.012 * k, 6.0 + k % 7, (53.0 * k) % 360
        reports = vessel_ais(548_300_000 + k, lat, lon, sog, cog, int(HOUR_S / 10) + 1, 10.0, T0 + k % 10)
        by_mmsi[reports[0].mmsi] = reports
        out += reports
        if k % 4 == 0:  # a quarter also seen by the radar
            out += vessel_plots(rng, lat, lon, sog, cog, int(HOUR_S / 6), t0=T0 + 1.5)
    return sorted(out, key=lambda o: o.time_s), by_mmsi


def test_an_hour_published_at_once_is_fused_in_feed_time_then_the_live_clock_takes_over(tmp_path):
    observations, by_mmsi = recorded_hour(60)
    clock = FakeClock(T0 + HOUR_S + 1800)  # the wall clock: half an hour after the recording ends
    bus = EmbeddedBus()
    store = Store(f"sqlite:///{tmp_path / 'mfc.db'}")
    fusion_worker = FusionWorker(bus, Fusion(SENSORS), clock)
    store_worker = StoreWorker(bus, store, clock=clock, keep_history_s=10 * HOUR_S)
    bus.publish_many(topics.OBS, [(topics.obs_key(o.to_dict()), o.to_dict()) for o in observations])
    fusion_worker.start()
    store_worker.start()
    try:
        tracker = fusion_worker.fusion.tracker
        # it joins the live clock once it has read everything ...
        assert wait_for(lambda: fusion_worker.handled == len(observations) and tracker.now_s == clock.now_s,
                        timeout_s=120)
        assert not fusion_worker.catching_up
        # ... and read all of it in feed time: nothing was too late for the tracker
        assert tracker.stats["too_late"] == 0
        assert wait_for(lambda: _stored_all(store_worker, bus), timeout_s=60)
        # every vessel was tracked, and the history holds its hour
        rows = store.tracks(live_only=False, limit=100_000)
        tracked = {r["mmsi"] for r in rows if r["mmsi"] is not None}
        assert len(tracked & set(by_mmsi)) >= 0.98 * len(by_mmsi)
        for mmsi in sorted(tracked & set(by_mmsi))[:10]:
            (track_id,) = [r["track_id"] for r in rows if r["mmsi"] == mmsi]
            times = [parse_iso(p["time"]) for p in store.history(track_id, limit=100_000)]
            recorded = [t for t in times if t <= T0 + HOUR_S + 10]
            assert len(recorded) >= 300 and recorded[0] - T0 < 60 and recorded[-1] > T0 + HOUR_S - 60
        # live data after the catch-up is fused on the live clock
        clock.now_s += 5
        live = vessel_ais(548_399_999, 10.4, 114.4, 10.0, 90.0, 3, 10.0, clock.now_s - 20)
        bus.publish_many(topics.OBS, [(topics.obs_key(o.to_dict()), o.to_dict()) for o in live])
        assert wait_for(lambda: 548_399_999 in tracker.by_mmsi, timeout_s=20)
        assert tracker.stats["too_late"] == 0
    finally:
        for w in (fusion_worker, store_worker):
            w.stop()
            w.join(timeout=10)


def _stored_all(store_worker: StoreWorker, bus: EmbeddedBus) -> bool:
    """Every track line and alert published so far is written (``handled`` counts after the write)."""
    published = bus.end_offset(topics.TRACKS) + bus.end_offset(topics.ALERTS)
    return published > 0 and store_worker.handled == published
