"""Federation over HTTPS, for partners without a Kafka link: each partner's share pushed to it.

An agreement with ``push_url`` (the partner node's ``POST /v1/federation/inbound``) has its
share, the signed records the exporter writes to ``mfc.federation.<partner>.<kind>``
(``services.federation.outbound``), also pushed there by ``FederationPusher``: per kind, in order, in
batches of at most ``PUSH_BATCH`` records.  A batch is sent again (the same records, backing
off from 1 s to ``MAX_BACKOFF_S``) until the partner answers 2xx, and only then committed: an
outage loses nothing, and the partner's numbering (``seq``) tells a batch sent twice (its
answer lost) from new records.  The body is ``{"node": this node, "records": [the signed
values, as on Kafka]}``; the partner verifies each record with this node's key exactly as it
would from its broker (``services.federation.inbound.FederationImporter.take_pushed``), so the push
adds no trust of its own.

``push_url`` is HTTPS, or plain HTTP to a loopback address only (one machine; tests).  With
``MFC_FEDERATION_TLS_DIR`` (the directory ``mfc federation certs`` wrote) the pusher presents
this node's link certificate (``node.pem``) to the partner, and trusts only the partner's CA
(``partners/<partner>.pem``) when there is one there, the system's CAs otherwise.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from fusion.model import iso_time
from services.bus.core import Bus, Consumer
from services.bus.kafka_bus import PARTNER_TOPIC, ensure_topics
from services.federation.outbound import Agreement, AgreementStore, partner_topic
from services.workers.loops import Worker

log = logging.getLogger("mfc.federation.push")

PUSH_BATCH = 500
MAX_BACKOFF_S = 30.0
TIMEOUT_S = 30.0


def check_push_url(url: Any) -> str:
    """``url`` if a partner may be pushed to there, else ``ValueError`` with the reason."""
    if not isinstance(url, str) or not 0 < len(url) <= 2048:
        raise ValueError("push_url must be the partner's URL (at most 2048 characters)")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"push_url must be an https:// URL, not {url!r:.80}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("push_url must be HTTPS (plain HTTP only to a loopback address): "
                         "the records would cross the network in clear")
    if parts.username or parts.password:
        raise ValueError("push_url must not carry credentials")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FederationPusher(Worker):
    """Pushes each partner's share to the partner's ``push_url``, batch by batch, in order."""

    def __init__(self, bus: Bus, agreements: AgreementStore, node: str, tls_dir: str | None = None,
                 refresh_s: float = 2.0, clock=time.time) -> None:
        super().__init__("federation-push")
        self.bus, self.agreements, self.node = bus, agreements, node
        self.tls_dir = Path(tls_dir) if tls_dir else None
        self.refresh_s, self.clock = refresh_s, clock
        self._lock = threading.Lock()
        self._synced = float("-inf")
        self._targets: dict[str, tuple[str, httpx.Client]] = {}     # partner → (url, client)
        self._consumers: dict[tuple[str, str], Consumer] = {}
        self._pending: dict[tuple[str, str], list[Any]] = {}        # a batch not yet taken
        self._retry_at: dict[tuple[str, str], float] = {}
        self._backoff: dict[tuple[str, str], float] = {}
        self.pushed: dict[str, int] = {}
        self.last_error: dict[str, str | None] = {}
        self.last_push: dict[str, float] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._synced = float("-inf")

    def _client(self, partner: str) -> httpx.Client:
        verify: Any = True
        cert = None
        if self.tls_dir is not None:
            if (self.tls_dir / "node.pem").exists():
                cert = str(self.tls_dir / "node.pem")
            if (self.tls_dir / "partners" / f"{partner}.pem").exists():
                verify = str(self.tls_dir / "partners" / f"{partner}.pem")
        return httpx.Client(timeout=TIMEOUT_S, verify=verify, cert=cert, follow_redirects=False,
                            headers={"User-Agent": f"mfc-federation/{self.node}"})

    def sync(self) -> None:
        """Consumers and clients for exactly the agreements with a ``push_url``."""
        try:
            wanted: dict[str, Agreement] = {a.partner: a for a in self.agreements.all() if a.push_url}
        except Exception as exc:  # unreadable: push to no one until they can be read
            log.error("could not read agreements: %s", exc)
            wanted = {}
        with self._lock:
            self._synced = time.monotonic()
        for key in [k for k in self._consumers if k[0] not in wanted or k[1] not in wanted[k[0]].kinds]:
            self._consumers.pop(key).close()
            self._pending.pop(key, None)
        with self._lock:  # status() reads the targets from API threads
            gone = [self._targets.pop(p) for p in list(self._targets)
                    if p not in wanted or self._targets[p][0] != wanted[p].push_url]
            for partner, agreement in wanted.items():
                if partner not in self._targets:
                    self._targets[partner] = (agreement.push_url, self._client(partner))  # type: ignore[assignment]
        for _, client in gone:
            client.close()
        for partner, agreement in wanted.items():
            new = [kind for kind in agreement.kinds if (partner, kind) not in self._consumers]
            if new:  # made first (one partition, as the exporter makes them): a consumer that joins
                # its group before its topic exists is assigned nothing, and may not notice it for minutes
                ensure_topics(self.bus, {partner_topic(partner, kind): PARTNER_TOPIC for kind in new})
            for kind in new:
                self._consumers[(partner, kind)] = self.bus.consumer(
                    partner_topic(partner, kind), f"federation-push-{partner}-{kind}")

    def run(self) -> None:
        try:
            self.run_then_leave(self._loop, self._consumers.values)
        finally:
            for _, client in self._targets.values():
                client.close()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if time.monotonic() - self._synced >= self.refresh_s:
                    self.sync()
                if not self.round():
                    self.stopping.wait(0.1)
            except Exception:  # e.g. the broker away: nothing committed, the batch is kept
                log.exception("federation push failed; retrying in 1 s")
                self.stopping.wait(1.0)

    def round(self) -> bool:
        """One pass over the partners' topics; True when something was sent."""
        sent = False
        for key, consumer in list(self._consumers.items()):
            batch = self._pending.get(key)
            if batch is None:
                records = consumer.poll(timeout_s=0.02, max_records=PUSH_BATCH)
                if not records:
                    continue
                batch = self._pending[key] = [r.value for r in records]
            if time.monotonic() < self._retry_at.get(key, 0.0):
                continue
            sent = True
            if self._post(key[0], batch):
                consumer.commit()
                del self._pending[key]
                self._backoff.pop(key, None)
                self._retry_at.pop(key, None)
            else:
                self._backoff[key] = min(MAX_BACKOFF_S, self._backoff.get(key, 0.5) * 2)
                self._retry_at[key] = time.monotonic() + self._backoff[key]
        return sent

    def _post(self, partner: str, batch: list[Any]) -> bool:
        with self._lock:
            target = self._targets.get(partner)
        if target is None:
            return False
        url, client = target
        try:
            r = client.post(url, json={"node": self.node, "records": batch})
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if 200 <= r.status_code < 300:
                with self._lock:
                    self.pushed[partner] = self.pushed.get(partner, 0) + len(batch)
                    self.last_error[partner] = None
                    self.last_push[partner] = self.clock()
                return True
            error = f"HTTP {r.status_code}: {r.text[:200]}"
        with self._lock:
            if self.last_error.get(partner) != error:
                log.warning("push to %s (%s) failed: %s; sent again later", partner, url, error)
            self.last_error[partner] = error[:300]
        return False

    def status(self, partner: str) -> dict[str, Any] | None:
        """The push of ``partner``'s share: records taken by the partner, the last push, the
        last failure (None once a push succeeds again); None without a ``push_url``."""
        with self._lock:
            if partner not in self._targets:
                return None
            at = self.last_push.get(partner)
            return {"url": self._targets[partner][0], "pushed": self.pushed.get(partner, 0),
                    "last_push": None if at is None else iso_time(at), "last_error": self.last_error.get(partner),
                    "waiting": sum(len(b) for (p, _), b in list(self._pending.items()) if p == partner)}
