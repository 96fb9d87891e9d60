"""The polled reads (/v1/picture, /v1/picture.cot, /v1/tracks) come from a short-lived rendering
per viewer: one agency never gets another's view or staff's, a change shows within the second,
and a client that already holds the picture gets 304 Not Modified."""

from __future__ import annotations

import threading
import time

import httpx

from api.render_cache import RenderCache, rendered
from fusion.model import Sensor, iso_time
from services.config.settings import ApiKey

from .conftest import OFFICER_KEY, LiveServer, make_runtime, wait_for

OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
PH = {"Authorization": "Bearer ph-cg-key-for-tests"}
VN = {"Authorization": "Bearer vn-msa-key-for-tests"}
KEYS = (ApiKey("ph-cg-key-for-tests", "agency", "PH-CG"), ApiKey("vn-msa-key-for-tests", "agency", "VN-MSA"))
SENSORS = {  # one radar shared with the Philippines only, one with every member
    "RAD-PH": Sensor("RAD-PH", "radar", 11.0, 115.0, owner="ph", releasability=("PH",)),
    "RAD-ALL": Sensor("RAD-ALL", "radar", 12.0, 115.0, owner="sg", releasability=("ASEAN",)),
}


def track(track_id: str, sensor: str, lat: float, t_s: float | None = None) -> dict:
    return {"track_id": track_id, "time": iso_time(time.time() if t_s is None else t_s), "lat": lat,
            "lon": 115.1, "sog_kn": 8.0, "cog_deg": 90.0, "sigma_m": 30.0, "sources": ["radar"],
            "status": "confirmed", "sensors": [sensor]}


def ids(url: str, who: dict, path: str = "/v1/picture", **headers: str) -> set[str]:
    r = httpx.get(f"{url}{path}", headers={**who, **headers})
    assert r.status_code == 200, r.text
    body = r.json()
    return {f["id"] for f in body["features"]} if "features" in body else {t["track_id"] for t in body["tracks"]}


def server(tmp_path, **settings) -> LiveServer:
    runtime = make_runtime(tmp_path, sensors=SENSORS, api_keys=KEYS, **settings)
    runtime.store.write_tracks([track("T-PH", "RAD-PH", 11.1), track("T-ALL", "RAD-ALL", 12.1)])
    return LiveServer(runtime)


