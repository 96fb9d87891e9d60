"""Zones and zone policies set through ``mfc api`` reach a separate ``mfc fusion`` (real Kafka,
real service processes): a zone added before the fusion service starts is watched from its
first observation, with its policy; a policy changed while it runs applies from then on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from pyproj import Geod
from shapely.geometry import box, mapping

from fusion.geodesy import KN_TO_MS
from fusion.model import Observation
from ingest.sensors import load_sensors
from services.bus import topics
from services.bus.kafka_bus import KafkaBus, ensure_topics
from services.geo.geography import build_geography

from .conftest import free_port, wait_for
from .kafka_fixture import kafka_bootstrap, unique_name  # noqa: F401
from .test_kafka_resilience import read_topic, service_env, services  # noqa: F401

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SENSORS_FILE = ROOT / "sample_feeds" / "scs" / "sensors.json"
GEOD = Geod(ellps="WGS84")
ADMIN_KEY = "zones-admin-key-0001"
ZONE = box(114.75, 11.45, 114.85, 11.55)  # open sea 55 km NE of Thitu, in PH-PAG-A1's cover
CENTER = (11.50, 114.80)
T0 = 1_795_000_000.0


def entering(mmsi: int, t0: float, minutes: int = 24) -> list[Observation]:
    """AIS reports every 30 s of a vessel steaming west at 10 kn from 6 km east of the zone's
    edge to its middle and on."""
    start_lon, start_lat, _ = GEOD.fwd(114.85, CENTER[0], 90.0, 6_000.0)
    out = []
    for k in range(minutes * 2 + 1):
        lon, lat, _ = GEOD.fwd(start_lon, start_lat, 270.0, 10.0 * KN_TO_MS * 30.0 * k)
        out.append(Observation("ais_position", "PH-PAG-A1", t0 + 30.0 * k, lat, lon, sigma_m=10.0,
                               mmsi=mmsi, sog_kn=10.0, cog_deg=270.0))
    return out


def publish(bus: KafkaBus, observations: list[Observation]) -> None:
    for obs in sorted(observations, key=lambda o: o.time_s):
        value = obs.to_dict()
        bus.publish(topics.OBS, topics.obs_key(value), value)
    bus.flush()


def zone_alerts(bootstrap: str, prefix: str) -> list[dict]:
    values = [json.loads(r.value) for r in read_topic(bootstrap, prefix + topics.ALERTS, timeout_s=30) if r.value]
    return [v for v in values if v.get("type") == "zone_entry" and v.get("zone") == "Exercise Box"]


def test_a_separate_fusion_service_watches_zones_and_policies_set_through_the_api(
        kafka_bootstrap, tmp_path, services):  # noqa: F811
    sensors = load_sensors(SENSORS_FILE)
    assert not build_geography(sensors).watch_zones_at(*CENTER)  # no built-in zone there
    prefix = unique_name("zones") + "."
    bus = KafkaBus(kafka_bootstrap, prefix=prefix)
    ensure_topics(bus)
    port = free_port()
    env = service_env(kafka_bootstrap, tmp_path, SENSORS_FILE, prefix, MFC_HOST="127.0.0.1",
                      MFC_PORT=str(port), MFC_API_KEYS=f"{ADMIN_KEY}:admin:ops")
    api = services(["api"], env, tmp_path / "api.log").start()
    base, admin = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {ADMIN_KEY}"}

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    assert wait_for(up, timeout_s=60), api.output()
    feature = {"type": "Feature", "properties": {"name": "Exercise Box", "kind": "closed_area"},
               "geometry": mapping(ZONE)}
    assert httpx.post(f"{base}/v1/zones", json=feature, headers=admin).status_code == 201
    r = httpx.put(f"{base}/v1/zones/Exercise Box/policy", json={"flags": ["CN"]}, headers=admin)
    assert r.status_code == 200, r.text

    # the fusion service starts after the zone was added: it is watched, with its policy
    fusion = services(["fusion", "--checkpoint-every", "1"], env, tmp_path / "fusion.log").start()
    cn, ph, ph_later = 412_770_001, 548_770_002, 548_770_003
    try:
        publish(bus, entering(cn, T0) + entering(ph, T0 + 15))
        first = wait_for(lambda: zone_alerts(kafka_bootstrap, prefix), timeout_s=120, every_s=1.0)
        assert first, fusion.output()
        assert {m for a in first for m in a["evidence"]["mmsis"]} == {cn}  # the PH vessel is not of interest

        # the policy widened while the service runs: a PH vessel entering afterwards counts
        r = httpx.put(f"{base}/v1/zones/Exercise Box/policy", json={}, headers=admin)
        assert r.status_code == 200, r.text
        time.sleep(3.0)  # the service follows mfc.zones every 0.5 s
        publish(bus, entering(ph_later, T0 + 30 * 60))
        later = wait_for(lambda: [a for a in zone_alerts(kafka_bootstrap, prefix)
                                  if ph_later in a["evidence"]["mmsis"]], timeout_s=120, every_s=1.0)
        assert later, fusion.output()
        assert fusion.alive() and api.alive()
    finally:
        bus.close()
        assert fusion.stop() == 0, fusion.output()
        assert api.stop() == 0, api.output()
