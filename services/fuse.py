"""``mfc fuse``: batch fusion of recorded feeds, as fast as possible, deterministic.

Files ending in ``.jsonl``/``.json`` are radar JSON Lines (or AIS-catcher's JSON output, told
by its ``"class": "AIS"``); anything else is NMEA (AIS, and ARPA ``TTM``/``TLL``).  ``.gz`` files are read transparently.
All observations are merged in time order (ties keep file and line order)
and pushed through the tracker; a line with no time of its own takes the last
time seen in its file, before any the first time found in the file, and in a file
with no time at all the file's modification time.
"""

from __future__ import annotations

import bisect
import gzip
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fusion.model import Alert, Observation, Sensor, TrackLine
from fusion.pipeline import Fusion
from ingest.ais import AisDecoder
from ingest.asterix import decode_asterix
from ingest.pcap import udp_payloads
from ingest.errors import IngestError, LineWarning, Reject
from ingest.radar import decode_radar_line

from .geography import build_geography


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
              warnings: list[tuple[str, LineWarning]] | None = None) -> Iterator[Observation]:
    """Observations of one file; rejects (and warnings) are appended with the file name."""
    if path.suffix in (".pcap", ".cap"):
        yield from _read_asterix_capture(path, sensors, rejects)
        return
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
        decoder.default_time_s = _first_time(path, sensors)
        for no, line in enumerate(fh, start=1):
            observations, bad = decoder.feed(line.rstrip("\r\n"), line_no=no)
            rejects.extend((path.name, r) for r in bad)
            if warnings is not None:
                warnings.extend((path.name, w) for w in decoder.take_warnings())
            for obs in observations:
                yield _by_station(obs, sensors)
        rejects.extend((path.name, r) for r in decoder.flush())


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


def _write(fh: IO[str], value: dict[str, Any]) -> None:
    fh.write(json.dumps(value, separators=(", ", ": "), ensure_ascii=False))
    fh.write("\n")


class _Sink:
    """Writes track lines and alerts as they come, counting them."""

    def __init__(self, tracks_fh: IO[str], alerts_fh: IO[str]) -> None:
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
         sample_closed: bool = False) -> FuseStats:
    """Fuse recorded feeds; alerts-out gets one line per alert emission (new, updated, closed).

    ``sample_closed`` (with ``sample_every_s``): a snapshot at time t takes the observations
    stamped at t too, and closes the radar scans buffered by then (see ``_sampled``)."""
    warnings: list[tuple[str, LineWarning]] = []
    observations, rejects = load_observations(paths, sensors, warnings)
    fusion = fusion or Fusion(sensors, build_geography(sensors, extra_zones))
    stats = FuseStats(observations=len(observations), rejects=len(rejects), warnings=len(warnings))
    for _, r in rejects:
        key = r.reason.split(":")[0]
        stats.reject_reasons[key] = stats.reject_reasons.get(key, 0) + 1
    with open(tracks_out, "w", encoding="utf-8") as t_fh, open(alerts_out, "w", encoding="utf-8") as a_fh:
        sink = _Sink(t_fh, a_fh)
        if sample_every_s:
            _sampled(fusion, observations, sample_every_s, sink, sample_closed)
        else:
            _stream(fusion, observations, sink)
    stats.track_lines, stats.alerts = sink.track_lines, sink.alerts
    if rejects_out is not None:
        with open(rejects_out, "w", encoding="utf-8") as fh:
            for name, r in rejects:
                _write(fh, {"file": name, "line_no": r.line_no, "line": r.line, "reason": r.reason})
    return stats


def _stream(fusion: Fusion, observations: list[Observation], sink: _Sink, batch: int = 2000) -> None:
    for i in range(0, len(observations), batch):
        lines, alerts = fusion.update(observations[i:i + batch])
        sink.lines(lines)
        sink.alert(alerts)
    lines, alerts = fusion.flush()
    sink.lines(lines)
    sink.alert(alerts)


def _sampled(fusion: Fusion, observations: list[Observation], every_s: float, sink: _Sink,
             closed: bool = False) -> None:
    """Every ``every_s`` of feed time (times that are multiples of it), one line per live
    confirmed track, predicted to that time.

    By default a snapshot at t follows the observations stamped before t; a radar scan is
    processed once its scan period has passed, so a scan stamped t - period shows in it, and
    one stamped at t does not.  ``closed``: the snapshot at t follows the observations stamped
    at or before t, and the radar scans buffered then are processed at once (``Fusion.flush``
    without ending the feed): with ``every_s`` the scan period of a radar whose scans are
    stamped on its multiples (one timestamp per scan, as a plot extractor stamps a sweep),
    each snapshot is the picture right after a scan, at the scan's time.  A scan whose plots
    span a snapshot time is processed as two."""
    if not observations:
        return
    times = [o.time_s for o in observations]
    i = 0
    next_t = math.ceil(times[0] / every_s) * every_s if closed else (times[0] // every_s + 1) * every_s
    cut = bisect.bisect_right if closed else bisect.bisect_left
    while True:
        j = cut(times, next_t, lo=i)
        for k in range(i, j, 2000):
            sink.alert(fusion.update(observations[k:min(j, k + 2000)])[1])
        sink.alert(fusion.advance(next_t)[1])
        if closed:
            sink.alert(fusion.flush()[1])
        sink.lines(sorted(fusion.snapshot(next_t), key=lambda l: _id_order(l.track_id)))
        i = j
        if i >= len(times):
            return
        next_t += every_s


def _id_order(track_id: str) -> tuple[int, str]:
    digits = track_id.lstrip("T")
    return (int(digits), track_id) if digits.isdigit() else (0, track_id)
