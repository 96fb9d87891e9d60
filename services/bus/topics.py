"""The Kafka topic contract: names and keys, in one place."""

from __future__ import annotations

from typing import Any

RAW_AIS = "mfc.raw.ais"          # key: sensor id; value: {"line", "receipt_time"}
RAW_RADAR = "mfc.raw.radar"      # key: sensor id; value: radar JSON object
OBS = "mfc.obs"                  # key: sensor id (a batch) or MMSI (one observation); value: see obs_batches
TRACKS = "mfc.tracks"            # key: track id; value: track line (compacted)
ALERTS = "mfc.alerts"            # key: alert id; value: alert line
DEADLETTER = "mfc.deadletter"    # key: source; value: rejected input and reason
INCIDENTS = "mfc.incidents"      # key: incident id; value: incident line (each change)
SENSORS = "mfc.sensors"          # key: sensor id; value: sensor registered via the API (compacted)
ZONES = "mfc.zones"              # key: zone name; value: zone_message(), set via the API (compacted)


def agency_alerts(agency: str) -> str:
    return f"mfc.alerts.{agency}"


def agency_incidents(agency: str) -> str:
    return f"mfc.incidents.{agency}"


def zone_message(name: str, feature: dict[str, Any] | None, policy: dict[str, Any]) -> dict[str, Any]:
    """A zone's whole state on ``mfc.zones``: its user zone's GeoJSON Feature (null: a built-in
    zone, or a user zone deleted) and the admin's policy override (``{}``: none)."""
    return {"name": name, "feature": feature, "policy": dict(policy)}


def obs_key(obs: dict) -> str:
    mmsi = obs.get("mmsi")
    return str(mmsi) if mmsi is not None else str(obs.get("sensor_id", ""))


# ``mfc.obs`` carries batches: what one request, poll, datagram or scan produced (from an NMEA
# socket: what one connection read within ``Limits.nmea_batch_wait_s``), one record per sensor
# and at most ``OBS_BATCH`` observations, as ``{"v": 1, "observations": [...]}``, keyed by
# the sensor id.  A record of one observation (the value is the observation itself, keyed by
# MMSI or sensor id) is read as well: what other producers and earlier versions publish.
OBS_BATCH = 500
OBS_BATCH_VERSION = 1


def obs_batches(values: list[dict]) -> list[tuple[str, dict]]:
    """(key, value) records of ``mfc.obs`` for observations (``Observation.to_dict()``), in
    their order: one batch per sensor, split every ``OBS_BATCH``."""
    by_sensor: dict[str, list[dict]] = {}
    for value in values:
        by_sensor.setdefault(str(value.get("sensor_id", "")), []).append(value)
    return [(sensor, {"v": OBS_BATCH_VERSION, "observations": items[i:i + OBS_BATCH]})
            for sensor, items in by_sensor.items() for i in range(0, len(items), OBS_BATCH)]


def observations_in(value: dict) -> list:
    """The observations an ``mfc.obs`` record holds (a batch's items, or the record itself);
    ``ValueError`` for a batch of a version this code does not read or without a list."""
    if "observations" not in value:
        return [value]
    if value.get("v") != OBS_BATCH_VERSION:
        raise ValueError(f"an observation batch of version {value.get('v')!r}: this fusion reads version "
                         f"{OBS_BATCH_VERSION}")
    items = value["observations"]
    if not isinstance(items, list):
        raise ValueError(f"a batch's observations must be a list, not {type(items).__name__}")
    return items
