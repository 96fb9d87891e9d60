"""``mfc fuse``: batch fusion of recorded feeds, as fast as possible, deterministic.

Files ending in ``.jsonl``/``.json`` are radar JSON Lines (or AIS-catcher's JSON output, told
by its ``"class": "AIS"``); anything else is NMEA (AIS, and ARPA ``TTM``/``TLL``).  ``.gz`` files are read transparently.
All observations are merged in time order (ties keep file and line order)
and pushed through the tracker; a line with no time of its own takes the last
time seen in its file, before any the first time found in the file, and in a file
with no time at all the file's modification time.

The feeds are streamed, not loaded: each file is read once, put in time order within a sliding
window of ``reorder_s`` seconds of feed time (receivers' lines come a little out of order), and
the files are merged.  Memory is that window, not the feed: a day of a large feed fuses in the
memory of ten minutes of it.  A line more than ``reorder_s`` older than the newest of its file
is fused as a late report, as the live services fuse one.  On a terminal a progress line shows
the share of the input read.
"""

from __future__ import annotations

import gzip
import heapq
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from fusion.model import Alert, Observation, Sensor, TrackLine
from fusion.pipeline import Fusion
from ingest.ais import AisDecoder
from ingest.asterix import decode_asterix
from ingest.pcap import udp_payloads
from ingest.errors import IngestError, LineWarning, Reject
from ingest.radar import decode_radar_line

from services.geo.geography import build_geography


@dataclass
class FuseStats:
    observations: int = 0
    rejects: int = 0
    warnings: int = 0
    track_lines: int = 0
    alerts: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace", newline=None)


