"""``mfc score --plot FILE.png``, driven as a user drives it (the command line): the file is a PNG
that an independent reader (Pillow) decodes to a picture with something on it, the alerts show in
the colours of how they scored, the same inputs give the same bytes, and a plot file whose
extension names no known format is refused before any work."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_simulate_score import distress_run, mfc  # noqa: F401  (distress_run is a fixture)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_795_000_000  # 2026-11-18T11:06:40Z
MATCHED = (0x1B, 0x78, 0x37)  # the green of an alert matching a labelled case
FALSE = (0xD6, 0x00, 0x4C)  # the red of a false alarm
POSITIVE_WINDOW = (0xA6, 0xDB, 0xA0)  # a window where a labelled case must alert


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """An hour of three vessels (two transmitting, one dark that radar holds), a labelled loitering
    case and a near-miss, and three alerts: one matching the case, one false, one retracted."""
    d = tmp_path_factory.mktemp("small")
    vessels = {"V1": (111_111_111, 10.0, 114.0, 0.0, 0.004), "V2": (222_222_222, 10.2, 114.3, 0.004, 0.0),
               "V3": (None, 10.1, 114.5, 0.0002, 0.0001)}
    truth, tracks = [], []
    for k in range(61):
        t = T0 + 60 * k
        for v, (mmsi, la, lo, dla, dlo) in vessels.items():
            lat, lon = la + dla * k, lo + dlo * k
            truth.append({"time": iso(t), "vessel": v, "lat": lat, "lon": lon, "mmsi": mmsi,
                          "ais": mmsi is not None, "covered": True})
            tracks.append({"track_id": f"T-{v}", "time": iso(t), "lat": lat + 0.0003, "lon": lon - 0.0002,
                           "mmsi": mmsi, "status": "confirmed"})
    labels = [
        {"type": "loitering", "positive": True, "label": "dark vessel loitering", "from": iso(T0 + 600),
         "to": iso(T0 + 2400), "lat": 10.1, "lon": 114.5, "radius_m": 10_000},
        {"type": "rendezvous", "positive": False, "label": "passing", "from": iso(T0 + 1200),
         "to": iso(T0 + 3000), "lat": 10.2, "lon": 114.3, "radius_m": 10_000, "mmsi": 222_222_222},
    ]
    alerts = [
        {"alert_id": "A1", "type": "loitering", "time": iso(T0 + 900), "mmsi": None, "lat": 10.101,
         "lon": 114.501, "state": "open", "summary": "loitering"},
        {"alert_id": "A2", "type": "speed_jump", "time": iso(T0 + 1500), "mmsi": 111_111_111, "lat": 10.0,
         "lon": 114.1, "state": "open", "summary": "speed jump"},
        {"alert_id": "A3", "type": "dark_vessel", "time": iso(T0 + 1800), "mmsi": None, "lat": 10.11,
         "lon": 114.51, "state": "open", "summary": "dark"},
        {"alert_id": "A3", "type": "dark_vessel", "time": iso(T0 + 2100), "mmsi": None, "lat": 10.11,
         "lon": 114.51, "state": "retracted", "summary": "dark"},
    ]
    for name, rows in (("truth.jsonl", truth), ("tracks.jsonl", tracks), ("labels.jsonl", labels),
                       ("alerts.jsonl", alerts)):
        (d / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "scenario.json").write_text(json.dumps({"scenario": {"name": "tiny-loiter"}}))
    return d


def score(run: Path, plot: Path, *extra) -> subprocess.CompletedProcess:
    return mfc("score", run, "--tracks", run / "tracks.jsonl", "--alerts", run / "alerts.jsonl",
               "--plot", plot, *extra)


def pixels_near(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> int:
    return int((np.abs(img[:, :, :3].astype(int) - np.array(rgb)).max(axis=2) <= tol).sum())


def test_the_png_is_a_picture_an_independent_reader_decodes(small_run, tmp_path):
    plot = tmp_path / "score.PNG"  # the extension chooses the format, whatever its case
    r = score(small_run, plot)
    assert r.returncode == 0, r.stderr
    assert "| `loitering` |" in r.stdout  # the report is still printed
    data = plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(plot) as im:
        assert im.format == "PNG"
        assert im.info.get("Title") == "mfc score: tiny-loiter"
        assert "Software" not in im.info
        img = np.asarray(im.convert("RGB"))
    h, w, _ = img.shape
    assert 800 <= w <= 2500 and 700 <= h <= 3000, (w, h)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50  # not one colour: lines, markers, text
    # what a reader looks for: the matched alert in green, the false alarm in red (on the map and as
    # ticks on the timeline), and the window where the case must alert
    assert pixels_near(img, MATCHED) > 30
    assert pixels_near(img, FALSE) > 30
    assert pixels_near(img, POSITIVE_WINDOW) > 500


def test_the_same_inputs_give_the_same_png_bytes(small_run, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert score(small_run, a).returncode == 0
    assert score(small_run, b).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    # and the picture follows its inputs: with no alerts it differs
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    c = tmp_path / "c.png"
    r = mfc("score", small_run, "--tracks", small_run / "tracks.jsonl", "--alerts", empty, "--plot", c)
    assert r.returncode == 0, r.stderr
    assert c.read_bytes() != a.read_bytes()
    with Image.open(c) as im:
        img = np.asarray(im.convert("RGB"))
    assert pixels_near(img, FALSE) == 0


@pytest.mark.parametrize("name", ["x.svgz", "plot", "score.png.txt"])
def test_an_unknown_plot_extension_is_refused_before_any_work(small_run, tmp_path, name):
    plot = tmp_path / name
    out = tmp_path / "s.json"
    r = score(small_run, plot, "--json", out)
    assert r.returncode == 2
    for ext in (".html", ".htm", ".png"):
        assert ext in r.stderr
    assert name in r.stderr
    assert r.stdout == ""  # nothing scored
    assert not plot.exists() and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_htm_in_any_case_still_writes_the_html_page(small_run, tmp_path):
    plot = tmp_path / "score.HTM"
    r = score(small_run, plot)
    assert r.returncode == 0, r.stderr
    assert plot.read_text().startswith("<!doctype html>")


def test_mfc_does_not_import_matplotlib_until_a_png_is_asked_for():
    r = subprocess.run([sys.executable, "-c", "import sys, mfc.cli, services.scenario.score; "
                        "print('matplotlib' in sys.modules)"], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_the_distress_run_plots_its_alert_as_found(distress_run, tmp_path):
    """The whole loop: mfc simulate → mfc fuse → mfc score --plot PNG; the SART's distress alert
    matches its case, so the picture shows a matched alert and no false alarm."""
    plot = tmp_path / "distress.png"
    r = mfc("score", distress_run, "--tracks", distress_run / "tracks.jsonl", "--alerts",
            distress_run / "alerts.jsonl", "--json", tmp_path / "s.json", "--plot", plot)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    with Image.open(plot) as im:
        assert im.info.get("Title") == "mfc score: distress"
        img = np.asarray(im.convert("RGB"))
    assert pixels_near(img, MATCHED) > 30
    if s["alerts"]["false_alarms"] == 0:
        assert pixels_near(img, FALSE) == 0
    else:
        assert pixels_near(img, FALSE) > 0
