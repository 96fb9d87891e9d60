"""The alert router: ``mfc.alerts`` → each agency's topic and signed webhooks.

Incidents (``mfc.incidents``) go likewise to ``mfc.incidents.<agency>`` and the agency's
webhooks, for the agencies they are releasable to (``services.access.workflow``).  An alert line
a suppression holds back is not routed (it is raised again when the suppression runs out).

Every alert line (opened, updated, closed, retracted: each emission) goes to
``mfc.alerts.<agency>`` for every member agency it is releasable to and that subscribed to
it (see ``services.delivery.subscriptions``), keyed by alert id, and is POSTed to the matching
webhooks.  Delivery is at least once: a consumer keys on ``alert_id`` and the line's
``state``/``time``; a webhook receiver on the ``X-MFC-Delivery`` header.

Webhook requests carry ``X-MFC-Delivery: <id>`` and ``X-MFC-Signature: t=<unix
seconds>,v1=<hex>`` where ``hex`` is HMAC-SHA256 of ``"<t>.<delivery id>." + body`` under
the subscription's secret (check it with ``verify``, which refuses a ``t`` far from now, to
refuse forgeries and replays; docs/webhooks.md).  The sender (``services.delivery.webhooks``) sends
only to HTTPS URLs whose addresses are public, checked again at every send and pinned for
the connection, follows no redirect, bounds each attempt's time and the answer's size, and
keeps one queue per subscription so that a slow receiver delays only itself.  A failed POST
is retried with exponential backoff; after the last attempt the delivery goes to
``mfc.deadletter`` with its reason, never silently dropped.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Iterable

from services.access.workflow import SuppressionCache, incident_releasable_to
from services.bus import topics
from services.bus.core import Bus
from services.delivery.subscriptions import Subscription, SubscriptionStore, route
from services.delivery.webhook_net import WebhookPolicy
from services.delivery.webhooks import WebhookSender, sign, verify
from services.workers.loops import Worker

__all__ = ["AlertRouter", "WebhookSender", "sign", "verify"]

log = logging.getLogger("mfc.router")


class AlertRouter(Worker):
    """Reads ``mfc.alerts``; publishes to agency topics and hands webhooks to the sender."""

    def __init__(self, bus: Bus, subscriptions: SubscriptionStore, agencies: Iterable[str],
                 group: str = "alert-router", refresh_s: float = 2.0, sender: WebhookSender | None = None,
                 policy: WebhookPolicy | None = None, suppressions: SuppressionCache | None = None) -> None:
        super().__init__("alert-router")
        self.bus, self.subscriptions, self.agencies = bus, subscriptions, sorted(set(agencies))
        self.refresh_s = refresh_s
        self.sender = sender or WebhookSender(bus, policy)
        self.suppressions = suppressions  # None: nothing is held back (no store to read them from)
        self.consumer = bus.consumer(topics.ALERTS, group)
        self.incidents = bus.consumer(topics.INCIDENTS, f"{group}-incidents")
        self._subs: list[Subscription] = []
        self.held = 0  # alert lines held back by suppressions
        self._loaded = float("-inf")

    def invalidate(self) -> None:
        """Subscriptions changed: read them again before the next alert."""
        self._loaded = float("-inf")

    def run(self) -> None:
        self.sender.start()
        try:
            while not self.stopping.is_set():
                records = self.consumer.poll(timeout_s=0.2, max_records=1000)
                shared = self.incidents.poll(timeout_s=0.02, max_records=1000)
                if not records and not shared:
                    continue
                subs = self._current()
                for rec in records:
                    self.route(rec.value, subs)
                for rec in shared:
                    self.route_incident(rec.value, subs)
                self.bus.flush()
                if records:
                    self.consumer.commit()
                if shared:
                    self.incidents.commit()
                self.handled += len(records) + len(shared)
        finally:
            self.sender.stop()
            self.consumer.close()  # leave the groups now: a successor need not wait for a timeout
            self.incidents.close()

    def route(self, alert: dict[str, Any], subs: list[Subscription]) -> None:
        if not isinstance(alert, dict) or "alert_id" not in alert:
            self.bus.publish(topics.DEADLETTER, "alert-router", {
                "source": "alert-router", "reason": "alert line without alert_id", "line": json.dumps(alert)})
            return
        if self.suppressions is not None and self.suppressions.holding(alert) is not None:
            self.held += 1
            return  # held back by a suppression: raised again when it runs out (StoreWorker)
        where = route(alert, self.agencies, subs)
        for topic in where.topics:
            self.bus.publish(topic, alert["alert_id"], alert)
        for sub in where.webhooks:
            self.sender.submit(sub, alert)

    def route_incident(self, incident: dict[str, Any], subs: list[Subscription]) -> None:
        """An incident goes to ``mfc.incidents.<agency>`` and to the agency's webhooks (one per
        URL, whatever their alert filters) for each agency it is releasable to, and no other."""
        if not isinstance(incident, dict) or "incident_id" not in incident:
            self.bus.publish(topics.DEADLETTER, "alert-router", {
                "source": "alert-router", "reason": "incident line without incident_id",
                "line": json.dumps(incident)})
            return
        agencies = set(self.agencies) | {s.agency for s in subs}
        for agency in sorted(agencies):
            if not incident_releasable_to(incident, agency):
                continue
            self.bus.publish(topics.agency_incidents(agency), incident["incident_id"], incident)
            urls: set[str] = set()
            for sub in subs:
                if sub.agency == agency and sub.delivery == "webhook" and sub.url not in urls:
                    urls.add(sub.url or "")
                    self.sender.submit(sub, incident)

    def _current(self) -> list[Subscription]:
        if time.monotonic() - self._loaded >= self.refresh_s:
            try:
                self._subs = self.subscriptions.all()
                self._loaded = time.monotonic()
            except Exception as exc:  # keep routing with the last known list
                log.error("could not read subscriptions: %s", exc)
        return self._subs
