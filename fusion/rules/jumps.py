"""speed_jump and identity_clash, from consecutive AIS positions of one MMSI.

Per MMSI the rule keeps a few "places": the last fix of each chain of mutually
consistent fixes (reachable at ≤ speed_jump_kn, or within speed_jump_min_m).  A fix
consistent with the current place just extends it.  A fix reachable from no place
is a speed_jump (it starts a new place).  A fix that returns to another recent place
is a switch: after clash_min_switches switches within clash_window_s the MMSI is
being reported from two places at once: an identity_clash, which retracts the
speed_jump it explains.  Both episodes close after a quiet period (timers).
"""

from __future__ import annotations

from functools import partial

from dataclasses import dataclass, field

from ..geodesy import KN_TO_MS, distance_m
from ..model import Alert, Observation
from .base import Context, minutes


@dataclass(slots=True)
class _Place:
    time_s: float
    lat: float
    lon: float
    track: str | None = None
    sensor: str = ""        # the sensor of the place's latest fix (releasability)


@dataclass(slots=True)
class _Mmsi:
    places: list[_Place] = field(default_factory=list)
    current: int = 0
    switches: list[float] = field(default_factory=list)
    jump: Alert | None = None
    jump_last_s: float = 0.0
    clash: Alert | None = None
    clash_last_s: float = 0.0


