"""Signed webhook deliveries: the signature, and a pool of senders that keeps one queue per
subscription, so that a slow or dead receiver delays only its own deliveries.

Each request carries ``X-MFC-Delivery: <id>`` (the same id on every retry of one delivery)
and ``X-MFC-Signature: t=<unix seconds>,v1=<hex>``, ``hex`` being HMAC-SHA256 under the
subscription's secret of ``"<t>.<delivery id>." + body``.  A receiver checks it with
``verify`` (or the ten lines in docs/webhooks.md), refuses a ``t`` far from now, and keys
on the delivery id to drop a replayed or repeated delivery.

Before every attempt the URL's host is resolved and checked again (``webhook_net``); the
request goes to the checked address only (``webhook_http``), must finish within
``deadline_s``, reads at most ``max_response_bytes`` of the answer and follows no redirect.
Network errors, 408, 425, 429 and 5xx are retried with exponential backoff; after the last
attempt, or at once for a refused address, a redirect or another 4xx, the delivery goes to
``mfc.deadletter`` with its reason.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from services.bus import topics
from services.bus.core import Bus
from services.delivery.subscriptions import Subscription
from services.delivery.webhook_http import WebhookSendError, post
from services.delivery.webhook_net import WebhookAddressError, WebhookPolicy, WebhookResolveError, check_target

log = logging.getLogger("mfc.webhooks")
RETRY_STATUSES = (408, 425, 429)


def sign(secret: str, body: bytes, t: int, *, delivery_id: str) -> str:
    """The ``X-MFC-Signature`` value for ``body`` of delivery ``delivery_id`` sent at unix time ``t``."""
    signed = f"{t}.{delivery_id}.".encode() + body
    return f"t={t},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, delivery_id: str, now: float | None = None,
           tolerance_s: float = 300.0) -> bool:
    """Receiver side: is ``header`` a valid signature of ``body`` for ``delivery_id``
    (the ``X-MFC-Delivery`` header), made within ``tolerance_s`` of ``now``?"""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, t, delivery_id=delivery_id), header)


@dataclass
class _Delivery:
    sub: Subscription
    body: bytes
    alert_id: str
    id: str
    attempt: int = 0
    incident: bool = False  # an incident line (``X-MFC-Incident-Id``), not an alert


@dataclass
class _Queue:
    """One subscription's deliveries, by due time; ``busy`` while a sender works on one."""
    heap: list[tuple[float, int, _Delivery]] = field(default_factory=list)
    busy: bool = False


