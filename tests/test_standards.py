"""The picture through standards, over real HTTP: OGC API – Features, Cursor on Target, metrics."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import httpx
import pytest

from .conftest import OFFICER_KEY, wait_for
from .test_api import INTEGRATOR, OFFICER, corrupt_checksum, position_sentence, static_sentences, with_time

VESSELS = {  # mmsi: (name, lat, lon, sog)
    548111222: ("LADY MARIA", 10.20, 114.20, 12.0),
    574333444: ("SONG HONG 7", 10.60, 114.70, 8.0),
}


@pytest.fixture
def picture(live_server):
    """Two AIS vessels, each heard twice (so confirmed), plus one line with a bad checksum."""
    now = int(time.time())
    lines = []
    for mmsi, (name, lat, lon, sog) in VESSELS.items():
        lines += [with_time(s, now - 30) for s in static_sentences(mmsi, name, 30)]
        lines += [with_time(position_sentence(mmsi, lat, lon, sog, 90.0), now - 20),
                  with_time(position_sentence(mmsi, lat, lon + 0.0005, sog, 90.0), now - 10)]
    lines.append(corrupt_checksum(position_sentence(548999000, 10.0, 114.0)))
    r = httpx.post(f"{live_server.url}/v1/ingest/ais?sensor_id=AIS-T1", content="\n".join(lines), headers=INTEGRATOR)
    assert r.json()["rejected"] == 1 and "checksum" in r.json()["rejects"][0]["reason"]

    def named():
        rows = httpx.get(f"{live_server.url}/v1/tracks", headers=OFFICER).json()["tracks"]
        return len([t for t in rows if t["name"] and t["status"] == "confirmed"]) == 2

    assert wait_for(named)
    return live_server.url


def test_ogc_paging_links_never_carry_the_key(picture):
    """The key travels in the header; links a client may log, share or cache carry only the query."""
    from urllib.parse import parse_qs, urlsplit
    url = f"{picture}/ogc/collections/tracks/items"
    first = httpx.get(url, params={"limit": 1, "bbox": "110,5,120,15"}, headers=OFFICER).json()
    links = {link["rel"]: link["href"] for link in first["links"]}
    for href in links.values():
        assert OFFICER_KEY not in href and "key" not in parse_qs(urlsplit(href).query)
    assert parse_qs(urlsplit(links["next"]).query) == {"bbox": ["110,5,120,15"], "limit": ["1"], "offset": ["1"]}
    second = httpx.get(links["next"], headers=OFFICER)
    assert second.status_code == 200 and second.json()["numberMatched"] == 2
    refused = httpx.get(url, params={"key": OFFICER_KEY, "limit": 1})
    assert refused.status_code == 401 and "Authorization" in refused.json()["error"]


def test_ogc_api_features_landing_conformance_and_collections(picture):
    landing = httpx.get(f"{picture}/ogc", headers=OFFICER).json()
    assert {"self", "conformance", "data", "service-desc"} <= {link["rel"] for link in landing["links"]}
    conf = httpx.get(f"{picture}/ogc/conformance", headers=OFFICER).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    ids = [c["id"] for c in httpx.get(f"{picture}/ogc/collections", headers=OFFICER).json()["collections"]]
    assert ids == ["tracks", "alerts", "zones"]
    assert httpx.get(f"{picture}/ogc/collections/boats", headers=OFFICER).status_code == 404
    assert httpx.get(f"{picture}/ogc/collections", headers={}).status_code == 401


def test_ogc_items_filter_by_bbox_and_datetime_and_page_with_next_links(picture):
    url = f"{picture}/ogc/collections/tracks/items"
    r = httpx.get(url, headers=OFFICER)
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["numberMatched"] == doc["numberReturned"] == 2
    assert {f["properties"]["mmsi"] for f in doc["features"]} == set(VESSELS)
    # bbox around the first vessel only
    one = httpx.get(url, params={"bbox": "114.1,10.1,114.3,10.3"}, headers=OFFICER).json()
    assert [f["properties"]["name"] for f in one["features"]] == ["LADY MARIA"]
    lon, lat = one["features"][0]["geometry"]["coordinates"]
    assert abs(lat - 10.20) < 0.01 and abs(lon - 114.20) < 0.01
    # a time interval in the future matches nothing; an open interval from the past everything
    assert httpx.get(url, params={"datetime": "2099-01-01T00:00:00Z/.."}, headers=OFFICER).json()["numberMatched"] == 0
    assert httpx.get(url, params={"datetime": "2000-01-01T00:00:00Z/.."}, headers=OFFICER).json()["numberMatched"] == 2
    # paging: limit 1 gives a next link that leads to the other vessel
    first = httpx.get(url, params={"limit": 1}, headers=OFFICER).json()
    (nxt,) = [link["href"] for link in first["links"] if link["rel"] == "next"]
    second = httpx.get(nxt, headers=OFFICER).json()
    assert {first["features"][0]["id"], second["features"][0]["id"]} == {f["id"] for f in doc["features"]}
    assert not [link for link in second["links"] if link["rel"] == "next"]
    # one item by id; bad requests say why
    fid = doc["features"][0]["id"]
    assert httpx.get(f"{url}/{fid}", headers=OFFICER).json()["id"] == fid
    assert httpx.get(f"{url}/T999999", headers=OFFICER).status_code == 404
    for params, reason in [({"bbox": "1,2,3"}, "bbox"), ({"datetime": "yesterday"}, "datetime"),
                           ({"colour": "red"}, "unknown query parameters")]:
        r = httpx.get(url, params=params, headers=OFFICER)
        assert r.status_code == 400 and reason in r.json()["error"]


def test_ogc_zones_collection_holds_the_disputed_features(picture):
    url = f"{picture}/ogc/collections/zones/items"
    names = [f["id"] for f in httpx.get(url, headers=OFFICER).json()["features"]]
    assert {"Scarborough Shoal", "Mischief Reef", "Second Thomas Shoal"} <= set(names)
    near = httpx.get(url, params={"bbox": "117.5,15.0,118.0,15.3"}, headers=OFFICER).json()["features"]
    assert [f["id"] for f in near] == ["Scarborough Shoal"]
    zone = httpx.get(f"{url}/Scarborough%20Shoal", headers=OFFICER).json()
    assert zone["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_cursor_on_target_events_for_every_live_track(picture):
    r = httpx.get(f"{picture}/v1/picture.cot", headers=OFFICER)
    assert r.headers["content-type"].startswith("application/xml")
    events = ET.fromstring(r.content).findall("event")
    assert len(events) == 2
    by_name = {e.find("detail/contact").get("callsign"): e for e in events}
    ev = by_name["LADY MARIA"]
    assert ev.get("version") == "2.0" and ev.get("type") == "a-n-S" and ev.get("uid").startswith("MFC-T")
    point = ev.find("point")
    assert abs(float(point.get("lat")) - 10.20) < 0.01 and abs(float(point.get("lon")) - 114.20) < 0.01
    speed_ms = float(ev.find("detail/track").get("speed"))
    assert abs(speed_ms - 12.0 * 1852 / 3600) < 1.0  # CoT speed is in metres per second
    assert ev.get("stale") > ev.get("time") and ev.get("time").endswith("Z")
    assert "548111222" in ev.find("detail/remarks").text


def test_metrics_count_ingest_verdicts_tracks_and_workers(picture):
    text = httpx.get(f"{picture}/metrics", headers=OFFICER).text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(samples['mfc_ingest_lines_total{kind="ais",verdict="rejected"}']) == 1
    assert float(samples['mfc_ingest_lines_total{kind="ais",verdict="accepted"}']) >= 4
    assert float(samples['mfc_tracks{status="confirmed"}']) == 2
    assert samples['mfc_worker_up{worker="fusion"}'] == "1"
    assert "# TYPE mfc_webhook_deliveries_total counter" in text
