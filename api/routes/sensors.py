"""Sensors: the registered sensors with their ingest health; registration and removal."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from fusion.model import iso_time
from ingest.errors import IngestError
from ingest.sensors import sensor_to_dict
from services.access.visibility import visible_alerts, visible_sensors
from services.store.sensor_registry import parse_sensors

from ..deps import AUTH, Ingester, RuntimeDep, SensorReader, errors, json_schema, raw_body
from ..models import Deleted, SensorHealthList, SensorIn, SensorList, SensorsIn
from ..params import _body, _owns

router = APIRouter(prefix="/v1/sensors", tags=["sensors"])
_SENSORS_BODY = raw_body("application/json", json_schema(SensorIn | SensorsIn),
                         'One sensor object (as in the sensors file) or {"sensors": [...]}')


@router.get("", response_model=SensorHealthList, response_model_exclude_unset=True, responses=errors(*AUTH))
def sensors(runtime: RuntimeDep, who: SensorReader) -> dict[str, Any]:
    """Registered sensors with their health as this process's ingest saw it: lines accepted
    and rejected, the last receipt and observation times, the last reject's reason, and a
    status (``live``: heard in the last 5 minutes, ``silent``, or ``never``).  An agency key
    sees the sensors whose data is releasable to it, an integrator key its own sensors."""
    now = runtime.clock()
    suspect = _integrity(runtime, who)
    out = []
    for s in visible_sensors(list(runtime.sensors.values()), who.role, who.name):
        h = dict(runtime.ingest.health.get(s.id) or {"accepted": 0, "rejected": 0, "late": 0,
                                                      "last_receipt_s": None, "last_observation_s": None,
                                                      "last_reject": None, "warnings": 0, "last_warning": None,
                                                      "range_exceeded": 0, "farthest_range_m": None,
                                                      "datagrams": 0, "datagrams_rejected": 0})
        last = h.pop("last_receipt_s")
        seen = h.pop("last_observation_s")
        h["last_receipt"] = None if last is None else iso_time(last)
        h["last_observation"] = None if seen is None else iso_time(seen)
        h["status"] = "never" if last is None else ("live" if now - last <= 300 else "silent")
        out.append({**sensor_to_dict(s), "health": h,
                    "integrity": suspect.get(s.id, {"status": "ok"})})
    return {"sensors": out}


def _integrity(runtime: Any, who: Any) -> dict[str, dict[str, Any]]:
    """Sensor id -> what the open ``sensor_integrity`` alerts say about it (a disagreement of two
    receivers makes both suspect): for staff and agencies the alerts the key may see; for an
    integrator (who sees its own sensors only) the verdict on them without the alert's text,
    which may name other owners' sensors."""
    rows = [a for state in ("open", "acknowledged")
            for a in runtime.store.alerts(type_="sensor_integrity", state=state, limit=1000)]
    integrator = who.role == "integrator"
    out: dict[str, dict[str, Any]] = {}
    for a in (rows if integrator else visible_alerts(rows, who.role, who.name)):
        ev = a.get("evidence") or {}
        rx = ev.get("receiver")
        if not isinstance(rx, str):
            continue
        peers = ev.get("peers") or []
        who_ = [rx] + (list(peers) if ev.get("cause") == "clock_offset" and len(peers) == 1 else [])
        for sid in who_:
            verdict = {"status": "suspect", "cause": ev.get("cause"), "offset_s": ev.get("offset_s")}
            if ev.get("cause") == "clock_offset":
                verdict["correcting"] = bool(ev.get("correcting")) and sid == rx
                if sid == rx and ev.get("drift_s_per_h") is not None:
                    verdict["drift_s_per_h"] = ev["drift_s_per_h"]
            elif ev.get("cause") == "registration_bias":
                verdict["correcting"] = bool(ev.get("correcting"))
                if not integrator:   # the bias is measured from other sensors' AIS: the alert's readers only
                    verdict.update(bearing_bias_deg=ev.get("bearing_bias_deg"), range_bias_m=ev.get("range_bias_m"))
            if not integrator:
                verdict.update(alert_id=a.get("alert_id"), summary=a.get("summary"))
            out.setdefault(sid, verdict)
    return out


def _check_sensor_cap(runtime: Any, new: list[Any]) -> None:
    """At most ``limits.sensors_per_integrator`` sensors per owner (409 with the count beyond)."""
    cap = runtime.limits.sensors_per_integrator
    for owner in {s.owner for s in new}:
        have = {s.id for s in runtime.sensors.values() if s.owner == owner}
        after = have | {s.id for s in new if s.owner == owner}
        if len(after) > cap:
            raise HTTPException(409, f"owner {owner!r} would have {len(after)} sensors, the limit is {cap} "
                                     f"({len(have)} registered); delete some first")


@router.post("", status_code=201, response_model=SensorList, response_model_exclude_unset=True,
             responses=errors(400, *AUTH, 409, 413, 422), openapi_extra=_SENSORS_BODY)
async def register_sensors(request: Request, runtime: RuntimeDep, who: Ingester) -> dict[str, Any]:
    """Register sensors: one sensor object (as in the sensors file) or ``{"sensors": [...]}``.
    An integrator registers sensors it owns (``owner`` defaults to its key's name)."""
    try:
        body = json.loads(await _body(request, 1_000_000))
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        new = parse_sensors(body, who.name)
    except IngestError as exc:
        raise HTTPException(422, exc.reason) from None
    for sensor in new:
        old = runtime.sensors.get(sensor.id)
        if not _owns(who, sensor.owner):
            raise HTTPException(403, f"key {who.name!r} may not register sensor {sensor.id!r} "
                                     f"for owner {sensor.owner!r}")
        if old is not None and not _owns(who, old.owner):
            raise HTTPException(403, f"sensor {sensor.id!r} belongs to {old.owner!r}")
    _check_sensor_cap(runtime, new)
    for sensor in new:
        runtime.register_sensor(sensor, who.name)
    return {"sensors": [sensor_to_dict(s) for s in new]}


@router.delete("/{sensor_id}", response_model=Deleted, responses=errors(*AUTH, 404, 409))
def unregister_sensor(sensor_id: str, runtime: RuntimeDep, who: Ingester) -> dict[str, Any]:
    sensor = runtime.sensors.get(sensor_id)
    if sensor is None or not _owns(who, sensor.owner):
        raise HTTPException(404, f"no sensor {sensor_id!r} of yours")
    if not runtime.unregister_sensor(sensor_id, who.name):
        raise HTTPException(409, f"sensor {sensor_id!r} comes from the sensors file; change it there")
    return {"deleted": sensor_id}
