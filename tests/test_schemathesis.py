"""The API against its own OpenAPI document, checked by schemathesis (not by code of ours).

Schemathesis reads ``/openapi.json`` from the app in-process (ASGI, no network), generates
requests from it (valid and invalid, deterministic, a bounded number per operation) and sends
each with an officer, an agency and an admin key.  Every answer must be no server error, a
documented status code and content type, and conform to the declared schema: the routes that
skip per-item validation for speed (/v1/tracks, /v1/picture, /v1/alerts, OGC items) are held to
their ``response_model`` here.  The store holds tracks and alerts written as the contract
(docs/architecture.md) shows them, including a fused track an agency may see only in part.

``GET /v1/stream``'s 200 body never ends, so it is left out of the generated run; its key and
parameter checks are tested below with concrete requests.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from api.app import create_app
from fusion.model import Sensor
from services.config.settings import ApiKey

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, SENSORS, make_runtime

AGENCY_KEY = "agency-key-for-tests"
KEYS = {"officer": OFFICER_KEY, "agency": AGENCY_KEY, "admin": ADMIN_KEY}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
PRIVATE_RADAR = Sensor("RAD-PRIV", "radar", 10.0, 114.0, range_m=60_000, owner="someone-else", releasability=())

# as the contract writes them: a fused track (its private radar hidden from agencies, so they get
# the AIS fix only), a radar-only contact, a private one, and alerts releasable to ASEAN or to no one
TRACKS = [
    {"track_id": "T42", "time": "2026-11-24T08:10:00Z", "lat": 9.7, "lon": 115.9, "sog_kn": 11.4,
     "cog_deg": 88.0, "sigma_m": 35.0, "mmsi": 548123456, "name": "LADY M", "flag": "PH", "ship_type": 70,
     "sources": ["ais", "radar"], "status": "confirmed", "sensors": ["AIS-T1", "RAD-PRIV"],
     "fixes": {"AIS-T1": [1795507780.0, 9.69, 115.89, 11.2, 87.0], "RAD-PRIV": [1795507800.0, 9.7, 115.9, None, None]}},
    {"track_id": "T43", "time": "2026-11-24T08:09:30Z", "lat": 10.1, "lon": 114.2, "sog_kn": 6.0,
     "cog_deg": None, "sigma_m": 60.0, "mmsi": None, "name": None, "flag": None, "ship_type": None,
     "sources": ["radar"], "status": "coasting", "sensors": ["RAD-T1"]},
    {"track_id": "T44", "time": "2026-11-24T08:09:00Z", "lat": 10.2, "lon": 114.3, "sog_kn": None,
     "cog_deg": None, "sigma_m": 60.0, "mmsi": None, "name": None, "flag": None, "ship_type": None,
     "sources": ["radar"], "status": "tentative", "sensors": ["RAD-PRIV"]},
]
ALERTS = [
    {"alert_id": "A17", "type": "ais_gap", "severity": "high", "time": "2026-11-24T08:10:00Z", "track_id": "T42",
     "mmsi": 548123456, "lat": 9.7, "lon": 115.9, "zone": "Second Thomas Shoal 12nm",
     "summary": "AIS silent 47 min while radar still holds the vessel",
     "evidence": {"gap_s": 2820, "releasability": ["ASEAN"]}, "state": "open"},
    {"alert_id": "A18", "type": "dark_vessel", "severity": "medium", "time": "2026-11-24T08:05:00Z",
     "track_id": "T44", "mmsi": None, "lat": None, "lon": None, "zone": None,
     "summary": "radar contact with no AIS", "evidence": {"releasability": []}, "state": "open"},
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    """Radar bodies are JSON Lines: a generated string goes as its UTF-8 bytes."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _app():
    import tempfile
    from pathlib import Path
    runtime = make_runtime(Path(tempfile.mkdtemp(prefix="mfc-schemathesis-")),
                           sensors={**SENSORS, "RAD-PRIV": PRIVATE_RADAR},
                           api_keys=(ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"),
                                     ApiKey(ADMIN_KEY, "admin", "test-admin"),
                                     ApiKey(AGENCY_KEY, "agency", "PH-CG")))
    runtime.store.write_tracks(TRACKS)
    runtime.store.write_alerts(ALERTS)
    return create_app(runtime)


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
                                max_examples=15, deterministic=True)
