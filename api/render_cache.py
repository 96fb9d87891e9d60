"""A short-lived cache of rendered reads that agencies' systems poll (the live picture, CoT, tracks).

Each entry is one viewer scope's rendering of one request (its path and parameters), kept as
the bytes sent, their gzip form and an ETag, so a poll costs a dictionary look-up rather than
a store query, a releasability filter, JSON and gzip:

* **scope**: staff (officers and admins see the same, unfiltered lines) share one entry; each
  agency has its own, and its entry also holds the releasability of every known sensor it was
  rendered under, so a sensor registered, narrowed or deleted makes the entry stale at once —
  an agency is never served a view built under releasability that no longer holds;
* **staleness**: an entry is served for at most ``ttl_s`` after the store was read for it (API
  replicas may run apart from the store writer, so freshness is a time, not a change counter);
* **single flight**: one request re-renders a stale entry; the others meanwhile get the previous
  rendering, when it was younger than ``2 × ttl_s`` as the refresh began (so at most ``2 × ttl_s``
  plus one rendering's time old), never one made under other releasability: those wait for the
  one rendering.  A poll is never held up behind the store, even when a rendering takes longer
  than ``ttl_s``;
* **bounded**: the least recently used entries beyond ``max_entries``, or beyond ``max_bytes`` of
  renderings in all, are dropped (the newest is always kept).

``ttl_s`` 0 turns the cache off (each request renders, as before).
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from services.access.visibility import STAFF_ROLES

GZIP_MIN_BYTES = 2048  # as the app's GZipMiddleware: smaller bodies go as they are
GZIP_LEVEL = 6  # once per entry and second, not per request: the default level's ratio at a fraction of 9's time


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    gzipped: bytes | None
    etag: str
    media_type: str


def rendered(body: bytes, media_type: str) -> Rendered:
    """A body with its gzip form (when big enough to be worth it) and a weak ETag of its content."""
    etag = 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    packed = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    return Rendered(body, packed, etag, media_type)


def viewer_scope(role: str, name: str) -> tuple[str, str]:
    """Who shares a rendering: all staff one, each agency its own, any other role its own."""
    if role in STAFF_ROLES:
        return ("staff", "")
    return (role, name)


def sensor_releasability(sensors: Any) -> tuple[tuple[Any, ...], ...] | None:
    """What an agency's view depends on besides the store: each known sensor's kind,
    releasability and accuracy (``services.access.visibility.track_view``), live and deleted."""
    if sensors is None:
        return None
    out = []
    for book in (getattr(sensors, "live", None), getattr(sensors, "dead", None)):
        if book is None:  # a lookup we cannot see into: never cache by it
            return None
        out.append(tuple((sid, s.kind, s.releasability, s.accuracy_m)
                         for sid, s in list(book.items())))  # list(): a snapshot
    return tuple(out)


class _Slot:
    __slots__ = ("lock", "state", "size", "refreshing_since")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.size = 0  # bytes of its rendering, counted in the cache's total
        self.state: tuple[Rendered, float, Any] | None = None  # rendering, when the store was read, depends
        self.refreshing_since: float | None = None  # when the rendering under way began


class RenderCache:
    def __init__(self, ttl_s: float = 1.0, max_entries: int = 256, max_bytes: int = 256 * 2**20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.max_entries, self.max_bytes, self.clock = ttl_s, max_entries, max_bytes, clock
        self.bytes = 0  # of the renderings held
        self._slots: OrderedDict[Hashable, _Slot] = OrderedDict()
        self._lock = threading.Lock()
        self.renders = 0  # how many times a rendering was made (for tests and /metrics)

    def __len__(self) -> int:
        return len(self._slots)

    def get(self, key: Hashable, render: Callable[[], Rendered], depends: Any = None) -> Rendered:
        """The rendering for ``key``, made by ``render`` when missing, older than ``ttl_s`` or
        made under other ``depends`` (compared for equality)."""
        if self.ttl_s <= 0:
            self.renders += 1
            return render()
        slot = self._slot(key)
        state = slot.state  # one read: rendering, time and dependencies always belong together
        if state is not None and state[2] == depends:
            if self.clock() - state[1] < self.ttl_s:
                return state[0]
            if not slot.lock.acquire(blocking=False):
                since = slot.refreshing_since
                if since is not None and since - state[1] < 2 * self.ttl_s:
                    # another request is refreshing a rendering that was still young when it
                    # began: the previous one meanwhile, however long the refresh takes (a
                    # rendering slower than ttl_s must not hold every poll up behind it)
                    return state[0]
                slot.lock.acquire()  # too old to hand out even while it is refreshed
        else:
            slot.lock.acquire()  # none yet, or made under other releasability: wait for the one rendering
        try:
            state = slot.state
            if state is not None and state[2] == depends and self.clock() - state[1] < self.ttl_s:
                return state[0]  # refreshed while this request waited
            started = slot.refreshing_since = self.clock()  # staleness counts from the read of the store
            value = render()
            self.renders += 1
            slot.state = (value, started, depends)
            self._account(key, slot, len(value.body) + len(value.gzipped or b""))
            return value
        finally:
            slot.refreshing_since = None
            slot.lock.release()

    def _slot(self, key: Hashable) -> _Slot:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
                self._evict()
            else:
                self._slots.move_to_end(key)
            return slot

    def _account(self, key: Hashable, slot: _Slot, size: int) -> None:
        with self._lock:
            if self._slots.get(key) is not slot:  # dropped while it rendered: not held, not counted
                return
            self.bytes += size - slot.size
            slot.size = size
            self._evict()

    def _evict(self) -> None:  # under self._lock; a thread rendering into a dropped slot keeps its reference
        while len(self._slots) > 1 and (len(self._slots) > self.max_entries or self.bytes > self.max_bytes):
            _, gone = self._slots.popitem(last=False)
            self.bytes -= gone.size


def _accepts_gzip(headers: Mapping[str, str]) -> bool:
    for part in headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and _zero(q[2:]))
    return False


def _zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against each listed tag, or ``*``."""
    if if_none_match.strip() == "*":
        return True
    mine = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == mine for tag in if_none_match.split(","))


