"""dark_vessel means "AIS would be heard here, and is not": the AIS coverage model behind it.

Positions are placed with pyproj's own ``Geod`` (WGS 84), independent of the project's
geodesy module; ranges are the stations' registered ``range_m``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyproj import Geod

from fusion.model import Observation, Sensor, TrackLine
from fusion.pipeline import Fusion
from fusion.rules import Geography, RuleEngine, RulesConfig
from ingest.errors import IngestError
from ingest.sensors import load_sensors
from services.geo.geography import build_geography
from services.state.checkpoint import Checkpoint

GEOD = Geod(ellps="WGS84")
T0 = 1_795_000_000.0
STATION_A = ("AIS-A", 10.0, 114.0, 74_000.0)
STATION_B = ("AIS-B", 10.0, 116.0, 74_000.0)


def at(lat: float, lon: float, bearing_deg: float, metres: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, bearing_deg, metres)
    return lat2, lon2


def geo(receivers=(STATION_A, STATION_B), satellites=None) -> Geography:
    return Geography(receivers=list(receivers), satellites=satellites,
                     releasability={"AIS-A": ["ASEAN"], "AIS-B": ["ASEAN"], "RADAR-A": ["ASEAN"], "SAT-1": ["ASEAN"]})


def radar_line(tid: str, t: float, lat: float, lon: float, mmsi: int | None = None,
               sources: tuple[str, ...] = ("radar",)) -> TrackLine:
    sensors = tuple({"ais": "AIS-A", "radar": "RADAR-A"}[s] for s in sources)
    return TrackLine(tid, t, lat, lon, 12.0, 90.0, 40.0, mmsi, None, None, 70 if mmsi is None else None,
                     sources, "confirmed", sensors)


def heard(mmsi: int, t: float, lat: float, lon: float, station: str = "AIS-A") -> Observation:
    return Observation("ais_position", station, t, lat, lon, mmsi=mmsi, sog_kn=10.0, cog_deg=0.0,
                       station=station)


def held(engine: RuleEngine, tid: str, lat: float, lon: float, t0: float, t1: float,
         every_s: float = 10.0, obs_at=None) -> tuple[list, list[TrackLine]]:
    """A radar-only large ship held at (lat, lon) from t0 to t1; the alerts and its lines."""
    alerts, lines = [], []
    t = t0
    while t <= t1:
        ln = radar_line(tid, t, lat, lon)
        obs = obs_at(t) if obs_at else []
        alerts += engine.process(obs, [ln])
        lines.append(ln)
        t += every_s
    return alerts, lines


def dark_alerts(alerts):
    """The dark_vessel alerts, each as last emitted (an open alert is re-emitted with new evidence)."""
    last = {a.alert_id: a for a in alerts if a.type == "dark_vessel"}
    return list(last.values())


def test_a_radar_held_ship_beyond_every_ais_station_is_an_unidentified_contact_not_dark():
    engine = RuleEngine(geo())
    lat, lon = at(STATION_A[1], STATION_A[2], 0.0, 90_000.0)  # 90 km north of A, ~240 km from B
    alerts, lines = held(engine, "T1", lat, lon, T0, T0 + 3600)
    assert dark_alerts(alerts) == []
    assert {ln.contact for ln in lines} == {"unidentified"}
    assert engine.ctx.coverage.stations_that_could_hear(lat, lon, T0) == []
    assert engine.ctx.coverage.ais_expected(lat, lon, T0 + 3600, 3600) is False


def test_the_same_ship_inside_a_station_range_with_traffic_heard_there_is_dark():
    engine = RuleEngine(geo())
    lat, lon = at(STATION_A[1], STATION_A[2], 0.0, 40_000.0)
    near = at(lat, lon, 90.0, 1500.0)

    def traffic(t: float) -> list[Observation]:  # other ships heard there by A every minute
        return [heard(548_000_001 + k, t, *near) for k in range(3)] if t % 60 == 0 else []

    alerts, lines = held(engine, "T1", lat, lon, T0, T0 + 1800, obs_at=traffic)
    dark = dark_alerts(alerts)
    assert len(dark) == 1 and dark[0].state == "open"
    assert dark[0].time_s == pytest.approx(T0 + 900, abs=60)  # the alert's own time: when it fired
    assert dark[0].evidence["stations"] == ["AIS-A"]
    assert {ln.contact for ln in lines} == {"dark"}


def test_a_dark_alert_is_closed_as_explained_when_ais_associates():
    engine = RuleEngine(geo())
    lat, lon = at(STATION_A[1], STATION_A[2], 45.0, 30_000.0)
    alerts, _ = held(engine, "T7", lat, lon, T0, T0 + 1200)
    assert [a.state for a in dark_alerts(alerts)] == ["open"]
    # a late satellite report (or the receiver back up): the track takes the vessel's MMSI
    out = engine.process([heard(563_986_400, T0 + 1210, lat, lon)],
                         [radar_line("T7", T0 + 1210, lat, lon, mmsi=563_986_400, sources=("ais", "radar"))])
    closed = dark_alerts(out)
    assert len(closed) == 1 and closed[0].state == "closed"
    assert closed[0].evidence["explained"] == "ais_associated"
    assert closed[0].evidence["mmsi"] == 563_986_400
    assert closed[0].summary.startswith("Explained")


def test_coverage_is_learned_from_where_a_station_hears_vessels():
    # registered for 40 km, but the station hears ships at 70 km (a tall mast, ducting)
    station = ("AIS-A", 10.0, 114.0, 40_000.0)
    engine = RuleEngine(geo(receivers=[station]))
    far = at(10.0, 114.0, 60.0, 70_000.0)
    cov = engine.ctx.coverage
    assert cov.stations_that_could_hear(*far, T0) == []
    engine.process([heard(548_000_100, T0, *far)], [])
    assert cov.stations_that_could_hear(*far, T0 + 10) == ["AIS-A"]
    assert cov.ais_expected(*far, T0 + 10, 60) is True
    # and a radar contact there is now dark after dark_vessel_s
    alerts, lines = held(engine, "T2", *at(far[0], far[1], 180.0, 500.0), T0 + 10, T0 + 1000)
    assert len(dark_alerts(alerts)) == 1
    # 130 km out, where it never heard anything: still not covered
    assert cov.stations_that_could_hear(*at(10.0, 114.0, 60.0, 130_000.0), T0) == []


def test_cells_radar_sees_transmitting_ships_in_but_the_station_never_hears_decay_to_not_covered():
    engine = RuleEngine(geo(receivers=[STATION_A]))
    spot = at(10.0, 114.0, 270.0, 50_000.0)  # inside A's registered range, behind an island say
    cov = engine.ctx.coverage
    assert cov.stations_that_could_hear(*spot, T0) == ["AIS-A"]
    for k in range(8):  # eight transmitting ships held by radar there, AIS heard by a satellite feed
        engine.process([], [radar_line(f"T{k}", T0 + k, *spot, mmsi=548_200_000 + k, sources=("ais", "radar"))])
    assert cov.stations_that_could_hear(*spot, T0 + 10) == []
    # a group of *dark* vessels cannot do that: radar-only contacts are not evidence against A
    other = at(10.0, 114.0, 90.0, 50_000.0)
    for k in range(20):
        engine.process([], [radar_line(f"D{k}", T0 + 20 + k, *other)])
    assert cov.stations_that_could_hear(*other, T0 + 60) == ["AIS-A"]


def test_a_station_silent_for_half_an_hour_is_down_until_heard_again():
    engine = RuleEngine(geo(receivers=[STATION_A]))
    cov = engine.ctx.coverage
    spot = at(10.0, 114.0, 0.0, 20_000.0)
    engine.process([heard(548_000_200, T0, *spot)], [])
    assert cov.stations_that_could_hear(*spot, T0 + 1700) == ["AIS-A"]
    assert cov.stations_that_could_hear(*spot, T0 + 1900) == []
    engine.process([heard(548_000_201, T0 + 2000, *spot)], [])
    assert cov.stations_that_could_hear(*spot, T0 + 2001) == ["AIS-A"]


def test_satellite_ais_is_expected_everywhere_but_only_over_a_silence_longer_than_its_revisit():
    engine = RuleEngine(geo(satellites={"SAT-1": 5400.0}))
    lat, lon = at(STATION_A[1], STATION_A[2], 0.0, 200_000.0)  # beyond every terrestrial station
    cov = engine.ctx.coverage
    assert cov.stations_that_could_hear(lat, lon, T0) == ["SAT-1"]
    assert cov.ais_expected(lat, lon, T0, 3000) is False
    assert cov.ais_expected(lat, lon, T0, 6000) is True
    alerts, lines = held(engine, "T3", lat, lon, T0, T0 + 5400 + 900 + 120, every_s=30.0)
    dark = dark_alerts(alerts)
    assert len(dark) == 1 and dark[0].time_s >= T0 + 5400 + 900
    assert lines[0].contact == "unidentified" and lines[-1].contact == "dark"


def test_no_ais_station_known_at_all_keeps_the_old_behaviour():
    engine = RuleEngine(Geography(releasability={"RADAR-A": ["ASEAN"]}))
    alerts, _ = held(engine, "T1", 10.0, 114.0, T0, T0 + 1000)
    assert len(dark_alerts(alerts)) == 1
    engine = RuleEngine(Geography(releasability={"RADAR-A": ["ASEAN"]}),
                        RulesConfig(dark_assume_coverage_without_receivers=False))
    alerts, _ = held(engine, "T1", 10.0, 114.0, T0, T0 + 1000)
    assert dark_alerts(alerts) == []


def test_a_checkpoint_keeps_the_learned_grid(tmp_path: Path):
    sensors = {"AIS-A": Sensor("AIS-A", "ais", 10.0, 114.0, range_m=40_000.0, releasability=("ASEAN",))}
    fusion = Fusion(sensors, build_geography(sensors))
    far = at(10.0, 114.0, 60.0, 70_000.0)
    obs = [heard(548_000_300, T0 + k * 10, *at(far[0], far[1], 0.0, 50.0 * k)) for k in range(5)]
    fusion.update(obs)
    before = fusion.rules.ctx.coverage
    assert before.stations_that_could_hear(*far, T0 + 60) == ["AIS-A"]
    cp = Checkpoint(tmp_path / "state.mfc")
    cp.save(fusion, {0: 5})
    loaded, _ = cp.load(Fusion(sensors, build_geography(sensors)))
    after = loaded.rules.ctx.coverage
    assert after.heard == before.heard and after.last_heard_s == before.last_heard_s
    assert after.stations_that_could_hear(*far, T0 + 60) == ["AIS-A"]
    assert after.geo is loaded.rules.ctx.geo


def test_a_satellite_sensor_needs_its_revisit_time():
    base = {"id": "SAT-1", "kind": "ais", "lat": 0.0, "lon": 0.0, "platform": "satellite"}
    with pytest.raises(IngestError, match="revisit_s"):
        load_sensors({"sensors": [base]})
    with pytest.raises(IngestError, match="unknown platform"):
        load_sensors({"sensors": [dict(base, platform="balloon", revisit_s=60)]})
    sat = load_sensors({"sensors": [dict(base, revisit_s=5400)]})["SAT-1"]
    assert (sat.platform, sat.revisit_s) == ("satellite", 5400.0)
    g = build_geography({"SAT-1": sat})
    assert g.satellites == {"SAT-1": 5400.0} and g.receivers == []


# ---------------------------------------------------------------------------- the API
AGENCY_KEY = "agency-key-for-coverage"


@pytest.fixture
def api(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from services.config.settings import ApiKey

    from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, SENSORS, make_runtime

    sensors = dict(SENSORS)
    sensors["AIS-PH"] = Sensor("AIS-PH", "ais", 11.0, 114.3, range_m=74_000, owner="PH-CG", releasability=("PH",))
    runtime = make_runtime(tmp_path, sensors=sensors, api_keys=(
        ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(ADMIN_KEY, "admin", "test-admin"),
        ApiKey(AGENCY_KEY, "agency", "VN-MSA")))
    runtime.start()
    try:
        with TestClient(create_app(runtime)) as client:
            yield runtime, client, {"officer": OFFICER_KEY, "agency": AGENCY_KEY, "integrator": INTEGRATOR_KEY}
    finally:
        runtime.stop()


def _get(client, path, key):
    return client.get(path, headers={"Authorization": f"Bearer {key}"})


def test_coverage_is_viewable_and_an_agency_sees_only_stations_releasable_to_it(api):
    runtime, client, keys = api

    def learn(f: Fusion) -> None:
        cov = f.rules.ctx.coverage
        cov.heard_at("AIS-T1", None, 548_000_001, 10.2, 114.1, T0)
        cov.heard_at("AIS-PH", None, 548_000_002, 11.1, 114.4, T0)
        cov.heard_at("unregistered-feed", None, 548_000_003, 12.0, 115.0, T0)

    assert runtime.fusion_worker.control(learn)
    officer = _get(client, "/v1/coverage", keys["officer"])
    assert officer.status_code == 200, officer.text
    doc = officer.json()
    assert doc["type"] == "FeatureCollection" and doc["cell_m"] == 5000
    cells = {(f["properties"]["station"], f["properties"]["kind"]) for f in doc["features"]}
    assert {("AIS-T1", "station"), ("AIS-T1", "cell"), ("AIS-PH", "station"), ("AIS-PH", "cell"),
            ("feed:unregistered-feed", "cell")} <= cells
    t1_cell = next(f for f in doc["features"]
                   if f["properties"]["station"] == "AIS-T1" and f["properties"]["kind"] == "cell")
    assert t1_cell["properties"]["covered"] is True and t1_cell["properties"]["heard"] == 1
    ring = t1_cell["geometry"]["coordinates"][0]
    assert min(p[0] for p in ring) <= 114.1 <= max(p[0] for p in ring)
    assert min(p[1] for p in ring) <= 10.2 <= max(p[1] for p in ring)

    agency = _get(client, "/v1/coverage", keys["agency"]).json()
    seen = {f["properties"]["station"] for f in agency["features"]}
    assert seen == {"AIS-T1"}  # not the PH-only station, not a feed nobody registered
    assert _get(client, "/v1/coverage", keys["integrator"]).status_code == 403
    assert client.get("/v1/coverage").status_code == 401


def test_unidentified_contacts_are_in_the_picture_and_filterable(api):
    runtime, client, keys = api
    base = {"time": "2026-11-24T08:00:00Z", "sog_kn": 12.0, "cog_deg": 90.0, "sigma_m": 40.0,
            "mmsi": None, "name": None, "flag": None, "ship_type": None, "sources": ["radar"],
            "status": "confirmed", "sensors": ["RAD-T1"]}
    runtime.store.write_tracks([
        {**base, "track_id": "T1", "lat": 10.0, "lon": 114.9, "contact": "unidentified"},
        {**base, "track_id": "T2", "lat": 10.0, "lon": 114.2, "contact": "dark"},
        {**base, "track_id": "T3", "lat": 10.1, "lon": 114.1, "mmsi": 548_000_001, "sources": ["ais"],
         "sensors": ["AIS-T1"]},
    ])
    rows = _get(client, "/v1/tracks?contact=unidentified", keys["officer"]).json()["tracks"]
    assert [r["track_id"] for r in rows] == ["T1"] and rows[0]["contact"] == "unidentified"
    assert [r["track_id"] for r in _get(client, "/v1/tracks?contact=dark", keys["agency"]).json()["tracks"]] == ["T2"]
    assert _get(client, "/v1/tracks?contact=nonsense", keys["officer"]).status_code == 422
    one = _get(client, "/v1/tracks/T1", keys["officer"]).json()
    assert one["contact"] == "unidentified"
    assert _get(client, "/v1/tracks/T3", keys["officer"]).json().get("contact") is None


def test_a_snapshot_says_which_radar_only_tracks_are_outside_ais_cover():
    sensors = {"AIS-A": Sensor("AIS-A", "ais", 10.0, 114.0, range_m=74_000.0, releasability=("ASEAN",)),
               "RAD-A": Sensor("RAD-A", "radar", 10.0, 114.0, range_m=120_000.0, scan_period_s=6.0,
                               releasability=("ASEAN",))}
    fusion = Fusion(sensors, build_geography(sensors))
    far, near = at(10.0, 114.0, 0.0, 90_000.0), at(10.0, 114.0, 180.0, 30_000.0)
    plots = [Observation("radar_plot", "RAD-A", T0 + k * 6.0, *p, sigma_m=50.0)
             for k in range(20) for p in (far, near)]
    fusion.update(plots)
    snap = {round(ln.lat, 1): ln.contact for ln in fusion.snapshot(T0 + 120)}
    assert snap == {round(far[0], 1): "unidentified", round(near[0], 1): "dark"}


def test_through_the_tracker_a_dark_contact_whose_ais_is_then_heard_is_closed_as_explained():
    sensors = {"AIS-A": Sensor("AIS-A", "ais", 10.0, 114.0, range_m=74_000.0, releasability=("ASEAN",)),
               "RAD-A": Sensor("RAD-A", "radar", 10.0, 114.0, range_m=120_000.0, scan_period_s=6.0,
                               releasability=("ASEAN",))}
    fusion = Fusion(sensors, build_geography(sensors))
    start = at(10.0, 114.0, 180.0, 30_000.0)

    def pos(t: float) -> tuple[float, float]:  # 10 kn due east
        return at(*start, 90.0, (t - T0) * 10 * 1852 / 3600)

    alerts = []
    for k in range(400):
        t = T0 + k * 6.0
        obs = [Observation("radar_plot", "RAD-A", t, *pos(t), sigma_m=50.0)]
        if t >= T0 + 1500 and k % 2 == 0:  # its AIS is heard from 25 min on (a receiver back up)
            obs.append(Observation("ais_position", "AIS-A", t + 0.5, *pos(t + 0.5), mmsi=563_986_400, sog_kn=10.0,
                                   cog_deg=90.0, ais_class="A", station="AIS-A"))
        alerts += fusion.update(obs)[1]
    dark = [a for a in alerts if a.type == "dark_vessel"]
    assert [a.state for a in dark] == ["open", "closed"]
    assert dark[0].time_s == pytest.approx(T0 + 900, abs=60)
    assert dark[1].evidence["explained"] == "ais_associated"
    assert dark[1].evidence["mmsi"] == 563_986_400
    assert T0 + 1500 <= dark[1].evidence["closed_s"] <= T0 + 1560


def test_a_late_satellite_report_of_the_contact_closes_its_dark_alert_as_explained():
    sensors = {"AIS-A": Sensor("AIS-A", "ais", 10.0, 114.0, range_m=74_000.0, releasability=("ASEAN",)),
               "SAT-1": Sensor("SAT-1", "ais", 0.0, 0.0, releasability=("ASEAN",), platform="satellite",
                               revisit_s=5400.0),
               "RAD-A": Sensor("RAD-A", "radar", 10.0, 114.0, range_m=120_000.0, scan_period_s=6.0,
                               releasability=("ASEAN",))}
    fusion = Fusion(sensors, build_geography(sensors))
    start = at(10.0, 114.0, 180.0, 30_000.0)

    def pos(t: float) -> tuple[float, float]:
        return at(*start, 90.0, (t - T0) * 10 * 1852 / 3600)

    alerts = []
    for k in range(320):
        t = T0 + k * 6.0
        obs = [Observation("radar_plot", "RAD-A", t, *pos(t), sigma_m=50.0)]
        if k == 300:  # at 30 min, a satellite report made 10 minutes earlier arrives
            obs.append(Observation("ais_position", "SAT-1", t - 600, *pos(t - 600), mmsi=563_986_400,
                                   sog_kn=10.0, cog_deg=90.0, ais_class="A"))
        alerts += fusion.update(obs)[1]
    dark = dark_alerts(alerts)
    assert len(dark) == 1 and dark[0].state == "closed"
    assert dark[0].evidence["explained"] == "ais_associated" and dark[0].evidence["mmsi"] == 563_986_400
