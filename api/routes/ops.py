"""Operations: liveness for load balancers, and Prometheus metrics of the centre's own health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.access.visibility import STAFF_ROLES, visible_alerts, visible_tracks
from services.store import sql as store_tables

from ..deps import AUTH, CountersDep, Reader, RuntimeDep, errors
from ..models import Health
from ..standards import _count, _tally

router = APIRouter(tags=["ops"])
_PROMETHEUS = {200: {"content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
                     "description": "Prometheus text exposition"}}


@router.get("/healthz", response_model=Health)
def healthz(runtime: RuntimeDep) -> dict[str, Any]:
    """Liveness, for load balancers: no key, so no counts of anything (they would say what exists)."""
    return {"status": "ok", "bus": runtime.settings.bus.split("://")[0], "clock": runtime.settings.fusion_clock,
            "exercise": runtime.settings.exercise or None}


@router.get("/metrics", response_class=Response, responses={**_PROMETHEUS, **errors(*AUTH)})
def metrics(runtime: RuntimeDep, counters: CountersDep, who: Reader) -> Response:
    """Prometheus text exposition of the centre's own health.  An agency key gets only counts
    of the tracks and alerts it may see (the centre's internals are for its own staff)."""
    store = runtime.store
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:.15g}" for labels, value in samples)

    if who.role not in STAFF_ROLES:
        seen = visible_tracks(store.tracks(None, None, None, 1_000_000), who.role, who.name,
                              runtime.sensor_lookup)
        metric("mfc_tracks", "gauge", "Live tracks you may see, by status.",
               [(f'{{status="{k}"}}', v) for k, v in sorted(_tally(r["status"] for r in seen).items())])
        now = runtime.clock()
        alerts = visible_alerts(store.alerts(None, None, None, None, None, 1_000_000, now_s=now, suppressed=False),
                                who.role, who.name)
        metric("mfc_alerts", "gauge", "Alerts you may see, by state (without those a suppression holds back).",
               [(f'{{state="{k}"}}', v) for k, v in sorted(_tally(r["state"] for r in alerts).items())])
        metric("mfc_alerts_suppressed", "gauge", "Alerts you may see that a suppression holds back now.",
               [("", store.suppressed_count(now, who.name) if who.role == "agency" else 0)])
        return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
    by_status = _count(store, store_tables.tracks.c.status)
    metric("mfc_tracks", "gauge", "Tracks in the store by status.",
           [(f'{{status="{k}"}}', v) for k, v in sorted(by_status.items())])
    now = runtime.clock()
    by_state = store.alert_counts_by_state(now)
    metric("mfc_alerts", "gauge", "Alerts in the store by state (without those a suppression holds back).",
           [(f'{{state="{k}"}}', v) for k, v in sorted(by_state.items())])
    metric("mfc_alerts_suppressed", "gauge", "Alerts a suppression holds back now.",
           [("", store.suppressed_count(now))])
    metric("mfc_ingest_lines_total", "counter", "Ingest lines through the HTTP API by verdict.",
           [(f'{{kind="{k.split(":")[0]}",verdict="{k.split(":")[1]}"}}', v) for k, v in sorted(counters.items())])
    metric("mfc_worker_records_total", "counter", "Records handled by each in-process worker.",
           [(f'{{worker="{w.name}"}}', w.handled) for w in runtime.workers])
    metric("mfc_worker_up", "gauge", "1 while the worker's loop runs.",
           [(f'{{worker="{w.name}"}}', 1 if w.is_alive() else 0) for w in runtime.workers])
    sender = runtime.router.sender
    metric("mfc_webhook_deliveries_total", "counter", "Webhook deliveries by outcome.",
           [('{outcome="delivered"}', sender.delivered), ('{outcome="failed"}', sender.failed)])
    metric("mfc_webhook_pending", "gauge", "Webhook deliveries waiting (incl. retries).",
           [("", sender.pending())])
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
