"""``mfc fuse``: batch fusion of recorded feeds, as fast as possible, deterministic.

Files ending in ``.jsonl``/``.json`` are radar JSON Lines; anything else is
NMEA (AIS, and ARPA ``TTM``/``TLL``).  ``.gz`` files are read transparently.
All observations are merged in time order (ties keep file and line order)
and pushed through the tracker; a line with no time of its own takes the last
time seen in its file.
"""

from __future__ import annotations

import bisect
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fusion.model import Observation, Sensor
from fusion.tracker import Tracker
from ingest.ais import AisDecoder
from ingest.errors import IngestError, Reject
from ingest.radar import decode_radar_line


@dataclass
class FuseStats:
    observations: int = 0
    rejects: int = 0
    track_lines: int = 0
    alerts: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace", newline=None)


def is_radar_file(path: Path) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.endswith((".jsonl", ".json", ".ndjson"))


def read_file(path: Path, sensors: dict[str, Sensor], rejects: list[tuple[str, Reject]]) -> Iterator[Observation]:
    """Observations of one file; rejects are appended with the file name."""
    with open_text(path) as fh:
        if is_radar_file(path):
            for no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield decode_radar_line(line, sensors)
                except IngestError as exc:
                    rejects.append((path.name, Reject(no, line.rstrip("\n"), exc.reason)))
            return
        decoder = AisDecoder(sensor_id=path.stem, live=False, sensors=sensors)
        for no, line in enumerate(fh, start=1):
            observations, bad = decoder.feed(line.rstrip("\r\n"), line_no=no)
            rejects.extend((path.name, r) for r in bad)
            yield from observations
        rejects.extend((path.name, r) for r in decoder.flush())


def load_observations(paths: list[Path], sensors: dict[str, Sensor]) -> tuple[list[Observation], list[tuple[str, Reject]]]:
    rejects: list[tuple[str, Reject]] = []
    observations: list[Observation] = []
    for path in paths:
        observations.extend(read_file(path, sensors, rejects))
    observations.sort(key=lambda o: o.time_s)  # stable: ties keep file and line order
    return observations, rejects


def _write(fh: IO[str], value: dict[str, Any]) -> None:
    fh.write(json.dumps(value, separators=(", ", ": "), ensure_ascii=False))
    fh.write("\n")


def fuse(paths: list[Path], tracks_out: Path, alerts_out: Path, sensors: dict[str, Sensor],
         sample_every_s: float | None = None, rejects_out: Path | None = None,
         tracker: Tracker | None = None) -> FuseStats:
    observations, rejects = load_observations(paths, sensors)
    tracker = tracker or Tracker(sensors)
    stats = FuseStats(observations=len(observations), rejects=len(rejects))
    for _, r in rejects:
        key = r.reason.split(":")[0]
        stats.reject_reasons[key] = stats.reject_reasons.get(key, 0) + 1
    with open(tracks_out, "w", encoding="utf-8") as t_fh, open(alerts_out, "w", encoding="utf-8"):
        if sample_every_s:
            stats.track_lines = _sampled(tracker, observations, sample_every_s, t_fh)
        else:
            for line in _stream(tracker, observations):
                _write(t_fh, line.to_dict())
                stats.track_lines += 1
    if rejects_out is not None:
        with open(rejects_out, "w", encoding="utf-8") as fh:
            for name, r in rejects:
                _write(fh, {"file": name, "line_no": r.line_no, "line": r.line, "reason": r.reason})
    return stats


def _stream(tracker: Tracker, observations: list[Observation], batch: int = 2000):
    for i in range(0, len(observations), batch):
        yield from tracker.update(observations[i:i + batch])
    yield from tracker.flush()


def _sampled(tracker: Tracker, observations: list[Observation], every_s: float, fh: IO[str]) -> int:
    """Every ``every_s`` of feed time, one line per live confirmed track, predicted to that time."""
    if not observations:
        return 0
    times = [o.time_s for o in observations]
    written, i = 0, 0
    next_t = (times[0] // every_s + 1) * every_s
    while True:
        j = bisect.bisect_left(times, next_t, lo=i)
        tracker.update(observations[i:j])
        tracker.advance(next_t)
        for line in sorted(tracker.snapshot(next_t), key=lambda l: _id_order(l.track_id)):
            _write(fh, line.to_dict())
            written += 1
        i = j
        if i >= len(times):
            return written
        next_t += every_s


def _id_order(track_id: str) -> tuple[int, str]:
    digits = track_id.lstrip("T")
    return (int(digits), track_id) if digits.isdigit() else (0, track_id)
