"""Sensors file loading (contract "Input formats": {"sensors": [...]})."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fusion.model import Sensor
from ingest.errors import IngestError
from ingest.sensors import load_sensors, sensor_to_dict

RADAR: dict[str, Any] = {
    "id": "PH-PAL-R1", "kind": "radar", "lat": 9.8, "lon": 118.7, "range_m": 55000,
    "accuracy_m": 50, "scan_period_s": 3, "owner": "PH-CG", "releasability": ["ASEAN"],
    "range_sigma_m": 40, "bearing_sigma_deg": 0.3,
}
AIS: dict[str, Any] = {"id": "VN-AIS-3", "kind": "ais", "lat": 8.7, "lon": 106.6, "range_m": 74000,
                       "owner": "VN-MSA", "releasability": ["ASEAN"]}


def doc(*sensors: dict[str, Any]) -> dict[str, Any]:
    return {"sensors": list(sensors)}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not ...}


def test_contract_example() -> None:
    sensors = load_sensors(doc(RADAR, AIS))
    assert sensors["PH-PAL-R1"] == Sensor(
        id="PH-PAL-R1", kind="radar", lat=9.8, lon=118.7, range_m=55000.0, accuracy_m=50.0,
        scan_period_s=3.0, owner="PH-CG", releasability=("ASEAN",), range_sigma_m=40.0,
        bearing_sigma_deg=0.3)
    ais = sensors["VN-AIS-3"]
    assert (ais.kind, ais.range_m, ais.owner, ais.range_sigma_m) == ("ais", 74000.0, "VN-MSA", None)
    assert ais.accuracy_m == Sensor.__dataclass_fields__["accuracy_m"].default


def test_from_json_text_and_path(tmp_path: Path) -> None:
    text = json.dumps(doc(RADAR, AIS))
    path = tmp_path / "sensors.json"
    path.write_text(text)
    assert load_sensors(text) == load_sensors(path) == load_sensors(str(path)) == load_sensors(doc(RADAR, AIS))


def test_unknown_fields_ignored() -> None:
    sensors = load_sensors({"sensors": [with_(RADAR, vendor="Furuno", height_m=30)], "version": 2})
    assert list(sensors) == ["PH-PAL-R1"]


def test_round_trip_through_dict() -> None:
    sensors = load_sensors(doc(RADAR, AIS))
    again = load_sensors(doc(*(sensor_to_dict(s) for s in sensors.values())))
    assert again == sensors
    assert sensor_to_dict(sensors["PH-PAL-R1"]) == {**RADAR, "range_m": 55000.0}
    assert "range_sigma_m" not in sensor_to_dict(sensors["VN-AIS-3"])


@pytest.mark.parametrize(("data", "reason"), [
    pytest.param({"sensor": []}, 'must be an object with a "sensors" list', id="no-list"),
    pytest.param(doc(with_(RADAR, id=...)), "sensor #1: missing field 'id'", id="missing-id"),
    pytest.param(doc(with_(RADAR, kind=...)), "sensor #1 ('PH-PAL-R1'): missing field 'kind'", id="missing-kind"),
    pytest.param(doc(with_(RADAR, lat=...)), "missing field 'lat'", id="missing-lat"),
    pytest.param(doc(with_(RADAR, lon=...)), "missing field 'lon'", id="missing-lon"),
    pytest.param(doc(with_(RADAR, kind="sonar")), "unknown kind 'sonar' (expected 'radar' or 'ais')",
                 id="bad-kind"),
    pytest.param(doc(RADAR, AIS, RADAR), "duplicate sensor id 'PH-PAL-R1' (sensor #3)", id="duplicate"),
    pytest.param(doc(with_(RADAR, lat=95.2)), "latitude 95.2 out of range [-90, 90]", id="lat-range"),
    pytest.param(doc(with_(RADAR, lon=-181)), "longitude -181.0 out of range [-180, 180]", id="lon-range"),
    pytest.param(doc(with_(RADAR, lat="9.8")), "field 'lat' must be a number, got str", id="lat-string"),
    pytest.param(doc(with_(RADAR, lon=True)), "field 'lon' must be a number, got bool", id="lon-bool"),
    pytest.param(doc(with_(RADAR, range_m=0)), "field 'range_m' must be > 0", id="range-zero"),
    pytest.param(doc(with_(RADAR, bearing_sigma_deg=-1)), "field 'bearing_sigma_deg' must be >= 0",
                 id="negative-sigma"),
    pytest.param(doc(with_(RADAR, releasability="ASEAN")), "'releasability' must be a list of strings",
                 id="releasability-string"),
    pytest.param(doc("PH-PAL-R1"), "sensor #1: expected an object, got str", id="not-object"),
    pytest.param('{"sensors": [', "invalid JSON in sensors JSON", id="bad-json"),
])
def test_errors(data: Any, reason: str) -> None:
    with pytest.raises(IngestError) as info:
        load_sensors(data)
    assert reason in info.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read sensors file"):
        load_sensors(tmp_path / "nope.json")
