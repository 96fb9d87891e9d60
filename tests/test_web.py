"""The watch officer's page in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import shutil
import time

import httpx
import pytest

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, wait_for
from .test_api import position_sentence

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page():
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (./dev test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        yield page
        browser.close()


def feed_vessels(url: str, n: int = 5) -> None:
    lines = []
    for step in range(3):
        for k in range(n):
            lines.append(position_sentence(548100000 + k, 10.0 + 0.05 * k + 0.001 * step, 114.0 + 0.05 * k))
    r = httpx.post(f"{url}/v1/ingest/ais?sensor_id=AIS-T1", content="\n".join(lines),
                   headers={"Authorization": f"Bearer {INTEGRATOR_KEY}"})
    assert r.json()["accepted"] == 3 * n


def test_officer_sees_live_tracks_on_an_offline_map(live_server, page, tmp_path):
    feed_vessels(live_server.url)
    assert wait_for(lambda: len(live_server.runtime.store.tracks()) == 5)
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    page.wait_for_function("document.querySelector('#track-count').textContent.trim() === '5'", timeout=15000)
    assert "key=" not in page.url  # the key leaves the address bar
    page.wait_for_function("document.querySelector('#status').textContent.includes('live')", timeout=15000)
    # the map drew something: land and sea are different colours, tracks add more
    colours = page.evaluate("""() => {
        const c = document.querySelector('#map'); const ctx = c.getContext('2d');
        const d = ctx.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);
        return seen.size; }""")
    assert colours > 5
    shot = tmp_path / "picture.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    # selecting a track shows its identity
    track_id = page.evaluate("window.mfc.tracks.find(t => t.mmsi === 548100002).track_id")
    page.evaluate(f"window.mfc.selectTrack('{track_id}')")
    page.wait_for_function("document.querySelector('#track-panel').textContent.includes('548100002')")
    # ... and the sensors that fed it (provenance, and what its releasability follows)
    assert "AIS-T1" in page.inner_text("#track-panel")
    # air-gapped: every request stayed on this server
    assert requests and all(u.startswith(live_server.url) for u in requests)


def test_page_without_a_key_asks_for_one_and_refuses_a_bad_one(live_server, page):
    page.goto(live_server.url + "/")
    page.wait_for_selector("#signin", state="visible", timeout=10000)
    page.goto(f"{live_server.url}/?key=wrong-key")
    page.wait_for_function("document.body.textContent.toLowerCase().includes('refused')", timeout=10000)


def test_officer_replays_the_picture_of_eight_minutes_ago(live_server, page):
    from .test_api import with_time
    now = int(time.time())
    # a vessel heard 9 to 7 minutes ago (then silent), another only in the last minute
    early = [with_time(position_sentence(548200001, 10.30, 114.30 + 0.0008 * k, 9.0, 90.0), now - 540 + 12 * k)
             for k in range(10)]
    late = [with_time(position_sentence(548200002, 10.50, 114.50 + 0.0008 * k, 9.0, 90.0), now - 60 + 10 * k)
            for k in range(6)]
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content="\n".join(early + late),
                   headers={"Authorization": f"Bearer {INTEGRATOR_KEY}"})
    assert r.json()["accepted"] == 16
    officer = {"Authorization": f"Bearer {OFFICER_KEY}"}
    then = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 480))

    def mmsis(params=None):
        doc = httpx.get(f"{live_server.url}/v1/picture", params=params, headers=officer).json()
        return sorted(f["properties"]["mmsi"] for f in doc["features"])

    assert wait_for(lambda: 548200002 in mmsis())
    assert mmsis({"at": then}) == [548200001]
    span = httpx.get(f"{live_server.url}/v1/history/range", headers=officer).json()
    assert span["earliest"] <= then <= span["latest"]

    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    page.wait_for_function("document.querySelector('#status').textContent.includes('live')", timeout=15000)
    page.click("#replay-toggle")
    page.wait_for_selector("#replay-slider", state="visible")
    page.evaluate(f"window.mfc.replay('{then}')")
    page.wait_for_function("document.querySelector('#status').textContent.includes('replay')", timeout=10000)
    # entering replay first shows the middle of the span (which may hold the same vessel): wait
    # for the picture of the asked time, then check it holds only the early vessel
    page.wait_for_function(f"document.querySelector('#picture-time').textContent === '{then}'", timeout=10000)
    page.wait_for_function("window.mfc.tracks.length === 1 && window.mfc.tracks[0].mmsi === 548200001", timeout=10000)
    assert page.evaluate("document.querySelector('#picture-time').textContent") == then
    page.click("#replay-live")
    page.wait_for_function("window.mfc.tracks.some(t => t.mmsi === 548200002)", timeout=10000)
    page.wait_for_function("document.querySelector('#status').textContent.includes('live')", timeout=10000)


def test_labels_of_a_crowded_fleet_do_not_pile_up_and_the_alerted_vessel_keeps_its_label(live_server, page):
    """Forty vessels within a kilometre (a fishing fleet at a feature) and an AIS-SART among them:
    no two drawn labels overlap, some are held back, and the vessel in alert is labelled."""
    lines = []
    for step in range(2):
        for k in range(40):
            lat, lon = 10.30 + 0.0012 * (k // 8), 114.30 + 0.0018 * (k % 8)
            lines.append(position_sentence(548200000 + k, lat + 0.00001 * step, lon, sog=1.0))
        lines.append(position_sentence(970548777, 10.3030, 114.3060, sog=0.0, cog=0.0, status=14))
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content="\n".join(lines),
                   headers={"Authorization": f"Bearer {INTEGRATOR_KEY}"})
    assert r.json()["accepted"] == len(lines)
    assert wait_for(lambda: len(live_server.runtime.store.tracks()) == 41)
    assert wait_for(lambda: any(a["type"] == "distress" for a in live_server.runtime.store.alerts()), 15)
    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    page.wait_for_function("document.querySelector('#track-count').textContent.trim() === '41'", timeout=15000)
    page.wait_for_function("window.mfc.alerts.some(a => a.type === 'distress')", timeout=15000)
    page.evaluate("window.mfc.setView({lon: 114.3063, lat: 10.3024, zoom: 13})")
    page.wait_for_function("window.mfc.labels.drawn > 0", timeout=10000)
    page.evaluate("window.mfc.refresh()")
    time.sleep(1.0)  # a frame or two after the alert list came in
    labels = page.evaluate("window.mfc.labels.labels")
    hidden = page.evaluate("window.mfc.labels.hidden")
    boxes = [lb["box"] for lb in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert hidden > 0 and 0 < len(labels) < 41
    sart = page.evaluate("window.mfc.tracks.find(t => t.mmsi === 970548777).track_id")
    alerted = page.evaluate("window.mfc.alerts.map(a => [a.type, a.track_id, a.mmsi, a.state])")
    assert str(sart) in {lb["track_id"] for lb in labels}, (alerted, labels, sart)


def test_an_exercise_system_says_so_on_the_page_and_a_live_one_does_not(tmp_path, page, live_server):
    from .conftest import LiveServer, make_runtime
    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    page.wait_for_function("document.querySelector('#status').textContent.includes('live')", timeout=15000)
    assert page.is_hidden("#exercise-banner")
    (tmp_path / "ex").mkdir()
    with LiveServer(make_runtime(tmp_path / "ex", exercise="Drill 1", fusion_clock="feed")) as server:
        page.goto(f"{server.url}/?key={OFFICER_KEY}")
        page.wait_for_selector("#exercise-banner", state="visible", timeout=15000)
        assert "EXERCISE" in page.inner_text("#exercise-banner").upper()
        assert "Drill 1" in page.text_content("#exercise-banner")
        assert page.title().startswith("EXERCISE Drill 1")


def test_a_partner_nodes_tracks_are_drawn_and_listed_apart_with_their_node_and_age(live_server, page):
    """A partner's track gets a ring on the map, a legend count and its node and age in the panel;
    a vessel both nodes track is one marker whose panel says who else sees it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.federation.outbound import public_pem, seal
    from services.federation.inbound import inbound_topic
    from fusion.model import iso_time

    from .conftest import ADMIN_KEY

    feed_vessels(live_server.url)
    assert wait_for(lambda: len(live_server.runtime.store.tracks()) == 5)
    partner = Ed25519PrivateKey.generate()
    r = httpx.post(f"{live_server.url}/v1/federation/agreements", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                   json={"partner": "IN-IFC", "releasability": ["ASEAN"], "public_key": public_pem(partner)})
    assert r.status_code == 201, r.text
    now = time.time()
    local = {t["mmsi"]: t for t in live_server.runtime.store.tracks()}[548100001]
    lines = [{"track_id": "P7", "time": iso_time(now - 20), "lat": 10.3, "lon": 114.4, "sog_kn": 9.0, "cog_deg": 10.0,
              "status": "confirmed", "sources": ["radar"], "mmsi": None},
             {"track_id": "P8", "time": local["time"], "lat": local["lat"] + 0.001, "lon": local["lon"],
              "sog_kn": 10.0, "cog_deg": 45.0, "status": "confirmed", "sources": ["ais"], "mmsi": 548100001}]
    for line in lines:
        envelope = {"v": 1, "kind": "tracks", "origin": ["IN-IFC"], "hops": 3, "onward": False, "retention_s": 86400,
                    "sent_s": now, "releasability": ["ASEAN"], "record": line}
        live_server.runtime.bus.publish(inbound_topic("IN-IFC", "mfc", "tracks"), line["track_id"], seal(envelope, partner))
    live_server.runtime.bus.flush()
    assert wait_for(lambda: live_server.runtime.store.track("IN-IFC:P8") is not None, 15)

    page.goto(f"{live_server.url}/?key={OFFICER_KEY}")
    # six markers: five of this node (one of them also the partner's P8), and the partner's P7
    page.wait_for_function("document.querySelector('#track-count').textContent.trim() === '6'", timeout=15000)
    assert page.text_content("#count-partner").strip() == "1"
    page.evaluate("window.mfc.fit()")
    page.wait_for_function("window.mfc.stats.partnerRings === 1", timeout=10000)
    page.evaluate("window.mfc.selectTrack('IN-IFC:P7')")
    panel = page.text_content("#track-panel")
    assert "partner node IN-IFC" in panel and "ago" in panel, panel
    page.evaluate(f"window.mfc.selectTrack({local['track_id']!r})")
    panel = page.text_content("#track-panel")
    assert "Also seen by" in panel and "IN-IFC" in panel and "IN-IFC:P8" in panel, panel
