"""The HTTP API, spoken to over real HTTP on loopback: keys, ingest verdicts, the picture."""

from __future__ import annotations

import time

import httpx
import pytest
from pyais.encode import encode_dict

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, wait_for

OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}


def position_sentence(mmsi: int, lat: float, lon: float, sog: float = 10.0, cog: float = 45.0,
                      status: int = 15) -> str:
    """Message 1 as pyais encodes it; navigational status 15 (not defined) unless given (an
    AIS-SART transmits 14 when active, 15 in test mode)."""
    return encode_dict({"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": sog, "course": cog,
                        "heading": int(cog), "status": status}, talker_id="AI")[0]


def static_sentences(mmsi: int, name: str, ship_type: int) -> list[str]:
    return encode_dict({"type": 5, "mmsi": mmsi, "shipname": name, "ship_type": ship_type,
                        "callsign": "DUA1"}, talker_id="AI")


def with_time(sentence: str, unix_s: int) -> str:
    """Prefix an NMEA 4.10 tag block carrying the receive time (``c:`` seconds)."""
    tag = f"c:{unix_s}"
    checksum = 0
    for ch in tag.encode():
        checksum ^= ch
    return f"\\{tag}*{checksum:02X}\\{sentence}"


def corrupt_checksum(sentence: str) -> str:
    body, checksum = sentence.rsplit("*", 1)
    return f"{body}*{(int(checksum, 16) ^ 0x5A):02X}"


@pytest.mark.parametrize("headers, status", [
    pytest.param({}, 401, id="no-key"),
    pytest.param({"Authorization": "Bearer not-a-key"}, 401, id="unknown-key"),
    pytest.param(OFFICER, 200, id="officer"),
])
def test_reading_the_picture_needs_a_known_key(live_server, headers, status):
    r = httpx.get(f"{live_server.url}/v1/tracks", headers=headers)
    assert r.status_code == status
    if status == 401:
        assert "key" in r.json()["error"]


@pytest.mark.parametrize("path", ["/v1/tracks", "/v1/alerts", "/v1/picture", "/ogc/collections/tracks/items",
                                  "/v1/picture.cot", "/metrics"])
def test_a_key_in_the_url_is_refused_outside_the_event_stream(live_server, path):
    """URLs end up in logs and histories: ``?key=`` works only where a browser cannot send a header."""
    for headers in ({}, OFFICER):  # refused even beside a good header: the key has leaked already
        r = httpx.get(f"{live_server.url}{path}", params={"key": OFFICER_KEY}, headers=headers)
        assert r.status_code == 401
        assert "Authorization" in r.json()["error"] and OFFICER_KEY not in r.text
    assert httpx.get(f"{live_server.url}{path}", headers=OFFICER).status_code == 200


def test_the_event_stream_takes_a_key_in_the_url(live_server):
    assert httpx.get(f"{live_server.url}/v1/stream", params={"key": "not-a-key"}).status_code == 401
    with httpx.stream("GET", f"{live_server.url}/v1/stream", params={"key": OFFICER_KEY}, timeout=10) as r:
        assert r.status_code == 200
        assert next(r.iter_lines()) == ": connected"


def test_nothing_writes_anonymously_or_with_a_reading_role(live_server):
    line = position_sentence(548000010, 10.1, 114.1)
    url = f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1"
    assert httpx.post(url, content=line).status_code == 401
    r = httpx.post(url, content=line, headers=OFFICER)
    assert r.status_code == 403 and "integrator" in r.json()["error"]


def test_ais_lines_become_a_track_and_bad_lines_get_reasons(live_server):
    good = [position_sentence(548123456, 10.10 + 0.001 * k, 114.10 + 0.001 * k) for k in range(3)]
    bad = corrupt_checksum(position_sentence(548123457, 10.2, 114.2))
    body = "\n".join([good[0], bad, good[1], *static_sentences(548123456, "LADY M", 70), good[2]])
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content=body, headers=INTEGRATOR)
    assert r.status_code == 202
    verdict = r.json()
    assert verdict["accepted"] == 4  # three positions and one static report
    assert verdict["rejected"] == 1
    (reject,) = verdict["rejects"]
    assert reject["line_no"] == 2 and "checksum" in reject["reason"]

    def tracks():
        rows = httpx.get(f"{live_server.url}/v1/tracks", headers=OFFICER).json()["tracks"]
        return [t for t in rows if t["name"] == "LADY M"]

    (track,) = wait_for(tracks)
    assert track["mmsi"] == 548123456 and track["flag"] == "PH" and track["sources"] == ["ais"]
    assert abs(track["lat"] - 10.102) < 0.01

    one = httpx.get(f"{live_server.url}/v1/tracks/{track['track_id']}", headers=OFFICER).json()
    assert one["track_id"] == track["track_id"]
    history = httpx.get(f"{live_server.url}/v1/tracks/{track['track_id']}/history", headers=OFFICER).json()
    assert len(history["points"]) >= 1

    picture = httpx.get(f"{live_server.url}/v1/picture", headers=OFFICER).json()
    assert picture["type"] == "FeatureCollection"
    feature = next(f for f in picture["features"] if f["properties"]["mmsi"] == 548123456)
    assert feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == [track["lon"], track["lat"]]

    outside = httpx.get(f"{live_server.url}/v1/tracks?bbox=100,0,101,1", headers=OFFICER).json()
    assert outside["tracks"] == []


