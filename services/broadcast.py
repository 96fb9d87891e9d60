"""Fan-out of stored track and alert lines to live listeners (the SSE stream).

The store worker calls ``publish`` from its thread after each batch is
written; each listener gets the events on its own bounded queue through its
event loop.  A listener too slow to keep up loses its oldest events and is
told so with a ``lagged`` event rather than slowing everyone down.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

Event = tuple[str, dict[str, Any]]


class Listener:
    def __init__(self, loop: asyncio.AbstractEventLoop, kinds: frozenset[str], size: int) -> None:
        self.loop, self.kinds = loop, kinds
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, event: Event) -> None:  # runs on the listener's loop
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class Broadcaster:
    def __init__(self, queue_size: int = 10_000) -> None:
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self.queue_size = queue_size

    def listen(self, kinds: frozenset[str]) -> Listener:
        listener = Listener(asyncio.get_running_loop(), kinds, self.queue_size)
        with self._lock:
            self._listeners.add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def publish(self, kind: str, values: list[dict[str, Any]]) -> None:
        if not values:
            return
        with self._lock:
            listeners = [x for x in self._listeners if kind in x.kinds]
        for listener in listeners:
            for value in values:
                try:
                    listener.loop.call_soon_threadsafe(listener.offer, (kind, value))
                except RuntimeError:  # its loop has closed
                    self.forget(listener)
                    break