def is_radar_file(path: Path) -> bool:
    """JSON Lines are radar, unless they are AIS-catcher's JSON output (``"class": "AIS"``)."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.endswith((".jsonl", ".json", ".ndjson")) and not _is_ais_catcher(path)


def _is_ais_catcher(path: Path) -> bool:
    with open_text(path) as fh:
        for line in fh:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError:
                    return False
                return isinstance(first, dict) and first.get("class") == "AIS"
    return False


def read_file(path: Path, sensors: dict[str, Sensor], rejects: list[tuple[str, Reject]],
              warnings: list[tuple[str, LineWarning]] | None = None,
              progress: Progress | None = None) -> Iterator[Observation]:
    """Observations of one file; rejects (and warnings) are appended with the file name."""
    if path.suffix in (".pcap", ".cap"):
        yield from _read_asterix_capture(path, sensors, rejects)
        if progress is not None:
            progress.done(path)
        return
    with open_text(path) as fh:
        if progress is not None:
            progress.reading(path, fh)
        if is_radar_file(path):
            for no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield decode_radar_line(line, sensors)
                except IngestError as exc:
                    rejects.append((path.name, Reject(no, line.rstrip("\n"), exc.reason)))
            if progress is not None:
                progress.done(path)
            return
        decoder = AisDecoder(sensor_id=path.stem, live=False, sensors=sensors)
        decoder.default_time_s = _first_time(path, sensors)
        for no, line in enumerate(fh, start=1):
            observations, bad = decoder.feed(line.rstrip("\r\n"), line_no=no)
            rejects.extend((path.name, r) for r in bad)
            if warnings is not None:
                warnings.extend((path.name, w) for w in decoder.take_warnings())
            for obs in observations:
                yield _by_station(obs, sensors)
        rejects.extend((path.name, r) for r in decoder.flush())
    if progress is not None:
        progress.done(path)


def _by_station(obs: Observation, sensors: dict[str, Sensor]) -> Observation:
    """A recorded feed often mixes receivers, each line naming its station in a tag block
    (``s:``).  Where that station is a registered AIS sensor, the line is that sensor's (its
    releasability, its coverage) rather than the file's.  Files only: they are the operator's;
    over HTTP a line belongs to the sensor the integrator posts it for."""
    station = obs.station
    if station is not None and station != obs.sensor_id:
        known = sensors.get(station)
        if known is not None and known.kind == "ais" and obs.kind.startswith("ais"):
            obs.sensor_id = station
    return obs


def _first_time(path: Path, sensors: dict[str, Sensor]) -> float:
    """The first time an NMEA file gives (for its lines before it); the file's modification
    time when it gives none (a capture saved without timestamps)."""
    decoder = AisDecoder(sensor_id=path.stem, live=False, sensors=sensors)
    with open_text(path) as fh:
        for no, line in enumerate(fh, start=1):
            decoder.feed(line.rstrip("\r\n"), line_no=no)
            if decoder.last_time_s is not None:
                return decoder.last_time_s
    return float(int(path.stat().st_mtime))


def _read_asterix_capture(path: Path, sensors: dict[str, Sensor],
                          rejects: list[tuple[str, Reject]]) -> Iterator[Observation]:
    """A pcap of a radar's ASTERIX feed; the file is named after the radar (``PH-PAL-R1.pcap``),
    each packet's capture time dates the reports' time of day."""
    sensor = sensors.get(path.stem)
    if sensor is None or sensor.kind != "radar":
        rejects.append((path.name, Reject(0, "", f"no radar {path.stem!r} in the sensors file: an ASTERIX "
                                                 "capture is named after its radar's id")))
        return
    with open(path, "rb") as fh:
        try:
            for no, (time_s, payload) in enumerate(udp_payloads(fh), start=1):
                observations, problems = decode_asterix(payload, sensor, time_s)
                rejects.extend((path.name, Reject(no, payload[:64].hex(), p)) for p in problems)
                yield from observations
        except IngestError as exc:
            rejects.append((path.name, Reject(0, "", exc.reason)))


def load_observations(paths: list[Path], sensors: dict[str, Sensor],
                      warnings: list[tuple[str, LineWarning]] | None = None,
                      ) -> tuple[list[Observation], list[tuple[str, Reject]]]:
    rejects: list[tuple[str, Reject]] = []
    observations: list[Observation] = []
    for path in paths:
        observations.extend(read_file(path, sensors, rejects, warnings))
    observations.sort(key=lambda o: o.time_s)  # stable: ties keep file and line order
    return observations, rejects


def reordered(observations: Iterable[Observation], window_s: float) -> Iterator[Observation]:
    """``observations`` in time order within a sliding window of ``window_s`` seconds of feed
    time (ties keep their order); one older than that behind the newest comes out at once."""
    heap: list[tuple[float, int, Observation]] = []
    newest = -math.inf
    for seq, obs in enumerate(observations):
        t = obs.time_s
        heapq.heappush(heap, (t, seq, obs))
        if t > newest:
            newest = t
        edge = newest - window_s
        while heap and heap[0][0] <= edge:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]


def stream_observations(paths: list[Path], sensors: dict[str, Sensor], rejects: list[tuple[str, Reject]],
                        warnings: list[tuple[str, LineWarning]] | None = None, reorder_s: float = 600.0,
                        progress: Progress | None = None) -> Iterator[Observation]:
    """Every file's observations merged in time order (ties: file order, then line order),
    read as they are consumed; rejects and warnings are appended as lines are read."""
    per_file = [reordered(read_file(p, sensors, rejects, warnings, progress), reorder_s) for p in paths]
    return heapq.merge(*per_file, key=lambda o: o.time_s)


class Progress:
    """A progress line on a terminal (stderr): the share of the input bytes read, the
    observations fused and the feed time reached, at most once a second."""

    def __init__(self, paths: list[Path], out: IO[str] | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        self.sizes = {p: max(p.stat().st_size, 1) for p in paths}
        self.total = sum(self.sizes.values())
        self.finished: set[Path] = set()
        self.open: dict[Path, Any] = {}
        self.last = 0.0
        self.shown = False

    def reading(self, path: Path, fh: IO[str]) -> None:
        raw = getattr(fh, "buffer", None)
        raw = getattr(raw, "fileobj", raw)   # a gzip file: the compressed position
        if raw is not None and hasattr(raw, "tell"):
            self.open[path] = raw

    def done(self, path: Path) -> None:
        self.open.pop(path, None)
        self.finished.add(path)

    def _read(self) -> int:
        n = sum(self.sizes[p] for p in self.finished)
        for p, raw in self.open.items():
            try:
                n += min(raw.tell(), self.sizes[p])
            except (OSError, ValueError):
                pass
        return n

    def tick(self, observations: int, feed_s: float | None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        share = 100.0 * self._read() / self.total
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(feed_s)) if feed_s is not None else "-"
        self.out.write(f"\rmfc fuse: {share:5.1f} % read, {observations:,} observations, feed time {when} UTC ")
        self.out.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.out.write("\n")
            self.out.flush()


class _Rejects(list):
    """Rejected lines as they come: counted by reason and written to ``rejects_out`` at once,
    none kept (a feed of junk does not fill memory)."""

    def __init__(self, fh: IO[bytes] | None) -> None:
        super().__init__()
        self.fh, self.n = fh, 0
        self.reasons: dict[str, int] = {}

    def append(self, item: tuple[str, Reject]) -> None:  # type: ignore[override]
        name, r = item
        self.n += 1
        key = r.reason.split(":")[0]
        self.reasons[key] = self.reasons.get(key, 0) + 1
        if self.fh is not None:
            _write(self.fh, {"file": name, "line_no": r.line_no, "line": r.line, "reason": r.reason})

    def extend(self, items: Iterable[tuple[str, Reject]]) -> None:  # type: ignore[override]
        for item in items:
            self.append(item)


class _Count(list):
    """Warnings counted, not kept."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def append(self, item: object) -> None:  # type: ignore[override]
        self.n += 1

    def extend(self, items: Iterable[object]) -> None:  # type: ignore[override]
        for _ in items:
            self.n += 1


