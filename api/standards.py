"""The picture through standards: OGC API – Features, Cursor on Target, Prometheus metrics.

The helpers they share; the routes are in ``api/routes/ogc.py``, ``picture.py`` and ``ops.py``.

* ``/ogc``: OGC API – Features – Part 1 (Core, GeoJSON): collections ``tracks`` (live fused
  tracks), ``alerts`` and ``zones``; ``bbox``, ``datetime``, ``limit``/``offset`` paging with
  ``next`` links.  Same keys and releasability as ``/v1``.
* ``/v1/picture.cot``: every live track as a Cursor on Target 2.0 event inside ``<events>``
  (TAK servers and ATAK/WinTAK plug-ins read them).
* ``/metrics``: Prometheus text format, for the fusion centre's own monitoring.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any
from xml.sax.saxutils import quoteattr

from sqlalchemy import func, select
from fastapi import HTTPException

from fusion.model import iso_time
from ingest.timeparse import parse_iso

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
COLLECTIONS = {
    "tracks": ("Fused vessel tracks", "Live fused tracks (AIS, radar or both), latest state of each."),
    "alerts": ("Alerts", "Anomaly alerts, newest first, with their lifecycle state."),
    "zones": ("Watch zones", "Built-in watch zones (12 nm around disputed features) and user zones."),
}
AREA = [95.0, -5.0, 125.0, 27.0]  # the default area of interest
KN = 1852.0 / 3600.0


def parse_datetime(text: str | None) -> tuple[float | None, float | None]:
    """OGC ``datetime``: an instant, or ``start/end`` with ``..`` (or empty) for an open end."""
    if not text:
        return None, None
    try:
        if "/" not in text:
            t = parse_iso(text)
            return t, t
        a, b = text.split("/", 1)
        start = None if a in ("", "..") else parse_iso(a)
        end = None if b in ("", "..") else parse_iso(b)
    except ValueError:
        raise HTTPException(400, f"datetime must be an RFC 3339 instant or interval, not {text!r}") from None
    if start is not None and end is not None and start > end:
        raise HTTPException(400, "datetime interval ends before it starts")
    return start, end


def ogc_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise HTTPException(400, "bbox must be minLon,minLat,maxLon,maxLat") from None
    if len(values) == 6:  # with heights: drop them
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise HTTPException(400, "bbox must be minLon,minLat,maxLon,maxLat")
    w, s, e, n = values
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise HTTPException(400, "bbox out of range")
    return w, s, e, n


def _in_bbox(lat: float | None, lon: float | None, bbox: tuple[float, float, float, float] | None) -> bool:
    if bbox is None:
        return True
    if lat is None or lon is None:
        return False
    w, s, e, n = bbox
    return s <= lat <= n and (w <= lon <= e if w <= e else (lon >= w or lon <= e))


def cot_event(track: dict[str, Any], stale_s: float = 300.0, exercise: str = "") -> str:
    """One track as a CoT 2.0 event: ``a-n-S`` (neutral surface) with an AIS identity,
    ``a-u-S`` (unknown surface) for a radar-only (dark) contact.  On an exercise system the
    event carries CoT's ``opex="e-<name>"`` (exercise), as TAK clients expect."""
    t = parse_iso(track["time"])
    kind = "a-n-S" if track.get("mmsi") is not None else "a-u-S"
    callsign = track.get("name") or (f"MMSI {track['mmsi']}" if track.get("mmsi") is not None
                                     else f"DARK {track['track_id']}")
    ce = track.get("sigma_m") or 9999999.0
    speed = (track.get("sog_kn") or 0.0) * KN
    remarks = ", ".join(f"{k}={track[k]}" for k in ("mmsi", "flag", "ship_type", "status") if track.get(k) is not None)
    remarks += f", sources={'+'.join(track.get('sources') or [])}"
    opex = f" opex={quoteattr('e-' + exercise)}" if exercise else ""
    return (f'<event version="2.0" uid={quoteattr("MFC-" + track["track_id"])} type="{kind}" how="m-f"{opex} '
            f'time="{_cot_time(t)}" start="{_cot_time(t)}" stale="{_cot_time(t + stale_s)}">'
            f'<point lat="{track["lat"]:.6f}" lon="{track["lon"]:.6f}" hae="0.0" ce="{ce:.1f}" le="9999999.0"/>'
            f'<detail><contact callsign={quoteattr(callsign)}/>'
            f'<track course="{(track.get("cog_deg") or 0.0):.1f}" speed="{speed:.2f}"/>'
            f'<remarks>{_xml_text(remarks)}</remarks></detail></event>')


def _cot_time(t: float) -> str:
    ms = math.floor(t * 1000)
    return _dt.datetime.fromtimestamp(ms // 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tally(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _count(store: Any, column: Any) -> dict[str, int]:
    q = select(column, func.count()).group_by(column)
    with store.engine.connect() as conn:
        return {str(k): int(n) for k, n in conn.execute(q)}


def _t(text: str) -> float:
    return parse_iso(text)


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: Any) -> None:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            xs.append(float(c[0]))
            ys.append(float(c[1]))
        elif isinstance(c, (list, tuple)):
            for x in c:
                walk(x)

    walk(geometry.get("coordinates", []))
    return (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 0.0, 0.0)
