"""UDP payloads from a classic libpcap capture (how ASTERIX radar feeds are recorded).

Reads Ethernet (with 802.1Q tags), Linux cooked (SLL) and raw-IP link types, IPv4 and IPv6,
and yields each UDP datagram's payload with its capture time.  Fragmented IP datagrams and
other protocols are skipped and counted.  pcapng files are refused with a reason (convert them
with ``editcap -F pcap``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ingest.errors import IngestError

_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
          b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
ETHERNET, RAW_IP, LINUX_SLL, RAW_IP_2 = 1, 101, 113, 12


@dataclass
class PcapStats:
    packets: int = 0
    udp: int = 0
    skipped: int = 0


def udp_payloads(fh: BinaryIO, stats: PcapStats | None = None) -> Iterator[tuple[float, bytes]]:
    """(capture time in epoch seconds, UDP payload) for every UDP datagram of the capture."""
    stats = stats if stats is not None else PcapStats()
    header = fh.read(24)
    if header[:4] == b"\x0a\x0d\x0d\x0a":
        raise IngestError("pcapng capture: convert it to classic pcap first (editcap -F pcap IN OUT)")
    if len(header) < 24 or header[:4] not in _MAGIC:
        raise IngestError("not a pcap capture (bad magic number)")
    order, tick = _MAGIC[header[:4]]
    link = struct.unpack(order + "I", header[20:24])[0] & 0x0FFFFFFF
    while True:
        rec = fh.read(16)
        if len(rec) < 16:
            return
        ts, frac, incl, _ = struct.unpack(order + "IIII", rec)
        data = fh.read(incl)
        if len(data) < incl:
            raise IngestError(f"capture truncated inside packet {stats.packets + 1}")
        stats.packets += 1
        payload = _udp(_network(link, data))
        if payload is None:
            stats.skipped += 1
            continue
        stats.udp += 1
        yield ts + frac * tick, payload


def _network(link: int, frame: bytes) -> bytes | None:
    if link == ETHERNET:
        off, ethertype = 14, frame[12:14]
        while ethertype in (b"\x81\x00", b"\x88\xa8") and len(frame) >= off + 4:
            ethertype, off = frame[off + 2:off + 4], off + 4
        return frame[off:] if ethertype in (b"\x08\x00", b"\x86\xdd") else None
    if link == LINUX_SLL:
        return frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if link in (RAW_IP, RAW_IP_2):
        return frame
    return None


def _udp(ip: bytes | None) -> bytes | None:
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        flags_frag = struct.unpack(">H", ip[6:8])[0]
        if ip[9] != 17 or flags_frag & 0x3FFF:  # not UDP, or a fragment
            return None
        udp = ip[ihl:]
    elif version == 6 and len(ip) >= 40 and ip[6] == 17:
        udp = ip[40:]
    else:
        return None
    if len(udp) < 8:
        return None
    length = struct.unpack(">H", udp[4:6])[0]
    return udp[8:length] if 8 <= length <= len(udp) else udp[8:]
