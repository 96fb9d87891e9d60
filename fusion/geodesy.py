"""Geodesy on the WGS 84 ellipsoid: the one place the project's earth model lives.

Positions computed from range and bearing, and distances that decide something,
are geodesics on WGS 84 through pyproj's ``Geod`` (Karney's algorithms, accurate to
nanometres): ``destination`` is the direct problem, ``inverse`` / ``distance_m``
the inverse one, each with an array form.  No other module writes the earth's
radius or the ellipsoid's constants; they come from here (and here from pyproj).

The tracker keeps each track in a local east-north tangent frame centred on the
track and re-centred on every update.  Its scales are the ellipsoid's radii of
curvature at the frame's latitude (``m_per_deg``): the meridional radius M for
north, the prime-vertical radius N times cos(lat) for east.  Within a few tens of
kilometres of the centre the frame then agrees with the geodesic to the flat-frame
error, which grows with the square of the step: under 0.1 m for a normal update of
tens to hundreds of metres, about 4 m at 10 km and 38 m at 30 km at 25°N, half that
at 12°N (docs/tracker.md).
The formulas assume the region (0–25°N, 95–125°E): far from the poles and the
antimeridian; longitudes are not wrapped at 180° in the local frame.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")
SEMI_MAJOR_M: float = WGS84.a
FLATTENING: float = WGS84.f
E2: float = WGS84.es  # first eccentricity squared
MEAN_RADIUS_M = (2.0 * WGS84.a + WGS84.b) / 3.0  # IUGG mean radius R1, for coarse sizing only
DEG = math.pi / 180.0
# Nominal metres per degree of latitude (mean radius): for sizing grids and search
# pads, never for a position; local frames use ``m_per_deg`` at their latitude.
M_PER_DEG_LAT = MEAN_RADIUS_M * DEG
KN_TO_MS = 1852.0 / 3600.0
_A_DEG = SEMI_MAJOR_M * DEG
_A1E2_DEG = SEMI_MAJOR_M * (1.0 - E2) * DEG


def m_per_deg(lat_deg: float) -> tuple[float, float]:
    """Metres per degree of longitude (east) and of latitude (north) at a latitude.

    East is the prime-vertical radius of curvature N·cos(lat), north the meridional
    radius M, both in metres per degree.  Only ``math``: the tracker's scalar and
    batch paths call this same function so that their arithmetic is identical."""
    phi = lat_deg * DEG
    s = math.sin(phi)
    w2 = 1.0 - E2 * s * s
    w = math.sqrt(w2)
    return _A_DEG * math.cos(phi) / w, _A1E2_DEG / (w2 * w)


def m_per_deg_array(lat_deg: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``m_per_deg`` over an array of latitudes (numpy; may differ in the last bit)."""
    phi = np.asarray(lat_deg, dtype=float) * DEG
    w2 = 1.0 - E2 * np.sin(phi) ** 2
    w = np.sqrt(w2)
    return _A_DEG * np.cos(phi) / w, _A1E2_DEG / (w2 * w)


def to_local(ref_lat: float, ref_lon: float, lat: float, lon: float) -> tuple[float, float]:
    """East and north metres of (lat, lon) in the tangent frame at the reference point."""
    kx, ky = m_per_deg(ref_lat)
    return (lon - ref_lon) * kx, (lat - ref_lat) * ky


def from_local(ref_lat: float, ref_lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """Latitude and longitude of the point east/north metres from the reference (tangent frame)."""
    kx, ky = m_per_deg(ref_lat)
    return ref_lat + north_m / ky, ref_lon + east_m / kx


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """(lat, lon) reached from (lat, lon) along the geodesic with this initial bearing (direct problem)."""
    lon2, lat2, _ = WGS84.fwd(lon, lat, bearing_deg, distance_m)
    return lat2, lon2


def _flat(*values: ArrayLike) -> tuple[list[NDArray[np.float64]], tuple[int, ...]]:
    """Broadcast, flatten and copy (pyproj writes its results into its inputs' buffers)."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))
    return [np.array(a, dtype=float).ravel() for a in arrays], arrays[0].shape


def destination_array(lat: ArrayLike, lon: ArrayLike, bearing_deg: ArrayLike,
                      distance_m: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``destination`` over arrays (broadcast): (lat, lon) arrays of the inputs' shape."""
    (la, lo, az, d), shape = _flat(lat, lon, bearing_deg, distance_m)
    lon2, lat2, _ = WGS84.fwd(lo, la, az, d)
    return np.asarray(lat2).reshape(shape), np.asarray(lon2).reshape(shape)


def inverse_array(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``inverse`` over arrays (broadcast): distance_m, initial and final bearing_deg arrays."""
    (a, b, c, d), shape = _flat(lat1, lon1, lat2, lon2)
    az1, az2, dist = WGS84.inv(b, a, d, c)
    az1, az2 = np.asarray(az1) % 360.0, (np.asarray(az2) + 180.0) % 360.0
    return np.asarray(dist).reshape(shape), az1.reshape(shape), az2.reshape(shape)


def inverse(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float, float]:
    """(distance_m, initial bearing_deg in [0, 360), final bearing_deg in [0, 360)) of the geodesic."""
    az1, az2, dist = WGS84.inv(lon1, lat1, lon2, lat2)
    return dist, az1 % 360.0, (az2 + 180.0) % 360.0  # pyproj gives the back azimuth at point 2


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Geodesic distance in metres on WGS 84."""
    return float(WGS84.inv(lon1, lat1, lon2, lat2)[2])


def distance_m_array(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> NDArray[np.float64]:
    """``distance_m`` over arrays (broadcast)."""
    return inverse_array(lat1, lon1, lat2, lon2)[0]


def velocity_from_course(sog_kn: float, cog_deg: float) -> tuple[float, float]:
    """East and north velocity in m/s from speed over ground and course."""
    v = sog_kn * KN_TO_MS
    return v * math.sin(cog_deg * DEG), v * math.cos(cog_deg * DEG)


def course_from_velocity(ve_ms: float, vn_ms: float) -> tuple[float, float]:
    """Speed in knots and course in degrees true from east/north velocity."""
    sog_kn = math.hypot(ve_ms, vn_ms) / KN_TO_MS
    cog_deg = math.degrees(math.atan2(ve_ms, vn_ms)) % 360.0
    return sog_kn, cog_deg
