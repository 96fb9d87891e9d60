"""Alerts against labelled cases: which cases fired, which alerts match a case, precision and
recall per alert type (``mfc score``, ``bench/alerts.py``).
"""

from __future__ import annotations

from fusion.geodesy import distance_m
from fusion.model import Alert, Observation
from fusion.rules import ALERT_TYPES

from services.scenario.events import Case

def final_versions(alerts: list[Alert]) -> dict[str, tuple[Alert, Alert]]:
    """alert_id -> (first emitted, last emitted)."""
    out: dict[str, tuple[Alert, Alert]] = {}
    for a in alerts:
        out[a.alert_id] = (out[a.alert_id][0], a) if a.alert_id in out else (a, a)
    return out


def matches(c: Case, first: Alert, last: Alert) -> bool:
    if first.type != c.type or not (c.t_from <= first.time_s <= c.t_to):
        return False
    if c.mmsi is not None and c.mmsi not in (first.mmsi, first.evidence.get("other_mmsi")):
        return False
    if first.lat is None:
        return True
    return distance_m(first.lat, first.lon, c.lat, c.lon) <= c.radius_m


def score(cases: list[Case], alerts: list[Alert], exits: dict[int, float] | None = None) -> dict[str, dict]:
    """``exits``: MMSI -> time its scripted vessel leaves the simulation; the AIS silence after
    that is a real gap the rule may report, and is not scored (neither way)."""
    versions = final_versions(alerts)
    exits = exits or {}
    versions = {k: (f, l) for k, (f, l) in versions.items()
                if not (f.mmsi in exits and f.time_s >= exits[f.mmsi] + 25 * 60)}
    table: dict[str, dict] = {t: {"cases": 0, "found": 0, "near_miss": 0, "near_miss_fired": 0, "alerts": 0,
                                  "matched": 0, "retracted": 0, "false": []} for t in ALERT_TYPES}
    pos = [c for c in cases if c.positive]
    for c in cases:
        row = table[c.type]
        if c.positive:
            row["cases"] += 1
            row["found"] += any(matches(c, f, l) for f, l in versions.values())
        elif c.mmsi is not None or c.type in ("swarm", "gnss_interference", "dark_vessel", "sensor_integrity"):
            row["near_miss"] += 1
            row["near_miss_fired"] += any(f.type == c.type and (c.mmsi is None or f.mmsi == c.mmsi)
                                          and c.t_from <= f.time_s <= c.t_to and f.lat is not None
                                          and distance_m(f.lat, f.lon, c.lat, c.lon) <= c.radius_m
                                          for f, _ in versions.values())
    for f, last in versions.values():
        row = table[f.type]
        if last.state == "retracted":
            row["retracted"] += 1
            continue
        row["alerts"] += 1
        if any(matches(c, f, last) for c in pos):
            row["matched"] += 1
        else:
            row["false"].append(f)
    return table


def vessel_hours(obs: list[Observation]) -> float:
    last: dict[int, float] = {}
    total = 0.0
    for o in obs:
        if o.kind != "ais_position" or o.mmsi is None:
            continue
        p = last.get(o.mmsi)
        if p is not None and o.time_s - p <= 1800:
            total += o.time_s - p
        last[o.mmsi] = o.time_s
    return total / 3600.0
