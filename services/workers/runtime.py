"""The composition root of one process: settings → bus, store, ingest, workers."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from fusion.model import Sensor
from fusion.pipeline import Fusion

from services.delivery.alert_router import AlertRouter
from services.delivery.broadcast import Broadcaster
from services.federation.outbound import AgreementStore, FederationExporter
from services.federation.inbound import FederationImporter
from services.federation.push import FederationPusher
from services.bus.core import Bus, make_bus
from services.geo.geography import build_geography, usable_zones
from services.workers.ingest_service import MAX_FUTURE_S, IngestService
from services.access.keyring import KeyRing, KeyWatcher
from services.access.keys import KeyStore
from services.config.limits import Limits
from services.config.settings import Settings
from services.store.sql import Store
from services.store.sensor_registry import SENSORS_TOPIC, SensorRegistry, sensor_message
from services.bus.topics import ZONES as ZONES_TOPIC, zone_message
from services.delivery.subscriptions import SubscriptionStore
from services.delivery.webhook_net import deployment_policy
from services.access.workflow import SuppressionCache
from services.workers.loops import FusionWorker, StoreWorker, Worker

log = logging.getLogger("mfc.runtime")


class KnownSensors:
    """Sensor lookup for releasability: the live sensors, then the tombstones of deleted ones.
    An id in neither is unknown, and unknown means not visible (``services.access.visibility``).
    Another process of a deployment may have registered or deleted a sensor: a miss is
    re-read from the registry at most every ``reload_s``."""

    def __init__(self, live: dict[str, Sensor], tombstones: dict[str, Sensor],
                 reload: Callable[[], tuple[dict[str, Sensor], dict[str, Sensor]]] | None = None,
                 reload_s: float = 5.0) -> None:
        self.live, self.dead, self.reload, self.reload_s = live, tombstones, reload, reload_s
        self._loaded = time.monotonic()

    def get(self, sensor_id: str) -> Sensor | None:
        found = self.live.get(sensor_id) or self.dead.get(sensor_id)
        if found is None and self.reload is not None and time.monotonic() - self._loaded >= self.reload_s:
            self._loaded = time.monotonic()
            live, dead = self.reload()
            self.dead.update(dead)
            for sid, sensor in live.items():
                self.live.setdefault(sid, sensor)
            found = self.live.get(sensor_id) or self.dead.get(sensor_id)
        return found


class Runtime:
    def __init__(self, settings: Settings, sensors: dict[str, Sensor] | None = None,
                 clock: Callable[[], float] = time.time, bus: Bus | None = None,
                 fusion: bool = True, limits: Limits | None = None) -> None:
        self.settings = settings
        self.limits = limits or Limits.from_env()
        self.clock = clock
        self.sensors: dict[str, Sensor] = dict(sensors or {})
        self.registry = SensorRegistry(settings.db)
        self.sensors.update(self.registry.all())  # registered through the API: they win over the file
        self.tombstones: dict[str, Sensor] = self.registry.tombstones()
        self.sensor_lookup = KnownSensors(self.sensors, self.tombstones,
                                          lambda: (self.registry.all(), self.registry.tombstones()))
        self.key_store = KeyStore(settings.db)
        self.keys = KeyRing(settings.all_keys(), self.key_store)  # bootstrap keys, hashed, and the store's
        self.bus = bus or make_bus(settings.bus, settings.bus_prefix)
        self.store = Store(settings.db, history_every_s=settings.history_every_s)
        self.suppressions = SuppressionCache(self.store, clock)
        lim = self.limits
        self.ingest = IngestService(self.bus, self.sensors, clock, max_lines=lim.ingest_max_lines,
                                    max_line_bytes=lim.ingest_max_line_bytes,
                                    max_echoed_rejects=lim.ingest_max_echoed_rejects,
                                    max_future_s=None if settings.fusion_clock == "feed" else MAX_FUTURE_S)
        self.broadcaster = Broadcaster(max_per_key=lim.streams_per_key, max_total=lim.streams_total,
                                       live_tracks=lambda: self.store.tracks(limit=50_000))
        self.workers: list[Worker] = [StoreWorker(self.bus, self.store, keep_history_s=settings.history_keep_s,
                                                  clock=clock, broadcaster=self.broadcaster,
                                                  suppressions=self.suppressions)]
        self.subscriptions = SubscriptionStore(settings.db)
        self.webhook_policy = deployment_policy(settings)
        self.router = AlertRouter(self.bus, self.subscriptions, self.agencies(), policy=self.webhook_policy,
                                  suppressions=self.suppressions)
        self.keys.on_change = lambda: setattr(self.router, "agencies", self.agencies())
        self.workers += [self.router, KeyWatcher(self.keys)]
        self.agreements = AgreementStore(settings.db)
        self.federation: FederationExporter | None = None
        self.federation_in: FederationImporter | None = None
        self.federation_push: FederationPusher | None = None
        if not settings.exercise:  # an exercise's made-up traffic never leaves the node, nor mixes with partners'
            self.federation = FederationExporter(self.bus, self.agreements, self.sensor_lookup, settings.node_id)
            self.federation_in = FederationImporter(self.bus, self.agreements, self.store, settings.node_id)
            self.federation_push = FederationPusher(self.bus, self.agreements, settings.node_id,
                                                    settings.federation_tls_dir or None)
            self.workers += [self.federation, self.federation_in, self.federation_push]
        self.fusion_worker: FusionWorker | None = None
        if fusion:
            user_zones, refused = usable_zones(self.store.zones(), "stored zone")
            for reason in refused:  # e.g. stored before zones were validated: skipped, not fatal
                log.warning("zone not watched: %s", reason)
            engine = Fusion(self.sensors, build_geography(self.sensors, user_zones))
            # on the feed clock (replays, exercises) fusion's time is the feed's alone
            self.fusion_worker = FusionWorker(self.bus, engine, None if settings.fusion_clock == "feed" else clock)
            self.workers.insert(0, self.fusion_worker)
            for name, stored in self.store.zone_policies().items():  # the admins' zone policies
                self.zone_policy_changed(name, stored["policy"], wait_s=0.0)

    def agencies(self) -> list[str]:
        """Member agencies: the names of the agency keys (bootstrap and key store)."""
        return self.keys.agencies()

    def register_sensor(self, sensor: Sensor, who: str) -> None:
        """Store a sensor, make it known to ingest and fusion here, and announce it on
        ``mfc.sensors`` for the other processes of a deployment."""
        self.registry.put(sensor, who)
        self.sensors[sensor.id] = sensor  # the ingest service and the tracker share this dict
        if self.fusion_worker is not None:
            def learn(f: Fusion) -> None:
                f.tracker.sensors[sensor.id] = sensor
                f.rules.ctx.geo.add_sensor(sensor.id, sensor.kind, sensor.lat, sensor.lon, sensor.range_m,
                                           sensor.releasability,
                                           sensor.revisit_s if sensor.platform == "satellite" else None,
                                           platform=sensor.platform)

            self.fusion_worker.control(learn)
        self.bus.publish(SENSORS_TOPIC, sensor.id, sensor_message(sensor, sensor.id))
        self.bus.flush()

    def unregister_sensor(self, sensor_id: str, who: str = "") -> bool:
        """Forget a registered sensor (keeping its tombstone); False if it was not registered
        through the API."""
        if not self.registry.delete(sensor_id, who):
            return False
        gone = self.sensors.pop(sensor_id, None)
        if gone is not None:
            self.tombstones[sensor_id] = gone
        self.ingest.forget_sensor(sensor_id)
        self.bus.publish(SENSORS_TOPIC, sensor_id, sensor_message(None, sensor_id))
        self.bus.flush()
        return True

    def zone_added(self, name: str, kind: str, geometry: Any) -> None:
        """A user zone was stored: the rules watch it from the next batch on."""
        if self.fusion_worker is not None:
            self.fusion_worker.control(lambda f: f.add_zone(name, kind, geometry))

    def zone_policy_changed(self, name: str, policy: dict[str, Any], wait_s: float = 5.0) -> None:
        """A zone's policy override was stored (``{}``: removed): the rules engine of this
        process applies it to the vessels that join from the next batch on."""
        if self.fusion_worker is None:
            return

        def apply(f: Fusion) -> None:
            overrides = f.rules.cfg.zone_policy_overrides
            if policy:
                overrides[name] = dict(policy)
            else:
                overrides.pop(name, None)

        self.fusion_worker.control(apply, wait_s=wait_s)

    def announce_zone(self, name: str) -> None:
        """Publish zone ``name``'s stored state (user zone feature, policy override) on
        ``mfc.zones`` for a separate ``mfc fusion`` (``mfc.zone_follower``)."""
        feature = next((f for f in self.store.zones() if f.get("properties", {}).get("name") == name), None)
        stored = self.store.zone_policies().get(name)
        self.bus.publish(ZONES_TOPIC, name, zone_message(name, feature, stored["policy"] if stored else {}))
        self.bus.flush()

    def zone_removed(self, name: str) -> None:
        if self.fusion_worker is not None:
            self.fusion_worker.control(lambda f: f.remove_zone(name))

    def start(self) -> None:
        for w in self.workers:
            w.start()

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
        for w in self.workers:
            w.join(timeout=5)
        self.bus.close()
        self.store.close()
        self.subscriptions.close()
        self.agreements.close()
        self.registry.close()
        self.key_store.close()
