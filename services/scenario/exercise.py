"""``mfc exercise``: a scenario played into a running exercise system, with the truth kept by the
instructor, and the debrief of what the trainees did with it.

    mfc exercise start NAME|FILE --to URL --key ADMIN [--speed X] [--dir DIR] [--seed N] [--hours H]
    mfc exercise stop DIR
    mfc exercise debrief DIR --key OFFICER_OR_ADMIN [--json OUT]

An exercise runs on an **exercise system**: ``mfc serve`` started with ``MFC_EXERCISE=<name>``
(everything it serves is marked with the name: page banner, ``/healthz``, the picture, CoT
``opex``, Kafka topics under their own prefix) and, for speeds above 1, ``MFC_FUSION_CLOCK=feed``.
A live system is refused: an exercise never mixes with the live picture.

``start`` writes the scenario into DIR (feeds, sensors, truth and labels: the truth never goes
to the system), registers its sensors, records ``DIR/exercise.json`` and plays the feeds through
the normal ingest (``mfc replay``), paced at ``--speed``; ``stop`` (or Ctrl-C) ends the play.
The same ``run`` serves ``POST /v1/exercise`` (the page's instructor panel, ``api/routes/exercise.py``):
there the server writes the scenario under ``MFC_EXERCISE_DIR``, registers its sensors and feeds its
own ingest in a background thread (``ServerExercise``); ``DELETE /v1/exercise`` stops it.
``debrief`` reads every alert with its workflow from the system and sets it against the labels:
per scripted case, whether it was alerted, who acknowledged, assigned and closed it, with which
disposition, and how fast; per trainee, what they did and how many dispositions were right.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Callable

import httpx

from fusion.model import iso_time
from ingest.timeparse import parse_iso

from services.scenario.alert_score import final_versions, matches
from services.scenario.score import AlertLine, ScoreError, load_labels
from services.workers.replay_http import Send
from services.scenario.simulate import Scenario, ScenarioError, from_dict, generate, load, write

RIGHT = {True: {"true_positive", "duplicate"}, False: {"false_positive", "benign", "duplicate"}}


class ExerciseError(Exception):
    pass


def _health(url: str) -> dict:
    try:
        r = httpx.get(url.rstrip("/") + "/healthz", timeout=10)
        return r.json() if r.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


# ------------------------------------------------------------------ start / stop
@dataclass
class Target:
    """Where an exercise plays.  ``mfc exercise start``: a system over HTTP (its sensors and ingest
    endpoints, with an admin key); ``POST /v1/exercise``: the server's own sensor registry and
    ingest, in process.  Either way the same code writes, registers, records and plays (``run``)."""
    url: str                                # the system's base URL (the debrief reads its alerts there)
    exercise: str                           # its MFC_EXERCISE name; "" on a live system
    clock: str                              # "wall" or "feed" (GET /healthz)
    register: Callable[[dict], None]        # the scenario's sensors.json registered (ExerciseError if refused)
    send: Send                              # a batch of lines into the ingest → its verdict
    runner: str = "cli"                     # "cli" (a process of its own: stopped by its pid) or "server"


def refuse(target: Target, s: Scenario, speed: float, where: str = "") -> None:
    """ExerciseError when ``s`` cannot play into ``target`` at ``speed``: a live system never takes
    an exercise, and a wall-clock system only speeds its ingest accepts (``refuse_speed``)."""
    from services.workers.replay_http import ReplayRefused, refuse_speed
    if not target.exercise:
        raise ExerciseError(
            f"{where or f'the system at {target.url}'} is a live system: an exercise never plays into the live "
            "picture. Start an exercise system for it, e.g. MFC_EXERCISE='Drill 1' MFC_FUSION_CLOCK=feed "
            "MFC_DB=sqlite:///drill.db mfc serve --port 8100")
    try:
        refuse_speed(target.clock, speed, s.hours * 3600.0)
    except ReplayRefused as exc:
        raise ExerciseError(str(exc)) from None


def scenario(source: str, seed: int | None = None, hours: float | None = None) -> Scenario:
    """A scenario (built-in name or file) with its seed and length overridden when given."""
    try:
        s = load(source)
        over = {k: v for k, v in (("seed", seed), ("hours", hours)) if v is not None}
        if over:
            s = from_dict({**{k: v for k, v in asdict(s).items() if v is not None}, **over}, s.name)
    except ScenarioError as exc:
        raise ExerciseError(str(exc)) from None
    return s


def run(s: Scenario, d: Path, target: Target, speed: float, record: dict | None = None,
        stop: threading.Event | None = None, out=sys.stderr) -> dict:
    """Write ``s`` into ``d`` (feeds, sensors, truth and labels: the truth never goes to the
    system), register its sensors, record ``d/exercise.json`` and play the feeds through the
    target's ingest at ``speed`` until they end, ``stop`` is set or Ctrl-C.  ``record`` (updated
    in place, so another thread may watch it) ends in state ``finished``, ``stopped`` or
    ``failed``; it holds the progress as ``sent``/``total`` lines."""
    from services.workers.replay_http import play, read_items
    record = {} if record is None else record
    record.update(url=target.url, exercise=target.exercise, scenario=s.name, seed=s.seed, speed=speed,
                  runner=target.runner, state="starting", dir=str(d))
    if target.runner == "cli":
        record["pid"] = os.getpid()
    path = d / "exercise.json"

    def save() -> None:
        saved = {k: v for k, v in record.items() if k not in ("sent", "total")}  # progress: in memory only
        path.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")

    def end(state: str, **more) -> dict:
        record.update(state=state, ended=iso_time(time.time()), **more)
        save()
        return record

    print(f"mfc exercise: writing {s.name} (seed {s.seed}) into {d}; its truth stays there", file=out)
    record["summary"] = write(generate(s), d)
    save()
    if stop is not None and stop.is_set():
        return end("stopped")
    try:
        target.register(json.loads((d / "sensors.json").read_text()))
    except ExerciseError as exc:
        end("failed", error=str(exc))
        raise
    items, t0 = read_items([d / "ais.nmea", d / "radar.jsonl"])
    record.update(sent=0, total=len(items))

    def started(wall0: float, t0: float) -> None:
        record.update(state="running", wall0=wall0, feed_t0=t0, started=iso_time(wall0))
        save()
        how = f"`mfc exercise stop {d}` or Ctrl-C" if target.runner == "cli" else "DELETE /v1/exercise (the page's Stop)"
        print(f"mfc exercise: {target.exercise}: {s.name} running at {speed:g}x from {iso_time(wall0)} "
              f"({s.hours:g} h of feed time); {how} ends it", file=out)

    def progress(sent: int, total: int) -> None:
        record.update(sent=sent, total=total)

    try:
        totals = play(items, t0, target.send, speed, out=out, on_start=started, stop=stop, on_progress=progress)
    except KeyboardInterrupt:
        return end("stopped")
    return end("stopped" if stop is not None and stop.is_set() else "finished", totals=totals)


def start(args) -> int:
    from services.workers.replay_http import http_sender
    url = args.to.rstrip("/")
    health = _health(url)
    if not health:
        raise ExerciseError(f"no mfc system answers at {url} (GET /healthz)")
    s = scenario(args.scenario, args.seed, args.hours)
    headers = {"Authorization": f"Bearer {args.key}"}

    def register(sensors: dict) -> None:
        r = httpx.post(url + "/v1/sensors", json=sensors, headers=headers, timeout=60)
        if r.status_code not in (200, 201):
            raise ExerciseError(f"registering the scenario's sensors: HTTP {r.status_code} {r.text[:300]}")

    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        target = Target(url, health.get("exercise") or "", health.get("clock", "wall"), register,
                        http_sender(client))
        refuse(target, s, args.speed)
        d = Path(args.dir or f"exercise-{s.name}-{time.strftime('%Y%m%dT%H%M%S')}")
        record = run(s, d, target, args.speed)
    print(f"mfc exercise: {record['state']}; debrief with `mfc exercise debrief {d} --key KEY`", file=sys.stderr)
    return 0


def stop(args) -> int:
    path = Path(args.dir) / "exercise.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ExerciseError(f"{path}: no exercise recorded there") from None
    if record.get("state") not in ("starting", "running"):
        raise ExerciseError(f"the exercise in {args.dir} is not running ({record.get('state')})")
    if record.get("runner") == "server":  # its pid would be the server's own
        raise ExerciseError(f"the exercise in {args.dir} was started on the server (from the page or POST "
                            f"/v1/exercise): stop it there (DELETE /v1/exercise with an admin key)")
    try:
        os.kill(int(record["pid"]), signal.SIGINT)
    except (ProcessLookupError, PermissionError, KeyError, ValueError):
        raise ExerciseError(f"the exercise's process ({record.get('pid')}) is not running here") from None
    print(f"mfc exercise: stopping {record.get('scenario')} (process {record['pid']})", file=sys.stderr)
    return 0


class _LogLines:
    """A text stream for ``print``: each line to the ``mfc.exercise`` log, nothing kept."""

    def write(self, text: str) -> int:
        if text.strip():
            logging.getLogger("mfc.exercise").info("%s", text.strip())
        return len(text)

    def flush(self) -> None:
        pass


class ExerciseBusy(ExerciseError):
    """An exercise is already playing on this server."""


class ServerExercise:
    """The exercise a server plays for its instructor (``/v1/exercise``): at most one at a time, in
    a background thread, written under ``base`` (the truth stays there and is never served)."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.record: dict = {}

    def state(self) -> dict:
        return dict(self.record) if self.record else {"state": "none"}

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, s: Scenario, speed: float, target: Target, by: str) -> dict:
        with self._lock:
            if self.running():
                r = self.record
                raise ExerciseBusy(f"an exercise is already {r.get('state')}: {r.get('scenario')} at "
                                   f"{r.get('speed'):g}x; stop it first (DELETE /v1/exercise)")
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            d, n = self.base / f"{s.name}-{stamp}", 1
            while d.exists():
                n += 1
                d = self.base / f"{s.name}-{stamp}-{n}"
            self._stop = threading.Event()
            self.record = {"scenario": s.name, "seed": s.seed, "speed": speed, "hours": s.hours,
                           "state": "starting", "by": by, "dir": str(d), "requested": iso_time(time.time())}
            self._thread = threading.Thread(target=self._run, args=(s, d, target, speed, self.record, self._stop),
                                            name="mfc-exercise", daemon=True)
            self._thread.start()
            return dict(self.record)

    def _run(self, s: Scenario, d: Path, target: Target, speed: float, record: dict,
             stop: threading.Event) -> None:
        try:
            run(s, d, target, speed, record, stop, out=_LogLines())  # what the CLI prints: to the log
        except ExerciseError as exc:
            record.update(state="failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001  (a thread's failure must show in the state, not vanish)
            logging.getLogger("mfc.exercise").exception("exercise %s failed", s.name)
            record.update(state="failed", error=f"{type(exc).__name__}: {exc}", ended=iso_time(time.time()))
            if d.is_dir():
                (d / "exercise.json").write_text(json.dumps({k: v for k, v in record.items()
                                                             if k not in ("sent", "total")}, indent=1) + "\n",
                                                 encoding="utf-8")

    def stop(self, wait_s: float = 10.0) -> dict:
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                raise ExerciseError(f"no exercise is running here (state: {self.state()['state']})")
            self._stop.set()
            if self.record.get("state") in ("starting", "running"):
                self.record["state"] = "stopping"
        thread.join(timeout=wait_s)
        return self.state()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


# ------------------------------------------------------------------ debrief
def debrief_data(d: Path, key: str) -> dict:
    try:
        record = json.loads((d / "exercise.json").read_text())
    except (OSError, ValueError):
        raise ExerciseError(f"{d / 'exercise.json'}: no exercise recorded there") from None
    if "wall0" not in record:
        raise ExerciseError(f"the exercise in {d} never started playing")
    try:
        cases = load_labels(d / "labels.jsonl")
    except ScoreError as exc:
        raise ExerciseError(str(exc)) from None
    url, wall0, t0, speed = record["url"], record["wall0"], record["feed_t0"], record["speed"]
    rows = []
    for held in ("false", "true"):
        r = httpx.get(url + "/v1/alerts", params={"limit": 10000, "suppressed": held},
                      headers={"Authorization": f"Bearer {key}"}, timeout=60)
        if r.status_code != 200:
            raise ExerciseError(f"GET /v1/alerts: HTTP {r.status_code} {r.text[:200]} (an officer or admin key)")
        rows += r.json()["alerts"]
    shift = wall0 - t0

    def wall(alert_time_s: float) -> float:     # the alert's stamp (feed time + shift) as wall time
        return wall0 + (alert_time_s - wall0) / speed

    alerts, by_id = [], {}
    for a in rows:
        t = parse_iso(a["time"])
        alerts.append(AlertLine(a["alert_id"], a["type"], t - shift, a.get("mmsi"), a.get("lat"), a.get("lon"),
                                a.get("state", "open"), a.get("evidence") or {}, a.get("summary", "")))
        by_id[a["alert_id"]] = a
    versions = final_versions(alerts)
    matched_ids: dict[str, bool] = {}
    out_cases = []
    for c in cases:
        hits = sorted((f for f, last in versions.values() if matches(c, f, last)), key=lambda f: f.time_s)
        entry = {"type": c.type, "label": c.label, "positive": c.positive, "alerted": bool(hits)}
        if hits:
            f = hits[0]
            matched_ids.setdefault(f.alert_id, c.positive)
            entry.update(alert_id=f.alert_id, alert_delay_s=round(f.time_s - c.t_from, 1),
                         **_work(by_id[f.alert_id], wall(f.time_s + shift), c.positive))
        out_cases.append(entry)
    other = []
    for f, last in versions.values():
        if f.alert_id in matched_ids or last.state == "retracted":
            continue
        other.append({"alert_id": f.alert_id, "type": f.type, "summary": f.summary,
                      **_work(by_id[f.alert_id], wall(f.time_s + shift), False)})
    trainees: dict[str, dict] = {}
    for a in rows:
        positive = matched_ids.get(a["alert_id"], False)
        for h in (a.get("workflow") or {}).get("history", []):
            who = h.get("by") or "?"
            t = trainees.setdefault(who, {"acknowledged": 0, "assigned": 0, "closed": 0, "commented": 0,
                                          "dispositions_right": 0, "dispositions_wrong": 0, "_ack": []})
            act = h.get("action")
            if act == "acknowledge":
                t["acknowledged"] += 1
                t["_ack"].append(parse_iso(h["at"]) - wall(parse_iso(a["time"])))
            elif act == "assign":
                t["assigned"] += 1
            elif act == "comment":
                t["commented"] += 1
            elif act == "close":
                t["closed"] += 1
                ok = h.get("disposition") in RIGHT[positive]
                t["dispositions_right" if ok else "dispositions_wrong"] += 1
    for t in trainees.values():
        acks = t.pop("_ack")
        t["median_time_to_acknowledge_s"] = round(median(acks), 1) if acks else None
    return {"exercise": record.get("exercise"), "scenario": record.get("scenario"), "seed": record.get("seed"),
            "speed": speed, "started": record.get("started"), "state": record.get("state"),
            "cases": out_cases, "other_alerts": other, "trainees": trainees,
            "found": sum(1 for c in out_cases if c["positive"] and c["alerted"]),
            "positive_cases": sum(1 for c in out_cases if c["positive"])}


def _work(alert: dict, raised_wall_s: float, positive: bool) -> dict:
    """What the watch did with one alert: who acknowledged, assigned and closed it, when (seconds of
    wall clock after it was raised), and whether the disposition is right for the truth."""
    wf = alert.get("workflow") or {}
    out: dict = {"state": alert.get("state"), "assignee": wf.get("assignee"), "disposition": wf.get("disposition")}
    for h in wf.get("history", []):
        act = h.get("action")
        key = {"acknowledge": "acknowledged", "close": "closed", "assign": "assigned"}.get(act)
        if key and f"{key}_by" not in out:
            out[f"{key}_by"] = h.get("by")
            out[f"{key}_after_s"] = round(parse_iso(h["at"]) - raised_wall_s, 1)
    if out["disposition"] is not None:
        out["disposition_right"] = out["disposition"] in RIGHT[positive]
    return out


def debrief(args) -> int:
    data = debrief_data(Path(args.dir), args.key)
    print(f"## Debrief: {data['exercise']} — {data['scenario']} (seed {data['seed']}, {data['speed']:g}x, "
          f"{data['state']})\n")
    print(f"scripted cases alerted: {data['found']} of {data['positive_cases']}\n")
    print("| case | must alert | alerted | alert | acknowledged by (after) | closed by (after) | disposition | right |")
    print("|---|---|---|---|---|---|---|---|")
    for c in data["cases"]:
        def who(k: str) -> str:
            return f"{c[k + '_by']} ({c[k + '_after_s']:.0f} s)" if c.get(k + "_by") else "—"
        right = {True: "yes", False: "**no**", None: "—"}[c.get("disposition_right")]
        print(f"| {c['type']}: {c['label']} | {'yes' if c['positive'] else 'no (near-miss)'} | "
              f"{'yes' if c['alerted'] else 'no'} | {c.get('alert_id', '—')} | {who('acknowledged')} | "
              f"{who('closed')} | {c.get('disposition') or '—'} | {right} |")
    if data["other_alerts"]:
        print(f"\nalerts matching no scripted case (false alarms of the centre): {len(data['other_alerts'])}; "
              f"closed as false_positive/benign: "
              f"{sum(1 for a in data['other_alerts'] if a.get('disposition_right'))}")
    print("\n| trainee | acknowledged | assigned | closed | right | wrong | median time to acknowledge |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, t in sorted(data["trainees"].items()):
        m = t["median_time_to_acknowledge_s"]
        print(f"| {name} | {t['acknowledged']} | {t['assigned']} | {t['closed']} | {t['dispositions_right']} | "
              f"{t['dispositions_wrong']} | {'—' if m is None else f'{m:.0f} s'} |")
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return 0


def main_exercise(args) -> int:
    try:
        return {"start": start, "stop": stop, "debrief": debrief}[args.action](args)
    except ExerciseError as exc:
        print(f"mfc exercise {args.action}: {exc}", file=sys.stderr)
        return 2
