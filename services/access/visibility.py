"""Releasability: what each key may see of tracks, their history, alerts and sensors.

One promise: what a member marks as restricted reaches no one else.  Every read path of the
API (REST, OGC, CoT, the stream, history, replay, metrics, sensors) and every push path
(agency topics, webhooks) decides through these functions, and each of them fails closed:

* a releasability token is an agency (``PH-CG``), a state prefix (``PH`` covers ``PH-CG``
  and ``PH-NAVY``) or ``ASEAN``/``ALL`` (every member);
* an alert is releasable to an agency only when its ``evidence.releasability`` covers it:
  a missing or empty list covers no one;
* a track line is visible to an agency when at least one sensor that fed it recently is
  releasable to it; a line without sensors, or naming only sensors that are unknown (never
  registered, and no tombstone of a deleted one), is visible to no agency;
* an agency sees a fused track built only from what it may see: when some of the line's
  sensors are not releasable to it, its view is the newest fix of a sensor that is
  (``fixes`` on the line), with identity only if an AIS sensor it may see heard the vessel;
  without such a fix the track is hidden from it.

Officers and admins are the centre's own staff and see everything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from fusion.model import iso_time
from ingest.timeparse import parse_iso

WILDCARDS = ("ALL", "ASEAN")  # releasable to every member agency
STAFF_ROLES = frozenset({"officer", "admin"})


class SensorLike(Protocol):
    kind: str
    owner: str
    releasability: tuple[str, ...]
    accuracy_m: float


class SensorLookup(Protocol):
    def get(self, sensor_id: str) -> SensorLike | None: ...


def covers(tokens: Iterable[str] | None, agency: str) -> bool:
    """Do releasability ``tokens`` cover ``agency``?  None or an empty list covers no one."""
    return any(t in WILDCARDS or t == agency or agency.startswith(f"{t}-") for t in tokens or ())


def releasable_to(alert: Mapping[str, Any], agency: str) -> bool:
    """May ``agency`` see ``alert``?  Only when its evidence lists releasability covering it."""
    evidence = alert.get("evidence")
    if not isinstance(evidence, Mapping):
        return False
    tokens = evidence.get("releasability")
    return isinstance(tokens, list) and covers(tokens, agency)


def sensor_visible_to(sensor: SensorLike | None, agency: str) -> bool:
    return sensor is not None and covers(sensor.releasability, agency)


def track_view(line: Mapping[str, Any], agency: str, sensors: SensorLookup) -> dict[str, Any] | None:
    """``agency``'s view of a stored track line (or history point), or None when it may not see it.
    A partner node's track (it has ``origin``) is visible where the tokens it was shared under
    (its ``releasability``) cover the agency, whole (its node already narrowed it)."""
    if line.get("origin"):
        return {k: v for k, v in line.items() if k != "fixes"} if covers(line.get("releasability"), agency) \
            else None
    return narrowed_view(line, lambda sensor: sensor_visible_to(sensor, agency), sensors)


def narrowed_view(line: Mapping[str, Any], visible: Callable[[SensorLike | None], bool],
                  sensors: SensorLookup) -> dict[str, Any] | None:
    """The view of a track line for a viewer that may see the sensors ``visible`` accepts (an
    agency, a partner node: ``services.federation.outbound``), or None when it may see nothing of it.
    A partner's track (``origin``) has no sensors of this node's: None."""
    if line.get("origin"):
        return None
    ids = line.get("sensors") or []
    allowed = [s for s in ids if visible(sensors.get(s))]
    if not allowed:
        return None
    out = {k: v for k, v in line.items() if k != "fixes"}
    if "stations" in out:  # the receivers it may know of, and only their count
        out["stations"] = [s for s in out["stations"] or () if visible(sensors.get(s))]
        out["receivers"] = min(out.get("receivers") or 0, len(out["stations"]))
    if len(allowed) == len(ids):
        if not any(sensors.get(s).kind == "ais" for s in allowed):  # type: ignore[union-attr]
            # the identity came from an AIS receiver that no longer holds the track, and which
            # receiver it was is not on the line: fail closed (history keeps the identified points)
            out.update(mmsi=None, name=None, flag=None, ship_type=None)
        return out
    fixes = line.get("fixes") or {}
    mine = [(fixes[s], s) for s in allowed if isinstance(fixes.get(s), list) and len(fixes[s]) == 5]
    if not mine:
        return None  # only the fused estimate exists, and restricted data went into it
    (t_s, lat, lon, sog_kn, cog_deg), _ = max(mine, key=lambda fs: fs[0][0])
    kinds = {sensors.get(s).kind for s in allowed}  # type: ignore[union-attr]
    sigma = max(sensors.get(s).accuracy_m for s in allowed)  # type: ignore[union-attr]
    out.update(time=iso_time(t_s), lat=lat, lon=lon, sog_kn=sog_kn, cog_deg=cog_deg, sigma_m=sigma,
               sensors=allowed, sources=[k for k in ("ais", "radar") if k in kinds], view="releasable_sources")
    if "ais" not in kinds:
        out.update(mmsi=None, name=None, flag=None, ship_type=None)
    return out


def visible_tracks(rows: Iterable[Mapping[str, Any]], role: str, name: str,
                   sensors: SensorLookup) -> list[dict[str, Any]]:
    """The track lines (or history points) a key may see, each as that key may see it; a partner
    node's track of a vessel this node also holds is folded into this node's (``partners``)."""
    if role in STAFF_ROLES:
        return fold_partner_tracks([{k: v for k, v in r.items() if k != "fixes"} for r in rows])
    if role != "agency":
        return []
    out = []
    for r in rows:
        view = track_view(r, name, sensors)
        if view is not None:
            out.append(view)
    return fold_partner_tracks(out)



def visible_alerts(rows: Iterable[Mapping[str, Any]], role: str, name: str) -> list[Mapping[str, Any]]:
    if role in STAFF_ROLES:
        return list(rows)
    if role != "agency":
        return []
    return [r for r in rows if releasable_to(r, name)]


def visible_sensors(sensors: Iterable[Any], role: str, name: str) -> list[Any]:
    """Staff see every sensor; an agency the sensors whose data is releasable to it; an
    integrator the sensors it owns."""
    if role in STAFF_ROLES:
        return list(sensors)
    if role == "agency":
        return [s for s in sensors if covers(s.releasability, name)]
    if role == "integrator":
        return [s for s in sensors if s.owner == name]
    return []


# One vessel seen by this node and by a partner is one entry: the partner's track is folded into
# this node's when they carry the same MMSI within FOLD_MMSI_M of each other, or, without an MMSI
# on either, when each is the other's only neighbour within three combined sigmas (at least
# FOLD_MIN_M, at most FOLD_MAX_M) at the same time.
FOLD_MMSI_M = 10_000.0
FOLD_MIN_M, FOLD_MAX_M = 200.0, 2_000.0
FOLD_MAX_DT_S = 120.0
_M_PER_DEG = 111_195.0
_KN = 1852.0 / 3600.0


def fold_partner_tracks(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``lines`` with each partner track that is one of this node's tracks folded into it: the
    local line gains ``partners`` (each contributing node's id, track id, time and position)
    and the partner's line is not listed on its own.  Linear in the lines (a grid of cells
    larger than the widest gate finds the neighbours)."""
    partner = [ln for ln in lines if ln.get("origin")]
    if not partner:
        return lines
    kin = {id(ln): _kinematics(ln) for ln in lines}
    by_mmsi: dict[Any, list[dict[str, Any]]] = {}
    cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
    partner_cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for ln in lines:
        k = kin[id(ln)]
        if k is None:
            continue
        if ln.get("origin"):
            if ln.get("mmsi") is None:
                partner_cells.setdefault(_cell(k), []).append(ln)
        elif ln.get("mmsi") is not None:
            by_mmsi.setdefault(ln["mmsi"], []).append(ln)
        else:
            cells.setdefault(_cell(k), []).append(ln)
    folded: set[int] = set()
    for p in partner:
        kp = kin[id(p)]
        if kp is None:
            continue
        if p.get("mmsi") is not None:
            near = [(d, ln) for ln in by_mmsi.get(p["mmsi"], ()) if (d := _apart_m(kp, kin[id(ln)])) <= FOLD_MMSI_M]
            host = min(near, key=lambda dl: dl[0])[1] if near else None
        else:
            host = _only_neighbour(p, kin, cells, partner_cells)
        if host is not None:
            host.setdefault("partners", []).append(_contribution(p))
            folded.add(id(p))
    return [ln for ln in lines if id(ln) not in folded]


