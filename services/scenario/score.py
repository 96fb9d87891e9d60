"""``mfc score``: a run (``mfc fuse`` track samples and alert lines) against a scenario's truth
and labels.

Tracking: at every time the track file was sampled (``mfc fuse --sample-every S``), the published
tracks (``confirmed`` or ``coasting``) against the truth vessels at that time (truth interpolated
between its samples, a vessel counted from its first to its last truth line); distances are
straight-line distances between WGS 84 earth-centred coordinates (pyproj), exact to well under a
metre at the cut-off.  GOSPA with p = 1, α = 2 and cut-off ``c`` (500 m by default) and its parts,
missed vessels split by whether the truth says a sensor could see them (``covered``: in a radar's
range, or transmitting in an AIS receiver's range; truth without the field counts as covered),
the assigned pairs' errors per vessel, identity (an assigned track's MMSI against the vessel's while
it transmits) and dark vessels (vessels with no AIS at that time: how often a track holds them).

Alerts: an alert matches a labelled case of its type when its first version falls in the case's
window, within its radius, about its MMSI when the case names one (``services/scenario/alert_score``);
precision per type counts alerts not retracted; recall counts positive cases; false alarms per 1,000
vessel-hours counts the alerts matching no case over the truth's vessel-hours.  Alerts about a
scripted vessel more than 25 minutes after it left the scenario are not scored.
"""

from __future__ import annotations

import html
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusion.rules import ALERT_TYPES
from ingest.timeparse import TimeParseError, parse_time

from services.scenario.alert_score import final_versions, matches, score as score_alerts
from services.scenario.events import Case
from services.scenario.gospa import gospa_pairs
from services.scenario.world import ecef

PUBLISHED = ("confirmed", "coasting")


class ScoreError(ValueError):
    pass


def _time(v, where: str) -> float:
    try:
        return parse_time(v)
    except TimeParseError as exc:
        raise ScoreError(f"{where}: {exc}") from None


def _lines(path: Path):
    try:
        f = path.open(encoding="utf-8")
    except OSError as exc:
        raise ScoreError(f"cannot read {path}: {exc.strerror}") from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScoreError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(d, dict):
                raise ScoreError(f"{path}:{n}: not a JSON object")
            yield n, d


