"""ASTERIX CAT048/CAT010 target reports, from bytes assembled here by hand from the EUROCONTROL
item layouts (not by the decoder's library), placed on the WGS 84 ellipsoid by pyproj."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import httpx
import pytest
from pyproj import Geod

from fusion.model import Sensor
from ingest.asterix import decode_asterix, resolve_time_of_day
from services.config.settings import ApiKey

from .conftest import INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for

WGS84 = Geod(ellps="WGS84")
RADAR = Sensor("AST-R1", "radar", 10.0, 114.0, range_m=90_000, accuracy_m=40.0, owner="test-integrator",
               releasability=("ASEAN",))
DAY0 = 1_795_046_400.0  # 2026-11-19T00:00:00Z
NM = 1852.0


def block(cat: int, *records: bytes) -> bytes:
    body = b"".join(records)
    return bytes([cat]) + struct.pack(">H", 3 + len(body)) + body


def cat048(tod_s: float, rho_nm: float, theta_deg: float, track: int | None = None,
           gsp_nm_s: float = 0.0, hdg_deg: float = 0.0) -> bytes:
    """I048/010 SAC=1 SIC=2 (FRN1), I048/140 ToD in 1/128 s (FRN2), I048/040 ρ in 1/256 NM and
    θ in 360/2^16 ° (FRN4); with a track: I048/161 (FRN11) and I048/200 GSP 2^-14 NM/s, HDG (FRN13)."""
    items = (b"\x01\x02" + round(tod_s * 128).to_bytes(3, "big")
             + struct.pack(">HH", round(rho_nm * 256), round(theta_deg / 360 * 65536) % 65536))
    if track is None:
        return b"\xd0" + items
    items += struct.pack(">HHH", track & 0x0FFF, round(gsp_nm_s * 2 ** 14), round(hdg_deg / 360 * 65536) % 65536)
    return b"\xd1\x14" + items


def cat010_wgs84(tod_s: float, lat: float, lon: float) -> bytes:
    """I010/010 (FRN1), I010/140 (FRN4), I010/041 lat/lon in 180/2^31 ° (FRN5)."""
    lsb = 180 / 2 ** 31
    return (b"\x98" + b"\x01\x02" + round(tod_s * 128).to_bytes(3, "big")
            + struct.pack(">ii", round(lat / lsb), round(lon / lsb)))


@pytest.mark.parametrize("rho_nm, theta_deg", [(10.8, 0.0), (29.7, 45.0), (48.6, 90.0), (5.0, 271.5)])
def test_cat048_polar_plots_land_where_the_ellipsoid_puts_them(rho_nm, theta_deg):
    (obs,), problems = decode_asterix(block(48, cat048(3600.5, rho_nm, theta_deg)), RADAR, DAY0 + 3601)
    rho_q, theta_q = round(rho_nm * 256) / 256, round(theta_deg / 360 * 65536) % 65536 * 360 / 65536  # as encoded
    lon, lat, _ = WGS84.fwd(RADAR.lon, RADAR.lat, theta_q, rho_q * NM)
    assert problems == [] and obs.kind == "radar_plot" and obs.sensor_id == "AST-R1"
    _, _, miss_m = WGS84.inv(lon, lat, obs.lon, obs.lat)
    assert miss_m < 1.0
    assert obs.time_s == DAY0 + 3600.5 and obs.station == "1/2" and obs.sigma_m == 40.0


def test_cat048_tracks_carry_their_number_and_velocity():
    data = block(48, cat048(7200, 12.0, 30.0, track=17, gsp_nm_s=64 / 2 ** 14, hdg_deg=90.0),
                 cat048(7200, 12.5, 31.0, track=18, gsp_nm_s=0.0, hdg_deg=180.0))
    (a, b), problems = decode_asterix(data, RADAR, DAY0 + 7300)
    assert problems == [] and (a.kind, a.local_id, b.local_id) == ("radar_track", "17", "18")
    assert a.sog_kn == pytest.approx(64 / 2 ** 14 * 3600) and a.cog_deg == pytest.approx(90.0)


def test_cat010_wgs84_positions_are_taken_as_they_are():
    (obs,), _ = decode_asterix(block(10, cat010_wgs84(100.0, 10.05, 114.02)), RADAR, DAY0 + 100)
    assert (obs.lat, obs.lon) == pytest.approx((10.05, 114.02), abs=1e-7)


@pytest.mark.parametrize("tod_s, receipt_s, want_s", [
    pytest.param(86_399.0, DAY0 + 5, DAY0 - 1, id="just-before-midnight-received-after"),
    pytest.param(2.0, DAY0 - 3, DAY0 + 2, id="just-after-midnight-received-before"),
    pytest.param(43_000.0, DAY0 + 43_010, DAY0 + 43_000, id="same-day"),
])
def test_the_time_of_day_takes_the_date_nearest_its_receipt(tod_s, receipt_s, want_s):
    assert resolve_time_of_day(tod_s, receipt_s) == want_s


@pytest.mark.parametrize("data, reason", [
    pytest.param(b"\x30\x00", "not ASTERIX", id="torn-header"),
    pytest.param(block(48, cat048(1.0, 1.0, 1.0))[:-2], "not ASTERIX", id="length-beyond-data"),
    pytest.param(block(62, b"\x80\x01\x02"), "not a target report category", id="cat062-system-tracks"),
    pytest.param(block(48, b"\x80\x01\x02"), "no time of day", id="no-time"),
])
def test_bad_datagrams_get_reasons_and_good_blocks_around_them_survive(data, reason):
    good = block(48, cat048(60.0, 10.0, 10.0))
    observations, problems = decode_asterix(good + data if "torn" not in reason else data, RADAR, DAY0 + 60)
    assert any(reason in p for p in problems), problems


def test_an_integrator_posts_asterix_and_a_track_appears(tmp_path):
    keys = (ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"),)
    with LiveServer(make_runtime(tmp_path, sensors={"AST-R1": RADAR}, api_keys=keys)) as server:
        import time
        now = time.time()
        tod0 = now % 86_400 - 30
        data = b"".join(block(48, cat048(tod0 + 3 * k, 20.0, 60.0 + 0.002 * k)) for k in range(8))
        r = httpx.post(f"{server.url}/v1/ingest/asterix", params={"sensor_id": "AST-R1"}, content=data,
                       headers={"Authorization": f"Bearer {INTEGRATOR_KEY}",
                                "Content-Type": "application/octet-stream"})
        assert r.status_code == 202 and r.json()["accepted"] == 8, r.text
        bad = httpx.post(f"{server.url}/v1/ingest/asterix", params={"sensor_id": "AST-R1"}, content=b"\x30\x00",
                         headers={"Authorization": f"Bearer {INTEGRATOR_KEY}"}).json()
        assert bad["accepted"] == 0 and "not ASTERIX" in bad["rejects"][0]["reason"]
        tracks = wait_for(lambda: httpx.get(f"{server.url}/v1/tracks",
                                            headers={"Authorization": f"Bearer {OFFICER_KEY}"}).json()["tracks"])
        lon, lat, _ = WGS84.fwd(RADAR.lon, RADAR.lat, 60.0, 20.0 * NM)
        assert tracks and WGS84.inv(lon, lat, tracks[0]["lon"], tracks[0]["lat"])[2] < 100


def pcap(datagrams: list[tuple[float, bytes]]) -> bytes:
    """A classic little-endian pcap of Ethernet/IPv4/UDP frames, built field by field."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, payload in datagrams:
        udp = struct.pack(">HHHH", 40000, 8600, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        sec = int(t)
        out.append(struct.pack("<IIII", sec, round((t - sec) * 1e6), len(frame), len(frame)) + frame)
    return b"".join(out)


def test_mfc_fuse_reads_a_radar_capture(tmp_path):
    scans = [(DAY0 + 3600 + 3 * k, block(48, cat048(3600 + 3 * k, 30.0, 120.0))) for k in range(40)]
    (tmp_path / "AST-R1.pcap").write_bytes(pcap(scans))
    (tmp_path / "sensors.json").write_text(json.dumps({"sensors": [
        {"id": "AST-R1", "kind": "radar", "lat": 10.0, "lon": 114.0, "range_m": 90000, "accuracy_m": 40}]}))
    tracks, alerts = tmp_path / "t.jsonl", tmp_path / "a.jsonl"
    subprocess.run([sys.executable, "-m", "mfc", "fuse", str(tmp_path / "AST-R1.pcap"), "--sensors",
                    str(tmp_path / "sensors.json"), "--tracks-out", str(tracks), "--alerts-out", str(alerts)],
                   check=True, capture_output=True)
    lines = [json.loads(x) for x in tracks.read_text().splitlines()]
    lon, lat, _ = WGS84.fwd(114.0, 10.0, 120.0, 30.0 * NM)
    assert lines and all(WGS84.inv(lon, lat, x["lon"], x["lat"])[2] < 60 for x in lines)
    assert lines[-1]["time"].startswith("2026-11-19T01:")  # dated by the packets' capture time


def test_service_messages_are_taken_as_read_neither_targets_nor_rejects():
    """CAT034 (north marker, sector crossing) comes between the target reports of every
    CAT048 radar: one a sector would otherwise flood the dead-letter topic."""
    good = block(48, cat048(60.0, 10.0, 10.0))
    observations, problems = decode_asterix(block(34, b"\xc0\x01\x02\x01") + good, RADAR, DAY0 + 60)
    assert problems == [] and len(observations) == 1
    assert decode_asterix(block(34, b"\xc0\x01\x02\x01"), RADAR, DAY0 + 60) == ([], [])
