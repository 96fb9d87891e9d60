"""NMEA 0183 line framing: leading timestamp, 4.10 tag block, sentence, checksum.

A line looks like ``[timestamp ][\\tag block\\]!AIVDM,...*hh[,epoch_ms]``.
:func:`split_line` cuts it into a :class:`Frame` without judging the sentence
type; the caller decides what to ignore and then calls :func:`check_checksum`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ingest.errors import IngestError
from ingest.timeparse import TimeParseError, epoch_from_number, parse_time

_STARTS = "\\!$"
_HEX2 = re.compile(r"^[0-9A-Fa-f]{2}$")
_GROUP = re.compile(r"^(\d+)-(\d+)-(\S+)$")


@dataclass(slots=True, frozen=True)
class TagBlock:
    time_s: float | None = None
    station: str | None = None
    group: tuple[int, int, str] | None = None  # (sentence number, total, group id)
    warning: str | None = None  # a checksum that does not match: accepted if the sentence's is good


@dataclass(slots=True)
class Frame:
    """One line cut into its parts (checksum not yet judged)."""

    sentence: str  # from the '!' or '$' through '*hh'
    delimiter: str  # '!' or '$'
    address: str  # e.g. 'AIVDM', 'RATTM', 'PGHP'
    fields: list[str]  # data fields after the address
    stated_checksum: str
    computed_checksum: str
    prefix_time_s: float | None = None
    tag: TagBlock | None = None
    trailing_time_s: float | None = None

    @property
    def sentence_type(self) -> str:
        """'VDM', 'TTM', ... ; proprietary sentences keep their whole address ('PGHP')."""
        return self.address if self.address.startswith("P") else self.address[2:]

    @property
    def talker(self) -> str:
        return "" if self.address.startswith("P") else self.address[:2]


def nmea_checksum(body: str) -> str:
    """XOR of all characters, as two upper-case hex digits."""
    data = body.encode("latin-1", errors="replace")
    # fold the bytes onto each other as one big integer: log2(n) steps instead of n
    n, value = len(data), int.from_bytes(data, "little")
    while n > 1:
        half = (n + 1) // 2
        value = (value & ((1 << (8 * half)) - 1)) ^ (value >> (8 * half))
        n = half
    return f"{value:02X}"


def check_checksum(frame: Frame) -> None:
    if frame.stated_checksum.upper() != frame.computed_checksum:
        raise IngestError(f"bad checksum: computed {frame.computed_checksum}, "
                          f"sentence says {frame.stated_checksum.upper()}")


def split_sentences(line: str) -> list[str]:
    """A line cut before each further sentence that follows a sentence's checksum.

    Real feeds sometimes write two sentences on one line, with or without tag blocks:
    ``!AIVDM,...*hh!AIVDM,...*hh`` or ``\\c:..*hh\\!AIVDM,...*hh\\g:2-2-1*hh\\!AIVDM,...*hh``.
    A further sentence starts at the first ``\\``, ``!`` or ``$`` after a sentence's ``*hh``
    when a ``*`` follows it (so a stray ``!`` after a checksum is not a sentence: the line stays
    whole and is rejected for the text after its checksum).  The AIS payload alphabet has none of
    ``\\!$*``, so these marks cannot come from inside a payload.  One piece for most lines."""
    if line.count("!") + line.count("$") < 2:
        return [line]
    pieces, start = [], 0
    while True:
        at = _sentence_at(line, start)
        star = line.find("*", at + 1) if at >= 0 else -1
        if star < 0:
            break
        nxt = min((i for i in (line.find(c, star + 3) for c in _STARTS) if i >= 0), default=-1)
        if nxt < 0 or line.find("*", nxt + 1) < 0:
            break
        pieces.append(line[start:nxt])
        start = nxt
    pieces.append(line[start:])
    return pieces


def _sentence_at(line: str, pos: int) -> int:
    """Index of the '!' or '$' of the sentence at or after ``pos``, past a tag block; -1 if none."""
    at = min((i for i in (line.find(c, pos) for c in _STARTS) if i >= 0), default=-1)
    if at >= 0 and line[at] == "\\":
        end = line.find("\\", at + 1)
        if end < 0:
            return -1
        at = min((i for i in (line.find(c, end + 1) for c in "!$") if i >= 0), default=-1)
    return at


def split_line(line: str, dollar_types: frozenset[str] = frozenset()) -> Frame | None:
    """Cut a stripped, non-empty line into a Frame; IngestError if it is not NMEA.

    ``$`` sentences whose type is not in ``dollar_types`` give None (ignored).
    """
    start = min((i for i in (line.find(c) for c in _STARTS) if i >= 0), default=-1)
    if start < 0:
        raise IngestError("not an NMEA sentence: no '!', '$' or tag block start")
    prefix_time = _prefix_time(line[:start].strip())
    rest, tag = line[start:], None
    if rest.startswith("\\"):
        end = rest.find("\\", 1)
        if end < 0:
            raise IngestError("unterminated tag block: no closing '\\'")
        tag, rest = parse_tag_block(rest[1:end]), rest[end + 1:].lstrip()
    if not rest or rest[0] not in "!$":
        raise IngestError(f"expected '!' or '$' to start the sentence, got {_show(rest)}")
    if rest[0] == "$" and _dollar_type(rest) not in dollar_types:
        return None
    frame = _split_sentence(rest)
    frame.prefix_time_s, frame.tag = prefix_time, tag
    return frame


def _dollar_type(rest: str) -> str:
    address = rest[1:].split(",", 1)[0].split("*", 1)[0]
    return address if address.startswith("P") else address[2:]


def parse_tag_block(text: str) -> TagBlock:
    """Parse ``s:rcv1,c:1732435200,g:1-2-73*hh``.

    A checksum that does not match (some feeds write every one as ``*00``, others one hex
    digit) is not a reject: it is kept as the tag block's ``warning``, and the line is
    accepted when the sentence's own checksum is good."""
    data, warning = text, None
    if "*" in text:
        data, stated = text.rsplit("*", 1)
        if not _HEX2.match(stated):
            warning = f"bad tag block checksum field {stated!r} (expected two hex digits)"
        elif stated.upper() != (computed := nmea_checksum(data)):
            warning = f"bad tag block checksum: computed {computed}, tag block says {stated.upper()}"
    time_s, station, group = None, None, None
    for item in filter(None, data.split(",")):
        key, sep, value = item.partition(":")
        if not sep:
            raise IngestError(f"malformed tag block field {item!r} (expected key:value)")
        if key == "c":
            time_s = _tag_time(value)
        elif key == "s":
            station = value or None
        elif key == "g":
            group = _tag_group(value)
    return TagBlock(time_s=time_s, station=station, group=group, warning=warning)


