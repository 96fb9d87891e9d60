"""on_land: an AIS-reported position more than on_land_m from navigable water.

Navigable water is the sea, the shipped inland water layer (rivers, estuaries, lakes:
``Geography.water``) and the water learned from traffic (``TrafficMap``: cells where several
distinct vessels moved consistently).  Not on land either: a fix within ``port_clear_m`` of a
listed port (basins, docks and berths are below the layers' resolution), nor one of a vessel
reporting at anchor or moored (status 1 / 5) within ``on_land_berth_m`` of navigable water or of
a listed port (a berth up a river lies at the edge of water the layers may not draw).  A vessel
under way keeps the strict ``on_land_m``: GNSS spoofing onto land shows there.  Nor, finally,
a fix of a vessel that came there from navigable water by a path its own reports vouch for (each
fix within ``on_land_gap_s`` of the previous one and as far from it as its reported speed says):
a waterway the layers do not draw; GNSS faults and spoofing jump (a leap inland, a position
circling or frozen while the speed says otherwise, a vessel first heard inland).  Point-in-land is a prepared contains_xy
(microseconds); only fixes on land pay for the metric distance to water.  An open alert
whose fixes turn out to lie on newly learned water is retracted.  Per MMSI one episode, updated (throttled) while
inland fixes keep coming and closed after on_land_quiet_s without one.
"""

from __future__ import annotations

from functools import partial

from dataclasses import dataclass

from ..geodesy import KN_TO_MS, distance_m
from ..model import Alert, Observation
from .base import Context, minutes
from .traffic import ANCHORED_STATUSES


@dataclass(slots=True)
class _Land:
    alert: Alert
    last_s: float
    fixes: int = 1