_CELL_DEG = 0.05  # about 5.5 km of latitude: wider than FOLD_MAX_M, so a neighbour is in the 3 × 3 cells


def _cell(k: tuple[float, ...]) -> tuple[int, int]:
    return int(math.floor(k[1] / _CELL_DEG)), int(math.floor(k[2] / _CELL_DEG * max(0.2, math.cos(math.radians(k[1])))))


def _around(cells: dict[tuple[int, int], list[dict[str, Any]]], k: tuple[float, ...]) -> list[dict[str, Any]]:
    i, j = _cell(k)
    return [ln for di in (-1, 0, 1) for dj in (-1, 0, 1) for ln in cells.get((i + di, j + dj), ())]


def _contribution(p: Mapping[str, Any]) -> dict[str, Any]:
    return {"node": p["origin"][-1], "origin": p["origin"], "track_id": p.get("track_id"),
            "time": p.get("time"), "lat": p.get("lat"), "lon": p.get("lon"), "sog_kn": p.get("sog_kn"),
            "cog_deg": p.get("cog_deg"), "sigma_m": p.get("sigma_m")}


def _only_neighbour(p: Mapping[str, Any], kin: dict[int, Any], cells: dict, partner_cells: dict) -> dict[str, Any] | None:
    def gate(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        sa, sb = a.get("sigma_m") or 100.0, b.get("sigma_m") or 100.0
        return min(FOLD_MAX_M, max(FOLD_MIN_M, 3.0 * math.hypot(sa, sb)))
    kp = kin[id(p)]
    near = [ln for ln in _around(cells, kp) if _apart_m(kp, kin[id(ln)]) <= gate(p, ln)]
    if len(near) != 1:
        return None
    host = near[0]
    kh = kin[id(host)]
    rivals = [q for q in _around(partner_cells, kh) if _apart_m(kin[id(q)], kh) <= gate(q, host)]
    return host if len(rivals) == 1 else None


def _kinematics(line: Mapping[str, Any]) -> tuple[float, float, float, Any, Any] | None:
    """(time, lat, lon, sog, cog) of a track line, or None without a time or position."""
    try:
        return parse_iso(line["time"]), float(line["lat"]), float(line["lon"]), line.get("sog_kn"), line.get("cog_deg")
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _apart_m(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> float:
    """Metres between two track lines' kinematics at the later one's time (the earlier
    dead-reckoned); infinite when they are too far apart in time or lack a position."""
    if a is None or b is None or abs(a[0] - b[0]) > FOLD_MAX_DT_S:
        return math.inf
    t = max(a[0], b[0])
    (lat1, lon1), (lat2, lon2) = _ahead(a, t - a[0]), _ahead(b, t - b[0])
    dx = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2)) * _M_PER_DEG
    return math.hypot(dx, (lat2 - lat1) * _M_PER_DEG)  # a gate of kilometres: flat is close enough


