"""The alert workflow and incidents over HTTP (issue 14; docs/architecture.md, "Alert workflow and
incidents"): every transition and its refusals, the audit trail, suppressions counted and
expiring, precision from the dispositions officers set, and incidents shared only as far as
what they link allows, on REST, the stream and the agency topics."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from services.bus import topics
from services.workers.runtime import Runtime
from services.config.settings import ApiKey, Settings
from services.access.workflow import meet

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, SENSORS, LiveServer, wait_for

T0 = 1_795_507_200.0  # 2026-11-24T08:00:00Z
PH_KEY, VN_KEY = "ph-cg-key-for-workflow", "vn-msa-key-for-workflow"
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PH, VN = {"Authorization": f"Bearer {PH_KEY}"}, {"Authorization": f"Bearer {VN_KEY}"}
INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}


class Clock:
    def __init__(self) -> None:
        self.now = T0 + 3600

    def __call__(self) -> float:
        return self.now


def alert(alert_id, type_="zone_entry", severity="medium", track_id="T1", lat=10.0, lon=114.0, zone="Thitu 12nm",
          releasability=("ASEAN",), state="open", time="2026-11-24T08:30:00Z"):
    return {"alert_id": alert_id, "type": type_, "severity": severity, "time": time, "track_id": track_id,
            "mmsi": 548123456, "lat": lat, "lon": lon, "zone": zone, "summary": f"{type_} {alert_id}",
            "evidence": {"releasability": list(releasability)}, "state": state}


@pytest.fixture
def server(tmp_path):
    clock = Clock()
    settings = Settings(db=f"sqlite:///{tmp_path / 'mfc.db'}", demo_key=OFFICER_KEY, api_keys=(
        ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(ADMIN_KEY, "admin", "test-admin"),
        ApiKey(PH_KEY, "agency", "PH-CG"), ApiKey(VN_KEY, "agency", "VN-MSA")))
    runtime = Runtime(settings, dict(SENSORS), clock=clock, fusion=False)
    with LiveServer(runtime) as live:
        live.clock = clock
        yield live


def seed(server, *alerts):
    """Alerts as the fusion publishes them: through mfc.alerts to the store."""
    for a in alerts:
        server.runtime.bus.publish(topics.ALERTS, a["alert_id"], a)
    assert wait_for(lambda: all(server.runtime.store.alert(a["alert_id"]) for a in alerts))


def patch(server, alert_id, body, headers=OFFICER):
    return httpx.patch(f"{server.url}/v1/alerts/{alert_id}", json=body, headers=headers)


def topic_values(server, topic):
    consumer = server.runtime.bus.consumer(topic, f"test-{topic}-{id(server)}-{threading.get_ident()}")
    return [r.value for r in consumer.poll(timeout_s=0.2, max_records=10000)]


# ------------------------------------------------------------------------------ transitions

def test_every_transition_is_kept_in_the_audit_trail(server):
    seed(server, alert("A1"))
    r = patch(server, "A1", {"state": "acknowledged"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "acknowledged" and r.json()["acked_by"] == "demo-officer"
    server.clock.now += 60
    r = patch(server, "A1", {"assignee": "ana", "comment": "looks like a trawler"}, headers=ADMIN)
    assert r.json()["workflow"]["assignee"] == "ana"
    server.clock.now += 60
    r = patch(server, "A1", {"state": "closed", "disposition": "benign"})
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert r.json()["workflow"]["disposition"] == "benign"
    server.clock.now += 60
    r = patch(server, "A1", {"state": "open", "comment": "it came back at night"})
    assert r.json()["state"] == "open" and r.json()["workflow"]["disposition"] is None  # reopened: no verdict
    server.clock.now += 60
    r = patch(server, "A1", {"disposition": "true_positive"})
    r = patch(server, "A1", {"state": "closed"})  # the disposition set before suffices
    assert r.status_code == 200 and r.json()["workflow"]["disposition"] == "true_positive"
    r = patch(server, "A1", {"state": "open"})
    r = patch(server, "A1", {"assignee": None})
    history = r.json()["workflow"]["history"]
    assert [(h["action"], h["by"]) for h in history] == [
        ("acknowledge", "demo-officer"), ("assign", "test-admin"), ("comment", "test-admin"),
        ("close", "demo-officer"), ("reopen", "demo-officer"), ("comment", "demo-officer"),
        ("disposition", "demo-officer"), ("close", "demo-officer"), ("reopen", "demo-officer"),
        ("unassign", "demo-officer")]
    assert history[0]["at"] == "2026-11-24T09:00:00Z" and history[0]["from"] == "open"
    assert history[1]["assignee"] == "ana" and history[2]["comment"] == "looks like a trawler"
    assert history[3] == {"at": "2026-11-24T09:02:00Z", "by": "demo-officer", "action": "close",
                          "from": "acknowledged", "disposition": "benign"}
    assert history[4]["from"] == "closed" and history[5]["comment"] == "it came back at night"
    assert history[9]["previous"] == "ana"
    # the same trail on a fresh read, and the GET of the queue
    (row,) = httpx.get(f"{server.url}/v1/alerts", headers=OFFICER).json()["alerts"]
    assert row["workflow"]["history"] == history and row["state"] == "open"


def test_an_open_alert_closes_at_once_and_an_acknowledged_one_reopens(server):
    seed(server, alert("A1"), alert("A2"))
    r = patch(server, "A1", {"state": "closed", "disposition": "false_positive"})
    assert r.status_code == 200 and r.json()["workflow"]["history"][0]["from"] == "open"
    assert httpx.post(f"{server.url}/v1/alerts/A2/ack", headers=OFFICER).json()["state"] == "acknowledged"
    r = patch(server, "A2", {"state": "open"})
    assert r.json()["state"] == "open"
    assert [h["action"] for h in r.json()["workflow"]["history"]] == ["acknowledge", "reopen"]


@pytest.mark.parametrize("body, status, words", [
    ({"state": "closed"}, 422, "disposition"),
    ({"state": "closed", "disposition": "maybe"}, 422, "disposition must be one of"),
    ({"disposition": "TRUE_POSITIVE"}, 422, "disposition must be one of"),
    ({"state": "resolved"}, 422, "state must be one of"),
    ({"priority": "high"}, 422, "unknown fields: priority"),
    ({}, 422, "nothing to change"),
    ({"comment": ""}, 422, "comment"),
    ({"assignee": 7}, 422, "assignee"),
    ([1, 2], 422, "JSON object"),
])
def test_invalid_changes_are_refused_with_the_reason_and_change_nothing(server, body, status, words):
    seed(server, alert("A1"))
    r = patch(server, "A1", body)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert server.runtime.store.alert("A1")["state"] == "open"
    assert server.runtime.store.alert("A1")["workflow"]["history"] == []


def test_a_closed_or_retracted_alert_takes_only_a_reopening(server):
    seed(server, alert("A1"), alert("A2", state="retracted"))
    assert patch(server, "A1", {"state": "closed", "disposition": "duplicate"}).status_code == 200
    for body in ({"comment": "late note"}, {"assignee": "bo"}, {"state": "acknowledged"},
                 {"disposition": "true_positive"}, {"state": "closed", "disposition": "benign"}):
        for aid in ("A1", "A2"):
            r = patch(server, aid, body)
            assert r.status_code == 409 and "reopen" in r.json()["error"], (aid, body, r.text)
    assert len(server.runtime.store.alert("A1")["workflow"]["history"]) == 1
    assert httpx.post(f"{server.url}/v1/alerts/A1/ack", headers=OFFICER).json()["state"] == "closed"
    assert patch(server, "A2", {"state": "open"}).json()["state"] == "open"


def test_agency_and_integrator_keys_may_not_change_an_alert(server):
    seed(server, alert("A1"), alert("P1", releasability=("PH",)))
    assert httpx.get(f"{server.url}/v1/alerts/P1", headers=PH).json()["workflow"]["history"] == []
    assert httpx.get(f"{server.url}/v1/alerts/P1", headers=VN).status_code == 404  # not releasable to VN
    assert patch(server, "P1", {"comment": "x"}, headers=VN).status_code == 403
    for headers in (PH, VN, INTEGRATOR):
        r = patch(server, "A1", {"state": "acknowledged"}, headers=headers)
        assert r.status_code == 403, r.text
    assert patch(server, "A404", {"state": "acknowledged"}).status_code == 404
    assert server.runtime.store.alert("A1")["state"] == "open"


def test_a_change_goes_out_like_an_alert_update_and_survives_a_replayed_line(server):
    seed(server, alert("A1"))
    patch(server, "A1", {"state": "closed", "disposition": "true_positive", "comment": "boarded"})
    def closed_on_topic():
        return [v for v in topic_values(server, "mfc.alerts.PH-CG") if v.get("state") == "closed"]
    (line,) = wait_for(closed_on_topic)
    assert line["workflow"]["disposition"] == "true_positive"
    server.runtime.bus.publish(topics.ALERTS, "A1", alert("A1"))  # the rule's line again, state open
    wait_for(lambda: len([v for v in topic_values(server, "mfc.alerts.PH-CG") if v["alert_id"] == "A1"]) >= 3)
    stored = server.runtime.store.alert("A1")
    assert stored["state"] == "closed" and stored["workflow"]["disposition"] == "true_positive"
    assert [h["action"] for h in stored["workflow"]["history"]] == ["comment", "close"]


# ----------------------------------------------------------------------- severity and stats

def test_min_severity_leaves_out_lower_severities(server):
    seed(server, *(alert(f"A{i}", severity=s) for i, s in enumerate(("info", "low", "medium", "high", "critical"))))
    got = httpx.get(f"{server.url}/v1/alerts?min_severity=high", headers=OFFICER).json()
    assert sorted(a["severity"] for a in got["alerts"]) == ["critical", "high"]
    assert httpx.get(f"{server.url}/v1/alerts?min_severity=urgent", headers=OFFICER).status_code == 422


def test_stats_give_precision_from_the_dispositions_officers_set(server):
    seed(server, *(alert(f"Z{i}") for i in range(5)), *(alert(f"L{i}", type_="loitering") for i in range(3)),
         alert("D1", type_="dark_vessel"))
    verdicts = {"Z0": "true_positive", "Z1": "true_positive", "Z2": "false_positive", "Z3": "benign",
                "L0": "false_positive", "L1": "false_positive", "L2": "duplicate"}
    for aid, disposition in verdicts.items():
        assert patch(server, aid, {"state": "closed", "disposition": disposition}).status_code == 200
    patch(server, "Z4", {"state": "acknowledged"})
    stats = httpx.get(f"{server.url}/v1/alerts/stats", headers=OFFICER).json()["types"]
    assert stats["zone_entry"] == {"total": 5, "states": {"closed": 4, "acknowledged": 1},
                                   "dispositions": {"true_positive": 2, "false_positive": 1, "benign": 1},
                                   "suppressed": 0, "precision": pytest.approx(2 / 3)}
    assert stats["loitering"]["precision"] == 0.0 and stats["loitering"]["dispositions"]["duplicate"] == 1
    assert stats["dark_vessel"]["precision"] is None and stats["dark_vessel"]["states"] == {"open": 1}
    assert httpx.get(f"{server.url}/v1/alerts/stats", headers=PH).status_code == 403


# ------------------------------------------------------------------------------ suppressions

def iso(t):
    from fusion.model import iso_time
    return iso_time(t)


def test_a_suppression_holds_alerts_back_counts_them_and_lets_them_go_when_it_ends(server):
    seed(server, alert("A0", track_id="T7", type_="loitering"), alert("B0", track_id="T8", type_="loitering"))
    body = {"type": "loitering", "track_id": "T7", "until": iso(server.clock.now + 1800), "reason": "known tug"}
    r = httpx.post(f"{server.url}/v1/suppressions", json=body, headers=OFFICER)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["held"] == 1  # the live alert of T7 at once
    before = len(topic_values(server, "mfc.alerts.PH-CG"))
    seed(server, alert("A1", track_id="T7", type_="loitering"), alert("A2", track_id="T7", type_="zone_entry"),
         alert("B1", track_id="T8", type_="loitering"))
    wait_for(lambda: len(topic_values(server, "mfc.alerts.PH-CG")) >= before + 2)
    queue = httpx.get(f"{server.url}/v1/alerts", headers=OFFICER).json()
    assert sorted(a["alert_id"] for a in queue["alerts"]) == ["A2", "B0", "B1"]  # only loitering of T7 held
    assert queue["suppressed"] == 2
    held = httpx.get(f"{server.url}/v1/alerts?suppressed=true", headers=OFFICER).json()["alerts"]
    assert sorted(a["alert_id"] for a in held) == ["A0", "A1"] and held[0]["suppressed_by"] == sid
    assert httpx.get(f"{server.url}/v1/alerts", headers=PH).json()["suppressed"] == 2
    listed = httpx.get(f"{server.url}/v1/suppressions", headers=OFFICER).json()
    assert listed["suppressed"] == 2 and listed["suppressions"][0]["held"] == 2
    assert listed["suppressions"][0]["reason"] == "known tug"
    routed = {v["alert_id"] for v in topic_values(server, "mfc.alerts.PH-CG")}
    assert "A1" not in routed and {"A2", "B1"} <= routed
    assert httpx.get(f"{server.url}/v1/alerts/stats", headers=OFFICER).json()["types"]["loitering"]["suppressed"] == 2
    # the suppression ends: the held alerts are raised into the queue and the agency topics
    server.clock.now += 1801
    assert wait_for(lambda: {"A0", "A1"} <= {v["alert_id"] for v in topic_values(server, "mfc.alerts.PH-CG")})
    queue = httpx.get(f"{server.url}/v1/alerts", headers=OFFICER).json()
    assert len(queue["alerts"]) == 5 and queue["suppressed"] == 0
    assert httpx.get(f"{server.url}/v1/suppressions", headers=OFFICER).json()["suppressions"] == []


def test_deleting_a_suppression_raises_what_it_held(server):
    body = {"zone": "Thitu 12nm", "until": iso(server.clock.now + 600), "reason": "exercise"}
    sid = httpx.post(f"{server.url}/v1/suppressions", json=body, headers=OFFICER).json()["id"]
    seed(server, alert("A1"), alert("A2", zone="Whitsun Reef 12nm"))
    assert wait_for(lambda: httpx.get(f"{server.url}/v1/alerts", headers=OFFICER).json()["suppressed"] == 1)
    assert httpx.delete(f"{server.url}/v1/suppressions/{sid}", headers=OFFICER).json() == {"deleted": sid}
    assert httpx.delete(f"{server.url}/v1/suppressions/{sid}", headers=OFFICER).status_code == 404
    queue = httpx.get(f"{server.url}/v1/alerts", headers=OFFICER).json()
    assert queue["suppressed"] == 0 and {a["alert_id"] for a in queue["alerts"]} == {"A1", "A2"}
    assert wait_for(lambda: "A1" in {v["alert_id"] for v in topic_values(server, "mfc.alerts.PH-CG")})


def test_an_area_suppression_and_distress_is_never_held(server):
    body = {"bbox": [113.9, 9.9, 114.1, 10.1], "until": iso(server.clock.now + 600), "reason": "harbour works"}
    assert httpx.post(f"{server.url}/v1/suppressions", json=body, headers=OFFICER).status_code == 201
    seed(server, alert("A1"), alert("A2", lat=11.0), alert("S1", type_="distress", severity="critical"))
    def queue():
        return {a["alert_id"] for a in httpx.get(f"{server.url}/v1/alerts", headers=OFFICER).json()["alerts"]}
    ids = wait_for(queue)
    assert ids == {"A2", "S1"}


@pytest.mark.parametrize("body, words", [
    ({"until": "2026-11-24T12:00:00Z", "reason": "x"}, "at least one"),
    ({"track_id": "T1", "until": "2026-11-24T08:59:00Z", "reason": "x"}, "not in the future"),
    ({"track_id": "T1", "until": "tomorrow", "reason": "x"}, "ISO 8601"),
    ({"track_id": "T1", "until": "2026-12-24T09:00:01Z", "reason": "x"}, "30 days"),
    ({"track_id": "T1", "until": "2026-11-24T12:00:00Z"}, "reason"),
    ({"type": "distress", "until": "2026-11-24T12:00:00Z", "reason": "x"}, "never suppressed"),
    ({"type": "no_such_rule", "until": "2026-11-24T12:00:00Z", "reason": "x"}, "alert type"),
    ({"bbox": [114, 10, 113, 11], "until": "2026-11-24T12:00:00Z", "reason": "x"}, "west < east"),
])
def test_invalid_suppressions_are_refused_with_the_reason(server, body, words):
    r = httpx.post(f"{server.url}/v1/suppressions", json=body, headers=OFFICER)
    assert r.status_code == 422 and words in r.json()["error"], r.text
    assert httpx.post(f"{server.url}/v1/suppressions", json={**body, "track_id": "T1", "reason": "x"},
                      headers=PH).status_code == 403


# --------------------------------------------------------------------------------- incidents

def test_the_meet_of_releasabilities():
    assert meet(["ASEAN"], ["PH"]) == ["PH"]
    assert meet(["PH"], ["PH-CG", "VN"]) == ["PH-CG"]
    assert meet(["ALL"], ["ASEAN"]) == ["ASEAN", "ALL"] or set(meet(["ALL"], ["ASEAN"])) == {"ALL", "ASEAN"}
    assert meet(["VN"], ["PH"]) == []
    assert meet(["ASEAN"], []) == []
    assert meet(["PH-CG", "VN-MSA"], ["ASEAN"], ["PH", "VN"]) == ["PH-CG", "VN-MSA"]


def sse(server, headers, until_title, out, ready):
    with httpx.stream("GET", f"{server.url}/v1/stream?types=incident,alert", headers=headers, timeout=20) as r:
        ready.set()
        kind = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                value = json.loads(line[6:])
                out.append((kind, value))
                if kind == "incident" and value.get("title") == until_title:
                    return


def test_incidents_reach_only_the_agencies_their_links_allow(server):
    seed(server, alert("PH1", releasability=("PH",)), alert("AS1"))
    streams = {}
    for name, headers in (("PH", PH), ("VN", VN)):
        out, ready = [], threading.Event()
        thread = threading.Thread(target=sse, args=(server, headers, "sentinel", out, ready), daemon=True)
        thread.start()
        assert ready.wait(10)
        streams[name] = (out, thread)
    body = {"category": "iuu_fishing", "title": "trawlers at Thitu", "summary": "three vessels fishing inside",
            "alert_ids": ["PH1", "AS1"], "track_ids": ["T1"], "releasability": ["ASEAN"]}
    server.runtime.store.write_tracks([{"track_id": "T1", "time": "2026-11-24T08:30:00Z", "lat": 10.0, "lon": 114.0,
                                        "sources": ["ais"], "status": "confirmed", "sensors": ["AIS-T1"]}])
    r = httpx.post(f"{server.url}/v1/incidents", json=body, headers=OFFICER)
    assert r.status_code == 201, r.text
    secret = r.json()
    assert secret["releasability"] == ["ASEAN"] and secret["releasability_effective"] == ["PH"]
    assert secret["workflow"]["history"][0]["action"] == "create" and secret["state"] == "open"
    shared = httpx.post(f"{server.url}/v1/incidents", headers=OFFICER, json={
        "category": "sar_hadr", "title": "sentinel", "summary": "typhoon", "releasability": ["ASEAN"]}).json()
    iid = secret["incident_id"]
    # REST
    assert [i["incident_id"] for i in httpx.get(f"{server.url}/v1/incidents", headers=VN).json()["incidents"]] \
        == [shared["incident_id"]]
    assert httpx.get(f"{server.url}/v1/incidents/{iid}", headers=VN).status_code == 404
    assert httpx.get(f"{server.url}/v1/incidents/{iid}", headers=PH).json()["title"] == "trawlers at Thitu"
    assert len(httpx.get(f"{server.url}/v1/incidents", headers=OFFICER).json()["incidents"]) == 2
    # the stream, read up to the shared sentinel
    for name in ("PH", "VN"):
        streams[name][1].join(15)
    vn_titles = [v["title"] for k, v in streams["VN"][0] if k == "incident"]
    ph_titles = [v["title"] for k, v in streams["PH"][0] if k == "incident"]
    assert vn_titles == ["sentinel"] and ph_titles == ["trawlers at Thitu", "sentinel"]
    assert "PH1" not in {v.get("alert_id") for k, v in streams["VN"][0]}
    # agency topics
    assert wait_for(lambda: len(topic_values(server, "mfc.incidents.VN-MSA")) == 1)
    assert [v["title"] for v in topic_values(server, "mfc.incidents.VN-MSA")] == ["sentinel"]
    assert wait_for(lambda: len(topic_values(server, "mfc.incidents.PH-CG")) == 2)
    assert [v["incident_id"] for v in topic_values(server, topics.INCIDENTS)] == [iid, shared["incident_id"]]


def test_incidents_are_worked_like_alerts(server):
    r = httpx.post(f"{server.url}/v1/incidents", headers=OFFICER, json={
        "category": "piracy_armed_robbery", "title": "boarding reported", "summary": "crew robbed at anchor",
        "releasability": ["PH", "VN"]})
    iid = r.json()["incident_id"]
    assert httpx.patch(f"{server.url}/v1/incidents/{iid}", json={"state": "closed"}, headers=OFFICER).status_code == 422
    r = httpx.patch(f"{server.url}/v1/incidents/{iid}", json={"state": "acknowledged"}, headers=VN)
    assert r.status_code == 403
    r = httpx.patch(f"{server.url}/v1/incidents/{iid}", json={"assignee": "ana", "state": "acknowledged"},
                    headers=OFFICER)
    assert r.json()["state"] == "acknowledged" and r.json()["workflow"]["assignee"] == "ana"
    r = httpx.patch(f"{server.url}/v1/incidents/{iid}", json={"state": "closed", "disposition": "true_positive"},
                    headers=OFFICER)
    assert r.json()["state"] == "closed"
    assert httpx.patch(f"{server.url}/v1/incidents/{iid}", json={"comment": "x"}, headers=OFFICER).status_code == 409
    r = httpx.patch(f"{server.url}/v1/incidents/{iid}", json={"state": "open"}, headers=OFFICER)
    assert [h["action"] for h in r.json()["workflow"]["history"]] == ["create", "assign", "acknowledge", "close",
                                                                     "reopen"]
    assert httpx.get(f"{server.url}/v1/incidents/{iid}", headers=VN).json()["state"] == "open"


@pytest.mark.parametrize("body, words", [
    ({"category": "terrorism", "title": "t", "summary": "s", "releasability": []}, "category must be one of"),
    ({"category": "other", "title": "", "summary": "s", "releasability": []}, "title"),
    ({"category": "other", "title": "t", "summary": "s"}, "releasability"),
    ({"category": "other", "title": "t", "summary": "s", "releasability": ["PH CG"]}, "releasability"),
    ({"category": "other", "title": "t", "summary": "s", "releasability": [], "alert_ids": ["A404"]}, "no alert"),
    ({"category": "other", "title": "t", "summary": "s", "releasability": [], "track_ids": ["T404"]}, "no track"),
])
def test_invalid_incidents_are_refused_with_the_reason(server, body, words):
    r = httpx.post(f"{server.url}/v1/incidents", json=body, headers=OFFICER)
    assert r.status_code == 422 and words in r.json()["error"], r.text
    assert httpx.get(f"{server.url}/v1/incidents", headers=OFFICER).json()["count"] == 0


# ------------------------------------------------------------------------- router, webhooks

class Sent:
    """A webhook sender that keeps what it was given (the signing and HTTP are test_webhooks*'s)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def submit(self, sub, value) -> None:
        self.calls.append((sub.id, value))

    def start(self) -> None: ...

    def stop(self) -> None: ...


def test_the_router_sends_incidents_to_releasable_agencies_webhooks_and_holds_suppressed_alerts(tmp_path):
    from services.delivery.alert_router import AlertRouter
    from services.bus.core import EmbeddedBus
    from services.store.sql import Store
    from services.delivery.subscriptions import Subscription, SubscriptionStore
    from services.access.workflow import SuppressionCache
    bus, store, clock = EmbeddedBus(), Store(f"sqlite:///{tmp_path / 'r.db'}"), Clock()
    ph_hook, vn_hook = "https://ph.example/hook", "https://vn.example/hook"
    subs = [Subscription("S1", "PH-CG", ("distress",), delivery="webhook", url=ph_hook, secret="x" * 16),
            Subscription("S2", "PH-CG", (), delivery="webhook", url=ph_hook, secret="x" * 16),
            Subscription("S3", "VN-MSA", (), delivery="webhook", url=vn_hook, secret="y" * 16)]
    sent = Sent()
    router = AlertRouter(bus, SubscriptionStore(f"sqlite:///{tmp_path / 'r.db'}"), ["PH-CG", "VN-MSA"],
                         sender=sent, suppressions=SuppressionCache(store, clock))  # type: ignore[arg-type]
    router.route_incident({"incident_id": "I1", "releasability": ["ASEAN"], "releasability_effective": ["PH"]}, subs)
    assert sent.calls == [("S1", {"incident_id": "I1", "releasability": ["ASEAN"],
                                  "releasability_effective": ["PH"]})]  # one per URL, PH only
    assert [r.value["incident_id"] for r in bus.consumer("mfc.incidents.PH-CG", "t").poll(0.1, 10)] == ["I1"]
    assert bus.consumer("mfc.incidents.VN-MSA", "t").poll(0.1, 10) == []
    router.route_incident({"incident_id": "I2", "releasability": ["PH"]}, subs)  # no effective list: no one
    assert len(sent.calls) == 1
    store.add_suppression({"type": "loitering", "track_id": None, "zone": None, "bbox": None,
                           "until_s": clock.now + 60, "reason": "r"}, "o", clock.now)
    sent.calls.clear()
    router.route(alert("A1", type_="loitering"), subs)
    router.route(alert("A2", type_="zone_entry"), subs)
    assert [(sid, v["alert_id"]) for sid, v in sent.calls] == [("S2", "A2"), ("S3", "A2")]
    assert router.held == 1
    clock.now += 61
    router.suppressions.invalidate()
    router.route(alert("A3", type_="loitering"), subs)
    assert ("S2", "A3") in [(sid, v["alert_id"]) for sid, v in sent.calls]
    store.close()


def test_an_incident_webhook_names_the_incident():
    from services.bus.core import EmbeddedBus
    from services.delivery.subscriptions import Subscription
    from services.delivery.webhooks import WebhookSender
    sender = WebhookSender(EmbeddedBus())
    sub = Subscription("S1", "PH-CG", (), delivery="webhook", url="https://ph.example/hook", secret="x" * 16)
    sender.submit(sub, {"incident_id": "I1", "title": "t"})
    sender.submit(sub, {"alert_id": "A1"})
    incident, alert_ = (entry[2] for entry in sorted(sender._queues["S1"].heap))
    assert sender._headers(incident)["X-MFC-Incident-Id"] == "I1" and "X-MFC-Alert-Id" not in sender._headers(incident)
    assert sender._headers(alert_)["X-MFC-Alert-Id"] == "A1"


def test_held_back_alerts_stay_out_of_ogc_and_metrics_and_agencies_count_only_theirs(server):
    """A suppressed alert is not raised anywhere: not in the OGC alerts collection (list or item),
    not in the /metrics counts; each agency's ``suppressed`` counts only what is releasable to it."""
    body = {"type": "loitering", "until": iso(server.clock.now + 1800), "reason": "known tugs"}
    assert httpx.post(f"{server.url}/v1/suppressions", json=body, headers=OFFICER).status_code == 201
    seed(server, alert("H1", type_="loitering", releasability=("PH",)),          # held, PH-CG's
         alert("H2", type_="loitering", releasability=("VN-MSA", "MY")),       # held, VN-MSA's
         alert("H3", type_="loitering", releasability=("ASEAN",)),             # held, everyone's
         alert("Q1", releasability=("ASEAN",)), alert("Q2", releasability=("PH-CG",)))
    assert wait_for(lambda: httpx.get(f"{server.url}/v1/alerts", headers=OFFICER).json()["suppressed"] == 3)

    def ogc_ids(headers):
        r = httpx.get(f"{server.url}/ogc/collections/alerts/items", headers=headers)
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["features"]}, r.json()["numberMatched"]
    assert ogc_ids(OFFICER) == ({"Q1", "Q2"}, 2)
    assert ogc_ids(PH) == ({"Q1", "Q2"}, 2) and ogc_ids(VN) == ({"Q1"}, 1)
    assert httpx.get(f"{server.url}/ogc/collections/alerts/items/H1", headers=OFFICER).status_code == 404
    assert httpx.get(f"{server.url}/ogc/collections/alerts/items/Q2", headers=OFFICER).status_code == 200
    assert httpx.get(f"{server.url}/ogc/collections/alerts/items/Q2", headers=VN).status_code == 404

    assert httpx.get(f"{server.url}/v1/alerts", headers=PH).json()["suppressed"] == 2   # H1 (PH covers PH-CG), H3
    assert httpx.get(f"{server.url}/v1/alerts", headers=VN).json()["suppressed"] == 2   # H2, H3

    def metrics(headers):
        text = httpx.get(f"{server.url}/metrics", headers=headers).text
        return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
                if line.startswith("mfc_alerts")}
    assert metrics(OFFICER) == {'mfc_alerts{state="open"}': 2, "mfc_alerts_suppressed": 3}
    assert metrics(PH) == {'mfc_alerts{state="open"}': 2, "mfc_alerts_suppressed": 2}
    assert metrics(VN) == {'mfc_alerts{state="open"}': 1, "mfc_alerts_suppressed": 2}
    # the suppression ends: everything is raised everywhere
    server.clock.now += 1801
    assert wait_for(lambda: ogc_ids(OFFICER)[1] == 5)
    assert httpx.get(f"{server.url}/ogc/collections/alerts/items/H1", headers=PH).status_code == 200
    assert metrics(VN) == {'mfc_alerts{state="open"}': 3, "mfc_alerts_suppressed": 0}


def test_an_agency_suppressed_count_matches_the_releasability_rule(tmp_path):
    """The count made in the database agrees with ``visibility.covers`` token by token, including
    tokens holding LIKE's wildcards and lines stored before the releasability column existed."""
    from services.store.sql import Store, alerts as alerts_table
    from services.access.visibility import covers
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    cases = [("PH",), ("PH-CG",), ("PH-CGX",), ("P_",), ("P%",), ("ALL",), ("ASEAN",), (), ("VN-MSA", "PH-CG-7")]
    lines = [alert(f"X{i}", releasability=r) for i, r in enumerate(cases)]
    store.write_alerts(lines, held={a["alert_id"]: ("S1", T0 + 10_000) for a in lines})
    with store.engine.begin() as conn:  # an old line: no releasability column value
        conn.execute(alerts_table.update().where(alerts_table.c.alert_id == "X0").values(releasability=None))
    for agency in ("PH-CG", "PH", "PH-CG-7", "VN-MSA", "P_", "MY-MMEA"):
        want = sum(covers(r, agency) for r in cases)
        assert store.suppressed_count(T0, agency) == want, agency
    assert store.suppressed_count(T0 + 10_000, "PH-CG") == 0  # the suppression has ended
