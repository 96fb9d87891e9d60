"""A ``Fusion`` as checkpoint data, and back into a freshly built one.

What is stored: the tracker and the rule engine (``codec``), the sensors the tracker
knew, and of the geography only what changes at run time: sensors' releasability, the AIS
receivers and the names of the watch zones (rules key their state by zone index).  The
geometry itself is rebuilt at start (``services.geo.geography.build_geography``).
"""

from __future__ import annotations

import math
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from fusion.model import Sensor
from fusion.pipeline import Fusion
from fusion.rules.geography import Geography
from fusion.rules.loitering import Loitering
from fusion.rules.traffic import TrafficMap
from fusion.rules.zones import ZoneEntry
from services.state.codec import StateFormatError, decode, encode
from services.state.file import CheckpointError


def state_of(fusion: Fusion) -> tuple[dict[str, Any], list[np.ndarray]]:
    """(JSON-able state, arrays) of ``fusion``; its geography and sensors dict are named, not stored."""
    geo, sensors = fusion.rules.ctx.geo, fusion.tracker.sensors
    tree, arrays = encode(fusion, {"geography": geo, "sensors": sensors})
    sensor_tree, _ = encode(dict(sensors))
    return {"fusion": tree, "sensors": sensor_tree, "geography": _geography_doc(geo)}, arrays


def _geography_doc(geo: Geography) -> dict[str, Any]:
    return {"releasability": [[k, list(v)] for k, v in geo.releasability.items()],
            "receivers": [[r[0], float(r[1]), float(r[2]), float(r[3])] for r in geo.receivers],
            "watch": [[name, kind] for name, kind, _ in geo.watch],
            "satellites": [[k, float(v)] for k, v in getattr(geo, "satellites", {}).items()]}


def restore(doc: Any, arrays: list[np.ndarray], fresh: Fusion, path: Path) -> Fusion:
    """The stored state, using ``fresh``'s geography and sensors (completed with what the
    state knew and they lack); ``CheckpointError`` naming ``path`` when it cannot be."""
    geo, sensors = fresh.rules.ctx.geo, fresh.tracker.sensors
    try:
        if not isinstance(doc, dict):
            raise StateFormatError("state is not an object")
        known = decode(doc["sensors"], [])
        if not isinstance(known, dict) or not all(type(s) is Sensor for s in known.values()):
            raise StateFormatError("sensors are not a table of Sensor records")
        fusion = decode(doc["fusion"], arrays, {"geography": geo, "sensors": sensors})
        if type(fusion) is not Fusion:
            raise StateFormatError(f"state holds a {type(fusion).__name__}, not a Fusion")
        rel, receivers, watch = _checked_geography(doc["geography"])
        satellites = [(str(s), float(r)) for s, r in doc["geography"].get("satellites", [])]
        if not all(math.isfinite(r) and r > 0 for _, r in satellites):
            raise StateFormatError("malformed geography (satellites)")
    except (StateFormatError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    for sid, sensor in known.items():
        if sid not in sensors:
            sensors[sid] = sensor
    _complete_geography(geo, rel, receivers, satellites)
    _upgrade_rules(fusion)
    _renumber_zones(fusion, watch, [n for n, _, _ in geo.watch])
    return fusion


def _upgrade_rules(fusion: Fusion) -> None:
    """A state written before places were learned from traffic and zone entries grouped: the
    learned places start empty, zone entry groups too (visits then opened keep their own alert);
    loitering windows kept as deques of tuples become flat arrays."""
    engine = fusion.rules
    if not hasattr(engine.ctx, "traffic"):
        engine.ctx.traffic = TrafficMap(engine.cfg)
    for rule in engine.rules:
        if isinstance(rule, ZoneEntry) and not hasattr(rule, "groups"):
            rule.groups = {}
    if not hasattr(engine, "_water_rules"):
        engine._bind()
    for rule in engine.rules:
        if isinstance(rule, Loitering):
            for st in rule.tracks.values():
                if not isinstance(st.segs, array):  # a deque of (t0, t1, sog) before 2026-12
                    st.segs, st.head = array("d", [x for seg in st.segs for x in seg]), 0


def _checked_geography(doc: Any) -> tuple[dict[str, tuple[str, ...]], list[tuple], list[str]]:
    rel = {k: tuple(v) for k, v in doc["releasability"]}
    receivers = [(str(s), float(la), float(lo), float(r)) for s, la, lo, r in doc["receivers"]]
    if not all(all(isinstance(t, str) for t in v) for v in rel.values()) \
            or not all(math.isfinite(x) for r in receivers for x in r[1:]):
        raise StateFormatError("malformed geography (releasability or receivers)")
    watch = [str(name) for name, _ in doc["watch"]]
    return rel, receivers, watch


def _complete_geography(geo: Geography, rel: dict[str, tuple[str, ...]], receivers: list[tuple],
                        satellites: list[tuple[str, float]] = ()) -> None:  # type: ignore[assignment]
    """Sensors registered at run time (before the checkpoint) that this start does not know yet."""
    have = {r[0] for r in geo.receivers}
    for sid, lat, lon, range_m in receivers:
        if sid not in have:
            geo.add_sensor(sid, "ais", lat, lon, range_m, geo.releasability.get(sid, rel.get(sid, ())))
    for sid, tokens in rel.items():
        geo.releasability.setdefault(sid, tokens)
    for sid, revisit_s in satellites:
        geo.satellites.setdefault(sid, revisit_s)


def _renumber_zones(fusion: Fusion, saved: list[str], now: list[str]) -> None:
    """Zone visits follow their zone by name when this start's watch zones are listed
    differently; visits of a zone that is gone are dropped."""
    if saved == now:
        return
    index = {name: i for i, name in enumerate(now)}
    new = {old: index[name] for old, name in enumerate(saved) if name in index}
    for rule in fusion.rules.rules:
        if isinstance(rule, ZoneEntry):
            visits = {tid: {new[z]: v for z, v in vs.items() if z in new} for tid, vs in rule.visits.items()}
            rule.visits = {tid: vs for tid, vs in visits.items() if vs}
            for vs in rule.visits.values():
                for v in vs.values():
                    if getattr(v, "key", None) is not None:
                        v.key = (new[v.key[0]], v.key[1])
            groups = getattr(rule, "groups", {})
            rule.groups = {(new[z], cat): g for (z, cat), g in groups.items() if z in new}