fuzzed = schema.exclude(path="/v1/stream")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@fuzzed.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_documented_contract(case):
    for key in KEYS.values():
        case.call_and_validate(headers=bearer(key), checks=CHECKS)


KNOWN = [  # requests the generator would rarely hit: existing ids, each with every key
    ("/v1/tracks/{track_id}", "GET", {"track_id": "T42"}, {}),
    ("/v1/tracks/{track_id}/history", "GET", {"track_id": "T42"}, {}),
    ("/v1/tracks", "GET", {}, {"source": "radar"}),
    ("/v1/picture", "GET", {}, {"at": "2026-11-24T08:10:00Z"}),
    ("/v1/alerts/{alert_id}/ack", "POST", {"alert_id": "A17"}, {}),
    ("/ogc/collections/{cid}/items", "GET", {"cid": "tracks"}, {"limit": 1}),
    ("/ogc/collections/{cid}/items", "GET", {"cid": "alerts"}, {}),
    ("/ogc/collections/{cid}/items", "GET", {"cid": "zones"}, {"limit": 2}),
    ("/ogc/collections/{cid}/items/{fid}", "GET", {"cid": "tracks", "fid": "T42"}, {}),
    ("/ogc/collections/{cid}/items/{fid}", "GET", {"cid": "alerts", "fid": "A18"}, {}),
    ("/ogc/collections/{cid}/items/{fid}", "GET", {"cid": "zones", "fid": "Scarborough Shoal"}, {}),
    ("/v1/zones/{name}/policy", "GET", {"name": "Scarborough Shoal"}, {}),
    ("/v1/sensors", "GET", {}, {}),
    ("/metrics", "GET", {}, {}),
]


@pytest.mark.parametrize("who", sorted(KEYS))
@pytest.mark.parametrize(("path", "method", "path_parameters", "query"), KNOWN,
                         ids=[f"{m} {p} {q or pp}" for p, m, pp, q in KNOWN])
def test_real_data_conforms_to_the_declared_schema(path, method, path_parameters, query, who):
    case = schema[path][method].Case(path_parameters=path_parameters, query=query)
    response = case.call_and_validate(headers=bearer(KEYS[who]), checks=CHECKS)
    assert response.status_code < 400 or (who == "agency" and response.status_code in (403, 404)), response.text


def test_an_agency_sees_the_fused_track_only_through_its_releasable_sensor():
    """What the schema allows (``view``) is what the agency gets: the AIS fix, not the fusion."""
    case = schema["/v1/tracks/{track_id}"]["GET"].Case(path_parameters={"track_id": "T42"})
    track = case.call_and_validate(headers=bearer(AGENCY_KEY), checks=CHECKS).json()
    assert (track["view"], track["sensors"], track["lat"]) == ("releasable_sources", ["AIS-T1"], 9.69)
    assert "fixes" not in track


@pytest.mark.parametrize(("headers", "query", "status"), [
    pytest.param({}, {}, 401, id="no key"),
    pytest.param(bearer("not-a-key"), {}, 401, id="unknown key"),
    pytest.param(bearer(INTEGRATOR_KEY), {}, 403, id="integrator"),
    pytest.param(bearer(OFFICER_KEY), {"types": "track,ship"}, 422, id="bad types"),
])
def test_the_stream_refuses_documented_ways(headers, query, status):
    case = schema["/v1/stream"]["GET"].Case(query=query)
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    assert response.status_code == status, response.text
