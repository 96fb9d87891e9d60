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
from services.bus.topics import (
    SENSORS as SENSORS_TOPIC,  # key: sensor id; value: the sensor, or {"id", "deleted": true}
)

metadata = MetaData()
registered = Table(
    "sensors", metadata,
    Column("id", String(64), primary_key=True),
    Column("spec", Text, nullable=False),  # the contract's JSON form
    Column("registered_by", String(64)), Column("registered_s", Float),
)
# a deleted sensor's tombstone: its data already fused into tracks, history and alerts keeps
# the releasability it had (deleting a restricted sensor must not make its past public)
tombstones = Table(
    "sensor_tombstones", metadata,
    Column("id", String(64), primary_key=True),
    Column("spec", Text, nullable=False),  # the sensor as it was when deleted
    Column("deleted_by", String(64)), Column("deleted_s", Float),
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

    def delete(self, sensor_id: str, who: str = "") -> bool:
        """Forget a registered sensor, keeping its tombstone; False if it was not registered."""
        with self.engine.begin() as conn:
            row = conn.execute(select(registered.c.spec).where(registered.c.id == sensor_id)).first()
            if row is None:
                return False
            conn.execute(delete(registered).where(registered.c.id == sensor_id))
            conn.execute(delete(tombstones).where(tombstones.c.id == sensor_id))
            conn.execute(tombstones.insert().values(id=sensor_id, spec=row[0], deleted_by=who,
                                                    deleted_s=time.time()))
        return True

    def tombstones(self) -> dict[str, Sensor]:
        """Deleted sensors as they were (for the releasability of what they fed)."""
        with self.engine.connect() as conn:
            specs = [json.loads(s) for (s,) in conn.execute(select(tombstones.c.spec).order_by(tombstones.c.id))]
        return _lenient(specs)

    def all(self) -> dict[str, Sensor]:
        with self.engine.connect() as conn:
            specs = [json.loads(s) for (s,) in conn.execute(select(registered.c.spec).order_by(registered.c.id))]
        return _lenient(specs)

    def close(self) -> None:
        self.engine.dispose()


def _lenient(specs: list[dict[str, Any]]) -> dict[str, Sensor]:
    """Stored sensors one by one: one that no longer validates (rules tightened since it was
    stored) is left out, so it counts as unknown (not visible), and the rest still load."""
    out: dict[str, Sensor] = {}
    for spec in specs:
        try:
            out.update(load_sensors({"sensors": [spec]}))
        except Exception:  # noqa: BLE001 - a bad stored row must not stop the service
            continue
    return out


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
        from services.bus.core import consumer_waiting_for_broker
        self.consumer = consumer_waiting_for_broker(bus, SENSORS_TOPIC, f"{name}-{uuid.uuid4().hex[:12]}")
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
