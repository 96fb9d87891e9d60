"""Lines that carry two NMEA sentences, as real feeds sometimes write them: each sentence is
decoded on its own (its own checksum, its own verdict) and the line carries a warning; what comes
out is checked against pyais decoding the sentences separately."""

from __future__ import annotations

import time
from functools import reduce
from pathlib import Path

import pyais
import pytest

from ingest.ais import AisDecoder, decode_file_lines
from services.bus import topics
from services.bus.core import EmbeddedBus
from services.workers.ingest_service import IngestService

from .conftest import SENSORS

REAL = Path(__file__).parent / "data" / "real"
# position reports heard by AISHub receivers (pyais's tests/ais_test_messages, MIT)
AISHUB = [x for x in (REAL / "pyais_ais_test_messages.nmea").read_text().splitlines() if x.startswith("!AIVDM")]
A, B, C = AISHUB[0], AISHUB[1], AISHUB[2]


def tag(body: str) -> str:
    """A tag block with its checksum computed here (XOR of the characters)."""
    return f"\\{body}*{reduce(lambda x, c: x ^ ord(c), body, 0):02X}\\"


def pyais_fix(sentence: str) -> tuple[int, float, float, float]:
    m = pyais.decode(sentence).asdict()
    return m["mmsi"], m["lat"], m["lon"], m["speed"]


def ours(obs) -> tuple[int, float, float, float]:
    return obs.mmsi, obs.lat, obs.lon, obs.sog_kn


@pytest.mark.parametrize("line, times", [
    pytest.param(A + B, (1_700_000_000.0, 1_700_000_000.0), id="bare-sentences"),
    pytest.param(f"{tag('s:rcv1,c:1700000000')}{A}{tag('s:rcv1,c:1700000002')}{B}",
                 (1_700_000_000.0, 1_700_000_002.0), id="tag-blocked"),
    pytest.param(f"{tag('s:rcv1,c:1700000000')}{A}{B}", (1_700_000_000.0, 1_700_000_000.0),
                 id="tag-block-on-the-first-only"),
])
def test_each_sentence_of_a_line_is_decoded_as_pyais_decodes_it_alone(line, times):
    decoder = AisDecoder("AIS-T1")
    decoder.default_time_s = 1_700_000_000.0
    observations, rejects = decoder.feed(line, 1)
    assert rejects == []
    assert [ours(o) for o in observations] == [pytest.approx(pyais_fix(A)), pytest.approx(pyais_fix(B))]
    assert tuple(o.time_s for o in observations) == times
    assert decoder.last_sentences == 2
    (warning,) = decoder.take_warnings()
    assert warning.reason == "2 sentences on one line; each judged on its own"


def test_a_bad_checksum_rejects_only_its_own_sentence():
    bad = B[:-2] + ("00" if B[-2:] != "00" else "01")
    decoder = AisDecoder("AIS-T1")
    decoder.default_time_s = 1_700_000_000.0
    observations, rejects = decoder.feed(A + bad + C, 7)
    assert [ours(o) for o in observations] == [pytest.approx(pyais_fix(A)), pytest.approx(pyais_fix(C))]
    (reject,) = rejects
    assert reject.line_no == 7 and reject.reason.startswith("sentence 2 of 3: bad checksum: computed ")


def test_a_stray_mark_after_the_checksum_is_not_a_second_sentence():
    decoder = AisDecoder("AIS-T1")
    decoder.default_time_s = 1_700_000_000.0
    observations, (reject,) = decoder.feed(A + "!x", 1)
    assert observations == [] and reject.reason.startswith("unexpected text after checksum")


def test_the_real_spire_lines_two_fragments_on_one_line():
    """GFW's spire-test sample: line 1 holds both fragments of a type 5 (tag block checksums
    `*00`), line 2 the same with a second tag block whose group says 2 of 1."""
    got = list(decode_file_lines((REAL / "gfw_spire-test.nmea").read_text().splitlines(), "AIS-T1"))
    first = (REAL / "gfw_spire-test.nmea").read_text().splitlines()[0]
    s1, s2 = (first[first.index("!", i):] for i in (0, first.index("\\", first.index("*37"))))
    want = pyais.decode(s1[:s1.index("*") + 3], s2).asdict()
    (n1, static), (n2, bad_group), (n3, held) = got
    assert n1 == 1 and static.kind == "ais_static" and static.mmsi == want["mmsi"] == 2424139
    assert static.time_s == 1662052384.0 and static.station == "FM112"
    assert n2 == n3 == 2
    assert bad_group.reason == ("sentence 2 of 2: bad tag block group 'g:2-1-1' "
                                "(expected n-total-id with 1 <= n <= total)")
    assert held.reason == "incomplete multi-fragment message: got 1 of 2 fragments"


def test_the_ingest_verdict_gives_each_sentence_one_outcome():
    bus = EmbeddedBus()
    ingest = IngestService(bus, dict(SENSORS), time.time)
    lines = [A + B, "", C, f"{tag('s:rcv1')}{A}{B[:-2]}00"]
    v = ingest.ingest_ais("\n".join(lines), "AIS-T1").to_dict()
    assert (v["accepted"], v["rejected"], v["ignored"], v["extra_sentences"], v["warned"]) == (4, 1, 1, 2, 2)
    assert v["accepted"] + v["rejected"] - v["rejected_earlier"] + v["ignored"] == len(lines) + v["extra_sentences"]
    assert v["rejects"][0]["line_no"] == 4 and v["rejects"][0]["reason"].startswith("sentence 2 of 2: bad checksum")
    published = [o["mmsi"] for r in bus.consumer(topics.OBS, "t").poll(timeout_s=0.1) for o in topics.observations_in(r.value)]
    assert published == [pyais_fix(s)[0] for s in (A, B, C, A)]
    assert ingest.health["AIS-T1"]["warnings"] == 2


def test_a_line_whose_sentences_are_all_rejected_carries_no_warning():
    decoder = AisDecoder("AIS-T1")
    decoder.default_time_s = 1_700_000_000.0
    broken = [s[:-2] + ("00" if s[-2:] != "00" else "01") for s in (A, B)]
    observations, rejects = decoder.feed("".join(broken), 1)
    assert observations == [] and [r.reason[:19] for r in rejects] == ["sentence 1 of 2: ba", "sentence 2 of 2: ba"]
    assert decoder.take_warnings() == []
