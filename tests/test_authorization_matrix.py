"""The authorisation matrix: every route of the app × every role × no key, a wrong key, and
another agency's key.  The table below is the policy; a route the app serves that is not in
it fails the test, so a new route cannot ship without a decision on who may call it."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app
from services.config.settings import ApiKey

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, make_runtime

PUBLIC = "public"
SIGNED = "signed"  # no key: a partner node's records, each verified with the key its agreement holds
READ = frozenset({"officer", "agency", "admin"})
STAFF = frozenset({"officer", "admin"})
INGEST = frozenset({"integrator", "admin"})
SUBSCRIBE = frozenset({"agency", "admin"})
ADMIN = frozenset({"admin"})
SENSOR_READ = READ | {"integrator"}

POLICY: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/v1/land"): PUBLIC,        # the basemap: public data
    ("GET", "/"): PUBLIC,               # the page itself; it asks for a key
    ("GET", "/openapi.json"): PUBLIC, ("GET", "/docs"): PUBLIC, ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/v1/tracks"): READ, ("GET", "/v1/tracks/{track_id}"): READ,
    ("GET", "/v1/tracks/{track_id}/history"): READ, ("GET", "/v1/picture"): READ,
    ("GET", "/v1/coverage"): READ,     # agencies: only the stations releasable to them
    ("GET", "/v1/history/range"): READ, ("GET", "/v1/alerts"): READ, ("GET", "/v1/stream"): READ,
    ("POST", "/v1/alerts/{alert_id}/ack"): STAFF, ("PATCH", "/v1/alerts/{alert_id}"): STAFF,
    ("GET", "/v1/alerts/{alert_id}"): READ,
    ("GET", "/v1/alerts/stats"): STAFF,
    ("GET", "/v1/suppressions"): STAFF, ("POST", "/v1/suppressions"): STAFF,
    ("DELETE", "/v1/suppressions/{suppression_id}"): STAFF,
    ("GET", "/v1/incidents"): READ, ("POST", "/v1/incidents"): STAFF,
    ("GET", "/v1/incidents/{incident_id}"): READ, ("PATCH", "/v1/incidents/{incident_id}"): STAFF,
    ("POST", "/v1/ingest/ais"): INGEST, ("POST", "/v1/ingest/radar"): INGEST, ("POST", "/v1/ingest/asterix"): INGEST,
    ("GET", "/v1/sensors"): SENSOR_READ, ("POST", "/v1/sensors"): INGEST,
    ("DELETE", "/v1/sensors/{sensor_id}"): INGEST,
    ("GET", "/v1/zones"): READ, ("POST", "/v1/zones"): ADMIN, ("DELETE", "/v1/zones/{name}"): ADMIN,
    ("GET", "/v1/zones/{name}/policy"): STAFF, ("PUT", "/v1/zones/{name}/policy"): ADMIN,
    ("GET", "/v1/anchorages"): STAFF,   # learned from every track, whatever its releasability
    ("GET", "/v1/subscriptions"): SUBSCRIBE, ("POST", "/v1/subscriptions"): SUBSCRIBE,
    ("DELETE", "/v1/subscriptions/{sub_id}"): SUBSCRIBE,
    ("GET", "/ogc"): READ, ("GET", "/ogc/conformance"): READ, ("GET", "/ogc/collections"): READ,
    ("GET", "/ogc/collections/{cid}"): READ, ("GET", "/ogc/collections/{cid}/items"): READ,
    ("GET", "/ogc/collections/{cid}/items/{fid}"): READ,
    ("GET", "/v1/picture.cot"): READ, ("GET", "/metrics"): READ,
    # the instructor's: what an exercise scripts is not for the trainees (its truth is for no one)
    ("GET", "/v1/exercise"): ADMIN, ("POST", "/v1/exercise"): ADMIN, ("DELETE", "/v1/exercise"): ADMIN,
    # what this node shares with other nodes, and with whom: the centre's own administration
    ("GET", "/v1/federation"): ADMIN, ("GET", "/v1/federation/agreements"): ADMIN,
    ("POST", "/v1/federation/agreements"): ADMIN, ("DELETE", "/v1/federation/agreements/{partner}"): ADMIN,
    ("POST", "/v1/federation/inbound"): SIGNED,
}
AGENCY_KEY, OTHER_AGENCY_KEY = "agency-key-for-matrix", "other-agency-key-for-matrix"
KEYS = {"officer": OFFICER_KEY, "agency": AGENCY_KEY, "integrator": INTEGRATOR_KEY, "admin": ADMIN_KEY}
# requests an entitled key may make: bad enough to change nothing, but past authorisation
PARAMS = {"track_id": "T404", "alert_id": "A404", "sensor_id": "NO-SUCH", "name": "no-such-zone",
          "sub_id": "S404", "suppression_id": "S404", "incident_id": "I404", "cid": "tracks", "fid": "T404",
          "partner": "NO-SUCH-NODE"}
QUERY = {("GET", "/v1/stream"): {"types": "not-a-kind"}, ("POST", "/v1/ingest/ais"): {"sensor_id": "NO-SUCH"},
         ("POST", "/v1/ingest/asterix"): {"sensor_id": "NO-SUCH"}}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    runtime = make_runtime(tmp_path_factory.mktemp("matrix"), api_keys=(
        ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(ADMIN_KEY, "admin", "test-admin"),
        ApiKey(AGENCY_KEY, "agency", "VN-MSA"), ApiKey(OTHER_AGENCY_KEY, "agency", "PH-CG")))
    runtime.start()
    try:
        with TestClient(create_app(runtime)) as c:
            yield c
    finally:
        runtime.stop()


def routes(app) -> list[tuple[str, str]]:
    out = []
    for r in app.routes:
        if isinstance(r, APIRoute) or hasattr(r, "methods"):
            for m in sorted(getattr(r, "methods", None) or ()):
                if m not in ("HEAD", "OPTIONS"):
                    out.append((m, r.path))
    return out


def call(client: TestClient, method: str, path: str, key: str | None):
    url = path.format(**PARAMS)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = b"{" if method in ("POST", "PATCH", "PUT") else None  # malformed: refused after authorisation
    return client.request(method, url, params=QUERY.get((method, path)), headers=headers, content=body)


def test_every_route_has_a_policy(client):
    served = set(routes(client.app))
    assert served - set(POLICY) == set(), "routes without an entry in POLICY: decide who may call them"
    assert set(POLICY) - served == set(), "POLICY lists routes the app does not serve"


@pytest.mark.parametrize("method, path", sorted(POLICY))
def test_anonymous_and_wrong_keys_are_refused(client, method, path):
    if POLICY[(method, path)] == PUBLIC:
        assert call(client, method, path, None).status_code < 400
        return
    if POLICY[(method, path)] == SIGNED:  # a key opens nothing here; a push naming no partner is refused
        for key in (None, *KEYS.values()):
            r = call(client, method, path, key)
            assert r.status_code == 422, (method, path, r.status_code)
            r = client.request(method, path, json={"node": "NO-SUCH-NODE", "records": []},
                               headers={"Authorization": f"Bearer {key}"} if key else {})
            assert r.status_code == 403, (method, path, r.status_code)
        return
    for key in (None, "wrong-key-0000000000", f"{ADMIN_KEY}x"):
        r = call(client, method, path, key)
        assert r.status_code == 401, (method, path, key, r.status_code)
        assert "key" in r.json()["error"]


@pytest.mark.parametrize("role", sorted(KEYS))
@pytest.mark.parametrize("method, path", sorted(k for k, v in POLICY.items() if v not in (PUBLIC, SIGNED)))
def test_each_role_gets_exactly_what_the_policy_grants(client, method, path, role):
    r = call(client, method, path, KEYS[role])
    allowed = role in POLICY[(method, path)]
    if allowed:
        assert r.status_code not in (401, 403), (method, path, role, r.status_code, r.text[:200])
    else:
        assert r.status_code == 403, (method, path, role, r.status_code, r.text[:200])


def test_an_agency_cannot_touch_another_agencys_subscriptions(client):
    mine = {"Authorization": f"Bearer {AGENCY_KEY}"}
    other = {"Authorization": f"Bearer {OTHER_AGENCY_KEY}"}
    sub = client.post("/v1/subscriptions", json={"types": ["distress"], "delivery": {"kind": "kafka"}}, headers=mine)
    assert sub.status_code == 201, sub.text
    sid = sub.json()["id"]
    assert client.get("/v1/subscriptions", headers=other).json()["subscriptions"] == []
    assert client.delete(f"/v1/subscriptions/{sid}", headers=other).status_code == 404
    assert client.post("/v1/subscriptions", json={"agency": "VN-MSA", "types": ["distress"]},
                       headers=other).status_code == 403
    assert [s["id"] for s in client.get("/v1/subscriptions", headers=mine).json()["subscriptions"]] == [sid]
