"""mfc simulate and mfc score, driven as a user drives them (the command line), checked against
independent references: pyais decodes the feeds, pyproj measures the truth, Stone Soup's GOSPA
checks ours, and the scores of known answers (truth fed back, an empty run) are what they must be."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyais
import pytest
from pyais.encode import encode_dict
from pyproj import Geod

from services.scenario.gospa import gospa, gospa_pairs

MFC = [sys.executable, "-m", "mfc"]
GEOD = Geod(ellps="WGS84")


def mfc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*MFC, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def distress_run(tmp_path_factory) -> Path:
    """The built-in distress scenario, shortened, through mfc simulate and mfc fuse."""
    d = tmp_path_factory.mktemp("distress")
    r = mfc("simulate", "distress", "--out", d, "--quiet")
    assert r.returncode == 0, r.stderr
    r = mfc("fuse", d / "ais.nmea", d / "radar.jsonl", "--sensors", d / "sensors.json", "--tracks-out",
            d / "tracks.jsonl", "--alerts-out", d / "alerts.jsonl", "--sample-every", "60")
    assert r.returncode == 0, r.stderr
    return d


def test_list_names_the_built_in_scenarios():
    r = mfc("simulate", "--list")
    assert r.returncode == 0, r.stderr
    for name in ("quiet-day", "whitsun-swarm", "second-thomas-dark", "sts-transfer", "distress", "spoofer",
                 "gnss-interference"):
        assert name in r.stdout


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(distress_run, tmp_path):
    again = tmp_path / "again"
    assert mfc("simulate", "distress", "--out", again, "--quiet").returncode == 0
    for f in ("ais.nmea", "radar.jsonl", "sensors.json", "truth.jsonl", "labels.jsonl"):
        assert (again / f).read_bytes() == (distress_run / f).read_bytes(), f
    other = tmp_path / "other"
    assert mfc("simulate", "distress", "--out", other, "--quiet", "--seed", "99").returncode == 0
    assert (other / "ais.nmea").read_bytes() != (distress_run / "ais.nmea").read_bytes()


def test_the_ais_feed_decodes_with_pyais_and_agrees_with_the_truth(distress_run):
    """Every AIS line is valid NMEA that pyais decodes; the position reports of a vessel lie on
    its true path (measured with pyproj) within the scenario's GNSS noise."""
    truth: dict[int, list[tuple[float, float, float]]] = {}
    ship_type: dict[int, int] = {}
    for line in (distress_run / "truth.jsonl").read_text().splitlines():
        d = json.loads(line)
        if d["mmsi"] is not None:
            ship_type[d["mmsi"]] = d["ship_type"] or 0
            t = _epoch(d["time"])
            truth.setdefault(d["mmsi"], []).append((t, d["lat"], d["lon"]))
    lines = (distress_run / "ais.nmea").read_text().splitlines()
    assert len(lines) > 1000
    errors = []
    statics = 0
    pending: list[str] = []
    for line in lines:
        tag, sentence = line[1:].split("\\", 1)
        body, cs = tag.rsplit("*", 1)
        assert int(cs, 16) == _xor(body), line
        c = int(dict(kv.split(":", 1) for kv in body.split(","))["c"]) / 1000.0
        pending.append(sentence)
        fields = sentence.split(",")
        if int(fields[2]) < int(fields[1]):
            continue
        msg = pyais.decode(*pending).asdict()
        pending = []
        if msg["msg_type"] == 5:
            statics += 1
            assert int(msg["ship_type"]) == ship_type[msg["mmsi"]], msg
        if msg["msg_type"] != 1 or msg["mmsi"] not in truth:
            continue
        ts = truth[msg["mmsi"]]
        t_arr = np.array([x[0] for x in ts])
        if not t_arr[0] <= c <= t_arr[-1]:
            continue
        lat = np.interp(c, t_arr, [x[1] for x in ts])
        lon = np.interp(c, t_arr, [x[2] for x in ts])
        errors.append(GEOD.inv(lon, lat, msg["lon"], msg["lat"])[2])
    assert len(errors) > 1000 and statics > 20
    # 8 m GNSS noise per axis, ~1 s of time jitter at up to ~20 kn, truth interpolated over 60 s
    assert np.median(errors) < 25.0, np.median(errors)


