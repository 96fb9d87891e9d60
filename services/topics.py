"""The Kafka topic contract: names and keys, in one place."""

from __future__ import annotations

RAW_AIS = "mfc.raw.ais"          # key: sensor id; value: {"line", "receipt_time"}
RAW_RADAR = "mfc.raw.radar"      # key: sensor id; value: radar JSON object
OBS = "mfc.obs"                  # key: MMSI or sensor id; value: observation
TRACKS = "mfc.tracks"            # key: track id; value: track line (compacted)
ALERTS = "mfc.alerts"            # key: alert id; value: alert line
DEADLETTER = "mfc.deadletter"    # key: source; value: rejected input and reason
INCIDENTS = "mfc.incidents"      # key: incident id; value: incident line (each change)
SENSORS = "mfc.sensors"          # key: sensor id; value: sensor registered via the API (compacted)
ZONES = "mfc.zones"              # key: zone name; value: {"name", "feature", "policy"} set via the API (compacted)


def agency_alerts(agency: str) -> str:
    return f"mfc.alerts.{agency}"


def agency_incidents(agency: str) -> str:
    return f"mfc.incidents.{agency}"


def obs_key(obs: dict) -> str:
    mmsi = obs.get("mmsi")
    return str(mmsi) if mmsi is not None else str(obs.get("sensor_id", ""))
