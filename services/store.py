"""The store: latest track states, track history and alerts, through SQLAlchemy.

SQLite by default, PostgreSQL in deployment.  Writes are idempotent upserts,
so a replayed track or alert line never makes a second row.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

from sqlalchemy import (Column, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, create_engine, delete, event, func, select)
from sqlalchemy.engine import Engine

from fusion.model import iso_time

from ingest.timeparse import parse_iso

metadata = MetaData()

tracks = Table(
    "tracks", metadata,
    Column("track_id", String(32), primary_key=True),
    Column("time_s", Float, nullable=False, index=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("sog_kn", Float), Column("cog_deg", Float), Column("sigma_m", Float),
    Column("mmsi", Integer, index=True), Column("name", String(64)), Column("flag", String(4)),
    Column("ship_type", Integer), Column("sources", String(32)), Column("status", String(16), index=True),
    Column("sensors", Text),  # comma-separated ids of the sensors that fed the track (releasability)
    Column("fixes", Text),    # JSON: each sensor's newest fix, for agencies that may see only some
    Column("reports", Integer), Column("receivers", Integer), Column("first_seen_s", Float),
    Column("stations", Text),  # comma-separated AIS receivers that heard it in the last 30 min
    Column("contact", String(16)),  # radar-only: "dark" (AIS expected here) or "unidentified"
)

history = Table(
    "track_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("track_id", String(32), nullable=False),
    Column("time_s", Float, nullable=False),
    Column("lat", Float, nullable=False), Column("lon", Float, nullable=False),
    Column("sog_kn", Float), Column("cog_deg", Float),
    Column("sensors", Text),  # the point's own sensors: each point is as releasable as what made it
    Column("fixes", Text),
    UniqueConstraint("track_id", "time_s", name="uq_history_track_time"),
)
Index("ix_history_time", history.c.time_s)

alerts = Table(
    "alerts", metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("type", String(32), nullable=False, index=True),
    Column("severity", String(16), nullable=False),
    Column("time_s", Float, nullable=False, index=True),
    Column("track_id", String(32)), Column("mmsi", Integer),
    Column("lat", Float), Column("lon", Float), Column("zone", String(128)),
    Column("summary", Text, nullable=False), Column("evidence", Text),
    Column("state", String(16), nullable=False, index=True),
    Column("acked_by", String(64)), Column("acked_at_s", Float),
)

zones = Table(
    "zones", metadata,
    Column("name", String(128), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("feature", Text, nullable=False),  # the GeoJSON Feature as given
    Column("created_by", String(64)), Column("created_s", Float),
)

LIVE = ("tentative", "confirmed", "coasting")
HISTORY_FIELDS = ("track_id", "time_s", "lat", "lon", "sog_kn", "cog_deg", "sensors", "fixes")


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A database made by an earlier version gets the columns added since (all nullable)."""
        from sqlalchemy import inspect, text
        insp = inspect(self.engine)
        for table in (tracks, history):
            have = {c["name"] for c in insp.get_columns(table.name)}
            for col in table.columns:
                if col.name not in have:
                    kind = col.type.compile(dialect=self.engine.dialect)
                    with self.engine.begin() as conn:
                        conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN {col.name} {kind}'))

    def _insert(self, table: Table):  # dialect-specific INSERT with ON CONFLICT
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # ------------------------------------------------------------------ writes
    def write_tracks(self, lines: Iterable[dict[str, Any]]) -> None:
        """Upsert latest states (a newer time wins) and append history points."""
        latest: dict[str, dict[str, Any]] = {}
        points = []
        for line in lines:
            row = _track_row(line)
            prev = latest.get(row["track_id"])
            if prev is None or row["time_s"] >= prev["time_s"]:
                latest[row["track_id"]] = row
            points.append({k: row[k] for k in HISTORY_FIELDS})
        if not latest:
            return
        with self.engine.begin() as conn:
            stmt = self._insert(tracks)
            cols = {c.name: stmt.excluded[c.name] for c in tracks.columns if c.name != "track_id"}
            stmt = stmt.on_conflict_do_update(index_elements=["track_id"], set_=cols,
                                              where=tracks.c.time_s <= stmt.excluded.time_s)
            conn.execute(stmt, list(latest.values()))
            conn.execute(self._insert(history).on_conflict_do_nothing(), _unique(points))

    def write_alerts(self, lines: Iterable[dict[str, Any]]) -> None:
        """Upsert alerts; an officer's acknowledgement is not undone by a replayed line."""
        rows = [_alert_row(a) for a in lines]
        if not rows:
            return
        with self.engine.begin() as conn:
            stmt = self._insert(alerts)
            keep = ("alert_id", "acked_by", "acked_at_s", "state")
            cols = {c.name: stmt.excluded[c.name] for c in alerts.columns if c.name not in keep}
            cols["state"] = func.coalesce(
                func.nullif(stmt.excluded.state, "open"), alerts.c.state)  # open never reopens an ack
            conn.execute(stmt.on_conflict_do_update(index_elements=["alert_id"], set_=cols), rows)

    def ack_alert(self, alert_id: str, who: str, at_s: float | None = None) -> dict[str, Any] | None:
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).mappings().first()
            if row is None:
                return None
            if row["state"] == "open":
                conn.execute(alerts.update().where(alerts.c.alert_id == alert_id).values(
                    state="acknowledged", acked_by=who, acked_at_s=at_s or time.time()))
        return self.alert(alert_id)

    def put_zone(self, name: str, kind: str, feature: dict[str, Any], who: str, at_s: float) -> None:
        with self.engine.begin() as conn:
            stmt = self._insert(zones)
            row = {"name": name, "kind": kind, "feature": json.dumps(feature), "created_by": who, "created_s": at_s}
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={
                k: stmt.excluded[k] for k in ("kind", "feature", "created_by", "created_s")}), [row])

    def delete_zone(self, name: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(zones).where(zones.c.name == name)).rowcount > 0

    def zones(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [json.loads(r["feature"]) for r in conn.execute(select(zones).order_by(zones.c.name)).mappings()]

    def prune_history(self, older_than_s: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(history).where(history.c.time_s < older_than_s)).rowcount

    # ------------------------------------------------------------------- reads
    def tracks(self, bbox: tuple[float, float, float, float] | None = None, since_s: float | None = None,
               source: str | None = None, limit: int = 5000, live_only: bool = True,
               contact: str | None = None) -> list[dict[str, Any]]:
        q = select(tracks)
        if contact:
            q = q.where(tracks.c.contact == contact)
        if live_only:
            q = q.where(tracks.c.status.in_(LIVE))
        if bbox:
            w, s, e, n = bbox
            q = q.where(tracks.c.lon.between(w, e), tracks.c.lat.between(s, n))
        if since_s is not None:
            q = q.where(tracks.c.time_s >= since_s)
        if source:
            q = q.where(tracks.c.sources.like(f"%{source}%"))
        q = q.order_by(tracks.c.time_s.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_track_line(r) for r in conn.execute(q).mappings()]

    def track(self, track_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tracks).where(tracks.c.track_id == track_id)).mappings().first()
        return None if row is None else _track_line(row)

    def history(self, track_id: str, since_s: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        q = select(history).where(history.c.track_id == track_id)
        if since_s is not None:
            q = q.where(history.c.time_s >= since_s)
        q = q.order_by(history.c.time_s.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = list(conn.execute(q).mappings())
        return [{"time": iso_time(r["time_s"]), "lat": r["lat"], "lon": r["lon"],
                 "sog_kn": r["sog_kn"], "cog_deg": r["cog_deg"], "sensors": _ids(r["sensors"]),
                 "fixes": _fixes(r["fixes"])} for r in reversed(rows)]

    def alerts(self, type_: str | None = None, state: str | None = None, severity: str | None = None,
               bbox: tuple[float, float, float, float] | None = None, since_s: float | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
        q = select(alerts)
        if type_:
            q = q.where(alerts.c.type == type_)
        if state:
            q = q.where(alerts.c.state == state)
        if severity:
            q = q.where(alerts.c.severity == severity)
        if bbox:
            w, s, e, n = bbox
            q = q.where(alerts.c.lon.between(w, e), alerts.c.lat.between(s, n))
        if since_s is not None:
            q = q.where(alerts.c.time_s >= since_s)
        q = q.order_by(alerts.c.time_s.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_alert_line(r) for r in conn.execute(q).mappings()]

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).mappings().first()
        return None if row is None else _alert_line(row)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            live = conn.execute(select(func.count()).select_from(tracks).where(
                tracks.c.status.in_(LIVE))).scalar_one()
            n_alerts = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
        return {"live_tracks": live, "alerts": n_alerts}

    def close(self) -> None:
        self.engine.dispose()


def _unique(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, float], dict[str, Any]] = {}
    for p in points:
        seen[(p["track_id"], p["time_s"])] = p
    return list(seen.values())


def _track_row(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "track_id": line["track_id"], "time_s": parse_iso(line["time"]), "lat": line["lat"],
        "lon": line["lon"], "sog_kn": line.get("sog_kn"), "cog_deg": line.get("cog_deg"),
        "sigma_m": line.get("sigma_m"), "mmsi": line.get("mmsi"), "name": line.get("name"),
        "flag": line.get("flag"), "ship_type": line.get("ship_type"),
        "sources": ",".join(line.get("sources") or []), "status": line.get("status", "confirmed"),
        "sensors": ",".join(line.get("sensors") or []),
        "fixes": json.dumps(line["fixes"], separators=(",", ":")) if line.get("fixes") else None,
        "reports": line.get("reports"), "receivers": line.get("receivers"),
        "first_seen_s": parse_iso(line["first_seen"]) if line.get("first_seen") else None,
        "stations": ",".join(line.get("stations") or []),
        "contact": line.get("contact"),
    }


def _ids(text: str | None) -> list[str]:
    return [s for s in (text or "").split(",") if s]


def _fixes(text: str | None) -> dict[str, Any] | None:
    return json.loads(text) if text else None


def _track_line(row: Any) -> dict[str, Any]:
    return {
        "track_id": row["track_id"], "time": iso_time(row["time_s"]), "lat": row["lat"], "lon": row["lon"],
        "sog_kn": row["sog_kn"], "cog_deg": row["cog_deg"], "sigma_m": row["sigma_m"], "mmsi": row["mmsi"],
        "name": row["name"], "flag": row["flag"], "ship_type": row["ship_type"],
        "sources": [s for s in (row["sources"] or "").split(",") if s], "status": row["status"],
        "sensors": _ids(row["sensors"]), "fixes": _fixes(row["fixes"]),
        "reports": row["reports"], "receivers": row["receivers"],
        "first_seen": None if row["first_seen_s"] is None else iso_time(row["first_seen_s"]),
        "stations": _ids(row["stations"]),
        "contact": row["contact"],
    }


def _alert_row(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "alert_id": a["alert_id"], "type": a["type"], "severity": a["severity"],
        "time_s": parse_iso(a["time"]), "track_id": a.get("track_id"), "mmsi": a.get("mmsi"),
        "lat": a.get("lat"), "lon": a.get("lon"), "zone": a.get("zone"), "summary": a["summary"],
        "evidence": json.dumps(a.get("evidence") or {}), "state": a.get("state", "open"),
    }


def _alert_line(row: Any) -> dict[str, Any]:
    return {
        "alert_id": row["alert_id"], "type": row["type"], "severity": row["severity"],
        "time": iso_time(row["time_s"]), "track_id": row["track_id"], "mmsi": row["mmsi"],
        "lat": row["lat"], "lon": row["lon"], "zone": row["zone"], "summary": row["summary"],
        "evidence": json.loads(row["evidence"] or "{}"), "state": row["state"],
        "acked_by": row["acked_by"],
        "acked_at": None if row["acked_at_s"] is None else iso_time(row["acked_at_s"]),
    }
