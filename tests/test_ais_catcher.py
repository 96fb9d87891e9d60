"""AIS-catcher's JSON output as an integrator sends it: decoded through the NMEA path, with the
receiver's time, signal power and frequency offset kept."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ingest.ais import AisDecoder

# the example printed in AIS-catcher's documentation (console output, ``-o 5``): AIS-catcher's
# own decode of the sentence is the independent reference for ours
DOC_EXAMPLE = ('{"class":"AIS","device":"AIS-catcher","rxtime":"20220729191610","scaled":true,"channel":"B",'
               '"nmea":["!AIVDM,1,1,,B,33L=LN051HQj3HhRJd7q1W=`0000,0*03"],"signalpower":-44.0,"ppm":0.000000,'
               '"type":3,"repeat":0,"mmsi":230907000,"status":0,"status_text":"Under way using engine","turn":18,'
               '"speed":8.800000,"accuracy":true,"lon":24.915239,"lat":60.148106,"course":231.000000,'
               '"heading":230,"second":52,"maneuver":0,"raim":false,"radio":0}')


def test_the_documented_example_decodes_as_ais_catcher_decoded_it():
    (obs,), rejects = AisDecoder("AISC-1").feed(DOC_EXAMPLE, 1)
    ref = json.loads(DOC_EXAMPLE)
    assert rejects == []
    assert obs.mmsi == ref["mmsi"] and obs.msg_type == ref["type"]
    assert (obs.lat, obs.lon) == pytest.approx((ref["lat"], ref["lon"]), abs=2e-6)
    assert obs.sog_kn == pytest.approx(ref["speed"]) and obs.cog_deg == pytest.approx(ref["course"])
    assert obs.time_s == 1659122170.0  # 2022-07-29T19:16:10Z, from rxtime
    assert (obs.signal_db, obs.ppm) == (-44.0, 0.0)


def test_unix_time_wins_and_multi_fragment_messages_assemble():
    from pyais import encode_dict
    parts = encode_dict({"type": 5, "mmsi": 548123456, "shipname": "LADY M", "ship_type": 70,
                         "callsign": "DUA1"}, talker_id="AI")
    line = json.dumps({"class": "AIS", "rxuxtime": 1795000000.25, "rxtime": "20000101000000", "nmea": parts,
                       "signalpower": -71.5, "ppm": 2.4})
    (obs,), rejects = AisDecoder("AISC-1").feed(line, 1)
    assert rejects == [] and obs.name == "LADY M" and obs.time_s == 1795000000.25 and obs.ppm == 2.4


@pytest.mark.parametrize("line, reason", [
    pytest.param('{"class": "AIS", "nmea": []}', "nmea", id="no-sentences"),
    pytest.param('{"kind": "plot", "lat": 1}', "AIS-catcher", id="radar-json-on-ais-feed"),
    pytest.param('{"class": "AIS", "rxtime": "20221399000000", "nmea": ["!AIVDM,1,1,,B,x,0*00"]}', "rxtime",
                 id="bad-rxtime"),
    pytest.param('{"class": "AIS", "rxuxtime": 1, "nmea": ["!AIVDM,1,1,,B,33L=LN051HQj3HhRJd7q1W=`0000,0*13"]}',
                 "checksum", id="bad-checksum-inside"),
    pytest.param('{"class": "AIS", "nmea": ', "invalid JSON", id="torn"),
])
def test_bad_lines_get_reasons(line, reason):
    obs, rejects = AisDecoder("AISC-1").feed(line, 7)
    assert obs == [] and len(rejects) == 1 and reason in rejects[0].reason and rejects[0].line_no == 7


def test_mfc_fuse_reads_an_ais_catcher_file(tmp_path):
    feed = tmp_path / "catcher.json"
    later = DOC_EXAMPLE.replace('"rxtime":"20220729191610"', '"rxtime":"20220729191620"')
    feed.write_text(DOC_EXAMPLE + "\n" + later + "\n")
    tracks, alerts = tmp_path / "t.jsonl", tmp_path / "a.jsonl"
    subprocess.run([sys.executable, "-m", "mfc", "fuse", str(feed), "--tracks-out", str(tracks),
                    "--alerts-out", str(alerts)], check=True, capture_output=True)
    mmsis = {json.loads(x)["mmsi"] for x in tracks.read_text().splitlines()}
    assert 230907000 in mmsis
