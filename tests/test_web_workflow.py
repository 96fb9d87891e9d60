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
