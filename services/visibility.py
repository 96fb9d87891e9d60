"""Releasability: what each key may see of tracks, their history, alerts and sensors.

One promise: what a member marks as restricted reaches no one else.  Every read path of the
API (REST, OGC, CoT, the stream, history, replay, metrics, sensors) and every push path
(agency topics, webhooks) decides through these functions, and each of them fails closed:

* a releasability token is an agency (``PH-CG``), a state prefix (``PH`` covers ``PH-CG``
  and ``PH-NAVY``) or ``ASEAN``/``ALL`` (every member);
* an alert is releasable to an agency only when its ``evidence.releasability`` covers it:
  a missing or empty list covers no one;
* a track line is visible to an agency when at least one sensor that fed it recently is
  releasable to it; a line without sensors, or naming only sensors that are unknown (never
  registered, and no tombstone of a deleted one), is visible to no agency;
* an agency sees a fused track built only from what it may see: when some of the line's
  sensors are not releasable to it, its view is the newest fix of a sensor that is
  (``fixes`` on the line), with identity only if an AIS sensor it may see heard the vessel;
  without such a fix the track is hidden from it.

Officers and admins are the centre's own staff and see everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from fusion.model import iso_time

WILDCARDS = ("ALL", "ASEAN")  # releasable to every member agency
STAFF_ROLES = frozenset({"officer", "admin"})


class SensorLike(Protocol):
    kind: str
    owner: str
    releasability: tuple[str, ...]
    accuracy_m: float


class SensorLookup(Protocol):
    def get(self, sensor_id: str) -> SensorLike | None: ...


def covers(tokens: Iterable[str] | None, agency: str) -> bool:
    """Do releasability ``tokens`` cover ``agency``?  None or an empty list covers no one."""
    return any(t in WILDCARDS or t == agency or agency.startswith(f"{t}-") for t in tokens or ())


def releasable_to(alert: Mapping[str, Any], agency: str) -> bool:
    """May ``agency`` see ``alert``?  Only when its evidence lists releasability covering it."""
    evidence = alert.get("evidence")
    if not isinstance(evidence, Mapping):
        return False
    tokens = evidence.get("releasability")
    return isinstance(tokens, list) and covers(tokens, agency)


def sensor_visible_to(sensor: SensorLike | None, agency: str) -> bool:
    return sensor is not None and covers(sensor.releasability, agency)


def track_view(line: Mapping[str, Any], agency: str, sensors: SensorLookup) -> dict[str, Any] | None:
    """``agency``'s view of a stored track line (or history point), or None when it may not see it."""
    return narrowed_view(line, lambda sensor: sensor_visible_to(sensor, agency), sensors)


def narrowed_view(line: Mapping[str, Any], visible: Callable[[SensorLike | None], bool],
                  sensors: SensorLookup) -> dict[str, Any] | None:
    """The view of a track line for a viewer that may see the sensors ``visible`` accepts (an
    agency, a partner node: ``services.federation``), or None when it may see nothing of it."""
    ids = line.get("sensors") or []
    allowed = [s for s in ids if visible(sensors.get(s))]
    if not allowed:
        return None
    out = {k: v for k, v in line.items() if k != "fixes"}
    if "stations" in out:  # the receivers it may know of, and only their count
        out["stations"] = [s for s in out["stations"] or () if visible(sensors.get(s))]
        out["receivers"] = min(out.get("receivers") or 0, len(out["stations"]))
    if len(allowed) == len(ids):
        if not any(sensors.get(s).kind == "ais" for s in allowed):  # type: ignore[union-attr]
            # the identity came from an AIS receiver that no longer holds the track, and which
            # receiver it was is not on the line: fail closed (history keeps the identified points)
            out.update(mmsi=None, name=None, flag=None, ship_type=None)
        return out
    fixes = line.get("fixes") or {}
    mine = [(fixes[s], s) for s in allowed if isinstance(fixes.get(s), list) and len(fixes[s]) == 5]
    if not mine:
        return None  # only the fused estimate exists, and restricted data went into it
    (t_s, lat, lon, sog_kn, cog_deg), _ = max(mine, key=lambda fs: fs[0][0])
    kinds = {sensors.get(s).kind for s in allowed}  # type: ignore[union-attr]
    sigma = max(sensors.get(s).accuracy_m for s in allowed)  # type: ignore[union-attr]
    out.update(time=iso_time(t_s), lat=lat, lon=lon, sog_kn=sog_kn, cog_deg=cog_deg, sigma_m=sigma,
               sensors=allowed, sources=[k for k in ("ais", "radar") if k in kinds], view="releasable_sources")
    if "ais" not in kinds:
        out.update(mmsi=None, name=None, flag=None, ship_type=None)
    return out


def visible_tracks(rows: Iterable[Mapping[str, Any]], role: str, name: str,
                   sensors: SensorLookup) -> list[dict[str, Any]]:
    """The track lines (or history points) a key may see, each as that key may see it."""
    if role in STAFF_ROLES:
        return [{k: v for k, v in r.items() if k != "fixes"} for r in rows]
    if role != "agency":
        return []
    out = []
    for r in rows:
        view = track_view(r, name, sensors)
        if view is not None:
            out.append(view)
    return out


def visible_alerts(rows: Iterable[Mapping[str, Any]], role: str, name: str) -> list[Mapping[str, Any]]:
    if role in STAFF_ROLES:
        return list(rows)
    if role != "agency":
        return []
    return [r for r in rows if releasable_to(r, name)]


def visible_sensors(sensors: Iterable[Any], role: str, name: str) -> list[Any]:
    """Staff see every sensor; an agency the sensors whose data is releasable to it; an
    integrator the sensors it owns."""
    if role in STAFF_ROLES:
        return list(sensors)
    if role == "agency":
        return [s for s in sensors if covers(s.releasability, name)]
    if role == "integrator":
        return [s for s in sensors if s.owner == name]
    return []