# ------------------------------------------------------------------ inputs
@dataclass
class Truth:
    vessels: list[str]
    t: list[np.ndarray]
    lat: list[np.ndarray]
    lon: list[np.ndarray]
    ais: list[np.ndarray]
    covered: list[np.ndarray]
    mmsi: list[int | None]
    step_s: float

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Indices, lat, lon, transmitting and covered flags of the vessels present at t."""
        idx, la, lo, on, cov = [], [], [], [], []
        for i, ts in enumerate(self.t):
            if ts[0] <= t <= ts[-1]:
                idx.append(i)
                la.append(np.interp(t, ts, self.lat[i]))
                lo.append(np.interp(t, ts, self.lon[i]))
                k = min(int(np.searchsorted(ts, t, side="right")) - 1, len(ts) - 1)
                on.append(bool(self.ais[i][max(k, 0)]))
                cov.append(bool(self.covered[i][max(k, 0)]))
        return np.array(idx, int), np.array(la), np.array(lo), np.array(on, bool), np.array(cov, bool)

    def vessel_hours(self) -> float:
        return sum(float(ts[-1] - ts[0]) + self.step_s for ts in self.t) / 3600.0


def load_truth(path: Path) -> Truth:
    rows: dict[str, list] = defaultdict(list)
    mmsi: dict[str, int | None] = {}
    for n, d in _lines(path):
        try:
            vid = str(d["vessel"])
            rows[vid].append((_time(d["time"], f"{path}:{n}"), float(d["lat"]), float(d["lon"]),
                              bool(d.get("ais", d.get("mmsi") is not None)), bool(d.get("covered", True))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ScoreError(f"{path}:{n}: a truth line needs vessel, time, lat, lon ({exc})") from None
        mmsi[vid] = d.get("mmsi")
    if not rows:
        raise ScoreError(f"{path}: no truth lines")
    vs = sorted(rows)
    out = Truth(vs, [], [], [], [], [], [], 0.0)
    steps = []
    for v in vs:
        a = np.array(sorted(rows[v]), dtype=float)
        out.t.append(a[:, 0])
        out.lat.append(a[:, 1])
        out.lon.append(a[:, 2])
        out.ais.append(a[:, 3] > 0.5)
        out.covered.append(a[:, 4] > 0.5)
        out.mmsi.append(mmsi[v])
        if len(a) > 1:
            steps.append(float(np.median(np.diff(a[:, 0]))))
    out.step_s = float(np.median(steps)) if steps else 0.0
    return out


def load_labels(path: Path) -> list[Case]:
    if not path.exists():
        return []
    out = []
    for n, d in _lines(path):
        try:
            out.append(Case(str(d["type"]), bool(d["positive"]), str(d.get("label", "")),
                            _time(d["from"], f"{path}:{n}"), _time(d["to"], f"{path}:{n}"),
                            float(d["lat"]), float(d["lon"]), float(d.get("radius_m", 10_000.0)),
                            None if d.get("mmsi") is None else int(d["mmsi"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ScoreError(f"{path}:{n}: a label needs type, positive, from, to, lat, lon ({exc})") from None
    return out


@dataclass
class AlertLine:
    """The fields of an alert line the matching uses."""
    alert_id: str
    type: str
    time_s: float
    mmsi: int | None
    lat: float | None
    lon: float | None
    state: str
    evidence: dict = field(default_factory=dict)
    summary: str = ""


def load_alerts(path: Path) -> list[AlertLine]:
    out = []
    for n, d in _lines(path):
        try:
            out.append(AlertLine(str(d["alert_id"]), str(d["type"]), _time(d["time"], f"{path}:{n}"),
                                 d.get("mmsi"), d.get("lat"), d.get("lon"), str(d.get("state", "open")),
                                 d.get("evidence") or {}, str(d.get("summary", ""))))
        except (KeyError, TypeError) as exc:
            raise ScoreError(f"{path}:{n}: an alert line needs alert_id, type, time ({exc})") from None
    return out


def load_tracks(path: Path) -> dict[float, list[dict]]:
    frames: dict[float, list[dict]] = defaultdict(list)
    for n, d in _lines(path):
        if d.get("status") not in PUBLISHED or d.get("lat") is None or d.get("lon") is None:
            continue
        frames[_time(d["time"], f"{path}:{n}")].append(d)
    return frames


# ------------------------------------------------------------------ scoring
def score_tracking(truth: Truth, frames: dict[float, list[dict]], c: float = 500.0) -> dict:
    t_lo = min(ts[0] for ts in truth.t)
    t_hi = max(ts[-1] for ts in truth.t)
    times = sorted(t for t in frames if t_lo <= t <= t_hi)
    # every sample time of the run, also those where no track was published
    per = []
    err2 = defaultdict(list)
    held = defaultdict(int)
    present = defaultdict(int)
    id_ok = id_wrong = id_none = 0
    dark_frames = dark_held = 0
    missed_cov = missed_out = 0
    dark_vessels: set[int] = set()
    dark_vessels_held: set[int] = set()
    for t in times:
        idx, la, lo, on, cov = truth.at(t)
        tr = frames.get(t, [])
        est = ecef(np.array([d["lat"] for d in tr], float), np.array([d["lon"] for d in tr], float))
        g, pairs = gospa_pairs(ecef(la, lo), est, c=c, p=1.0)
        per.append(g)
        for k in idx:
            present[int(k)] += 1
        assigned = np.zeros(len(idx), bool)
        for i, _, _ in pairs:
            assigned[i] = True
        missed_cov += int((~assigned & cov).sum())
        missed_out += int((~assigned & ~cov).sum())
        dark = ~on
        dark_frames += int(dark.sum())
        for k in idx[dark]:
            dark_vessels.add(int(k))
        for i, j, d in pairs:
            v = int(idx[i])
            err2[v].append(d * d)
            held[v] += 1
            m_true = truth.mmsi[v]
            m_track = tr[j].get("mmsi")
            if on[i] and m_true is not None:
                if m_track == m_true:
                    id_ok += 1
                elif m_track is None:
                    id_none += 1
                else:
                    id_wrong += 1
            if dark[i]:
                dark_held += 1
                dark_vessels_held.add(v)
    n = len(per)
    mean = (lambda xs: float(np.mean(xs)) if xs else float("nan"))
    all_err = [e for v in err2.values() for e in v]
    per_vessel = {truth.vessels[v]: {"frames": present[v], "held": held.get(v, 0),
                                     "rms_error_m": round(math.sqrt(np.mean(err2[v])), 1) if err2.get(v) else None}
                  for v in sorted(present)}
    n_id = id_ok + id_wrong + id_none
    return {
        "frames": n, "cutoff_m": c,
        "gospa": mean([g.total for g in per]),
        "gospa_localisation": mean([g.localisation for g in per]),
        "gospa_missed": mean([g.missed for g in per]),
        "gospa_false": mean([g.false for g in per]),
        "missed_per_frame": mean([g.n_missed for g in per]),
        "missed_in_cover_per_frame": missed_cov / n if n else float("nan"),
        "missed_out_of_cover_per_frame": missed_out / n if n else float("nan"),
        "false_per_frame": mean([g.n_false for g in per]),
        "truth_per_frame": mean([sum(present.values()) / max(n, 1)]) if n else float("nan"),
        "rms_error_m": math.sqrt(np.mean(all_err)) if all_err else float("nan"),
        "held_fraction": sum(held.values()) / max(sum(present.values()), 1),
        "identity": {"assigned_while_transmitting": n_id,
                     "correct": id_ok / n_id if n_id else None,
                     "wrong": id_wrong / n_id if n_id else None,
                     "unidentified": id_none / n_id if n_id else None},
        "dark": {"vessels": len(dark_vessels), "vessels_held": len(dark_vessels_held),
                 "frames": dark_frames, "frames_held": dark_frames and dark_held / dark_frames},
        "per_vessel": per_vessel,
    }


def _exits(truth: Truth) -> dict[int, float]:
    """MMSI -> the time its vessel left the scenario before the end (alerts long after are not scored)."""
    t_end = max(ts[-1] for ts in truth.t)
    exits: dict[int, float] = {}
    for ts, m in zip(truth.t, truth.mmsi):
        if m is not None and ts[-1] < t_end - max(truth.step_s, 1.0):
            exits[m] = max(exits.get(m, -math.inf), float(ts[-1]))
    return exits


def score_run(truth: Truth, cases: list[Case], alerts: list[AlertLine], frames: dict[float, list[dict]],
              c: float = 500.0) -> dict:
    exits = _exits(truth)
    table = score_alerts(cases, alerts, exits)
    versions = final_versions(alerts)
    delays: dict[str, list[float]] = defaultdict(list)
    for cs in cases:
        if cs.positive:
            hits = [f.time_s for f, last in versions.values() if matches(cs, f, last)]
            if hits:
                delays[cs.type].append(min(hits) - cs.t_from)
    vh = truth.vessel_hours()
    false_total = 0
    out_types = {}
    for t, r in table.items():
        false_total += len(r["false"])
        if not (r["cases"] or r["alerts"] or r["near_miss"] or r["retracted"]):
            continue
        out_types[t] = {
            "positive_cases": r["cases"], "found": r["found"],
            "recall": r["found"] / r["cases"] if r["cases"] else None,
            "alerts": r["alerts"], "matched": r["matched"],
            "precision": r["matched"] / r["alerts"] if r["alerts"] else None,
            "near_misses": r["near_miss"], "near_misses_fired": r["near_miss_fired"],
            "retracted": r["retracted"],
            "median_delay_s": float(np.median(delays[t])) if delays.get(t) else None,
            "false_alarms": [{"alert_id": f.alert_id, "time": f.time_s, "mmsi": f.mmsi, "lat": f.lat,
                              "lon": f.lon, "summary": f.summary} for f in r["false"]][:50],
        }
    cases_n = sum(r["cases"] for r in table.values())
    found_n = sum(r["found"] for r in table.values())
    alerts_n = sum(r["alerts"] for r in table.values())
    matched_n = sum(r["matched"] for r in table.values())
    return {
        "vessel_hours": vh,
        "tracking": score_tracking(truth, frames, c) if frames else None,
        "alerts": {
            "types": out_types,
            "positive_cases": cases_n, "found": found_n,
            "recall": found_n / cases_n if cases_n else None,
            "raised": alerts_n, "matched": matched_n,
            "precision": matched_n / alerts_n if alerts_n else None,
            "false_alarms": false_total,
            "false_alarms_per_1000_vessel_hours": 1000.0 * false_total / vh if vh > 0 else None,
        },
    }


# ------------------------------------------------------------------ output
def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100.0 * x:.0f} %"


def _num(x, fmt="{:,.0f}") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)


def report(result: dict) -> str:
    out = []
    tr = result["tracking"]
    if tr:
        out.append(f"## Tracking ({tr['frames']} samples, GOSPA p = 1, c = {tr['cutoff_m']:g} m)\n")
        out.append("| GOSPA | localisation | missed part | false part | missed/sample (in cover) | false/sample | "
                   "RMS error | truth held |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        out.append(f"| {_num(tr['gospa'])} | {_num(tr['gospa_localisation'])} | {_num(tr['gospa_missed'])} | "
                   f"{_num(tr['gospa_false'])} | {_num(tr['missed_per_frame'], '{:.2f}')} "
                   f"({_num(tr['missed_in_cover_per_frame'], '{:.2f}')}) | "
                   f"{_num(tr['false_per_frame'], '{:.2f}')} | {_num(tr['rms_error_m'], '{:.0f} m')} | "
                   f"{_pct(tr['held_fraction'])} |")
        idn, dk = tr["identity"], tr["dark"]
        out.append(f"\nidentity (tracks held on transmitting vessels: {idn['assigned_while_transmitting']:,}): "
                   f"right MMSI {_pct(idn['correct'])}, wrong {_pct(idn['wrong'])}, none {_pct(idn['unidentified'])}")
        out.append(f"dark vessels (no AIS at the time): {dk['vessels']} vessels, {dk['vessels_held']} held at some "
                   f"time; {_pct(dk['frames_held'] if dk['frames'] else None)} of their samples held")
    al = result["alerts"]
    out.append(f"\n## Alerts ({result['vessel_hours']:,.0f} vessel-hours of truth)\n")
    out.append("| type | positive cases | found | recall | median delay | alerts | matched | precision | "
               "near-misses | fired | retracted |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t, r in al["types"].items():
        out.append(f"| `{t}` | {r['positive_cases']} | {r['found']} | {_pct(r['recall'])} | "
                   f"{_num(r['median_delay_s'], '{:.0f} s')} | {r['alerts']} | {r['matched']} | {_pct(r['precision'])} | "
                   f"{r['near_misses']} | {r['near_misses_fired']} | {r['retracted']} |")
    out.append(f"| **all** | {al['positive_cases']} | {al['found']} | {_pct(al['recall'])} | | {al['raised']} | "
               f"{al['matched']} | {_pct(al['precision'])} | | | |")
    out.append(f"\nfalse alarms: {al['false_alarms']} = "
               f"{_num(al['false_alarms_per_1000_vessel_hours'], '{:.2f}')} per 1,000 vessel-hours")
    return "\n".join(out) + "\n"


def plot_html(truth: Truth, frames: dict[float, list[dict]], alerts: list[AlertLine], cases: list[Case],
              result: dict) -> str:
    """A self-contained page: truth paths, published track positions and alerts on a map (SVG, plate
    carrée), and the alert timeline against the labelled windows."""
    lats = np.concatenate(truth.lat)
    lons = np.concatenate(truth.lon)
    la0, la1, lo0, lo1 = float(lats.min()), float(lats.max()), float(lons.min()), float(lons.max())
    pad = 0.05 * max(la1 - la0, lo1 - lo0, 0.01)
    la0, la1, lo0, lo1 = la0 - pad, la1 + pad, lo0 - pad, lo1 + pad
    W = 900
    kx = math.cos(math.radians((la0 + la1) / 2))
    Hh = max(200, int(W * (la1 - la0) / max((lo1 - lo0) * kx, 1e-9)))
    Hh = min(Hh, 1400)

    def xy(la, lo):
        return (lo - lo0) / (lo1 - lo0) * W, (la1 - la) / (la1 - la0) * Hh
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{Hh}" style="background:#eef4f8">']
    for i in range(len(truth.vessels)):
        pts = " ".join("%.1f,%.1f" % xy(a, b) for a, b in zip(truth.lat[i][::3], truth.lon[i][::3]))
        svg.append(f'<polyline points="{pts}" fill="none" stroke="#999" stroke-width="1"/>')
    for t, tr in frames.items():
        for d in tr:
            x, y = xy(d["lat"], d["lon"])
            col = "#c60" if d.get("mmsi") is None else "#06c"
            svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.2" fill="{col}"/>')
    for f, last in final_versions(alerts).values():
        if f.lat is None:
            continue
        x, y = xy(f.lat, f.lon)
        svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="none" stroke="#d00" stroke-width="2">'
                   f'<title>{html.escape(f.type)} {html.escape(f.alert_id)}: {html.escape(f.summary)}</title></circle>')
    svg.append("</svg>")
    # timeline
    ts = [x for ts_ in truth.t for x in (ts_[0], ts_[-1])]
    t0, t1 = min(ts), max(ts)
    types = sorted({c.type for c in cases} | {f.type for f, _ in final_versions(alerts).values()},
                   key=lambda t: ALERT_TYPES.index(t) if t in ALERT_TYPES else 99)
    row = 22
    tl = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W + 160}" height="{row * len(types) + 30}">']
    for k, t in enumerate(types):
        y = 20 + k * row
        tl.append(f'<text x="0" y="{y + 4}" font-size="12" font-family="sans-serif">{html.escape(t)}</text>')
        for c in cases:
            if c.type == t:
                xa = 160 + (c.t_from - t0) / (t1 - t0) * W
                xb = 160 + (c.t_to - t0) / (t1 - t0) * W
                col = "#8c8" if c.positive else "#ddd"
                tl.append(f'<rect x="{xa:.1f}" y="{y - 7}" width="{max(xb - xa, 2):.1f}" height="14" fill="{col}">'
                          f'<title>{html.escape(c.label)}</title></rect>')
        for f, last in final_versions(alerts).values():
            if f.type == t:
                x = 160 + (f.time_s - t0) / (t1 - t0) * W
                col = "#999" if last.state == "retracted" else "#d00"
                tl.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 9}" y2="{y + 9}" stroke="{col}" stroke-width="2">'
                          f'<title>{html.escape(f.alert_id)}: {html.escape(f.summary)}</title></line>')
    tl.append("</svg>")
    body = html.escape(report(result))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>mfc score</title></head>"
            "<body style='font-family:sans-serif'><h1>mfc score</h1>"
            "<p>Grey: truth paths; blue: identified tracks; orange: radar-only tracks; red rings: alerts.</p>"
            + "".join(svg) + "<h2>Alert timeline</h2><p>Green: windows where a labelled case must alert; grey: "
            "near-misses; red: alerts (grey when retracted).</p>" + "".join(tl)
            + f"<h2>Scores</h2><pre>{body}</pre></body></html>\n")


def _alert_outcome(f: AlertLine, last: AlertLine, positives: list[Case], exits: dict[int, float]) -> str:
    """How ``score_alerts`` counted an alert: matched, false, retracted or not scored."""
    if f.mmsi in exits and f.time_s >= exits[f.mmsi] + 25 * 60:
        return "not scored"
    if last.state == "retracted":
        return "retracted"
    return "matched" if any(matches(c, f, last) for c in positives) else "false"


def scenario_name(d: Path) -> str:
    """The scenario's name from ``scenario.json`` (``mfc simulate`` writes it), else the directory's."""
    try:
        name = json.loads((d / "scenario.json").read_text(encoding="utf-8"))["scenario"]["name"]
        if isinstance(name, str) and name:
            return name
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return d.resolve().name


# alert outcome -> (colour, map marker, legend text); distinct shapes as well as colours
_OUTCOME_STYLE = {
    "matched": ("#1b7837", "*", "alert matching a labelled case"),
    "false": ("#d6004c", "X", "alert matching no case (false alarm)"),
    "retracted": ("#8c8c8c", "o", "alert retracted"),
    "not scored": ("#b8a000", "D", "alert not scored (vessel had left)"),
}


def plot_png(truth: Truth, frames: dict[float, list[dict]], alerts: list[AlertLine], cases: list[Case],
             result: dict, title: str, path: Path) -> None:
    """One PNG (matplotlib, Agg, no display): the map of truth paths, published track positions and
    alerts (lon/lat, x stretched by 1/cos(latitude)), and the alert timeline: labelled windows per
    alert type as bars, alerts fired as ticks coloured by how they scored.  The same inputs give the
    same bytes (no time or software version in the file)."""
    from datetime import datetime, timezone

    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lats = np.concatenate(truth.lat)
    lons = np.concatenate(truth.lon)
    la0, la1, lo0, lo1 = float(lats.min()), float(lats.max()), float(lons.min()), float(lons.max())
    pad = 0.05 * max(la1 - la0, lo1 - lo0, 0.01)
    la0, la1, lo0, lo1 = la0 - pad, la1 + pad, lo0 - pad, lo1 + pad
    kx = max(math.cos(math.radians((la0 + la1) / 2)), 0.05)
    versions = final_versions(alerts)
    positives = [c for c in cases if c.positive]
    exits = _exits(truth)
    outcome = {k: _alert_outcome(f, last, positives, exits) for k, (f, last) in versions.items()}
    types = sorted({c.type for c in cases} | {f.type for f, _ in versions.values()},
                   key=lambda t: (ALERT_TYPES.index(t) if t in ALERT_TYPES else 99, t))

    width = 11.0
    map_h = min(max((width - 1.2) * (la1 - la0) / ((lo1 - lo0) * kx), 4.0), 10.0)
    tl_h = 1.8 + 0.45 * max(len(types), 1)
    fig = Figure(figsize=(width, map_h + tl_h + 1.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(2, 1, height_ratios=[map_h, tl_h])

    # --- map
    ax = fig.add_subplot(gs[0])
    for la, lo in zip(truth.lat, truth.lon):
        ax.plot(lo, la, color="#9a9a9a", lw=0.8, zorder=1)
    ident = [(d["lon"], d["lat"]) for t in sorted(frames) for d in frames[t] if d.get("mmsi") is not None]
    radar = [(d["lon"], d["lat"]) for t in sorted(frames) for d in frames[t] if d.get("mmsi") is None]
    if ident:
        a = np.array(ident, float)
        ax.scatter(a[:, 0], a[:, 1], s=2, color="#2166ac", linewidths=0, zorder=2)
    if radar:
        a = np.array(radar, float)
        ax.scatter(a[:, 0], a[:, 1], s=2, color="#e08214", linewidths=0, zorder=2)
    for kind, (col, mk, _) in _OUTCOME_STYLE.items():
        pts = [(f.lon, f.lat) for k, (f, _) in versions.items()
               if outcome[k] == kind and f.lat is not None and f.lon is not None]
        if pts:
            a = np.array(pts, float)
            hollow = kind == "retracted"
            ax.scatter(a[:, 0], a[:, 1], s=90 if mk == "*" else 45, marker=mk, facecolor="none" if hollow else col,
                       edgecolor=col if hollow else "black", linewidths=1.4 if hollow else 0.6, zorder=4)
    ax.set_xlim(lo0, lo1)
    ax.set_ylim(la0, la1)
    ax.set_aspect(1.0 / kx, adjustable="box")
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.grid(True, color="#dddddd", lw=0.5, zorder=0)
    ax.set_facecolor("#eef4f8")
    ax.set_title("truth paths, published tracks and alerts", fontsize=10)
    handles = [Line2D([], [], color="#9a9a9a", lw=1.2, label="truth path"),
               Line2D([], [], ls="", marker="o", ms=4, color="#2166ac", label="track position (identified, AIS)"),
               Line2D([], [], ls="", marker="o", ms=4, color="#e08214", label="track position (radar only)")]
    for kind, (col, mk, text) in _OUTCOME_STYLE.items():
        if kind in outcome.values():
            handles.append(Line2D([], [], ls="", marker=mk, ms=9 if mk == "*" else 7,
                                  markerfacecolor=col if kind != "retracted" else "none",
                                  markeredgecolor="black" if kind != "retracted" else col, label=text))
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)

    # --- timeline
    tx = fig.add_subplot(gs[1])
    t_lo = min(float(ts[0]) for ts in truth.t)
    t_hi = max(float(ts[-1]) for ts in truth.t)
    if t_hi <= t_lo:
        t_hi = t_lo + 60.0

    def dn(t: float) -> float:
        return mdates.date2num(datetime.fromtimestamp(t, tz=timezone.utc))
    for k, t in enumerate(types):
        y = len(types) - 1 - k
        for c in cases:
            if c.type == t:
                a, b = max(c.t_from, t_lo), min(c.t_to, t_hi)
                if b < a:
                    continue
                # must-alert windows in the row's upper half, near-misses in its lower half
                tx.broken_barh([(dn(a), max(dn(b) - dn(a), (dn(t_hi) - dn(t_lo)) / 400))],
                               (y + 0.03, 0.34) if c.positive else (y - 0.37, 0.34),
                               facecolors="#a6dba0" if c.positive else "#e0e0e0",
                               edgecolors="#5aae61" if c.positive else "#a0a0a0", linewidth=0.8,
                               hatch=None if c.positive else "///", zorder=1)
        for kind, (col, _, _) in _OUTCOME_STYLE.items():
            xs = [dn(f.time_s) for kk, (f, _) in versions.items() if f.type == t and outcome[kk] == kind]
            if xs:
                tx.vlines(xs, y - 0.42, y + 0.42, colors=col, linewidth=1.8, zorder=3)
    tx.set_xlim(dn(t_lo), dn(t_hi))
    tx.set_ylim(-0.6, max(len(types), 1) - 0.4)
    tx.set_yticks(range(len(types)), list(reversed(types)))
    loc = mdates.AutoDateLocator(tz=timezone.utc)
    tx.xaxis.set_major_locator(loc)
    tx.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, tz=timezone.utc))
    tx.set_xlabel("time (UTC)")
    tx.set_ylabel("alert type")
    tx.grid(True, axis="x", color="#dddddd", lw=0.5, zorder=0)
    tx.set_title("alert timeline: labelled windows and alerts fired", fontsize=10)
    if not types:
        tx.text(0.5, 0.5, "no labelled cases and no alerts", transform=tx.transAxes, ha="center", va="center")
    th = [Patch(facecolor="#a6dba0", edgecolor="#5aae61", label="window: must alert"),
          Patch(facecolor="#e0e0e0", edgecolor="#a0a0a0", hatch="///", label="window: near-miss, must not")]
    for kind, (col, _, text) in _OUTCOME_STYLE.items():
        if kind in outcome.values():
            th.append(Line2D([], [], color=col, lw=2, label=text))
    fig.legend(handles=th, loc="outside lower center", ncols=3, fontsize=8)

    al, tr = result["alerts"], result["tracking"]
    sub = [f"recall {_pct(al['recall'])}", f"precision {_pct(al['precision'])}",
           f"false alarms {al['false_alarms']}"]
    if tr:
        sub.insert(0, f"GOSPA {_num(tr['gospa'])} m (c = {tr['cutoff_m']:g} m)")
    fig.suptitle(f"mfc score: scenario {title}\n" + " · ".join(sub), fontsize=12)
    fig.savefig(path, format="png", metadata={"Software": None, "Title": f"mfc score: {title}"},
                bbox_inches="tight", pad_inches=0.2)


PLOT_SUFFIXES = {".html": "html", ".htm": "html", ".png": "png"}


def main_score(args) -> int:
    d = Path(args.dir)
    plot_kind = None
    if args.plot:
        plot_kind = PLOT_SUFFIXES.get(Path(args.plot).suffix.lower())
        if plot_kind is None:
            print(f"mfc score: --plot {args.plot}: the file's extension chooses the plot: .html or .htm "
                  "(a self-contained page) or .png (an image)", file=sys.stderr)
            return 2
    try:
        truth = load_truth(d / "truth.jsonl")
        cases = load_labels(d / "labels.jsonl")
        alerts = load_alerts(Path(args.alerts))
        frames = load_tracks(Path(args.tracks))
        if len(frames) > 5000:
            print(f"mfc score: the track file has {len(frames):,} distinct times: it was not sampled "
                  "(mfc fuse --sample-every S); scoring every one of them is slow", file=sys.stderr)
        result = score_run(truth, cases, alerts, frames, c=args.cutoff_m)
    except ScoreError as exc:
        print(f"mfc score: {exc}", file=sys.stderr)
        return 2
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n", encoding="utf-8")
    if plot_kind == "html":
        Path(args.plot).write_text(plot_html(truth, frames, alerts, cases, result), encoding="utf-8")
    elif plot_kind == "png":
        plot_png(truth, frames, alerts, cases, result, scenario_name(d), Path(args.plot))
    return 0
