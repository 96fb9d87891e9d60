"""Releasability fails closed: unknown, empty or missing means no agency; alerts carry what the
sensors of every track behind them allow."""

from __future__ import annotations

import pytest

from fusion.model import Sensor
from fusion.rules import RuleEngine, RulesConfig
from ingest.errors import IngestError
from ingest.sensors import load_sensors
from services.access.visibility import releasable_to, track_view, visible_sensors, visible_tracks

from .rules_builders import T0, geography, line, run, voyage

SENSORS = {
    "AIS-ASEAN": Sensor("AIS-ASEAN", "ais", 10.0, 114.0, releasability=("ASEAN",)),
    "RAD-PH": Sensor("RAD-PH", "radar", 10.0, 114.0, accuracy_m=40.0, releasability=("PH",)),
    "RAD-VN": Sensor("RAD-VN", "radar", 10.0, 114.0, accuracy_m=60.0, releasability=("VN-MSA",)),
    "RAD-NONE": Sensor("RAD-NONE", "radar", 10.0, 114.0, releasability=()),
}
FUSED = {"track_id": "T1", "time": "2026-11-24T08:00:00Z", "lat": 10.5, "lon": 114.5, "sog_kn": 8.0,
         "cog_deg": 90.0, "sigma_m": 20.0, "mmsi": 548000001, "name": "LADY M", "flag": "PH", "ship_type": 70,
         "sources": ["ais", "radar"], "status": "confirmed", "sensors": ["AIS-ASEAN", "RAD-PH"],
         "fixes": {"AIS-ASEAN": [1795507000.0, 10.501, 114.499, 8.2, 91.0],
                   "RAD-PH": [1795507100.0, 10.5002, 114.5004, None, None]}}


@pytest.mark.parametrize("evidence", [
    pytest.param({}, id="no-list"), pytest.param({"releasability": []}, id="empty-list"),
    pytest.param({"releasability": "ASEAN"}, id="not-a-list"), pytest.param(None, id="no-evidence"),
])
def test_an_alert_without_a_releasability_list_reaches_no_agency(evidence):
    assert not releasable_to({"alert_id": "A1", "evidence": evidence}, "VN-MSA")


@pytest.mark.parametrize("sensors", [
    pytest.param([], id="no-sensors"), pytest.param(["NEVER-REGISTERED"], id="unknown"),
    pytest.param(["RAD-NONE"], id="empty-list"), pytest.param(["RAD-PH"], id="other-state"),
])
def test_a_track_line_is_hidden_from_an_agency_unless_a_known_sensor_allows_it(sensors):
    assert track_view({**FUSED, "sensors": sensors, "fixes": None}, "VN-MSA", SENSORS) is None


def test_an_agency_sees_a_fused_track_from_its_releasable_sensors_only():
    vn = track_view(FUSED, "VN-MSA", SENSORS)
    assert vn is not None
    assert (vn["lat"], vn["lon"], vn["sog_kn"]) == (10.501, 114.499, 8.2)  # the AIS report, not the fused estimate
    assert vn["sensors"] == ["AIS-ASEAN"] and vn["sources"] == ["ais"] and vn["mmsi"] == 548000001
    assert vn["view"] == "releasable_sources" and "fixes" not in vn
    ph = track_view(FUSED, "PH-CG", SENSORS)
    assert ph is not None and (ph["lat"], ph["lon"]) == (10.5, 114.5) and "fixes" not in ph


def test_a_radar_only_view_carries_no_identity_and_hides_without_a_fix():
    line = {**FUSED, "sensors": ["AIS-ASEAN", "RAD-VN"],
            "fixes": {"RAD-VN": [1795507100.0, 10.4999, 114.5001, None, None]}}
    hidden_ais = {**line, "sensors": ["RAD-PH", "RAD-VN"]}
    view = track_view(hidden_ais, "VN-MSA", SENSORS)
    assert view is not None and view["mmsi"] is None and view["name"] is None and view["sources"] == ["radar"]
    assert view["sigma_m"] == 60.0
    assert track_view({**line, "sensors": ["RAD-PH", "RAD-VN"], "fixes": {}}, "VN-MSA", SENSORS) is None


def test_roles_see_what_they_are_entitled_to():
    rows = [FUSED]
    assert visible_tracks(rows, "integrator", "test-integrator", SENSORS) == []
    assert "fixes" not in visible_tracks(rows, "officer", "o", SENSORS)[0]
    sensors = [Sensor("A", "ais", 0, 0, owner="PH-CG", releasability=("PH",)),
               Sensor("B", "ais", 0, 0, owner="VN-MSA", releasability=("ASEAN",))]
    assert [s.id for s in visible_sensors(sensors, "agency", "VN-MSA")] == ["B"]
    assert [s.id for s in visible_sensors(sensors, "integrator", "PH-CG")] == ["A"]