class _Counted:
    """Passes observations through, counting them and ticking the progress line."""

    def __init__(self, observations: Iterator[Observation], progress: Progress | None) -> None:
        self.it, self.progress, self.n = observations, progress, 0

    def __iter__(self) -> Iterator[Observation]:
        progress = self.progress
        for obs in self.it:
            self.n += 1
            if progress is not None and not self.n & 4095:
                progress.tick(self.n, obs.time_s)
            yield obs


def _write(fh: IO[bytes], value: dict[str, Any]) -> None:
    """One JSON line, UTF-8 (orjson: a sixth of ``json.dumps``' time on track lines)."""
    try:
        fh.write(orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError:  # what orjson refuses (e.g. a lone surrogate) the standard library writes
        fh.write(json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace") + b"\n")


class _Sink:
    """Writes track lines and alerts as they come, counting them."""

    def __init__(self, tracks_fh: IO[bytes], alerts_fh: IO[bytes]) -> None:
        self.tracks_fh, self.alerts_fh = tracks_fh, alerts_fh
        self.track_lines = self.alerts = 0

    def lines(self, lines: Iterable[TrackLine]) -> None:
        for line in lines:
            _write(self.tracks_fh, line.to_dict())
            self.track_lines += 1

    def alert(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            _write(self.alerts_fh, alert.to_dict())
            self.alerts += 1


def fuse(paths: list[Path], tracks_out: Path, alerts_out: Path, sensors: dict[str, Sensor],
         sample_every_s: float | None = None, rejects_out: Path | None = None,
         extra_zones: Iterable[tuple[str, str, Any]] = (), fusion: Fusion | None = None,
         sample_closed: bool = False, reorder_s: float = 600.0, progress: bool | None = None) -> FuseStats:
    """Fuse recorded feeds; alerts-out gets one line per alert emission (new, updated, closed).

    ``sample_closed`` (with ``sample_every_s``): a snapshot at time t takes the observations
    stamped at t too, and closes the radar scans buffered by then (see ``_sampled``).
    ``reorder_s``: the window of feed time in which each file's lines are put in time order.
    ``progress``: a progress line on stderr (None: when stderr is a terminal)."""
    if progress is None:
        progress = sys.stderr.isatty() and os.environ.get("CI") != "true"
    bar = Progress(paths) if progress else None
    fusion = fusion or Fusion(sensors, build_geography(sensors, extra_zones))
    warnings = _Count()
    with open(tracks_out, "wb") as t_fh, open(alerts_out, "wb") as a_fh, \
            (open(rejects_out, "wb") if rejects_out is not None else _nothing()) as r_fh:
        rejects = _Rejects(r_fh)
        observations = _Counted(stream_observations(paths, sensors, rejects, warnings, reorder_s, bar), bar)
        sink = _Sink(t_fh, a_fh)
        if sample_every_s:
            _sampled(fusion, observations, sample_every_s, sink, sample_closed)
        else:
            _stream(fusion, observations, sink)
    if bar is not None:
        bar.tick(observations.n, None, force=True)
        bar.close()
    return FuseStats(observations=observations.n, rejects=rejects.n, warnings=warnings.n,
                     track_lines=sink.track_lines, alerts=sink.alerts, reject_reasons=rejects.reasons)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _batches(observations: Iterable[Observation], size: int = 2000) -> Iterator[list[Observation]]:
    batch: list[Observation] = []
    for obs in observations:
        batch.append(obs)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _stream(fusion: Fusion, observations: Iterable[Observation], sink: _Sink) -> None:
    for batch in _batches(observations):
        lines, alerts = fusion.update(batch)
        sink.lines(lines)
        sink.alert(alerts)
    lines, alerts = fusion.flush(end=True)
    sink.lines(lines)
    sink.alert(alerts)


def _sampled(fusion: Fusion, observations: Iterable[Observation], every_s: float, sink: _Sink,
             closed: bool = False, batch: int = 2000) -> None:
    """Every ``every_s`` of feed time (times that are multiples of it), one line per live
    confirmed track, predicted to that time.

    By default a snapshot at t follows the observations stamped before t; a radar scan is
    processed once its scan period has passed, so a scan stamped t - period shows in it, and
    one stamped at t does not.  ``closed``: the snapshot at t follows the observations stamped
    at or before t, and the radar scans buffered then are processed at once (``Fusion.flush``
    without ending the feed): with ``every_s`` the scan period of a radar whose scans are
    stamped on its multiples (one timestamp per scan, as a plot extractor stamps a sweep),
    each snapshot is the picture right after a scan, at the scan's time.  A scan whose plots
    span a snapshot time is processed as two.  A late observation (older than a snapshot
    already taken) goes into the next one."""
    pending: list[Observation] = []
    next_t: float | None = None

    def snapshot(t: float) -> None:
        if pending:
            sink.alert(fusion.update(pending)[1])
            pending.clear()
        sink.alert(fusion.advance(t)[1])
        if closed:
            sink.alert(fusion.flush()[1])
        sink.lines(sorted(fusion.snapshot(t), key=lambda l: _id_order(l.track_id)))

    for obs in observations:
        t = obs.time_s
        if next_t is None:
            next_t = math.ceil(t / every_s) * every_s if closed else (t // every_s + 1) * every_s
        while (t > next_t) if closed else (t >= next_t):
            snapshot(next_t)
            next_t += every_s
        pending.append(obs)
        if len(pending) >= batch:
            sink.alert(fusion.update(pending)[1])
            pending.clear()
    if next_t is not None:
        snapshot(next_t)


def _id_order(track_id: str) -> tuple[int, str]:
    digits = track_id.lstrip("T")
    return (int(digits), track_id) if digits.isdigit() else (0, track_id)
