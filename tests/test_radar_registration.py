"""A radar's registration bias measured against AIS and corrected: sensor_integrity with cause
``registration_bias``.  Plots are made with pyproj from the truth, rotated and pushed out about
the radar as a misaligned antenna or a miscalibrated range would."""

from __future__ import annotations

import random

from pyproj import Geod

from fusion.model import Observation, Sensor
from fusion.pipeline import Fusion
from fusion.rules import RuleEngine, RulesConfig
from tests.rules_builders import T0, geography

GEOD = Geod(ellps="WGS84")
RADAR = ("R-BIAS", 10.0, 114.5)
SCAN_S = 6.0


def _truth(minutes: int, vessels: int = 14):
    """Vessels at 25-50 km from the radar, 8-14 kn on their own courses: (mmsi or None, t, lat, lon, sog, cog)."""
    rng = random.Random(3)
    out = []
    for v in range(vessels):
        b, r = rng.uniform(0, 360), rng.uniform(25_000, 50_000)
        lon, lat, _ = GEOD.fwd(RADAR[2], RADAR[1], b, r)
        sog, cog = rng.uniform(8, 14), rng.uniform(0, 360)
        mmsi = 533_000_100 + v if v else None      # vessel 0 carries no AIS: a dark contact
        for k in range(int(minutes * 60 / SCAN_S)):
            t = T0 + k * SCAN_S
            lo, la, _ = GEOD.fwd(lon, lat, cog, sog * 1852 / 3600 * (t - T0))
            out.append((mmsi, t, la, lo, sog, cog))
    return out


def _observations(truth, bearing_bias: float, range_bias: float, noise_m: float = 30.0):
    rng = random.Random(8)
    obs = []
    for mmsi, t, la, lo, sog, cog in truth:
        az, _, d = GEOD.inv(RADAR[2], RADAR[1], lo, la)
        plo, pla, _ = GEOD.fwd(RADAR[2], RADAR[1], az + bearing_bias, d + range_bias)
        plo, pla, _ = GEOD.fwd(plo, pla, rng.uniform(0, 360), abs(rng.gauss(0, noise_m)))
        obs.append(Observation("radar_plot", RADAR[0], t, pla, plo, sigma_m=50.0))
        if mmsi is not None and int(t - T0) % 12 == 0:     # AIS every 12 s
            obs.append(Observation("ais_position", "AIS-A", t + 0.5, la, lo, sigma_m=10.0, mmsi=mmsi, sog_kn=sog,
                                   cog_deg=cog))
    obs.sort(key=lambda o: o.time_s)
    return obs


def _geo():
    return geography(radars={RADAR[0]: (RADAR[1], RADAR[2])},
                     releasability={"AIS-A": ["ASEAN"], RADAR[0]: ["ASEAN"]})


def _alerts(obs, **cfg):
    eng = RuleEngine(_geo(), RulesConfig(**cfg))
    out = []
    for k in range(0, len(obs), 500):
        out += eng.process(obs[k:k + 500], [])
    return [a for a in out if a.type == "sensor_integrity"]


def test_a_radar_one_degree_off_north_and_200_m_long_is_named_with_its_bias():
    alerts = _alerts(_observations(_truth(20), bearing_bias=1.0, range_bias=200.0))
    assert alerts
    a = alerts[-1]
    assert a.evidence["cause"] == "registration_bias" and a.evidence["receiver"] == "R-BIAS"
    assert abs(a.evidence["bearing_bias_deg"] - 1.0) < 0.1, a.evidence
    assert abs(a.evidence["range_bias_m"] - 200.0) < 40, a.evidence
    assert a.evidence["vessels"] >= 5 and (a.lat, a.lon) == (RADAR[1], RADAR[2])
    assert len({x.alert_id for x in alerts}) == 1
    assert alerts[0].time_s < T0 + 10 * 60          # named within minutes of traffic


def test_a_well_registered_radar_is_not_named():
    assert _alerts(_observations(_truth(20), bearing_bias=0.0, range_bias=0.0)) == []
    # within the thresholds (a quarter degree, 60 m): not a fault
    assert _alerts(_observations(_truth(20), bearing_bias=0.25, range_bias=60.0)) == []


def _dark_error_m(correct: bool) -> float:
    """Fusion on the misregistered radar: the dark contact's track against its truth in the last
    five minutes (mean distance)."""
    truth = _truth(25)
    obs = _observations(truth, bearing_bias=1.0, range_bias=200.0)
    sensors = {RADAR[0]: Sensor(RADAR[0], "radar", RADAR[1], RADAR[2], range_m=80_000, accuracy_m=50.0,
                                scan_period_s=SCAN_S, releasability=("ASEAN",)),
               "AIS-A": Sensor("AIS-A", "ais", 10.0, 114.5, range_m=150_000, releasability=("ASEAN",))}
    fusion = Fusion(sensors, _geo(), rules_config=RulesConfig(registration_correct=correct))
    dark = {t: (la, lo) for m, t, la, lo, _, _ in truth if m is None}
    end = max(dark)
    errors = []
    for k in range(0, len(obs), 300):
        batch = obs[k:k + 300]
        fusion.update(batch)
        t = max(x for x in dark if x <= batch[-1].time_s)   # the latest scan taken
        if t >= end - 300:
            lines = [ln for ln in fusion.snapshot(t) if ln.mmsi is None]
            la, lo = dark[t]
            errors.append(min(GEOD.inv(ln.lon, ln.lat, lo, la)[2] for ln in lines))
    return sum(errors) / len(errors)


