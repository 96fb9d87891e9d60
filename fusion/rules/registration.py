"""``sensor_integrity`` for radars: a registration bias measured against AIS, and corrected.

A radar whose north alignment or range calibration is off places every plot rotated about it by
a fixed angle, or pushed out or in by a fixed distance.  AIS gives ground truth: a vessel whose
GNSS position it transmits.  For each radar plot, the one AIS vessel near it (its latest report
within ``registration_ais_fresh_s``, dead-reckoned to the plot's time, within
``registration_gate_m`` of the plot and no other AIS vessel within twice that) gives a residual
in the radar's own polar frame: range (plot − AIS) and bearing (plot − AIS).  Per radar the latest
residuals are kept; the medians of the latest ``registration_min_pairs``, once they come from
``registration_min_vessels`` distinct vessels, are the bias (robust to
clutter, dark vessels and mispairings, and AIS antenna offsets average out over many ships).  A
bias beyond ``registration_bearing_deg`` or ``registration_range_m`` raises ``sensor_integrity``
with cause ``registration_bias``; while it is open the radar's plots reach the tracker corrected
(rotated and shifted back, ``registration_correct``), the rule itself keeps measuring raw plots,
so the correction follows the bias and ends with the episode (closed once the medians are back
within half the thresholds for ``integrity_quiet_s``).
"""

from __future__ import annotations

import math
from collections import deque
from statistics import median

from ..geodesy import KN_TO_MS, destination, distance_m, inverse
from ..model import Observation
from .base import Context, PointGrid

_SAMPLES = 200
_JUDGE_EVERY = 20   # new pairs between two judgements of a radar
_THIN = 4           # with a full window, one plot in this many is paired
_KNOWN_S = 600.0    # an AIS vessel reported this recently is known to be near (isolation)


class _Bias:
    def __init__(self, alert) -> None:
        self.alert = alert
        self.good_since: float | None = None


