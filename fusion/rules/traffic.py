"""Places learned from traffic: anchorages (where many distinct vessels stop) and navigable
water (where many distinct vessels move), as Global Fishing Watch builds its anchorages.

Both are grids of square cells about ``learn_cell_m`` wide (lat/lon degrees).  A cell becomes
an **anchorage** once ``anchorage_min_vessels`` distinct MMSIs have each stopped in it: speed
under ``stop_speed_kn`` for ``stop_s``, or navigational status 1 (at anchor) / 5 (moored)
reported as long (ITU-R M.1371 message 1-3 field), drifting no more than ``learn_cell_m`` from
where the stop began, within ``anchor_status_coast_m`` of land and outside every watch zone.  A cell becomes **water** once ``water_min_vessels`` distinct MMSIs have
moved through it consistently: a confirmed AIS-fed track, not a late fix, at a speed between
``water_min_kn`` and ``water_max_kn`` whose distance from its previous line agrees with its
speed (within a factor of two).  A point is in a learned anchorage (or on learned water) when
its cell or one of the eight around it is one: the cells are merged with a one-cell margin.

Everything here is plain data (dicts of tuples and lists) kept with the rule state.  Pending
cells (not yet qualified) are bounded by ``learn_max_pending_cells``, oldest dropped first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from ..geodesy import M_PER_DEG_LAT, distance_m
from ..model import Observation, TrackLine
from .config import RulesConfig
from .geography import Geography

ANCHORED_STATUSES = (1, 5)  # ITU-R M.1371 navigational status: at anchor, moored


@dataclass(slots=True)
class _Stop:
    since_s: float
    lat: float
    lon: float
    counted: bool = False


class TrafficMap:
    def __init__(self, cfg: RulesConfig) -> None:
        self.cfg = cfg
        self.cell_deg = cfg.learn_cell_m / M_PER_DEG_LAT
        self.anchor_cells: dict[tuple[int, int], int] = {}   # cell -> distinct vessels that stopped there
        self.water_cells: dict[tuple[int, int], int] = {}    # cell -> distinct vessels that moved through
        self.stops_pending: dict[tuple[int, int], list[tuple[int, float]]] = {}  # (MMSI, when counted)
        self.moves_pending: dict[tuple[int, int], list[int]] = {}
        self.stopping: dict[str, _Stop] = {}                 # live track id -> the stop under way
        self.last: dict[str, tuple[float, float, float]] = {}  # live track id -> (t, lat, lon)
        self.nav: dict[int, tuple[int, float]] = {}          # MMSI -> (navigational status, time)

    # ------------------------------------------------------------------ cells
    def cell(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self.cell_deg), math.floor(lon / self.cell_deg)

    def _around(self, lat: float, lon: float) -> Iterator[tuple[int, int]]:
        ci, cj = self.cell(lat, lon)
        for i in (ci - 1, ci, ci + 1):
            for j in (cj - 1, cj, cj + 1):
                yield i, j

    def anchorage_at(self, lat: float, lon: float) -> bool:
        return any(c in self.anchor_cells for c in self._around(lat, lon))

    def water_at(self, lat: float, lon: float) -> bool:
        return any(c in self.water_cells for c in self._around(lat, lon))

    def water_distance_m(self, lat: float, lon: float, within_m: float) -> float:
        """Metres from the point to the nearest learned water cell (0 inside one or next to it),
        or ``within_m`` when there is none that close."""
        if not self.water_cells:
            return within_m
        if self.water_at(lat, lon):
            return 0.0
        ci, cj = self.cell(lat, lon)
        rings = min(int(within_m / self.cfg.learn_cell_m) + 1, 50)
        best = within_m
        for i in range(ci - rings, ci + rings + 1):
            for j in range(cj - rings, cj + rings + 1):
                if (i, j) in self.water_cells:
                    clat = min(max(lat, i * self.cell_deg), (i + 1) * self.cell_deg)
                    clon = min(max(lon, j * self.cell_deg), (j + 1) * self.cell_deg)
                    best = min(best, distance_m(lat, lon, clat, clon))
        return best

    def _count(self, pending: dict[tuple[int, int], list[int]], done: dict[tuple[int, int], int],
               cell: tuple[int, int], mmsi: int, need: int) -> bool:
        """Count ``mmsi`` in ``cell``; True when the cell has just qualified."""
        if cell in done:
            return False
        seen = pending.get(cell)
        if seen is None:
            if len(pending) >= self.cfg.learn_max_pending_cells:
                del pending[next(iter(pending))]
            seen = pending[cell] = []
        if mmsi in seen:
            return False
        seen.append(mmsi)
        if len(seen) < need:
            return False
        done[cell] = len(seen)
        del pending[cell]
        return True

    # ------------------------------------------------------------------ learning
    def on_obs(self, obs: Observation) -> None:
        if obs.kind == "ais_position" and obs.mmsi is not None and obs.nav_status is not None:
            self.nav[obs.mmsi] = (obs.nav_status, obs.time_s)

    def anchored(self, mmsi: int | None, now_s: float) -> bool:
        """The vessel reported navigational status at anchor or moored within ``nav_status_fresh_s``."""
        if mmsi is None:
            return False
        st = self.nav.get(mmsi)
        return st is not None and st[0] in ANCHORED_STATUSES and now_s - st[1] <= self.cfg.nav_status_fresh_s

    def status(self, mmsi: int | None, now_s: float) -> int | None:
        """The navigational status the vessel reported within ``nav_status_fresh_s``, else None."""
        st = self.nav.get(mmsi) if mmsi is not None else None
        return st[0] if st is not None and now_s - st[1] <= self.cfg.nav_status_fresh_s else None

    def forget_mmsi(self, mmsi: int) -> bool:
        self.nav.pop(mmsi, None)
        return True

    def on_line(self, line: TrackLine, geo: Geography | None = None) -> tuple[int, int] | None:
        """Learn from one track line; the water cell that has just qualified, if any."""
        tid = line.track_id
        if line.status == "lost":
            self.stopping.pop(tid, None)
            self.last.pop(tid, None)
            return None
        if line.mmsi is None or line.late or "ais" not in line.sources:
            return None
        cfg, t = self.cfg, line.time_s
        self._stop(line, geo)
        prev = self.last.get(tid)
        self.last[tid] = (t, line.lat, line.lon)
        if prev is None or line.status != "confirmed" or not cfg.water_min_kn <= line.sog_kn <= cfg.water_max_kn:
            return None
        dt = t - prev[0]
        if dt <= 0 or dt > cfg.loiter_max_gap_s:
            return None
        moved = distance_m(prev[1], prev[2], line.lat, line.lon)
        expected = line.sog_kn * 1852.0 / 3600.0 * dt
        if not 0.5 * expected <= moved <= 2.0 * expected + 100.0:
            return None  # the fix does not agree with the reported speed: not learned from
        cell = self.cell(line.lat, line.lon)
        if self._count(self.moves_pending, self.water_cells, cell, line.mmsi, cfg.water_min_vessels):
            return cell
        return None

    def _stop(self, line: TrackLine, geo: Geography | None) -> None:
        cfg, t, tid = self.cfg, line.time_s, line.track_id
        slow = line.sog_kn < cfg.stop_speed_kn or self.anchored(line.mmsi, t)
        st = self.stopping.get(tid)
        if not slow:
            self.stopping.pop(tid, None)
            return
        if st is None or distance_m(st.lat, st.lon, line.lat, line.lon) > cfg.learn_cell_m:
            self.stopping[tid] = _Stop(t, line.lat, line.lon)
            return
        if not st.counted and t - st.since_s >= cfg.stop_s:
            st.counted = True
            assert line.mmsi is not None
            if self.learn_stop_here(geo, st.lat, st.lon):
                self._count_stop(self.cell(st.lat, st.lon), line.mmsi, t)

    def learn_stop_here(self, geo: Geography | None, lat: float, lon: float) -> bool:
        """Stops count towards anchorages only near the coast and outside watch zones (a fleet
        holding station at a disputed feature is what zone_entry and loitering are for)."""
        if geo is None:
            return True
        return not geo.watch_zones_at(lat, lon) and geo.near_land(lat, lon, self.cfg.anchor_status_coast_m)

    def _count_stop(self, cell: tuple[int, int], mmsi: int, t: float) -> None:
        """A stop of ``mmsi`` in ``cell``: the cell becomes an anchorage with anchorage_min_vessels
        distinct vessels whose stops span anchorage_min_span_s (not one gathering)."""
        if cell in self.anchor_cells:
            return
        pending = self.stops_pending
        seen = pending.get(cell)
        if seen is None:
            if len(pending) >= self.cfg.learn_max_pending_cells:
                del pending[next(iter(pending))]
            seen = pending[cell] = []
        if any(m == mmsi for m, _ in seen):
            return
        seen.append((mmsi, t))
        if len(seen) >= self.cfg.anchorage_min_vessels and t - seen[0][1] >= self.cfg.anchorage_min_span_s:
            self.anchor_cells[cell] = len(seen)
            del pending[cell]

    # ------------------------------------------------------------------ reading
    def anchorages_geojson(self) -> dict:
        """The learned anchorages as a GeoJSON FeatureCollection: adjacent cells (8-neighbour)
        merged into one feature, with its cell count and the distinct vessels that made a cell qualify."""
        import shapely
        from shapely.geometry import box, mapping

        left = set(self.anchor_cells)
        features = []
        while left:
            start = left.pop()
            group, todo = [start], [start]
            while todo:
                i, j = todo.pop()
                for di in (-1, 0, 1):
                    for dj in (-1, 0, 1):
                        c = (i + di, j + dj)
                        if c in left:
                            left.remove(c)
                            group.append(c)
                            todo.append(c)
            d = self.cell_deg
            shape = shapely.union_all([box(j * d, i * d, (j + 1) * d, (i + 1) * d) for i, j in group])
            c = shape.centroid
            features.append({"type": "Feature", "geometry": mapping(shape), "properties": {
                "kind": "anchorage", "source": "learned_from_traffic", "cells": len(group),
                "vessels_at_least": max(self.anchor_cells[g] for g in group),
                "center": [round(c.y, 5), round(c.x, 5)]}})
        features.sort(key=lambda f: f["properties"]["center"])
        return {"type": "FeatureCollection", "features": features}