@pytest.mark.parametrize("bad", ["PH,RAD", "PH RAD", "", "-lead", "x" * 65, "semi;colon"])
def test_sensor_ids_are_validated(bad):
    with pytest.raises(IngestError):
        load_sensors({"sensors": [{"id": bad, "kind": "ais", "lat": 1, "lon": 2}]})


def test_a_sensor_without_releasability_is_shared_with_its_owner_only():
    s = load_sensors({"sensors": [{"id": "R1", "kind": "radar", "lat": 1, "lon": 2, "owner": "PH-CG"}]})["R1"]
    assert s.releasability == ("PH-CG",)
    with pytest.raises(IngestError, match="releasability token"):
        load_sensors({"sensors": [{"id": "R2", "kind": "radar", "lat": 1, "lon": 2, "releasability": ["PH,VN"]}]})


def _engine() -> RuleEngine:
    return RuleEngine(geography(releasability={"AIS-A": ["ASEAN"], "RADAR-A": ["PH"], "RAD-VN": ["VN"]}),
                      RulesConfig())


def test_a_dark_contact_of_a_restricted_radar_raises_an_alert_only_its_state_may_see():
    _, lines = voyage("T9", None, 10.4, 114.7, 6.0, 45.0, T0, T0 + 2000, 6.0, sources=("radar",))
    dark = [a for a in run(_engine(), [], lines, until_s=T0 + 2100) if a.type == "dark_vessel"]
    assert dark and all(a.evidence["releasability"] == ["PH"] for a in dark)


def test_a_contact_of_an_unknown_sensor_raises_an_alert_no_agency_may_see():
    lines = [line("T9", t, 10.4, 114.7, 0.1, 0.0, None, ("radar",)) for t in range(int(T0), int(T0) + 2000, 10)]
    for ln in lines:
        ln.sensors = ("NOT-REGISTERED",)
    dark = [a for a in run(_engine(), [], lines, until_s=T0 + 2100) if a.type == "dark_vessel"]
    assert dark and all(a.evidence["releasability"] == [] for a in dark)


def test_a_rendezvous_is_releasable_where_both_tracks_are():
    a = [line("TA", t, 10.4, 114.7, 0.5, 0.0, 548000001, ("ais",)) for t in range(int(T0), int(T0) + 5000, 60)]
    b = [line("TB", t, 10.4, 114.7025, 0.5, 0.0, 548000002, ("radar",)) for t in range(int(T0), int(T0) + 5000, 60)]
    for ln in b:
        ln.sensors = ("RAD-VN",)
    meet = [x for x in run(_engine(), [], sorted(a + b, key=lambda ln: ln.time_s), until_s=T0 + 5100)
            if x.type == "rendezvous"]
    assert meet and all(x.evidence["releasability"] == ["VN"] for x in meet)


def test_an_identity_heard_by_a_restricted_receiver_does_not_ride_on_a_shared_radar_track():
    """A PH-only AIS receiver named the vessel; the AIS then fell silent and only the shared radar
    holds it. The line's sensors are the radar alone, so VN's view must not carry the name."""
    import random

    from fusion.tracker import Tracker

    from .builders import vessel_ais, vessel_plots

    sensors = {"AIS1": Sensor("AIS1", "ais", 10.0, 114.0, releasability=("PH",)),
               "R1": Sensor("R1", "radar", 10.0, 114.0, range_m=60_000, accuracy_m=50.0, scan_period_s=6.0,
                            releasability=("ASEAN",))}
    rng = random.Random(5)
    ais = vessel_ais(548000001, 10.1, 114.1, 10.0, 45.0, reports=30)  # 5 minutes of AIS, then silence
    plots = vessel_plots(rng, 10.1, 114.1, 10.0, 45.0, scans=250)       # 25 minutes of radar
    tracker = Tracker(sensors)
    lines = tracker.update(sorted(ais + plots, key=lambda o: o.time_s)) + tracker.flush()
    last = [ln.to_dict() for ln in lines if ln.mmsi == 548000001][-1]
    assert last["sensors"] == ["R1"], "the AIS receiver should have aged out of the line's sensors"
    assert lines[-1].time_s - ais[-1].time_s > 600  # long after the AIS stopped
    vn = track_view(last, "VN-MSA", sensors)
    assert vn is not None and vn["mmsi"] is None and vn["name"] is None and vn["flag"] is None
    first = [ln.to_dict() for ln in lines if ln.mmsi == 548000001][0]
    assert first["sensors"] == ["AIS1"] and track_view(first, "VN-MSA", sensors) is None
