"""Agencies' alert delivery: releasability, subscriptions, agency topics and signed webhooks."""

from __future__ import annotations

import http.server
import json
import threading

import httpx
import pytest

from fusion.model import Sensor
from services.bus import topics
from services.bus.core import EmbeddedBus
from services.config.settings import ApiKey
from services.delivery.alert_router import WebhookSender, sign, verify
from services.delivery.subscriptions import Subscription, releasable_to, route
from services.delivery.webhook_net import WebhookPolicy

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, SENSORS, LiveServer, make_runtime, wait_for
from .test_api import position_sentence

PH_KEY, VN_KEY = "ph-coastguard-key", "vn-msa-key"
AGENCY = {"PH-CG": {"Authorization": f"Bearer {PH_KEY}"}, "VN-MSA": {"Authorization": f"Bearer {VN_KEY}"}}
INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}


def alert(type_: str = "distress", severity: str = "critical", releasability=("ASEAN",), lat=10.0, lon=114.0):
    return {"alert_id": "A1", "type": type_, "severity": severity, "lat": lat, "lon": lon,
            "evidence": {"releasability": list(releasability)}, "state": "open"}


def test_alerts_go_only_to_agencies_they_are_releasable_to():
    agencies = ["PH-CG", "PH-NAVY", "VN-MSA"]
    assert route(alert(releasability=["ASEAN"]), agencies, []).topics == [
        "mfc.alerts.PH-CG", "mfc.alerts.PH-NAVY", "mfc.alerts.VN-MSA"]
    # a state prefix covers that state's agencies only; a named agency only itself
    assert route(alert(releasability=["PH"]), agencies, []).topics == ["mfc.alerts.PH-CG", "mfc.alerts.PH-NAVY"]
    assert route(alert(releasability=["VN-MSA"]), agencies, []).topics == ["mfc.alerts.VN-MSA"]
    # sensors whose owners share with nobody in common: releasable to no one
    assert route(alert(releasability=[]), agencies, []).topics == []
    assert not releasable_to(alert(releasability=["PH"]), "PHX-CG")


def test_a_kafka_subscription_narrows_the_agency_topic_by_type_area_and_severity():
    sub = Subscription("S1", "VN-MSA", types=("dark_vessel", "distress"), bbox=(109.0, 8.0, 112.0, 12.0),
                       min_severity="high")
    agencies = ["PH-CG", "VN-MSA"]
    inside = alert("dark_vessel", "high", lat=10.0, lon=110.0)
    assert route(inside, agencies, [sub]).topics == ["mfc.alerts.PH-CG", "mfc.alerts.VN-MSA"]
    for miss in (alert("loitering", "high", lat=10.0, lon=110.0),   # type not subscribed
                 alert("dark_vessel", "medium", lat=10.0, lon=110.0),  # below the minimum severity
                 alert("dark_vessel", "high", lat=10.0, lon=115.0)):   # outside the box
        assert route(miss, agencies, [sub]).topics == ["mfc.alerts.PH-CG"]


def test_webhook_signature_verifies_and_refuses_tampering_and_replays():
    body, key, delivery = b'{"alert_id":"A1"}', "s3cret-s3cret-s3cret", "d41d8cd98f00b204e9800998ecf8427e"
    header = sign(key, body, 1_800_000_000, delivery_id=delivery)
    assert verify(key, body, header, delivery_id=delivery, now=1_800_000_010)
    assert not verify(key, body + b" ", header, delivery_id=delivery, now=1_800_000_010)
    assert not verify(key, body, header, delivery_id=delivery[:-1] + "f", now=1_800_000_010)
    assert not verify("another-secret-value", body, header, delivery_id=delivery, now=1_800_000_010)
    assert not verify(key, body, header, delivery_id=delivery, now=1_800_001_000)  # stale: a replay
    assert not verify(key, body, "garbage", delivery_id=delivery, now=1_800_000_010)


