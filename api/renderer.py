"""The polled reads (live picture, CoT, track list) rendered beside the server, so polls are
never served behind a rendering.

A rendering of the picture is a store query, a releasability filter, JSON and gzip: about a
third of a second of Python for 20,000 tracks, twice a second (staff and each polling agency
have their own).  Made in the serving process it holds the interpreter's lock that whole time,
and every poll that arrives meanwhile waits, however cheap its cached answer is.  Here the
rendering runs in a renderer process (one, started on the first poll, stopped after a minute
without one) reading the same database; the serving process only hands out the bytes it gets
back (``api.render_cache`` still decides when a rendering is due and who shares it).

The renderer sees exactly what the serving process would use: the viewer's role and name, the
box, and a snapshot of every known sensor's kind, releasability and accuracy (live, then
deleted) taken when the rendering is asked for — the very tuple the cache files an agency's
entry under (``render_cache.sensor_releasability``), so an entry is never built under releasability other than the one it is filed under.
A sensor the snapshot does not know is not visible (as everywhere, ``services.access.visibility``);
the renderer reports such ids back, and the serving process looks them up in the registry (at
most every few seconds), so a sensor registered by another process is seen on the next rendering.

An in-memory SQLite database cannot be read by another process: there, and with
``MFC_PICTURE_RENDERER=inline``, the picture is rendered in the serving process as before.  If
the renderer process dies or does not answer, that request is rendered in the serving process
and the next one starts a new renderer.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import make_url

from services.access.visibility import visible_tracks

from .render_cache import Rendered, gc_paused, rendered
from .standards import cot_event

log = logging.getLogger(__name__)
JSON, XML = "application/json", "application/xml"

IDLE_S = 60.0      # a renderer nobody asked for this long is stopped (its memory given back)
TIMEOUT_S = 120.0  # a rendering not back by then is made in the serving process instead

SensorRow = tuple[str, str, Any, float]  # id, kind, releasability, accuracy_m
SensorSnapshot = tuple[tuple[SensorRow, ...], tuple[SensorRow, ...]]  # live, deleted (render_cache.sensor_releasability)


def picture_json(rows: list[dict[str, Any]], role: str, name: str, sensors: Any, exercise: str,
                 at: str | None = None) -> bytes:
    """The picture's GeoJSON for one viewer: the rows it may see, each as it may see it; its
    ``time`` is ``at`` (a past picture) or the newest of those rows (the live one)."""
    rows = visible_tracks(rows, role, name, sensors)
    out: dict[str, Any] = {
        "type": "FeatureCollection", "time": at if at is not None else max((r["time"] for r in rows), default=None),
        "features": [{"type": "Feature", "id": r["track_id"],  # polled: not validated per item
                      "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]}, "properties": r}
                     for r in rows]}
    if exercise:  # an exercise system's picture says so
        out["exercise"] = exercise
    return compact_json(out)


def tracks_json(rows: list[dict[str, Any]], role: str, name: str, sensors: Any) -> bytes:
    """``/v1/tracks`` for one viewer: JSONResponse's bytes, rows not validated one by one."""
    rows = visible_tracks(rows, role, name, sensors)
    return json.dumps({"tracks": rows, "count": len(rows)}, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


def cot_xml(rows: list[dict[str, Any]], role: str, name: str, sensors: Any, stale_s: float, exercise: str) -> bytes:
    """``/v1/picture.cot`` for one viewer: Cursor on Target 2.0 events inside ``<events>``."""
    rows = visible_tracks(rows, role, name, sensors)
    return ("<?xml version='1.0' encoding='UTF-8'?>\n<events>" + "".join(
        cot_event(r, stale_s, exercise) for r in rows) + "</events>\n").encode()


def compact_json(content: Any) -> bytes:
    """Compact UTF-8 JSON, as ``JSONResponse`` sends it, by orjson: 13 ms for 20,000 tracks
    against 208 ms (``json.dumps``), the same values.  What orjson refuses (an integer beyond 64
    bits) goes through the standard library; a non-finite number, which no track should carry,
    is written null rather than failing the whole picture."""
    try:
        return orjson.dumps(content)
    except orjson.JSONEncodeError:
        return json.dumps(content, ensure_ascii=False, allow_nan=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class _Sensor:
    kind: str
    releasability: Any
    accuracy_m: float
    owner: str = ""  # not part of a track's visibility


class _Known:
    """The snapshot as a sensor lookup (live first, then deleted); notes the ids it did not know."""

    def __init__(self, snapshot: SensorSnapshot | None) -> None:
        live, dead = ({sid: _Sensor(kind, rel, acc) for sid, kind, rel, acc in book}
                      for book in (snapshot or ((), ())))
        self.live, self.dead, self.missed = live, dead, set()

    def get(self, sensor_id: str) -> _Sensor | None:
        found = self.live.get(sensor_id) or self.dead.get(sensor_id)
        if found is None:
            self.missed.add(sensor_id)
        return found


_store: Any = None  # the renderer process's own connection to the database


def _open(url: str) -> None:
    global _store
    from services.store.sql import Store
    _store = Store(url)


def _render(kind: str, query: tuple[Any, ...], role: str, name: str, snapshot: SensorSnapshot | None,
            exercise: str) -> tuple[Rendered, frozenset[str]]:
    """In the renderer process: one polled read for one viewer (``picture``: the box;
    ``tracks``: box, since, source, contact, limit; ``cot``: box, stale_s), gzipped and tagged,
    and the sensor ids it met that the snapshot did not know."""
    known = _Known(snapshot)
    with gc_paused():
        if kind == "picture":
            (box,) = query
            body, media = picture_json(_store.tracks(box, None, None, 50000), role, name, known, exercise), JSON
        elif kind == "tracks":
            box, since_s, source, contact, limit = query
            body, media = tracks_json(_store.tracks(box, since_s, source, limit, contact=contact), role, name,
                                      known), JSON
        elif kind == "cot":
            box, stale_s = query
            body, media = cot_xml(_store.tracks(box, None, None, 50_000), role, name, known, stale_s, exercise), XML
        else:
            raise ValueError(f"no rendering {kind!r}")
        value = rendered(body, media)
    return value, frozenset(known.missed)


def offload(request: Any, runtime: Any, who: Any, kind: str,
            query: tuple[Any, ...]) -> Callable[[SensorSnapshot | None], Rendered | None] | None:
    """For ``render_cache.cached``: the read ``kind`` with ``query`` rendered for ``who`` by the
    app's renderer processes, under the snapshot the cache entry is filed under; None without them."""
    renderer: ProcessRenderer | None = getattr(request.app.state, "picture_renderer", None)
    if renderer is None:
        return None

    def missed(ids: frozenset[str]) -> None:  # looked up here: the registry is re-read on a miss
        for sensor_id in sorted(ids):
            runtime.sensor_lookup.get(sensor_id)

    return lambda snapshot: renderer.render(kind, query, who.role, who.name, snapshot, runtime.settings.exercise,
                                            missed)


def shareable(url: str) -> bool:
    """Can another process read this database?  Not an in-memory SQLite one."""
    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001  (an odd URL: keep rendering where it is opened)
        return False
    if u.get_backend_name() != "sqlite":
        return True
    return bool(u.database) and u.database != ":memory:" and "mode=memory" not in str(u)


class ProcessRenderer:
    """Renderer processes (two: staff's and an agency's renderings side by side), started on the
    first poll that needs one and stopped after ``idle_s`` without one."""

    def __init__(self, url: str, workers: int = 2, idle_s: float = IDLE_S, timeout_s: float = TIMEOUT_S) -> None:
        self.url, self.workers, self.idle_s, self.timeout_s = url, workers, idle_s, timeout_s
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._used = time.monotonic()
        self._reaper: threading.Timer | None = None
        self.renders = 0  # made by the renderer processes (for tests)
        self.fallbacks = 0  # made in the serving process because the renderer failed

    def render(self, kind: str, query: tuple[Any, ...], role: str, name: str, snapshot: SensorSnapshot | None,
               exercise: str, missed: Callable[[frozenset[str]], None] = lambda ids: None) -> Rendered | None:
        """The rendering (``_render``), or None when the renderer could not make it (the caller renders)."""
        pool = self._ensure()
        try:
            value, unknown = pool.submit(_render, kind, query, role, name, snapshot, exercise).result(self.timeout_s)
        except (BrokenExecutor, FutureTimeout, OSError) as e:  # the process died or hangs: a new one next time
            log.warning("picture renderer failed (%s); rendering in the serving process", type(e).__name__)
            self._drop(pool)
            self.fallbacks += 1
            return None
        except Exception:  # noqa: BLE001  (raised by the rendering: here it says the same, or it renders)
            log.exception("picture rendering failed in the renderer process; rendering in the serving process")
            self.fallbacks += 1
            return None
        self._used = time.monotonic()
        self.renders += 1
        if unknown:
            missed(unknown)
        return value

    def _ensure(self) -> ProcessPoolExecutor:
        with self._lock:
            self._used = time.monotonic()
            if self._pool is None:
                # forkserver: a clean process (no threads of the server's copied into it) that
                # imports this module once; each renderer is forked from it
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(["api.renderer"])
                self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_open,
                                                 initargs=(self.url,))
                self._schedule_reap()
            return self._pool

    def _schedule_reap(self) -> None:  # under self._lock
        if self._reaper is not None:
            self._reaper.cancel()  # one look-out at a time, for the pool of now
        self._reaper = threading.Timer(self.idle_s / 2, self._reap)
        self._reaper.daemon = True
        self._reaper.start()

    def _reap(self) -> None:
        with self._lock:
            if self._pool is None:
                return
            if time.monotonic() - self._used < self.idle_s:
                self._schedule_reap()
                return
            pool, self._pool = self._pool, None
        pool.shutdown(wait=False, cancel_futures=True)

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        _stop(pool, grace_s=0.0)

    def close(self) -> None:
        """Stop the renderers (the server is stopping): a rendering under way gets a few seconds."""
        with self._lock:
            pool, self._pool = self._pool, None
            if self._reaper is not None:
                self._reaper.cancel()
        if pool is not None:
            _stop(pool, grace_s=5.0)


def _stop(pool: ProcessPoolExecutor, grace_s: float) -> None:
    """Shut ``pool`` down without waiting on a renderer that hangs: killed after ``grace_s``."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