def _tag_time(value: str) -> float:
    try:
        return epoch_from_number(float(value))
    except (ValueError, TimeParseError) as exc:
        raise IngestError(f"bad tag block time 'c:{value}': {exc}") from None


def _tag_group(value: str) -> tuple[int, int, str]:
    match = _GROUP.match(value)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise IngestError(f"bad tag block group 'g:{value}' (expected n-total-id with 1 <= n <= total)")
    return int(match[1]), int(match[2]), match[3]


def _prefix_time(prefix: str) -> float | None:
    if not prefix:
        return None
    try:
        return parse_time(prefix)
    except TimeParseError as exc:
        raise IngestError(f"bad leading timestamp {_show(prefix)}: {exc}") from None


def _split_sentence(rest: str) -> Frame:
    if not rest.isascii():
        raise IngestError("non-ASCII character in sentence")
    star = rest.find("*")
    if star < 0:
        raise IngestError("missing checksum: no '*' in sentence (truncated line?)")
    stated, tail = rest[star + 1:star + 3], rest[star + 3:]
    if not _HEX2.match(stated):
        raise IngestError(f"bad checksum field {_show(rest[star + 1:])} (expected two hex digits)")
    body = rest[1:star]
    address, *fields = body.split(",")
    return Frame(sentence=rest[:star + 3], delimiter=rest[0], address=address, fields=fields,
                 stated_checksum=stated, computed_checksum=nmea_checksum(body),
                 trailing_time_s=_trailing_time(tail))


def _trailing_time(tail: str) -> float | None:
    tail = tail.strip()
    if not tail:
        return None
    if not tail.startswith(",") or not tail[1:].strip().isdigit():
        raise IngestError(f"unexpected text after checksum: {_show(tail)}")
    try:
        return epoch_from_number(float(tail[1:]))
    except TimeParseError as exc:
        raise IngestError(f"bad epoch after checksum: {exc}") from None


def _show(text: str, limit: int = 24) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def pghp_time(fields: list[str]) -> float | None:
    """Time from ``$PGHP,1,yyyy,mm,dd,hh,mm,ss,ms,...`` (other PGHP types: None)."""
    if not fields or fields[0] != "1":
        return None
    try:
        y, mo, d, h, mi, s, ms = (int(v) for v in fields[1:8])
        return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=timezone.utc).timestamp()
    except ValueError as exc:
        raise IngestError(f"bad PGHP time {','.join(fields[1:8])!r}: {exc}") from None
