"""Streaming NMEA 0183 AIS decoder (plus ARPA ``$--TTM``/``$--TLL`` radar targets).

``AisDecoder.feed`` takes one line at a time and returns the observations it
completes and the rejects it finds; it never raises.  Framing (timestamp
prefix, tag block, checksum) is in :mod:`ingest.nmea`, AIS payload bits are
decoded by pyais, message fields are mapped by :mod:`ingest.ais_fields`.

Time of an observation, first found wins (contract, "Input formats"): tag block
``c:`` (own or its group's), leading ISO/epoch timestamp, ``$PGHP`` on the line
before or an epoch after the checksum; else the receipt time when ``live``,
else the last time seen in this feed, else the line is rejected.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from fusion.model import Observation, Sensor
from ingest.ais_fields import check_payload, message_type, to_observation
from ingest.aiscatcher import parse_catcher_line
from ingest.arpa import ARPA_TYPES, decode_arpa
from ingest.errors import IngestError, LineWarning, Reject
from ingest.nmea import Frame, TagBlock, check_checksum, pghp_time, split_line, split_sentences

NO_TIME = "no timestamp and no earlier time in this feed"
MAX_PENDING = 128  # incomplete multi-fragment messages kept at once
FRAGMENT_MAX_AGE_S = 60.0  # an incomplete message whose latest fragment is older than this is given up
MAX_GROUPS = 256  # tag block groups remembered at once
_DOLLAR_TYPES = frozenset({"PGHP"}) | ARPA_TYPES
_TALKER = re.compile(r"^[A-Z][A-Z0-9]$")

T = TypeVar("T")
FragmentKey = tuple[str, str, str, str, int]  # station, talker, channel, seq id, count


@dataclass(slots=True)
class _Fragment:
    num: int
    count: int
    sentence: str
    payload: str
    fill: int
    time_s: float | None
    station: str | None
    line_no: int
    line: str
    receipt_s: float | None


@dataclass(slots=True)
class _Out:
    obs: list[Observation] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[LineWarning] = field(default_factory=list)


class AisDecoder:
    """Stateful line-by-line decoder for one feed (one sensor)."""

    def __init__(self, sensor_id: str = "ais", live: bool = False,
                 sensors: Mapping[str, Sensor] | None = None, max_pending: int = MAX_PENDING,
                 fragment_max_age_s: float = FRAGMENT_MAX_AGE_S) -> None:
        self.sensor_id = sensor_id
        self.max_pending, self.fragment_max_age_s = max_pending, fragment_max_age_s
        self.live = live
        self.sensors: Mapping[str, Sensor] = sensors or {}
        self.last_time_s: float | None = None
        self._pghp_time_s: float | None = None
        self._groups: OrderedDict[str, TagBlock] = OrderedDict()
        self._pending: OrderedDict[FragmentKey, list[_Fragment]] = OrderedDict()
        self._warnings: list[LineWarning] = []
        self.default_time_s: float | None = None  # batch: the time of lines before any time is seen
        self.last_sentences = 0  # sentences on the last line fed (more than one: each has its own verdict)

    def feed(self, line: str, line_no: int = 0,
             receipt_time_s: float | None = None) -> tuple[list[Observation], list[Reject]]:
        """Decode one line; returns (observations completed, rejects found).

        A line with several sentences (``!AIVDM,...*hh!AIVDM,...*hh``, with or without tag
        blocks) is decoded sentence by sentence, each with its own checksum and verdict, and
        carries a warning; ``last_sentences`` tells how many it held."""
        text = line.strip()
        self.last_sentences = 0
        if not text or text.startswith("#"):
            return [], []
        out = _Out()
        pieces = [text] if text.startswith("{") else split_sentences(text)
        self.last_sentences = len(pieces)
        for k, piece in enumerate(pieces, start=1):
            where = f"sentence {k} of {len(pieces)}: " if len(pieces) > 1 else ""
            pghp, self._pghp_time_s = self._pghp_time_s, None  # a $PGHP dates the sentence after it
            try:
                if piece.startswith("{"):
                    self._catcher(piece, line, line_no, receipt_time_s, out)
                else:
                    self._line(piece.strip(), line, line_no, receipt_time_s, pghp, out)
            except IngestError as exc:
                out.rejects.append(Reject(line_no, line, where + exc.reason))
            except Exception as exc:  # never let one line stop the feed
                out.rejects.append(Reject(line_no, line, f"{where}undecodable line: {type(exc).__name__}: {exc}"))
        if len(pieces) > 1 and sum(r.line is line for r in out.rejects) < len(pieces):  # some sentence taken
            out.warnings.append(LineWarning(line_no, line, f"{len(pieces)} sentences on one line; "
                                                           f"each judged on its own"))
        if out.warnings:
            self._warnings.extend(out.warnings)
        return out.obs, out.rejects

    def take_warnings(self) -> list[LineWarning]:
        """Lines accepted with a warning since the last call (and forget them)."""
        out, self._warnings = self._warnings, []
        return out

    def flush(self) -> list[Reject]:
        """Reject multi-fragment messages still incomplete at the end of the feed."""
        rejects = [r for parts in self._pending.values() for r in _incomplete(parts)]
        self._pending.clear()
        return rejects

    # -- one line --------------------------------------------------------------------------

    def _line(self, text: str, line: str, line_no: int, receipt: float | None,
              pghp: float | None, out: _Out) -> None:
        frame = split_line(text, _DOLLAR_TYPES)
        if frame is None:
            return
        check_checksum(frame)
        if frame.tag is not None and frame.tag.warning is not None:
            out.warnings.append(LineWarning(line_no, line, frame.tag.warning))
        tag = self._resolve_group(frame.tag)
        explicit = _first(tag.time_s if tag else None, frame.prefix_time_s, pghp, frame.trailing_time_s)
        if explicit is not None:
            self.last_time_s = explicit
        kind = frame.sentence_type
        if kind == "PGHP":
            self._pghp_time_s = pghp_time(frame.fields)
        elif kind in ARPA_TYPES:
            self._arpa(frame, explicit, receipt, tag.station if tag else None, out)
        elif frame.delimiter == "!":
            if not _TALKER.match(frame.talker):
                raise IngestError(f"malformed sentence address {frame.address!r}")
            if kind in ("VDM", "VDO"):
                frag = _fragment(frame, explicit, tag.station if tag else None, line_no, line, receipt)
                self._add_fragment(frag, frame, out)

    def _catcher(self, text: str, line: str, line_no: int, receipt: float | None, out: _Out) -> None:
        """An AIS-catcher JSON line: its NMEA sentences at its time of reception, with the
        signal power and frequency offset kept on the observations."""
        msg = parse_catcher_line(text)
        first = len(out.obs)
        for sentence in msg.sentences:
            self._line(sentence.strip(), line, line_no, receipt, msg.time_s, out)
        for obs in out.obs[first:]:
            obs.signal_db, obs.ppm = msg.signal_db, msg.ppm
            obs.station = obs.station or msg.station

    def _resolve_group(self, tag: TagBlock | None) -> TagBlock | None:
        """A tag block completed with its group's time and station (``g:n-total-id``)."""
        if tag is None or tag.group is None:
            return tag
        num, total, gid = tag.group
        known = self._groups.get(gid)
        if known is not None and num > 1:
            tag = TagBlock(time_s=_first(tag.time_s, known.time_s),
                           station=tag.station or known.station, group=tag.group)
        if num >= total:
            self._groups.pop(gid, None)
        elif tag.time_s is not None or tag.station is not None:
            self._groups[gid] = tag
            while len(self._groups) > MAX_GROUPS:
                self._groups.popitem(last=False)
        return tag

    def _time(self, explicit: float | None, receipt: float | None) -> float:
        if explicit is not None:
            return explicit
        fallback = receipt if self.live and receipt is not None else self.last_time_s
        if fallback is None:
            fallback = self.default_time_s
        if fallback is None:
            raise IngestError(NO_TIME)
        return fallback

    def _arpa(self, frame: Frame, explicit: float | None, receipt: float | None,
              station: str | None, out: _Out) -> None:
        ref = explicit if explicit is not None else (
            receipt if self.live and receipt is not None else self.last_time_s)
        obs = decode_arpa(frame.sentence_type, frame.fields, self.sensor_id,
                          self.sensors.get(self.sensor_id), ref)
        if obs is not None:
            obs.station, obs.receive_time_s = station, receipt
            self.last_time_s = obs.time_s
            out.obs.append(obs)

    # -- multi-fragment reassembly ---------------------------------------------------------

    def _add_fragment(self, frag: _Fragment, frame: Frame, out: _Out) -> None:
        if frag.count == 1:
            self._complete([frag], out)
            return
        self._expire(_when(frag), out)
        channel, seq = frame.fields[3], frame.fields[2]
        key: FragmentKey = (frag.station or "", frame.talker, channel, seq, frag.count)
        if frag.num > 1 and key not in self._pending and frag.station is None:
            key = self._stationless_match(key)
        parts = self._pending.pop(key, None)
        if frag.num == 1:
            if parts:
                out.rejects.extend(_incomplete(parts))
            self._pending[key] = [frag]
            while len(self._pending) > self.max_pending:
                out.rejects.extend(_incomplete(self._pending.popitem(last=False)[1]))
            return
        if not parts:
            raise IngestError(f"fragment {frag.num} of {frag.count} without the earlier fragments "
                              f"(sequential id {seq or 'empty'}, channel {channel or 'empty'})")
        if frag.num != len(parts) + 1:
            out.rejects.extend(_incomplete(parts))
            raise IngestError(f"out-of-order fragment: expected fragment {len(parts) + 1} "
                              f"of {frag.count}, got {frag.num}")
        parts.append(frag)
        if frag.num < frag.count:
            self._pending[key] = parts
        else:
            self._complete(parts, out)

    def _expire(self, now_s: float | None, out: _Out) -> None:
        """Give up incomplete messages whose latest fragment is over ``fragment_max_age_s`` older
        than ``now_s`` (receipt time when live, else feed time).  The pending table is in order
        of the latest fragment's arrival, so this looks only at the messages it gives up."""
        while now_s is not None and self._pending:
            key, parts = next(iter(self._pending.items()))
            then = _when(parts[-1])
            if then is None or now_s - then <= self.fragment_max_age_s:
                return
            del self._pending[key]
            out.rejects.extend(_incomplete(parts, f" (no further fragment within {self.fragment_max_age_s:.0f} s)"))

    def _stationless_match(self, key: FragmentKey) -> FragmentKey:
        """The one pending message matching ``key`` but for its station (later fragments
        often carry no ``s:``); ``key`` itself when there is none or it is ambiguous."""
        found = [k for k in self._pending if k[1:] == key[1:]]
        return found[0] if len(found) == 1 else key

    def _complete(self, parts: list[_Fragment], out: _Out) -> None:
        last = parts[-1]
        try:
            obs = self._decode(parts, out)
        except IngestError as exc:
            where = f" (message from lines {parts[0].line_no}-{last.line_no})" if len(parts) > 1 else ""
            out.rejects.append(Reject(last.line_no, last.line, exc.reason + where))
            return
        if obs is not None:
            out.obs.append(obs)

    def _decode(self, parts: list[_Fragment], out: _Out) -> Observation | None:
        payload, fill = "".join(p.payload for p in parts), parts[-1].fill
        msg_type = message_type(payload)
        handled, warning = check_payload(msg_type, payload, fill)
        if not handled:
            return None  # a valid message type this system does not use
        import pyais  # here, not at the top: a radar-only run never loads it (a tenth of a second)
        try:
            message = pyais.decode(*(p.sentence for p in parts))
        except Exception as exc:
            raise IngestError(f"cannot decode AIS type {msg_type}: {exc}") from None
        obs = to_observation(msg_type, message.asdict(enum_as_int=True), self.sensor_id)
        if obs is None:
            return None
        obs.time_s = self._time(_first(*(p.time_s for p in parts)), parts[0].receipt_s)
        obs.station = _first(*(p.station for p in parts))
        obs.receive_time_s = parts[-1].receipt_s
        if warning is not None:
            out.warnings.append(LineWarning(parts[-1].line_no, parts[-1].line, warning))
        return obs


