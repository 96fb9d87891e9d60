"""One track: a nearly-constant-velocity state kept in its own local frame.

The state is re-centred on every update: ``lat``/``lon`` is the filtered
position at ``time_s`` and the local frame starts there, so only the velocity
(``ve``/``vn``, m/s) and the shared per-axis covariance are carried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .geodesy import course_from_velocity, from_local, to_local
from .kalman import Cov, position_gain, predict_cov, velocity_gain
from .model import TrackLine


@dataclass(slots=True, eq=False)
class Track:
    track_id: str
    lat: float
    lon: float
    time_s: float
    ve: float = 0.0
    vn: float = 0.0
    cov: Cov = (2500.0, 0.0, 100.0)
    status: str = "tentative"
    created_s: float = 0.0
    hits: int = 1
    confirm_hits: int = 1
    confirm_by_s: float = 0.0
    interval_s: float = 10.0
    mmsi: int | None = None
    name: str | None = None
    ship_type: int | None = None
    flag: str | None = None
    last_seen: dict[str, float] = field(default_factory=dict)
    last_ais: tuple[float, float, float] | None = None  # time, lat, lon of last AIS fix
    merge_votes: int = 0
    cell: tuple[int, int] = (0, 0)

    def predicted(self, time_s: float, q: float) -> tuple[float, float, float]:
        """Predicted (lat, lon, position variance m²) at ``time_s``."""
        dt = time_s - self.time_s
        if dt <= 0.0:
            return self.lat, self.lon, self.cov[0]
        lat, lon = from_local(self.lat, self.lon, self.ve * dt, self.vn * dt)
        return lat, lon, predict_cov(self.cov, dt, q)[0]

    def innovation(self, lat: float, lon: float, time_s: float, q: float) -> tuple[float, float, float]:
        """Innovation east/north (m) and its per-axis prior variance for a fix."""
        dt = max(0.0, time_s - self.time_s)
        east, north = to_local(self.lat, self.lon, lat, lon)
        return east - self.ve * dt, north - self.vn * dt, predict_cov(self.cov, dt, q)[0]

    def update(self, lat: float, lon: float, sigma_m: float, time_s: float, q: float,
               velocity: tuple[float, float, float] | None = None) -> None:
        """Kalman update with a position fix (and optionally a velocity ve, vn, sigma m/s)."""
        dt = time_s - self.time_s
        cov = predict_cov(self.cov, dt, q) if dt > 0 else self.cov
        dt = max(dt, 0.0)
        e0, n0 = to_local(self.lat, self.lon, lat, lon)
        e, n = self.ve * dt, self.vn * dt
        k0, k1, _, cov = position_gain(cov, sigma_m * sigma_m)
        ye, yn = e0 - e, n0 - n
        e, n = e + k0 * ye, n + k0 * yn
        ve, vn = self.ve + k1 * ye, self.vn + k1 * yn
        if velocity is not None:
            vme, vmn, vsig = velocity
            k0, k1, cov = velocity_gain(cov, vsig * vsig)
            ye, yn = vme - ve, vmn - vn
            e, n, ve, vn = e + k0 * ye, n + k0 * yn, ve + k1 * ye, vn + k1 * yn
        self.lat, self.lon = from_local(self.lat, self.lon, e, n)
        self.ve, self.vn, self.cov = ve, vn, cov
        if dt > 0.5:
            self.interval_s = 0.8 * self.interval_s + 0.2 * dt
        self.time_s = time_s

    def sources(self, time_s: float, window_s: float) -> list[str]:
        recent = sorted(s for s, t in self.last_seen.items() if time_s - t <= window_s)
        if recent:
            return recent
        return [max(self.last_seen, key=self.last_seen.__getitem__)] if self.last_seen else []

    def line(self, time_s: float, q: float, window_s: float, status: str | None = None) -> TrackLine:
        """The published track line, predicted to ``time_s``."""
        lat, lon, var = self.predicted(time_s, q)
        sog, cog = course_from_velocity(self.ve, self.vn)
        return TrackLine(
            track_id=self.track_id, time_s=time_s, lat=lat, lon=lon, sog_kn=sog, cog_deg=cog,
            sigma_m=math.sqrt(max(var, 0.0)), mmsi=self.mmsi, name=self.name, flag=self.flag,
            ship_type=self.ship_type, sources=self.sources(time_s, window_s),
            status=status or self.status,  # type: ignore[arg-type]
        )