def _ahead(k: tuple[float, ...], dt_s: float) -> tuple[float, float]:
    _, lat, lon, sog, cog = k
    if not dt_s or not isinstance(sog, (int, float)) or not isinstance(cog, (int, float)):
        return lat, lon
    d = sog * _KN * dt_s
    lat2 = lat + d * math.cos(math.radians(cog)) / _M_PER_DEG
    return lat2, lon + d * math.sin(math.radians(cog)) / (_M_PER_DEG * math.cos(math.radians(lat)))


class FoldIndex:
    """The newest line of each live track (this node's and partners'), so that the live stream
    can tell, as a partner's line arrives, which of this node's tracks it is the same vessel as
    (by the rule of ``fold_partner_tracks``).  Fed from one thread (the store worker's)."""

    GONE = ("lost", "deleted")
    KEEP_S = 3600.0  # a line not updated for this long (by feed time) is forgotten

    def __init__(self) -> None:
        self.lines: dict[Any, dict[str, Any]] = {}
        self._cell_of: dict[Any, tuple[int, int]] = {}
        self._cells: dict[tuple[int, int], dict[Any, dict[str, Any]]] = {}
        self._mmsi: dict[Any, dict[Any, dict[str, Any]]] = {}
        self._time: dict[Any, float] = {}
        self._newest = -math.inf
        self._pruned = -math.inf

    def _drop(self, tid: Any) -> None:
        line = self.lines.pop(tid, None)
        if line is None:
            return
        self._time.pop(tid, None)
        cell = self._cell_of.pop(tid, None)
        if cell is not None:
            self._cells.get(cell, {}).pop(tid, None)
        if line.get("mmsi") is not None:
            self._mmsi.get(line["mmsi"], {}).pop(tid, None)

    def update(self, line: Mapping[str, Any]) -> None:
        tid = line.get("track_id")
        if tid is None or line.get("late"):
            return
        self._drop(tid)
        k = _kinematics(line)
        if k is None or line.get("status") in self.GONE:
            return
        self.lines[tid] = dict(line)
        self._time[tid] = k[0]
        self._cell_of[tid] = cell = _cell(k)
        self._cells.setdefault(cell, {})[tid] = self.lines[tid]
        if line.get("mmsi") is not None and not line.get("origin"):
            self._mmsi.setdefault(line["mmsi"], {})[tid] = self.lines[tid]
        self._newest = max(self._newest, k[0])
        if self._newest - self._pruned > 300.0:
            self._pruned = self._newest
            for old in [t for t, at in self._time.items() if at < self._newest - self.KEEP_S]:
                self._drop(old)

    def host_of(self, partner_line: Mapping[str, Any]) -> dict[str, Any] | None:
        """This node's line the partner's line folds into, or None."""
        k = _kinematics(partner_line)
        if k is None:
            return None
        if partner_line.get("mmsi") is not None:
            near = list(self._mmsi.get(partner_line["mmsi"], {}).values())
        else:  # 5 × 5 cells: the host's own 3 × 3 neighbourhood (its rivals) is inside
            i, j = _cell(k)
            near = [ln for di in range(-2, 3) for dj in range(-2, 3)
                    for ln in self._cells.get((i + di, j + dj), {}).values()]
        me = partner_line.get("track_id")
        copies = [dict(ln) for ln in near if ln.get("track_id") != me] + [dict(partner_line)]
        for line in fold_partner_tracks(copies):
            if line.get("origin"):
                continue
            if any(c.get("track_id") == me and c.get("origin") == partner_line.get("origin")
                   for c in line.get("partners") or ()):
                return self.lines.get(line.get("track_id"))
        return None
