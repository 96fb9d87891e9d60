"""Attacks on the centre's inputs that add a sensor and traffic of their own (``mfc simulate``).

``stolen_key``: an integrator's key is stolen and used to push plausible vessels that do not exist
through the integrator's only receiver, out at sea where no other station hears the traffic.  No
station can contradict it; a satellite passing over can (``fusion.rules.single_station``): it hears
the real vessels around and never the forged ones.  The scenario must have a satellite for the
centre to have a chance, and says so when it has none.
"""

from __future__ import annotations

import math

import numpy as np

from fusion.geodesy import KN_TO_MS, distance_m
from fusion.model import Sensor
from services.scenario.events import Case
from services.scenario.world import MmsiBook, Vessel, World, offset, path_from_waypoints

H = 3600.0
INTEGRATOR = "AIS-INTEGRATOR-1"
FORGED_S = 1.5 * H          # how long each forged vessel is pushed
LOCAL_VESSELS = 6           # real vessels crossing the integrator's area


def isolated_site(world: World, rng: np.random.Generator, clear_m: float = 250_000.0) -> tuple[float, float] | None:
    """Open water in the area of interest at least ``clear_m`` from every AIS receiver and 20 km off land."""
    for _ in range(400):
        lat, lon = rng.uniform(6.0, 20.0), rng.uniform(109.5, 119.0)
        if not world.geo.in_aoi(lat, lon) or not world._sea_clear(lat, lon, 20_000.0):
            continue
        if all(distance_m(lat, lon, r[0], r[1]) > clear_m for r in world.rx):
            return lat, lon
    return None


def stolen_key(world: World, t_start: float, t_end: float, book: MmsiBook, rng: np.random.Generator,
               name: str) -> tuple[list[Vessel], list[Vessel], list[Case]]:
    """The integrator's receiver (60 km, far from every other station), the real vessels that cross
    its area, and two forged vessels pushed through it from 30 min in for 90 min, each on a track
    parallel to a real vessel's 4–6 km off it (plausible, and among traffic a satellite hears).
    Returns (real vessels, forged vessels, labelled cases); the forged ones are no vessels: they
    have no truth and no radar sees them."""
    from services.scenario.simulate import ScenarioError
    site = isolated_site(world, rng)
    if site is None:
        raise ScenarioError(f"{name}: stolen_key found no open water 250 km from every AIS receiver")
    world.add_receiver(Sensor(INTEGRATOR, "ais", site[0], site[1], range_m=60_000.0))
    local: list[Vessel] = []
    for k in range(LOCAL_VESSELS):   # straight crossings within 25 km of the site, 9–14 kn
        r, b = rng.uniform(0, 25_000), rng.uniform(0, 2 * math.pi)
        mid = offset(*site, r * math.sin(b), r * math.cos(b))
        course, speed = rng.uniform(0, 2 * math.pi), rng.uniform(9.0, 14.0)
        half = speed * KN_TO_MS * (t_end - t_start + 2 * H) / 2
        a = offset(*mid, -half * math.sin(course), -half * math.cos(course))
        z = offset(*mid, half * math.sin(course), half * math.cos(course))
        fishing = k % 3 == 2
        p = path_from_waypoints((t_start + t_end) / 2 - (t_end - t_start + 2 * H) / 2, [a, mid, z], speed)
        local.append(Vessel(book.new("VN" if fishing else "PA"), p, every_s=10.0, ship_type=30 if fishing else 70,
                            name=f"{'FV' if fishing else 'MV'} OFFSHORE {k}"))
    t_a = t_start + 0.5 * H
    ghosts, cases = [], []
    for k, model in enumerate(local[:2]):
        t = np.arange(t_a, min(t_a + FORGED_S, t_end) + 1e-9, 60.0)
        lat, lon, sog, cog = model.path.at(t)
        side = rng.uniform(4_000, 6_000) * (1 if k == 0 else -1)
        pts = [offset(la, lo, side * math.cos(math.radians(c)), -side * math.sin(math.radians(c)))
               for la, lo, c in zip(lat, lon, cog)]
        ghost = Vessel(book.new("PA"), path_from_waypoints(t_a, pts, float(np.median(sog))), every_s=10.0,
                       ship_type=70, name=f"MV PHANTOM {k}", coverage_free=True)
        ghosts.append(ghost)
        mid = pts[len(pts) // 2]
        cases.append(Case("sensor_integrity", True, f"a stolen integrator key pushes a forged vessel (MMSI "
                          f"{ghost.mmsi}) through {INTEGRATOR}, which no other station overlaps", t_a + 900,
                          t_a + FORGED_S + 1800, mid[0], mid[1], 80_000.0, ghost.mmsi))
    real = local[2]
    cases.append(Case("sensor_integrity", False, f"a real vessel only {INTEGRATOR} and the satellite hear (MMSI "
                      f"{real.mmsi})", t_start, t_end, site[0], site[1], 80_000.0, real.mmsi))
    return local, ghosts, cases