class RadarRegistration:
    types = ("sensor_integrity",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.ais: dict[int, tuple] = {}            # MMSI -> t, lat, lon, sog, cog, AIS sensor
        self.skip = 0                              # plots seen with a full window (one in _THIN paired)
        self.grid = PointGrid(ctx.cfg.registration_gate_m * 2)
        self.residuals: dict[str, deque] = {}      # radar -> (range m, bearing deg, MMSI)
        self.fresh: dict[str, int] = {}            # radar -> pairs since last judged
        self.bias: dict[str, tuple[float, float]] = {}  # radar -> (range m, bearing deg) being corrected
        self.open: dict[str, _Bias] = {}

    # ------------------------------------------------------------------ input
    def on_obs(self, obs: Observation) -> None:
        if obs.lat is None or obs.lon is None or not getattr(self.ctx.geo, "radars", None):
            return   # (no radar registered: nothing to register against AIS)
        if obs.kind == "ais_position":
            if obs.mmsi is None or obs.sog_kn is None or obs.cog_deg is None \
                    or obs.sensor_id in self.ctx.geo.satellites:
                return
            self.ais[obs.mmsi] = (obs.time_s, obs.lat, obs.lon, obs.sog_kn, obs.cog_deg, obs.sensor_id)
            self.grid.place(obs.mmsi, obs.lat, obs.lon)
        elif obs.kind == "radar_plot":
            radar = self.ctx.geo.radars.get(obs.sensor_id) if hasattr(self.ctx.geo, "radars") else None
            if radar is not None:
                self._pair(obs, radar)

    def forget_mmsi(self, mmsi: int) -> bool:
        self.ais.pop(mmsi, None)
        self.grid.remove(mmsi)
        return True

    def _pair(self, plot: Observation, radar: tuple[float, float]) -> None:
        if not self.ais:
            return      # no AIS vessel heard yet: nothing to pair with
        cfg = self.cfg
        res = self.residuals.get(plot.sensor_id)
        if res is not None and len(res) == _SAMPLES:
            # a full window: one plot in _THIN keeps it current at a fraction of the cost
            self.skip += 1
            if self.skip % _THIN:
                return
        gate = cfg.registration_gate_m
        found = None
        for mmsi, _, _ in self.grid.near(plot.lat, plot.lon):
            t, la, lo, sog, cog, sid = self.ais[mmsi]
            dt = plot.time_s - t
            if abs(dt) > cfg.registration_ais_fresh_s:
                # not fresh enough to pair with, but a ship known near (one at anchor reports
                # every 3 min) makes the pairing unsure: the plot may be that ship
                if abs(dt) <= _KNOWN_S and distance_m(plot.lat, plot.lon, la, lo) \
                        <= 2 * gate + sog * KN_TO_MS * abs(dt):  # type: ignore[arg-type]
                    return
                continue
            if dt:
                la, lo = destination(la, lo, cog, sog * KN_TO_MS * dt)
            d = distance_m(plot.lat, plot.lon, la, lo)  # type: ignore[arg-type]
            if d > 2 * gate:
                continue
            if found is not None:
                return      # two AIS vessels near the plot: which one it shows is not sure
            if d > gate:
                return      # the only one is in the ring: too far to pair, too near to be sure
            found = (mmsi, la, lo, sid)
        if found is None:
            return
        mmsi, la, lo, sid = found
        rlat, rlon = radar
        r_ais, b_ais, _ = inverse(rlat, rlon, la, lo)
        r_plot, b_plot, _ = inverse(rlat, rlon, plot.lat, plot.lon)  # type: ignore[arg-type]
        if r_ais < cfg.registration_min_range_m:
            return      # close in, a bearing error is a few metres: it says little
        db = (b_plot - b_ais + 180.0) % 360.0 - 180.0
        if res is None:
            res = self.residuals[plot.sensor_id] = deque(maxlen=_SAMPLES)
        res.append((r_plot - r_ais, db, mmsi, r_ais, sid))   # sid: the AIS sensor the truth came from
        n = self.fresh.get(plot.sensor_id, 0) + 1
        if n >= _JUDGE_EVERY:
            n = 0
            self._judge(plot.sensor_id, plot.time_s)
        self.fresh[plot.sensor_id] = n

    # ------------------------------------------------------------------ judging
    def estimate(self, radar_id: str) -> tuple[float, float, int, int, float] | None:
        """(range bias m, bearing bias deg, pairs, vessels, median range m) once enough pairs."""
        res = self.residuals.get(radar_id)
        n = self.cfg.registration_min_pairs
        if not res or len(res) < n:
            return None
        res = list(res)[-n:]   # the latest: the current bias once a fault has lasted that many pairs
        vessels = len({m for _, _, m, _, _ in res})
        if vessels < self.cfg.registration_min_vessels:
            return None
        return (median(x[0] for x in res), median(x[1] for x in res), len(res), vessels, median(x[3] for x in res))

    def consistent(self, radar_id: str, dr: float, db: float) -> bool:
        """A registration fault moves every vessel's plots alike; a few mispaired vessels (a ship
        at anchor beside a passing one, a dark boat) do not.  At least three quarters of the
        vessels with three pairs or more must show, in their own median, at least half of the
        bias found, in its direction."""
        res = list(self.residuals.get(radar_id, ()))[-self.cfg.registration_min_pairs:]
        per: dict[int, list[tuple[float, float]]] = {}
        for r, b, m, _, _ in res:
            per.setdefault(m, []).append((r, b))
        cfg = self.cfg
        agree = total = 0
        for rows in per.values():
            if len(rows) < 3:
                continue
            total += 1
            mr, mb = median(r for r, _ in rows), median(b for _, b in rows)
            ok_r = abs(dr) <= cfg.registration_range_m or mr * dr > 0 and abs(mr) >= abs(dr) / 2
            ok_b = abs(db) <= cfg.registration_bearing_deg or mb * db > 0 and abs(mb) >= abs(db) / 2
            agree += ok_r and ok_b
        return total >= 3 and agree >= 0.75 * total

    def _judge(self, radar_id: str, now_s: float) -> None:
        est = self.estimate(radar_id)
        if est is None:
            return
        cfg = self.cfg
        dr, db, pairs, vessels, at_m = est
        bad = (abs(dr) > cfg.registration_range_m or abs(db) > cfg.registration_bearing_deg) \
            and self.consistent(radar_id, dr, db)
        good = abs(dr) <= cfg.registration_range_m / 2 and abs(db) <= cfg.registration_bearing_deg / 2
        ep = self.open.get(radar_id)
        evidence = {"receiver": radar_id, "cause": "registration_bias", "range_bias_m": round(dr, 1),
                    "bearing_bias_deg": round(db, 3), "pairs": pairs, "vessels": vessels,
                    "displacement_m": round(math.hypot(dr, math.radians(db) * at_m)),
                    "correcting": bool(cfg.registration_correct)}
        if bad:
            if cfg.registration_correct:
                self.bias[radar_id] = (dr, db)
            summary = (f"Radar {radar_id} is misregistered against AIS: bearing {db:+.2f}°, range {dr:+.0f} m "
                       f"({pairs} plots of {vessels} AIS vessels; about {evidence['displacement_m']} m off at "
                       f"{at_m / 1000:.0f} km)")
            if cfg.registration_correct:
                summary += "; its plots are corrected before fusion"
            if ep is None:
                lat, lon = self.ctx.geo.radars[radar_id]
                alert = self.ctx.book.open("sensor_integrity", cfg.severity.get("sensor_integrity", "high"), now_s,
                                           summary, lat=lat, lon=lon, evidence=evidence,
                                           sensors=self._behind(radar_id))
                self.open[radar_id] = _Bias(alert)
            else:
                ep.good_since = None
                self.ctx.book.update(ep.alert, now_s, force=False, summary=summary, sensors=self._behind(radar_id),
                                     **evidence)
        elif ep is not None:
            if good:
                ep.good_since = ep.good_since if ep.good_since is not None else now_s
                if now_s - ep.good_since >= cfg.integrity_quiet_s:
                    self.ctx.book.close(ep.alert, now_s, f"Radar {radar_id}'s plots agree with AIS again",
                                        **evidence)
                    del self.open[radar_id]
                    self.bias.pop(radar_id, None)
            else:
                ep.good_since = None
            if radar_id in self.bias and cfg.registration_correct:
                self.bias[radar_id] = (dr, db)   # follow the bias while the episode lasts

    def _behind(self, radar_id: str) -> list[str]:
        """The radar and every AIS sensor whose reports gave the residuals judged: the bias is
        made of their data, so the alert goes only where all of them may go (fails closed)."""
        res = list(self.residuals.get(radar_id, ()))[-self.cfg.registration_min_pairs:]
        return [radar_id, *sorted({x[4] for x in res})]

    # ------------------------------------------------------------------ correction
    def corrected_position(self, obs: Observation) -> tuple[float, float] | None:
        """The plot rotated and shifted back by its radar's measured bias, while it is corrected."""
        b = self.bias.get(obs.sensor_id) if obs.kind == "radar_plot" else None
        if b is None or obs.lat is None or obs.lon is None:
            return None
        radar = self.ctx.geo.radars.get(obs.sensor_id)
        if radar is None:
            return None
        dr, db = b
        rng, bearing, _ = inverse(radar[0], radar[1], obs.lat, obs.lon)
        return destination(radar[0], radar[1], bearing - db, max(rng - dr, 0.0))
