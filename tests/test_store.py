"""The store on SQLite and on a real PostgreSQL: idempotent writes, filters, alert lifecycle."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from services.store import Store

from .pg_fixture import postgres_url  # noqa: F401


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.db'}")
        yield s
        s.close()
        return
    base = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    s = Store(base.rsplit("/", 1)[0] + "/" + name)
    yield s
    s.close()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()


def line(track_id="T1", time="2026-11-24T08:00:00Z", lat=10.0, lon=114.0, status="confirmed",
         sources=("ais",), mmsi=548123456):
    return {"track_id": track_id, "time": time, "lat": lat, "lon": lon, "sog_kn": 10.0, "cog_deg": 90.0,
            "sigma_m": 20.0, "mmsi": mmsi, "name": "LADY M", "flag": "PH", "ship_type": 70,
            "sources": list(sources), "status": status}


def alert(alert_id="A1", state="open", time="2026-11-24T08:05:00Z", type_="zone_entry", severity="medium"):
    return {"alert_id": alert_id, "type": type_, "severity": severity, "time": time, "track_id": "T1",
            "mmsi": 548123456, "lat": 10.0, "lon": 114.0, "zone": "Thitu", "summary": "entered Thitu 12 nm",
            "evidence": {"zone": "Thitu", "points": [[10.0, 114.0]]}, "state": state}


def test_latest_state_wins_and_a_replay_adds_nothing(store):
    batch = [line(time="2026-11-24T08:00:00Z"), line(time="2026-11-24T08:00:10Z", lat=10.01)]
    store.write_tracks(batch)
    store.write_tracks(batch)  # at-least-once: the same lines again
    store.write_tracks([line(time="2026-11-24T07:59:00Z", lat=9.0)])  # late, older line
    (track,) = store.tracks()
    assert track["lat"] == pytest.approx(10.01) and track["time"] == "2026-11-24T08:00:10Z"
    history = store.history("T1")
    assert [p["time"] for p in history] == ["2026-11-24T07:59:00Z", "2026-11-24T08:00:00Z", "2026-11-24T08:00:10Z"]


def test_track_filters(store):
    store.write_tracks([
        line("T1", lat=10.0, lon=114.0, sources=("ais", "radar")),
        line("T2", lat=12.0, lon=116.0, sources=("radar",), mmsi=None, time="2026-11-24T09:00:00Z"),
        line("T3", lat=10.5, lon=114.5, status="lost"),
    ])
    assert {t["track_id"] for t in store.tracks()} == {"T1", "T2"}  # lost tracks are not live
    assert [t["track_id"] for t in store.tracks(bbox=(113.5, 9.5, 114.8, 10.8))] == ["T1"]
    assert [t["track_id"] for t in store.tracks(source="radar", since_s=1795510000.0)] == ["T2"]
    assert store.track("T3")["status"] == "lost"
    assert store.tracks(limit=1)[0]["track_id"] == "T2"  # newest first


def test_alert_lifecycle_survives_replays(store):
    store.write_alerts([alert()])
    acked = store.ack_alert("A1", "officer-ana", 1795507600.0)
    assert acked["state"] == "acknowledged" and acked["acked_by"] == "officer-ana"
    store.write_alerts([alert()])  # the same open line replayed: the acknowledgement stays
    assert store.alert("A1")["state"] == "acknowledged"
    store.write_alerts([alert(state="closed")])  # the episode ends
    closed = store.alert("A1")
    assert closed["state"] == "closed" and closed["acked_by"] == "officer-ana"
    assert closed["evidence"]["zone"] == "Thitu"
    store.write_alerts([alert("A2", type_="distress", severity="critical")])
    assert [a["alert_id"] for a in store.alerts(severity="critical")] == ["A2"]
    assert [a["alert_id"] for a in store.alerts(state="closed", type_="zone_entry")] == ["A1"]
    assert store.ack_alert("A404", "x") is None


def test_history_pruning(store):
    store.write_tracks([line(time="2026-11-24T08:00:00Z"), line(time="2026-11-24T10:00:00Z")])
    removed = store.prune_history(older_than_s=1795510800.0)  # 09:00
    assert removed == 1 and len(store.history("T1")) == 1


def test_a_database_from_before_track_sensors_gets_the_column_and_keeps_its_rows(store):
    # the tracks table as an earlier version made it: no sensors column
    url = store.url
    store.close()
    from sqlalchemy import create_engine
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE tracks"))
        conn.execute(text("CREATE TABLE tracks (track_id VARCHAR(32) PRIMARY KEY, time_s FLOAT NOT NULL, "
                          "lat FLOAT NOT NULL, lon FLOAT NOT NULL, sog_kn FLOAT, cog_deg FLOAT, sigma_m FLOAT, "
                          "mmsi INTEGER, name VARCHAR(64), flag VARCHAR(4), ship_type INTEGER, "
                          "sources VARCHAR(32), status VARCHAR(16))"))
        conn.execute(text("INSERT INTO tracks VALUES ('T9', 1795507200.0, 10.0, 114.0, 5.0, 0.0, 20.0, "
                          "NULL, NULL, NULL, NULL, 'radar', 'confirmed')"))
    engine.dispose()
    reopened = Store(url)
    try:
        assert reopened.track("T9")["sensors"] == []  # an old row: no sensor ids (visible to every member)
        reopened.write_tracks([{**line("T1"), "sensors": ["PH-PAG-A1", "PH-PAG-R1"]}])
        assert reopened.track("T1")["sensors"] == ["PH-PAG-A1", "PH-PAG-R1"]
    finally:
        reopened.close()
