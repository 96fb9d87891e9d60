"""foreign_fishing: a fishing vessel (ship_type in fishing_ship_types) whose flag is not the
state of the EEZ it is in, at fishing speed, for ≥ foreign_fishing_s.

Where EEZ claims overlap the vessel counts as foreign only if its flag is none of
the claimants (conservative).  Territories' flags count as their state's
(``flag_equivalents``: HK and MO are CN).  Evaluated at most every eval_every_s per track; a
break in the conditions longer than foreign_fishing_break_s ends the episode.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Alert, TrackLine
from .base import Context, minutes


@dataclass(slots=True)
class _Fishing:
    since_s: float
    last_ok_s: float
    states: tuple[str, ...]
    alert: Alert | None = None


class ForeignFishing:
    types = ("foreign_fishing",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.tracks: dict[str, _Fishing] = {}
        self.evaluated: dict[str, float] = {}

    def on_line(self, line: TrackLine) -> None:
        cfg, tid, t = self.cfg, line.track_id, line.time_s
        st = self.tracks.get(tid)
        if line.status == "lost":
            self.evaluated.pop(tid, None)
            if st is not None:
                self._end(tid, st, t, "vessel lost from the picture")
            return
        if line.ship_type not in cfg.fishing_ship_types or line.flag is None:
            return
        if t - self.evaluated.get(tid, -1e18) < cfg.eval_every_s:
            return
        self.evaluated[tid] = t
        states = tuple(self.ctx.geo.eez_states_at(line.lat, line.lon))
        flag = cfg.flag_equivalents.get(line.flag, line.flag)
        holds = bool(states) and flag not in states and \
            cfg.fishing_min_kn <= line.sog_kn <= cfg.fishing_max_kn
        if st is not None and holds and states != st.states and st.alert is None:
            st = None  # moved into another EEZ: start again
        if holds:
            if st is None:
                st = self.tracks[tid] = _Fishing(t, t, states)
            st.last_ok_s = t
            if st.alert is None and t - st.since_s >= cfg.foreign_fishing_s:
                self._open(line, st)
            elif st.alert is not None:
                self.ctx.book.update(st.alert, t, force=False, lat=line.lat, lon=line.lon, sensors=line.sensors,
                                     duration_s=round(t - st.since_s))
        elif st is not None and t - st.last_ok_s > cfg.foreign_fishing_break_s:
            why = "left the EEZ" if not states or flag in states else f"speed now {line.sog_kn:.1f} kn"
            self._end(tid, st, t, why)

    def _open(self, line: TrackLine, st: _Fishing) -> None:
        dur = line.time_s - st.since_s
        eez = "/".join(st.states)
        st.alert = self.ctx.book.open(
            "foreign_fishing", self.cfg.severity["foreign_fishing"], line.time_s,
            f"{line.flag}-flagged fishing vessel {line.name or line.mmsi} fishing in the {eez} EEZ "
            f"for {minutes(dur)} at {line.sog_kn:.1f} kn",
            track_id=line.track_id, mmsi=line.mmsi, lat=line.lat, lon=line.lon, sensors=line.sensors,
            evidence={"flag": line.flag, "eez_states": list(st.states), "ship_type": line.ship_type,
                      "name": line.name, "since_s": st.since_s, "duration_s": round(dur),
                      "sog_kn": round(line.sog_kn, 1)})

    def _end(self, tid: str, st: _Fishing, t: float, why: str) -> None:
        del self.tracks[tid]
        if st.alert is not None:
            self.ctx.book.close(st.alert, t, f"Foreign fishing ended ({why}) after "
                                f"{minutes(st.last_ok_s - st.since_s)}",
                                duration_s=round(st.last_ok_s - st.since_s))
