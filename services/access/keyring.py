"""The keys one process accepts: bootstrap keys (MFC_API_KEYS, the demo's key) and the key store's.

Only hashes are held.  A presented key is hashed and compared with every known hash by
``hmac.compare_digest`` (no early exit), so the time taken says nothing about which key came
close.  The store's keys are read again when older than ``ttl_s`` (and every ``ttl_s`` by a
``KeyWatcher``; an unknown key triggers a read at most every ``ttl_s / 4``, so a key just made
works at once), so ``mfc keys revoke``/``rotate`` take effect in running API processes within
``ttl_s`` without a restart.  If the database cannot be read, the last list is kept for at
most ``max_stale_s``; after that only the bootstrap keys work (fail closed).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping

from pydantic import SecretStr

from services.access.keys import KeyStore, digest
from services.config.settings import ApiKey
from services.workers.loops import Worker

log = logging.getLogger("mfc.keys")
TTL_S = 2.0


def _holder(key: ApiKey, key_id: str = "") -> ApiKey:
    """The key's holder without its secret: what request handlers get."""
    return ApiKey(SecretStr(""), key.role, key.name, key_id or key.id)


class KeyRing:
    def __init__(self, bootstrap: Mapping[str, ApiKey], store: KeyStore | None = None, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._bootstrap = [(digest(secret), _holder(k)) for secret, k in bootstrap.items()]
        self.store, self.ttl_s, self.max_stale_s = store, ttl_s, 10 * ttl_s
        self.miss_refresh_s = ttl_s / 4  # an unknown key reads the store again, at most this often
        self.clock, self.wall = clock, wall
        self._stored: list[tuple[str, ApiKey]] = []
        self._loaded = float("-inf")
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()
        self.on_change: Callable[[], None] | None = None  # called when the set of keys changed

    def lookup(self, presented: str) -> ApiKey | None:
        """The holder of ``presented``, or None for an unknown, revoked or rotated-away key."""
        self.refresh_if_stale()
        wanted = digest(presented)
        found = self._match(wanted)
        if found is None and self.refresh_if_stale(self.miss_refresh_s):  # perhaps made a moment ago
            found = self._match(wanted)
        if found is not None and found.id:
            self._used[found.id] = self.wall()
        return found

    def _match(self, wanted: str) -> ApiKey | None:
        found = None
        for known, holder in self._bootstrap + self._stored:
            if hmac.compare_digest(known, wanted):  # every one compared: no early exit
                found = holder
        return found

    def refresh_if_stale(self, age_s: float | None = None) -> bool:
        """Read the store again if the list is older than ``age_s`` (default ``ttl_s``)."""
        if self.store is None or self.clock() - self._loaded < (self.ttl_s if age_s is None else age_s):
            return False
        self.refresh()
        return True

    def refresh(self) -> None:
        """Read the store's active keys again (and record which were used since the last time)."""
        if self.store is None:
            return
        with self._lock:
            used, self._used = self._used, {}
            try:
                self.store.touch(used)
                fresh = [(k.sha256, ApiKey(SecretStr(""), k.role, k.name, k.id)) for k in self.store.all()]
            except Exception as exc:  # the database is unreachable: keep the last list a little while
                log.warning("cannot read the key store: %s", type(exc).__name__)
                if self.clock() - self._loaded > self.max_stale_s and self._stored:
                    self._stored = []
                    log.error("key store unreadable for over %.0f s: only bootstrap keys work", self.max_stale_s)
                return
            changed = fresh != self._stored
            self._stored, self._loaded = fresh, self.clock()
        if changed and self.on_change is not None:
            self.on_change()

    def holders(self) -> list[ApiKey]:
        return [holder for _, holder in self._bootstrap + self._stored]

    def agencies(self) -> list[str]:
        """Member agencies: the names of the agency keys."""
        self.refresh_if_stale()
        return sorted({k.name for k in self.holders() if k.role == "agency"})


class KeyWatcher(Worker):
    """Reads the key store every ``ttl_s``, so revocations and new agencies reach this process
    even when no request comes in (the alert router learns new agencies this way)."""

    def __init__(self, ring: KeyRing) -> None:
        super().__init__("key-watcher")
        self.ring = ring

    def run(self) -> None:
        while not self.stopping.wait(self.ring.ttl_s):
            self.ring.refresh()
            self.handled += 1
