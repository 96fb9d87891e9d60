"""Tracks carry releasability: an agency sees a track only when a sensor that fed it is releasable to it."""

from __future__ import annotations

import json
import threading
import time

import httpx

from services.config.settings import ApiKey

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for

INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
PH = {"Authorization": "Bearer ph-cg-key-for-tests"}
VN = {"Authorization": "Bearer vn-msa-key-for-tests"}
KEYS = (ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey("ph-cg-key-for-tests", "agency", "PH-CG"),
        ApiKey("vn-msa-key-for-tests", "agency", "VN-MSA"))
# a radar whose owner shares it with the Philippines only, and one shared with every member
PH_RADAR = {"id": "RAD-PH-ONLY", "kind": "radar", "lat": 11.0, "lon": 115.0, "range_m": 40000, "accuracy_m": 30,
            "scan_period_s": 3, "releasability": ["PH"]}
SHARED_RADAR = {**PH_RADAR, "id": "RAD-SHARED", "lat": 12.0, "releasability": ["ASEAN"]}


def plots(sensor_id: str, t0: float, scans: int, lat: float, lon: float) -> str:
    return "\n".join(json.dumps({"kind": "plot", "sensor_id": sensor_id, "time": t0 + 3 * k,
                                 "lat": lat, "lon": lon + 0.00014 * k, "sigma_m": 30}) for k in range(scans))


def test_a_track_seen_only_by_a_restricted_radar_is_hidden_from_other_agencies(tmp_path):
    with LiveServer(make_runtime(tmp_path, api_keys=KEYS)) as server:
        url = server.url
        for sensor in (PH_RADAR, SHARED_RADAR):
            assert httpx.post(f"{url}/v1/sensors", json=sensor, headers=INTEGRATOR).status_code == 201
        streams = {"PH": listen(url, "ph-cg-key-for-tests"), "VN": listen(url, "vn-msa-key-for-tests")}
        for thread, _ in streams.values():  # the listeners are registered before the feed arrives
            assert thread.connected.wait(10), "the stream did not connect"
        now = time.time()
        for sensor_id, lat in (("RAD-PH-ONLY", 11.1), ("RAD-SHARED", 12.1)):
            r = httpx.post(f"{url}/v1/ingest/radar", content=plots(sensor_id, now - 30, 8, lat, 115.1),
                           headers=INTEGRATOR).json()
            assert r["accepted"] == 8, r

        def tracks(who):
            return {round(t["lat"], 1): t for t in httpx.get(f"{url}/v1/tracks", headers=who).json()["tracks"]}

        seen = wait_for(lambda: len(tracks(OFFICER)) == 2 and tracks(OFFICER))
        assert seen, tracks(OFFICER)
        restricted, shared = seen[11.1], seen[12.1]
        assert restricted["sensors"] == ["RAD-PH-ONLY"] and shared["sensors"] == ["RAD-SHARED"]

        # the officer and PH see both; VN sees only the track of the shared radar, on every path
        assert set(tracks(PH)) == {11.1, 12.1}
        assert set(tracks(VN)) == {12.1}
        rid = restricted["track_id"]
        assert httpx.get(f"{url}/v1/tracks/{rid}", headers=VN).status_code == 404
        assert httpx.get(f"{url}/v1/tracks/{rid}/history", headers=VN).status_code == 404
        assert httpx.get(f"{url}/v1/tracks/{rid}", headers=PH).status_code == 200
        picture = httpx.get(f"{url}/v1/picture", headers=VN).json()
        assert [f["id"] for f in picture["features"]] == [shared["track_id"]]
        ogc = httpx.get(f"{url}/ogc/collections/tracks/items", headers=VN).json()
        assert [f["id"] for f in ogc["features"]] == [shared["track_id"]]
        assert httpx.get(f"{url}/ogc/collections/tracks/items/{rid}", headers=VN).status_code == 404
        cot = httpx.get(f"{url}/v1/picture.cot", headers=VN).text
        assert f"MFC-{shared['track_id']}" in cot and f"MFC-{rid}\"" not in cot
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        replay = httpx.get(f"{url}/v1/picture", params={"at": at}, headers=VN).json()
        assert rid not in [f["id"] for f in replay["features"]]
        assert shared["track_id"] in [f["id"] for f in replay["features"]]
        # the live stream: PH gets both tracks' updates, VN only the shared radar's
        for thread, _ in streams.values():
            thread.join(timeout=15)
        assert {e["track_id"] for e in streams["PH"][1]} == {rid, shared["track_id"]}
        assert {e["track_id"] for e in streams["VN"][1]} == {shared["track_id"]}


