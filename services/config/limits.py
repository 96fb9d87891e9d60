"""Caps on what untrusted input may make a process hold: one frozen object, from the environment.

| variable | default | caps |
|---|---|---|
| MFC_STREAMS_PER_KEY | 8 | concurrent ``/v1/stream`` listeners per key (``429`` beyond) |
| MFC_STREAMS_TOTAL | 256 | concurrent ``/v1/stream`` listeners in one process (``429`` beyond) |
| MFC_INGEST_MAX_LINES | 100000 | lines in one ingest request (``413`` beyond) |
| MFC_INGEST_MAX_LINE_BYTES | 4096 | one input line (UTF-8 bytes); a longer one is rejected unparsed |
| MFC_INGEST_MAX_ECHOED_REJECTS | 1000 | rejects listed in an ingest reply (the rest only counted) |
| MFC_SENSORS_PER_INTEGRATOR | 1000 | sensors one owner may register through ``POST /v1/sensors`` |
| MFC_NMEA_MAX_CONNECTIONS | 64 | concurrent TCP connections of the NMEA listener |
| MFC_NMEA_IDLE_TIMEOUT_S | 300 | a TCP connection silent this long is closed |
| MFC_NMEA_BATCH_OBSERVATIONS | 500 | observations an NMEA connection (or the UDP listener) gathers before it publishes them (1: one record per observation) |
| MFC_NMEA_BATCH_WAIT_S | 0.05 | the longest an NMEA observation waits for its batch to fill: a batch is published this long after its first |
| MFC_NMEA_ALLOW | 127.0.0.0/8,::1 | source networks the NMEA listeners accept (``10.0.0.0/8,192.0.2.7``); others are refused |
| MFC_ASTERIX_MAX_DATAGRAM_BYTES | 8192 | one ASTERIX UDP datagram; a longer one is rejected undecoded |
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Mapping

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class LimitsError(ValueError):
    pass


@dataclass(frozen=True)
class Limits:
    streams_per_key: int = 8
    streams_total: int = 256
    ingest_max_lines: int = 100_000
    ingest_max_line_bytes: int = 4096
    ingest_max_echoed_rejects: int = 1000
    sensors_per_integrator: int = 1000
    nmea_max_connections: int = 64
    nmea_idle_timeout_s: float = 300.0
    nmea_batch_observations: int = 500  # an NMEA connection's batch is published when it holds this many
    nmea_batch_wait_s: float = 0.05  # ... or this long after its first observation
    nmea_allow: tuple[Network, ...] = LOOPBACK  # sources the NMEA listeners accept
    asterix_max_datagram_bytes: int = 8192  # radars keep datagrams within a frame (1472 B) or a few KB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Limits":
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, var, kind in _VARIABLES:
            text = env.get(var)
            if text is None or text == "":
                continue
            try:
                number = kind(text)
            except ValueError:
                raise LimitsError(f"{var} must be a number, not {text!r}") from None
            if number <= 0:
                raise LimitsError(f"{var} must be positive, not {text!r}")
            values[name] = number
        allow = env.get("MFC_NMEA_ALLOW", "").strip()
        if allow:
            values["nmea_allow"] = parse_networks(allow)
        return cls(**values)  # type: ignore[arg-type]

    def nmea_allows(self, address: str) -> bool:
        """Whether an NMEA listener accepts a connection or datagram from ``address``."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.nmea_allow if net.version == ip.version)


_VARIABLES = (
    ("streams_per_key", "MFC_STREAMS_PER_KEY", int),
    ("streams_total", "MFC_STREAMS_TOTAL", int),
    ("ingest_max_lines", "MFC_INGEST_MAX_LINES", int),
    ("ingest_max_line_bytes", "MFC_INGEST_MAX_LINE_BYTES", int),
    ("ingest_max_echoed_rejects", "MFC_INGEST_MAX_ECHOED_REJECTS", int),
    ("sensors_per_integrator", "MFC_SENSORS_PER_INTEGRATOR", int),
    ("nmea_max_connections", "MFC_NMEA_MAX_CONNECTIONS", int),
    ("nmea_idle_timeout_s", "MFC_NMEA_IDLE_TIMEOUT_S", float),
    ("nmea_batch_observations", "MFC_NMEA_BATCH_OBSERVATIONS", int),
    ("nmea_batch_wait_s", "MFC_NMEA_BATCH_WAIT_S", float),
    ("asterix_max_datagram_bytes", "MFC_ASTERIX_MAX_DATAGRAM_BYTES", int),
)


def parse_networks(text: str) -> tuple[Network, ...]:
    """``10.0.0.0/8, 192.0.2.7, 2001:db8::/32`` → networks (a bare address is a /32 or /128)."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise LimitsError(f"MFC_NMEA_ALLOW entry {item!r} is not an address or network") from None
    return tuple(out)
