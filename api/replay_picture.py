"""The picture as it was: each track's last stored history point at or before a past time.

Watch officers scrub back through the last hours (the store keeps ``MFC_HISTORY_KEEP_S`` of
history).  A track appears if it had a point within ``window_s`` before the asked time;
identity (MMSI, name, flag, sources) is the track's current one; releasability is the point's own
(the sensors that made that point), so the past is as restricted as it was; a partner node's
track keeps its origin and the tokens it was shared under.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, func, select

from fusion.model import iso_time
from services.store.sql import Store, _ids, history, tracks


def picture_at(store: Store, at_s: float, window_s: float = 600.0,
               bbox: tuple[float, float, float, float] | None = None, limit: int = 50_000) -> list[dict[str, Any]]:
    latest = (select(history.c.track_id, func.max(history.c.time_s).label("t"))
              .where(history.c.time_s <= at_s, history.c.time_s > at_s - window_s)
              .group_by(history.c.track_id).subquery())
    q = (select(history, tracks.c.mmsi, tracks.c.name, tracks.c.flag, tracks.c.ship_type, tracks.c.sources,
                tracks.c.origin, tracks.c.releasability)
         .join(latest, and_(history.c.track_id == latest.c.track_id, history.c.time_s == latest.c.t))
         .join(tracks, tracks.c.track_id == history.c.track_id, isouter=True))
    if bbox:
        w, s, e, n = bbox
        q = q.where(history.c.lon.between(w, e), history.c.lat.between(s, n))
    q = q.order_by(history.c.track_id).limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [_partner({"track_id": r["track_id"], "time": iso_time(r["time_s"]), "lat": r["lat"], "lon": r["lon"],
             "sog_kn": r["sog_kn"], "cog_deg": r["cog_deg"], "sigma_m": None, "mmsi": r["mmsi"],
             "name": r["name"], "flag": r["flag"], "ship_type": r["ship_type"],
             "sources": [s for s in (r["sources"] or "").split(",") if s],
             "sensors": [s for s in (r["sensors"] or "").split(",") if s],  # the point's own (releasability)
             "fixes": json.loads(r["fixes"]) if r["fixes"] else None,
             "status": "confirmed" if at_s - r["time_s"] < window_s / 2 else "coasting"}, r) for r in rows]


def _partner(line: dict[str, Any], row: Any) -> dict[str, Any]:
    """A partner node's track keeps its ``origin`` and the tokens it was shared under
    (``releasability``): who may see it then is who may see it now (its points carry no
    sensors of this node's)."""
    if row["origin"]:
        line.update(origin=_ids(row["origin"]), releasability=_ids(row["releasability"]))
    return line


def history_range(store: Store) -> tuple[float | None, float | None]:
    with store.engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(history.c.time_s), func.max(history.c.time_s))).one()
    return lo, hi
