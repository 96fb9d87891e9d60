"""The store: latest track states, track history and alerts, through SQLAlchemy.

SQLite by default, PostgreSQL in deployment.  Writes are idempotent upserts,
so a replayed track or alert line never makes a second row.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Iterable

import orjson
from sqlalchemy import (Column, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, create_engine, delete, event, func, or_, select)
from sqlalchemy.engine import Engine

from fusion.model import iso_time

from ingest.timeparse import parse_iso

from services.delivery.conflation import steady
from services.access.workflow import SEVERITIES, TERMINAL, apply_change

metadata = MetaData()
ID_LENGTH = 160  # a partner's record: "<origin node>:<its id>" (node ids up to 64 characters)


def partner_columns() -> list[Column]:
    """A partner node's record: the node path it came through (comma-separated, oldest first)
    and when the agreement's retention ends (then it is purged)."""
    return [Column("origin", Text), Column("expires_s", Float)]


tracks = Table(
    "tracks", metadata,
    Column("track_id", String(ID_LENGTH), primary_key=True),
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
    *partner_columns(),  # a partner node's track (services.federation.inbound)
    Column("releasability", Text),  # a partner's track: the tokens it was shared under, ",SG,ASEAN,"
)

history = Table(
    "track_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("track_id", String(ID_LENGTH), nullable=False),
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
    Column("alert_id", String(ID_LENGTH), primary_key=True),
    Column("type", String(32), nullable=False, index=True),
    Column("severity", String(16), nullable=False),
    Column("time_s", Float, nullable=False, index=True),
    Column("track_id", String(ID_LENGTH)), Column("mmsi", Integer),
    Column("lat", Float), Column("lon", Float), Column("zone", String(128)),
    Column("summary", Text, nullable=False), Column("evidence", Text),
    Column("state", String(16), nullable=False, index=True),
    Column("acked_by", String(64)), Column("acked_at_s", Float),
    # the officers' workflow (services.access.workflow): kept by the store, never by a replayed line
    Column("assignee", String(64)), Column("disposition", String(32), index=True),
    Column("history", Text),  # JSON: the audit trail, oldest first
    Column("suppressed_by", String(32), index=True), Column("suppressed_until_s", Float),
    # the evidence's releasability tokens as ",PH,ASEAN," (an agency's counts in one query)
    Column("releasability", Text),
    *partner_columns(),
)

suppressions = Table(
    "suppressions", metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(32)), Column("track_id", String(128)), Column("zone", String(128)),
    Column("bbox", Text),  # JSON [w, s, e, n] or NULL
    Column("until_s", Float, nullable=False), Column("reason", Text, nullable=False),
    Column("created_by", String(64)), Column("created_s", Float),
    Column("released_s", Float),  # when its held-back alerts were raised again (expiry or deletion)
)

incidents = Table(
    "incidents", metadata,
    Column("incident_id", String(ID_LENGTH), primary_key=True),
    Column("category", String(32), nullable=False, index=True),
    Column("title", Text, nullable=False), Column("summary", Text, nullable=False),
    Column("alert_ids", Text), Column("track_ids", Text),  # JSON lists
    Column("releasability", Text, nullable=False),            # JSON: as the officer gave it
    Column("releasability_effective", Text, nullable=False),  # JSON: the meet with what it links
    Column("state", String(16), nullable=False, index=True),
    Column("assignee", String(64)), Column("disposition", String(32)), Column("history", Text),
    Column("created_by", String(64)), Column("created_s", Float, nullable=False, index=True),
    Column("updated_s", Float, nullable=False),
    *partner_columns(),
)

