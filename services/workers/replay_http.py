"""``mfc replay``: push recorded feeds into a running system as an integrator would.

Lines are read from the files, ordered by their own times, and POSTed to the
ingest endpoints paced at ``speed`` times real time.  Each line's time is kept
relative to the feed start and shifted so the feed starts now: AIS sentences
are sent bare with a leading ISO 8601 timestamp (tag blocks, ``$PGHP`` and
trailing epochs are folded into it; the tag block's station becomes the
``sensor_id``), radar JSON gets its ``time`` rewritten.  Lines the replayer
cannot read are sent unchanged so the server gives its verdict on them.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

from fusion.model import iso_time
from ingest.errors import IngestError
from ingest.nmea import pghp_time, split_line
from ingest.timeparse import TimeParseError, parse_time
from services.workers.fuse import is_radar_file, open_text

_DOLLAR = frozenset({"PGHP", "TTM", "TLL"})


@dataclass(slots=True)
class Item:
    time_s: float | None  # None: send as is, at the time of the line before
    kind: str  # "ais" or "radar"
    sensor_id: str
    sentence: str
    raw_json: dict | None = None


def read_ais(path: Path, default_sensor: str) -> list[Item]:
    items, last, pghp = [], None, None
    with open_text(path) as fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            try:
                frame = split_line(line, _DOLLAR)
            except IngestError:
                items.append(Item(last, "ais", default_sensor, line))
                continue
            if frame is None:
                continue
            if frame.address == "PGHP":
                pghp = _pghp(frame.fields)
                continue
            tag = frame.tag
            explicit = next((t for t in (tag.time_s if tag else None, frame.prefix_time_s, pghp,
                                         frame.trailing_time_s) if t is not None), None)
            pghp = None
            last = explicit if explicit is not None else last
            station = tag.station if tag and tag.station else default_sensor
            items.append(Item(last, "ais", station, frame.sentence))
    return items


def _pghp(fields: list[str]) -> float | None:
    try:
        return pghp_time(fields)
    except IngestError:
        return None


def read_radar(path: Path) -> list[Item]:
    items, last = [], None
    with open_text(path) as fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
                last = parse_time(obj["time"])
                items.append(Item(last, "radar", str(obj.get("sensor_id", "")), line, obj))
            except (ValueError, KeyError, TypeError, TimeParseError):
                items.append(Item(last, "radar", "", line))
    return items


def read_items(paths: list[Path], default_sensor: str = "ais") -> tuple[list[Item], float]:
    """The lines of the files ordered by their own times, and the feed's first time ``t0`` (a
    line without a time of its own goes at the time of the line before it, or ``t0``)."""
    items: list[Item] = []
    for path in paths:
        items += read_radar(path) if is_radar_file(path) else read_ais(path, default_sensor)
    timed = [i for i in items if i.time_s is not None]
    if not timed:
        raise SystemExit("mfc replay: no line with a time in these files")
    t0 = min(i.time_s for i in timed)  # type: ignore[type-var]
    for i in items:
        if i.time_s is None:
            i.time_s = t0
    items.sort(key=lambda i: i.time_s)  # type: ignore[arg-type, return-value]
    return items, t0  # type: ignore[return-value]


class SendFailed(Exception):
    """A batch the ingest did not take at all (the reason in words); its lines count as rejected."""


Send = Callable[[str, str, list[str]], dict]  # (kind "ais"|"radar", sensor id, lines) -> the ingest's verdict


def http_sender(client: httpx.Client) -> Send:
    """Batches POSTed to a system's ingest endpoints, as an integrator sends them."""
    def send(kind: str, sensor_id: str, lines: list[str]) -> dict:
        path = "/v1/ingest/ais" if kind == "ais" else "/v1/ingest/radar"
        params = {"sensor_id": sensor_id} if kind == "ais" else {}
        r = client.post(path, params=params, content="\n".join(lines))
        if r.status_code != 202:
            raise SendFailed(f"{path} {sensor_id}: HTTP {r.status_code} {r.text[:200]}")
        return r.json()
    return send