def test_truth_fed_back_as_tracks_and_labels_as_alerts_score_perfectly(distress_run, tmp_path):
    truth = [json.loads(x) for x in (distress_run / "truth.jsonl").read_text().splitlines()]
    tracks = tmp_path / "tracks.jsonl"
    with tracks.open("w") as f:
        for d in truth:
            f.write(json.dumps({"track_id": d["vessel"], "time": d["time"], "lat": d["lat"], "lon": d["lon"],
                                "mmsi": d["mmsi"] if d["ais"] else None, "status": "confirmed"}) + "\n")
    labels = [json.loads(x) for x in (distress_run / "labels.jsonl").read_text().splitlines()]
    alerts = tmp_path / "alerts.jsonl"
    with alerts.open("w") as f:
        for k, c in enumerate(x for x in labels if x["positive"]):
            f.write(json.dumps({"alert_id": f"A{k}", "type": c["type"], "time": c["from"], "mmsi": c["mmsi"],
                                "lat": c["lat"], "lon": c["lon"], "state": "open"}) + "\n")
    out = tmp_path / "s.json"
    r = mfc("score", distress_run, "--tracks", tracks, "--alerts", alerts, "--json", out)
    assert r.returncode == 0, r.stderr
    s = json.loads(out.read_text())
    assert s["tracking"]["gospa"] == pytest.approx(0.0, abs=1e-3)
    assert s["tracking"]["missed_per_frame"] == 0 and s["tracking"]["false_per_frame"] == 0
    assert s["tracking"]["identity"]["correct"] == 1.0
    assert s["alerts"]["recall"] == 1.0 and s["alerts"]["precision"] == 1.0
    assert s["alerts"]["false_alarms"] == 0


def test_an_empty_run_scores_recall_zero_and_every_vessel_missed(distress_run, tmp_path):
    (tmp_path / "t.jsonl").write_text("")
    (tmp_path / "a.jsonl").write_text("")
    out = tmp_path / "s.json"
    r = mfc("score", distress_run, "--tracks", tmp_path / "t.jsonl", "--alerts", tmp_path / "a.jsonl", "--json", out)
    assert r.returncode == 0, r.stderr
    s = json.loads(out.read_text())
    assert s["alerts"]["recall"] == 0.0 and s["alerts"]["found"] == 0 and s["alerts"]["positive_cases"] >= 1
    assert s["tracking"] is None


def test_the_product_finds_the_distress_case_and_not_the_sart_in_test_mode(distress_run, tmp_path):
    """The whole loop as a user runs it: the active AIS-SART (status 14) alerts, the SART in test
    mode (status 15, which the feed carries as pyais encodes it) does not; tracks are scored."""
    out = tmp_path / "s.json"
    plot = tmp_path / "s.html"
    r = mfc("score", distress_run, "--tracks", distress_run / "tracks.jsonl", "--alerts",
            distress_run / "alerts.jsonl", "--json", out, "--plot", plot)
    assert r.returncode == 0, r.stderr
    assert "| `distress` |" in r.stdout
    s = json.loads(out.read_text())
    d = s["alerts"]["types"]["distress"]
    assert d["found"] == d["positive_cases"] == 1
    assert d["near_misses_fired"] == 0 and d["precision"] == 1.0
    tr = s["tracking"]
    assert tr["frames"] >= 60
    # AIS positions at 8 m noise: tracks held sit within tens of metres of the truth
    assert tr["rms_error_m"] < 60.0
    assert tr["identity"]["wrong"] == 0.0
    page = plot.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 2
    assert "src=" not in page and "href=" not in page  # self-contained: nothing fetched
    assert page.count("<polyline") == len({json.loads(x)["vessel"]
                                           for x in (distress_run / "truth.jsonl").read_text().splitlines()})


def test_sart_test_mode_from_a_real_encoder_raises_no_distress(tmp_path):
    lines = []
    for k in range(5):
        for mmsi, status in ((970_548_001, 14), (970_548_002, 15)):
            s = encode_dict({"type": 1, "mmsi": mmsi, "status": status, "lat": 10.5, "lon": 114.5 + mmsi % 10 * 0.1,
                             "speed": 0.0, "course": 0.0}, talker_id="AI", sentence_type="VDM")[0]
            lines.append(f"{1_795_000_000 + 60 * k} {s}")
    (tmp_path / "sart.nmea").write_text("\n".join(lines) + "\n")
    r = mfc("fuse", tmp_path / "sart.nmea", "--tracks-out", tmp_path / "t.jsonl", "--alerts-out", tmp_path / "a.jsonl")
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert {a["mmsi"] for a in alerts if a["type"] == "distress"} == {970_548_001}