zones = Table(
    "zones", metadata,
    Column("name", String(128), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("feature", Text, nullable=False),  # the GeoJSON Feature as given
    Column("created_by", String(64)), Column("created_s", Float),
)

zone_policies = Table(
    "zone_policies", metadata,
    Column("name", String(128), primary_key=True),  # a built-in or a user zone's name
    Column("policy", Text, nullable=False),         # JSON: the admin's override (fusion/rules/zones.py keys)
    Column("updated_by", String(64)), Column("updated_s", Float),
)

LIVE = ("tentative", "confirmed", "coasting")
HISTORY_FIELDS = ("track_id", "time_s", "lat", "lon", "sog_kn", "cog_deg", "sensors", "fixes")


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class HistoryThinning:
    """Which track lines become history points (what the replay and the track's trail need).

    Per track and per set of sensors that made the point (each point is as releasable as what
    made it, so an agency entitled to some of a track's sensors keeps a trail of its own): the
    first line, then one at most every ``every_s`` seconds of feed time, plus every line whose
    course (from ``min_sog_kn`` up: a slow vessel's course is noise) or speed changed by
    ``turn_deg`` or ``speed_kn`` since the last point kept, or whose identity (MMSI) changed;
    and every late or out-of-order point (a report older than the newest kept).  ``every_s`` 0
    keeps every line.  What is remembered is forgotten with the history (``forget``)."""

    def __init__(self, every_s: float = 5.0, turn_deg: float = 5.0, speed_kn: float = 1.0,
                 min_sog_kn: float = 2.0) -> None:
        self.every_s, self.turn_deg, self.speed_kn, self.min_sog_kn = every_s, turn_deg, speed_kn, min_sog_kn
        self.last: dict[tuple[str, str], tuple[float, float | None, float | None, int | None]] = {}

    def keep(self, row: dict[str, Any], late: bool) -> bool:
        if self.every_s <= 0 or late:
            return True
        key = (row["track_id"], row["sensors"])
        t, sog, cog, mmsi = row["time_s"], row["sog_kn"], row["cog_deg"], row["mmsi"]
        prev = self.last.get(key)
        if prev is not None:
            p_t, p_sog, p_cog, p_mmsi = prev
            if t < p_t:
                return True  # out of order: kept; the thinning goes on from the newest
            if (t < p_t + self.every_s and p_mmsi == mmsi
                    and steady(sog, p_sog, cog, p_cog, self.speed_kn, self.turn_deg, self.min_sog_kn)):
                return False
        self.last[key] = (t, sog, cog, mmsi)
        return True

    def forget(self, older_than_s: float) -> None:
        self.last = {k: v for k, v in self.last.items() if v[0] >= older_than_s}


class Store:
    def __init__(self, url: str, history_every_s: float = 5.0) -> None:
        self.url = url
        self.thinning = HistoryThinning(history_every_s)
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A database made by an earlier version gets the columns added since (all nullable)."""
        from sqlalchemy import inspect, text
        insp = inspect(self.engine)
        for table in (tracks, history, alerts, incidents):
            have = {c["name"]: c["type"] for c in insp.get_columns(table.name)}
            for col in table.columns:
                kind = col.type.compile(dialect=self.engine.dialect)
                if col.name not in have:
                    with self.engine.begin() as conn:
                        conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN {col.name} {kind}'))
                elif (self.engine.dialect.name == "postgresql" and getattr(col.type, "length", None)
                      and (getattr(have[col.name], "length", None) or 0) < col.type.length):
                    with self.engine.begin() as conn:  # ids made longer (partner records)
                        conn.execute(text(f'ALTER TABLE {table.name} ALTER COLUMN {col.name} TYPE {kind}'))

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
            if self.thinning.keep(row, bool(line.get("late"))):
                points.append({k: row[k] for k in HISTORY_FIELDS})
        if not latest:
            return
        with self.engine.begin() as conn:
            stmt = self._insert(tracks)
            cols = {c.name: stmt.excluded[c.name] for c in tracks.columns if c.name != "track_id"}
            stmt = stmt.on_conflict_do_update(index_elements=["track_id"], set_=cols,
                                              where=tracks.c.time_s <= stmt.excluded.time_s)
            conn.execute(stmt, list(latest.values()))
            if points:  # every line of the batch may have been thinned out
                conn.execute(self._insert(history).on_conflict_do_nothing(), _unique(points))

    def write_alerts(self, lines: Iterable[dict[str, Any]],
                     held: dict[str, tuple[str, float]] | None = None) -> None:
        """Upsert alerts; an officer's acknowledgement and workflow are not undone by a replayed
        line.  ``held``: alert id → (suppression id, until) for the lines a suppression holds back."""
        held = held or {}
        rules: list[dict[str, Any]] = []  # a rule's line: its closed or retracted state counts
        echoes: list[dict[str, Any]] = []  # an officer's change echoed on mfc.alerts (it has a workflow)
        for a in lines:
            row = _alert_row(a)
            row["suppressed_by"], row["suppressed_until_s"] = held.get(row["alert_id"], (None, None))
            (echoes if "workflow" in a else rules).append(row)
        if not rules and not echoes:
            return
        with self.engine.begin() as conn:
            stmt = self._insert(alerts)
            keep = ("alert_id", "acked_by", "acked_at_s", "state", "assignee", "disposition", "history",
                    "suppressed_by", "suppressed_until_s")
            cols = {c.name: stmt.excluded[c.name] for c in alerts.columns if c.name not in keep}
            for name in ("suppressed_by", "suppressed_until_s"):  # a line not held keeps the mark (counted)
                cols[name] = func.coalesce(stmt.excluded[name], alerts.c[name])
            if echoes:  # the store made that change itself (change_alert): the state it holds now is
                # newer than the echo, which may arrive after the officer's next change (a reopening)
                conn.execute(stmt.on_conflict_do_update(index_elements=["alert_id"], set_=cols), echoes)
            if rules:
                cols["state"] = func.coalesce(
                    func.nullif(stmt.excluded.state, "open"), alerts.c.state)  # open never reopens an ack
                conn.execute(stmt.on_conflict_do_update(index_elements=["alert_id"], set_=cols), rules)

    def ack_alert(self, alert_id: str, who: str, at_s: float | None = None) -> dict[str, Any] | None:
        at_s = at_s or time.time()
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)
                               .with_for_update()).mappings().first()
            if row is None:
                return None
            if row["state"] == "open":
                _, wf = apply_change("open", _workflow(row), {"state": "acknowledged"}, who, at_s)
                conn.execute(alerts.update().where(alerts.c.alert_id == alert_id).values(
                    state="acknowledged", acked_by=who, acked_at_s=at_s, history=json.dumps(wf["history"])))
        return self.alert(alert_id)

    def change_alert(self, alert_id: str, change: dict[str, Any], who: str,
                     at_s: float) -> dict[str, Any] | None:
        """Apply an officer's change (``services.access.workflow``); None if there is no such alert.
        Raises ``WorkflowError`` for a refused change (nothing is written)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)
                               .with_for_update()).mappings().first()
            if row is None:
                return None
            state, wf = apply_change(row["state"], _workflow(row), change, who, at_s)
            values: dict[str, Any] = {"state": state, "assignee": wf["assignee"], "disposition": wf["disposition"],
                                      "history": json.dumps(wf["history"])}
            if state == "acknowledged" and row["state"] != "acknowledged":
                values.update(acked_by=who, acked_at_s=at_s)
            conn.execute(alerts.update().where(alerts.c.alert_id == alert_id).values(**values))
        return self.alert(alert_id)

    # ------------------------------------------------------------ suppressions
    def add_suppression(self, supp: dict[str, Any], who: str, at_s: float,
                        existing: Iterable[str] = ()) -> dict[str, Any]:
        """Store a suppression (``workflow.check_suppression``'s fields) and mark the alerts it
        holds back already (``existing``: their ids)."""
        sid = f"S{secrets.token_hex(6)}"
        row = {"id": sid, "type": supp.get("type"), "track_id": supp.get("track_id"), "zone": supp.get("zone"),
               "bbox": None if supp.get("bbox") is None else json.dumps(supp["bbox"]),
               "until_s": supp["until_s"], "reason": supp["reason"], "created_by": who, "created_s": at_s}
        with self.engine.begin() as conn:
            conn.execute(suppressions.insert().values(**row))
            ids = list(existing)
            for i in range(0, len(ids), 500):
                conn.execute(alerts.update().where(alerts.c.alert_id.in_(ids[i:i + 500])).values(
                    suppressed_by=sid, suppressed_until_s=supp["until_s"]))
        return self.suppression(sid)  # type: ignore[return-value]

    def suppression(self, sid: str) -> dict[str, Any] | None:
        return next((s for s in self.suppressions(all_=True) if s["id"] == sid), None)

    def suppressions(self, now_s: float | None = None, all_: bool = False) -> list[dict[str, Any]]:
        """Suppressions (those still running at ``now_s`` unless ``all_``), each with ``held``:
        the alerts it has held back."""
        q = select(suppressions).order_by(suppressions.c.created_s, suppressions.c.id)
        if not all_ and now_s is not None:
            q = q.where(suppressions.c.until_s > now_s)
        counted = (select(alerts.c.suppressed_by, func.count()).where(alerts.c.suppressed_by.is_not(None))
                   .group_by(alerts.c.suppressed_by))
        with self.engine.connect() as conn:
            held = {sid: n for sid, n in conn.execute(counted)}
            return [_suppression_line(r, held.get(r["id"], 0)) for r in conn.execute(q).mappings()]

    def delete_suppression(self, sid: str) -> bool:
        """Forget a suppression; the alerts it held back are in the queue again."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(suppressions).where(suppressions.c.id == sid)).rowcount > 0
            if gone:
                conn.execute(alerts.update().where(alerts.c.suppressed_by == sid).values(
                    suppressed_until_s=None))
        return gone

    def claim_expired(self, now_s: float) -> list[str]:
        """Ids of the suppressions that ran out and were not released yet, claimed by this caller
        (an atomic update: with several processes, each expiry is released once)."""
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(suppressions.c.id).where(
                suppressions.c.until_s <= now_s, suppressions.c.released_s.is_(None)))]
            mine = []
            for sid in ids:
                if conn.execute(suppressions.update().where(
                        suppressions.c.id == sid, suppressions.c.released_s.is_(None)).values(
                        released_s=now_s)).rowcount:
                    mine.append(sid)
        return mine

    def held_by(self, sid: str, live_only: bool = True) -> list[dict[str, Any]]:
        """The alerts suppression ``sid`` held back (those not closed or retracted)."""
        q = select(alerts).where(alerts.c.suppressed_by == sid)
        if live_only:
            q = q.where(alerts.c.state.not_in(TERMINAL))
        with self.engine.connect() as conn:
            return [_alert_line(r) for r in conn.execute(q).mappings()]

    def live_alerts(self) -> list[dict[str, Any]]:
        """Alerts neither closed nor retracted (what a new suppression may hold back at once)."""
        with self.engine.connect() as conn:
            return [_alert_line(r) for r in conn.execute(
                select(alerts).where(alerts.c.state.not_in(TERMINAL))).mappings()]

    # --------------------------------------------------------------- incidents
    def add_incident(self, inc: dict[str, Any], who: str, at_s: float) -> dict[str, Any]:
        iid = f"I{secrets.token_hex(6)}"
        history = [{"at": iso_time(at_s), "by": who, "action": "create"}]
        with self.engine.begin() as conn:
            conn.execute(incidents.insert().values(
                incident_id=iid, category=inc["category"], title=inc["title"], summary=inc["summary"],
                alert_ids=json.dumps(inc.get("alert_ids") or []), track_ids=json.dumps(inc.get("track_ids") or []),
                releasability=json.dumps(inc["releasability"]),
                releasability_effective=json.dumps(inc["releasability_effective"]),
                state="open", history=json.dumps(history), created_by=who, created_s=at_s, updated_s=at_s))
        return self.incident(iid)  # type: ignore[return-value]

    def change_incident(self, iid: str, change: dict[str, Any], who: str, at_s: float,
                        effective: list[str] | None = None) -> dict[str, Any] | None:
        """Apply an officer's change to an incident (as to an alert); ``effective``: its
        releasability meet recomputed now.  None if there is no such incident."""
        with self.engine.begin() as conn:
            row = conn.execute(select(incidents).where(incidents.c.incident_id == iid)
                               .with_for_update()).mappings().first()
            if row is None:
                return None
            state, wf = apply_change(row["state"], _workflow(row), change, who, at_s)
            values: dict[str, Any] = {"state": state, "assignee": wf["assignee"], "disposition": wf["disposition"],
                                      "history": json.dumps(wf["history"]), "updated_s": at_s}
            if effective is not None:
                values["releasability_effective"] = json.dumps(effective)
            conn.execute(incidents.update().where(incidents.c.incident_id == iid).values(**values))
        return self.incident(iid)

    def incident(self, iid: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(incidents).where(incidents.c.incident_id == iid)).mappings().first()
        return None if row is None else _incident_line(row)

    def incidents(self, category: str | None = None, state: str | None = None,
                  limit: int = 500) -> list[dict[str, Any]]:
        q = select(incidents)
        if category:
            q = q.where(incidents.c.category == category)
        if state:
            q = q.where(incidents.c.state == state)
        q = q.order_by(incidents.c.created_s.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_incident_line(r) for r in conn.execute(q).mappings()]

    # -------------------------------------------------------- partner nodes' data
    def put_partner_incident(self, inc: dict[str, Any]) -> None:
        """Store a partner node's incident as it stands at the partner (``services.federation.inbound``
        checked it): its state, and ``origin`` and ``expires_s``."""
        row = {"incident_id": inc["incident_id"], "category": str(inc.get("category") or "other")[:32],
               "title": str(inc.get("title") or ""), "summary": str(inc.get("summary") or ""),
               "alert_ids": json.dumps(inc.get("alert_ids") or []), "track_ids": json.dumps(inc.get("track_ids") or []),
               "releasability": json.dumps(inc["releasability"]),
               "releasability_effective": json.dumps(inc["releasability_effective"]),
               "state": inc["state"], "history": json.dumps([]), "created_by": str(inc.get("created_by") or "")[:64],
               "created_s": inc["created_s"], "updated_s": inc["updated_s"], **_partner_row(inc)}
        with self.engine.begin() as conn:
            stmt = self._insert(incidents)
            cols = {c.name: stmt.excluded[c.name] for c in incidents.columns
                    if c.name not in ("incident_id", "assignee", "disposition", "history")}
            conn.execute(stmt.on_conflict_do_update(index_elements=["incident_id"], set_=cols,
                                                    where=incidents.c.updated_s <= stmt.excluded.updated_s), [row])

    def purge_partner_data(self, now_s: float) -> int:
        """Delete partner nodes' records whose agreement's retention has ended (and the history
        of their tracks); how many records went."""
        gone = 0
        with self.engine.begin() as conn:
            old = select(tracks.c.track_id).where(tracks.c.expires_s < now_s)
            conn.execute(delete(history).where(history.c.track_id.in_(old)))
            for table in (tracks, alerts, incidents):
                gone += conn.execute(delete(table).where(table.c.expires_s < now_s)).rowcount
        return gone

    def local_track_of(self, mmsi: int) -> str | None:
        """The id of this node's own live track of ``mmsi`` (the newest), if it has one."""
        q = (select(tracks.c.track_id).where(tracks.c.mmsi == mmsi, tracks.c.origin.is_(None),
                                             tracks.c.status.in_(LIVE))
             .order_by(tracks.c.time_s.desc()).limit(1))
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    # ------------------------------------------------------------------- stats
    def alert_stats(self, since_s: float | None = None, now_s: float | None = None) -> dict[str, dict[str, Any]]:
        """Per alert type: counts by state and by disposition, the alerts held back now, and
        precision = true positives / (true + false positives) from the officers' dispositions."""
        q = select(alerts.c.type, alerts.c.state, alerts.c.disposition, func.count()).group_by(
            alerts.c.type, alerts.c.state, alerts.c.disposition)
        h = select(alerts.c.type, func.count()).where(alerts.c.suppressed_until_s > (now_s or time.time())) \
            .group_by(alerts.c.type)
        if since_s is not None:
            q, h = q.where(alerts.c.time_s >= since_s), h.where(alerts.c.time_s >= since_s)
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for type_, state, disposition, n in conn.execute(q):
                t = out.setdefault(type_, {"total": 0, "states": {}, "dispositions": {}, "suppressed": 0})
                t["total"] += n
                t["states"][state] = t["states"].get(state, 0) + n
                if disposition:
                    t["dispositions"][disposition] = t["dispositions"].get(disposition, 0) + n
            for type_, n in conn.execute(h):
                if type_ in out:
                    out[type_]["suppressed"] = n
        for t in out.values():
            tp, fp = t["dispositions"].get("true_positive", 0), t["dispositions"].get("false_positive", 0)
            t["precision"] = tp / (tp + fp) if tp + fp else None
        return dict(sorted(out.items()))

    def put_zone(self, name: str, kind: str, feature: dict[str, Any], who: str, at_s: float) -> None:
        with self.engine.begin() as conn:
            stmt = self._insert(zones)
            row = {"name": name, "kind": kind, "feature": json.dumps(feature), "created_by": who, "created_s": at_s}
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={
                k: stmt.excluded[k] for k in ("kind", "feature", "created_by", "created_s")}), [row])

    def delete_zone(self, name: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(zones).where(zones.c.name == name)).rowcount > 0

    def put_zone_policy(self, name: str, policy: dict[str, Any], who: str, at_s: float) -> None:
        """Set (replace) a zone's policy override; an empty one removes it."""
        with self.engine.begin() as conn:
            conn.execute(delete(zone_policies).where(zone_policies.c.name == name))
            if policy:
                conn.execute(zone_policies.insert().values(name=name, policy=json.dumps(policy),
                                                           updated_by=who, updated_s=at_s))

    def delete_zone_policy(self, name: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(zone_policies).where(zone_policies.c.name == name)).rowcount > 0

    def zone_policies(self) -> dict[str, dict[str, Any]]:
        """Zone name → ``{"policy", "updated_by", "updated_s"}`` for every override set."""
        with self.engine.connect() as conn:
            return {r["name"]: {"policy": json.loads(r["policy"]), "updated_by": r["updated_by"],
                                "updated_s": r["updated_s"]}
                    for r in conn.execute(select(zone_policies)).mappings()}

    def zones(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [json.loads(r["feature"]) for r in conn.execute(select(zones).order_by(zones.c.name)).mappings()]

    def prune_history(self, older_than_s: float) -> int:
        self.thinning.forget(older_than_s)
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
               limit: int = 500, min_severity: str | None = None, now_s: float | None = None,
               suppressed: bool | None = None) -> list[dict[str, Any]]:
        """Alerts, newest first.  With ``now_s``, ``suppressed`` False leaves out the alerts a
        suppression holds back at ``now_s`` (the queue), True gives only those, None both."""
        q = select(alerts)
        if min_severity:
            q = q.where(alerts.c.severity.in_(SEVERITIES[SEVERITIES.index(min_severity):]))
        if now_s is not None and suppressed is not None:
            held = alerts.c.suppressed_until_s > now_s
            q = q.where(held if suppressed else or_(alerts.c.suppressed_until_s.is_(None), ~held))
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

    def suppressed_count(self, now_s: float, agency: str | None = None) -> int:
        """Alerts a suppression holds back at ``now_s``; with ``agency``, only those releasable to it
        (counted in the database; a line stored before the ``releasability`` column existed is
        judged from its evidence)."""
        held = alerts.c.suppressed_until_s > now_s
        with self.engine.connect() as conn:
            if agency is None:
                return conn.execute(select(func.count()).select_from(alerts).where(held)).scalar_one()
            n = conn.execute(select(func.count()).select_from(alerts).where(
                held, self._releasable_clause(agency))).scalar_one()
            legacy = conn.execute(select(alerts.c.evidence).where(held, alerts.c.releasability.is_(None)))
            from services.access.visibility import releasable_to
            return n + sum(releasable_to({"evidence": json.loads(e or "{}")}, agency) for (e,) in legacy)

    @staticmethod
    def _releasable_clause(agency: str) -> Any:
        def like(token: str) -> Any:
            esc = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return alerts.c.releasability.like(f"%,{esc},%", escape="\\")
        return or_(*(like(t) for t in _covering_tokens(agency)))

    def held_at(self, alert_id: str, now_s: float) -> bool:
        """Does a suppression hold alert ``alert_id`` back at ``now_s``?"""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(alerts).where(
                alerts.c.alert_id == alert_id, alerts.c.suppressed_until_s > now_s)).scalar_one() > 0

    def alert_counts_by_state(self, now_s: float) -> dict[str, int]:
        """Alerts in the store by state, without those a suppression holds back at ``now_s``."""
        with self.engine.connect() as conn:
            return {k: n for k, n in conn.execute(
                select(alerts.c.state, func.count()).where(or_(
                    alerts.c.suppressed_until_s.is_(None), alerts.c.suppressed_until_s <= now_s))
                .group_by(alerts.c.state))}

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
        **_partner_row(line),
        "releasability": _tokens_text(line.get("releasability")) if line.get("origin") else None,
    }


