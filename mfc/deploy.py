"""The separate services of a Kafka deployment: ``mfc ingest``, ``mfc fusion``, ``mfc api``.

Each is a long-running process configured by environment (``services.config.settings``),
stopping gracefully on SIGTERM or SIGINT: loops finish their batch, the fusion
service saves its checkpoint and commits, producers flush.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from fusion.model import Sensor
from fusion.pipeline import Fusion

from services.bus.core import Bus, make_bus
from services.state.checkpoint import Checkpoint, CheckpointError
from services.geo.geography import build_geography
from services.workers.ingest_service import MAX_FUTURE_S, IngestService
from services.config.limits import Limits, LimitsError
from services.access.keyring import KeyRing, KeyWatcher
from services.access.keys import KeyStore
from services.config.settings import Settings
from services.workers.loops import FusionWorker, Worker

log = logging.getLogger("mfc.deploy")


def load_sensor_file(settings: Settings) -> dict[str, Sensor]:
    from ingest.sensors import load_sensors
    return load_sensors(Path(settings.sensors_file)) if settings.sensors_file else {}


def connect(settings: Settings, max_wait_s: float = 30.0) -> Bus:
    """The bus, with the contract topics made.  A Kafka broker that cannot be reached is waited
    for (retried with backoff, each failure logged): a service started during a broker outage
    comes up when the broker does, instead of dying."""
    wait = 1.0
    while True:
        bus = None
        try:
            bus = make_bus(settings.bus, settings.bus_prefix)
            if settings.bus.startswith("kafka://"):
                from services.bus.kafka_bus import ensure_topics
                ensure_topics(bus)
            return bus
        except Exception as exc:  # noqa: BLE001 - only the broker's own errors are waited out
            if not type(exc).__module__.startswith("kafka"):
                raise
            if bus is not None:
                try:
                    bus.close()
                except Exception:  # noqa: BLE001 - closing a client that never connected
                    pass
            log.warning("the broker at %s cannot be reached (%s); trying again in %.0f s", settings.bus, exc, wait)
            time.sleep(wait)
            wait = min(wait * 2.0, max_wait_s)


def run_until_signalled(workers: list[Worker], bus: Bus, on_stop=None) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for w in workers:
        w.start()
    while not stop.is_set() and all(w.is_alive() for w in workers):
        stop.wait(0.5)
    died = [w.name for w in workers if not w.is_alive()]
    for w in workers:
        w.stop()
    for w in workers:
        w.join(timeout=30)
    if on_stop:
        on_stop()
    try:
        bus.flush()
    finally:
        bus.close()
    if died and not stop.is_set():
        # A loop died (e.g. the bus was unreachable for longer than its timeouts): exit non-zero so
        # that a supervisor (compose ``restart:``, systemd) starts the service again.
        log.error("worker %s stopped unexpectedly; exiting with status 1", ", ".join(died))
        return 1
    return 0


class FollowSensors(Worker):
    """Sensors registered through the API (``mfc.sensors``) reach this process."""

    def __init__(self, bus: Bus, sensors: dict[str, Sensor], on_change=None) -> None:
        super().__init__("sensor-follower")
        from services.store.sensor_registry import SensorFollower
        self.follower = SensorFollower(bus, sensors, on_change)

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.handled += self.follower.poll(timeout_s=0.5)
        finally:
            self.follower.close()


class FollowZones(Worker):
    """User zones and zone policies set through the API (``mfc.zones``) reach the fusion engine."""

    def __init__(self, follower, worker: FusionWorker) -> None:
        super().__init__("zone-follower")
        self.follower, self.worker = follower, worker

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                changed = self.follower.poll(timeout_s=0.5)
                if changed:
                    state = self.follower.changes(changed)
                    self.worker.control(lambda f: self.follower.apply(f, state), wait_s=0.0)
                    self.handled += len(changed)
        finally:
            self.follower.close()


def fusion_following_zones(bus: Bus, sensors: dict[str, Sensor], within_s: float = 30.0):
    """The fusion engine ``mfc fusion`` starts from: the geography with the user zones on
    ``mfc.zones`` (read to its end first), their policies set; and the follower that goes on."""
    from mfc.zone_follower import ZoneFollower
    zones = ZoneFollower(bus)
    if not zones.catch_up(within_s=within_s):
        log.warning("mfc.zones could not be read to its end: user zones and zone policies are applied as they arrive")
    return fresh_fusion(sensors, zones), zones


def fresh_fusion(sensors: dict[str, Sensor], zones) -> Fusion:  # type: ignore[no-untyped-def]
    """An empty engine on the geography and zones known now, for a standby that takes the
    group's state over from the shared checkpoint (the zone changes it followed meanwhile are
    applied after, as queued controls)."""
    fusion = Fusion(sensors, build_geography(sensors, zones.user_zones()))
    fusion.rules.cfg.zone_policy_overrides.update({n: dict(p) for n, p in list(zones.policies.items())})
    return fusion


def cmd_fusion(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    sensors = load_sensor_file(settings)
    bus = connect(settings)
    fusion, zones = fusion_following_zones(bus, sensors)
    clock = time.time if settings.fusion_clock == "wall" else None
    try:
        worker = FusionWorker(bus, fusion, clock, checkpoint=Checkpoint(Path(settings.checkpoint)),
                              checkpoint_every_s=args.checkpoint_every, fresh=lambda: fresh_fusion(sensors, zones),
                              conflate_s=settings.tracks_conflate_s)
    except CheckpointError as exc:  # never started from a state it cannot trust
        zones.close()
        bus.close()
        print(f"mfc fusion: {exc}", file=sys.stderr)
        return 2
    print(f"mfc fusion: reading mfc.obs on {settings.bus}, state in {settings.checkpoint}", flush=True)

    def learn(sensor_id: str, sensor: Sensor | None) -> None:
        if sensor is None:
            return  # tracks already made keep their sensor; new data from it is refused at ingest

        def apply(f: Fusion) -> None:
            f.tracker.sensors[sensor_id] = sensor
            f.rules.ctx.geo.add_sensor(sensor.id, sensor.kind, sensor.lat, sensor.lon, sensor.range_m,
                                       sensor.releasability,
                                       sensor.revisit_s if sensor.platform == "satellite" else None,
                                       platform=sensor.platform)

        worker.control(apply, wait_s=0.0)

    # the restored state keeps the policies it was saved with: the followed ones win
    followed = zones.changes(set(zones.zones) | set(zones.policies))
    worker.control(lambda f: zones.apply(f, followed), wait_s=0.0)
    return run_until_signalled([worker, FollowSensors(bus, sensors, learn), FollowZones(zones, worker)], bus)


def cmd_ingest(args: argparse.Namespace) -> int:
    from services.workers.raw_ingest import RawIngestWorker, asterix_listener, nmea_listeners, parse_asterix_sources
    if bool(args.asterix_udp) != bool(args.asterix_source):
        print("mfc ingest: --asterix-udp and --asterix-source go together (a port, and each radar's "
              "source ADDRESS=SENSOR_ID)", file=sys.stderr)
        return 2
    try:
        asterix_sources = parse_asterix_sources(args.asterix_source or [])
    except LimitsError as exc:
        print(f"mfc ingest: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    sensors = load_sensor_file(settings)
    bus = connect(settings)
    limits = Limits.from_env()
    ingest = IngestService(bus, sensors, time.time, max_lines=limits.ingest_max_lines,
                           max_line_bytes=limits.ingest_max_line_bytes,
                           max_echoed_rejects=limits.ingest_max_echoed_rejects,
                           max_future_s=None if settings.fusion_clock == "feed" else MAX_FUTURE_S)
    servers = nmea_listeners(ingest, args.sensor_id, settings.host, args.tcp, args.udp, limits) \
        if args.sensor_id else []
    if args.asterix_udp:
        for address, sensor_id in asterix_sources.items():
            if sensor_id not in sensors or sensors[sensor_id].kind != "radar":
                print(f"mfc ingest: ASTERIX source {address} names {sensor_id!r}, not a registered radar: its "
                      f"datagrams are rejected until it is registered", file=sys.stderr, flush=True)
        servers.append(asterix_listener(ingest, settings.host, args.asterix_udp, asterix_sources, limits))
    print(f"mfc ingest: mfc.raw.ais, mfc.raw.radar → mfc.obs on {settings.bus}"
          + (f"; NMEA for {args.sensor_id} on tcp {args.tcp} udp {args.udp}" if args.sensor_id else "")
          + (f"; ASTERIX on udp {args.asterix_udp} from "
             + ", ".join(f"{a} ({s})" for a, s in asterix_sources.items()) if args.asterix_udp else ""),
          flush=True)
    return run_until_signalled([RawIngestWorker(bus, ingest), FollowSensors(bus, sensors)], bus,
                               lambda: [s.shutdown() for s in servers])


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    from services.workers.runtime import Runtime
    settings = Settings.from_env(demo_key="")  # the demo key is for `mfc demo` only
    print(f"mfc api: http://{settings.host}:{settings.port}/ (store {settings.db_display}; "
          f"store writer and alert router in this process)", flush=True)
    runtime = Runtime(settings, load_sensor_file(settings), bus=connect(settings), fusion=False)
    runtime.start()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host=settings.host, port=settings.port,
                                           log_level="warning"))
    died: list[str] = []

    def watchdog() -> None:  # a dead background loop must not leave a picture that never updates
        while not server.should_exit:
            dead = [w.name for w in runtime.workers if not w.is_alive()]
            if dead:
                died.extend(dead)
                log.error("worker %s stopped unexpectedly; exiting with status 1", ", ".join(dead))
                server.should_exit = True
                return
            time.sleep(1.0)

    threading.Thread(target=watchdog, name="watchdog", daemon=True).start()
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler
    # that was in place before it: make that a no-op so that the store writer and router stop
    # cleanly below and the exit status is 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run()
    finally:
        runtime.stop()
    return 1 if died else 0


def cmd_router(args: argparse.Namespace) -> int:
    """The alert router alone (``mfc api`` runs one too; all share one consumer group)."""
    from services.delivery.alert_router import AlertRouter
    from services.delivery.subscriptions import SubscriptionStore
    from services.delivery.webhook_net import deployment_policy
    settings = Settings.from_env()
    bus = connect(settings)
    from services.store.sql import Store
    from services.access.workflow import SuppressionCache
    subscriptions = SubscriptionStore(settings.db)
    store = Store(settings.db)  # suppressions: what the router holds back
    ring = KeyRing(settings.all_keys(), KeyStore(settings.db))
    agencies = ring.agencies()
    print(f"mfc router: mfc.alerts → mfc.alerts.<agency> for {', '.join(agencies) or 'no agency keys yet'}"
          f" and webhooks (subscriptions in {settings.db_display})", flush=True)
    try:
        router = AlertRouter(bus, subscriptions, agencies, policy=deployment_policy(settings),
                             suppressions=SuppressionCache(store, time.time))
        ring.on_change = lambda: setattr(router, "agencies", ring.agencies())  # agency keys made with `mfc keys`
        return run_until_signalled([router, KeyWatcher(ring)], bus)
    finally:
        subscriptions.close()
        store.close()
        ring.store.close()
