"""Builders for test data: observations of straight-moving vessels."""

from __future__ import annotations

import math
import random

from fusion.geodesy import KN_TO_MS, from_local
from fusion.model import Observation, Sensor

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def radar(sensor_id: str = "R1", lat: float = 10.0, lon: float = 114.0, range_m: float = 60_000,
          scan_period_s: float = 6.0, accuracy_m: float = 50.0) -> Sensor:
    return Sensor(sensor_id, "radar", lat, lon, range_m=range_m, accuracy_m=accuracy_m,
                  scan_period_s=scan_period_s)


def position(lat0: float, lon0: float, sog_kn: float, cog_deg: float, dt_s: float) -> tuple[float, float]:
    """Where a vessel on a steady course is ``dt_s`` seconds later."""
    d = sog_kn * KN_TO_MS * dt_s
    return from_local(lat0, lon0, d * math.sin(math.radians(cog_deg)), d * math.cos(math.radians(cog_deg)))


def make_ais(mmsi: int, t: float, lat: float, lon: float, sog_kn: float | None = None,
             cog_deg: float | None = None, **kw: object) -> Observation:
    return Observation("ais_position", "AIS1", t, lat, lon, sigma_m=10.0, mmsi=mmsi, sog_kn=sog_kn,
                       cog_deg=cog_deg, ais_class="A", **kw)  # type: ignore[arg-type]


def make_plot(t: float, lat: float, lon: float, sensor_id: str = "R1", sigma_m: float = 50.0) -> Observation:
    return Observation("radar_plot", sensor_id, t, lat, lon, sigma_m=sigma_m)


def noisy(rng: random.Random, lat: float, lon: float, sigma_m: float) -> tuple[float, float]:
    return from_local(lat, lon, rng.gauss(0, sigma_m), rng.gauss(0, sigma_m))


def vessel_plots(rng: random.Random, lat0: float, lon0: float, sog_kn: float, cog_deg: float,
                 scans: int, period_s: float = 6.0, sigma_m: float = 50.0, t0: float = T0,
                 p_detect: float = 1.0) -> list[Observation]:
    plots = []
    for k in range(scans):
        if rng.random() > p_detect:
            continue
        lat, lon = position(lat0, lon0, sog_kn, cog_deg, k * period_s)
        plots.append(make_plot(t0 + k * period_s, *noisy(rng, lat, lon, sigma_m), sigma_m=sigma_m))
    return plots


def vessel_ais(mmsi: int, lat0: float, lon0: float, sog_kn: float, cog_deg: float, reports: int,
               period_s: float = 10.0, t0: float = T0) -> list[Observation]:
    return [make_ais(mmsi, t0 + k * period_s, *position(lat0, lon0, sog_kn, cog_deg, k * period_s),
                     sog_kn=sog_kn, cog_deg=cog_deg) for k in range(reports)]
