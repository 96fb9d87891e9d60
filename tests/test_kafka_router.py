"""``mfc router`` on a real broker: alerts reach each agency's topic as releasability allows."""

from __future__ import annotations

import pytest

from services.bus import topics
from services.bus.kafka_bus import KafkaBus

from .conftest import wait_for
from .kafka_fixture import kafka_bootstrap, unique_name  # noqa: F401
from .test_kafka_resilience import Service, service_env

pytestmark = pytest.mark.slow


def test_the_router_service_fills_agency_topics(kafka_bootstrap, tmp_path):  # noqa: F811
    prefix = unique_name("router") + "."
    sensors = tmp_path / "sensors.json"
    sensors.write_text('{"sensors": []}')
    env = service_env(kafka_bootstrap, tmp_path, sensors, prefix,
                      MFC_API_KEYS="ph-key-000001:agency:PH-CG,vn-key-000001:agency:VN-MSA",
                      MFC_DB=f"sqlite:///{tmp_path / 'router.db'}")
    bus = KafkaBus(kafka_bootstrap, prefix=prefix)
    ph = bus.consumer(topics.agency_alerts("PH-CG"), "test-ph")
    vn = bus.consumer(topics.agency_alerts("VN-MSA"), "test-vn")
    router = Service(["router"], env, tmp_path / "router.log").start()
    try:
        shared = {"alert_id": "A1", "type": "distress", "severity": "critical", "time": "2026-11-24T08:00:00Z",
                  "lat": 10.0, "lon": 114.0, "summary": "AIS-SART active", "state": "open",
                  "evidence": {"releasability": ["ASEAN"]}}
        ph_only = {**shared, "alert_id": "A2", "type": "dark_vessel", "severity": "medium",
                   "evidence": {"releasability": ["PH"]}}
        bus.publish(topics.ALERTS, "A1", shared)
        bus.publish(topics.ALERTS, "A2", ph_only)
        bus.flush()
        got: dict[str, list[str]] = {"ph": [], "vn": []}

        def arrived():
            got["ph"] += [r.value["alert_id"] for r in ph.poll(0.5)]
            got["vn"] += [r.value["alert_id"] for r in vn.poll(0.5)]
            return sorted(got["ph"]) == ["A1", "A2"] and got["vn"] == ["A1"]

        assert wait_for(arrived, timeout_s=60, every_s=0.2), (got, router.output())
        assert router.stop() == 0, router.output()
    finally:
        router.kill()
        ph.close()
        vn.close()
        bus.close()
