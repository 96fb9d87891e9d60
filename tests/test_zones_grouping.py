"""zone_entry policies and grouping: one alert per zone and vessel category that lists the
vessels and follows them in and out; releasability the meet of every member's sensors.

The grouping tests watch every vessel category (``EVERY``); the shipped policy of disputed
features, which leaves ordinary fishing out, is tested at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import Geod
from shapely.geometry import Point, shape

from fusion.geodesy import KN_TO_MS
from fusion.model import TrackLine
from fusion.rules import Geography, RuleEngine, RulesConfig
from tests.rules_builders import T0, ZONE_NAME, engine, geography, latest, of_type, run

GEOD = Geod(ellps="WGS84")
EVERY: dict = {}   # no per-kind policy: every category counts
ZONES = Path(__file__).resolve().parents[1] / "services" / "data" / "geo" / "zones_12nm.geojson"


@pytest.fixture(scope="module")
def real_zones():
    return [(f["properties"]["name"], f["properties"]["kind"], shape(f["geometry"]))
            for f in json.loads(ZONES.read_text())["features"]]


def _tl(tid, t, lat, lon, sog, cog, mmsi, ship_type=30, flag="CN", sensors=("AIS-A",), sources=("ais",)):
    return TrackLine(tid, t, lat, lon, sog, cog, 30.0, mmsi, None, flag, ship_type, sources, "confirmed", sensors)


def _approach(tid, mmsi, lat, lon, t0, t_end, ship_type=30, leave_at=None, **kw) -> list[TrackLine]:
    """From 20 km east of (lat, lon), west at 6 kn to it, then drifting there (0.3 kn) until t_end;
    if ``leave_at``, east again at 10 kn from then on, for two hours.  A line every 60 s."""
    lon0, lat0, _ = GEOD.fwd(lon, lat, 90.0, 20_000.0)
    transit = 20_000.0 / (6.0 * KN_TO_MS)
    out = []
    t = t0
    if leave_at is not None:
        t_end = leave_at + 7200.0
    while t <= t_end:
        if t - t0 < transit:
            lo, la, _ = GEOD.fwd(lon0, lat0, 270.0, 6.0 * KN_TO_MS * (t - t0))
            sog, cog = 6.0, 270.0
        elif leave_at is not None and t >= leave_at:
            lo, la, _ = GEOD.fwd(lon, lat, 90.0, 10.0 * KN_TO_MS * (t - leave_at))
            sog, cog = 10.0, 90.0
        else:
            la, lo, sog, cog = lat, lon, 0.3, 0.0
        out.append(_tl(tid, t, la, lo, sog, cog, mmsi, ship_type, **kw))
        t += 60.0
    return out


def test_seven_fishing_vessels_at_whitsun_reef_are_one_alert_that_follows_them(real_zones):
    whitsun = next(g for n, _, g in real_zones if n == "Whitsun Reef")
    spots = [(10.00 + 0.01 * k, 114.70) for k in range(7)]
    for la, lo in spots:     # inside Whitsun Reef's zone only (its neighbours overlap elsewhere)
        assert [n for n, _, g in real_zones if g.contains(Point(lo, la))] == ["Whitsun Reef"]
    assert whitsun.contains(Point(114.70, 10.0))
    t_end = T0 + 6 * 3600
    lines = []
    for k, (la, lo) in enumerate(spots):
        leave = T0 + 4 * 3600 if k == 6 else None
        lines += _approach(f"F{k}", 412_440_000 + k, la, lo, T0 + 300 * k, t_end, leave_at=leave)
    eng = RuleEngine(Geography(zones=real_zones), RulesConfig(zone_policies=EVERY))
    alerts = of_type(run(eng, [], lines), "zone_entry")
    final = latest(alerts)
    assert len(final) == 1                       # one alert, not seven
    (a,) = final.values()
    versions = [x for x in alerts if x.alert_id == a.alert_id]
    peak = max(versions, key=lambda x: x.evidence["vessels"])
    assert peak.summary == "7 fishing vessels inside Whitsun Reef"
    assert sorted(peak.evidence["track_ids"]) == [f"F{k}" for k in range(7)]
    assert peak.evidence["category"] == "fishing" and peak.zone == "Whitsun Reef"
    # one left: the alert is updated, still open, and lists the six others
    assert a.state == "open" and a.summary == "6 fishing vessels inside Whitsun Reef"
    assert sorted(a.evidence["track_ids"]) == [f"F{k}" for k in range(6)]
    assert a.evidence["last_left"]["track_id"] == "F6"
    assert a.track_id == "F0"                     # the first vessel in


def test_categories_are_grouped_apart_and_the_last_to_leave_closes_the_alert():
    lat, lon = 10.10, 115.10                      # the builders' watch zone
    lines = _approach("F1", 412_000_001, lat, lon, T0, T0 + 7200, leave_at=T0 + 5000)
    lines += _approach("C1", 412_000_002, lat + 0.01, lon, T0, T0 + 7200, ship_type=70, leave_at=T0 + 5000)
    final = latest(of_type(run(engine(zone_policies=EVERY), [], lines), "zone_entry"))
    assert sorted(a.evidence["category"] for a in final.values()) == ["cargo", "fishing"]
    assert all(a.state == "closed" and a.evidence["vessels"] == 0 for a in final.values())


def test_zone_policy_per_kind_and_per_zone():
    lat, lon = 10.10, 115.10
    lines = _approach("F1", 412_000_001, lat, lon, T0, T0 + 7200)
    lines += _approach("C1", 412_000_002, lat + 0.01, lon, T0, T0 + 7200, ship_type=70)
    lines += _approach("P1", 548_000_003, lat + 0.02, lon, T0, T0 + 7200, flag="PH")
    kind = {"disputed_feature_12nm": {"categories": ["fishing"], "exclude_flags": ["PH"], "min_inside_s": 1800,
                                      "severity": "high"}}
    alerts = of_type(run(engine(zone_policies=kind), [], lines), "zone_entry")
    (a,) = latest(alerts).values()
    assert a.evidence["track_ids"] == ["F1"] and a.severity == "high"
    # F1 is inside from 20 km / 6 kn minus the zone's margin on; it counts 30 min later
    entered = a.evidence["entered_s"]
    assert a.time_s - entered >= 1800 and a.time_s - entered <= 1800 + 60
    # an admin's setting for this zone wins over its kind's
    over = {ZONE_NAME: {"categories": None, "dark": False, "min_inside_s": 0, "severity": "low"}}
    final = latest(of_type(run(engine(zone_policies=kind, zone_policy_overrides=over), [], lines), "zone_entry"))
    assert sorted(tid for a in final.values() for tid in a.evidence["track_ids"]) == ["C1", "F1"]
    assert {a.severity for a in final.values()} == {"low"}


def test_one_alert_per_vessel_when_grouping_is_off():
    lines = [ln for k in range(3) for ln in _approach(f"F{k}", 412_000_010 + k, 10.1 + 0.01 * k, 115.1, T0, T0 + 7200)]
    assert len(latest(of_type(run(engine(zone_policies=EVERY, zone_group=False), [], lines), "zone_entry"))) == 3


def test_a_group_alert_never_reaches_an_agency_not_entitled_to_every_vessel_in_it():
    """A track only PH may see joins a group of ASEAN tracks: from then on the alert is PH only,
    and stays so after the track left (it was shown in the alert)."""
    geo = geography(releasability={"AIS-A": ["ASEAN"], "AIS-PH": ["PH"]})
    lines = _approach("F1", 412_000_001, 10.10, 115.10, T0, T0 + 9000)
    lines += _approach("F2", 412_000_002, 10.11, 115.10, T0 + 600, T0 + 9000)
    lines += _approach("R1", 412_000_003, 10.12, 115.10, T0 + 2400, T0 + 9000, sensors=("AIS-PH",),
                       leave_at=T0 + 7000)
    alerts = of_type(run(RuleEngine(geo, RulesConfig(zone_policies=EVERY)), [], lines), "zone_entry")
    assert len({a.alert_id for a in alerts}) == 1
    before = [a for a in alerts if "R1" not in a.evidence["track_ids"] and a.evidence.get("peak_vessels", 1) < 3]
    assert before and all(a.evidence["releasability"] == ["ASEAN"] for a in before)
    with_r1 = [a for a in alerts if "R1" in a.evidence["track_ids"]]
    assert with_r1 and all(a.evidence["releasability"] == ["PH"] for a in with_r1)
    last = alerts[-1]
    assert "R1" not in last.evidence["track_ids"] and last.evidence["releasability"] == ["PH"]
    # an unknown sensor behind a member: no agency at all (fails closed)
    lines += _approach("U1", 412_000_004, 10.13, 115.10, T0 + 3000, T0 + 9000, sensors=("AIS-NOBODY",))
    alerts = of_type(run(RuleEngine(geo, RulesConfig(zone_policies=EVERY)), [], lines), "zone_entry")
    assert all(a.evidence["releasability"] == [] for a in alerts if "U1" in a.evidence["track_ids"])


def test_a_vessel_whose_type_arrives_later_moves_to_its_category():
    lines = _approach("F1", 412_000_001, 10.10, 115.10, T0, T0 + 7200)
    early = _approach("F2", 412_000_002, 10.11, 115.10, T0, T0 + 7200)
    # F2's static data (ship type 30) arrives an hour after it entered
    inside_from = next(ln.time_s for ln in early if ln.lon < 115.2)
    lines += [ln if ln.time_s >= inside_from + 3600 else
              TrackLine(*[getattr(ln, f) for f in ("track_id", "time_s", "lat", "lon", "sog_kn", "cog_deg",
                                                      "sigma_m", "mmsi", "name", "flag")], None, ln.sources,
                        ln.status, ln.sensors) for ln in early]
    alerts = of_type(run(engine(zone_policies=EVERY), [], lines), "zone_entry")
    final = latest(alerts)
    by_cat = {a.evidence["category"]: a for a in final.values()}
    assert by_cat["unknown"].state == "closed" and "type now known" in by_cat["unknown"].summary
    assert by_cat["fishing"].state == "open" and sorted(by_cat["fishing"].evidence["track_ids"]) == ["F1", "F2"]


def test_groups_follow_their_zone_when_a_restart_lists_the_zones_differently():
    from fusion.pipeline import Fusion
    from services.state.restore import _renumber_zones
    from fusion.rules.zones import ZoneEntry

    lines = [ln for k in range(2) for ln in _approach(f"F{k}", 412_000_020 + k, 10.1 + 0.01 * k, 115.1, T0, T0 + 7200)]
    eng = engine(zone_policies=EVERY)
    run(eng, [], lines)
    fusion = Fusion.__new__(Fusion)
    fusion.rules = eng
    rule = next(r for r in eng.rules if isinstance(r, ZoneEntry))
    assert list(rule.groups) == [(0, "fishing")]
    _renumber_zones(fusion, [ZONE_NAME], ["Another zone", ZONE_NAME])
    assert list(rule.groups) == [(1, "fishing")]
    assert {v.key for vs in rule.visits.values() for v in vs.values()} == {(1, "fishing")}


def test_a_lone_vessel_of_unknown_type_keeps_its_alert_when_its_type_arrives():
    early = _approach("C1", 412_000_005, 10.11, 115.10, T0, T0 + 7200, ship_type=70)
    inside_from = next(ln.time_s for ln in early if ln.lon < 115.2)
    lines = [ln if ln.time_s >= inside_from + 600 else
             TrackLine(*[getattr(ln, f) for f in ("track_id", "time_s", "lat", "lon", "sog_kn", "cog_deg",
                                                     "sigma_m", "mmsi", "name", "flag")], None, ln.sources,
                       ln.status, ln.sensors) for ln in early]
    final = latest(of_type(run(engine(zone_policies=EVERY), [], lines), "zone_entry"))
    (a,) = final.values()
    assert a.evidence["category"] == "cargo" and a.state == "open" and a.track_id == "C1"


def test_a_fleet_of_hundreds_is_one_alert_re_sent_once_a_minute_not_once_per_vessel():
    """300 fishing boats arriving at a feature within ten minutes: each copy of a group alert
    lists every vessel, so one copy per arrival would grow with the square of the fleet. The
    membership goes out at most once a minute and the last copy names all 300."""
    lat, lon = 10.10, 115.10                      # the builders' watch zone
    lines = []
    for k in range(300):
        t0 = T0 + 2.0 * k                         # one arrival every 2 s (10 min for the fleet)
        lines += _approach(f"F{k}", 412_100_000 + k, lat + 0.0002 * (k % 20), lon + 0.0002 * (k // 20),
                           t0, T0 + 6000)
    lines.sort(key=lambda ln: ln.time_s)
    alerts = of_type(run(engine(zone_policies=EVERY), [], lines), "zone_entry")
    (a,) = latest(alerts).values()
    copies = [x for x in alerts if x.alert_id == a.alert_id]
    sent = [x.evidence.get("updated_s", x.time_s) for x in copies]
    span_min = (max(sent) - min(sent)) / 60.0
    assert span_min >= 5   # arrivals keep coming for minutes ...
    assert len(copies) <= span_min + 3, (len(copies), span_min)   # not 300
    assert a.evidence["vessels"] == 300 and len(a.evidence["track_ids"]) == 300
    assert len(a.evidence["members"]) == 50 and a.evidence["members_truncated"] is True
    assert a.summary.startswith("300 fishing vessels inside")


def test_shipped_policy_ordinary_fishing_at_a_disputed_feature_raises_nothing_a_cargo_ship_does():
    """Default settings (what `mfc fuse` and the services run): five fishing boats and a pleasure
    craft working at the feature raise no zone alert; a cargo ship entering does; an admin who
    wants the fishing boats at this feature (a standoff) adds them back for the zone alone."""
    lat, lon = 10.10, 115.10                      # the builders' watch zone (a disputed feature)
    lines = [ln for k in range(5) for ln in _approach(f"F{k}", 412_000_100 + k, lat + 0.005 * k, lon, T0 + 300 * k,
                                                      T0 + 9000)]
    lines += _approach("Y1", 412_000_200, lat - 0.01, lon, T0, T0 + 9000, ship_type=37)
    final = latest(of_type(run(engine(), [], lines), "zone_entry"))
    assert final == {}
    lines += _approach("C1", 412_000_300, lat + 0.03, lon, T0, T0 + 9000, ship_type=70)
    final = latest(of_type(run(engine(), [], lines), "zone_entry"))
    assert [(a.evidence["category"], a.track_id) for a in final.values()] == [("cargo", "C1")]
    over = {ZONE_NAME: {"categories": ["fishing", "cargo"]}}
    final = latest(of_type(run(engine(zone_policy_overrides=over), [], lines), "zone_entry"))
    assert sorted((a.evidence["category"], a.evidence["vessels"]) for a in final.values()) == [("cargo", 1), ("fishing", 5)]


def test_a_radar_contact_counts_as_dark_in_a_zone_only_once_it_stays_without_ais():
    """Radar plots of a vessel may come before its AIS is heard: a radar-only track first seen
    inside the zone that gets its identity four minutes later raises no dark alert; one that
    stays radar-only is reported after ten minutes (zone_dark_s), named as a radar contact."""
    lat, lon = 10.10, 115.10
    def radar_then_ais(tid, mmsi_from_s, t_end):
        out = []
        for ln in _approach(tid, 412_000_400, lat, lon, T0, t_end, sources=("radar",), sensors=("R-A",)):
            if ln.time_s >= T0 + mmsi_from_s:
                ln = TrackLine(ln.track_id, ln.time_s, ln.lat, ln.lon, ln.sog_kn, ln.cog_deg, ln.sigma_m,
                               412_000_400, None, "CN", 70, ("ais", "radar"), ln.status, ("AIS-A", "R-A"))
            else:
                ln = TrackLine(ln.track_id, ln.time_s, ln.lat, ln.lon, ln.sog_kn, ln.cog_deg, ln.sigma_m,
                               None, None, None, None, ln.sources, ln.status, ln.sensors)
            out.append(ln)
        return out
    inside = [ln for ln in _approach("X", 1, lat, lon, T0, T0 + 9000)]
    t_in = next(ln.time_s for ln in inside if engine().ctx.geo.watch_zones_at(ln.lat, ln.lon)) - T0
    late_ais = radar_then_ais("D1", t_in + 240, T0 + 9000)
    final = latest(of_type(run(engine(), [], late_ais), "zone_entry"))
    assert [a.evidence["category"] for a in final.values()] == ["cargo"]   # never a dark alert
    dark = radar_then_ais("D2", 10 ** 9, T0 + 9000)
    alerts = of_type(run(engine(), [], dark), "zone_entry")
    first = alerts[0]
    assert first.evidence["category"] == "dark" and first.summary.startswith("Radar contact D2")
    assert 600 <= first.time_s - (T0 + t_in) <= 660
