"""Webhook receivers for tests: real HTTP(S) servers on 127.0.0.1 that record what they get.

Each answers through a ``respond(handler, body)`` function; every loop in them is bounded in
count and time, so a server stops by itself even when the client went away.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from typing import Callable

import trustme

Respond = Callable[[http.server.BaseHTTPRequestHandler, bytes], None]


def answer(status: int, headers: dict[str, str] | None = None) -> Respond:
    def respond(h: http.server.BaseHTTPRequestHandler, _body: bytes) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return respond


def endless_body(chunk_bytes: int = 65_536, max_chunks: int = 16_384) -> Respond:
    """200 announcing 1 GiB, then sends until the client hangs up (at most ``max_chunks``)."""
    def respond(h: http.server.BaseHTTPRequestHandler, _body: bytes) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(1 << 30))
        h.end_headers()
        chunk = b"x" * chunk_bytes
        for _ in range(max_chunks):
            h.wfile.write(chunk)
    return respond


def trickle(where: str, every_s: float = 0.1, max_s: float = 8.0) -> Respond:
    """Send one byte every ``every_s`` for ``max_s``: in the headers or in the body."""
    def respond(h: http.server.BaseHTTPRequestHandler, _body: bytes) -> None:
        if where == "headers":
            h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        else:
            h.send_response(200)
            h.send_header("Content-Length", "100000")
            h.end_headers()
        h.wfile.flush()
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            h.wfile.write(b"a")
            h.wfile.flush()
            time.sleep(every_s)
    return respond


def tls_pair(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Server and client TLS contexts: a certificate for ``name`` from a test CA the client trusts."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


class Server:
    """A receiver on 127.0.0.1; ``requests`` holds (headers lower-cased, body) of each POST."""

    def __init__(self, respond: Respond = answer(200), tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived: list[float] = []  # time.monotonic() of each request
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                server.arrived.append(time.monotonic())
                try:
                    respond(self, body)
                except OSError:  # the client hung up: what some tests expect
                    pass
                self.close_connection = True

            def log_message(self, *_: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
