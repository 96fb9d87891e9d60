"""A receiver whose clock is wrong, seen the way users see it: the live ingest takes real NMEA from
three receivers hearing the same vessels, the centre raises sensor_integrity, and /v1/sensors marks
the receiver suspect for those entitled to know."""

from __future__ import annotations

import time

import httpx

from fusion.model import Sensor
from services.config.settings import ApiKey

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for
from .rules_builders import move
from .test_api import position_sentence, with_time

RX = {f"RX-{c}": Sensor(f"RX-{c}", "ais", 10.0 + 0.1 * k, 114.0 + 0.1 * k, range_m=80_000, owner="test-integrator",
                        releasability=("ASEAN",) if c != "D" else ("PH",))
      for k, c in enumerate("ABCD")}
KEYS = (ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(ADMIN_KEY, "admin", "test-admin"),
        ApiKey("vn-key-for-tests", "agency", "VN-MSA"))


def test_a_receiver_with_a_wrong_clock_is_alerted_and_marked_suspect(tmp_path):
    with LiveServer(make_runtime(tmp_path, RX, api_keys=KEYS)) as server:
        now = int(time.time())
        lines: dict[str, list[str]] = {rx: [] for rx in RX}
        for v in range(8):
            lat, lon, cog = 10.1 + 0.01 * v, 114.1 + 0.01 * v, 40.0 * v
            for k in range(12):   # 12 reports per vessel, 10 s apart, ending now
                t = now - 120 + 10 * k
                sentence = position_sentence(548_100_000 + v, round(lat, 5), round(lon, 5), sog=11.0, cog=cog,
                                             status=0)
                for rx in RX:
                    lines[rx].append(with_time(sentence, t - (150 if rx == "RX-C" else 0)))
                lat, lon = move(lat, lon, 11.0, cog, 10.0)
        for rx, body in lines.items():
            r = httpx.post(f"{server.url}/v1/ingest/ais", params={"sensor_id": rx}, content="\n".join(body),
                           headers={"Authorization": f"Bearer {INTEGRATOR_KEY}"})
            assert r.status_code == 202 and r.json()["accepted"] == len(body), r.text

        def integrity(key: str) -> dict:
            rows = httpx.get(f"{server.url}/v1/sensors", headers={"Authorization": f"Bearer {key}"}).json()
            return {s["id"]: s["integrity"] for s in rows["sensors"]}

        assert wait_for(lambda: integrity(OFFICER_KEY).get("RX-C", {}).get("status") == "suspect", 20)
        seen = integrity(OFFICER_KEY)
        assert seen["RX-C"]["cause"] == "clock_offset" and abs(seen["RX-C"]["offset_s"] + 150) < 1
        assert seen["RX-C"]["correcting"] is True   # singled out by three peers: its reports are re-timed
        assert "RX-C" in seen["RX-C"]["summary"] and seen["RX-C"]["alert_id"].startswith("A")
        assert {sid for sid, v in seen.items() if v["status"] == "suspect"} == {"RX-C"}
        # the integrator sees the verdict on its own receiver, not the alert's text
        mine = integrity(INTEGRATOR_KEY)["RX-C"]
        assert mine["status"] == "suspect" and "summary" not in mine and "alert_id" not in mine
        # VN may see RX-C's data but not the alert (its peers include PH's RX-D): fails closed
        vn = integrity("vn-key-for-tests")
        assert "RX-D" not in vn and vn["RX-C"] == {"status": "ok"}
