"""rendezvous: two vessels within rendezvous_m, both < rendezvous_speed_kn, for ≥ rendezvous_s,
away from ports and anchorages, inside the AOI; not two ships that both report at anchor or
moored near the coast (berth or anchorage neighbours), unless both at anchor and alongside; not
two fishing vessels (fleets and pair trawlers work together; as Global Fishing Watch's encounters,
a meeting needs a non-fishing vessel: a carrier, tanker or other ship).

Slow tracks sit in a fine grid (cells ≈ rendezvous_m), so each evaluation (at most
every eval_every_s per track) only looks at its 3×3 neighbourhood.  A pair starts when
first seen close, is re-confirmed by either vessel's updates, breaks beyond
rendezvous_m × rendezvous_break_factor, when either speeds up, is lost, or both go stale.
One timer per pair fires the alert at start + rendezvous_s and then checks staleness.
"""

from __future__ import annotations

from functools import partial

from dataclasses import dataclass

from ..geodesy import distance_m
from ..model import Alert, TrackLine
from .base import Context, PointGrid, minutes
from .identity import not_a_vessel
from .traffic import ANCHORED_STATUSES


@dataclass(slots=True)
class _Pair:
    since_s: float
    last_s: float
    distance_m: float
    alert: Alert | None = None
    min_m: float = 1e18
    due_s: float = 0.0          # the pending timer that counts (a re-formed pair ignores old ones)