def test_rejected_lines_reach_the_dead_letter_topic(live_server):
    from services.bus import topics
    consumer = live_server.runtime.bus.consumer(topics.DEADLETTER, "test")
    body = '{"kind": "plot", "sensor_id": "NOPE-1", "time": "2026-11-24T08:00:00Z", "lat": 10, "lon": 114}\n{oops'
    r = httpx.post(f"{live_server.url}/v1/ingest/radar", content=body, headers=INTEGRATOR)
    verdict = r.json()
    assert r.status_code == 202 and verdict["accepted"] == 0 and verdict["rejected"] == 2
    reasons = [x["reason"] for x in verdict["rejects"]]
    assert "NOPE-1" in reasons[0] and "JSON" in reasons[1]
    dead = consumer.poll(timeout_s=2)
    assert [d.value["reason"] for d in dead] == reasons


def test_radar_plots_from_a_registered_radar_are_accepted(live_server):
    import time
    now = time.time()
    body = "\n".join(
        f'{{"kind": "plot", "sensor_id": "RAD-T1", "time": {now - 9 + 3 * k}, "range_m": {20000 + 15 * k}, '
        f'"bearing_deg": 45.0}}' for k in range(4))
    r = httpx.post(f"{live_server.url}/v1/ingest/radar", content=body, headers=INTEGRATOR)
    assert r.status_code == 202 and r.json()["accepted"] == 4


def test_oversize_body_is_refused_with_the_limit(live_server):
    limit = live_server.runtime.settings.max_body_bytes
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content=b"x" * (limit + 1),
                   headers=INTEGRATOR)
    assert r.status_code == 413 and str(limit) in r.json()["error"]


def test_unknown_sensor_gets_a_clear_reason(live_server):
    line = position_sentence(548000011, 10.1, 114.1)
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=NOT-REGISTERED", content=line,
                   headers=INTEGRATOR)
    assert r.status_code == 202
    assert "unknown sensor" in r.json()["rejects"][0]["reason"]


def test_health_and_land_for_the_map(live_server):
    assert httpx.get(f"{live_server.url}/healthz").json()["status"] == "ok"
    land = httpx.get(f"{live_server.url}/v1/land").json()
    assert land["type"] == "FeatureCollection" and len(land["features"]) > 1000


def test_distress_beacon_reaches_the_alert_queue_and_an_officer_acknowledges_it(live_server):
    sart = position_sentence(970012345, 10.3, 114.3, sog=0.0, cog=0.0, status=14)
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content=sart, headers=INTEGRATOR)
    assert r.json()["accepted"] == 1

    def distress():
        rows = httpx.get(f"{live_server.url}/v1/alerts?type=distress", headers=OFFICER).json()["alerts"]
        return [a for a in rows if a["mmsi"] == 970012345]

    (alert,) = wait_for(distress)
    assert alert["severity"] == "critical" and alert["state"] == "open"
    assert abs(alert["lat"] - 10.3) < 0.01 and alert["summary"]
    # an integrator may not acknowledge; an officer may, and it is recorded who did
    url = f"{live_server.url}/v1/alerts/{alert['alert_id']}/ack"
    assert httpx.post(url, headers=INTEGRATOR).status_code == 403
    acked = httpx.post(url, headers=OFFICER).json()
    assert acked["state"] == "acknowledged" and acked["acked_by"] == "demo-officer" and acked["acked_at"]
    assert httpx.post(f"{live_server.url}/v1/alerts/A999999/ack", headers=OFFICER).status_code == 404