def _partner_row(line: dict[str, Any]) -> dict[str, Any]:
    origin = line.get("origin")
    return {"origin": ",".join(origin) if isinstance(origin, list) and origin else None,
            "expires_s": line.get("expires_s") if origin else None}


def _partner_line(row: Any, line: dict[str, Any]) -> dict[str, Any]:
    """A partner's record gets ``origin`` (local records are as before)."""
    if row["origin"]:
        line["origin"] = _ids(row["origin"])
    return line


def _ids(text: str | None) -> list[str]:
    return [s for s in (text or "").split(",") if s]


def _fixes(text: str | None) -> dict[str, Any] | None:
    """The stored per-sensor fixes; orjson (a sixth of the time: 20,000 of them in every
    rendering of a large picture), the standard library for what it refuses (NaN)."""
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _track_line(row: Any) -> dict[str, Any]:
    line = {
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
    if row["origin"]:
        line.update(origin=_ids(row["origin"]), releasability=_ids(row["releasability"]))
    return line


def _alert_row(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "alert_id": a["alert_id"], "type": a["type"], "severity": a["severity"],
        "time_s": parse_iso(a["time"]), "track_id": a.get("track_id"), "mmsi": a.get("mmsi"),
        "lat": a.get("lat"), "lon": a.get("lon"), "zone": a.get("zone"), "summary": a["summary"],
        "evidence": json.dumps(a.get("evidence") or {}), "state": a.get("state", "open"),
        "releasability": _tokens_text((a.get("evidence") or {}).get("releasability")),
        **_partner_row(a),
    }


def _tokens_text(tokens: Any) -> str:
    """``",PH,ASEAN,"`` for a list of releasability tokens; ``","`` (covers no one) otherwise."""
    if not isinstance(tokens, list):
        return ","
    return "," + "".join(f"{t}," for t in tokens if isinstance(t, str) and t and "," not in t)


def _covering_tokens(agency: str) -> list[str]:
    """Every token that covers ``agency`` (``services.access.visibility.covers``): the wildcards, the
    agency itself and each of its dash-separated prefixes (``PH`` covers ``PH-CG``)."""
    from services.access.visibility import WILDCARDS
    parts = agency.split("-")
    return sorted({*WILDCARDS, agency, *("-".join(parts[:i]) for i in range(1, len(parts)))} - {""})


def _alert_line(row: Any) -> dict[str, Any]:
    return _partner_line(row, {
        "alert_id": row["alert_id"], "type": row["type"], "severity": row["severity"],
        "time": iso_time(row["time_s"]), "track_id": row["track_id"], "mmsi": row["mmsi"],
        "lat": row["lat"], "lon": row["lon"], "zone": row["zone"], "summary": row["summary"],
        "evidence": json.loads(row["evidence"] or "{}"), "state": row["state"],
        "acked_by": row["acked_by"],
        "acked_at": None if row["acked_at_s"] is None else iso_time(row["acked_at_s"]),
        "workflow": _workflow(row),
        **({"suppressed_by": row["suppressed_by"]} if row["suppressed_by"] else {}),
    })


def _workflow(row: Any) -> dict[str, Any]:
    return {"assignee": row["assignee"], "disposition": row["disposition"],
            "history": json.loads(row["history"]) if row["history"] else []}


def _suppression_line(row: Any, held: int) -> dict[str, Any]:
    return {"id": row["id"], "type": row["type"], "track_id": row["track_id"], "zone": row["zone"],
            "bbox": json.loads(row["bbox"]) if row["bbox"] else None, "until": iso_time(row["until_s"]),
            "reason": row["reason"], "created_by": row["created_by"], "created": iso_time(row["created_s"]),
            "held": held}


def _incident_line(row: Any) -> dict[str, Any]:
    return _partner_line(row, {
        "incident_id": row["incident_id"], "category": row["category"], "title": row["title"],
        "summary": row["summary"], "alert_ids": json.loads(row["alert_ids"] or "[]"),
        "track_ids": json.loads(row["track_ids"] or "[]"), "releasability": json.loads(row["releasability"]),
        "releasability_effective": json.loads(row["releasability_effective"]), "state": row["state"],
        "created": iso_time(row["created_s"]), "created_by": row["created_by"],
        "updated": iso_time(row["updated_s"]), "workflow": _workflow(row),
    })