def respond(request: Request, value: Rendered, max_age_s: float) -> Response:
    """The rendering as a response: 304 when the client holds it, gzip when it accepts gzip.
    ``private``: a response depends on the key that asked, so no shared cache may keep it."""
    headers = {"ETag": value.etag, "Cache-Control": f"private, max-age={max(0, int(max_age_s))}",
               "Vary": "Accept-Encoding, Authorization, X-API-Key"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, value.etag):
        return Response(status_code=304, headers=headers)
    if value.gzipped is not None and _accepts_gzip(request.headers):
        headers["Content-Encoding"] = "gzip"  # GZipMiddleware passes an encoded body through as it is
        return Response(value.gzipped, media_type=value.media_type, headers=headers)
    return Response(value.body, media_type=value.media_type, headers=headers)


_gc_lock = threading.Lock()
_gc_renders = 0        # renderings under way
_gc_resume = False     # whether the collector was on when the first of them began


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while any rendering runs, resumed after the last.

    A rendering builds a dict per track and drops them all at once; meanwhile the collector
    would walk the whole heap again and again (0.58 s → 0.35 s for 20,000 tracks without it).
    The objects it makes hold no reference cycles, so nothing is left for the collector."""
    global _gc_renders, _gc_resume
    with _gc_lock:
        if _gc_renders == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_renders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_renders -= 1
            if _gc_renders == 0 and _gc_resume:
                gc.enable()


def _render(render: Callable[[], bytes]) -> bytes:
    with gc_paused():
        return render()


def cached(request: Request, runtime: Any, who: Any, key: Hashable, render: Callable[[], bytes],
           media_type: str, offload: Callable[[Any], Rendered | None] | None = None) -> Response:
    """``render``'s bytes for ``who``, from the app's cache when it has a fresh rendering for
    ``who``'s scope and ``key`` (the request's parameters); as before when the cache is off.
    ``offload``, given the sensors' releasability the entry is filed under (None for staff),
    may make the rendering elsewhere (``api.renderer``); when it gives None, ``render`` runs here."""
    cache: RenderCache | None = getattr(request.app.state, "render_cache", None)
    if cache is None or cache.ttl_s <= 0:
        return Response(_render(render), media_type=media_type)
    scope = viewer_scope(who.role, who.name)
    depends = None
    if scope[0] != "staff":
        depends = sensor_releasability(runtime.sensor_lookup)
        if depends is None:  # cannot tell what the view depends on: render it for this request only
            return Response(_render(render), media_type=media_type)

    def make() -> Rendered:
        if offload is not None:
            value = offload(depends)
            if value is not None:
                return value
        return rendered(_render(render), media_type)

    value = cache.get((key, scope), make, depends)
    return respond(request, value, cache.ttl_s)
