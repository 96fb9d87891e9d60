"""One webhook POST to a checked, pinned address, within a total deadline.

The connection goes to ``Target.ip`` (the address the policy checked), while the request
names the host (``Host`` header) and TLS verifies the host's certificate (SNI and hostname
check against ``Target.host``).  Redirects are never followed.  The whole attempt (connect,
TLS, send, status, headers, body) must finish by one deadline: a watchdog shuts the socket
when it passes, so a receiver that trickles bytes cannot hold the sender.  At most
``max_response_bytes`` of the answer are read; the rest is left unread and the
connection closed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from services.delivery.webhook_net import Target


class WebhookSendError(OSError):
    """An attempt that got no HTTP answer, with the reason."""


@dataclass(frozen=True)
class Answer:
    status: int
    location: str | None  # of a redirect, which is not followed
    body: bytes           # at most max_response_bytes
    truncated: bool


class _Pinned:
    """Mixin: connect to the pinned address, whatever ``self.host`` resolves to now.  ``guard``
    is a duplicate of the socket's descriptor: shutting it down ends a blocked TLS handshake,
    read or write on the connection (the TLS layer takes the original socket over)."""
    pinned_ip: str
    guard: socket.socket | None = None

    def _pinned_socket(self) -> socket.socket:
        sock = socket.create_connection((self.pinned_ip, self.port), self.timeout)  # type: ignore[attr-defined]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.guard = sock.dup()
        return sock

    def close(self) -> None:
        super().close()  # type: ignore[misc]
        if self.guard is not None:
            self.guard.close()
            self.guard = None


class PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    def __init__(self, target: Target, timeout_s: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s)
        self.pinned_ip = target.ip

    def connect(self) -> None:
        self.sock = self._pinned_socket()


class PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout_s: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s, context=context)
        self.pinned_ip = target.ip
        self.tls_context = context

    def connect(self) -> None:
        self.sock = self.tls_context.wrap_socket(self._pinned_socket(), server_hostname=self.host)


class _Watchdog:
    """Shuts a connection's socket down at the deadline, ending any blocked read or write."""

    def __init__(self, conn: PinnedHTTPConnection | PinnedHTTPSConnection, deadline_s: float) -> None:
        self.conn, self.fired = conn, False
        self.timer = threading.Timer(deadline_s, self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        guard = self.conn.guard
        if guard is not None:
            try:  # shutdown acts on the connection itself, not on one descriptor of it
                guard.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "_Watchdog":
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()
        self.conn.close()


def post(target: Target, body: bytes, headers: dict[str, str], deadline_s: float = 10.0,
         max_response_bytes: int = 65_536, tls: ssl.SSLContext | None = None) -> Answer:
    """POST ``body`` to ``target``; the HTTP answer, or ``WebhookSendError`` with the reason."""
    conn: PinnedHTTPConnection | PinnedHTTPSConnection
    if target.scheme == "https":
        conn = PinnedHTTPSConnection(target, deadline_s, tls or ssl.create_default_context())
    else:
        conn = PinnedHTTPConnection(target, deadline_s)
    started = time.monotonic()
    with _Watchdog(conn, deadline_s) as dog:
        try:
            conn.request("POST", target.path, body=body, headers=headers)
            resp = conn.getresponse()
            data, truncated = _read_capped(resp, max_response_bytes)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if dog.fired or time.monotonic() - started >= deadline_s:
                raise WebhookSendError(f"no complete answer within the {deadline_s:g} s deadline") from None
            raise WebhookSendError(f"{type(exc).__name__}: {exc}") from None
        if dog.fired:
            raise WebhookSendError(f"no complete answer within the {deadline_s:g} s deadline")
    return Answer(resp.status, resp.getheader("Location"), data, truncated)


def _read_capped(resp: http.client.HTTPResponse, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    got = 0
    while got <= cap:
        chunk = resp.read1(min(16_384, cap + 1 - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    data = b"".join(chunks)
    return data[:cap], len(data) > cap
