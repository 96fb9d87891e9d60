"""Agency isolation across every read and push path: what only PH may see never reaches VN.

One scene, run through the whole service (HTTP ingest → bus → fusion → store → API) on a
test clock: a PH-restricted radar holds a dark contact X for 17 minutes (a ``dark_vessel``
alert only PH may see) and a vessel Y, which an ASEAN-shared AIS receiver starts hearing ten
minutes in; a PH-restricted AIS receiver hears vessel Z.  VN-MSA must see none of X or Z, Y only
from the moment and through the data the shared receiver gave, on REST, OGC, CoT, history,
replay, the live stream, its Kafka topic, metrics and sensors; PH-CG sees all of it.  Each
negative check reads up to a sentinel (a shared alert sent last), so an empty answer cannot
pass by arriving too early.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from fusion.model import Sensor
from services.bus import topics
from services.config.settings import ApiKey

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for
from .test_api import position_sentence, with_time

T0 = 1_795_000_000
PH_KEY, VN_KEY = "ph-cg-key-for-isolation", "vn-msa-key-for-isolation"
KEYS = (ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(PH_KEY, "agency", "PH-CG"),
        ApiKey(VN_KEY, "agency", "VN-MSA"))
OFFICER, INTEGRATOR = {"Authorization": f"Bearer {OFFICER_KEY}"}, {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
PH, VN = {"Authorization": f"Bearer {PH_KEY}"}, {"Authorization": f"Bearer {VN_KEY}"}
SENSORS = {
    "AIS-ASEAN": Sensor("AIS-ASEAN", "ais", 10.0, 114.0, range_m=74_000, owner="test-integrator",
                        releasability=("ASEAN",)),
    "AIS-PH": Sensor("AIS-PH", "ais", 10.0, 114.0, range_m=74_000, owner="test-integrator", releasability=("PH",)),
}
PH_RADAR = {"id": "RAD-PH", "kind": "radar", "lat": 10.0, "lon": 114.0, "range_m": 60000, "accuracy_m": 30,
            "scan_period_s": 3, "releasability": ["PH"]}
X, Y, Z = (10.10, 114.10), (10.20, 114.20), (10.30, 114.05)
Y_MMSI, Z_MMSI, SENTINEL_MMSI = 548_000_001, 548_000_002, 970_548_123  # the sentinel: an AIS-SART (distress)
AIS_FROM_S = 600


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


def radar_minute(minute: int) -> str:
    """One minute of the PH radar: X and Y at anchor, a plot of each every 3 s."""
    rows = []
    for k in range(20):
        t = T0 + 60 * minute + 3 * k
        for lat, lon in (X, Y):
            rows.append({"kind": "plot", "sensor_id": "RAD-PH", "time": t, "lat": lat, "lon": lon, "sigma_m": 30})
    return "\n".join(json.dumps(r) for r in rows)


def ais_minute(minute: int, mmsi: int, where: tuple[float, float]) -> str:
    return "\n".join(with_time(position_sentence(mmsi, *where, sog=0.1, cog=0.0), T0 + 60 * minute + 10 * k)
                     for k in range(6))


class Stream:
    """A live-stream reader (SSE) collecting events until a distress alert (the sentinel) arrives."""

    def __init__(self, url: str, key: str) -> None:
        self.events: list[tuple[str, dict]] = []
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url, key), daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "stream did not connect"

    def _run(self, url: str, key: str) -> None:
        with httpx.stream("GET", f"{url}/v1/stream?key={key}", timeout=60) as r:
            kind = None
            for row in r.iter_lines():
                if row.startswith(": connected"):
                    self.connected.set()
                elif row.startswith("event: "):
                    kind = row[7:]
                elif row.startswith("data: "):
                    value = json.loads(row[6:])
                    self.events.append((kind or "", value))
                    if kind == "alert" and value.get("type") == "distress":
                        return


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    clock = Clock()
    runtime = make_runtime(tmp_path_factory.mktemp("iso"), sensors=SENSORS, api_keys=KEYS, fusion_clock="feed")
    runtime.clock = clock
    runtime.ingest.clock = clock
    if runtime.fusion_worker is not None:
        runtime.fusion_worker.clock = clock
    with LiveServer(runtime) as server:
        url = server.url
        assert httpx.post(f"{url}/v1/sensors", json=PH_RADAR, headers=INTEGRATOR).status_code == 201
        topic = runtime.bus.consumer(topics.agency_alerts("VN-MSA"), "isolation-test")
        streams = {"PH": Stream(url, PH_KEY), "VN": Stream(url, VN_KEY)}
        sent = 0
        for minute in range(18):
            clock.now = T0 + 60 * (minute + 1)
            r = httpx.post(f"{url}/v1/ingest/radar", content=radar_minute(minute), headers=INTEGRATOR).json()
            assert r["accepted"] == 40, r
            sent += 40
            if 60 * minute >= AIS_FROM_S:
                sent += ingest_ais(url, "AIS-ASEAN", ais_minute(minute, Y_MMSI, Y))
            sent += ingest_ais(url, "AIS-PH", ais_minute(minute, Z_MMSI, Z))
            assert wait_for(lambda: runtime.fusion_worker.handled >= sent, 10), "fusion fell behind"
        assert wait_for(lambda: alerts(url, OFFICER, "dark_vessel"), 20), "no dark_vessel alert"
        # the sentinel, last: a distress beacon heard by the shared receiver
        clock.now += 5
        ingest_ais(url, "AIS-ASEAN", with_time(position_sentence(SENTINEL_MMSI, 10.4, 114.4, 0, 0, status=14), int(clock.now)))
        assert wait_for(lambda: alerts(url, OFFICER, "distress"), 20), "no distress alert"
        for s in streams.values():
            s.thread.join(timeout=20)
        records = []
        wait_for(lambda: records.extend(topic.poll(timeout_s=0.5, max_records=1000))
                 or any(r.value.get("type") == "distress" for r in records), 20)
        yield server, streams, records


def ingest_ais(url: str, sensor_id: str, text: str) -> int:
    r = httpx.post(f"{url}/v1/ingest/ais?sensor_id={sensor_id}", content=text, headers=INTEGRATOR).json()
    assert r["rejected"] == 0, r
    return r["accepted"]


def alerts(url: str, who: dict, type_: str | None = None) -> list[dict]:
    params = {"type": type_} if type_ else {}
    return httpx.get(f"{url}/v1/alerts", params=params, headers=who).json()["alerts"]


def tracks(url: str, who: dict) -> dict[str, dict]:
    return {t["track_id"]: t for t in httpx.get(f"{url}/v1/tracks", headers=who).json()["tracks"]}


def by_position(rows: dict[str, dict], where: tuple[float, float]) -> dict | None:
    near = [t for t in rows.values() if abs(t["lat"] - where[0]) < 0.01 and abs(t["lon"] - where[1]) < 0.01]
    return near[0] if near else None


def test_the_dark_alert_of_a_restricted_radar_reaches_only_its_state(scene):
    server, streams, records = scene
    url = server.url
    (dark,) = [a for a in alerts(url, OFFICER, "dark_vessel")]
    assert dark["evidence"]["releasability"] == ["PH"]
    assert [a["alert_id"] for a in alerts(url, PH, "dark_vessel")] == [dark["alert_id"]]
    assert alerts(url, VN, "dark_vessel") == []
    assert alerts(url, VN, "distress"), "the shared sentinel alert must reach VN"
    # OGC
    ogc = httpx.get(f"{url}/ogc/collections/alerts/items", headers=VN).json()
    assert dark["alert_id"] not in [f["id"] for f in ogc["features"]]
    assert httpx.get(f"{url}/ogc/collections/alerts/items/{dark['alert_id']}", headers=VN).status_code == 404
    assert httpx.get(f"{url}/ogc/collections/alerts/items/{dark['alert_id']}", headers=PH).status_code == 200
    # VN's Kafka-style topic, read up to the sentinel
    ids = [r.value["alert_id"] for r in records]
    assert any(r.value.get("type") == "distress" for r in records)
    assert dark["alert_id"] not in ids
    # the live stream: PH got the dark alert, VN got the sentinel and nothing restricted before it
    ph_alerts = {v["alert_id"] for k, v in streams["PH"].events if k == "alert"}
    vn_alerts = {v["type"] for k, v in streams["VN"].events if k == "alert"}
    assert dark["alert_id"] in ph_alerts
    assert "distress" in vn_alerts and "dark_vessel" not in vn_alerts


def test_an_incident_about_restricted_data_is_shared_no_further_than_that_data(scene):
    """An officer raises an incident from the PH-only dark alert and marks it ASEAN: it is shared
    with PH only (the meet); one about Y, which the shared receiver hears, reaches VN too."""
    server, _, _ = scene
    url = server.url
    (dark,) = alerts(url, OFFICER, "dark_vessel")
    x, y = by_position(tracks(url, OFFICER), X), by_position(tracks(url, OFFICER), Y)
    secret = httpx.post(f"{url}/v1/incidents", headers=OFFICER, json={
        "category": "smuggling", "title": "dark contact X", "summary": "no AIS, loitering",
        "alert_ids": [dark["alert_id"]], "track_ids": [x["track_id"]], "releasability": ["ASEAN"]}).json()
    assert secret["releasability_effective"] == ["PH"]
    shared = httpx.post(f"{url}/v1/incidents", headers=OFFICER, json={
        "category": "iuu_fishing", "title": "Y fishing", "summary": "seen fishing",
        "track_ids": [y["track_id"]], "releasability": ["ASEAN"]}).json()
    assert shared["releasability_effective"] == ["ASEAN"]
    vn = [i["incident_id"] for i in httpx.get(f"{url}/v1/incidents", headers=VN).json()["incidents"]]
    ph = [i["incident_id"] for i in httpx.get(f"{url}/v1/incidents", headers=PH).json()["incidents"]]
    assert vn == [shared["incident_id"]] and set(ph) == {secret["incident_id"], shared["incident_id"]}
    assert httpx.get(f"{url}/v1/incidents/{secret['incident_id']}", headers=VN).status_code == 404
    # changing it re-publishes it: still only to PH
    assert httpx.patch(f"{url}/v1/incidents/{secret['incident_id']}", json={"comment": "boarding planned"},
                       headers=OFFICER).status_code == 200
    assert httpx.patch(f"{url}/v1/incidents/{secret['incident_id']}", json={"comment": "x"},
                       headers=PH).status_code == 403
    runtime = server.runtime

    def topic(agency):
        return [r.value["incident_id"] for r in runtime.bus.consumer(
            topics.agency_incidents(agency), f"iso-{agency}-{time.monotonic()}").poll(timeout_s=0.2, max_records=100)]
    assert wait_for(lambda: len(topic("PH-CG")) == 3)
    assert wait_for(lambda: topic("VN-MSA") == [shared["incident_id"]])
    assert topic("VN-MSA") == [shared["incident_id"]]


def test_tracks_of_restricted_sensors_are_hidden_and_fused_tracks_are_shown_from_shared_data(scene):
    server, streams, _ = scene
    url = server.url
    staff, ph, vn = tracks(url, OFFICER), tracks(url, PH), tracks(url, VN)
    x, y, z = by_position(staff, X), by_position(staff, Y), by_position(staff, Z)
    assert x and y and z, staff
    assert y["mmsi"] == Y_MMSI and set(y["sensors"]) == {"AIS-ASEAN", "RAD-PH"}
    assert "fixes" not in y  # the per-sensor fixes are the centre's bookkeeping, never served
    assert {x["track_id"], y["track_id"], z["track_id"]} <= set(ph)
    assert x["track_id"] not in vn and z["track_id"] not in vn
    # VN's view of Y is the shared receiver's last report, not the radar-refined estimate
    mine = vn[y["track_id"]]
    assert mine["sensors"] == ["AIS-ASEAN"] and mine["sources"] == ["ais"] and "fixes" not in mine
    assert (mine["lat"], mine["lon"]) == pytest.approx(Y, abs=1e-5)  # where AIS put it
    assert mine["mmsi"] == Y_MMSI
    for path in (f"/v1/tracks/{x['track_id']}", f"/v1/tracks/{z['track_id']}/history",
                 f"/ogc/collections/tracks/items/{x['track_id']}"):
        assert httpx.get(f"{url}{path}", headers=VN).status_code == 404, path
    feats = httpx.get(f"{url}/ogc/collections/tracks/items", headers=VN).json()["features"]
    assert {f["id"] for f in feats} == set(vn)
    cot = httpx.get(f"{url}/v1/picture.cot", headers=VN).text
    assert f'"MFC-{y["track_id"]}"' in cot and f'"MFC-{x["track_id"]}"' not in cot
    # the stream: VN never got an event of X or Z, nor a radar-refined state of Y
    vn_tracks = [v for k, v in streams["VN"].events if k == "track"]
    # (the shared sentinel beacon is in the picture from its first report and may reach VN too)
    vn_y = [v for v in vn_tracks if v["track_id"] == y["track_id"]]
    others = [v for v in vn_tracks if v["track_id"] != y["track_id"]]
    assert vn_y and all(v["mmsi"] == SENTINEL_MMSI for v in others), others
    assert all(v["sensors"] == ["AIS-ASEAN"] and "fixes" not in v for v in vn_tracks)
    ph_tracks = {v["track_id"] for k, v in streams["PH"].events if k == "track"}
    assert {x["track_id"], z["track_id"]} <= ph_tracks


def test_history_and_replay_are_as_restricted_as_each_point_was(scene):
    server, _, _ = scene
    url = server.url
    y = by_position(tracks(url, OFFICER), Y)
    ph = httpx.get(f"{url}/v1/tracks/{y['track_id']}/history", params={"limit": 5000}, headers=PH).json()["points"]
    vn = httpx.get(f"{url}/v1/tracks/{y['track_id']}/history", params={"limit": 5000}, headers=VN).json()["points"]
    def t(p):
        return time.mktime(time.strptime(p["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert min(t(p) for p in ph) < T0 + 60, "PH sees the radar-only past"
    assert vn and min(t(p) for p in vn) >= T0 + AIS_FROM_S, "VN sees nothing from before AIS heard Y"
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 300))
    replay_vn = httpx.get(f"{url}/v1/picture", params={"at": before}, headers=VN).json()["features"]
    replay_ph = httpx.get(f"{url}/v1/picture", params={"at": before}, headers=PH).json()["features"]
    assert y["track_id"] in {f["id"] for f in replay_ph}
    assert replay_vn == [] or y["track_id"] not in {f["id"] for f in replay_vn}


def test_sensors_and_metrics_show_an_agency_only_what_it_may_see(scene):
    server, _, _ = scene
    url = server.url
    ids = {s["id"] for s in httpx.get(f"{url}/v1/sensors", headers=VN).json()["sensors"]}
    assert ids == {"AIS-ASEAN"}
    assert {s["id"] for s in httpx.get(f"{url}/v1/sensors", headers=PH).json()["sensors"]} == \
        {"AIS-ASEAN", "AIS-PH", "RAD-PH"}
    metrics = httpx.get(f"{url}/metrics", headers=VN).text
    counted = sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("mfc_alerts{"))
    assert counted == len(alerts(url, VN))
    tracked = sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("mfc_tracks{"))
    assert tracked == len(tracks(url, VN))
    assert "mfc_worker" not in metrics and "mfc_ingest" not in metrics
    health = httpx.get(f"{url}/healthz").json()
    assert set(health) == {"status", "bus", "clock", "exercise"}  # how the server treats time: no counts


def test_deleting_a_restricted_sensor_does_not_make_its_tracks_public(scene):
    server, _, _ = scene
    url = server.url
    x = by_position(tracks(url, OFFICER), X)
    assert httpx.delete(f"{url}/v1/sensors/RAD-PH", headers=INTEGRATOR).status_code == 200
    assert x["track_id"] not in tracks(url, VN)
    assert x["track_id"] in tracks(url, PH)  # its tombstone keeps its releasability
    assert httpx.get(f"{url}/v1/tracks/{x['track_id']}/history", headers=VN).status_code == 404
