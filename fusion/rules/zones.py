"""zone_entry: vessels inside a watch zone (kinds in RulesConfig.zone_kinds), by the zone's
policy, grouped.

**Visits.** Per (track, zone) one visit: it starts on the first line inside the zone and lasts
while the track is inside or hovering near it; it ends when the track is farther than
zone_exit_margin_m outside the zone, or outside it for zone_exit_s, or lost.  Only then can a
new entry count.

**Policy.** ``zone_policy(cfg, name, kind)``: the kind's policy (``cfg.zone_policies[kind]``)
overridden key by key by the zone's own (``cfg.zone_policy_overrides[name]``, set by an admin).
Keys: ``categories`` (vessel categories that matter, see ``category``; None = all), ``flags``
(flag states that matter; None = all), ``exclude_flags``, ``dark`` (True: only vessels without
AIS identity; False: only identified ones; None: both), ``min_inside_s`` (a visit counts
once this long inside), ``severity``, ``group``.  A visit that does not match raises nothing.
A radar-only (``dark``) visit counts only once it has stayed without AIS for ``zone_dark_s``
(its plots may come before its AIS is heard and associated).  The shipped policy of
``disputed_feature_12nm`` leaves out fishing and leisure craft (``RulesConfig.zone_policies``).

**Grouping.** The visits that count are grouped per (zone, vessel category): one alert
"7 fishing vessels inside Whitsun Reef" opens with the first, is updated (re-emitted at once)
as vessels join and leave, lists them (``evidence.track_ids``, ``mmsis``, ``vessels``), and
closes when the last has left.  An identified vessel with no ship type yet counts as
``unknown`` and moves to its category's group when its type arrives (a group of that vessel
alone is relabelled in place, so no second alert).  Its ``track_id``/``mmsi`` are the first vessel's.  Its
releasability is the meet of every member's sensors and never widens while it is open (a
vessel that left was shown in it).  With ``group: False`` each vessel has its own alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..model import Alert, TrackLine
from .base import Context, minutes
from .config import RulesConfig

POLICY_KEYS = ("categories", "flags", "exclude_flags", "dark", "min_inside_s", "severity", "group")
CATEGORIES = ("fishing", "cargo", "tanker", "passenger", "government", "service", "leisure",
              "high_speed", "other", "unknown", "dark")


def category(line: TrackLine) -> str:
    """The vessel category from the AIS ship type (ITU-R M.1371 table 53); ``dark`` without
    an AIS identity, ``unknown`` with one but no ship type yet."""
    if line.mmsi is None:
        return "dark"
    t = line.ship_type
    if t is None or t == 0:
        return "unknown"
    if t == 30:
        return "fishing"
    if 70 <= t <= 79:
        return "cargo"
    if 80 <= t <= 89:
        return "tanker"
    if 60 <= t <= 69:
        return "passenger"
    if t in (35, 51, 55):
        return "government"
    if t in (31, 32, 33, 34, 50, 52, 53, 54, 58):
        return "service"
    if t in (36, 37):
        return "leisure"
    if 40 <= t <= 49:
        return "high_speed"
    return "other"


def zone_policy(cfg: RulesConfig, name: str, kind: str) -> dict[str, Any]:
    pol: dict[str, Any] = {"categories": None, "flags": None, "exclude_flags": (), "dark": None,
                           "min_inside_s": 0.0, "severity": cfg.zone_severity.get(kind, "medium"),
                           "group": cfg.zone_group}
    pol.update(cfg.zone_policies.get(kind, {}))
    pol.update(cfg.zone_policy_overrides.get(name, {}))
    return pol


def matches(pol: dict[str, Any], line: TrackLine, cat: str) -> bool:
    if pol["categories"] is not None and cat not in pol["categories"]:
        return False
    if pol["dark"] is not None and (line.mmsi is None) != bool(pol["dark"]):
        return False
    if pol["flags"] is not None and line.flag not in pol["flags"]:
        return False
    return not (line.flag is not None and line.flag in (pol["exclude_flags"] or ()))


@dataclass(slots=True)
class _Visit:
    entered_s: float
    first: bool = False                    # first seen inside (not seen entering)
    out_since: float | None = None
    key: tuple[int, str] | None = None     # the group it counts in, once it does
    alert: Alert | None = None             # legacy checkpoints only (one alert per visit)


# a group alert details this many of its vessels (``members``); ``track_ids`` and ``mmsis`` list all
MEMBERS_LISTED = 50


@dataclass(slots=True)
class _Group:
    alert: Alert
    since_s: float
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # track id -> who, in join order
    armed: bool = False                    # a re-send of the membership is scheduled


class ZoneEntry:
    types = ("zone_entry",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.visits: dict[str, dict[int, _Visit]] = {}
        self.seen: set[str] = set()
        self.groups: dict[tuple[int, str], _Group] = {}

    def on_line(self, line: TrackLine) -> None:
        if not self.ctx.geo.watch:
            return
        if not hasattr(self, "groups"):   # a checkpoint from before grouping
            self.groups = {}
        geo, tid, t = self.ctx.geo, line.track_id, line.time_s
        visits = self.visits.get(tid)
        if line.status == "lost":
            self.seen.discard(tid)
            for zi, v in (visits or {}).items():
                self._leave(tid, zi, v, t, f"lost while in or near {geo.watch[zi][0]}")
            self.visits.pop(tid, None)
            return
        inside = [zi for zi in geo.watch_zones_at(line.lat, line.lon) if geo.watch[zi][1] in self.cfg.zone_kinds]
        first = tid not in self.seen
        self.seen.add(tid)
        for zi in inside:
            v = visits.get(zi) if visits else None
            if v is None:
                v = _Visit(t, first)
                if visits is None:
                    visits = self.visits[tid] = {}
                visits[zi] = v
            v.out_since = None
            key = getattr(v, "key", None)
            if key is None and getattr(v, "alert", None) is None:
                self._maybe_join(line, zi, v)
            elif key is not None and key[1].split(":")[0] == "unknown" and category(line) != "unknown":
                # its ship type has arrived (AIS message 5 or 24): it moves to its category's group
                if not self._relabel(line, zi, v):
                    self._leave(tid, zi, v, t, None, moved=True)
                    v.key = None
                    self._maybe_join(line, zi, v)
        if not visits:
            return
        for zi in [z for z in visits if z not in inside]:
            v = visits[zi]
            if v.out_since is None:
                v.out_since = t
            far = not geo.in_watch_outer(zi, line.lat, line.lon, self.cfg.zone_exit_margin_m)
            if far or t - v.out_since >= self.cfg.zone_exit_s:
                self._leave(tid, zi, v, t, None, exit_point=[line.lat, line.lon])
                del visits[zi]
        if not visits:
            del self.visits[tid]

    # ------------------------------------------------------------------ groups
    def _maybe_join(self, line: TrackLine, zi: int, v: _Visit) -> None:
        name, kind, _ = self.ctx.geo.watch[zi]
        pol = zone_policy(self.cfg, name, kind)
        cat = category(line)
        t = line.time_s
        if t - v.entered_s < float(pol["min_inside_s"]) or not matches(pol, line, cat):
            return
        if cat == "dark" and t - v.entered_s < self.cfg.zone_dark_s:
            return  # radar plots may come before the vessel's AIS is heard and associated
        key = (zi, cat) if pol["group"] else (zi, f"{cat}:{line.track_id}")
        v.key = key
        who = {"track_id": line.track_id, "mmsi": line.mmsi, "name": line.name, "flag": line.flag,
               "ship_type": line.ship_type, "entered_s": v.entered_s, "first_seen_inside": v.first,
               "point": [line.lat, line.lon]}
        g = self.groups.get(key)
        if g is not None and g.alert.state == "open":
            g.members[line.track_id] = who
            self._changed(g, t, summary=self._summary(g.members, name, cat), sensors=line.sensors,
                          **self._evidence(g))
            return
        alert = self.ctx.book.open(
            "zone_entry", pol["severity"], t, self._summary({line.track_id: who}, name, cat), track_id=line.track_id, mmsi=line.mmsi,
            lat=line.lat, lon=line.lon, zone=name, sensors=line.sensors,
            evidence={"zone": name, "zone_kind": kind, "category": cat, "entered_s": v.entered_s,
                      "first_seen_inside": v.first, "point": [line.lat, line.lon],
                      "sog_kn": round(line.sog_kn, 1), "cog_deg": round(line.cog_deg), "flag": line.flag,
                      "name": line.name, "sources": list(line.sources),
                      "policy": {k: (list(x) if isinstance(x, (tuple, set, frozenset)) else x)
                                 for k, x in pol.items()},
                      "track_ids": [line.track_id], "mmsis": [line.mmsi] if line.mmsi is not None else [],
                      "vessels": 1, "members": [who]})
        self.groups[key] = _Group(alert, t, {line.track_id: who})

    def _relabel(self, line: TrackLine, zi: int, v: _Visit) -> bool:
        """The vessel alone in an ``unknown`` group, its category now known and not yet grouped
        here: the same alert becomes that category's (True), if the policy still selects it."""
        old = v.key
        g = self.groups.get(old) if old is not None else None
        name, kind, _ = self.ctx.geo.watch[zi]
        pol = zone_policy(self.cfg, name, kind)
        cat = category(line)
        new = (zi, cat) if pol["group"] else (zi, f"{cat}:{line.track_id}")
        if g is None or list(g.members) != [line.track_id] or new in self.groups or not matches(pol, line, cat):
            return False
        del self.groups[old]
        self.groups[new] = g
        v.key = new
        g.members[line.track_id]["ship_type"] = line.ship_type
        self.ctx.book.update(g.alert, line.time_s, force=True, summary=self._summary(g.members, name, cat),
                             category=cat, **self._evidence(g))
        return True

    def _leave(self, tid: str, zi: int, v: _Visit, t: float, lost: str | None, moved: bool = False,
               **evidence: Any) -> None:
        name = self.ctx.geo.watch[zi][0]
        out_s = v.out_since if v.out_since is not None else t
        legacy = getattr(v, "alert", None)
        if legacy is not None:   # a visit from a checkpoint before grouping
            self.ctx.book.close(legacy, t, f"Track {lost}" if lost else f"Left {name} after "
                                f"{minutes(out_s - v.entered_s)}", duration_s=round(out_s - v.entered_s))
            return
        key = getattr(v, "key", None)
        g = self.groups.get(key) if key is not None else None
        if g is None or tid not in g.members:
            return
        del g.members[tid]
        if not g.members:
            del self.groups[key]
            why = f"Track {lost}" if lost else f"Left {name} after {minutes(out_s - v.entered_s)}"
            if moved:
                why = f"Vessel type now known: {tid} is counted with its category"
            if g.alert.evidence.get("vessels", 1) > 1 or g.alert.evidence.get("peak_vessels", 1) > 1:
                why = f"All vessels have left {name} ({why.lower()})"
            self.ctx.book.close(g.alert, t, why, exit_s=out_s, duration_s=round(out_s - v.entered_s),
                                vessels=0, track_ids=[], mmsis=[], members=[], **evidence)
            return
        self._changed(g, t, summary=self._summary(g.members, name, key[1]),
                      **self._evidence(g), last_left={"track_id": tid, "time_s": t})

    def _changed(self, g: _Group, t: float, **changes: Any) -> None:
        """A group's membership changed: the alert goes out at once unless it went out less than
        ``zone_group_update_s`` ago; then the latest membership goes out when that time is up.
        A fleet of hundreds at a reef is one alert re-sent once a minute, not once per vessel
        (each copy lists every vessel: per-vessel re-sends grow with the square of the fleet)."""
        book, every = self.ctx.book, self.cfg.zone_group_update_s
        last = book.emitted_at(g.alert)
        if t - last >= every:
            book.update(g.alert, t, force=True, **changes)
            return
        book.update(g.alert, t, force=False, **changes)  # a narrowed releasability still goes out now
        if book.emitted_at(g.alert) != t and not getattr(g, "armed", False):
            g.armed = True
            self.ctx.timers.at(last + every, partial(self._resend, g.alert.alert_id))

    def _resend(self, alert_id: str, due_s: float) -> None:
        for g in self.groups.values():
            if g.alert.alert_id == alert_id:
                g.armed = False
                if g.alert.state == "open" and self.ctx.book.emitted_at(g.alert) < g.alert.evidence.get("updated_s", due_s):
                    self.ctx.book.update(g.alert, due_s, force=True)
                return

    @staticmethod
    def _evidence(g: _Group) -> dict[str, Any]:
        members = list(g.members.values())
        peak = max(len(members), g.alert.evidence.get("peak_vessels", 1))
        return {"track_ids": [m["track_id"] for m in members],
                "mmsis": [m["mmsi"] for m in members if m["mmsi"] is not None],
                "vessels": len(members), "peak_vessels": peak, "members": members[:MEMBERS_LISTED],
                "members_truncated": len(members) > MEMBERS_LISTED}

    @staticmethod
    def _summary(members: dict[str, dict[str, Any]], zone: str, cat: str) -> str:
        n = len(members)
        if n == 1:
            m = next(iter(members.values()))
            who = f"MMSI {m['mmsi']}" + (f" ({m['name']})" if m["name"] else "") if m["mmsi"] is not None \
                else f"Radar contact {m['track_id']}"
            return f"{who} {'first seen inside' if m['first_seen_inside'] else 'entered'} {zone}"
        cat = cat.split(":")[0]
        label = {"dark": "dark (no AIS) vessels", "unknown": "vessels of unknown type"}.get(cat, f"{cat} vessels")
        return f"{n} {label} inside {zone}"