def test_a_scenario_file_with_a_mistake_is_refused_with_the_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nhours = 2\nevents = ["dark_vessel", "alien_landing"]\n')
    r = mfc("simulate", bad, "--out", tmp_path / "o")
    assert r.returncode == 2 and "unknown event(s) alien_landing" in r.stderr
    bad.write_text('name = "x"\nhourz = 2\n')
    r = mfc("simulate", bad, "--out", tmp_path / "o")
    assert r.returncode == 2 and "unknown key(s) hourz" in r.stderr
    r = mfc("simulate", "no-such-scenario", "--out", tmp_path / "o")
    assert r.returncode == 2 and "no scenario named" in r.stderr and "distress" in r.stderr


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gospa_agrees_with_stone_soup(seed):
    """Our GOSPA (dense and the sparse form mfc score uses) against Stone Soup's GOSPAMetric."""
    from stonesoup.measures import Euclidean
    from stonesoup.metricgenerator.ospametric import GOSPAMetric
    from stonesoup.types.state import State
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 3000, (40, 2))
    est = np.vstack([truth[:30] + rng.normal(0, 150, (30, 2)), rng.uniform(0, 3000, (8, 2))])
    ref = GOSPAMetric(c=500.0, p=1.0, measure=Euclidean())
    value = ref.compute_gospa_metric([State(x.reshape(2, 1)) for x in est],
                                     [State(x.reshape(2, 1)) for x in truth])[0].value["distance"]
    assert gospa(truth, est).total == pytest.approx(value, rel=1e-9)
    assert gospa_pairs(truth, est)[0].total == pytest.approx(value, rel=1e-9)


def _xor(s: str) -> int:
    c = 0
    for ch in s:
        c ^= ord(ch)
    return c


def _epoch(text: str) -> float:
    import datetime as dt
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()



def test_position_payloads_decode_with_pyais_to_the_values_encoded():
    from services.scenario.simulate import position_payload
    rng = np.random.default_rng(5)
    for _ in range(500):
        mmsi = int(rng.integers(200_000_000, 775_999_999))
        status, second = int(rng.integers(0, 16)), int(rng.integers(0, 60))
        sog, cog = float(rng.uniform(0, 102.2)), float(rng.uniform(0, 359.9))
        lat, lon = float(rng.uniform(-90, 90)), float(rng.uniform(-180, 180))
        m = pyais.decode(f"!AIVDM,1,1,,A,{position_payload(mmsi, status, sog, lon, lat, cog, second)},0*00",
                         error_if_checksum_invalid=False).asdict()
        assert m["msg_type"] == 1 and m["mmsi"] == mmsi and int(m["status"]) == status and m["second"] == second
        assert m["speed"] == pytest.approx(sog, abs=0.051) and m["course"] == pytest.approx(cog, abs=0.051)
        # resolution 1/10,000 minute; pyais rounds what it decodes to 6 decimals
        assert m["lat"] == pytest.approx(lat, abs=1 / 1_200_000 + 5e-7)
        assert m["lon"] == pytest.approx(lon, abs=1 / 1_200_000 + 5e-7)
        assert m["heading"] == 511 and m["accuracy"] is True


def _attack_run(tmp_path, name: str, *feeds: str) -> tuple:
    """``mfc simulate NAME`` → ``mfc fuse`` (its feeds) → ``mfc score``: the scenario's directory and
    its sensor_integrity row of the score."""
    d = tmp_path / name
    assert mfc("simulate", name, "--out", d, "--quiet").returncode == 0
    r = mfc("fuse", *[d / f for f in feeds], "--sensors", d / "sensors.json", "--tracks-out", d / "t.jsonl",
            "--alerts-out", d / "a.jsonl", "--sample-every", "300")
    assert r.returncode == 0, r.stderr
    r = mfc("score", d, "--tracks", d / "t.jsonl", "--alerts", d / "a.jsonl", "--json", d / "s.json")
    assert r.returncode == 0, r.stderr
    return d, json.loads((d / "s.json").read_text())["alerts"]["types"]["sensor_integrity"]


@pytest.mark.parametrize("name, cause", [("receiver-clock", "clock_offset"), ("receiver-replay", "replayed_traffic"),
                                         ("receiver-forgery", "single_station")])
