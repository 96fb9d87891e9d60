"""Federation over HTTPS for partners without a Kafka link: A pushes B's share to B's
``POST /v1/federation/inbound``; B verifies every record with A's key as it would from its
broker.  Two real nodes (each a runtime and an HTTP server) on loopback."""

from __future__ import annotations

import copy

import httpx

from services.bus import topics

from .conftest import wait_for
from .test_federation_inbound import ADMIN, OFFICER, PH, SG, agree, alert, link, public_key, two_nodes


def alerts(node, headers: dict = OFFICER) -> list[str]:
    return sorted(x["alert_id"] for x in httpx.get(f"{node.url}/v1/alerts", headers=headers).json()["alerts"])


def raise_alerts(node, *ids: str, tokens=("SG",)) -> None:
    for alert_id in ids:
        node.runtime.bus.publish(topics.ALERTS, alert_id, alert(alert_id, list(tokens)))
    node.runtime.bus.flush()


def test_a_partners_share_is_pushed_verified_and_survives_the_receiver_refusing_for_a_while(tmp_path):
    with two_nodes(tmp_path) as (a, b):
        agree(b, "A", ["ASEAN"], key=public_key(a))
        agree(a, "B", ["SG"], push_url=f"{b.url}/v1/federation/inbound")
        raise_alerts(a, "X1", "X2", "X3")
        raise_alerts(a, "P1", tokens=("PH",))  # not B's
        assert wait_for(lambda: alerts(b) == ["A:X1", "A:X2", "A:X3"], 20), (alerts(b), link(a, "B", "out"))
        assert alerts(b, SG) == ["A:X1", "A:X2", "A:X3"] and alerts(b, PH) == []  # shared under SG
        out, inbound = link(a, "B", "out"), link(b, "A", "in")
        assert out["push"]["pushed"] >= 3 and out["push"]["last_error"] is None, out
        assert inbound["state"] == "up" and inbound["refused"] == 0 and inbound["by_kind"]["received"]["alerts"] == 3

        # B stops taking A's records (its agreement gone): A keeps the batch and says why
        assert httpx.delete(f"{b.url}/v1/federation/agreements/A", headers=ADMIN).status_code == 200
        raise_alerts(a, "X4", "X5", "X6")
        assert wait_for(lambda: "403" in (link(a, "B", "out")["push"]["last_error"] or ""), 20), link(a, "B", "out")
        # the refused batch is kept: what was read before the refusal (X4 alone, or with X5 and X6,
        # as the pusher's polls fell); the rest waits unread behind it
        assert link(a, "B", "out")["push"]["waiting"] >= 1
        assert alerts(b) == ["A:X1", "A:X2", "A:X3"]
        # B takes them again: the waiting batch arrives, nothing lost, nothing out of order
        agree(b, "A", ["ASEAN"], key=public_key(a))
        assert wait_for(lambda: len(alerts(b)) == 6, 40), (alerts(b), link(a, "B", "out"))
        inbound = link(b, "A", "in")
        assert inbound["gaps"] == 0 and inbound["refused"] == 0, inbound
        assert link(a, "B", "out")["push"]["last_error"] is None


def test_the_push_endpoint_takes_nothing_unsigned_and_nothing_from_a_node_without_an_agreement(tmp_path):
    with two_nodes(tmp_path) as (a, b):
        agree(b, "A", ["ASEAN"], key=public_key(a))
        url = f"{b.url}/v1/federation/inbound"
        # a record A really signed, taken from A's outbound topic
        agree(a, "B", ["SG"])
        consumer = a.runtime.bus.consumer("mfc.federation.B.alerts", "test")
        raise_alerts(a, "S1", "S2")
        signed: list[dict] = []
        assert wait_for(lambda: (signed.extend(r.value for r in consumer.poll(0.1, 100)
                                               if r.value["envelope"]["kind"] == "alerts"), len(signed) >= 2)[1], 15)
        tampered = copy.deepcopy(signed[0])
        tampered["envelope"]["record"]["summary"] += "!"
        r = httpx.post(url, json={"node": "A", "records": [tampered, signed[1]]})
        assert r.status_code == 200, r.text
        assert r.json()["taken"] == 1 and r.json()["refused"][0]["index"] == 0
        assert "signature" in r.json()["refused"][0]["reason"]
        assert wait_for(lambda: alerts(b) == ["A:S2"], 10), alerts(b)
        assert link(b, "A", "in")["refused"] == 1
        # A's genuine record, claimed by a node B has no agreement with: nothing taken
        r = httpx.post(url, json={"node": "C", "records": [signed[0]]})
        assert r.status_code == 403 and "C" in r.json()["error"]
        assert httpx.post(url, content=b"{not json").status_code == 422
        assert httpx.post(url, json={"node": "A", "records": [{}] * 5001}).status_code == 413
        assert alerts(b) == ["A:S2"]


def test_an_agreement_pushes_only_over_https_or_to_this_machine(tmp_path):
    with two_nodes(tmp_path) as (a, _):
        for bad, why in (("http://partner.example/v1/federation/inbound", "HTTPS"),
                         ("ftp://partner.example/x", "https://"),
                         ("https://user:pw@partner.example/x", "credentials")):
            r = httpx.post(f"{a.url}/v1/federation/agreements", headers=ADMIN,
                           json={"partner": "B", "releasability": ["SG"], "push_url": bad})
            assert r.status_code == 422 and why in r.json()["error"], (bad, r.text)
