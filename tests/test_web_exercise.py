"""The instructor's panel on the page, in real headless Chromium: on an exercise system an admin
key picks a built-in scenario, starts it, watches the progress and the tracks come, and stops it;
an officer key, or any key on a live system, never sees the panel."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ADMIN_KEY, OFFICER_KEY, LiveServer, make_runtime
from .test_web import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser


def test_an_instructor_starts_and_stops_an_exercise_from_the_page(tmp_path, page):  # noqa: F811
    with LiveServer(make_runtime(tmp_path, {}, exercise="Drill 1", fusion_clock="feed")) as server:
        # a trainee (officer key) sees the exercise banner, never the instructor's panel
        page.goto(f"{server.url}/?key={OFFICER_KEY}")
        page.wait_for_selector("#exercise-banner", state="visible", timeout=15000)
        page.wait_for_function("document.querySelector('#status').textContent.includes('live')", timeout=15000)
        page.wait_for_timeout(1500)  # the panel's first request came back (403)
        assert page.is_hidden("#exercise-box")

        # the instructor signs in with the admin key: the panel and its scenarios
        page.click("#signout")
        page.fill("#signin-key", ADMIN_KEY)
        page.click("#signin button[type=submit]")
        page.wait_for_selector("#exercise-box", state="visible", timeout=15000)
        assert page.text_content("#exercise-state") == "none"
        options = page.eval_on_selector_all("#exercise-scenario option", "os => os.map(o => o.value)")
        assert {"distress", "quiet-day", "whitsun-swarm"} <= set(options)
        assert page.is_disabled("#exercise-stop")

        page.select_option("#exercise-scenario", "quiet-day")
        page.fill("#exercise-speed", "10")
        page.fill("#exercise-hours", "0.25")  # 15 min of feed: a short one
        page.click("#exercise-start")
        page.wait_for_function("['starting', 'running'].includes(document.querySelector('#exercise-state').textContent)",
                               timeout=15000)
        assert page.is_disabled("#exercise-start")
        # the feeds play: progress on the panel, tracks on the map
        page.wait_for_function("document.querySelector('#exercise-state').textContent === 'running' && "
                               "Number(document.querySelector('#exercise-progress').dataset.sent) > 0",
                               timeout=180000)
        page.wait_for_function("Number(document.querySelector('#track-count').textContent) > 0", timeout=60000)
        progress = page.inner_text("#exercise-progress")
        assert "quiet-day" in progress and "lines" in progress and "%" in progress
        assert 0 < page.evaluate("document.querySelector('#exercise-bar').value") < 1
        assert page.evaluate("window.mfc.instructor.state") == "running"
        assert page.is_enabled("#exercise-stop")

        page.click("#exercise-stop")
        page.wait_for_function("document.querySelector('#exercise-state').textContent === 'stopped'", timeout=30000)
        assert page.is_enabled("#exercise-start") and page.is_disabled("#exercise-stop")
        st = httpx.get(f"{server.url}/v1/exercise", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
        assert st["state"] == "stopped" and 0 < st["sent"] < st["total"]
        assert "stopped" in page.inner_text("#exercise-progress")

        # another instructor (the API) starts one first: the page's start is refused with the reason,
        # and the panel follows the other exercise to its end
        r = httpx.post(f"{server.url}/v1/exercise", json={"scenario": "quiet-day", "hours": 0.05, "speed": 60},
                       headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert r.status_code == 202, r.text
        page.click("#exercise-start")
        page.wait_for_function("document.querySelector('#exercise-error').textContent.includes('already')",
                               timeout=15000)
        assert "409" in page.inner_text("#exercise-error")
        page.wait_for_function("document.querySelector('#exercise-state').textContent === 'finished'", timeout=180000)
        assert page.evaluate("document.querySelector('#exercise-bar').value") == 1


def test_a_live_system_shows_no_instructor_panel_even_to_an_admin(live_server, page):  # noqa: F811
    page.goto(f"{live_server.url}/?key={ADMIN_KEY}")
    page.wait_for_function("document.querySelector('#status').textContent.includes('live')", timeout=15000)
    page.wait_for_timeout(1500)
    assert page.is_hidden("#exercise-box") and page.is_hidden("#exercise-banner")