def decode_file_lines(lines: Iterable[str], sensor_id: str = "ais",
                      sensors: Mapping[str, Sensor] | None = None
                      ) -> Iterator[tuple[int, Observation | Reject]]:
    """Batch decode: (1-based line number, observation or reject), flushing at the end."""
    decoder = AisDecoder(sensor_id=sensor_id, sensors=sensors)
    for line_no, line in enumerate(lines, start=1):
        observations, rejects = decoder.feed(line.rstrip("\r\n"), line_no)
        for reject in rejects:
            yield reject.line_no, reject
        for obs in observations:
            yield line_no, obs
    for reject in decoder.flush():
        yield reject.line_no, reject


def _fragment(frame: Frame, time_s: float | None, station: str | None, line_no: int,
              line: str, receipt: float | None) -> _Fragment:
    f = frame.fields
    if len(f) != 6:
        raise IngestError(f"expected 7 fields in {frame.address} sentence, got {len(f) + 1}")
    count_s, num_s, seq, _channel, payload, fill_s = f
    if not (count_s.isdigit() and 1 <= int(count_s) <= 9):
        raise IngestError(f"bad fragment count {count_s!r} (expected 1-9)")
    count = int(count_s)
    if not (num_s.isdigit() and 1 <= int(num_s) <= count):
        raise IngestError(f"bad fragment number {num_s!r} (expected 1-{count})")
    if seq and not seq.isdigit():
        raise IngestError(f"bad sequential message id {seq!r} (expected a digit or empty)")
    if not payload:
        raise IngestError("empty payload")
    if not (len(fill_s) == 1 and fill_s.isdigit() and int(fill_s) <= 5):
        raise IngestError(f"bad fill bits {fill_s!r} (expected 0-5)")
    return _Fragment(int(num_s), count, frame.sentence, payload, int(fill_s), time_s, station,
                     line_no, line, receipt)


def _when(frag: _Fragment) -> float | None:
    """The time a fragment arrived, for ageing: its receipt time, else its feed time."""
    return frag.receipt_s if frag.receipt_s is not None else frag.time_s


def _incomplete(parts: list[_Fragment], why: str = "") -> list[Reject]:
    reason = f"incomplete multi-fragment message: got {len(parts)} of {parts[0].count} fragments{why}"
    return [Reject(p.line_no, p.line, reason) for p in parts]


def _first(*values: T | None) -> T | None:
    for value in values:
        if value is not None:
            return value
    return None
