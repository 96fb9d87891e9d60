"""zone_entry: a track enters a watch zone (kinds in RulesConfig.zone_kinds).

Per (track, zone) one visit: the alert opens on the first line inside the zone and
stays open while the track is inside or hovering near it; the visit ends (alert
closed) when the track is farther than zone_exit_margin_m outside the zone, or
outside it for zone_exit_s, or lost.  Only then can a new entry count.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Alert, TrackLine
from .base import Context, minutes


@dataclass(slots=True)
class _Visit:
    alert: Alert
    entered_s: float
    out_since: float | None = None


class ZoneEntry:
    types = ("zone_entry",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.visits: dict[str, dict[int, _Visit]] = {}
        self.seen: set[str] = set()

    def on_line(self, line: TrackLine) -> None:
        if not self.ctx.geo.watch:
            return
        geo, tid, t = self.ctx.geo, line.track_id, line.time_s
        visits = self.visits.get(tid)
        if line.status == "lost":
            self.seen.discard(tid)
            for zi, v in (visits or {}).items():
                self.ctx.book.close(v.alert, t, f"Track lost while in or near {geo.watch[zi][0]}",
                                    duration_s=round(t - v.entered_s))
            self.visits.pop(tid, None)
            return
        inside = [zi for zi in geo.watch_zones_at(line.lat, line.lon) if geo.watch[zi][1] in self.cfg.zone_kinds]
        first = tid not in self.seen
        self.seen.add(tid)
        for zi in inside:
            v = visits.get(zi) if visits else None
            if v is not None:
                v.out_since = None
                continue
            name, kind, _ = geo.watch[zi]
            who = f"MMSI {line.mmsi}" + (f" ({line.name})" if line.name else "") if line.mmsi is not None \
                else f"Radar contact {tid}"
            verb = "first seen inside" if first else "entered"
            alert = self.ctx.book.open(
                "zone_entry", self.cfg.zone_severity.get(kind, "medium"), t, f"{who} {verb} {name}",
                track_id=tid, mmsi=line.mmsi, lat=line.lat, lon=line.lon, zone=name, sensors=line.sensors,
                evidence={"zone": name, "zone_kind": kind, "entered_s": t, "first_seen_inside": first,
                          "point": [line.lat, line.lon], "sog_kn": round(line.sog_kn, 1),
                          "cog_deg": round(line.cog_deg), "flag": line.flag, "name": line.name,
                          "sources": list(line.sources)})
            if visits is None:
                visits = self.visits[tid] = {}
            visits[zi] = _Visit(alert, t)
        if not visits:
            return
        for zi in [z for z in visits if z not in inside]:
            v = visits[zi]
            if v.out_since is None:
                v.out_since = t
            far = not geo.in_watch_outer(zi, line.lat, line.lon, self.cfg.zone_exit_margin_m)
            if far or t - v.out_since >= self.cfg.zone_exit_s:
                self.ctx.book.close(v.alert, t, f"Left {geo.watch[zi][0]} after {minutes(v.out_since - v.entered_s)}",
                                    exit_s=v.out_since, duration_s=round(v.out_since - v.entered_s),
                                    exit_point=[line.lat, line.lon])
                del visits[zi]
        if not visits:
            del self.visits[tid]
