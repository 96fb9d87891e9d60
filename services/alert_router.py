"""The alert router: ``mfc.alerts`` → each agency's topic and signed webhooks.

Every alert line (opened, updated, closed, retracted: each emission) goes to
``mfc.alerts.<agency>`` for every member agency it is releasable to and that subscribed to
it (see ``services.subscriptions``), keyed by alert id, and is POSTed to the matching
webhooks.  Delivery is at least once: a consumer keys on ``alert_id`` and the line's
``state``/``time``; a webhook receiver on the ``X-MFC-Delivery`` header.

Webhook requests carry ``X-MFC-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is
HMAC-SHA256 of ``"<t>." + body`` under the subscription's secret (check it, and reject a
``t`` far from now, to refuse forgeries and replays).  A failed POST is retried with
exponential backoff; after the last attempt the delivery goes to ``mfc.deadletter`` with
its reason, never silently dropped.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from . import topics
from .bus import Bus
from .subscriptions import Subscription, SubscriptionStore, route
from .workers import Worker

log = logging.getLogger("mfc.router")


def sign(secret: str, body: bytes, t: int) -> str:
    """The ``X-MFC-Signature`` header value for ``body`` sent at unix time ``t``."""
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, body: bytes, header: str, now: float | None = None, tolerance_s: float = 300.0) -> bool:
    """Receiver side: is ``header`` a valid signature of ``body``, made within ``tolerance_s``?"""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, t), header)


@dataclass
class _Delivery:
    sub: Subscription
    body: bytes
    alert_id: str
    attempt: int = 0


class WebhookSender(threading.Thread):
    """POSTs deliveries from a queue, retrying with backoff; gives up to the dead-letter topic."""

    def __init__(self, bus: Bus, attempts: int = 6, first_backoff_s: float = 1.0, max_backoff_s: float = 60.0,
                 timeout_s: float = 5.0, max_pending: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name="webhooks", daemon=True)
        self.bus, self.attempts, self.timeout_s = bus, attempts, timeout_s
        self.first_backoff_s, self.max_backoff_s, self.max_pending = first_backoff_s, max_backoff_s, max_pending
        self.clock = clock
        self._heap: list[tuple[float, int, _Delivery]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stopping = False
        self.delivered = 0
        self.failed = 0

    def submit(self, sub: Subscription, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, separators=(",", ":")).encode()
        with self._cv:
            if len(self._heap) >= self.max_pending:
                self._give_up(_Delivery(sub, body, alert.get("alert_id", "")),
                              f"webhook queue full ({self.max_pending} pending)")
                return
            heapq.heappush(self._heap, (time.monotonic(), next(self._seq), _Delivery(sub, body, alert.get("alert_id", ""))))
            self._cv.notify()

    def pending(self) -> int:
        with self._cv:
            return len(self._heap)

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()

    def run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopping:
                    return
                _, _, d = heapq.heappop(self._heap)
            self._send(d)

    def _send(self, d: _Delivery) -> None:
        d.attempt += 1
        t = int(self.clock())
        req = urllib.request.Request(d.sub.url or "", data=d.body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": "mfc-alert-router",
            "X-MFC-Signature": sign(d.sub.secret or "", d.body, t),
            "X-MFC-Delivery": hashlib.sha256(d.sub.id.encode() + d.body).hexdigest()[:32],
            "X-MFC-Subscription": d.sub.id,
            "X-MFC-Alert-Id": d.alert_id,
        })
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                resp.read()
            self.delivered += 1
            return
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}"
            retry = exc.code in (408, 425, 429) or exc.code >= 500
        except (urllib.error.URLError, OSError) as exc:
            reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            retry = True
        if retry and d.attempt < self.attempts:
            delay = min(self.max_backoff_s, self.first_backoff_s * 2 ** (d.attempt - 1))
            with self._cv:
                heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), d))
            return
        self._give_up(d, f"webhook {d.sub.url} failed after {d.attempt} attempt(s): {reason}")

    def _give_up(self, d: _Delivery, reason: str) -> None:
        self.failed += 1
        log.warning("%s (alert %s, subscription %s)", reason, d.alert_id, d.sub.id)
        try:
            self.bus.publish(topics.DEADLETTER, "alert-router", {
                "source": "alert-router", "reason": reason, "subscription": d.sub.id,
                "agency": d.sub.agency, "line": d.body.decode(), "received": self.clock()})
        except Exception as exc:  # the bus is down too: the log line is all that is left
            log.error("could not dead-letter webhook failure: %s", exc)


class AlertRouter(Worker):
    """Reads ``mfc.alerts``; publishes to agency topics and hands webhooks to the sender."""

    def __init__(self, bus: Bus, subscriptions: SubscriptionStore, agencies: Iterable[str],
                 group: str = "alert-router", refresh_s: float = 2.0, sender: WebhookSender | None = None) -> None:
        super().__init__("alert-router")
        self.bus, self.subscriptions, self.agencies = bus, subscriptions, sorted(set(agencies))
        self.refresh_s = refresh_s
        self.sender = sender or WebhookSender(bus)
        self.consumer = bus.consumer(topics.ALERTS, group)
        self._subs: list[Subscription] = []
        self._loaded = float("-inf")

    def invalidate(self) -> None:
        """Subscriptions changed: read them again before the next alert."""
        self._loaded = float("-inf")

    def run(self) -> None:
        self.sender.start()
        try:
            while not self.stopping.is_set():
                records = self.consumer.poll(timeout_s=0.2, max_records=1000)
                if not records:
                    continue
                subs = self._current()
                for rec in records:
                    self.route(rec.value, subs)
                self.bus.flush()
                self.consumer.commit()
                self.handled += len(records)
        finally:
            self.sender.stop()

    def route(self, alert: dict[str, Any], subs: list[Subscription]) -> None:
        if not isinstance(alert, dict) or "alert_id" not in alert:
            self.bus.publish(topics.DEADLETTER, "alert-router", {
                "source": "alert-router", "reason": "alert line without alert_id", "line": json.dumps(alert)})
            return
        where = route(alert, self.agencies, subs)
        for topic in where.topics:
            self.bus.publish(topic, alert["alert_id"], alert)
        for sub in where.webhooks:
            self.sender.submit(sub, alert)

    def _current(self) -> list[Subscription]:
        if time.monotonic() - self._loaded >= self.refresh_s:
            try:
                self._subs = self.subscriptions.all()
                self._loaded = time.monotonic()
            except Exception as exc:  # keep routing with the last known list
                log.error("could not read subscriptions: %s", exc)
        return self._subs
