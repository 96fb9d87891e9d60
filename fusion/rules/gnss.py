"""gnss_interference: ≥ gnss_min_vessels distinct vessels within gnss_radius_m of each
other show position faults (speed jumps, on-land fixes) within gnss_window_s.

Faults arrive from the speed_jump and on_land rules (``ctx.fault``) and sit in a
coarse grid for one window.  A fault near an open area alert joins it (one alert per
area and episode); the episode closes after a window without faults.
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
                if obs.mmsi not in area.vessels:
                    area.vessels[obs.mmsi] = kind
                    self.ctx.book.update(area.alert, t, force=False, vessels=len(area.vessels), sensors=[obs.sensor_id],
                                         mmsis=sorted(area.vessels), summary=self._summary(area.vessels))
                return
        near: dict[int, tuple[str, float, float]] = {}
        sensors: dict[str, None] = {}
        for fid, la, lo in self.grid.near(lat, lon):
            f = self.by_id.get(fid)
            if f is not None and t - f[1] <= cfg.gnss_window_s and distance_m(lat, lon, la, lo) <= cfg.gnss_radius_m:
                near[f[2]] = (f[3], la, lo)
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
        area = _Area(alert, clat, clon, vessels, t)
        self.areas.append(area)
        self._arm(area, t)

    def _arm(self, area: _Area, t: float) -> None:
        self.ctx.timers.at(t + self.cfg.gnss_window_s, partial(self._due, area))

    def _due(self, area: _Area, due_s: float) -> None:
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
