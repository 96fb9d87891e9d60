"""The alert queue on the page, in real headless Chromium: assign, comment, close with a
disposition and snooze, checked against what the API then holds."""

from __future__ import annotations

import time

import httpx
import pytest

from fusion.model import iso_time

from .conftest import OFFICER_KEY, wait_for
from .test_web import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}


def alert(alert_id, track_id, type_="zone_entry"):
    return {"alert_id": alert_id, "type": type_, "severity": "medium", "time": iso_time(time.time() - 60),
            "track_id": track_id, "mmsi": None, "lat": 10.0, "lon": 114.0, "zone": "Thitu 12nm",
            "summary": f"{type_} of {track_id}", "evidence": {"releasability": ["ASEAN"]}, "state": "open"}


def test_officer_assigns_comments_closes_and_snoozes_from_the_queue(live_server, page):  # noqa: F811
    store = live_server.runtime.store
    store.write_alerts([alert("A1", "T1"), alert("A2", "T2"), alert("A3", "T3", "loitering")])
    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    page.wait_for_function("document.querySelectorAll('#alerts li.alert').length === 3", timeout=15000)

    page.once("dialog", lambda d: d.accept("ana"))
    page.click("li[data-alert-id='A1'] .assign")
    assert wait_for(lambda: store.alert("A1")["workflow"]["assignee"] == "ana")
    page.wait_for_function("document.querySelector(\"li[data-alert-id='A1']\").textContent.includes('assigned to ana')")
    page.once("dialog", lambda d: d.accept("tug alongside, checking"))
    page.click("li[data-alert-id='A1'] .comment")
    assert wait_for(lambda: [h.get("comment") for h in store.alert("A1")["workflow"]["history"]][-1:]
                    == ["tug alongside, checking"])

    page.click("li[data-alert-id='A2'] .close")  # no disposition chosen: refused on the page, nothing sent
    page.wait_for_function("document.querySelector(\"li[data-alert-id='A2'] .wf-error\") !== null")
    assert store.alert("A2")["state"] == "open"
    page.select_option("li[data-alert-id='A2'] .disposition", "false_positive")
    page.click("li[data-alert-id='A2'] .close")
    assert wait_for(lambda: store.alert("A2")["state"] == "closed")
    assert store.alert("A2")["workflow"]["disposition"] == "false_positive"
    page.wait_for_function("document.querySelector(\"li[data-alert-id='A2']\") === null")

    page.click("li[data-alert-id='A3'] .snooze")
    supps = wait_for(lambda: httpx.get(f"{live_server.url}/v1/suppressions", headers=OFFICER).json()["suppressions"])
    assert [(s["type"], s["track_id"], s["held"]) for s in supps] == [("loitering", "T3", 1)]
    page.wait_for_function("document.querySelector(\"li[data-alert-id='A3']\") === null")
    page.wait_for_function("document.querySelector('#suppressed-count').dataset.count === '1'")
    queue = httpx.get(f"{live_server.url}/v1/alerts?state=open", headers=OFFICER).json()["alerts"]
    assert [a["alert_id"] for a in queue] == ["A1"]
    history = store.alert("A1")["workflow"]["history"]
    assert [(h["action"], h["by"]) for h in history] == [("assign", "demo-officer"), ("comment", "demo-officer")]

    # an incident raised from the alert, shown in the incidents panel
    page.click("li[data-alert-id='A1'] .incident")
    page.wait_for_selector("#incident-form", state="visible")
    page.select_option("#incident-category", "iuu_fishing")
    page.fill("#incident-title", "trawlers inside Thitu 12 nm")
    page.fill("#incident-releasability", "PH, VN")
    page.click("#incident-raise")
    (incident,) = wait_for(lambda: store.incidents())
    assert (incident["category"], incident["alert_ids"], incident["releasability"], incident["created_by"]) == \
        ("iuu_fishing", ["A1"], ["PH", "VN"], "demo-officer")
    assert incident["releasability_effective"] == ["PH", "VN"]  # A1 is ASEAN: the meet is what was asked
    page.wait_for_function("document.querySelector('#incidents').textContent.includes('trawlers inside Thitu')")
    assert page.is_hidden("#incident-form")


def test_officer_reads_an_alerts_history_and_reopens_a_closed_one(live_server, page):  # noqa: F811
    store = live_server.runtime.store
    store.write_alerts([alert("B1", "T1")])
    now = time.time()
    store.change_alert("B1", {"assignee": "ana", "comment": "looks like a trawler"}, "demo-officer", now)
    store.change_alert("B1", {"state": "closed", "disposition": "benign"}, "test-admin", now + 1)
    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    page.wait_for_function("document.querySelector('#alerts li.empty') !== null", timeout=15000)
    page.select_option("#alert-view", "closed")
    page.wait_for_selector("li[data-alert-id='B1'] .reopen", timeout=15000)
    page.click("li[data-alert-id='B1'] details.history summary")
    text = page.text_content("li[data-alert-id='B1'] details.history")
    assert "history (3)" in text and "demo-officer — assigned to ana" in text
    assert "commented: “looks like a trawler”" in text and "test-admin — closed as benign" in text
    page.click("li[data-alert-id='B1'] .reopen")
    assert wait_for(lambda: store.alert("B1")["state"] == "open")
    assert store.alert("B1")["workflow"]["history"][-1]["action"] == "reopen"
    page.wait_for_function("document.querySelector(\"li[data-alert-id='B1']\") === null")
    page.select_option("#alert-view", "open")
    page.wait_for_selector("li[data-alert-id='B1'] .ack", timeout=15000)
    page.wait_for_function("document.querySelector(\"li[data-alert-id='B1'] details.history summary\")"
                           ".textContent === 'history (4)'")


def test_staff_see_learned_anchorages_as_a_layer(live_server, page):  # noqa: F811
    def learn(f):  # an anchorage as traffic would have taught it: two adjacent cells off Manila
        traffic = f.rules.ctx.traffic
        i, j = traffic.cell(14.50, 120.90)
        traffic.anchor_cells[(i, j)] = 6
        traffic.anchor_cells[(i, j + 1)] = 7
    assert live_server.runtime.fusion_worker.control(learn)
    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    page.wait_for_function("window.mfc && window.mfc.anchorages === null", timeout=15000)
    page.check("#anchorages-toggle")
    page.wait_for_function("window.mfc.anchorages && window.mfc.anchorages.length === 1", timeout=15000)
    assert page.text_content("#anchorages-note") == "1"
    page.uncheck("#anchorages-toggle")
    page.wait_for_function("window.mfc.anchorages === null")
