"""Sensors registered through the API, kept in the store's database (their own table).

The sensors file (``MFC_SENSORS``) gives the starting set; registrations add or replace
sensors at run time and survive a restart.  Each registration is also published on the
``mfc.sensors`` topic (key: sensor id; value: the sensor, or ``{"id": …, "deleted": true}``)
so that other processes of a deployment can follow.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, Text, create_engine, delete, select

from fusion.model import Sensor
from ingest.sensors import load_sensors, sensor_to_dict

from .topics import SENSORS as SENSORS_TOPIC  # key: sensor id; value: the sensor, or {"id", "deleted": true}

metadata = MetaData()
registered = Table(
    "sensors", metadata,
    Column("id", String(64), primary_key=True),
    Column("spec", Text, nullable=False),  # the contract's JSON form
    Column("registered_by", String(64)), Column("registered_s", Float),
)


class SensorRegistry:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, future=True, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def put(self, sensor: Sensor, who: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(registered).where(registered.c.id == sensor.id))
            conn.execute(registered.insert().values(id=sensor.id, spec=json.dumps(sensor_to_dict(sensor)),
                                                    registered_by=who, registered_s=time.time()))

    def delete(self, sensor_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(registered).where(registered.c.id == sensor_id)).rowcount > 0

    def all(self) -> dict[str, Sensor]:
        with self.engine.connect() as conn:
            specs = [json.loads(s) for (s,) in conn.execute(select(registered.c.spec).order_by(registered.c.id))]
        return load_sensors({"sensors": specs}) if specs else {}

    def close(self) -> None:
        self.engine.dispose()


def parse_sensors(body: Any, default_owner: str) -> list[Sensor]:
    """One sensor object or ``{"sensors": [...]}``; a missing ``owner`` is the caller's name.
    Raises ``IngestError`` naming the bad sensor and field."""
    items = body["sensors"] if isinstance(body, dict) and "sensors" in body else [body]
    if not isinstance(items, list) or not items:
        items = [items] if not isinstance(items, list) else items
    filled = [{**item, "owner": item.get("owner") or default_owner} if isinstance(item, dict) else item
              for item in items]
    return list(load_sensors({"sensors": filled}).values())


def sensor_message(sensor: Sensor | None, sensor_id: str) -> dict[str, Any]:
    return {"id": sensor_id, "deleted": True} if sensor is None else sensor_to_dict(sensor)


class SensorFollower:
    """Keeps a process's sensors in step with ``mfc.sensors`` (the other services of a
    deployment: ``mfc ingest``, ``mfc fusion``).  Reads the topic from its start with a
    consumer group of its own (never committed), so every process sees every registration."""

    def __init__(self, bus: Any, sensors: dict[str, Sensor], on_change: Any = None, name: str = "sensors") -> None:
        import uuid
        self.sensors, self.on_change = sensors, on_change
        self.consumer = bus.consumer(SENSORS_TOPIC, f"{name}-{uuid.uuid4().hex[:12]}")
        self.applied = 0

    def poll(self, timeout_s: float = 0.0) -> int:
        """Apply what arrived; returns how many registrations changed."""
        changed = 0
        for rec in self.consumer.poll(timeout_s=timeout_s, max_records=1000):
            value = rec.value if isinstance(rec.value, dict) else {}
            sensor_id = value.get("id") or rec.key
            if not isinstance(sensor_id, str):
                continue
            if value.get("deleted"):
                self.sensors.pop(sensor_id, None)
                sensor = None
            else:
                try:
                    sensor = load_sensors({"sensors": [value]})[sensor_id]
                except Exception:  # a bad registration on the topic: keep the last good one
                    continue
                self.sensors[sensor_id] = sensor
            if self.on_change is not None:
                self.on_change(sensor_id, sensor)
            changed += 1
        self.applied += changed
        return changed

    def close(self) -> None:
        self.consumer.close()
