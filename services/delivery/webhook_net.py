"""Where a webhook may point: the address policy, checked when a subscription is made and
again before every send (DNS may have changed since).

A webhook URL must be HTTPS to a host whose every resolved address is a public unicast
address: no loopback, private (RFC 1918), CGNAT (100.64/10), link-local, multicast,
reserved, unspecified, documentation, IPv6 unique-local or link-local, IPv4 hidden inside
IPv6 (mapped, 6to4, NAT64) that is one of those, no cloud metadata address, and none of this
deployment's own endpoints (broker, database, API).  ``allow_loopback_http`` (setting
``MFC_WEBHOOK_ALLOW_LOOPBACK_HTTP=1``, for tests and development only) lets loopback
addresses through, over plain HTTP too.

``check_target`` returns the checked address; the sender connects to that address and to
nothing else (``services.delivery.webhook_http``), so a second DNS answer cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from services.config.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA = {  # cloud instance-metadata services, named so that the refusal says what they are
    ipaddress.ip_address("169.254.169.254"): "cloud metadata (AWS, GCP, Azure, OpenStack)",
    ipaddress.ip_address("169.254.170.2"): "cloud metadata (AWS ECS)",
    ipaddress.ip_address("fd00:ec2::254"): "cloud metadata (AWS IPv6)",
    ipaddress.ip_address("100.100.100.200"): "cloud metadata (Alibaba)",
    ipaddress.ip_address("192.0.0.192"): "cloud metadata (Oracle)",
}
RANGES = [(ipaddress.ip_network(net), why) for net, why in [
    ("100.64.0.0/10", "carrier-grade NAT"), ("64:ff9b:1::/48", "local NAT64"),
    ("fc00::/7", "IPv6 unique-local"), ("fe80::/10", "IPv6 link-local"), ("fec0::/10", "IPv6 site-local"),
]]


class WebhookAddressError(ValueError):
    """A webhook URL or address this deployment refuses to send to, with the reason."""


class WebhookResolveError(WebhookAddressError):
    """The webhook's host name did not resolve (now: it may later)."""


def default_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), as the system resolver answers."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class WebhookPolicy:
    allow_loopback_http: bool = False
    denied: frozenset[tuple[str, int]] = frozenset()  # this deployment's own (address, port)s
    resolver: Resolver = field(default=default_resolver, compare=False)


@dataclass(frozen=True)
class Target:
    """A checked webhook destination: connect to ``ip``, speak to ``host``."""
    scheme: str
    host: str
    port: int
    path: str
    ip: str


def blocked_reason(ip: IPAddress, allow_loopback: bool = False) -> str | None:
    """Why ``ip`` may not receive webhooks, or None when it may."""
    if ip in METADATA:
        return METADATA[ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or _nat64(ip)
        if inner is not None:
            why = blocked_reason(inner, allow_loopback)
            return None if why is None else f"IPv6 address embedding {inner}: {why}"
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    for net, why in RANGES:
        if ip in net:
            return why
    for flag in ("unspecified", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{flag}"):
            return flag.replace("_", "-")
    if not ip.is_global:
        return "not a public address"
    return None


def _nat64(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def split_url(url: object, policy: WebhookPolicy) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of a webhook URL, or the reason it is refused."""
    if not isinstance(url, str):
        raise WebhookAddressError("a webhook needs delivery.url, an https URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookAddressError("a webhook needs delivery.url, an https URL")
    if parts.scheme == "http" and not policy.allow_loopback_http:
        raise WebhookAddressError("a webhook URL must be https (plain http is allowed only to loopback, "
                                  "with MFC_WEBHOOK_ALLOW_LOOPBACK_HTTP=1, for tests)")
    if parts.username is not None or parts.password is not None:
        raise WebhookAddressError("a webhook URL may not carry a user name or password")
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        raise WebhookAddressError("a webhook URL must be ASCII without spaces or control characters "
                                  "(an international host name in its xn-- form, a path %-encoded)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookAddressError(f"webhook URL port: {exc}") from None
    path = parts.path or "/"
    return parts.scheme, parts.hostname, port, path + (f"?{parts.query}" if parts.query else "")


def resolve(host: str, port: int, policy: WebhookPolicy) -> list[IPAddress]:
    """The addresses of ``host`` (itself when it is an address literal)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = policy.resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise WebhookResolveError(f"cannot resolve webhook host {host!r}: {exc}") from None
    if not found:
        raise WebhookResolveError(f"webhook host {host!r} resolves to no address")
    return [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]


def check_target(url: object, policy: WebhookPolicy) -> Target:
    """Resolve and check a webhook URL now; every address the name has must be allowed."""
    scheme, host, port, path = split_url(url, policy)
    ips = resolve(host, port, policy)
    for ip in ips:
        why = blocked_reason(ip, policy.allow_loopback_http)
        plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
        if why is None and (str(plain), port) in policy.denied:
            why = "an endpoint of this deployment (broker, database or API)"
        if why is not None:
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise WebhookAddressError(f"webhook address {shown} refused: {why}")
    if scheme == "http" and not all(ip.is_loopback for ip in ips):
        raise WebhookAddressError("plain http webhooks are allowed only to loopback; use https")
    return Target(scheme, host, port, path, str(ips[0]))


def deployment_endpoints(hosts: list[tuple[str, int]], resolver: Resolver = default_resolver
                         ) -> frozenset[tuple[str, int]]:
    """The (address, port)s of this deployment's own endpoints, which webhooks may not reach."""
    out: set[tuple[str, int]] = set()
    for host, port in hosts:
        try:
            out.update((str(ip), port) for ip in resolve(host, port, WebhookPolicy(resolver=resolver)))
        except (WebhookAddressError, ValueError):
            continue  # a name that does not resolve here is no address to deny
    return frozenset(out)


def deployment_policy(settings: "Settings", resolver: Resolver = default_resolver) -> WebhookPolicy:
    """The policy of a process: its loopback setting, and its broker, database and API denied."""
    hosts = [(settings.host, settings.port)]
    if settings.bus.startswith("kafka://"):
        hosts += [_host_port(f"//{h}", 9092) for h in settings.bus.removeprefix("kafka://").split(",")]
    if "://" in settings.db and not settings.db.startswith("sqlite"):
        hosts.append(_host_port(settings.db, 5432))
    return WebhookPolicy(settings.webhook_allow_loopback_http,
                         deployment_endpoints([(h, p) for h, p in hosts if h], resolver), resolver)


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        return parts.hostname or "", parts.port or default_port
    except ValueError:
        return "", 0
