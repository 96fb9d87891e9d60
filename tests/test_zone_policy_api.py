"""Zone policies through the API (issue 14): an admin sets a zone's zone_entry policy, validated
field by field, stored so that a restart keeps it, and applied by the running rules engine."""

from __future__ import annotations

import httpx
import pytest

from fusion.rules import RulesConfig
from tests.rules_builders import T0, latest, of_type, run
from tests.test_zones_grouping import _approach

from .conftest import ADMIN_KEY, OFFICER_KEY, SENSORS, LiveServer, make_runtime, wait_for

OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ZONE = "Whitsun Reef"   # a built-in zone (services/data/geo/zones_12nm.geojson)


def url(server, name=ZONE):
    return f"{server.url}/v1/zones/{name}/policy"


def test_a_zone_policy_is_validated_stored_applied_and_kept_over_a_restart(tmp_path):
    with LiveServer(make_runtime(tmp_path)) as server:
        r = httpx.get(url(server), headers=OFFICER)
        assert r.status_code == 200, r.text
        doc = r.json()
        default = RulesConfig()
        assert doc["override"] == {} and doc["updated"] is None and doc["watched"] is True
        # the shipped policy of a disputed feature: ordinary fishing and leisure craft left out
        shipped = doc["effective"]["categories"]
        assert "fishing" not in shipped and "leisure" not in shipped and {"cargo", "dark", "government"} <= set(shipped)
        assert doc["effective"]["severity"] == default.zone_severity.get(doc["kind"], "medium")
        assert httpx.put(url(server), json={"categories": ["cargo"]}, headers=OFFICER).status_code == 403

        body = {"categories": ["cargo"], "severity": "high", "exclude_flags": ["PA"]}
        r = httpx.put(url(server), json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
        assert r.json()["override"] == body and r.json()["updated_by"] == "test-admin"
        assert r.json()["effective"]["categories"] == ["cargo"] and r.json()["effective"]["group"] is True
        # the running engine applies it: a fishing vessel and a cargo ship enter; only the cargo counts
        lines = _approach("F1", 412_440_001, 10.00, 114.70, T0, T0 + 7200)
        lines += _approach("C1", 412_440_002, 10.01, 114.70, T0, T0 + 7200, ship_type=70)
        got: list = []
        assert server.runtime.fusion_worker.control(lambda f: got.extend(run(f.rules, [], lines)))
        final = [a for a in latest(of_type(got, "zone_entry")).values() if a.zone == ZONE]
        assert [(a.evidence["category"], a.severity, a.track_id) for a in final] == [("cargo", "high", "C1")]

    # a restart over the same store keeps it, in the API and in the engine
    with LiveServer(make_runtime(tmp_path)) as server:
        assert httpx.get(url(server), headers=OFFICER).json()["override"] == body
        assert wait_for(lambda: server.runtime.fusion_worker.fusion.rules.cfg.zone_policy_overrides.get(ZONE)
                        == body)
        r = httpx.put(url(server), json={}, headers=ADMIN)  # {} removes the override
        assert r.status_code == 200 and r.json()["override"] == {} and r.json()["effective"]["categories"] == shipped
        assert ZONE not in server.runtime.fusion_worker.fusion.rules.cfg.zone_policy_overrides


@pytest.mark.parametrize("body, words", [
    ({"categories": ["fishing"], "colour": "red"}, "unknown field 'colour'"),
    ({"categories": ["trawler"]}, "categories.0"),
    ({"flags": ["china"]}, "flags.0"),
    ({"min_inside_s": -5}, "min_inside_s"),
    ({"severity": "urgent"}, "severity"),
    ({"dark": "maybe"}, "dark"),
    ({"group": "yes please"}, "group"),
    (["categories"], "JSON object"),
])
def test_an_invalid_policy_is_refused_with_the_reason_and_changes_nothing(live_server, body, words):
    r = httpx.put(url(live_server), json=body, headers=ADMIN)
    assert r.status_code == 422 and words in r.json()["error"], r.text
    assert httpx.get(url(live_server), headers=OFFICER).json()["override"] == {}


def test_an_unknown_zone_is_404_and_a_user_zones_policy_goes_with_it(live_server):
    assert httpx.get(url(live_server, "Nowhere Shoal"), headers=OFFICER).status_code == 404
    assert httpx.put(url(live_server, "Nowhere Shoal"), json={}, headers=ADMIN).status_code == 404
    zone = {"type": "Feature", "properties": {"name": "Exercise Box", "kind": "closed_area"},
            "geometry": {"type": "Polygon", "coordinates": [[[116, 11], [116.2, 11], [116.2, 11.2], [116, 11.2],
                                                             [116, 11]]]}}
    assert httpx.post(f"{live_server.url}/v1/zones", json=zone, headers=ADMIN).status_code == 201
    r = httpx.put(url(live_server, "Exercise Box"), json={"dark": True, "min_inside_s": 600}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["kind"] == "closed_area", r.text
    assert r.json()["effective"]["dark"] is True and r.json()["effective"]["min_inside_s"] == 600
    assert httpx.delete(f"{live_server.url}/v1/zones/Exercise Box", headers=ADMIN).status_code == 200
    assert live_server.runtime.store.zone_policies() == {}
    assert "Exercise Box" not in live_server.runtime.fusion_worker.fusion.rules.cfg.zone_policy_overrides


def test_a_separate_fusion_process_follows_the_zones_and_policies_set_through_the_api(tmp_path):
    """``mfc api`` (no fusion in its process) publishes each zone change on ``mfc.zones``; the
    fusion service starts from them and follows the changes while it runs."""
    from shapely.geometry import box, mapping

    from mfc.deploy import fusion_following_zones
    from services.bus.topics import ZONES
    area = box(116.20, 11.40, 116.40, 11.60)  # open sea west of Palawan, no built-in zone
    feature = {"type": "Feature", "properties": {"name": "Exercise Box", "kind": "closed_area"},
               "geometry": mapping(area)}
    with LiveServer(make_runtime(tmp_path, fusion=False)) as server:
        assert server.runtime.fusion_worker is None  # as in `mfc api`
        assert httpx.post(f"{server.url}/v1/zones", json=feature, headers=ADMIN).status_code == 201
        assert httpx.put(url(server), json={"categories": ["cargo"]}, headers=ADMIN).status_code == 200
        assert httpx.put(url(server, "Exercise Box"), json={"min_inside_s": 600}, headers=ADMIN).status_code == 200

        fusion, follower = fusion_following_zones(server.runtime.bus, dict(SENSORS), within_s=10.0)
        lines = _approach("F1", 412_440_001, 10.00, 114.70, T0, T0 + 7200)                 # fishing, Whitsun
        lines += _approach("C1", 412_440_002, 10.01, 114.70, T0, T0 + 7200, ship_type=70)  # cargo, Whitsun
        lines += _approach("U1", 412_440_003, 11.50, 116.30, T0, T0 + 7200)                # into the box
        final = [a for a in latest(of_type(run(fusion.rules, [], lines), "zone_entry")).values()]
        assert sorted((a.zone, a.track_id) for a in final) == [("Exercise Box", "U1"), (ZONE, "C1")]

        # while it runs: the zone deleted and the built-in zone's policy removed through the API
        assert httpx.delete(f"{server.url}/v1/zones/Exercise Box", headers=ADMIN).status_code == 200
        assert httpx.put(url(server), json={}, headers=ADMIN).status_code == 200
        changed = wait_for(lambda: follower.poll(0.2), timeout_s=5.0)
        follower.apply(fusion, follower.changes(changed | follower.poll(0.5)))
        geo = fusion.rules.ctx.geo
        assert "Exercise Box" not in [n for n, _, _ in geo.zones] and not geo.watch_zones_at(11.50, 116.30)
        assert fusion.rules.cfg.zone_policy_overrides == {}
        assert [n for n, _, _ in geo.zones].count(ZONE) == 1  # a built-in zone is never removed

        # a malformed record is refused with its reason, the zone keeps its state
        server.runtime.bus.publish(ZONES, ZONE, {"name": ZONE, "feature": None, "policy": {"categories": ["trawler"]}})
        assert follower.poll(1.0) == set() and follower.refused == 1 and ZONE not in follower.policies
        follower.close()