def listen(url: str, key: str):
    """Collect the track events of the live stream for a few seconds (a thread and its list)."""
    events: list[dict] = []
    connected = threading.Event()

    def run():
        deadline = time.time() + 8
        try:
            with httpx.stream("GET", f"{url}/v1/stream?key={key}&types=track", timeout=10) as r:
                kind = None
                for row in r.iter_lines():
                    if row.startswith(": connected"):
                        connected.set()
                    if row.startswith("event: "):
                        kind = row[7:]
                    elif row.startswith("data: ") and kind == "track":
                        events.append(json.loads(row[6:]))
                    if time.time() > deadline:
                        return
        except httpx.HTTPError:
            return

    thread = threading.Thread(target=run, daemon=True)
    thread.connected = connected  # type: ignore[attr-defined]
    thread.start()
    return thread, events


def test_a_recorded_feed_line_belongs_to_the_registered_station_its_tag_block_names(tmp_path):
    """`mfc fuse` / the demo: a mixed file's tag-blocked lines are their station's (and so carry
    that sensor's releasability); a line without a station stays the file's, unregistered."""
    from pyais.encode import encode_dict

    from fusion.model import Sensor
    from ingest.nmea import nmea_checksum
    from services.workers.fuse import read_file

    def tagged(station: str | None, mmsi: int, t: int) -> str:
        sentence = encode_dict({"type": 1, "mmsi": mmsi, "lat": 10.2, "lon": 114.2, "speed": 8.0,
                                "course": 45.0}, talker_id="AI")[0]
        tag = f"c:{t}" + (f",s:{station}" if station else "")
        return f"\\{tag}*{nmea_checksum(tag)}\\{sentence}"

    sensors = {"RX-PH": Sensor("RX-PH", "ais", 10.0, 114.0, range_m=74_000, releasability=("PH",)),
               "R1": Sensor("R1", "radar", 10.0, 114.0, range_m=50_000, releasability=("ASEAN",))}
    path = tmp_path / "network.nmea"
    path.write_text("\n".join([tagged("RX-PH", 548000001, 1795507200), tagged("R1", 548000002, 1795507201),
                               tagged("ELSEWHERE", 548000003, 1795507202), tagged(None, 548000004, 1795507203)]) + "\n")
    rejects: list = []
    got = {o.mmsi: o.sensor_id for o in read_file(path, sensors, rejects)}
    assert rejects == []
    # a registered AIS station; a radar's name is not an AIS receiver; unknown and absent stations stay the file's
    assert got == {548000001: "RX-PH", 548000002: "network", 548000003: "network", 548000004: "network"}


def test_a_track_lists_the_stations_that_heard_it_recently_and_an_agency_only_its_own():
    from fusion.model import Sensor, iso_time
    from fusion.tracker import Tracker
    from services.access.visibility import track_view

    from .builders import T0, make_ais, position

    sensors = {"RX-A": Sensor("RX-A", "ais", 10.0, 114.0, range_m=74_000, releasability=("ASEAN",)),
               "RX-PH": Sensor("RX-PH", "ais", 10.3, 114.3, range_m=74_000, releasability=("PH",))}
    obs = []
    for k in range(240):  # an hour of reports every 15 s; RX-PH hears only the first 20 minutes
        t = T0 + 15 * k
        where = position(10.1, 114.1, 8.0, 45.0, 15 * k)
        obs.append(make_ais(548000001, t, *where, sog_kn=8.0, cog_deg=45.0, station="RX-A"))
        if k < 80:
            obs.append(make_ais(548000001, t + 0.5, *where, sog_kn=8.0, cog_deg=45.0, station="RX-PH"))
        if k % 3 == 0:
            obs.append(make_ais(548000001, t + 1.0, *where, sog_kn=8.0, cog_deg=45.0, station="NET-7"))
    for o in obs:  # each station feeds through a registered sensor; the network one through RX-A's
        o.sensor_id = "RX-PH" if o.station == "RX-PH" else "RX-A"
    tracker = Tracker(sensors)
    lines = [ln.to_dict() for ln in tracker.update(obs) + tracker.flush()]
    at_15 = [ln for ln in lines if ln["time"] <= iso_time(T0 + 900)][-1]
    assert at_15["stations"] == ["NET-7", "RX-A", "RX-PH"] and at_15["receivers"] == 3
    last = lines[-1]
    # RX-PH fell silent 40 min before the end: no longer among the stations, still among the receivers
    assert last["stations"] == ["NET-7", "RX-A"] and last["receivers"] == 3
    # the staff see every station; VN only the registered, releasable one (a network name is not)
    vn = track_view(at_15, "VN-MSA", sensors)
    assert vn is not None and vn["stations"] == ["RX-A"] and vn["receivers"] == 1
