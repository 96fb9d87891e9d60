"""gnss_interference: ≥ gnss_min_vessels distinct vessels within gnss_radius_m of each
other show position faults (speed jumps, on-land fixes) within gnss_window_s.

Faults arrive from the speed_jump and on_land rules (``ctx.fault``) and sit in a
coarse grid for one window.  A fault near an open area alert joins it (one alert per
area and episode); the episode closes after a window without faults.

An on-land fix later shown to be on navigable water learned from traffic (``on_water_learned``,
as on_land does) was no fault: it leaves the window, and each open area forgets the vessels
whose every fault there was such a fix.  An area left with fewer than gnss_min_vessels is
retracted (it grew out of river traffic); otherwise it is updated with the vessels that remain.
"""

from __future__ import annotations

from functools import partial

from collections import deque
from dataclasses import dataclass, field

from ..geodesy import distance_m
from ..model import Alert, Observation
from .base import Context, PointGrid, minutes


@dataclass(slots=True)
class _Area:
    alert: Alert
    lat: float
    lon: float
    vessels: dict[int, str] = field(default_factory=dict)
    last_s: float = 0.0
    # per vessel, its faults in the area: (kind, lat, lon), the latest _MAX_FIXES (a learned
    # water cell may explain them later); missing in areas from a checkpoint before it
    fixes: dict[int, list[tuple[str, float, float]]] = field(default_factory=dict)


_MAX_FIXES = 32


class Gnss:
    types = ("gnss_interference",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.grid = PointGrid(self.cfg.gnss_radius_m)
        self.faults: deque[tuple[int, float, int, str, float, float, str]] = deque()  # id, t, mmsi, kind, lat, lon, sensor
        self.by_id: dict[int, tuple[int, float, int, str, float, float, str]] = {}
        self.areas: list[_Area] = []
        self._n = 0
        ctx.position_faults.append(self.on_fault)

    def on_fault(self, kind: str, obs: Observation, lat: float, lon: float) -> None:
        cfg, t = self.cfg, obs.time_s
        assert obs.mmsi is not None
        while self.faults and self.faults[0][1] < t - cfg.gnss_window_s:
            old = self.faults.popleft()[0]
            self.grid.remove(old)
            del self.by_id[old]
        self._n += 1
        self.faults.append((self._n, t, obs.mmsi, kind, lat, lon, obs.sensor_id))
        self.by_id[self._n] = self.faults[-1]
        self.grid.place(self._n, lat, lon)
        for area in self.areas:
            if area.alert.state == "open" and distance_m(area.lat, area.lon, lat, lon) <= cfg.gnss_radius_m:
                area.last_s = max(area.last_s, t)
                _note(area, obs.mmsi, kind, lat, lon)
                if obs.mmsi not in area.vessels:
                    area.vessels[obs.mmsi] = kind
                    self.ctx.book.update(area.alert, t, force=False, vessels=len(area.vessels), sensors=[obs.sensor_id],
                                         mmsis=sorted(area.vessels), summary=self._summary(area.vessels))
                return
        near: dict[int, tuple[str, float, float]] = {}
        sensors: dict[str, None] = {}
        fixes: dict[int, list[tuple[str, float, float]]] = {}
        for fid, la, lo in self.grid.near(lat, lon):
            f = self.by_id.get(fid)
            if f is not None and t - f[1] <= cfg.gnss_window_s and distance_m(lat, lon, la, lo) <= cfg.gnss_radius_m:
                near[f[2]] = (f[3], la, lo)
                fixes.setdefault(f[2], []).append((f[3], la, lo))
                sensors[f[6]] = None
        if len(near) < cfg.gnss_min_vessels:
            return
        clat = sum(v[1] for v in near.values()) / len(near)
        clon = sum(v[2] for v in near.values()) / len(near)
        vessels = {m: v[0] for m, v in near.items()}
        alert = self.ctx.book.open(
            "gnss_interference", cfg.severity["gnss_interference"], t, self._summary(vessels),
            lat=clat, lon=clon, sensors=list(sensors),
            evidence={"vessels": len(vessels), "mmsis": sorted(vessels), "faults": dict(sorted(vessels.items())),
                      "radius_m": cfg.gnss_radius_m, "window_s": cfg.gnss_window_s})
        area = _Area(alert, clat, clon, vessels, t, {m: v[-_MAX_FIXES:] for m, v in fixes.items()})
        self.areas.append(area)
        self._arm(area, t)

    def on_water_learned(self, cell: tuple[int, int], time_s: float) -> None:
        """Traffic has just shown ``cell`` to be navigable water: on-land fixes now within
        on_land_m of learned water were no faults (the same test as on_land's retraction)."""
        def on_water(kind: str, lat: float, lon: float) -> bool:
            return kind == "on_land" and self.ctx.traffic.water_distance_m(
                lat, lon, self.cfg.on_land_m + 1.0) <= self.cfg.on_land_m

        for f in [f for f in self.faults if on_water(f[3], f[4], f[5])]:
            self.grid.remove(f[0])
            del self.by_id[f[0]]
        if len(self.by_id) != len(self.faults):
            self.faults = deque(f for f in self.faults if f[0] in self.by_id)
        for area in list(self.areas):
            fixes = getattr(area, "fixes", None)
            if area.alert.state != "open" or not fixes:
                continue
            gone = [m for m, fs in fixes.items() if all(on_water(*f) for f in fs)]
            if not gone:
                continue
            for m in gone:
                del fixes[m]
                area.vessels.pop(m, None)
            if len(area.vessels) < self.cfg.gnss_min_vessels:
                self.ctx.book.retract(area.alert, time_s, "its on-land fixes are on navigable water learned "
                                      "from traffic", learned_water_cell=list(cell), vessels=len(area.vessels),
                                      mmsis=sorted(area.vessels))
                self.areas.remove(area)
            else:
                self.ctx.book.update(area.alert, time_s, force=True, vessels=len(area.vessels),
                                     mmsis=sorted(area.vessels), faults=dict(sorted(area.vessels.items())),
                                     summary=self._summary(area.vessels))

    def _arm(self, area: _Area, t: float) -> None:
        self.ctx.timers.at(t + self.cfg.gnss_window_s, partial(self._due, area))

    def _due(self, area: _Area, due_s: float) -> None:
        if area.alert.state != "open":  # retracted meanwhile (learned water)
            return
        if due_s - area.last_s >= self.cfg.gnss_window_s:
            self.ctx.book.close(area.alert, due_s, f"No position faults in the area for "
                                f"{minutes(due_s - area.last_s)}; {len(area.vessels)} vessels affected",
                                vessels=len(area.vessels), mmsis=sorted(area.vessels))
            self.areas.remove(area)
        else:
            self._arm(area, area.last_s)

    @staticmethod
    def _summary(vessels: dict[int, str]) -> str:
        return f"{len(vessels)} vessels show position jumps or on-land fixes together: likely GNSS interference"


def _note(area: _Area, mmsi: int, kind: str, lat: float, lon: float) -> None:
    fixes = getattr(area, "fixes", None)
    if fixes is None:
        return
    mine = fixes.setdefault(mmsi, [])
    mine.append((kind, lat, lon))
    if len(mine) > _MAX_FIXES:
        del mine[0]