def test_each_built_in_attack_on_a_receiver_is_detected_by_the_centre(tmp_path, name, cause):
    d, row = _attack_run(tmp_path, name, "ais.nmea")
    assert row["found"] == row["positive_cases"] == 1 and row["precision"] == 1.0
    assert row["near_misses_fired"] == 0
    assert row["median_delay_s"] < 600
    # the alert names the receiver the scenario attacked, with the right cause
    target = next(json.loads(x) for x in (d / "labels.jsonl").read_text().splitlines() if json.loads(x)["positive"])
    alerts = [json.loads(x) for x in (d / "a.jsonl").read_text().splitlines()]
    mine = [a for a in alerts if a["type"] == "sensor_integrity"]
    assert {a["evidence"]["receiver"] for a in mine} == {target["label"].split("'")[0].split(" ")[0]}
    assert {a["evidence"]["cause"] for a in mine} == {cause}
    if name == "receiver-forgery":   # the forged vessel is named, as the label says
        assert {a["mmsi"] for a in mine} == {target["mmsi"]}
    if name == "receiver-replay":
        # the replayed reports are evidence against the receiver, not positions: no vessel is put in
        # two places by them (before, 13 identity_clash and 2 gnss_interference alerts followed)
        assert not [a for a in alerts if a["type"] in ("identity_clash", "speed_jump", "gnss_interference")]


def test_a_receiver_clock_drifting_a_second_a_minute_is_named_while_still_under_the_offset_limit(tmp_path):
    """`receiver-drift`: from 30 min in one receiver's clock falls 1 s further behind every minute
    (the scenario's description); a peer drifting 3 s an hour is the near-miss.  The centre names
    the drift before the clock is 30 s behind (the level check alone waits until then, 30 min in),
    measures its rate and re-times the receiver's reports."""
    d, row = _attack_run(tmp_path, "receiver-drift", "ais.nmea")
    assert row["found"] == row["positive_cases"] == 1 and row["precision"] == 1.0
    assert row["near_misses_fired"] == 0
    assert row["median_delay_s"] < 25 * 60
    target = next(json.loads(x) for x in (d / "labels.jsonl").read_text().splitlines() if json.loads(x)["positive"])
    mine = [json.loads(x) for x in (d / "a.jsonl").read_text().splitlines()]
    mine = [a for a in mine if a["type"] == "sensor_integrity"]
    assert {a["evidence"]["receiver"] for a in mine} == {target["label"].split("'")[0]}
    assert -30.0 < mine[0]["evidence"]["offset_s"] <= -10.0 and mine[0]["evidence"]["correcting"] is True
    assert abs(mine[-1]["evidence"]["drift_s_per_h"] + 60.0) < 6.0


def test_a_stolen_integrator_key_is_caught_by_the_satellite_where_no_station_overlaps(tmp_path):
    """`stolen-key`: two forged vessels pushed through a receiver no other station overlaps; the
    satellite passing over hears the real traffic around them and never them."""
    d, row = _attack_run(tmp_path, "stolen-key", "ais.nmea")
    assert row["found"] == row["positive_cases"] == 2 and row["precision"] == 1.0
    assert row["near_misses_fired"] == 0      # the real vessel only that receiver and the satellite hear
    labels = [json.loads(x) for x in (d / "labels.jsonl").read_text().splitlines()]
    forged = {x["mmsi"] for x in labels if x["positive"]}
    alerts = [json.loads(x) for x in (d / "a.jsonl").read_text().splitlines()]
    mine = [a for a in alerts if a["type"] == "sensor_integrity"]
    assert {a["mmsi"] for a in mine} == forged
    assert {a["evidence"]["receiver"] for a in mine} == {"AIS-INTEGRATOR-1"}
    assert all(a["evidence"]["witnesses"] == ["SAT-AIS-1"] for a in mine)
    # a forged vessel that stops is not a vessel going dark
    assert not [a for a in alerts if a["type"] == "ais_gap" and a["mmsi"] in forged]


def test_the_built_in_radar_registration_attack_is_detected_and_measured(tmp_path):
    d, row = _attack_run(tmp_path, "radar-bias", "ais.nmea", "radar.jsonl")
    assert row["found"] == row["positive_cases"] == 1 and row["precision"] == 1.0
    assert row["median_delay_s"] < 900
    label = next(json.loads(x) for x in (d / "labels.jsonl").read_text().splitlines() if json.loads(x)["positive"])
    radar = label["label"].split(" ")[1]                 # "radar R-0 1° off north, range 250 m long"
    mine = [json.loads(x) for x in (d / "a.jsonl").read_text().splitlines()]
    mine = [a for a in mine if a["type"] == "sensor_integrity"]
    assert {a["evidence"]["receiver"] for a in mine} == {radar}
    last = mine[-1]["evidence"]
    assert last["cause"] == "registration_bias" and last["correcting"] is True
    assert abs(last["bearing_bias_deg"] - 1.0) < 0.15 and abs(last["range_bias_m"] - 250.0) < 60, last