class OnLand:
    types = ("on_land",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.open: dict[int, _Land] = {}
        # MMSI -> its latest fix (time, lat, lon) while its path is connected to navigable water
        self.afloat: dict[int, tuple[float, float, float]] = {}

    def on_obs(self, obs: Observation) -> None:
        if obs.kind != "ais_position" or obs.mmsi is None or obs.lat is None or obs.lon is None:
            return
        afloat = getattr(self, "afloat", None)   # (a checkpoint from before)
        if afloat is None:
            afloat = self.afloat = {}
        inland = self.ctx.geo.inland_m(obs.lat, obs.lon)
        if inland <= self.cfg.on_land_m:
            afloat[obs.mmsi] = (obs.time_s, obs.lat, obs.lon)
            return
        inland = self.ctx.traffic.water_distance_m(obs.lat, obs.lon, inland)
        if inland <= self.cfg.on_land_m:
            afloat[obs.mmsi] = (obs.time_s, obs.lat, obs.lon)
            return
        if self._followed_from_water(obs, afloat):
            return
        if self.ctx.geo.nearest_port(obs.lat, obs.lon, self.cfg.port_clear_m) is not None:
            afloat[obs.mmsi] = (obs.time_s, obs.lat, obs.lon)
            return  # in a listed port: basins and berths the 1:10m coastline does not draw
        if self._at_berth(obs):
            port = self.ctx.geo.nearest_port(obs.lat, obs.lon, self.cfg.on_land_berth_m)
            inland = min(inland, port[1] if port else inland)
            if inland <= self.cfg.on_land_berth_m:
                afloat[obs.mmsi] = (obs.time_s, obs.lat, obs.lon)   # a berth: sailing from it is afloat
                return
        self.ctx.fault("on_land", obs, obs.lat, obs.lon)
        st = self.open.get(obs.mmsi)
        if st is not None:
            st.fixes += 1
            st.last_s = max(st.last_s, obs.time_s)
            self.ctx.book.update(st.alert, obs.time_s, force=False, lat=obs.lat, lon=obs.lon,
                                 sensors=[obs.sensor_id], fixes=st.fixes, inland_m=round(inland), last_fix_s=obs.time_s)
            return
        tracks = self.ctx.mmsi_tracks.get(obs.mmsi)
        alert = self.ctx.book.open(
            "on_land", self.cfg.severity["on_land"], obs.time_s,
            f"AIS position on land, {inland / 1000:.1f} km from navigable water",
            track_id=next(reversed(tracks)) if tracks else None, mmsi=obs.mmsi, lat=obs.lat, lon=obs.lon,
            evidence={"inland_m": round(inland), "fix": {"time_s": obs.time_s, "lat": obs.lat, "lon": obs.lon},
                      "sensor_id": obs.sensor_id, "fixes": 1,
                      "releasability": self.ctx.releasability([obs.sensor_id])})
        self.open[obs.mmsi] = _Land(alert, obs.time_s)
        self._arm(obs.mmsi, obs.time_s)

    def _followed_from_water(self, obs: Observation, afloat: dict[int, tuple[float, float, float]]) -> bool:
        """The vessel came here from navigable water by a path its own reports vouch for: each
        fix since the last one on water within ``on_land_gap_s`` of the one before and as far
        from it as the reported speed says (half to twice, 200 m slack).  That is a waterway the
        layers do not draw (an unmapped river, a new basin), not a GNSS fault: faults jump."""
        if not self.cfg.on_land_follow:
            return False
        prev = afloat.get(obs.mmsi)  # type: ignore[arg-type]
        if prev is None or obs.sog_kn is None:
            return False
        t0, la0, lo0 = prev
        dt = obs.time_s - t0
        if dt < 0 or dt > self.cfg.on_land_gap_s:
            afloat.pop(obs.mmsi, None)  # type: ignore[arg-type]
            return False
        moved = distance_m(la0, lo0, obs.lat, obs.lon)  # type: ignore[arg-type]
        expected = obs.sog_kn * KN_TO_MS * dt
        if not 0.5 * expected - 200.0 <= moved <= 2.0 * expected + 200.0:
            afloat.pop(obs.mmsi, None)  # type: ignore[arg-type]
            return False
        afloat[obs.mmsi] = (obs.time_s, obs.lat, obs.lon)  # type: ignore[index]
        return True

    def forget_mmsi(self, mmsi: int) -> bool:
        """An MMSI silent for ``mmsi_keep_s``."""
        getattr(self, "afloat", {}).pop(mmsi, None)
        return True

    def _at_berth(self, obs: Observation) -> bool:
        """The vessel reports at anchor or moored (in this report, or freshly before it)."""
        return obs.nav_status in ANCHORED_STATUSES or self.ctx.traffic.anchored(obs.mmsi, obs.time_s)

    def on_water_learned(self, cell: tuple[int, int], time_s: float) -> None:
        """Traffic has just shown ``cell`` to be navigable water: an open alert whose latest fix
        is now within on_land_m of learned water was a river, canal or basin, not land."""
        for mmsi, st in list(self.open.items()):
            a = st.alert
            if a.lat is None or a.lon is None:
                continue
            if self.ctx.traffic.water_distance_m(a.lat, a.lon, self.cfg.on_land_m + 1.0) <= self.cfg.on_land_m:
                self.ctx.book.retract(st.alert, time_s, "the position is on navigable water learned from traffic",
                                      learned_water_cell=list(cell))
                del self.open[mmsi]

    def _arm(self, mmsi: int, t: float) -> None:
        self.ctx.timers.at(t + self.cfg.on_land_quiet_s, partial(self._due, mmsi))

    def _due(self, mmsi: int, due_s: float) -> None:
        st = self.open.get(mmsi)
        if st is None:
            return
        if due_s - st.last_s >= self.cfg.on_land_quiet_s:
            self.ctx.book.close(st.alert, due_s, f"No inland fixes for {minutes(due_s - st.last_s)} "
                                f"({st.fixes} inland fixes in all)", fixes=st.fixes)
            del self.open[mmsi]
        else:
            self._arm(mmsi, st.last_s)