def test_an_agency_never_gets_staffs_or_another_agencys_view_even_right_after_they_warmed_it(tmp_path):
    with server(tmp_path) as srv:
        url = srv.url
        assert ids(url, OFFICER) == {"T-PH", "T-ALL"}  # staff warm the cache
        assert ids(url, VN) == {"T-ALL"}  # within the same second: VN's own view
        assert ids(url, PH) == {"T-PH", "T-ALL"}
        assert ids(url, VN, "/v1/tracks") == {"T-ALL"}
        assert "MFC-T-PH\"" not in httpx.get(f"{url}/v1/picture.cot", headers=VN).text

        seen: dict[str, set[frozenset[str]]] = {"officer": set(), "PH": set(), "VN": set()}
        stop = time.monotonic() + 2.5  # over two refreshes of the cache

        def poll(name: str, who: dict, gz: bool) -> None:
            enc = {"Accept-Encoding": "gzip" if gz else "identity"}
            with httpx.Client(headers={**who, **enc}) as client:
                while time.monotonic() < stop:
                    for path in ("/v1/picture", "/v1/tracks"):
                        body = client.get(f"{url}{path}").json()
                        got = body.get("features") or body.get("tracks")
                        seen[name].add(frozenset(f.get("id") or f.get("track_id") for f in got))

        threads = [threading.Thread(target=poll, args=(name, who, gz))
                   for name, who in (("officer", OFFICER), ("PH", PH), ("VN", VN)) for gz in (True, False)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert seen == {"officer": {frozenset({"T-PH", "T-ALL"})}, "PH": {frozenset({"T-PH", "T-ALL"})},
                        "VN": {frozenset({"T-ALL"})}}


def test_a_sensor_narrowed_to_one_state_hides_its_tracks_at_once_not_after_the_cache_expires(tmp_path):
    with server(tmp_path, picture_cache_s=30) as srv:
        assert ids(srv.url, VN) == {"T-ALL"}
        srv.runtime.register_sensor(Sensor("RAD-ALL", "radar", 12.0, 115.0, owner="sg", releasability=("PH",)), "t")
        assert ids(srv.url, VN) == set()  # no longer releasable to Viet Nam: not served from the cache
        assert ids(srv.url, PH) == {"T-PH", "T-ALL"}


def test_a_new_track_is_in_the_picture_within_the_cache_time(tmp_path):
    with server(tmp_path) as srv:
        assert ids(srv.url, OFFICER) == {"T-PH", "T-ALL"}
        srv.runtime.store.write_tracks([track("T-NEW", "RAD-ALL", 12.5)])
        written = time.monotonic()
        assert wait_for(lambda: "T-NEW" in ids(srv.url, VN) and "T-NEW" in ids(srv.url, OFFICER),
                        timeout_s=5, every_s=0.05)
        # typically 1 s + one rendering; the hard bound: nothing read more than 2 × 1 s ago is served,
        # so 2 s and the one rendering a request then waits for
        assert time.monotonic() - written <= 2.5


def test_etag_round_trip_gives_304_until_the_picture_changes(tmp_path):
    with server(tmp_path) as srv, httpx.Client(base_url=srv.url, headers=OFFICER) as client:
        srv.runtime.store.write_tracks([track(f"T-{k}", "RAD-ALL", 12.0 + k / 100) for k in range(30)])  # > 2 kB
        first = client.get("/v1/picture")
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, max-age=1"
        assert first.headers["content-encoding"] == "gzip"  # httpx asks for gzip: the stored gzip form
        plain = client.get("/v1/picture", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == first.content  # the same JSON

        again = client.get("/v1/picture", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        time.sleep(1.1)  # re-rendered, but nothing changed: still 304
        assert client.get("/v1/picture", headers={"If-None-Match": etag}).status_code == 304

        srv.runtime.store.write_tracks([track("T-NEW", "RAD-ALL", 12.5)])
        changed = wait_for(lambda: (r := client.get("/v1/picture", headers={"If-None-Match": etag})).status_code
                           == 200 and r, timeout_s=5, every_s=0.1)
        assert changed and changed.headers["etag"] != etag
        assert "T-NEW" in {f["id"] for f in changed.json()["features"]}
        vn = client.get("/v1/picture", headers={**VN, "If-None-Match": changed.headers["etag"]})
        assert vn.status_code == 200 and {f["id"] for f in vn.json()["features"]} == {"T-ALL", "T-NEW"} | {f"T-{k}" for k in range(30)}


def test_the_cache_turned_off_renders_every_request(tmp_path):
    with server(tmp_path, picture_cache_s=0) as srv:
        assert ids(srv.url, OFFICER) == {"T-PH", "T-ALL"}
        srv.runtime.store.write_tracks([track("T-NEW", "RAD-ALL", 12.5)])
        assert "T-NEW" in ids(srv.url, OFFICER)


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = RenderCache(ttl_s=60, max_entries=3)
    made = []

    def render(key):
        return lambda: (made.append(key), rendered(key.encode(), "text/plain"))[1]

    for key in "abcde":
        cache.get(key, render(key))
    assert len(cache) == 3 and made == list("abcde")
    cache.get("c", render("c"))  # kept: no rendering
    cache.get("a", render("a"))  # dropped: rendered again
    assert made == list("abcde") + ["a"] and len(cache) == 3

    big = RenderCache(ttl_s=60, max_entries=100, max_bytes=5000)  # renderings of 1,500 bytes (not gzipped): 3 fit
    for key in "abcde":
        big.get(key, lambda: rendered(bytes(1500), "application/octet-stream"))
    assert len(big) == 3 and big.bytes == 4500


def test_one_rendering_for_concurrent_requests_and_the_previous_one_meanwhile_only_while_young():
    now = [0.0]
    cache = RenderCache(ttl_s=1.0, clock=lambda: now[0])
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return rendered(str(len(calls)).encode(), "application/json")

    def together(n: int, depends=None) -> list:
        out: list = []
        threads = [threading.Thread(target=lambda: out.append(cache.get("k", slow, depends))) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    first = together(10)  # nothing yet: all wait for one rendering
    assert len(calls) == 1 and {v.body for v in first} == {b"1"}
    now[0] = 1.5  # stale but young: one refreshes, the others get the previous one meanwhile
    assert len(calls) == 1 and {v.body for v in together(10)} <= {b"1", b"2"} and len(calls) == 2
    now[0] = 5.0  # older than 2 × ttl: never handed out, all wait for the one new rendering
    assert {v.body for v in together(10)} == {b"3"} and len(calls) == 3
    # made under other releasability: never handed out, all wait
    assert {v.body for v in together(10, depends="narrowed")} == {b"4"} and len(calls) == 4


def test_a_refresh_slower_than_the_ttl_holds_no_poll_up_while_the_previous_rendering_was_young():
    """Under steady polling a rendering that takes longer than ttl (20,000 tracks on a busy
    server) must not make every poll wait for it: the previous rendering is handed out for as
    long as the refresh runs, since it was young when the refresh began.  After an idle spell
    (older than 2 × ttl when asked) the one fresh rendering is still waited for."""
    now = [0.0]
    cache = RenderCache(ttl_s=1.0, clock=lambda: now[0])
    started, release = threading.Event(), threading.Event()
    cache.get("k", lambda: rendered(b"old", "application/json"))

    def slow():
        started.set()
        release.wait(10)
        return rendered(b"new", "application/json")

    now[0] = 1.5  # stale, young: this poll refreshes, slowly
    refresher = threading.Thread(target=lambda: cache.get("k", slow), daemon=True)
    refresher.start()
    assert started.wait(10)
    now[0] = 4.0  # the refresh is still running, 2.5 s later: polls get the previous rendering
    got: list = []
    poll = threading.Thread(target=lambda: got.append(cache.get("k", slow).body), daemon=True)
    poll.start()
    poll.join(timeout=2)
    assert got == [b"old"], "a poll waited behind the slow refresh"
    release.set()
    refresher.join(timeout=10)
    assert cache.get("k", slow).body == b"new"