class Rendezvous:
    types = ("rendezvous",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.grid = PointGrid(self.cfg.rendezvous_m * self.cfg.rendezvous_break_factor)
        self.pairs: dict[tuple[str, str], _Pair] = {}
        self.of_track: dict[str, set[tuple[str, str]]] = {}
        self.evaluated: dict[str, float] = {}

    def on_line(self, line: TrackLine) -> None:
        cfg, tid, t = self.cfg, line.track_id, line.time_s
        if line.status == "lost":
            self.grid.remove(tid)
            self.evaluated.pop(tid, None)
            for key in list(self.of_track.get(tid, ())):
                self._break(key, t, "one vessel was lost from the picture")
            self.of_track.pop(tid, None)
            return
        if not_a_vessel(line.mmsi):
            return
        slow = line.sog_kn < cfg.rendezvous_speed_kn
        if not slow:
            self.grid.remove(tid)
            for key in list(self.of_track.get(tid, ())):
                self._break(key, t, f"one vessel got under way at {line.sog_kn:.0f} kn")
            return
        if t - self.evaluated.get(tid, -1e18) < cfg.eval_every_s:
            return
        self.evaluated[tid] = t
        geo = self.ctx.geo
        if not geo.in_aoi(line.lat, line.lon) or geo.harbour(line.lat, line.lon, cfg.port_clear_m) \
                or self.ctx.traffic.anchorage_at(line.lat, line.lon):
            self.grid.remove(tid)
            for key in list(self.of_track.get(tid, ())):
                self._break(key, t, "the vessels are in a port or anchorage")
            return
        self.grid.place(tid, line.lat, line.lon)
        seen = set()
        for other, la, lo in self.grid.near(line.lat, line.lon):
            if other == tid:
                continue
            ol = self.ctx.lines.get(other)
            if ol is None or t - ol.time_s > cfg.stale_s:
                continue
            d = distance_m(line.lat, line.lon, la, lo)
            key = (tid, other) if tid < other else (other, tid)
            pair = self.pairs.get(key)
            if pair is None:
                if d > cfg.rendezvous_m or self._not_a_meeting(line, ol, d):
                    continue
                pair = self.pairs[key] = _Pair(t, t, d)
                self.of_track.setdefault(tid, set()).add(key)
                self.of_track.setdefault(other, set()).add(key)
                self._arm(key, pair, t + cfg.rendezvous_s)
            elif d > cfg.rendezvous_m * cfg.rendezvous_break_factor:
                continue
            elif self._not_a_meeting(line, ol, d):
                self._break(key, t, "not a meeting at sea: fishing vessels together, or neighbours at anchor or moored")
                continue
            seen.add(key)
            pair.last_s, pair.distance_m, pair.min_m = t, d, min(pair.min_m, d)
            if pair.alert is not None:
                self.ctx.book.update(pair.alert, t, force=False, sensors=line.sensors, distance_m=round(d),
                                     duration_s=round(t - pair.since_s))
        for key in list(self.of_track.get(tid, ())):
            if key not in seen:
                self._break(key, t, "the vessels separated")

    def _not_a_meeting(self, a: TrackLine, b: TrackLine, d: float) -> bool:
        """Not a meeting: two fishing vessels (unless ``rendezvous_fishing_pairs``), or both vessels report at anchor or moored (ITU-R M.1371 status 1 / 5) near the coast:
        ships moored at neighbouring berths, or anchored in one anchorage, are not a meeting at
        sea.  Two ships both at anchor within ``rendezvous_alongside_m`` are alongside each other
        (swinging at anchor, neighbours keep several hundred metres apart): that stays a
        rendezvous, a transfer at anchor being one of the things the rule is for."""
        fishing = self.cfg.fishing_ship_types
        if not self.cfg.rendezvous_fishing_pairs and a.ship_type in fishing and b.ship_type in fishing:
            return True   # fleets and pair trawlers work together: an encounter needs a non-fishing ship
        traffic, t = self.ctx.traffic, a.time_s
        sa, sb = traffic.status(a.mmsi, t), traffic.status(b.mmsi, t)
        if sa not in ANCHORED_STATUSES or sb not in ANCHORED_STATUSES:
            return False
        if sa == sb == 1 and d <= self.cfg.rendezvous_alongside_m:
            return False
        return self.ctx.geo.near_land(a.lat, a.lon, self.cfg.anchor_status_coast_m)

    def _due(self, key: tuple[str, str], due_s: float) -> None:
        pair = self.pairs.get(key)
        if pair is None or pair.due_s != due_s:
            return
        a, b = self.ctx.lines.get(key[0]), self.ctx.lines.get(key[1])
        if a is None or b is None or due_s - pair.last_s > self.cfg.stale_s:
            self._break(key, due_s, "contact with the vessels went stale")
            return
        if pair.alert is None:
            self._open(key, pair, a, b, due_s)
        self._arm(key, pair, max(pair.last_s + self.cfg.stale_s, due_s + 1.0))

    def _arm(self, key: tuple[str, str], pair: _Pair, due_s: float) -> None:
        pair.due_s = due_s
        self.ctx.timers.at(due_s, partial(self._due, key))

    def _open(self, key: tuple[str, str], pair: _Pair, a: TrackLine, b: TrackLine, now_s: float) -> None:
        def who(x: TrackLine) -> str:
            return f"MMSI {x.mmsi}" if x.mmsi is not None else f"radar contact {x.track_id}"
        dur = now_s - pair.since_s
        pair.alert = self.ctx.book.open(
            "rendezvous", self.cfg.severity["rendezvous"], now_s,
            f"{who(a)} and {who(b)} stopped {pair.distance_m:.0f} m apart for {minutes(dur)} at sea",
            track_id=a.track_id, mmsi=a.mmsi, lat=(a.lat + b.lat) / 2, lon=(a.lon + b.lon) / 2,
            sensors=a.sensors + b.sensors,
            evidence={"other_track_id": b.track_id, "other_mmsi": b.mmsi, "other_name": b.name,
                      "name": a.name, "since_s": pair.since_s, "duration_s": round(dur),
                      "distance_m": round(pair.distance_m), "min_distance_m": round(pair.min_m),
                      "speeds_kn": [round(a.sog_kn, 1), round(b.sog_kn, 1)],
                      "positions": [[a.lat, a.lon], [b.lat, b.lon]]})

    def _break(self, key: tuple[str, str], t: float, why: str) -> None:
        pair = self.pairs.pop(key, None)
        for tid in key:
            keys = self.of_track.get(tid)
            if keys is not None:
                keys.discard(key)
        if pair is not None and pair.alert is not None:
            self.ctx.book.close(pair.alert, t, f"Rendezvous ended after {minutes(t - pair.since_s)}: {why}",
                                duration_s=round(t - pair.since_s))
