"""AIS NMEA decoder: framing, time sources, reassembly, field mapping, real captures.

Expected values come from the values we encode with ``pyais.encode_dict``, from an
independent 6-bit decoder written here (``_bits``/``_uint``/``_sint``/``_text``,
following ITU-R M.1371 / the gpsd AIVDM description), or from hand reasoning.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import pyais
import pytest
from pyproj import Geod

from fusion.model import Observation, Sensor
from ingest.ais import AisDecoder, decode_file_lines
from ingest.errors import Reject

DATA = Path(__file__).parent / "data"
T0 = 1732435200.0  # 2024-11-24T08:00:00Z


# -- builders --------------------------------------------------------------------------------

def xor_cs(body: str) -> str:
    value = 0
    for char in body:
        value ^= ord(char)
    return f"{value:02X}"


def tag(body: str) -> str:
    return f"\\{body}*{xor_cs(body)}\\"


def nmea(body: str, delimiter: str = "!") -> str:
    return f"{delimiter}{body}*{xor_cs(body)}"


def enc(msg_type: int = 1, talker: str = "AI", kind: str = "VDM", channel: str = "A",
        seq_id: int | None = None, **fields: object) -> list[str]:
    data = {"type": msg_type, "mmsi": 563012345, **fields}
    return pyais.encode_dict(data, talker_id=talker, sentence_type=kind,
                             radio_channel=channel, seq_id=seq_id)


def pos(**fields: object) -> str:
    base = {"lat": 1.25, "lon": 103.8, "speed": 12.3, "course": 45.6, "heading": 44,
            "status": 0, "accuracy": 1}
    return enc(1, **{**base, **fields})[0]


def run(lines: list[str], decoder: AisDecoder | None = None,
        receipt: float | None = None) -> tuple[list[Observation], list[Reject]]:
    decoder = decoder or AisDecoder()
    obs: list[Observation] = []
    rejects: list[Reject] = []
    for n, line in enumerate(lines, start=1):
        o, r = decoder.feed(line, n, receipt)
        obs += o
        rejects += r
    return obs, rejects + decoder.flush()


def split_payload(sentences: list[str], parts: int, seq: str = "3") -> list[str]:
    """Re-split an encoded multi-fragment message into `parts` sentences (own checksums)."""
    fields = [s.split("*")[0].split(",") for s in sentences]
    payload, fill = "".join(f[5] for f in fields), fields[-1][6]
    size = math.ceil(len(payload) / parts)
    chunks = [payload[i:i + size] for i in range(0, len(payload), size)]
    assert len(chunks) == parts
    return [nmea(f"AIVDM,{parts},{i},{seq},A,{c},{fill if i == parts else 0}")
            for i, c in enumerate(chunks, start=1)]


# -- independent 6-bit decoder (for real captures) ---------------------------------------------

def _bits(payload: str, fill: int = 0) -> str:
    out = []
    for char in payload:
        value = ord(char) - 48
        out.append(format(value - 8 if value > 40 else value, "06b"))
    bits = "".join(out)
    return bits[: len(bits) - fill]


def _uint(bits: str, start: int, n: int) -> int:
    return int(bits[start:start + n], 2)


def _sint(bits: str, start: int, n: int) -> int:
    value = _uint(bits, start, n)
    return value - (1 << n) if value >> (n - 1) else value


def _text(bits: str, start: int, n: int) -> str | None:
    chars = [_uint(bits, i, 6) for i in range(start, start + n, 6)]
    text = "".join(chr(c + 64) if c < 32 else chr(c) for c in chars)
    return " ".join(text.replace("@", " ").split()) or None


def _feed_live(path: Path) -> tuple[list[str], list[Observation], list[Reject]]:
    lines = path.read_text().splitlines()
    decoder = AisDecoder(live=True)
    obs, rejects = run(lines, decoder, receipt=T0)
    return lines, obs, rejects


# -- time sources ------------------------------------------------------------------------------

def _pghp(ms: int) -> str:
    return nmea(f"PGHP,1,2024,11,24,8,0,0,{ms},338,2,,1,09", "$")


@pytest.mark.parametrize(("lines", "expected", "station"), [
    pytest.param([tag("s:rcv1,c:1732435200") + pos()], T0, "rcv1", id="tag-block-seconds"),
    pytest.param([tag("c:1732435200500,s:rcv2") + pos()], T0 + 0.5, "rcv2", id="tag-block-ms"),
    pytest.param(["2024-11-24T08:00:00Z " + pos()], T0, None, id="iso-z"),
    pytest.param(["2024-11-24T08:00:00.250Z " + pos()], T0 + 0.25, None, id="iso-fraction"),
    pytest.param(["2024-11-24T08:00:00+00:00 " + pos()], T0, None, id="iso-plus-zero"),
    pytest.param(["2024-11-24T15:00:00+07:00 " + pos()], T0, None, id="iso-offset"),
    pytest.param(["2024-11-24 08:00:00 " + pos()], T0, None, id="iso-space-no-zone"),
    pytest.param(["2024-11-24T08:00:00 " + pos()], T0, None, id="iso-no-zone-is-utc"),
    pytest.param(["1732435200.5 " + pos()], T0 + 0.5, None, id="epoch-leading"),
    pytest.param(["1732435200 " + tag("s:x") + pos()], T0, "x", id="epoch-before-tag-block"),
    pytest.param([pos() + ",1732435200250"], T0 + 0.25, None, id="trailing-epoch-ms"),
    pytest.param([_pghp(750), pos()], T0 + 0.75, None, id="pghp-line-before"),
    pytest.param(["1732435100 " + tag("c:1732435200") + pos()], T0, None, id="tag-beats-prefix"),
    pytest.param(["1732435200 " + pos() + ",1732435999000"], T0, None, id="prefix-beats-trailing"),
    pytest.param([_pghp(750), tag("c:1732435200") + pos()], T0, None, id="tag-beats-pghp"),
])
def test_time_sources(lines: list[str], expected: float, station: str | None) -> None:
    obs, rejects = run(lines)
    assert rejects == []
    assert len(obs) == 1
    assert obs[0].time_s == pytest.approx(expected, abs=1e-6)
    assert obs[0].station == station


def test_pghp_applies_to_the_next_line_only() -> None:
    obs, rejects = run(["1732435000 " + pos(), _pghp(0), pos(), pos()])
    assert rejects == []
    assert [o.time_s for o in obs] == [1732435000.0, T0, T0]  # third: last time seen


def test_no_time_rejected_then_last_time_used() -> None:
    obs, rejects = run([pos(), "1732435200 " + pos(), pos(mmsi=1)])
    assert [r.line_no for r in rejects] == [1]
    assert rejects[0].reason == "no timestamp and no earlier time in this feed"
    assert [o.time_s for o in obs] == [T0, T0]


def test_live_mode_uses_receipt_time_but_prefers_line_time() -> None:
    decoder = AisDecoder(live=True)
    o1, r1 = decoder.feed(pos(), 1, receipt_time_s=T0 + 7)
    o2, r2 = decoder.feed("1732435200 " + pos(), 2, receipt_time_s=T0 + 9)
    assert r1 == r2 == []
    assert (o1[0].time_s, o1[0].receive_time_s) == (T0 + 7, T0 + 7)
    assert (o2[0].time_s, o2[0].receive_time_s) == (T0, T0 + 9)


def test_receipt_time_recorded_in_replay_mode() -> None:
    obs, _ = run(["1732435200 " + pos()], receipt=T0 + 3)
    assert obs[0].time_s == T0 and obs[0].receive_time_s == T0 + 3


def test_group_tag_block_carries_time_to_later_fragments() -> None:
    f1, f2 = enc(5, seq_id=4, shipname="BINH MINH 09", callsign="3WXY", imo=9234567, ship_type=70)
    lines = ["1700000000 " + pos(),  # an earlier time that must not be used
             tag("g:1-2-4242,s:rcv9,c:1732435200") + f1, tag("g:2-2-4242") + f2]
    obs, rejects = run(lines)
    assert rejects == []
    static = obs[1]
    assert (static.kind, static.time_s, static.station, static.name) == ("ais_static", T0, "rcv9",
                                                                        "BINH MINH 09")


def test_later_fragment_without_station_joins_its_message() -> None:
    f1, f2 = enc(5, seq_id=4, shipname="NO TAG LATER")
    obs, rejects = run([tag("s:rcv3,c:1732435200") + f1, f2])
    assert rejects == [] and (obs[0].name, obs[0].station, obs[0].time_s) == ("NO TAG LATER", "rcv3", T0)


def test_same_sequence_id_from_two_stations_interleaved() -> None:
    a = enc(5, seq_id=1, mmsi=533000001, shipname="FROM ONE")
    b = enc(5, seq_id=1, mmsi=533000002, shipname="FROM TWO")
    lines = [tag("s:one,c:1732435200") + a[0], tag("s:two,c:1732435201") + b[0],
             tag("s:one") + a[1], tag("s:two") + b[1]]
    obs, rejects = run(lines)
    assert rejects == []
    assert [(o.station, o.name, o.time_s) for o in obs] == [("one", "FROM ONE", T0),
                                                            ("two", "FROM TWO", T0 + 1)]


def test_group_tag_block_over_two_single_sentences() -> None:
    lines = [tag("g:1-2-77,s:r1,c:1732435200") + pos(), tag("g:2-2-77") + pos(mmsi=563000001)]
    obs, rejects = run(lines)
    assert rejects == []
    assert [(o.time_s, o.station) for o in obs] == [(T0, "r1"), (T0, "r1")]


# -- framing and garbage -----------------------------------------------------------------------

def test_bad_checksum_rejected_neighbours_decode() -> None:
    good = pos()
    body = good[1:good.index("*")]
    bad = good[:-2] + ("00" if xor_cs(body) != "00" else "01")
    obs, rejects = run(["1732435200 " + good, "1732435201 " + bad, "1732435202 " + good])
    assert [o.time_s for o in obs] == [T0, T0 + 2]
    assert len(rejects) == 1 and rejects[0].line_no == 2
    assert rejects[0].reason == f"bad checksum: computed {xor_cs(body)}, sentence says {bad[-2:]}"


PAYLOAD_96 = "15M67FC000G?ufbE`FepT@3n"  # 24 chars = 144 bits, fill 0


@pytest.mark.parametrize(("line", "reason"), [
    pytest.param(nmea("=IVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00000,0"), "malformed sentence address",
                 id="bad-talker"),
    pytest.param(pos()[:30], "missing checksum", id="truncated"),
    pytest.param(nmea("AIVDM,1,1,,A,,0"), "empty payload", id="empty-payload"),
    pytest.param(nmea("AIVDM,1,1,,A,15M67FC000G?ufbE~FepT@3n0000,0"), "invalid character '~' at position 17",
                 id="bad-payload-char"),
    pytest.param(nmea(f"AIVDM,1,1,,A,{PAYLOAD_96},0"), "payload is 144 bits, type 1 needs 168",
                 id="short-type-1"),
    pytest.param(nmea("AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n0000,7"), "bad fill bits '7'", id="bad-fill"),
    pytest.param(nmea("AIVDM,1,1,A,15M67FC000G?ufbE`FepT@3n0000,0"), "expected 7 fields", id="missing-field"),
    pytest.param(nmea("AIVDM,1,2,,A,15M67FC000G?ufbE`FepT@3n0000,0"), "bad fragment number '2'",
                 id="fragment-beyond-count"),
    pytest.param(nmea("AIVDM,x,1,,A,15M67FC000G?ufbE`FepT@3n0000,0"), "bad fragment count 'x'",
                 id="bad-count"),
    pytest.param("IamNotAnAisMessage1111", "not an NMEA sentence", id="not-nmea"),
    pytest.param("yesterday " + pos(), "bad leading timestamp 'yesterday'", id="bad-prefix"),
    pytest.param("\\c:1732435200" + pos(), "unterminated tag block", id="tag-unterminated"),
    pytest.param(tag("c:abc") + pos(), "bad tag block time 'c:abc'", id="tag-bad-time"),
    pytest.param(pos() + "xyz", "unexpected text after checksum", id="trailing-garbage"),
    pytest.param(pos()[:-2] + "ZZ", "bad checksum field", id="checksum-not-hex"),
    pytest.param(nmea("PGHP,1,2024,13,24,8,0,0,0,338,2,,1,09", "$"), "bad PGHP time", id="pghp-bad-date"),
])
def test_garbage_rejected_with_reason(line: str, reason: str) -> None:
    decoder = AisDecoder()
    decoder.last_time_s = T0
    obs, rejects = decoder.feed(line, 5)
    assert obs == []
    assert len(rejects) == 1 and rejects[0].line_no == 5 and rejects[0].line == line
    assert reason in rejects[0].reason


@pytest.mark.parametrize("line", [
    pytest.param("", id="empty"),
    pytest.param("   \t", id="whitespace"),
    pytest.param("# a comment", id="comment"),
    pytest.param(nmea("GPGGA,080000,0115.000,N,10348.000,E,1,08,0.9,5.0,M,,,,", "$"), id="gpgga"),
    pytest.param("$GPRMC,garbage without checksum", id="other-dollar-unchecked"),
    pytest.param(enc(4, year=2024, month=11, day=24, hour=8, lon=103.8, lat=1.25)[0], id="type-4"),
    pytest.param(pos(lat=91, lon=181), id="position-not-available"),
    pytest.param(pos(lat=91), id="lat-not-available"),
])
def test_silently_ignored(line: str) -> None:
    decoder = AisDecoder()
    decoder.last_time_s = T0
    assert decoder.feed(line, 1) == ([], [])


@pytest.mark.parametrize("talker_kind", ["AIVDM", "AIVDO", "BSVDM", "ABVDM", "SAVDM"])
def test_any_talker(talker_kind: str) -> None:
    line = enc(1, talker=talker_kind[:2], kind=talker_kind[2:], lat=1.5, lon=104.0)[0]
    assert line.startswith("!" + talker_kind)
    obs, rejects = run(["1732435200 " + line])
    assert rejects == [] and (obs[0].lat, obs[0].lon) == (1.5, 104.0)


# -- message types and fields ------------------------------------------------------------------

def test_type_1_round_trip() -> None:
    obs, _ = run(["1732435200 " + pos(status=5, accuracy=0)], AisDecoder(sensor_id="MY-AIS"))
    o = obs[0]
    assert (o.kind, o.sensor_id, o.mmsi, o.ais_class, o.msg_type) == ("ais_position", "MY-AIS",
                                                                       563012345, "A", 1)
    assert (o.lat, o.lon, o.sog_kn, o.cog_deg, o.heading_deg, o.nav_status) == (
        1.25, 103.8, 12.3, 45.6, 44.0, 5)
    assert o.sigma_m == 30.0  # accuracy flag 0


@pytest.mark.parametrize("msg_type", [1, 2, 3])
def test_not_available_values_become_none(msg_type: int) -> None:
    line = enc(msg_type, lat=1.0, lon=104.0, speed=102.3, course=360, heading=511, status=15)[0]
    obs, rejects = run(["1732435200 " + line])
    assert rejects == []
    o = obs[0]
    assert (o.sog_kn, o.cog_deg, o.heading_deg, o.nav_status) == (None, None, None, None)
    assert (o.lat, o.lon) == (1.0, 104.0)


def test_invalid_heading_becomes_none() -> None:
    obs, _ = run(["1732435200 " + pos(heading=480)])
    assert obs[0].heading_deg is None


def test_type_18_class_b() -> None:
    line = enc(18, lat=-6.1, lon=106.8, speed=6.4, course=270.5, heading=511, accuracy=1)[0]
    obs, rejects = run(["1732435200 " + line])
    assert rejects == []
    o = obs[0]
    assert (o.kind, o.ais_class, o.msg_type, o.lat, o.lon) == ("ais_position", "B", 18, -6.1, 106.8)
    assert (o.sog_kn, o.cog_deg, o.heading_deg, o.nav_status, o.sigma_m) == (6.4, 270.5, None, None, 10.0)


def test_type_19_class_b_extended() -> None:
    line = enc(19, lat=13.5, lon=100.9, speed=3.2, course=10.0, heading=12,
               shipname="SRI NAKHON@@@", ship_type=30)[0]
    obs, rejects = run(["1732435200 " + line])
    assert rejects == []
    o = obs[0]
    assert (o.kind, o.ais_class, o.name, o.ship_type, o.lat, o.lon, o.heading_deg) == (
        "ais_position", "B", "SRI NAKHON", 30, 13.5, 100.9, 12.0)


def test_type_24_parts() -> None:
    a = enc(24, partno=0, shipname="KAPAL KECIL")[0]
    b = enc(24, partno=1, ship_type=37, callsign="9MAB1")[0]
    obs, rejects = run(["1732435200 " + a, "1732435201 " + b])
    assert rejects == []
    assert [(o.kind, o.ais_class, o.name, o.ship_type, o.callsign) for o in obs] == [
        ("ais_static", "B", "KAPAL KECIL", None, None), ("ais_static", "B", None, 37, "9MAB1")]


def test_type_27_long_range() -> None:
    line = enc(27, lat=5.5, lon=115.25, speed=63, course=511, accuracy=0, status=0)[0]
    obs, rejects = run(["1732435200 " + line])
    assert rejects == []
    o = obs[0]
    assert (o.kind, o.msg_type, o.lat, o.lon, o.sog_kn, o.cog_deg, o.nav_status) == (
        "ais_position", 27, 5.5, 115.25, None, None, 0)


def test_type_5_two_fragments() -> None:
    frags = enc(5, seq_id=1, shipname="HAI PHONG 01", callsign="3WAB", imo=9123456, ship_type=70)
    assert len(frags) == 2
    obs, rejects = run(["1732435200 " + frags[0], frags[1]])
    assert rejects == []
    o = obs[0]
    assert (o.kind, o.ais_class, o.mmsi, o.name, o.callsign, o.imo, o.ship_type, o.time_s) == (
        "ais_static", "A", 563012345, "HAI PHONG 01", "3WAB", 9123456, 70, T0)


def test_type_5_interleaved_messages() -> None:
    a = enc(5, seq_id=1, mmsi=533000001, shipname="ALPHA", callsign="AAA1")
    b = enc(5, seq_id=2, mmsi=533000002, shipname="BRAVO", callsign="BBB2")
    c = enc(5, seq_id=1, channel="B", mmsi=533000003, shipname="CHARLIE", callsign="CCC3")
    lines = ["1732435200 " + a[0], b[0], c[0], b[1], a[1], c[1]]
    obs, rejects = run(lines)
    assert rejects == []
    assert sorted((o.mmsi, o.name, o.callsign) for o in obs) == [
        (533000001, "ALPHA", "AAA1"), (533000002, "BRAVO", "BBB2"), (533000003, "CHARLIE", "CCC3")]


def test_three_fragments_reassembled() -> None:
    lines = split_payload(enc(5, seq_id=3, shipname="THREE PARTS", imo=9000001), 3)
    obs, rejects = run(["1732435200 " + lines[0], *lines[1:]])
    assert rejects == [] and (obs[0].name, obs[0].imo) == ("THREE PARTS", 9000001)


def test_fragment_out_of_order_and_missing() -> None:
    f1, f2, f3 = split_payload(enc(5, seq_id=3, shipname="X"), 3)
    obs, rejects = run(["1732435200 " + f1, f3])
    assert obs == []
    reasons = {r.line_no: r.reason for r in rejects}
    assert reasons == {1: "incomplete multi-fragment message: got 1 of 3 fragments",
                       2: "out-of-order fragment: expected fragment 2 of 3, got 3"}


def test_later_fragment_without_first() -> None:
    f1, f2 = enc(5, seq_id=6, shipname="LATE")
    obs, rejects = run(["1732435200 " + f2])
    assert obs == [] and "fragment 2 of 2 without the earlier fragments" in rejects[0].reason


def test_restarted_message_rejects_the_incomplete_one() -> None:
    f1, f2 = enc(5, seq_id=2, shipname="AGAIN")
    obs, rejects = run(["1732435200 " + f1, f1, f2])
    assert [o.name for o in obs] == ["AGAIN"]
    assert [(r.line_no, r.reason) for r in rejects] == [
        (1, "incomplete multi-fragment message: got 1 of 2 fragments")]


def test_flush_rejects_leftover_fragment() -> None:
    f1, _ = enc(5, seq_id=2, shipname="LEFT")
    decoder = AisDecoder()
    assert decoder.feed("1732435200 " + f1, 9) == ([], [])
    assert decoder.flush() == [Reject(9, "1732435200 " + f1,
                                      "incomplete multi-fragment message: got 1 of 2 fragments")]
    assert decoder.flush() == []


@pytest.mark.parametrize(("fields", "reason"), [
    pytest.param({"lat": 95.2, "lon": 100.0}, "impossible coordinates lat=95.2, lon=100", id="lat-95"),
    pytest.param({"lat": 10.0, "lon": -190.0}, "impossible coordinates lat=10, lon=-190", id="lon-190"),
    pytest.param({"mmsi": 0}, "MMSI 0 is not a valid identity", id="mmsi-0"),
])
def test_invalid_content_rejected(fields: dict[str, object], reason: str) -> None:
    obs, rejects = run(["1732435200 " + pos(**fields)])
    assert obs == [] and len(rejects) == 1
    assert rejects[0].reason.startswith(reason)


def test_mmsi_kept_as_is() -> None:
    obs, _ = run(["1732435200 " + pos(mmsi=123)])
    assert obs[0].mmsi == 123


def test_decode_file_lines_numbers_and_flush() -> None:
    f1, _ = enc(5, seq_id=2, shipname="LEFT")
    lines = ["# header\n", "1732435200 " + pos() + "\n", "junk\n", f1 + "\n"]
    items = list(decode_file_lines(lines, sensor_id="S1"))
    assert [(n, type(x).__name__) for n, x in items] == [(2, "Observation"), (3, "Reject"),
                                                         (4, "Reject")]
    assert items[0][1].sensor_id == "S1"  # type: ignore[union-attr]
    assert items[2][1].reason.startswith("incomplete multi-fragment")  # type: ignore[union-attr]


# -- ARPA TTM / TLL ----------------------------------------------------------------------------

RADAR = Sensor(id="VN-CGS-1", kind="radar", lat=10.0, lon=107.0, range_m=50_000,
               accuracy_m=40, range_sigma_m=30, bearing_sigma_deg=0.5)


def test_tll_time_of_day_on_date_of_last_time() -> None:
    tll = nmea("RATLL,07,1015.500,N,10730.000,E,TGT7,080003.20,T,", "$")
    obs, rejects = run(["1732435100 " + pos(), tll], AisDecoder(sensor_id="VN-CGS-1"))
    assert rejects == []
    o = obs[1]
    assert (o.kind, o.local_id, o.sensor_id) == ("radar_track", "7", "VN-CGS-1")
    assert o.lat == pytest.approx(10 + 15.5 / 60) and o.lon == pytest.approx(107.5)
    assert o.time_s == pytest.approx(T0 + 3.2)


def test_tll_midnight_rollover_and_south_west() -> None:
    tll = nmea("RATLL,3,0130.000,S,00100.000,W,,000001.00,T,", "$")
    obs, rejects = run(["2024-11-24T23:59:59Z " + pos(), tll])
    assert rejects == []
    assert obs[1].time_s == datetime(2024, 11, 25, 0, 0, 1, tzinfo=timezone.utc).timestamp()
    assert (obs[1].lat, obs[1].lon) == (pytest.approx(-1.5), pytest.approx(-1.0))


def test_tll_without_any_date_rejected() -> None:
    obs, rejects = run([nmea("RATLL,3,0130.000,N,10400.000,E,,000001.00,T,", "$")])
    assert obs == [] and "no earlier time in this feed" in rejects[0].reason


def test_ttm_polar_from_registered_sensor() -> None:
    ttm = nmea("RATTM,12,5.0,90.0,T,10.0,45.0,T,0.5,3.0,N,TGT12,T,,080003.00,A", "$")
    decoder = AisDecoder(sensor_id="VN-CGS-1", sensors={"VN-CGS-1": RADAR})
    obs, rejects = run(["1732435200 " + ttm], decoder)
    assert rejects == []
    o = obs[0]
    range_m = 5 * 1852.0
    lon, lat, _ = Geod(ellps="WGS84").fwd(107.0, 10.0, 90.0, range_m)  # independent reference: pyproj
    assert (o.lat, o.lon) == (pytest.approx(lat, abs=1e-8), pytest.approx(lon, abs=1e-8))  # 1 mm
    assert o.lat < 10.0 and o.lon - 107.0 == pytest.approx(0.08446, abs=1e-5)  # due east: bends south
    assert (o.local_id, o.sog_kn, o.cog_deg, o.time_s) == ("12", 10.0, 45.0, T0 + 3.0)
    assert o.sigma_m == pytest.approx(range_m * math.radians(0.5))  # 80.8 m > 30 m range sigma


@pytest.mark.parametrize(("line", "sensors", "reason"), [
    pytest.param(nmea("RATTM,12,5.0,90.0,T,10.0,45.0,T,0.5,3.0,N,TGT,T,,,A", "$"), None,
                 "TTM needs a registered sensor position", id="no-sensor"),
    pytest.param(nmea("RATTM,12,5.0,90.0,R,10.0,45.0,T,0.5,3.0,N,TGT,T,,,A", "$"), {"R": RADAR},
                 "bearing reference 'R' not supported", id="relative-bearing"),
    pytest.param(nmea("RATLL,3,9530.000,N,10400.000,E,,,T,", "$"), None,
                 "TLL impossible coordinate", id="tll-lat-95"),
    pytest.param(nmea("RATLL,3,0130.000,X,10400.000,E,,,T,", "$"), None,
                 "TLL bad coordinate", id="tll-bad-hemisphere"),
])
def test_arpa_rejects(line: str, sensors: dict[str, Sensor] | None, reason: str) -> None:
    decoder = AisDecoder(sensor_id="R", sensors=sensors)
    decoder.last_time_s = T0
    obs, rejects = decoder.feed(line, 1)
    assert obs == [] and reason in rejects[0].reason


def test_ttm_lost_target_ignored() -> None:
    decoder = AisDecoder(sensor_id="R", sensors={"R": RADAR})
    decoder.last_time_s = T0
    line = nmea("RATTM,12,5.0,90.0,T,10.0,45.0,T,0.5,3.0,N,TGT,L,,,A", "$")
    assert decoder.feed(line, 1) == ([], [])


# -- real captured sentences (tests/data, see README.md there) ---------------------------------

def test_gpsd_reference_example() -> None:
    # gpsd "AIVDM/AIVDO protocol decoding" worked example: MMSI 477553000, 47.582833 N 122.345832 W
    line = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
    obs, rejects = run(["1732435200 " + line])
    assert rejects == []
    assert obs[0].mmsi == 477553000
    assert (obs[0].lat, obs[0].lon) == (pytest.approx(47.582833, abs=1e-6),
                                        pytest.approx(-122.345832, abs=1e-6))


def test_real_mixed_types_decode_and_match_independent_decoder() -> None:
    lines, obs, rejects = _feed_live(DATA / "gfw_mixed_types.nmea")
    assert len(rejects) <= 0.1 * len(lines)
    assert all(r.reason for r in rejects)
    by_mmsi = {o.mmsi: o for o in obs if o.kind == "ais_position"}
    checked = 0
    for line in lines:
        fields = line.split(",")
        bits = _bits(fields[5], int(fields[6][0]))
        msg_type = _uint(bits, 0, 6)
        if fields[1] != "1" or msg_type not in (1, 2, 3, 18) or len(bits) != 168:
            continue
        lon_at, lat_at = (61, 89) if msg_type < 4 else (57, 85)
        lat, lon = _sint(bits, lat_at, 27) / 600000, _sint(bits, lon_at, 28) / 600000
        o = by_mmsi[_uint(bits, 8, 30)]
        assert (o.lat, o.lon) == (pytest.approx(lat, abs=1e-6), pytest.approx(lon, abs=1e-6))
        checked += 1
    assert checked >= 15


def test_real_multi_part_type_5_names() -> None:
    lines, obs, rejects = _feed_live(DATA / "gfw_multi_part.nmea")
    assert rejects == []
    expected = []
    for first, second in zip(lines, lines[1:]):
        f1, f2 = first.split(","), second.split(",")
        if f1[1] == "2" and f1[2] == "1" and f1[5][0] == "5" and f2[2] == "2":
            bits = _bits(f1[5] + f2[5], int(f2[6][0]))
            expected.append((_uint(bits, 8, 30), _text(bits, 112, 120), _text(bits, 70, 42)))
    assert len(expected) == 10
    assert [(o.mmsi, o.name, o.callsign) for o in obs] == expected


def test_real_long_payloads_decoded_with_a_warning() -> None:
    # 186-bit type 1/3 reports (the type needs 168): decoded like the field does, the 18
    # spare bits ignored, each line counted as a warning
    lines = (DATA / "gfw_type1_bad_bitcount.nmea").read_text().splitlines()
    decoder = AisDecoder(live=True)
    obs, rejects = run(lines, decoder, receipt=T0)
    warnings = decoder.take_warnings()
    assert rejects == [] and len(obs) == len(lines) == len(warnings)
    for line, o, warning in zip(lines, obs, warnings):
        payload = line[line.index("!"):].split(",")[5]
        bits = _bits(payload)
        assert warning.reason == (f"payload is {len(bits)} bits, type {_uint(bits, 0, 6)} needs 168: "
                                  f"{len(bits) - 168} spare bits ignored")
        assert o.mmsi == _uint(bits, 8, 30)
        assert (o.lat, o.lon) == (pytest.approx(_sint(bits, 89, 27) / 600000, abs=1e-6),
                                  pytest.approx(_sint(bits, 61, 28) / 600000, abs=1e-6))


def test_real_error_file() -> None:
    lines, obs, rejects = _feed_live(DATA / "gfw_errors.nmea")
    # lines 2 and 4 have wrong sentence checksums: rejects; 1 and 3 are over-long type 3 and
    # type 1 payloads: decoded with a warning
    assert [r.line_no for r in rejects] == [2, 4]
    for reject in rejects:
        sentence = reject.line[reject.line.index("!"):]
        body, stated = sentence[1:].split("*")
        assert xor_cs(body) != stated
        assert reject.reason == f"bad checksum: computed {xor_cs(body)}, sentence says {stated}"
    assert len(obs) == 3 and obs[-1].station == "rMT694" and obs[-1].time_s == 1699401978.0


def test_real_tag_block_ms_and_fallback() -> None:
    items = list(decode_file_lines((DATA / "gfw_sample.nmea").read_text().splitlines()))
    obs = [x for _, x in items]
    assert all(isinstance(o, Observation) for o in obs) and len(obs) == 2
    assert [o.time_s for o in obs] == [1577762601.537, 1577762601.537]  # type: ignore[union-attr]
    assert obs[0].station == "sdr-experiments" and obs[1].station is None  # type: ignore[union-attr]


def test_real_gatehouse_pghp() -> None:
    items = list(decode_file_lines((DATA / "pyais_timestamped.ais").read_text().splitlines()))
    rejects = [(n, x.reason) for n, x in items if isinstance(x, Reject)]
    times = [(n, x.time_s) for n, x in items if isinstance(x, Observation)]
    t2008 = datetime(2008, 5, 9, 0, 0, 0, 10_000, tzinfo=timezone.utc).timestamp()
    # line 7's PGHP has a wrong checksum (XOR of its body is 16, it says 17)
    assert rejects == [(7, "bad checksum: computed 16, sentence says 17")]
    assert times == [(2, t2008), (6, t2008), (8, t2008), (9, t2008)]


def test_real_pyais_sample_no_exceptions() -> None:
    items = list(decode_file_lines((DATA / "pyais_sample.ais").read_text().splitlines()))
    assert all(isinstance(x, Reject) and x.reason or isinstance(x, Observation) for _, x in items)
    reasons = {n: x.reason for n, x in items if isinstance(x, Reject)}
    assert reasons[10].startswith("not an NMEA sentence")
    assert reasons[12].startswith("bad tag block time 'c:12415440354'")
    assert reasons[2] == "no timestamp and no earlier time in this feed"
