"""The approximate EEZ layer (services/data/geo/eez_approx.geojson, built by scripts/build_eez.py)
and foreign_fishing on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.rules import Geography, RuleEngine, RulesConfig
from services.geo.geography import _eez
from tests.rules_builders import T0, first_open, latest, of_type, run, voyage

EEZ_FILE = Path(__file__).resolve().parents[1] / "services" / "data" / "geo" / "eez_approx.geojson"
VN_FISHER = 574_300_001
PH_FISHER = 548_300_002
HK_FISHER = 477_300_003


@pytest.fixture(scope="module")
def geo() -> Geography:
    eez = _eez()
    assert eez, "eez_approx.geojson not shipped"
    return Geography(eez=eez)


def test_layer_is_small_labelled_and_says_it_is_approximate():
    assert EEZ_FILE.stat().st_size < 400_000
    doc = json.loads(EEZ_FILE.read_text("utf-8"))
    states = {f["properties"]["state"] for f in doc["features"]}
    assert {"CN", "VN", "PH", "MY", "BN", "ID", "TH", "KH", "SG", "TW"} <= states
    for f in doc["features"]:
        assert f["properties"]["approximate"] is True
        assert "not a legal boundary" in f["properties"]["note"].lower()


@pytest.mark.parametrize("lat, lon, state", [
    (9.6, 117.6, "PH"),      # ~48 km west of Palawan
    (14.0, 109.75, "VN"),    # ~50 km off central Viet Nam (Quy Nhon)
    (17.7, 109.6, "CN"),     # ~51 km south of Hainan
    (3.6, 112.2, "MY"),      # off Sarawak
    (3.0, 108.5, "ID"),      # Natuna Sea
    (23.5, 119.8, "TW"),     # Taiwan Strait, 12 km off the Penghu islands (TW)
])
def test_points_off_the_coasts_fall_in_the_right_state(geo, lat, lon, state):
    assert geo.eez_states_at(lat, lon) == [state]


def test_mid_gulf_of_thailand_belongs_to_exactly_one_state(geo):
    assert len(geo.eez_states_at(9.5, 101.8)) == 1


def test_land_and_the_central_high_seas_pocket_are_in_no_eez(geo):
    assert geo.eez_states_at(21.0, 105.8) == []   # Ha Noi: land is removed
    # ~240 nm from every coast when the small disputed features are not base points
    assert geo.eez_states_at(12.5, 114.5) == []


def _fishing(tid: str, mmsi: int, lat: float, lon: float) -> list:
    return voyage(tid, mmsi, lat, lon, 3.0, 45.0, T0, T0 + 2700, 60.0, ship_type=30)[1]


def test_foreign_fishing_on_the_approximate_eez(geo):
    eng = RuleEngine(geo, RulesConfig())
    lines = (_fishing("VN-in-PH", VN_FISHER, 9.6, 117.6) + _fishing("VN-home", VN_FISHER + 1, 14.0, 109.7)
             + _fishing("PH-home", PH_FISHER, 9.5, 117.6) + _fishing("HK-in-CN", HK_FISHER, 21.0, 113.5))
    alerts = of_type(run(eng, [], lines), "foreign_fishing")
    a = first_open(alerts, "foreign_fishing")
    assert a.track_id == "VN-in-PH" and a.evidence["flag"] == "VN" and a.evidence["eez_states"] == ["PH"]
    assert T0 + 1800 <= a.time_s <= T0 + 1860
    assert {x.track_id for x in latest(alerts).values()} == {"VN-in-PH"}
