"""Geodetic helpers: a local east-north tangent frame and great-circle distance.

The tracker keeps each track in a local frame centred on its own last position,
re-centred on every update, so the flat-earth error only applies to the step
between two updates: under 0.1 m for the tens to hundreds of metres of a normal
update, about 4 m at 10 km and 38 m at 30 km (a long coast) at 25°N, half that at
12°N (docs/tracker.md).  The region (0–25°N, 95–125°E) is far from the poles and
the antimeridian, which these formulas assume: longitudes are not wrapped at 180°
and ``from_local`` divides by cos(lat).
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # WGS 84 mean radius
DEG = math.pi / 180.0
M_PER_DEG_LAT = EARTH_RADIUS_M * DEG
KN_TO_MS = 1852.0 / 3600.0


def to_local(ref_lat: float, ref_lon: float, lat: float, lon: float) -> tuple[float, float]:
    """East and north metres of (lat, lon) from the reference point."""
    east = (lon - ref_lon) * M_PER_DEG_LAT * math.cos(ref_lat * DEG)
    north = (lat - ref_lat) * M_PER_DEG_LAT
    return east, north


def from_local(ref_lat: float, ref_lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """Latitude and longitude of the point east/north metres from the reference."""
    lat = ref_lat + north_m / M_PER_DEG_LAT
    lon = ref_lon + east_m / (M_PER_DEG_LAT * math.cos(ref_lat * DEG))
    return lat, lon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = lat1 * DEG, lat2 * DEG
    dp, dl = p2 - p1, (lon2 - lon1) * DEG
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def velocity_from_course(sog_kn: float, cog_deg: float) -> tuple[float, float]:
    """East and north velocity in m/s from speed over ground and course."""
    v = sog_kn * KN_TO_MS
    return v * math.sin(cog_deg * DEG), v * math.cos(cog_deg * DEG)


def course_from_velocity(ve_ms: float, vn_ms: float) -> tuple[float, float]:
    """Speed in knots and course in degrees true from east/north velocity."""
    sog_kn = math.hypot(ve_ms, vn_ms) / KN_TO_MS
    cog_deg = math.degrees(math.atan2(ve_ms, vn_ms)) % 360.0
    return sog_kn, cog_deg