class WebhookSender:
    """A bounded pool of sender threads over per-subscription queues; gives up to the dead-letter topic."""

    def __init__(self, bus: Bus, policy: WebhookPolicy | None = None, attempts: int = 6,
                 first_backoff_s: float = 1.0, max_backoff_s: float = 60.0, deadline_s: float = 10.0,
                 max_response_bytes: int = 65_536, threads: int = 8, max_pending: int = 10_000,
                 max_pending_per_subscription: int = 1_000, clock: Callable[[], float] = time.time,
                 tls: ssl.SSLContext | None = None) -> None:
        self.bus, self.policy = bus, policy or WebhookPolicy()
        self.attempts, self.first_backoff_s, self.max_backoff_s = attempts, first_backoff_s, max_backoff_s
        self.deadline_s, self.max_response_bytes = deadline_s, max_response_bytes
        self.tls = tls or ssl.create_default_context()  # the system's CAs, loaded once
        self.max_pending, self.max_pending_per_subscription = max_pending, max_pending_per_subscription
        self.clock, self.n_threads = clock, threads
        self._queues: dict[str, _Queue] = {}
        self._pending = 0
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.delivered = 0
        self.failed = 0

    def submit(self, sub: Subscription, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, separators=(",", ":")).encode()
        incident = "alert_id" not in alert and "incident_id" in alert
        d = _Delivery(sub, body, str(alert.get("incident_id" if incident else "alert_id", "")),
                      hashlib.sha256(sub.id.encode() + body).hexdigest()[:32], incident=incident)
        with self._cv:
            queued = len(self._queues[sub.id].heap) if sub.id in self._queues else 0
            if self._pending >= self.max_pending:
                full = f"webhook queue full ({self.max_pending} pending)"
            elif queued >= self.max_pending_per_subscription:
                full = f"webhook queue of subscription {sub.id} full ({queued} pending)"
            else:
                self._push(self._queues.setdefault(sub.id, _Queue()), time.monotonic(), d)
                return
        self._give_up(d, full)

    def pending(self) -> int:
        with self._cv:
            return self._pending

    def start(self) -> None:
        for i in range(self.n_threads):
            thread = threading.Thread(target=self._work, name=f"webhooks-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _push(self, queue: _Queue, due: float, d: _Delivery) -> None:
        heapq.heappush(queue.heap, (due, next(self._seq), d))
        self._pending += 1
        self._cv.notify()

    def _work(self) -> None:
        while (d := self._take()) is not None:
            failure = self._attempt(d)
            self._finish(d, failure)

    def _take(self) -> _Delivery | None:
        """The earliest due delivery of a subscription no other sender is working on."""
        with self._cv:
            while not self._stopping:
                now = time.monotonic()
                ready = [q for q in self._queues.values() if q.heap and not q.busy]
                best = min(ready, key=lambda q: q.heap[0][0], default=None)
                if best is not None and best.heap[0][0] <= now:
                    best.busy = True
                    self._pending -= 1
                    return heapq.heappop(best.heap)[2]
                self._cv.wait(None if best is None else best.heap[0][0] - now)
            return None

    def _finish(self, d: _Delivery, failure: tuple[str, bool] | None) -> None:
        give_up = None
        with self._cv:
            queue = self._queues[d.sub.id]
            queue.busy = False
            if failure is None:
                self.delivered += 1
            elif failure[1] and d.attempt < self.attempts:
                delay_s = min(self.max_backoff_s, self.first_backoff_s * 2 ** (d.attempt - 1))
                self._push(queue, time.monotonic() + delay_s, d)
            else:
                give_up = f"webhook {d.sub.url} failed after {d.attempt} attempt(s): {failure[0]}"
            if not queue.heap and not queue.busy:
                del self._queues[d.sub.id]
            self._cv.notify_all()
        if give_up is not None:
            self._give_up(d, give_up)

    def _attempt(self, d: _Delivery) -> tuple[str, bool] | None:
        """One POST: None when delivered, else (reason, worth retrying)."""
        d.attempt += 1
        try:
            target = check_target(d.sub.url, self.policy)  # again at every send: DNS may have changed
            answer = post(target, d.body, self._headers(d), self.deadline_s, self.max_response_bytes, self.tls)
        except WebhookResolveError as exc:
            return str(exc), True
        except WebhookAddressError as exc:
            return str(exc), False
        except WebhookSendError as exc:
            return str(exc), True
        if 200 <= answer.status < 300:
            return None
        if 300 <= answer.status < 400:
            return f"HTTP {answer.status} redirect to {answer.location or '(no Location)'} not followed", False
        return f"HTTP {answer.status}", answer.status in RETRY_STATUSES or answer.status >= 500

    def _headers(self, d: _Delivery) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "mfc-alert-router",
            "X-MFC-Signature": sign(d.sub.secret or "", d.body, int(self.clock()), delivery_id=d.id),
            "X-MFC-Delivery": d.id,
            "X-MFC-Subscription": d.sub.id,
            ("X-MFC-Incident-Id" if d.incident else "X-MFC-Alert-Id"): d.alert_id,
        }

    def _give_up(self, d: _Delivery, reason: str) -> None:
        with self._cv:
            self.failed += 1
        log.warning("%s (alert %s, subscription %s)", reason, d.alert_id, d.sub.id)
        try:
            self.bus.publish(topics.DEADLETTER, "alert-router", {
                "source": "alert-router", "reason": reason, "subscription": d.sub.id,
                "agency": d.sub.agency, "line": d.body.decode(), "received": self.clock()})
        except Exception as exc:  # the bus is down too: the log line is all that is left
            log.error("could not dead-letter webhook failure: %s", exc)
