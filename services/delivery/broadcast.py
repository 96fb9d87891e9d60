"""Fan-out of stored track and alert lines to live listeners (the SSE stream).

The store worker calls ``publish`` from its thread after each batch is
written; each listener gets the events it may see on its own bounded queue
through its event loop.  Events are filtered *before* queueing, by the
listener's own ``view(kind, value)``: the event as that key may see it, or None
(agency visibility and stream subscriptions), so a listener's queue only ever
holds what it will send, already shaped for it.  A
listener too slow to keep up loses its oldest events and is told so with a
``lagged`` event rather than slowing everyone down.

Listeners are capped per key (``max_per_key``) and overall (``max_total``):
``listen`` raises :class:`TooManyListeners` beyond either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable

from services.access.visibility import FoldIndex

Event = tuple[str, dict[str, Any]]
View = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]

log = logging.getLogger("mfc.broadcast")

MAX_STREAMS_PER_KEY = 8
MAX_STREAMS_TOTAL = 256
QUEUE_SIZE = 10_000


class TooManyListeners(RuntimeError):
    """A new listener would exceed a cap; the message says which."""


def _everything(kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return value


class Listener:
    def __init__(self, loop: asyncio.AbstractEventLoop, kinds: frozenset[str], size: int,
                 view: View = _everything, key: str = "") -> None:
        self.loop, self.kinds, self.view, self.key = loop, kinds, view, key
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, event: Event) -> None:  # runs on the listener's loop
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def offer_many(self, events: list[Event]) -> None:  # runs on the listener's loop
        for event in events:
            self.offer(event)

    def select(self, kind: str, values: list[dict[str, Any]]) -> list[Event]:
        """The events of this batch as the listener may see them (a failing view fails closed)."""
        try:
            return [(kind, shown) for shown in (self.view(kind, v) for v in values) if shown is not None]
        except Exception:
            log.exception("stream filter of key %r failed: batch of %d %s events not sent",
                          self.key, len(values), kind)
            return []


class Broadcaster:
    def __init__(self, queue_size: int = QUEUE_SIZE, max_per_key: int = MAX_STREAMS_PER_KEY,
                 max_total: int = MAX_STREAMS_TOTAL,
                 live_tracks: Callable[[], list[dict[str, Any]]] | None = None) -> None:
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self.queue_size = queue_size
        self.max_per_key, self.max_total = max_per_key, max_total
        # fed by publish(), from the store worker's thread only, while someone listens to tracks;
        # seeded with the stored live tracks (``live_tracks``) when the first one starts listening
        self.fold = FoldIndex()
        self.live_tracks = live_tracks
        self._seeded = False

    def listen(self, kinds: frozenset[str], view: View | None = None, key: str = "") -> Listener:
        """A new listener for ``kinds``, offered each event as ``view(kind, value)`` shows it
        (None: not offered).

        Raises ``TooManyListeners`` when ``key`` already has ``max_per_key`` listeners or the
        process has ``max_total``."""
        listener = Listener(asyncio.get_running_loop(), kinds, self.queue_size, view or _everything, key)
        with self._lock:
            if len(self._listeners) >= self.max_total:
                raise TooManyListeners(f"{len(self._listeners)} live streams open, the limit of this "
                                       f"server is {self.max_total}; retry later")
            mine = sum(1 for x in self._listeners if x.key == key)
            if mine >= self.max_per_key:
                raise TooManyListeners(f"this key already has {mine} live streams open, the limit is "
                                       f"{self.max_per_key}; close one first")
            self._listeners.add(listener)
        return listener

    def _fold(self, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Track lines into the fold index; a partner node's line that is the same vessel as one
        of this node's tracks gets ``folded_into``: that track's id (each listener's view keeps
        it only where the key may see that track)."""
        if not self._seeded:
            self._seeded = True
            try:
                for line in self.live_tracks() if self.live_tracks else ():
                    self.fold.update(line)
            except Exception:  # noqa: BLE001 - the index fills from the lines that come
                log.exception("could not seed the stream's fold index from the store")
        out = []
        for value in values:
            self.fold.update(value)
            if value.get("origin"):
                host = self.fold.host_of(value)
                if host is not None:
                    value = {**value, "folded_into": host["track_id"]}
            out.append(value)
        return out

    def forget(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def __len__(self) -> int:
        return len(self._listeners)

    def publish(self, kind: str, values: list[dict[str, Any]]) -> None:
        if not values:
            return
        with self._lock:
            listeners = [x for x in self._listeners if kind in x.kinds]
        if kind == "track":
            if listeners:
                values = self._fold(values)
            elif self._seeded:  # no one listens: the index rests, and is seeded afresh for the next
                self.fold, self._seeded = FoldIndex(), False
        for listener in listeners:
            events = listener.select(kind, values)
            if not events:
                continue
            try:
                listener.loop.call_soon_threadsafe(listener.offer_many, events)
            except RuntimeError:  # its loop has closed
                self.forget(listener)
