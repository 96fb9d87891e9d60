"""The FastAPI app: the picture, tracks, alerts, ingest and the web page.

It reads the store (so API replicas are stateless) and writes to the bus through the
runtime's ingest service.  One router per resource (``api/routes/``); OpenAPI at ``/docs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from services.config import log_redact
from services.workers.ingest_service import BusUnavailable, TooManyLines
from services.workers.runtime import Runtime
from services.scenario.exercise import ServerExercise

from .render_cache import RenderCache
from .renderer import ProcessRenderer, shareable
from .routes import (alerts, anchorages, coverage, exercise, federation, incidents, ingest, ogc, ops, picture,
                     sensors, stream, subscriptions, suppressions, tracks, web, zones)

ROUTERS = (ops, tracks, picture, coverage, alerts, suppressions, incidents, stream, ingest, sensors, zones,
           anchorages, subscriptions, exercise, federation, web, ogc)


async def bus_unavailable(_: Request, exc: BusUnavailable) -> JSONResponse:
    return JSONResponse({"error": f"bus unavailable, retry: {exc}"}, status_code=503, headers={"Retry-After": "5"})


async def too_many_lines(_: Request, exc: TooManyLines) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=413)


async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.exercise.shutdown()  # an exercise started from the page stops with the server
    if app.state.picture_renderer is not None:
        app.state.picture_renderer.close()


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="ASEAN Maritime Fusion Centre", version="0.1.0",
                  description="Fused maritime picture, alerts and sensor ingest.", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.exercise = ServerExercise(Path(runtime.settings.exercise_dir))  # /v1/exercise: one at a time
    log_redact.install()  # the stream's ?key= never reaches an access log
    app.state.ingest_counters = {}  # kind:verdict → lines, for /metrics
    app.state.render_cache = RenderCache(runtime.settings.picture_cache_s, max_entries=256,
                                         max_bytes=256 * 2**20)  # polled reads
    settings = runtime.settings
    app.state.picture_renderer = (  # polled reads rendered in processes of their own (api.renderer)
        ProcessRenderer(runtime.store.url) if settings.picture_renderer == "process" and settings.picture_cache_s > 0
        and runtime.store is not None and shareable(runtime.store.url) else None)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    for module in ROUTERS:  # flat, not include_router (which nests lazily): app.routes lists every path
        app.router.routes.extend(module.router.routes)
    app.mount("/static", web.static_files, name="static")
    app.add_exception_handler(BusUnavailable, bus_unavailable)
    app.add_exception_handler(TooManyLines, too_many_lines)
    app.add_exception_handler(HTTPException, http_error)
    return app
