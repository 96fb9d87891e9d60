"""The store on SQLite and on a real PostgreSQL: idempotent writes, filters, alert lifecycle."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from fusion.model import iso_time
from ingest.timeparse import parse_iso
from services.store.sql import Store

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


def test_an_officers_change_echoed_late_on_the_bus_does_not_undo_the_next_one(store):
    # the API writes a change and publishes the row on mfc.alerts; the store writer may take
    # that echo after the officer's next change (here: closed, then reopened at once)
    store.write_alerts([alert()])
    closed = store.change_alert("A1", {"state": "closed", "disposition": "benign"}, "officer-ana", 1795507600.0)
    reopened = store.change_alert("A1", {"state": "open"}, "officer-ana", 1795507610.0)
    assert reopened["state"] == "open"
    store.write_alerts([closed])  # the late echo of the close
    assert store.alert("A1")["state"] == "open"
    assert store.change_alert("A1", {"comment": "still open"}, "officer-ana", 1795507620.0) is not None
    store.write_alerts([alert(state="closed")])  # the rule's own line still ends the episode
    assert store.alert("A1")["state"] == "closed"


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
        # a partner node's track id is longer than the old column allowed (PostgreSQL enforces it)
        long_id = "INDIA-IFC-IOR-GURUGRAM:T00000000000123456789"
        reopened.write_tracks([{**line(long_id), "origin": ["INDIA-IFC-IOR-GURUGRAM"], "releasability": ["SG"],
                                "expires_s": 1.9e9}])
        got = reopened.track(long_id)
        assert got["origin"] == ["INDIA-IFC-IOR-GURUGRAM"] and got["releasability"] == ["SG"]
        assert "origin" not in reopened.track("T1")
    finally:
        reopened.close()


def test_workflow_suppressions_and_incidents_persist(store, tmp_path):
    from services.access.workflow import WorkflowError
    store.write_alerts([alert(), alert("A2", type_="loitering")])
    store.change_alert("A1", {"assignee": "ana", "comment": "watching"}, "officer-ana", 1795507600.0)
    row = store.change_alert("A1", {"state": "closed", "disposition": "false_positive"}, "officer-bo", 1795507660.0)
    assert row["state"] == "closed" and row["workflow"]["disposition"] == "false_positive"
    with pytest.raises(WorkflowError):
        store.change_alert("A1", {"comment": "too late"}, "officer-bo", 1795507700.0)
    store.write_alerts([alert()])  # the rule's open line replayed: the officers' work stays
    supp = store.add_suppression({"type": "loitering", "track_id": None, "zone": None, "bbox": [113.0, 9.0, 115.0, 11.0],
                                  "until_s": 1795510000.0, "reason": "tug"}, "officer-bo", 1795507700.0, ["A2"])
    store.write_alerts([alert("A3", type_="loitering")], held={"A3": (supp["id"], 1795510000.0)})
    inc = store.add_incident({"category": "iuu_fishing", "title": "t", "summary": "s", "alert_ids": ["A1"],
                              "track_ids": [], "releasability": ["ASEAN"], "releasability_effective": ["PH"]},
                             "officer-ana", 1795507800.0)
    store.change_incident(inc["incident_id"], {"state": "acknowledged"}, "officer-bo", 1795507900.0)
    reopened = Store(store.url)  # a new process on the same database
    try:
        a1 = reopened.alert("A1")
        assert a1["state"] == "closed" and a1["workflow"]["assignee"] == "ana"
        assert [(h["action"], h["by"]) for h in a1["workflow"]["history"]] == [
            ("assign", "officer-ana"), ("comment", "officer-ana"), ("close", "officer-bo")]
        assert a1["workflow"]["history"][2]["at"] == "2026-11-24T08:07:40Z"
        (s,) = reopened.suppressions(1795508000.0)
        assert s["held"] == 2 and s["bbox"] == [113.0, 9.0, 115.0, 11.0] and s["until"] == "2026-11-24T08:46:40Z"
        assert reopened.suppressed_count(1795508000.0) == 2 and reopened.suppressed_count(1795510001.0) == 0
        assert [a["alert_id"] for a in reopened.alerts(now_s=1795508000.0, suppressed=False)] == ["A1"]
        assert reopened.claim_expired(1795510001.0) == [s["id"]] and reopened.claim_expired(1795510002.0) == []
        stats = reopened.alert_stats(now_s=1795508000.0)
        assert stats["zone_entry"]["precision"] == 0.0 and stats["loitering"]["suppressed"] == 2
        got = reopened.incident(inc["incident_id"])
        assert got["state"] == "acknowledged" and got["releasability_effective"] == ["PH"]
        assert [h["action"] for h in got["workflow"]["history"]] == ["create", "acknowledge"]
        assert reopened.delete_suppression(s["id"]) and reopened.suppressed_count(1795508000.0) == 0
    finally:
        reopened.close()


def _moving(t_s: float, sog: float, cog: float, sensors=("AIS-1",)) -> dict:
    return {**line(time=iso_time(1795507200.0 + t_s), lon=114.0 + t_s * 1e-4), "sog_kn": sog, "cog_deg": cog,
            "sensors": list(sensors)}


def test_history_keeps_a_point_every_few_seconds_and_every_change(tmp_path):
    """A vessel reporting every second: its trail keeps a point every 5 s while it holds course
    and speed, one at least every 2 s through a 3 °/s turn (5° of course), the first one made
    by a new set of sensors and one when it slows down; the latest state is the last line."""
    store = Store(f"sqlite:///{tmp_path / 'thin.db'}", history_every_s=5.0)
    lines = [_moving(t, 12.0, 90.0) for t in range(60)]                     # 0..59 s: straight
    lines += [_moving(60 + t, 12.0, 90.0 + 3.0 * (t + 1)) for t in range(30)]  # 60..89 s: turning to 180°
    lines += [_moving(90 + t, 12.0, 180.0) for t in range(10)]             # 90..99 s: straight
    lines.append(_moving(100, 12.0, 180.0, sensors=("AIS-1", "R1")))        # 100 s: a radar joins
    lines.append(_moving(101, 9.0, 180.0, sensors=("AIS-1", "R1")))         # 101 s: slows by 3 kn
    for i in range(0, len(lines), 7):  # as the store worker writes them: in batches
        store.write_tracks(lines[i:i + 7])
    times = sorted(round(parse_iso(p["time"]) - 1795507200.0) for p in store.history("T1"))
    assert [t for t in times if t < 60] == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]
    in_turn = [t for t in times if 60 <= t < 90]
    assert all(b - a <= 2 for a, b in zip(in_turn, in_turn[1:])) and len(in_turn) >= 14
    assert 100 in times and 101 in times
    assert len(times) < len(lines) / 2.5
    (track,) = store.tracks()
    assert track["time"].startswith("2026-11-24T08:01:41") and track["sog_kn"] == 9.0
    store.close()

    every = Store(f"sqlite:///{tmp_path / 'every.db'}", history_every_s=0.0)
    every.write_tracks(lines)
    assert len(every.history("T1", limit=10_000)) == len(lines)
    every.close()


def test_a_batch_whose_lines_are_all_thinned_updates_the_latest_state(store):
    store.write_tracks([_moving(0, 12.0, 90.0)])
    store.write_tracks([_moving(1, 12.0, 90.0), _moving(2, 12.0, 90.0)])  # no history point: within 5 s
    (track,) = store.tracks()
    assert track["time"] == "2026-11-24T08:00:02Z"
    assert len(store.history("T1")) == 1
