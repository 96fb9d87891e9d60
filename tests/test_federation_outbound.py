"""Federation, outbound: an agreement with a partner node lets exactly the records it names leave
this node, signed by the node; everything else is withheld and counted; ending the agreement
cuts the partner off.  The signatures are checked with the ``cryptography`` package's own
Ed25519 verification against the public key the node publishes, not with the product's code."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.bus import topics
from services.config.settings import ApiKey
from services.federation.outbound import canonical, verify

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
KEYS = (ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(ADMIN_KEY, "admin", "test-admin"),
        ApiKey("ph-cg-key-for-tests", "agency", "PH-CG"))


def radar(sensor_id: str, lat: float, releasability: list[str]) -> dict:
    return {"id": sensor_id, "kind": "radar", "lat": lat, "lon": 115.0, "range_m": 40000, "accuracy_m": 30,
            "scan_period_s": 3, "releasability": releasability}


# one radar per marking, each watching its own vessel (0.1° of latitude apart)
RADARS = {"RAD-PH": (11.0, ["PH"]), "RAD-SG": (11.2, ["SG"]), "RAD-SG-MPA": (11.4, ["SG-MPA"]),
          "RAD-ASEAN": (11.6, ["ASEAN"]), "RAD-ALL": (11.8, ["ALL"])}


def plots(sensor_id: str, t0: float, scans: int, lat: float) -> str:
    return "\n".join(json.dumps({"kind": "plot", "sensor_id": sensor_id, "time": t0 + 3 * k, "lat": lat + 0.1,
                                 "lon": 115.1 + 0.00014 * k, "sigma_m": 30}) for k in range(scans))


def alert(alert_id: str, releasability) -> dict:
    evidence = {} if releasability is None else {"releasability": releasability}
    return {"alert_id": alert_id, "type": "zone_entry", "severity": "medium", "time": "2026-12-07T10:00:00Z",
            "track_id": None, "mmsi": None, "lat": 11.0, "lon": 115.0, "zone": "Z", "summary": "test",
            "evidence": evidence, "state": "open"}


def drain(consumer, into: list) -> list:
    """The shared records read so far (the partner's heartbeats left out)."""
    into += [r.value for r in consumer.poll(timeout_s=0.2, max_records=10000)
             if r.value.get("envelope", {}).get("kind") != "heartbeat"]
    return into


def test_an_agreement_lets_exactly_its_tokens_and_kinds_through_signed_by_the_node(tmp_path):
    with LiveServer(make_runtime(tmp_path, api_keys=KEYS, node_id="MY-NODE")) as server:
        url, bus = server.url, server.runtime.bus
        for sid, (lat, rel) in RADARS.items():
            assert httpx.post(f"{url}/v1/sensors", json=radar(sid, lat, rel), headers=INTEGRATOR).status_code == 201
        r = httpx.post(f"{url}/v1/federation/agreements", headers=ADMIN,
                       json={"partner": "IN-IFC", "releasability": ["ASEAN", "SG"], "kinds": ["tracks", "alerts"]})
        assert r.status_code == 201, r.text
        assert r.json() == {"partner": "IN-IFC", "releasability": ["ASEAN", "SG"], "kinds": ["tracks", "alerts"],
                            "bbox": None, "onward": False, "retention_s": 604800, "public_key": None,
                            "relay": False, "push_url": None}
        out_tracks = bus.consumer("mfc.federation.IN-IFC.tracks", "test-partner")
        out_alerts = bus.consumer("mfc.federation.IN-IFC.alerts", "test-partner")
        out_incidents = bus.consumer("mfc.federation.IN-IFC.incidents", "test-partner")
        now = time.time()
        for sid, (lat, _) in RADARS.items():
            got = httpx.post(f"{url}/v1/ingest/radar", content=plots(sid, now - 30, 8, lat), headers=INTEGRATOR)
            assert got.json()["accepted"] == 8, got.text
        for a in (alert("A-PH", ["PH"]), alert("A-ASEAN", ["ASEAN"]), alert("A-SG-MPA", ["SG-MPA"]),
                  alert("A-NONE", None), alert("A-SG", ["PH", "SG"]), alert("A-ALL", ["ALL"])):
            bus.publish(topics.ALERTS, a["alert_id"], a)
        bus.publish(topics.INCIDENTS, "I-1", {"incident_id": "I-1", "releasability": ["ASEAN"],
                                              "releasability_effective": ["ASEAN"], "state": "open"})
        bus.flush()

        status = httpx.get(f"{url}/v1/federation", headers=ADMIN).json()
        public = load_pem_public_key(status["public_key"].encode())
        assert status["node"] == "MY-NODE"

        def shared_by_radar():
            return {t["envelope"]["record"]["sensors"][0] for t in drain(out_tracks, tracks_seen)}

        tracks_seen: list = []
        assert wait_for(lambda: shared_by_radar() >= {"RAD-SG", "RAD-ASEAN"}, timeout_s=20), tracks_seen
        time.sleep(1.0)  # the other radars' tracks were fused as well: nothing of theirs may follow
        assert shared_by_radar() == {"RAD-SG", "RAD-ASEAN"}  # not PH, not an SG agency's marking, not ALL
        alerts_seen: list = []
        assert wait_for(lambda: len(drain(out_alerts, alerts_seen)) >= 2, timeout_s=5), alerts_seen
        drain(out_alerts, alerts_seen)
        names = sorted({v["envelope"]["record"]["alert_id"] for v in alerts_seen})
        assert names == ["A-ASEAN", "A-SG"], names
        assert drain(out_incidents, []) == []  # the agreement does not name incidents

        for value in tracks_seen + alerts_seen:
            env = value["envelope"]
            assert env["origin"] == ["MY-NODE"] and env["onward"] is False and env["hops"] >= 1
            assert "fixes" not in env["record"]
            # the signature, checked by the cryptography package against the published key
            public.verify(base64.b64decode(value["sig"]), canonical(env))
        for value in alerts_seen:
            # every record is signed over its content: one flipped character fails
            forged = json.loads(json.dumps(value))
            forged["envelope"]["record"]["summary"] = "tesT"
            with pytest.raises(InvalidSignature):
                public.verify(base64.b64decode(forged["sig"]), canonical(forged["envelope"]))
            with pytest.raises(ValueError, match="altered"):
                verify(forged, public)
            assert verify(value, public) == value["envelope"]

        link = wait_for(lambda: [x for x in httpx.get(f"{url}/v1/federation", headers=ADMIN).json()["links"]
                                 if x["by_kind"]["withheld"]["incidents"] == 1], timeout_s=5)
        assert link, httpx.get(f"{url}/v1/federation", headers=ADMIN).json()
        (link,) = link
        assert link["partner"] == "IN-IFC" and link["direction"] == "out" and link["state"] in ("up", "catching_up")
        assert link["by_kind"]["shared"]["alerts"] == 2 and link["by_kind"]["withheld"]["alerts"] == 4
        assert link["by_kind"]["shared"]["tracks"] >= len(tracks_seen) > 0
        assert link["by_kind"]["withheld"]["tracks"] > 0  # the PH, SG-MPA and ALL radars' tracks
        assert link["shared"] == sum(link["by_kind"]["shared"].values())

        # the agreement ends: nothing more goes to the partner, and its link is gone
        assert httpx.delete(f"{url}/v1/federation/agreements/IN-IFC", headers=ADMIN).status_code == 200
        bus.publish(topics.ALERTS, "A-ASEAN-2", alert("A-ASEAN-2", ["ASEAN"]))
        bus.flush()
        time.sleep(1.0)
        later = drain(out_alerts, [])
        assert "A-ASEAN-2" not in {v["envelope"]["record"]["alert_id"] for v in later}
        assert httpx.get(f"{url}/v1/federation", headers=ADMIN).json()["links"] == []
        assert httpx.get(f"{url}/v1/federation/agreements", headers=ADMIN).json() == {"agreements": []}


@pytest.mark.parametrize("body, reason", [
    ({"partner": "IN-IFC", "releasability": [], "kinds": ["tracks"]}, "releases nothing"),
    ({"partner": "IN-IFC", "releasability": ["ASEAN"], "kinds": ["pictures"]}, "kinds must be"),
    ({"partner": "IN IFC", "releasability": ["ASEAN"]}, "partner must be a node id"),
    ({"partner": "mfc", "releasability": ["ASEAN"]}, "this node itself"),
    ({"partner": "IN-IFC", "releasability": ["AS,EAN"]}, "is not a token"),
    ({"partner": "IN-IFC", "releasability": ["ASEAN"], "bbox": [115, 10, 114, 12]}, "west < east"),
    ({"partner": "IN-IFC", "releasability": ["ASEAN"], "onward": "yes"}, "onward must be"),
    ({"partner": "IN-IFC", "releasability": ["ASEAN"], "retention_s": 10}, "retention_s must be"),
    ({"partner": "IN-IFC", "releasability": ["ASEAN"], "share": "all"}, "unknown fields: share"),
    (["IN-IFC"], "want a JSON object"),
])
def test_a_bad_agreement_is_refused_with_its_reason(live_server, body, reason):
    r = httpx.post(f"{live_server.url}/v1/federation/agreements", json=body, headers=ADMIN)
    assert r.status_code == 422 and reason in r.json()["error"], r.text
    assert httpx.get(f"{live_server.url}/v1/federation/agreements", headers=ADMIN).json() == {"agreements": []}


def test_only_an_admin_declares_or_reads_agreements(live_server):
    url = live_server.url
    body = {"partner": "IN-IFC", "releasability": ["ASEAN"]}
    for headers in (OFFICER, INTEGRATOR, {}):
        assert httpx.post(f"{url}/v1/federation/agreements", json=body, headers=headers).status_code in (401, 403)
        assert httpx.get(f"{url}/v1/federation", headers=headers).status_code in (401, 403)
    first = httpx.post(f"{url}/v1/federation/agreements", json=body, headers=ADMIN)
    again = httpx.post(f"{url}/v1/federation/agreements", json={**body, "kinds": ["alerts"]}, headers=ADMIN)
    assert (first.status_code, again.status_code) == (201, 200)  # replaced, not doubled
    listed = httpx.get(f"{url}/v1/federation/agreements", headers=ADMIN).json()["agreements"]
    assert [(a["partner"], a["kinds"]) for a in listed] == [("IN-IFC", ["alerts"])]
    assert httpx.delete(f"{url}/v1/federation/agreements/NOBODY", headers=ADMIN).status_code == 404


def test_the_node_key_is_made_once_and_kept_for_every_process_of_the_node(tmp_path):
    from services.federation.outbound import AgreementStore, public_pem
    url = f"sqlite:///{tmp_path / 'mfc.db'}"
    first, second = AgreementStore(url), AgreementStore(url)
    try:
        key = public_pem(first.node_key())
        assert public_pem(second.node_key()) == key == public_pem(first.node_key())
    finally:
        first.close()
        second.close()
    reopened = AgreementStore(url)
    try:
        assert public_pem(reopened.node_key()) == key  # a restart signs with the same key
    finally:
        reopened.close()


def test_a_malformed_line_is_withheld_and_the_exporter_goes_on(tmp_path):
    with LiveServer(make_runtime(tmp_path, api_keys=KEYS)) as server:
        url, bus = server.url, server.runtime.bus
        assert httpx.post(f"{url}/v1/federation/agreements", headers=ADMIN,
                          json={"partner": "IN-IFC", "releasability": ["ASEAN"]}).status_code == 201
        out = bus.consumer("mfc.federation.IN-IFC.tracks", "test-partner")
        bus.publish(topics.TRACKS, "T-BAD", {"track_id": "T-BAD", "sensors": 7, "lat": "x"})
        bus.publish(topics.TRACKS, "T-BAD2", {"track_id": "T-BAD2", "sensors": ["AIS-T1"], "fixes": 3,
                                              "lat": 10.0, "lon": 114.0})
        bus.publish(topics.TRACKS, "T-OK", {"track_id": "T-OK", "sensors": ["AIS-T1"], "lat": 10.0, "lon": 114.0,
                                            "time": "2026-12-07T10:00:00Z"})
        bus.flush()
        seen: list = []
        assert wait_for(lambda: "T-OK" in {v["envelope"]["record"]["track_id"] for v in drain(out, seen)}), seen
        assert server.runtime.federation.is_alive()
        link = httpx.get(f"{url}/v1/federation", headers=ADMIN).json()["links"][0]
        assert link["by_kind"]["withheld"]["tracks"] >= 1 and link["state"] == "up"


def test_a_fused_track_goes_under_what_every_sensor_behind_it_releases():
    """An SG radar and an ASEAN receiver fused: the partner may show the line to its SG agencies,
    not to every member (the ASEAN receiver does not release the SG radar's plots)."""
    from fusion.model import Sensor
    from services.access.visibility import covers
    from services.federation.outbound import Agreement, shared_view

    sensors = {"RAD-SG": Sensor("RAD-SG", "radar", 11.0, 115.0, releasability=("SG",)),
               "AIS-ASEAN": Sensor("AIS-ASEAN", "ais", 11.0, 115.0, releasability=("ASEAN",)),
               "RAD-PH": Sensor("RAD-PH", "radar", 11.0, 115.0, releasability=("PH",))}
    line = {"track_id": "T1", "time": "2026-12-07T10:00:00Z", "lat": 11.0, "lon": 115.0, "status": "confirmed",
            "sources": ["ais", "radar"], "mmsi": 548000001, "sensors": ["RAD-SG", "AIS-ASEAN"]}
    record, tokens = shared_view("tracks", line, Agreement("IN-IFC", ("ASEAN", "SG"), ("tracks",)), sensors)
    assert record["lat"] == 11.0 and tokens == ["SG"]
    assert covers(tokens, "SG-MPA") and not covers(tokens, "PH-CG")
    _, tokens = shared_view("tracks", {**line, "sensors": ["AIS-ASEAN"]},
                            Agreement("IN-IFC", ("ASEAN", "SG"), ("tracks",)), sensors)
    assert tokens == ["ASEAN"]
    # an SG radar and a PH radar both agreed: no member is released both, so it is withheld
    both = Agreement("IN-IFC", ("SG", "PH"), ("tracks",))
    assert shared_view("tracks", {**line, "sensors": ["RAD-SG", "RAD-PH"]}, both, sensors) is None