class Receiver:
    """A webhook endpoint on loopback that records what it gets and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def agency_server(tmp_path):
    sensors = dict(SENSORS)
    # a PH-owned receiver whose data may be shared with Philippine agencies only
    sensors["AIS-PH"] = Sensor("AIS-PH", "ais", 10.0, 114.0, range_m=74_000, owner="test-integrator",
                               releasability=("PH",))
    runtime = make_runtime(tmp_path, sensors, api_keys=(
        ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(ADMIN_KEY, "admin", "test-admin"),
        ApiKey(PH_KEY, "agency", "PH-CG"), ApiKey(VN_KEY, "agency", "VN-MSA")),
        webhook_allow_loopback_http=True)  # the test receivers listen on http://127.0.0.1
    with LiveServer(runtime) as server:
        yield server


def test_an_agency_subscribes_a_webhook_and_gets_signed_alerts_and_its_own_topic(agency_server):
    url = agency_server.url
    receiver = Receiver()
    try:
        sub = {"types": ["distress"], "min_severity": "high",
               "delivery": {"kind": "webhook", "url": receiver.url, "secret": "vn-msa-webhook-secret-1"}}
        r = httpx.post(f"{url}/v1/subscriptions", json=sub, headers=AGENCY["VN-MSA"])
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["agency"] == "VN-MSA" and created["secret"] == "vn-msa-webhook-secret-1"
        listed = httpx.get(f"{url}/v1/subscriptions", headers=AGENCY["VN-MSA"]).json()["subscriptions"]
        assert [s["id"] for s in listed] == [created["id"]] and "secret" not in listed[0]
        assert httpx.get(f"{url}/v1/subscriptions", headers=AGENCY["PH-CG"]).json()["subscriptions"] == []

        agency_topic = agency_server.runtime.bus.consumer(topics.agency_alerts("VN-MSA"), "test-vn")
        # an AIS-SART (distress, shared with ASEAN) and a vessel with an unallocated MID heard
        # only by the PH-restricted receiver (invalid_identity, releasable to PH agencies only)
        httpx.post(f"{url}/v1/ingest/ais?sensor_id=AIS-T1", content=position_sentence(970012345, 10.3, 114.3, 0, 0, status=14),
                   headers=INTEGRATOR)
        httpx.post(f"{url}/v1/ingest/ais?sensor_id=AIS-PH", content=position_sentence(100000001, 10.2, 114.2),
                   headers=INTEGRATOR)

        (headers, body), = wait_for(lambda: receiver.requests)
        sent = json.loads(body)
        assert sent["type"] == "distress" and sent["mmsi"] == 970012345
        assert verify("vn-msa-webhook-secret-1", body, headers["x-mfc-signature"],
                      delivery_id=headers["x-mfc-delivery"])
        assert headers["x-mfc-alert-id"] == sent["alert_id"] and headers["x-mfc-subscription"] == created["id"]

        def types_seen(headers):
            return {a["type"] for a in httpx.get(f"{url}/v1/alerts", headers=headers).json()["alerts"]}

        assert wait_for(lambda: types_seen(OFFICER) >= {"distress", "invalid_identity"})
        assert types_seen(AGENCY["PH-CG"]) >= {"distress", "invalid_identity"}
        assert "invalid_identity" not in types_seen(AGENCY["VN-MSA"])

        # a sentinel sent after the PH-only alert exists: a second beacon on the shared receiver.
        # Whatever VN's topic and webhook were to get about the PH-only vessel arrives before it.
        httpx.post(f"{url}/v1/ingest/ais?sensor_id=AIS-T1", content=position_sentence(970012346, 10.31, 114.3, 0, 0, status=14),
                   headers=INTEGRATOR)
        got: list[dict] = []
        assert wait_for(lambda: got.extend(rec.value for rec in agency_topic.poll(0.2)) or
                        970012346 in {a["mmsi"] for a in got}), got
        assert "distress" in {a["type"] for a in got}
        assert "invalid_identity" not in {a["type"] for a in got}  # the PH-only alert never reaches VN
        assert all(a["evidence"]["releasability"] != ["PH"] for a in got)
        assert wait_for(lambda: 970012346 in {json.loads(b)["mmsi"] for _, b in receiver.requests})
        assert [json.loads(b)["type"] for _, b in receiver.requests] == ["distress", "distress"]
    finally:
        receiver.close()


def test_subscription_requests_are_checked_with_reasons(agency_server):
    url = agency_server.url
    post = lambda body, who: httpx.post(f"{url}/v1/subscriptions", json=body, headers=who)  # noqa: E731
    assert post({}, INTEGRATOR).status_code == 403
    for body, reason in [({"types": ["pirates"]}, "unknown alert types"),
                         ({"bbox": [120, 5, 110, 10]}, "bbox"),
                         ({"min_severity": "urgent"}, "min_severity"),
                         ({"delivery": {"kind": "webhook", "url": "ftp://x"}}, "https URL"),
                         ({"delivery": {"kind": "webhook", "url": "https://a.example/h", "secret": "short"}}, "16"),
                         ({"delivery": "pigeon"}, "delivery.kind"),
                         ({"colour": "red"}, "unknown fields")]:
        r = post(body, AGENCY["PH-CG"])
        assert r.status_code == 422 and reason in r.json()["error"], (body, r.text)
    assert post({"agency": "VN-MSA"}, AGENCY["PH-CG"]).status_code == 403
    assert post({}, {"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 422  # admin must name the agency
    sub = post({"types": ["swarm"]}, AGENCY["PH-CG"]).json()
    assert sub["topic"] == "mfc.alerts.PH-CG"
    # another agency can neither see nor delete it
    assert httpx.delete(f"{url}/v1/subscriptions/{sub['id']}", headers=AGENCY["VN-MSA"]).status_code == 404
    assert httpx.delete(f"{url}/v1/subscriptions/{sub['id']}", headers=AGENCY["PH-CG"]).status_code == 200
    assert httpx.get(f"{url}/v1/subscriptions", headers=AGENCY["PH-CG"]).json()["subscriptions"] == []


def test_a_failing_webhook_is_retried_then_dead_lettered_with_its_reason():
    bus = EmbeddedBus()
    dead = bus.consumer(topics.DEADLETTER, "test")
    receiver = Receiver(status=503)
    sender = WebhookSender(bus, WebhookPolicy(allow_loopback_http=True), attempts=3, first_backoff_s=0.05)
    sender.start()
    try:
        sub = Subscription("S9", "VN-MSA", delivery="webhook", url=receiver.url, secret="x" * 20)
        sender.submit(sub, alert())
        (rec,) = wait_for(lambda: dead.poll(0.1))
        assert len(receiver.requests) == 3
        assert rec.value["subscription"] == "S9" and "HTTP 503" in rec.value["reason"]
        assert "after 3 attempt" in rec.value["reason"] and json.loads(rec.value["line"])["alert_id"] == "A1"
        # a client error is not retried
        bad = Receiver(status=400)
        sender.submit(Subscription("S10", "VN-MSA", delivery="webhook", url=bad.url, secret="x" * 20), alert())
        (rec,) = wait_for(lambda: dead.poll(0.1))
        assert len(bad.requests) == 1 and "HTTP 400" in rec.value["reason"]
        bad.close()
    finally:
        sender.stop()
        receiver.close()


def test_alert_releasability_is_what_every_contributing_sensor_allows():
    from fusion.rules.geography import Geography
    geo = Geography(releasability={"SHARED": ["ASEAN"], "PH-ONLY": ["PH"], "CG-VN": ["PH-CG", "VN-MSA"],
                                   "VN-ONLY": ["VN"]})
    assert geo.releasability_of(["SHARED"], ["ASEAN"]) == ["ASEAN"]
    assert geo.releasability_of(["SHARED", "PH-ONLY"], ["ASEAN"]) == ["PH"]  # ASEAN restricts nothing
    assert geo.releasability_of(["PH-ONLY", "CG-VN"], ["ASEAN"]) == ["PH-CG"]  # PH covers PH-CG only
    assert geo.releasability_of(["PH-ONLY", "VN-ONLY"], ["ASEAN"]) == []  # nobody may see both
    assert geo.releasability_of(["UNKNOWN"], ["ASEAN"]) == []  # an unknown sensor: no one (fails closed)
