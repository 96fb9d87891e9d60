"""The ASTERIX UDP listener of ``mfc ingest``, over real sockets on loopback: datagrams of CAT048
and CAT010 target reports (assembled from the EUROCONTROL item layouts in ``tests/test_asterix``,
not by the decoder's library) from a radar's source address become observations where pyproj's
WGS 84 puts them; truncated, wrong-category, overlong and unknown-source datagrams get reasons on
the dead-letter topic, and the listener goes on."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from pyproj import Geod

from services.bus import topics
from services.bus.core import EmbeddedBus
from services.config.limits import Limits, LimitsError
from services.workers.ingest_service import IngestService
from services.workers.raw_ingest import asterix_listener, parse_asterix_sources

from .conftest import SENSORS, free_port, wait_for
from .test_asterix import NM, block, cat010_wgs84, cat048

WGS84 = Geod(ellps="WGS84")
RADAR = SENSORS["RAD-T1"]  # 10°N 114°E, range 60 km


@pytest.fixture
def listen():
    servers = []

    def start(**limits: object):
        bus = EmbeddedBus()
        ingest = IngestService(bus, dict(SENSORS), time.time)
        port = free_port()
        server = asterix_listener(ingest, "127.0.0.1", port, {"127.0.0.3": "RAD-T1", "127.0.0.4": "NOT-REGISTERED"},
                                  Limits(**limits))
        servers.append(server)
        return bus, ingest, server, port

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def send(port: int, data: bytes, source: str = "127.0.0.3") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.sendto(data, ("127.0.0.1", port))


def obs(bus: EmbeddedBus) -> list[dict]:
    return [o for r in bus.consumer(topics.OBS, "t").poll(timeout_s=0.1, max_records=1000)
            for o in topics.observations_in(r.value)]


def deadletters(bus: EmbeddedBus) -> list[dict]:
    return [r.value for r in bus.consumer(topics.DEADLETTER, "t").poll(timeout_s=0.1, max_records=1000)]


def today_tod(offset_s: float = 0.0) -> float:
    return (time.time() + offset_s) % 86_400


def test_target_reports_from_the_radar_address_land_where_the_ellipsoid_puts_them(listen):
    bus, ingest, server, port = listen()
    sent_at = time.time()
    tod = (sent_at - 5) % 86_400
    send(port, block(48, cat048(tod, 20.0, 60.0, track=7, gsp_nm_s=48 / 2 ** 14, hdg_deg=90.0),
                     cat048(tod, 12.5, 200.0)))
    send(port, block(10, cat010_wgs84(tod, 10.05, 114.02)))
    assert wait_for(lambda: len(obs(bus)) == 3)
    track, plot, vts = obs(bus)
    for o, (rho_nm, theta) in ((track, (20.0, 60.0)), (plot, (12.5, 200.0))):
        lon, lat, _ = WGS84.fwd(RADAR.lon, RADAR.lat, round(theta / 360 * 65536) * 360 / 65536,
                                round(rho_nm * 256) / 256 * NM)
        assert WGS84.inv(lon, lat, o["lon"], o["lat"])[2] < 1.0
        assert o["sensor_id"] == "RAD-T1" and o["station"] == "1/2"
    assert (track["kind"], track["local_id"], plot["kind"]) == ("radar_track", "7", "radar_plot")
    assert track["sog_kn"] == pytest.approx(48 / 2 ** 14 * 3600)
    assert (vts["lat"], vts["lon"]) == pytest.approx((10.05, 114.02), abs=1e-7)
    assert abs(track["time_s"] - (sent_at - 5)) < 0.01  # the time of day dated by the receipt
    h = ingest.health["RAD-T1"]
    assert (h["datagrams"], h["datagrams_rejected"], h["accepted"], h["rejected"]) == (2, 0, 3, 0)
    assert (server.datagrams, server.accepted, server.rejected, server.refused) == (2, 3, 0, 0)


def test_malformed_datagrams_get_their_reasons_and_the_listener_goes_on(listen):
    bus, ingest, server, port = listen(asterix_max_datagram_bytes=512)
    tod = today_tod(-5)
    good = block(48, cat048(tod, 10.0, 10.0))
    send(port, good[:-3])  # truncated: the block says more bytes than came
    send(port, block(62, b"\x80\x01\x02"))  # CAT062 system tracks: not a radar's target reports
    send(port, good + block(34, b"\xc0\x01\x02\x01"))  # a good report, then a CAT034 service message
    send(port, block(34, b"\xc0\x01\x02\x01"))  # a service message alone: taken as read
    send(port, b"\x30" + b"\x00" * 599)  # over the 512-byte limit
    send(port, good, source="127.0.0.2")  # nobody's radar
    send(port, good, source="127.0.0.4")  # mapped, but the sensor is not registered
    send(port, good)  # still listening
    assert wait_for(lambda: len(obs(bus)) == 2 and server.refused == 1 and server.datagrams == 7)
    reasons = [d["reason"] for d in deadletters(bus)]
    assert len(reasons) == 5, reasons
    truncated, cat062, overlong, unknown_source, unregistered = reasons
    assert truncated.startswith(f"not ASTERIX datablocks ({len(good) - 3} bytes)")
    assert cat062.startswith("ASTERIX category 62 is not a target report category")
    assert overlong == ("datagram of more than 512 bytes is over the 512-byte limit "
                        "(MFC_ASTERIX_MAX_DATAGRAM_BYTES); not decoded")
    assert unknown_source == ("source address 127.0.0.2 is not in the ASTERIX source list (--asterix-source); "
                              "1 datagrams refused so far")
    assert unregistered == "unknown radar 'NOT-REGISTERED': register it first"
    h = ingest.health["RAD-T1"]
    assert (h["datagrams"], h["datagrams_rejected"], h["accepted"], h["rejected"]) == (6, 3, 2, 3)
    assert h["last_reject"] == overlong


def test_sources_are_parsed_strictly():
    assert parse_asterix_sources(["192.0.2.7=PH-PAL-R1", "::ffff:192.0.2.8=R2"]) == {
        "192.0.2.7": "PH-PAL-R1", "192.0.2.8": "R2"}
    for bad in (["192.0.2.7"], ["radar.example=R1"], ["192.0.2.7=R1", "192.0.2.7=R2"], ["=R1"]):
        with pytest.raises(LimitsError):
            parse_asterix_sources(bad)


@pytest.mark.parametrize("args, says", [
    (["--asterix-udp", "4000"], "--asterix-udp and --asterix-source go together"),
    (["--asterix-udp", "4000", "--asterix-source", "radar.example=R1"], "is not an IP address"),
])
def test_mfc_ingest_refuses_an_incomplete_asterix_listener(args, says):
    done = subprocess.run([sys.executable, "-m", "mfc", "ingest", *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and says in done.stderr


def test_mfc_ingest_runs_the_asterix_listener(tmp_path):
    """The service as deployed: `mfc ingest --asterix-udp` binds the port, names its sources,
    refuses an unknown address with its reason, and stops cleanly on SIGTERM."""
    import json
    import os
    import signal
    (tmp_path / "sensors.json").write_text(json.dumps({"sensors": [
        {"id": "RAD-T1", "kind": "radar", "lat": 10.0, "lon": 114.0, "range_m": 60000}]}))
    port = free_port()
    env = {**os.environ, "MFC_BUS": "embedded", "MFC_SENSORS": str(tmp_path / "sensors.json"),
           "MFC_HOST": "127.0.0.1", "MFC_DB": f"sqlite:///{tmp_path / 'mfc.db'}"}
    proc = subprocess.Popen([sys.executable, "-m", "mfc", "ingest", "--asterix-udp", str(port),
                             "--asterix-source", "127.0.0.3=RAD-T1", "--asterix-source", "127.0.0.4=R-NONE"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        assert f"ASTERIX on udp {port} from 127.0.0.3 (RAD-T1), 127.0.0.4 (R-NONE)" in banner, banner
        send(port, block(48, cat048(today_tod(-5), 10.0, 10.0)), source="127.0.0.2")
        send(port, block(48, cat048(today_tod(-5), 10.0, 10.0)))
        time.sleep(2.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "ASTERIX source 127.0.0.4 names 'R-NONE', not a registered radar" in err
    assert "source address 127.0.0.2 is not in the ASTERIX source list" in err