class Jumps:
    types = ("speed_jump", "identity_clash")

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.mmsis: dict[int, _Mmsi] = {}
        self.max_ms = self.cfg.speed_jump_kn * KN_TO_MS

    def _impossible(self, p: _Place, t: float, lat: float, lon: float) -> tuple[bool, float, float]:
        d = distance_m(p.lat, p.lon, lat, lon)
        dt = abs(t - p.time_s)
        speed = d / dt if dt > 0 else float("inf")
        return d > self.cfg.speed_jump_min_m and speed > self.max_ms, d, dt

    def on_obs(self, obs: Observation) -> None:
        if obs.kind != "ais_position" or obs.mmsi is None or obs.lat is None or obs.lon is None:
            return
        st = self.mmsis.get(obs.mmsi)
        if st is None:
            self.mmsis[obs.mmsi] = _Mmsi([_Place(obs.time_s, obs.lat, obs.lon, sensor=obs.sensor_id)])
            return
        t, cfg = obs.time_s, self.cfg
        cur = st.places[st.current]
        bad, d, dt = self._impossible(cur, t, obs.lat, obs.lon)
        if not bad:
            cur.time_s, cur.lat, cur.lon, cur.sensor = max(cur.time_s, t), obs.lat, obs.lon, obs.sensor_id
            return
        # another recent place this fix continues?
        for i, p in enumerate(st.places):
            if i != st.current and t - p.time_s <= cfg.clash_window_s \
                    and not self._impossible(p, t, obs.lat, obs.lon)[0]:
                st.switches = [s for s in st.switches if t - s <= cfg.clash_window_s] + [t]
                st.current = i
                p.time_s, p.lat, p.lon, p.sensor = max(p.time_s, t), obs.lat, obs.lon, obs.sensor_id
                if len(st.switches) >= cfg.clash_min_switches:
                    self._clash(obs, st, cur, p)
                elif st.clash is None:
                    self._jump(obs, st, cur, d, dt)
                return
        # a jump to a new place
        st.places = [p for p in st.places if t - p.time_s <= cfg.clash_window_s][-(cfg.clash_max_places - 1):]
        st.places.append(_Place(t, obs.lat, obs.lon, sensor=obs.sensor_id))
        st.current = len(st.places) - 1
        if st.clash is None:
            self._jump(obs, st, cur, d, dt)
            self.ctx.fault("speed_jump", obs, cur.lat, cur.lon)

    # ------------------------------------------------------------------ alerts
    def _jump(self, obs: Observation, st: _Mmsi, frm: _Place, d: float, dt: float) -> None:
        speed_kn = d / dt / KN_TO_MS if dt > 0 else None
        ev = {"from": {"time_s": frm.time_s, "lat": frm.lat, "lon": frm.lon},
              "to": {"time_s": obs.time_s, "lat": obs.lat, "lon": obs.lon},
              "distance_m": round(d), "elapsed_s": round(dt, 1),
              "implied_speed_kn": None if speed_kn is None else round(speed_kn, 1)}
        speed_txt = "at once" if speed_kn is None else f"in {dt:.0f} s ({speed_kn:.0f} kn)"
        summary = f"Position jumped {d / 1000:.1f} km {speed_txt}"
        st.jump_last_s = obs.time_s
        if st.jump is not None:
            count = st.jump.evidence.get("jumps", 1) + 1
            self.ctx.book.update(st.jump, obs.time_s, force=False, summary=summary, lat=obs.lat,
                                 lon=obs.lon, sensors=[obs.sensor_id, frm.sensor], jumps=count, last=ev)
            return
        ev["jumps"] = 1
        ev["releasability"] = self.ctx.releasability([obs.sensor_id, frm.sensor])
        st.jump = self.ctx.book.open("speed_jump", self.cfg.severity["speed_jump"], obs.time_s, summary,
                                     track_id=self._track(obs.mmsi), mmsi=obs.mmsi, lat=obs.lat,
                                     lon=obs.lon, evidence=ev)
        self._arm_jump(obs.mmsi, obs.time_s)

    def _arm_jump(self, mmsi: int, t: float) -> None:
        self.ctx.timers.at(t + self.cfg.speed_jump_quiet_s, partial(self._jump_due, mmsi))

    def _jump_due(self, mmsi: int, due_s: float) -> None:
        st = self.mmsis.get(mmsi)
        if st is None or st.jump is None:
            return
        if due_s - st.jump_last_s >= self.cfg.speed_jump_quiet_s:
            self.ctx.book.close(st.jump, due_s, f"No further position jumps for {minutes(due_s - st.jump_last_s)}")
            st.jump = None
        else:
            self._arm_jump(mmsi, st.jump_last_s)

    def _clash(self, obs: Observation, st: _Mmsi, a: _Place, b: _Place) -> None:
        st.clash_last_s = obs.time_s
        d = distance_m(a.lat, a.lon, b.lat, b.lon)
        recent = [p for p in st.places if obs.time_s - p.time_s <= self.cfg.clash_window_s]
        places = [{"time_s": p.time_s, "lat": p.lat, "lon": p.lon} for p in recent]
        sensors = [obs.sensor_id, *(p.sensor for p in recent)]
        tracks = sorted(self.ctx.mmsi_tracks.get(obs.mmsi, ()))  # type: ignore[arg-type]
        if st.clash is not None:
            self.ctx.book.update(st.clash, obs.time_s, force=False, switches=len(st.switches), sensors=sensors,
                                 places=places, distance_m=round(d))
            return
        summary = f"MMSI {obs.mmsi} reported from {len(places)} places {d / 1000:.0f} km apart at once"
        st.clash = self.ctx.book.open(
            "identity_clash", self.cfg.severity["identity_clash"], obs.time_s, summary,
            track_id=self._track(obs.mmsi), mmsi=obs.mmsi, lat=obs.lat, lon=obs.lon,
            evidence={"places": places, "distance_m": round(d), "switches": len(st.switches),
                      "track_ids": tracks, "releasability": self.ctx.releasability(sensors)})
        if st.jump is not None:
            self.ctx.book.retract(st.jump, obs.time_s, f"the jumps are MMSI {obs.mmsi} being reported "
                                  f"from two places at once (alert {st.clash.alert_id})",
                                  explained_by=st.clash.alert_id)
            st.jump = None
        self._arm_clash(obs.mmsi, obs.time_s)

    def _arm_clash(self, mmsi: int, t: float) -> None:
        self.ctx.timers.at(t + self.cfg.clash_window_s, partial(self._clash_due, mmsi))

    def _clash_due(self, mmsi: int, due_s: float) -> None:
        st = self.mmsis.get(mmsi)
        if st is None or st.clash is None:
            return
        if due_s - st.clash_last_s >= self.cfg.clash_window_s:
            self.ctx.book.close(st.clash, due_s, f"MMSI {mmsi} reported from one place only "
                                f"for {minutes(due_s - st.clash_last_s)}")
            st.clash = None
            st.switches.clear()
        else:
            self._arm_clash(mmsi, st.clash_last_s)

    def _track(self, mmsi: int | None) -> str | None:
        tracks = self.ctx.mmsi_tracks.get(mmsi) if mmsi is not None else None
        return next(reversed(tracks)) if tracks else None
