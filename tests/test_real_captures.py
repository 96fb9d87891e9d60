"""Real AIS captures (tests/data/real, see tests/data/README.md) through ``mfc fuse`` as a user
runs it, against pyais as the independent reference; and one test per decoding and
publication rule behind that: long payloads and mismatched tag block checksums accepted with
a warning, a vessel published from its first report, sparse reporters kept as one track."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyais
import pytest

from fusion.model import Sensor
from fusion.tracker import Tracker
from services.bus.core import EmbeddedBus
from services.workers.ingest_service import IngestService

from .builders import T0, make_ais

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(__file__).parent / "data" / "real"
CAPTURES = sorted(p for p in REAL.iterdir() if p.suffix != ".md")
_SENTENCE = re.compile(r"![A-Z]{2}VD[MO],[^*!\\]*\*[0-9A-Fa-f]{2}")
_NEEDS_BITS = {1: 168, 2: 168, 3: 168, 18: 168, 19: 312, 27: 96}  # ITU-R M.1371 position reports


def _sentences(path: Path):
    """Complete messages (their sentences) in file order, fragments joined by count/seq/channel."""
    pending: dict[tuple[str, str, str], list[str]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        for s in _SENTENCE.findall(line):
            _, count, num, seq, channel = s.split(",")[:5]
            if count == "1":
                yield [s]
            elif num == "1":
                pending[(count, seq, channel)] = [s]
            elif (count, seq, channel) in pending:
                pending[(count, seq, channel)].append(s)
                if num == count:
                    yield pending.pop((count, seq, channel))


def pyais_vessels(path: Path) -> set[int]:
    """MMSIs pyais decodes with a valid position: a position report with a good checksum, at
    least the bits its type needs, MMSI 1-999999999, lat/lon in range (not 91/181)."""
    found = set()
    for parts in _sentences(path):
        try:
            msg = pyais.decode(*parts, error_if_checksum_invalid=True).asdict()
        except Exception:
            continue
        need = _NEEDS_BITS.get(msg.get("msg_type"))
        bits = len("".join(p.split(",")[5] for p in parts)) * 6 - int(parts[-1].split(",")[6][0])
        lat, lon, mmsi = msg.get("lat"), msg.get("lon"), msg.get("mmsi")
        if need is None or bits < need or not (isinstance(mmsi, int) and 1 <= mmsi <= 999_999_999):
            continue
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            found.add(mmsi)
    return found


def fused_vessels(path: Path, tmp_path: Path) -> set[int]:
    out = subprocess.run([sys.executable, "-m", "mfc", "fuse", str(path), "--tracks-out",
                          str(tmp_path / "t.jsonl"), "--alerts-out", str(tmp_path / "a.jsonl")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    return {x["mmsi"] for x in lines if x["mmsi"] is not None}


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_every_vessel_pyais_finds_is_in_the_tracks(path: Path, tmp_path: Path) -> None:
    expected = pyais_vessels(path)
    got = fused_vessels(path, tmp_path)
    missing = expected - got
    assert len(expected & got) >= 0.995 * len(expected), f"{len(missing)} missing, e.g. {sorted(missing)[:5]}"


def test_corpus_is_not_trivial() -> None:
    assert sum(len(pyais_vessels(p)) for p in CAPTURES) >= 500


# -- decoding like the field does ---------------------------------------------------------------

def _service() -> IngestService:
    sensors = {"AIS1": Sensor("AIS1", "ais", 60.0, 5.0, range_m=74_000),
               "R1": Sensor("R1", "radar", 10.0, 114.0, range_m=20_000)}
    return IngestService(EmbeddedBus(), sensors, lambda: 1_700_000_000.0)


def test_long_payload_decoded_with_a_warning_in_health_and_reply() -> None:
    line = (REAL / "gfw_type1-bad-bitcount.nmea").read_text().splitlines()[0]
    service = _service()
    verdict = service.ingest_ais(line, "AIS1")
    reply = verdict.to_dict()
    assert reply["accepted"] == 1 and reply["rejected"] == 0 and reply["warned"] == 1
    assert reply["warnings"][0]["reason"].startswith("payload is 186 bits, type ")
    assert "18 spare bits ignored" in reply["warnings"][0]["reason"]
    health = service.health["AIS1"]
    assert health["warnings"] == 1 and "spare bits" in health["last_warning"]


def test_tag_block_checksum_00_accepted_with_a_warning_when_the_sentence_is_good() -> None:
    sentence = "!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23"  # pyais test data, checksum good
    service = _service()
    reply = service.ingest_ais("\\s:2573135,c:1700000000*00\\" + sentence, "AIS1").to_dict()
    assert reply["accepted"] == 1 and reply["warned"] == 1
    assert reply["warnings"][0]["reason"].startswith("bad tag block checksum: computed ")
    assert service.health["AIS1"]["warnings"] == 1
    # a bad sentence checksum stays a reject, whatever the tag block says
    reply = service.ingest_ais("\\c:1700000000*00\\" + sentence[:-2] + "24", "AIS1").to_dict()
    assert reply["accepted"] == 0 and reply["rejects"][0]["reason"] == "bad checksum: computed 23, sentence says 24"


def test_short_payload_stays_a_reject() -> None:
    short = "!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL,0*"
    body = short[1:-1]
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    reply = _service().ingest_ais(f"1700000000 {short}{cs:02X}", "AIS1").to_dict()
    assert reply["accepted"] == 0 and reply["rejects"][0]["reason"] == "payload is 144 bits, type 1 needs 168"


def test_radar_plot_beyond_registered_range_kept_and_flagged() -> None:
    service = _service()
    far = {"kind": "plot", "sensor_id": "R1", "time": "2023-11-14T22:13:20Z", "range_m": 45_000, "bearing_deg": 90}
    near = {**far, "range_m": 25_000}
    reply = service.ingest_radar(json.dumps(far) + "\n" + json.dumps(near)).to_dict()
    assert reply["accepted"] == 2 and reply["rejected"] == 0 and reply["warned"] == 1
    assert "registered range is too short" in reply["warnings"][0]["reason"]
    health = service.health["R1"]
    assert health["range_exceeded"] == 1 and health["farthest_range_m"] == 45_000


# -- publication policy -------------------------------------------------------------------------

def test_single_report_published_with_how_established() -> None:
    tracker = Tracker()
    (line,) = tracker.update([make_ais(548000123, T0, 10.0, 114.0, 0.0, 0.0, station="st1")])
    assert line.status == "confirmed" and line.mmsi == 548000123
    d = line.to_dict()
    assert (d["reports"], d["receivers"], d["first_seen"]) == (1, 1, datetime.fromtimestamp(T0, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    (line,) = tracker.update([make_ais(548000123, T0 + 10, 10.0, 114.0, 0.0, 0.0, station="st2")])
    assert (line.reports, line.receivers, line.track_id) == (2, 2, d["track_id"])


def test_anchored_three_minute_reporter_is_one_live_track_for_an_hour() -> None:
    tracker = Tracker()
    ids, statuses = set(), []
    for k in range(21):  # every 3 min for an hour, at anchor (status 1), ITU-R M.1371 class A
        t = T0 + 180.0 * k
        lines = tracker.update([make_ais(563000001, t, 1.25, 103.8, 0.1, 200.0, nav_status=1)])
        lines += tracker.advance(t + 179.0)
        ids |= {x.track_id for x in lines}
        statuses += [x.status for x in lines] + [x.status for x in tracker.snapshot(t + 179.0)]
    assert len(ids) == 1 and set(statuses) == {"confirmed"}


def test_satellite_reporter_heard_hours_apart_keeps_one_track() -> None:
    tracker = Tracker()
    ids = set()
    lat = 10.0
    for k in range(4):  # one report a pass, 90 min apart, 12 kn due north (about 0.3° a pass)
        lines = tracker.update([make_ais(477000002, T0 + 5400.0 * k, lat, 114.0, 12.0, 0.0)])
        lines += tracker.advance(T0 + 5400.0 * k + 5000.0)
        ids |= {x.track_id for x in lines}
        lat += 12.0 * 1852.0 * 1.5 / 111_320.0
    assert len(ids) == 1


def test_mmsi_reheard_where_it_cannot_have_got_starts_a_new_track() -> None:
    tracker = Tracker()
    first = tracker.update([make_ais(477000003, T0, 10.0, 114.0, 12.0, 0.0)])
    tracker.advance(T0 + 3600.0)
    again = tracker.update([make_ais(477000003, T0 + 3700.0, 10.0, 124.0, 12.0, 0.0)])  # 1100 km in 1 h
    assert first[0].track_id != again[0].track_id


def test_first_report_far_beyond_its_receiver_waits_for_a_second() -> None:
    tracker = Tracker({"AIS1": Sensor("AIS1", "ais", 1.0, 104.0, range_m=40_000)})
    assert tracker.update([make_ais(548000124, T0, 10.0, 114.0, 10.0, 0.0)]) == []
    (line,) = tracker.update([make_ais(548000124, T0 + 10, 10.0009, 114.0, 10.0, 0.0)])
    assert line.status == "confirmed" and line.reports == 2