def test_the_dark_contact_is_placed_where_it_is_once_the_radar_is_corrected():
    off, on = _dark_error_m(False), _dark_error_m(True)
    assert off > 400, off           # 1° at 25-50 km plus 200 m: hundreds of metres
    assert on < 120, on


def test_a_misregistered_radar_is_marked_in_v1_sensors_through_the_live_ingest(tmp_path):
    """Real NMEA and radar JSON posted to a running centre as integrators post them: the radar is
    named with its bias in /v1/sensors and its plots are being corrected."""
    import json
    import time

    import httpx

    from tests.conftest import INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for
    from tests.test_api import position_sentence, with_time

    sensors = {RADAR[0]: Sensor(RADAR[0], "radar", RADAR[1], RADAR[2], range_m=80_000, accuracy_m=50.0,
                                scan_period_s=SCAN_S, owner="test-integrator", releasability=("ASEAN",)),
               "AIS-A": Sensor("AIS-A", "ais", 10.0, 114.5, range_m=150_000, owner="test-integrator",
                               releasability=("ASEAN",))}
    now = int(time.time())
    shift = now - 900 - T0            # the scene's 15 minutes, ending now
    obs = _observations(_truth(15), bearing_bias=1.0, range_bias=200.0)
    auth = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
    with LiveServer(make_runtime(tmp_path, sensors)) as server:
        for k in range(0, 150):       # 6-s windows, AIS first, as two feeds arriving side by side
            lo_t, hi_t = T0 + 6 * k, T0 + 6 * (k + 1)
            window = [o for o in obs if lo_t <= o.time_s < hi_t]
            ais_lines = [with_time(position_sentence(o.mmsi, round(o.lat, 5), round(o.lon, 5), sog=round(o.sog_kn, 1),
                                                     cog=round(o.cog_deg, 1), status=0), int(o.time_s + shift))
                         for o in window if o.kind == "ais_position"]
            plots = [json.dumps({"kind": "plot", "sensor_id": RADAR[0], "lat": round(o.lat, 6), "lon": round(o.lon, 6),
                                 "sigma_m": 50, "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(o.time_s + shift))
                                 + "Z"}) for o in window if o.kind == "radar_plot"]
            if ais_lines:
                r = httpx.post(f"{server.url}/v1/ingest/ais", params={"sensor_id": "AIS-A"},
                               content="\n".join(ais_lines), headers=auth)
                assert r.status_code == 202 and r.json()["accepted"] == len(ais_lines), r.text
            r = httpx.post(f"{server.url}/v1/ingest/radar", content="\n".join(plots), headers=auth)
            assert r.status_code == 202 and r.json()["accepted"] == len(plots), r.text

        def radar_integrity() -> dict:
            rows = httpx.get(f"{server.url}/v1/sensors", headers={"Authorization": f"Bearer {OFFICER_KEY}"}).json()
            return next(s["integrity"] for s in rows["sensors"] if s["id"] == RADAR[0])

        assert wait_for(lambda: radar_integrity().get("status") == "suspect", 20), radar_integrity()
        got = radar_integrity()
        assert got["cause"] == "registration_bias" and got["correcting"] is True
        assert abs(got["bearing_bias_deg"] - 1.0) < 0.15 and abs(got["range_bias_m"] - 200) < 60, got
        # the radar's owner (an integrator) learns that its radar is suspect and corrected, not the
        # figures measured from the AIS behind the alert
        rows = httpx.get(f"{server.url}/v1/sensors", headers=auth).json()
        mine = next(s["integrity"] for s in rows["sensors"] if s["id"] == RADAR[0])
        assert mine == {"status": "suspect", "cause": "registration_bias", "offset_s": None, "correcting": True}


def test_the_bias_alert_goes_only_where_the_ais_behind_it_may_go():
    """The bias is measured from AIS reports: with the radar ASEAN's and the AIS receiver VN's
    only, the alert is VN's only (fails closed), never every ASEAN agency's."""
    geo = geography(radars={RADAR[0]: (RADAR[1], RADAR[2])}, releasability={"AIS-A": ["VN"], RADAR[0]: ["ASEAN"]})
    eng = RuleEngine(geo, RulesConfig())
    obs = _observations(_truth(20), bearing_bias=1.0, range_bias=200.0)
    got = []
    for k in range(0, len(obs), 500):
        got += [a for a in eng.process(obs[k:k + 500], []) if a.type == "sensor_integrity"]
    assert got and all(a.evidence["releasability"] == ["VN"] for a in got)