def test_live_stream_carries_track_and_alert_events(live_server):
    import json
    import threading

    events: list[tuple[str, dict]] = []
    connected = threading.Event()

    def listen():
        with httpx.stream("GET", f"{live_server.url}/v1/stream?key={OFFICER_KEY}", timeout=20) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            kind = None
            for row in r.iter_lines():
                if row.startswith(": connected"):  # the server registered this listener
                    connected.set()
                if row.startswith("event: "):
                    kind = row[7:]
                elif row.startswith("data: ") and kind:
                    events.append((kind, json.loads(row[6:])))
                    if {k for k, _ in events} == {"track", "alert"}:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(10), "the stream did not connect"
    body = "\n".join([position_sentence(970099999, 10.4, 114.4, 0.0, 0.0, status=14),
                      position_sentence(970099999, 10.4001, 114.4, 0.0, 0.0, status=14)])
    httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content=body, headers=INTEGRATOR)
    thread.join(timeout=15)
    kinds = {k for k, _ in events}
    assert kinds == {"track", "alert"}
    assert any(v.get("mmsi") == 970099999 for k, v in events if k == "track")
    assert any(v["type"] == "distress" for k, v in events if k == "alert")


def test_an_integrator_writes_only_for_its_own_sensors(live_server):
    line = position_sentence(548000012, 10.1, 114.1)
    # a sensor owned by someone else: refused as a whole for AIS, per line for radar
    from .conftest import SENSORS
    live_server.runtime.sensors["AIS-OTHER"] = SENSORS["RAD-OTHER"].__class__(
        "AIS-OTHER", "ais", 10.0, 114.0, owner="someone-else")
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-OTHER", content=line, headers=INTEGRATOR)
    assert r.status_code == 403 and "AIS-OTHER" in r.json()["error"]
    plot = '{"kind": "plot", "sensor_id": "RAD-OTHER", "time": %f, "lat": 10.1, "lon": 114.1}' % __import__("time").time()
    r = httpx.post(f"{live_server.url}/v1/ingest/radar", content=plot, headers=INTEGRATOR)
    assert r.json()["accepted"] == 0 and "may not write" in r.json()["rejects"][0]["reason"]


def test_admin_adds_a_watch_zone_and_a_vessel_entering_it_raises_zone_entry(live_server):
    from .conftest import ADMIN_KEY
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    zone = {"type": "Feature", "properties": {"name": "Exercise Box K", "kind": "closed_area"},
            "geometry": {"type": "Polygon", "coordinates": [[[115.50, 12.50], [115.60, 12.50], [115.60, 12.60],
                                                             [115.50, 12.60], [115.50, 12.50]]]}}
    assert httpx.post(f"{live_server.url}/v1/zones", json=zone, headers=OFFICER).status_code == 403
    bad = {**zone, "geometry": {"type": "Point", "coordinates": [114.5, 10.5]}}
    r = httpx.post(f"{live_server.url}/v1/zones", json=bad, headers=admin)
    assert r.status_code == 422 and "Polygon" in r.json()["error"]
    assert httpx.post(f"{live_server.url}/v1/zones", json=zone, headers=admin).status_code == 201
    names = [f["properties"]["name"] for f in httpx.get(f"{live_server.url}/v1/zones", headers=OFFICER).json()["features"]]
    assert "Exercise Box K" in names and "Scarborough Shoal" in names

    # a vessel steams east at 18 kn (0.00085° of longitude per 10 s) into the box, reports 10 s apart
    t0 = int(time.time()) - 150
    lines = [with_time(position_sentence(533000444, 12.55, 115.4945 + 0.00085 * k, sog=18.0, cog=90.0), t0 + 10 * k)
             for k in range(14)]
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content="\n".join(lines), headers=INTEGRATOR)
    assert r.json()["accepted"] == 14, r.json()

    def entries():
        rows = httpx.get(f"{live_server.url}/v1/alerts?type=zone_entry", headers=OFFICER).json()["alerts"]
        return [a for a in rows if a["mmsi"] == 533000444]

    (alert,) = wait_for(entries)
    assert alert["zone"] == "Exercise Box K" and 115.5 <= alert["lon"] <= 115.51
    assert httpx.delete(f"{live_server.url}/v1/zones/Exercise%20Box%20K", headers=admin).status_code == 200
    assert httpx.delete(f"{live_server.url}/v1/zones/Exercise%20Box%20K", headers=admin).status_code == 404
    names = [f["properties"]["name"] for f in httpx.get(f"{live_server.url}/v1/zones", headers=OFFICER).json()["features"]]
    assert "Exercise Box K" not in names
