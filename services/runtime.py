"""The composition root of one process: settings → bus, store, ingest, workers."""

from __future__ import annotations

import time
from typing import Any, Callable

from fusion.model import Sensor
from fusion.pipeline import Fusion

from .alert_router import AlertRouter
from .broadcast import Broadcaster
from .bus import Bus, make_bus
from .geography import build_geography, zones_from_geojson
from .ingest_service import IngestService
from .limits import Limits
from .settings import ApiKey, Settings
from .store import Store
from .sensor_registry import SENSORS_TOPIC, SensorRegistry, sensor_message
from .subscriptions import SubscriptionStore
from .workers import FusionWorker, StoreWorker, Worker


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
        self.keys: dict[str, ApiKey] = settings.all_keys()
        self.bus = bus or make_bus(settings.bus, settings.kafka_prefix)
        self.store = Store(settings.db)
        lim = self.limits
        self.ingest = IngestService(self.bus, self.sensors, clock, max_lines=lim.ingest_max_lines,
                                    max_line_bytes=lim.ingest_max_line_bytes,
                                    max_echoed_rejects=lim.ingest_max_echoed_rejects)
        self.broadcaster = Broadcaster(max_per_key=lim.streams_per_key, max_total=lim.streams_total)
        self.workers: list[Worker] = [StoreWorker(self.bus, self.store, keep_history_s=settings.history_keep_s,
                                                  clock=clock, broadcaster=self.broadcaster)]
        self.subscriptions = SubscriptionStore(settings.db)
        self.router = AlertRouter(self.bus, self.subscriptions, self.agencies())
        self.workers.append(self.router)
        self.fusion_worker: FusionWorker | None = None
        if fusion:
            user_zones = zones_from_geojson({"type": "FeatureCollection", "features": self.store.zones()})
            engine = Fusion(self.sensors, build_geography(self.sensors, user_zones))
            self.fusion_worker = FusionWorker(self.bus, engine, clock)
            self.workers.insert(0, self.fusion_worker)

    def agencies(self) -> list[str]:
        """Member agencies: the names of the agency keys."""
        return sorted({k.name for k in self.keys.values() if k.role == "agency"})

    def register_sensor(self, sensor: Sensor, who: str) -> None:
        """Store a sensor, make it known to ingest and fusion here, and announce it on
        ``mfc.sensors`` for the other processes of a deployment."""
        self.registry.put(sensor, who)
        self.sensors[sensor.id] = sensor  # the ingest service and the tracker share this dict
        if self.fusion_worker is not None:
            def learn(f: Fusion) -> None:
                f.tracker.sensors[sensor.id] = sensor
                f.rules.ctx.geo.add_sensor(sensor.id, sensor.kind, sensor.lat, sensor.lon, sensor.range_m,
                                           sensor.releasability)

            self.fusion_worker.control(learn)
        self.bus.publish(SENSORS_TOPIC, sensor.id, sensor_message(sensor, sensor.id))
        self.bus.flush()

    def unregister_sensor(self, sensor_id: str) -> bool:
        """Forget a registered sensor; False if it was not registered through the API."""
        if not self.registry.delete(sensor_id):
            return False
        self.sensors.pop(sensor_id, None)
        self.ingest.forget_sensor(sensor_id)
        self.bus.publish(SENSORS_TOPIC, sensor_id, sensor_message(None, sensor_id))
        self.bus.flush()
        return True

    def zone_added(self, name: str, kind: str, geometry: Any) -> None:
        """A user zone was stored: the rules watch it from the next batch on."""
        if self.fusion_worker is not None:
            self.fusion_worker.control(lambda f: f.add_zone(name, kind, geometry))

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
        self.registry.close()