def play(items: list[Item], t0: float, send: Send, speed: float = 1.0, batch_s: float = 0.5, out=sys.stderr,
         on_start=None, stop: threading.Event | None = None, on_progress=None) -> dict[str, int]:
    """Send ``items`` (``read_items``) paced at ``speed`` times real time, the feed shifted to
    start now.  ``on_start(wall0, t0)`` once the clock starts; ``on_progress(sent, total)`` after
    each batch (lines); ``stop`` set ends the play after the batch under way."""
    totals = {"sent": 0, "accepted": 0, "rejected": 0, "late": 0}
    wall0 = time.time()
    shift = wall0 - t0
    if on_start is not None:
        on_start(wall0, t0)
    k = 0
    while k < len(items) and not (stop is not None and stop.is_set()):
        due = t0 + (time.time() - wall0) * speed + batch_s * speed
        j = k
        while j < len(items) and items[j].time_s <= due:  # type: ignore[operator]
            j += 1
        if j > k:
            _post(send, items[k:j], shift, totals, out)
            k = j
            if on_progress is not None:
                on_progress(k, len(items))
        if k < len(items):
            if stop is not None:
                stop.wait(batch_s)
            else:
                time.sleep(batch_s)
    return totals


def replay(paths: list[Path], url: str, key: str, speed: float = 1.0, default_sensor: str = "ais",
           batch_s: float = 0.5, out=sys.stderr, on_start=None) -> dict[str, int]:
    """``on_start(wall0, t0)``: called once the clock starts, with the wall time the feed's first
    time ``t0`` is mapped to (lines are stamped ``t + wall0 - t0``)."""
    items, t0 = read_items(paths, default_sensor)
    check_speed(url, speed, float(items[-1].time_s - t0))  # type: ignore[operator]
    with httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        return play(items, t0, http_sender(client), speed, batch_s, out, on_start)


class ReplayRefused(Exception):
    """A replay that cannot work as asked; the message says why and what to do instead."""


def check_speed(url: str, speed: float, span_s: float) -> str:
    """The server's clock (``/healthz``), after checking that the replay can work on it
    (``refuse_speed``)."""
    if speed <= 0:
        raise ReplayRefused(f"--speed must be positive, not {speed:g}")
    try:
        r = httpx.get(url.rstrip("/") + "/healthz", timeout=10)
        clock = r.json().get("clock", "wall") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        clock = None
    if clock is None:
        raise ReplayRefused(f"no mfc system answers at {url} (GET /healthz)")
    refuse_speed(clock, speed, span_s)
    return clock


def refuse_speed(clock: str, speed: float, span_s: float) -> None:
    """ReplayRefused when a replay at ``speed`` of a feed spanning ``span_s`` cannot work into a
    system on ``clock``.  On the wall clock the feed is stamped from now on and runs ``speed``
    times faster than the clock, so its last line would be ``span_s · (1 − 1/speed)`` ahead of
    the server's time: more than the 300 s the ingest allows and the lines are refused as clock
    faults."""
    from services.workers.ingest_service import MAX_FUTURE_S
    if speed <= 0:
        raise ReplayRefused(f"--speed must be positive, not {speed:g}")
    ahead = span_s * (1.0 - 1.0 / speed) if speed > 1 else 0.0
    if clock != "feed" and ahead > MAX_FUTURE_S - 30.0:
        fastest = 1.0 / max(1.0 - (MAX_FUTURE_S - 30.0) / span_s, 1e-9) if span_s > MAX_FUTURE_S - 30.0 else float("inf")
        raise ReplayRefused(
            f"--speed {speed:g} cannot work into this system: it runs on the wall clock, and this "
            f"{span_s / 3600:.1f} h feed would run up to {ahead / 60:.0f} min ahead of it (the ingest refuses "
            f"reports more than {MAX_FUTURE_S / 60:.0f} min ahead of their receipt as clock faults). Replay at "
            f"--speed {min(fastest, 1e9):.3g} or slower, use `mfc fuse` for a batch run at full speed, or replay "
            f"into a system started with MFC_FUSION_CLOCK=feed (a replay or exercise system: any speed)")


def _post(send: Send, batch: list[Item], shift: float, totals: dict[str, int], out) -> None:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item in batch:
        t = iso_time(item.time_s + shift)  # type: ignore[operator]
        if item.kind == "ais":
            groups[("ais", item.sensor_id)].append(f"{t} {item.sentence}" if item.time_s is not None else item.sentence)
        elif item.raw_json is not None:
            groups[("radar", "")].append(json.dumps({**item.raw_json, "time": t}))
        else:
            groups[("radar", "")].append(item.sentence)
    for (kind, sensor_id), lines in groups.items():
        totals["sent"] += len(lines)
        try:
            verdict = send(kind, sensor_id, lines)
        except SendFailed as exc:
            print(f"mfc replay: {exc}", file=out)
            totals["rejected"] += len(lines)
            continue
        totals["accepted"] += verdict["accepted"]
        totals["rejected"] += verdict["rejected"]
        totals["late"] += verdict.get("late", 0)
        for reject in verdict["rejects"][:3]:
            print(f"mfc replay: rejected ({sensor_id or kind}): {reject['reason']}", file=out)
