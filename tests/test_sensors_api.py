"""Integrators register their sensors through the API, and feed them at once."""

from __future__ import annotations

import json
import time

import httpx

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for

INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
RADAR = {"id": "RAD-NEW", "kind": "radar", "lat": 11.0, "lon": 115.0, "range_m": 40000, "accuracy_m": 30,
         "scan_period_s": 3}


def plots(sensor_id: str, t0: float, scans: int, lat: float = 11.1, lon: float = 115.1) -> str:
    """One vessel seen at each scan, moving east at about 10 kn."""
    return "\n".join(json.dumps({"kind": "plot", "sensor_id": sensor_id, "time": t0 + 3 * k,
                                 "lat": lat, "lon": lon + 0.00014 * k, "sigma_m": 30}) for k in range(scans))


def test_an_integrator_registers_a_radar_then_its_plots_make_a_track(tmp_path):
    with LiveServer(make_runtime(tmp_path)) as server:
        url = server.url
        now = time.time()
        before = httpx.post(f"{url}/v1/ingest/radar", content=plots("RAD-NEW", now - 30, 1), headers=INTEGRATOR).json()
        assert before["accepted"] == 0 and "unknown sensor" in before["rejects"][0]["reason"]

        r = httpx.post(f"{url}/v1/sensors", json=RADAR, headers=INTEGRATOR)
        assert r.status_code == 201, r.text
        (sensor,) = r.json()["sensors"]
        assert sensor["owner"] == "test-integrator"  # the key's name, since none was given
        listed = {s["id"]: s for s in httpx.get(f"{url}/v1/sensors", headers=OFFICER).json()["sensors"]}
        assert listed["RAD-NEW"]["range_m"] == 40000

        listed = {s["id"]: s for s in httpx.get(f"{url}/v1/sensors", headers=OFFICER).json()["sensors"]}
        assert listed["RAD-NEW"]["health"]["status"] == "never"
        bad = '{"kind": "plot", "sensor_id": "RAD-NEW", "time": %f, "lat": 91.5, "lon": 115.1}' % (now - 28)
        after = httpx.post(f"{url}/v1/ingest/radar", content=plots("RAD-NEW", now - 27, 8) + "\n" + bad,
                           headers=INTEGRATOR).json()
        assert after["accepted"] == 8 and after["rejected"] == 1, after
        health = {s["id"]: s for s in httpx.get(f"{url}/v1/sensors", headers=OFFICER).json()["sensors"]}["RAD-NEW"]["health"]
        assert health["status"] == "live" and health["accepted"] == 8 and health["rejected"] == 1
        assert "91.5" in health["last_reject"] and health["last_observation"] <= health["last_receipt"]

        def radar_only():
            return [t for t in httpx.get(f"{url}/v1/tracks", headers=OFFICER).json()["tracks"]
                    if t["sources"] == ["radar"] and abs(t["lat"] - 11.1) < 0.01]

        assert len(wait_for(radar_only)) == 1

    # registrations survive a restart on the same database; deleting one stops its feed
    with LiveServer(make_runtime(tmp_path)) as server:
        url = server.url
        assert "RAD-NEW" in {s["id"] for s in httpx.get(f"{url}/v1/sensors", headers=OFFICER).json()["sensors"]}
        assert httpx.delete(f"{url}/v1/sensors/RAD-NEW", headers=INTEGRATOR).status_code == 200
        gone = httpx.post(f"{url}/v1/ingest/radar", content=plots("RAD-NEW", time.time() - 5, 1),
                          headers=INTEGRATOR).json()
        assert gone["accepted"] == 0 and "unknown sensor" in gone["rejects"][0]["reason"]


def test_sensor_registrations_are_checked(live_server):
    url = live_server.url
    post = lambda body, who=INTEGRATOR: httpx.post(f"{url}/v1/sensors", json=body, headers=who)  # noqa: E731
    r = post({**RADAR, "lat": 95.0})
    assert r.status_code == 422 and "latitude" in r.json()["error"]
    r = post({**RADAR, "kind": "sonar"})
    assert r.status_code == 422 and "kind" in r.json()["error"]
    r = post({"sensors": [RADAR, {**RADAR, "id": "RAD-NEW"}]})
    assert r.status_code == 422 and "duplicate" in r.json()["error"]
    # an integrator cannot register for another owner, nor take over someone else's sensor
    assert post({**RADAR, "owner": "someone-else"}).status_code == 403
    assert post({**RADAR, "id": "RAD-OTHER"}).status_code == 403
    assert post(RADAR, OFFICER).status_code == 403
    # an admin can; sensors from the sensors file are changed in the file, not deleted here
    assert post({**RADAR, "owner": "someone-else"}, ADMIN).status_code == 201
    assert httpx.delete(f"{url}/v1/sensors/RAD-NEW", headers=INTEGRATOR).status_code == 404  # not its sensor
    assert httpx.delete(f"{url}/v1/sensors/RAD-T1", headers=INTEGRATOR).status_code == 409


def test_a_registered_ais_receiver_extends_the_coverage_ais_gap_judges_by(live_server):
    geo = live_server.runtime.fusion_worker.fusion.rules.ctx.geo
    far = (16.0, 119.5)  # off Luzon: no test receiver hears it
    assert geo.in_coverage(*far) is False
    receiver = {"id": "AIS-LUZON", "kind": "ais", "lat": 16.0, "lon": 119.8, "range_m": 74000,
                "releasability": ["PH"]}
    assert httpx.post(f"{live_server.url}/v1/sensors", json=receiver, headers=INTEGRATOR).status_code == 201
    assert geo.in_coverage(*far) is True  # the call returns once fusion knows the receiver
    assert geo.releasability_of(["AIS-LUZON"], ["ASEAN"]) == ["PH"]


def test_other_processes_follow_registrations_on_the_sensors_topic():
    from services.bus.core import EmbeddedBus
    from services.store.sensor_registry import SENSORS_TOPIC, SensorFollower, sensor_message
    from ingest.sensors import load_sensors
    bus = EmbeddedBus()
    radar = load_sensors({"sensors": [{**RADAR, "owner": "PH-CG"}]})["RAD-NEW"]
    bus.publish(SENSORS_TOPIC, "RAD-NEW", sensor_message(radar, "RAD-NEW"))
    bus.publish(SENSORS_TOPIC, "BAD", {"id": "BAD", "kind": "radar"})  # no position: ignored
    seen: list[tuple[str, object]] = []
    sensors: dict = {}
    follower = SensorFollower(bus, sensors, lambda sid, s: seen.append((sid, s)))
    assert follower.poll(0.5) == 1 and sensors == {"RAD-NEW": radar} and seen == [("RAD-NEW", radar)]
    bus.publish(SENSORS_TOPIC, "RAD-NEW", sensor_message(None, "RAD-NEW"))
    assert follower.poll(0.5) == 1 and sensors == {} and seen[-1] == ("RAD-NEW", None)
    # a second process started later still learns every registration from the topic's start
    late: dict = {}
    SensorFollower(bus, late).poll(0.5)
    assert late == {}  # registered, then deleted: gone for it too
