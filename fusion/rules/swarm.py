"""swarm: ≥ swarm_min_vessels tracks within swarm_radius_m of a centre, all slower than
swarm_speed_kn, for ≥ swarm_s (away from ports and anchorages by default).

Slow tracks sit in a grid (cells of swarm_radius_m); a sweep every sweep_every_s of
feed time clusters them greedily around the densest cells.  A cluster that overlaps
a previous one continues its episode (since stays); the alert opens once the
episode is swarm_s old, lists the members, is updated when membership changes
notably and closes when the cluster dissolves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..geodesy import distance_m
from ..model import Alert, TrackLine
from .base import Context, PointGrid, minutes
from .identity import not_a_vessel


@dataclass(slots=True)
class _Swarm:
    since_s: float
    lat: float
    lon: float
    members: set[str] = field(default_factory=set)
    alert: Alert | None = None


class Swarm:
    types = ("swarm",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.grid = PointGrid(self.cfg.swarm_radius_m)
        self.swarms: list[_Swarm] = []
        self._armed = False

    def on_line(self, line: TrackLine) -> None:
        if line.status == "lost" or line.sog_kn >= self.cfg.swarm_speed_kn or not_a_vessel(line.mmsi):
            self.grid.remove(line.track_id)
        else:
            self.grid.place(line.track_id, line.lat, line.lon)
        if not self._armed:
            self._armed = True
            self.ctx.timers.at(line.time_s + self.cfg.sweep_every_s, self._sweep)

    def _sweep(self, now_s: float) -> None:
        cfg = self.cfg
        if self.grid.where or self.swarms:
            self.ctx.timers.at(now_s + cfg.sweep_every_s, self._sweep)
        else:
            self._armed = False
        for tid in [tid for tid in self.grid.where if self._stale(tid, now_s)]:
            self.grid.remove(tid)
        clusters = self._clusters(now_s)
        kept: list[_Swarm] = []
        for lat, lon, members in clusters:
            prev = next((s for s in self.swarms if s not in kept and
                         (len(s.members & members) * 2 >= len(s.members)
                          or distance_m(s.lat, s.lon, lat, lon) <= cfg.swarm_radius_m)), None)
            if prev is None:
                prev = _Swarm(now_s, lat, lon)
            changed = len(members ^ prev.members) >= max(2, len(prev.members) // 10)
            prev.lat, prev.lon, prev.members = lat, lon, members
            kept.append(prev)
            if prev.alert is None and now_s - prev.since_s >= cfg.swarm_s:
                prev.alert = self.ctx.book.open(
                    "swarm", cfg.severity["swarm"], now_s, self._summary(prev, now_s), lat=lat, lon=lon,
                    evidence=self._evidence(prev, now_s), sensors=self._sensors(members))
            elif prev.alert is not None:
                self.ctx.book.update(prev.alert, now_s, force=changed, summary=self._summary(prev, now_s),
                                     lat=lat, lon=lon, sensors=self._sensors(members),
                                     **self._evidence(prev, now_s))
        for s in self.swarms:
            if s not in kept and s.alert is not None:
                self.ctx.book.close(s.alert, now_s, f"Swarm dispersed after {minutes(now_s - s.since_s)}",
                                    duration_s=round(now_s - s.since_s))
        self.swarms = kept

    def _sensors(self, members: set[str]) -> list[str]:
        """Every sensor behind the members' lines (the swarm alert is releasable where all allow)."""
        out: dict[str, None] = {}
        for tid in sorted(members):
            line = self.ctx.lines.get(tid)
            out.update(dict.fromkeys(line.sensors if line is not None else ("?unknown-track",)))
        return list(out)

    def _stale(self, tid: str, now_s: float) -> bool:
        line = self.ctx.lines.get(tid)
        return line is None or now_s - line.time_s > self.cfg.stale_s

    def _clusters(self, now_s: float) -> list[tuple[float, float, set[str]]]:
        cfg, geo = self.cfg, self.ctx.geo
        counts = {c: len(b) for c, b in self.grid.cells.items()}
        dense = []
        for (i, j), _ in counts.items():
            n = sum(counts.get((i + di, j + dj), 0) for di in (-1, 0, 1) for dj in (-1, 0, 1))
            if n >= cfg.swarm_min_vessels:
                dense.append((-n, i, j))
        dense.sort()
        used: set[str] = set()
        out = []
        rings = 1 + math.ceil(1.0)
        for _, i, j in dense:
            pts = [(t, la, lo) for t, la, lo in self._cells_around(i, j, 1) if t not in used]
            if len(pts) < cfg.swarm_min_vessels:
                continue
            lat = sum(p[1] for p in pts) / len(pts)
            lon = sum(p[2] for p in pts) / len(pts)
            members = {t for t, la, lo in self.grid.near(lat, lon, rings)
                       if t not in used and distance_m(lat, lon, la, lo) <= cfg.swarm_radius_m}
            if len(members) < cfg.swarm_min_vessels:
                continue
            if not geo.in_aoi(lat, lon) or (cfg.swarm_exclude_ports and geo.harbour(lat, lon, cfg.port_clear_m)):
                continue
            used |= members
            out.append((lat, lon, members))
        return out

    def _cells_around(self, i: int, j: int, rings: int):
        for a in range(i - rings, i + rings + 1):
            for b in range(j - rings, j + rings + 1):
                for t, (la, lo) in self.grid.cells.get((a, b), {}).items():
                    yield t, la, lo

    def _summary(self, s: _Swarm, now_s: float) -> str:
        return (f"Swarm of {len(s.members)} slow vessels within {self.cfg.swarm_radius_m / 1000:.0f} km "
                f"for {minutes(now_s - s.since_s)}")

    def _evidence(self, s: _Swarm, now_s: float) -> dict:
        lines = [self.ctx.lines[t] for t in sorted(s.members) if t in self.ctx.lines]
        return {"vessels": len(s.members), "since_s": s.since_s, "duration_s": round(now_s - s.since_s),
                "radius_m": self.cfg.swarm_radius_m,
                "members": [{"track_id": ln.track_id, "mmsi": ln.mmsi, "name": ln.name, "flag": ln.flag,
                             "lat": round(ln.lat, 5), "lon": round(ln.lon, 5), "sog_kn": round(ln.sog_kn, 1)}
                            for ln in lines]}
