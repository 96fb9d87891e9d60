"""Scripted events: for every alert type, cases that must fire and near-misses that must not,
each with the vessels (and radars) that act it out and its label (``Case``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import shape

from fusion.geodesy import KN_TO_MS, distance_m, m_per_deg
from fusion.model import Sensor
from services.geo.layers import layer

from services.scenario.world import (FLAG_MIDS, NM, MmsiBook, Path, Vessel, World, concat, offset, path_from_waypoints, stay)

@dataclass
class Case:
    type: str
    positive: bool
    label: str
    t_from: float
    t_to: float
    lat: float
    lon: float
    radius_m: float = 10_000.0
    mmsi: int | None = None


def inject(world: World, t0: float, book: MmsiBook, only: set[str] | frozenset[str] | None = None,
           sites: list[tuple[float, float]] | None = None) -> tuple[list[Vessel], list[Case], list[Sensor]]:
    """Every alert type: cases that must fire and near-misses that must not.  Each case is
    built at an open-water site where every vessel's whole path stays at sea.

    ``only``: the event groups to build (names of ``GROUPS``; all when None).  ``sites``: the
    open-water points to build them at, in order (default: points near the AIS receivers).
    Each group keeps its time: ``t0 + GROUPS[name]`` hours."""
    unknown = set(only or ()) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown event group(s): {', '.join(sorted(unknown))}; known: {', '.join(GROUPS)}")

    def want(group: str) -> bool:
        return only is None or group in only
    rng = world.rng
    vs: list[Vessel] = []
    cases: list[Case] = []
    radars: list[Sensor] = []
    sites = _sites(world) if sites is None else list(sites)
    H = 3600.0

    def place(build, site_list=None, group: str = "") -> tuple[float, float] | None:
        if not want(group):
            return None
        pool = sites if site_list is None else site_list
        for k, (la, lo) in enumerate(pool):
            state = rng.bit_generator.state
            v2, c2, r2 = build(la, lo)
            if all(_at_sea(world, v.path) and (v.twin is None or _at_sea(world, v.twin[0])) for v in v2):
                vs.extend(v2)
                cases.extend(c2)
                radars.extend(r2)
                if site_list is None:
                    del pool[k]
                return la, lo
            rng.bit_generator.state = state
        print(f"  (no site for {build.__name__})")
        return None

    def straight(lat, lon, sog, cog, a, b) -> Path:
        d = sog * KN_TO_MS * (b - a)
        end = offset(lat, lon, d * math.sin(math.radians(cog)), d * math.cos(math.radians(cog)))
        return Path(np.array([a, b]), np.array([lat, end[0]]), np.array([lon, end[1]]))

    # ais_gap: stops 60 min (positive, under radar at one site, not at the other);
    # near-misses: a 20 min silence; a ship that sails out of receiver coverage
    for with_radar in (True, False):
        def ais_gap_60(la, lo, with_radar=with_radar):
            r = [Sensor(f"R-GAP-{len(radars)}", "radar", la, lo, range_m=40_000, accuracy_m=40,
                        scan_period_s=10.0)] if with_radar else []
            m = book.new("MY")
            a = t0 + 1 * H
            v = Vessel(m, straight(*offset(la, lo, -10_000, -10_000), 5.0, 45.0, a, a + 3 * H), every_s=10.0,
                       silent=[(a + H, a + 2 * H)])
            lat, lon, _, _ = v.path.at(np.array([a + H + 1800]))
            return [v], [Case("ais_gap", True, f"60 min silence{' under radar' if with_radar else ''}",
                              a + H + 1700, a + H + 1800 + 240, float(lat[0]), float(lon[0]), 20_000, m)], r
        place(ais_gap_60, group="ais_gap")

    def ais_gap_20(la, lo):
        m = book.new("PH")
        a = t0 + 1.5 * H
        v = Vessel(m, straight(la, lo, 5.0, 200.0, a, a + 3 * H), every_s=10.0, silent=[(a + H, a + H + 1200)])
        return [v], [Case("ais_gap", False, "20 min silence", a, a + 4 * H, la, lo, 60_000, m)], []
    place(ais_gap_20, group="ais_gap")

    def ais_gap_out_of_coverage(la, lo):
        # from 50 km off a receiver straight out to 200 km at 14 kn
        rx = min((s for s in world.sensors.values() if s.kind == "ais"),
                 key=lambda s: distance_m(la, lo, s.lat, s.lon))
        brg = math.degrees(math.atan2((lo - rx.lon) * math.cos(math.radians(rx.lat)), la - rx.lat))
        st = offset(rx.lat, rx.lon, 50_000 * math.sin(math.radians(brg)), 50_000 * math.cos(math.radians(brg)))
        end = offset(rx.lat, rx.lon, 200_000 * math.sin(math.radians(brg)), 200_000 * math.cos(math.radians(brg)))
        m = book.new("PA")
        v = Vessel(m, path_from_waypoints(t0 + 2 * H, [st, end], 14.0), every_s=10.0)
        if world.geo.watch_zones_at(*end) or not world.geo.in_aoi(*end) \
                or world.in_coverage(np.array([end[0]]), np.array([end[1]]))[0]:
            v.path = Path(np.array([0.0, 1.0]), np.array([0.0, 0.0]), np.array([0.0, 0.0]))  # reject: on land
        return [v], [Case("ais_gap", False, "sailed out of receiver coverage", t0, t0 + 12 * H, st[0], st[1],
                          300_000, m)], []
    place(ais_gap_out_of_coverage, list(sites), group="ais_gap")

    # dark_vessel: radar-only contact for 60 min (positive); near-misses: 8 min radar-only, an AIS ship
    def dark(la, lo):
        r = [Sensor(f"R-DARK-{len(radars)}", "radar", la, lo, range_m=40_000, accuracy_m=40, scan_period_s=10.0)]
        a = t0 + 2 * H
        v1 = Vessel(None, straight(*offset(la, lo, -10_000, 5000), 6.0, 90.0, a, a + H), radar_only=True)
        c1 = Case("dark_vessel", True, "radar-only 60 min", a + 900, a + 900 + 300, *offset(la, lo, -8000, 5000),
                  radius_m=10_000)
        v2 = Vessel(None, straight(*offset(la, lo, 30_000, -20_000), 12.0, 120.0, a, a + 480), radar_only=True)
        c2 = Case("dark_vessel", False, "8 min radar-only", a, a + 2 * H, *offset(la, lo, 30_000, -20_000), 15_000)
        m = book.new("SG")
        v3 = Vessel(m, straight(*offset(la, lo, 5000, -10_000), 11.0, 0.0, a - 600, a + 2 * H), every_s=10.0)
        c3 = Case("dark_vessel", False, "AIS ship seen by radar", a - 600, a + 1200, *offset(la, lo, 5000, -5000), 6000)
        return [v1, v2, v3], [c1, c2, c3], r
    place(dark, group="dark_vessel")

    # speed_jump: one fix 25 km off (positive); near-miss: a 50 kn fast craft
    def jump(la, lo):
        m = book.new("ID")
        a = t0 + 3 * H
        v = Vessel(m, straight(la, lo, 10.0, 300.0, a, a + 2 * H), every_s=10.0,
                   glitches=[(a + H, 0.0, 25_000 / m_per_deg(la)[0])])
        return [v], [Case("speed_jump", True, "one fix 25 km off", a + H - 60, a + H + 120, la, lo, 40_000, m)], []
    place(jump, group="speed_jump")

    def fast_craft(la, lo):
        m = book.new("MY")
        a = t0 + 3 * H
        v = Vessel(m, straight(la, lo, 50.0, 30.0, a, a + 1200), every_s=5.0, ship_type=40)
        return [v], [Case("speed_jump", False, "50 kn fast craft", a, a + 2 * H, la, lo, 60_000, m)], []
    place(fast_craft, group="speed_jump")

    # on_land: fixes 4 km inland for 10 min (positive); near-miss: fixes 300 m "inland" (a berth)
    if want("on_land"):
        for positive, depth in ((True, 4000.0), (False, 300.0)):
            la, lo, dla, dlo = _coast_offset(world, depth)
            m = book.new("VN")
            a = t0 + (4 * H if positive else 4.5 * H)
            vs.append(Vessel(m, stay(a, a + 1.5 * H, la, lo), every_s=30.0, coverage_free=True,
                             bias=[(a + 1800, a + 2400 if positive else a + 1.5 * H, dla, dlo)]))
            cases.append(Case("on_land", positive, f"fixes {depth / 1000:g} km inland", a + 1790, a + 1800 + 120,
                              la + dla, lo + dlo, 5000, m))
            # the fix leaps from sea to land: an impossible move when it is kilometres (a GNSS-like fault)
            cases.append(Case("speed_jump", positive, f"leap to fixes {depth / 1000:g} km inland", a + 1790,
                              a + 2400 + 120, la, lo, 10_000, m))

    # identity_clash: one MMSI from two vessels 80 km apart (positive); near-miss: two MMSIs side by side
    def clash(la, lo):
        m = book.new("CN")
        a = t0 + 5 * H
        la2, lo2 = offset(la, lo, 60_000, 0)
        v = Vessel(m, straight(la, lo, 9.0, 0.0, a, a + 1.5 * H), every_s=60.0,
                   twin=(straight(la2, lo2, 9.0, 180.0, a, a + 1.5 * H), 60.0), coverage_free=True)
        m1, m2 = book.new("CN"), book.new("CN")
        v1 = Vessel(m1, straight(*offset(la, lo, 0, -20_000), 9.0, 90.0, a, a + 1.5 * H), every_s=30.0)
        v2 = Vessel(m2, straight(*offset(la, lo, 0, -20_300), 9.0, 90.0, a, a + 1.5 * H), every_s=30.0)
        return [v, v1, v2], [
            Case("identity_clash", True, "MMSI in two places", a, a + 600, la, lo, 100_000, m),
            Case("identity_clash", False, "two ships in company", a, a + 3 * H, la, lo, 60_000, m1),
            Case("speed_jump", False, "two ships in company", a, a + 3 * H, *offset(la, lo, 0, -20_000), 5000, m1)], []
    place(clash, group="identity_clash")

    # invalid_identity: unallocated MID (positive); near-misses: an AtoN 99x and a SAR aircraft 111
    def invalid(la, lo):
        a = t0 + 5.5 * H
        out_v = [Vessel(123_456_789, straight(la, lo, 7.0, 90.0, a, a + H), every_s=30.0)]
        out_c = [Case("invalid_identity", True, "MID 123", a, a + 300, la, lo, 20_000, 123_456_789)]
        for special in (995_741_234, 111_574_123):
            out_v.append(Vessel(special, stay(a, a + H, *offset(la, lo, 5000, 5000)), every_s=180.0, ship_type=None))
            out_c.append(Case("invalid_identity", False, f"special MMSI {special}", a, a + 2 * H, la, lo, 20_000,
                              special))
        return out_v, out_c, []
    place(invalid, group="invalid_identity")

    # loitering: 1 kn for 3 h at sea (positive); near-misses: 3 h at anchor off a port, 1.5 h slow then on
    def loiter(la, lo):
        m = book.new("HK")
        a = t0 + 6 * H
        v = Vessel(m, concat(path_from_waypoints(a, [(la, lo), offset(la, lo, 0, 3 * NM)], 1.0),
                             straight(*offset(la, lo, 0, 3 * NM), 12.0, 0.0, a + 3 * H + 1, a + 4 * H)), every_s=30.0)
        return [v], [Case("loitering", True, "1 kn for 3 h at sea", a + 2 * H - 60, a + 2 * H + 180, la, lo,
                          15_000, m)], []
    place(loiter, group="loitering")
    if want("loitering"):
        name, pla, plo = world.anchor_spots[rng.integers(len(world.anchor_spots))]
        m = book.new("PA")
        vs.append(Vessel(m, stay(t0 + 6 * H, t0 + 9 * H, pla, plo), every_s=180.0, nav_status=1, ship_type=80,
                         coverage_free=True))
        cases.append(Case("loitering", False, f"at anchor off {name}", t0, t0 + 12 * H, pla, plo, 10_000, m))

    def slow_then_on(la, lo):
        m = book.new("LR")
        a = t0 + 6 * H
        v = Vessel(m, concat(path_from_waypoints(a, [(la, lo), offset(la, lo, 0, 2.25 * NM)], 1.5),
                             straight(*offset(la, lo, 0, 2.25 * NM), 12.0, 0.0, a + 1.5 * H + 1, a + 3 * H)),
                   every_s=30.0)
        return [v], [Case("loitering", False, "1.5 h slow then under way", a, a + 4 * H, la, lo, 50_000, m)], []
    place(slow_then_on, group="loitering")

    # rendezvous: two ships drift 200 m apart for 90 min (positive); near-misses: passing at speed,
    # drifting 2 km apart
    def meet(la, lo):
        a = t0 + 7 * H
        m1, m2 = book.new("CN"), book.new("PA")
        v1 = Vessel(m1, concat(straight(*offset(la, lo, -15_000, 0), 10.0, 90.0, a - 0.81 * H, a),
                               path_from_waypoints(a + 1, [(la, lo), offset(la, lo, 0, 0.75 * NM)], 0.5)),
                    every_s=30.0, ship_type=70)
        v2 = Vessel(m2, concat(straight(*offset(la, lo, 200, 15_000), 10.0, 180.0, a - 0.81 * H, a),
                               path_from_waypoints(a + 1, [offset(la, lo, 200, 0), offset(la, lo, 200, 0.75 * NM)],
                                                   0.5)), every_s=30.0, ship_type=80)
        return [v1, v2], [Case("rendezvous", True, "drift 200 m apart 90 min", a + H - 60, a + H + 300, la, lo,
                               5000, m1)], []
    place(meet, group="rendezvous")

    def passing(la, lo):
        a = t0 + 7 * H
        m1, m2 = book.new("VN"), book.new("TH")
        v1 = Vessel(m1, straight(*offset(la, lo, -15_000, 0), 10.0, 90.0, a, a + 1.5 * H), every_s=10.0)
        v2 = Vessel(m2, straight(*offset(la, lo, 15_000, 100), 10.0, 270.0, a, a + 1.5 * H), every_s=10.0)
        return [v1, v2], [Case("rendezvous", False, "passing at 10 kn, 100 m apart", a, a + 3 * H, la, lo,
                               40_000, m1)], []
    place(passing, group="rendezvous")

    def apart(la, lo):
        a = t0 + 7 * H
        m1, m2 = book.new("VN"), book.new("VN")
        v1 = Vessel(m1, path_from_waypoints(a, [(la, lo), offset(la, lo, 0, 1500)], 0.3), every_s=60.0)
        v2 = Vessel(m2, path_from_waypoints(a, [offset(la, lo, 2000, 0), offset(la, lo, 2000, 1500)], 0.3),
                    every_s=60.0)
        return [v1, v2], [
            Case("rendezvous", False, "drifting 2 km apart", a, a + 4 * H, la, lo, 20_000, m1),
            Case("loitering", True, "drifting 0.3 kn (rendezvous near-miss)", a + 2 * H - 60, a + 2 * H + 180,
                 la, lo, 5000, m1),
            Case("loitering", True, "drifting 0.3 kn (rendezvous near-miss)", a + 2 * H - 60, a + 2 * H + 180,
                 la, lo, 5000, m2)], []
    place(apart, group="rendezvous")

    # zone_entry: into Second Thomas Shoal's 12 nm (positive); near-miss: passing ~14 km outside it
    if want("zone_entry"):
        zi = next(i for i, (n, _, _) in enumerate(world.geo.watch) if n.startswith("Second Thomas"))
        zname, _, zg = world.geo.watch[zi]
        c = zg.centroid
        a = t0 + 8 * H
        m = book.new("CN")
        # from 60 km south heading north, 15 km east of the reef's centre (clear of the reef and of Mischief Reef)
        vs.append(Vessel(m, straight(*offset(c.y, c.x, 15_000, -60_000), 10.0, 0.0, a, a + 4 * H), every_s=30.0,
                         coverage_free=True))
        cases.append(Case("zone_entry", True, f"into {zname}", a, a + 3 * H, *offset(c.y, c.x, 15_000, -21_000), 8000, m))
        m = book.new("PH")
        vs.append(Vessel(m, straight(*offset(c.y, c.x, 40_000, -60_000), 10.0, 0.0, a, a + 4 * H), every_s=30.0,
                         coverage_free=True))
        cases.append(Case("zone_entry", False, f"~14 km outside {zname}", a, a + 5 * H, c.y, c.x, 80_000, m))

    # foreign_fishing: VN fisher trawling in the PH EEZ 90 min (positive); near-misses: a PH fisher there,
    # a VN fisher transiting at 10 kn
    def fishing(la, lo):
        a = t0 + 9 * H
        m, m2, m3 = book.new("VN"), book.new("PH"), book.new("VN")
        v1 = Vessel(m, path_from_waypoints(a, [(la, lo), offset(la, lo, 4.5 * NM, 0)], 3.0), every_s=30.0,
                    ship_type=30, coverage_free=True)
        v2 = Vessel(m2, path_from_waypoints(a, [offset(la, lo, 0, 5000), offset(la, lo, 4.5 * NM, 5000)], 3.0),
                    every_s=30.0, ship_type=30, coverage_free=True)
        v3 = Vessel(m3, straight(*offset(la, lo, 0, -8000), 10.0, 90.0, a, a + 1.5 * H), every_s=30.0, ship_type=30,
                    coverage_free=True)
        return [v1, v2, v3], [
            Case("foreign_fishing", True, "VN trawler in PH EEZ", a + 1800 - 60, a + 1800 + 180, la, lo, 20_000, m),
            Case("foreign_fishing", False, "PH trawler at home", a, a + 3 * H, la, lo, 30_000, m2),
            Case("foreign_fishing", False, "VN fisher transiting at 10 kn", a, a + 3 * H, la, lo, 60_000, m3)], []
    if want("foreign_fishing"):
        place(fishing, [_site_in(world, "PH")], group="foreign_fishing")

    # swarm: 25 boats within 3 km at 1 kn for 2.5 h (positive); near-misses: 25 boats over 30 km; 12 boats close
    for label, n, spread, positive in (("25 boats within 3 km", 25, 3000.0, True),
                                       ("25 boats spread over 30 km", 25, 30_000.0, False),
                                       ("12 boats within 3 km", 12, 3000.0, False)):
        def swarm(la, lo, label=label, n=n, spread=spread, positive=positive):
            a = t0 + 10 * H
            out_v = []
            exempt = True
            starts: list[tuple[float, float]] = []
            while len(starts) < n:
                r, b = spread * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                p = offset(la, lo, r * math.sin(b), r * math.cos(b))
                # no pair near the 500 m threshold, so the label (a rendezvous or not) is clear-cut
                if all(not 420 < distance_m(*p, *q) < 580 for q in starts):
                    starts.append(p)
            for k in range(n):
                p0 = starts[k]
                # fishing boats of the state whose approximate EEZ they are in (not foreign fishing)
                states = world.geo.eez_states_at(*p0)
                flag = states[0] if states and states[0] in FLAG_MIDS else "CN"
                exempt &= flag in states or not states   # own EEZ, or no state's EEZ: fishing
                out_v.append(Vessel(book.new(flag), path_from_waypoints(a, [p0, offset(*p0, 0, 2.5 * NM)], 1.0),
                                    every_s=60.0, ship_type=30))
            out_c = [Case("swarm", positive, label, a + H - 60, a + H + 180, la, lo, 5000)]
            # boats closer than 500 m to one another are fishing vessels together, not an
            # encounter (rendezvous needs a non-fishing vessel): a rendezvous fired here is a false alarm
            if not exempt:   # slow boats loiter unless fishing in their own EEZ or outside every EEZ
                out_c.append(Case("loitering", True, f"{label} (each loiters)", a + 2 * H - 60, a + 2 * H + 240,
                                  la, lo, spread + 5000))
            return out_v, out_c, []
        swarm.__name__ = f"swarm {label}"
        place(swarm, group="swarm")

    # distress: AIS-SART (positive); near-miss: a SART in test mode
    def distress(la, lo):
        a = t0 + 11 * H
        return ([Vessel(970_574_001, stay(a, a + 1800, la, lo), every_s=60.0, ship_type=None, nav_status=14),
                 Vessel(970_574_002, stay(a, a + 600, *offset(la, lo, 10_000, 0)), every_s=60.0, ship_type=None,
                        nav_status=15)],
                [Case("distress", True, "AIS-SART active", a - 5, a + 300, la, lo, 5000, 970_574_001),
                 Case("distress", False, "SART test", a, a + H, la, lo, 30_000, 970_574_002)], [])
    place(distress, group="distress")

    # gnss_interference: 4 ships within 30 km jump 20 km within 10 min (positive); near-miss: 2 ships
    for n, positive in ((4, True), (2, False)):
        def gnss(la, lo, n=n, positive=positive):
            a = t0 + 12 * H
            out_v, out_c = [], []
            for k in range(n):
                m = book.new("VN")
                p0 = offset(la, lo, 8000 * k - 12_000, 4000 * k)
                tg = a + 1800 + 150 * k
                path = straight(*p0, 8.0, 45.0 * k, a, a + 1.5 * H)
                g_lat, g_lon, _, _ = path.at(np.array([tg]))
                # the faulty fix lands 20 km off, at sea (a fix on land would be an on_land case too)
                d = next(((e, n) for e, n in ((0, 1), (0, -1), (1, 0), (-1, 0))
                          if not world.base_geo.on_land(*offset(float(g_lat[0]), float(g_lon[0]), 20_000 * e, 20_000 * n))),
                         (0, 1))
                out_v.append(Vessel(m, path, every_s=10.0,
                                    glitches=[(tg, d[1] * 20_000 / m_per_deg(la)[1],
                                               d[0] * 20_000 / m_per_deg(la)[0])]))
                out_c.append(Case("speed_jump", True, "GNSS fault (part of a gnss case)", tg - 30, tg + 60, *p0,
                                  40_000, m))
            out_c.append(Case("gnss_interference", positive, f"{n} ships jump together", a + 1800 - 30,
                              a + 1800 + 150 * n + 120, la, lo, 40_000))
            return out_v, out_c, []
        place(gnss, group="gnss_interference")
    # (placed last, so that the other cases keep their sites)
    # identity_clash from the radar: AIS fixes 1 km east of where a coastal radar sees the ship, for
    # 30 min (positive; the real ship is then a radar contact with no AIS near it: dark_vessel too);
    # near-miss: a ship on the same radar whose AIS agrees with it
    def contradicted(la, lo):
        r = [Sensor(f"R-SPOOF-{len(radars)}", "radar", la, lo, range_m=40_000, accuracy_m=40, scan_period_s=6.0)]
        a = t0 + 5.2 * H
        m, m2 = 412_900_001, 574_900_002  # fixed (CN and VN MIDs): the shared generator is not drawn on, so
        book.used |= {m, m2}              # the background traffic generated after this stays as it was
        east = 1000.0 / m_per_deg(la)[0]
        v = Vessel(m, straight(*offset(la, lo, -8000, -6000), 10.0, 60.0, a, a + 1.5 * H), every_s=10.0,
                   coverage_free=True, bias=[(a + 1800, a + 3600, 0.0, east)])
        v2 = Vessel(m2, straight(*offset(la, lo, 8000, 6000), 10.0, 240.0, a, a + 1.5 * H), every_s=10.0,
                    coverage_free=True)
        return [v, v2], [
            Case("identity_clash", True, "AIS 1 km off where radar sees the ship", a + 1800, a + 1800 + 120,
                 *offset(la, lo, -8000, -6000), 20_000, m),
            Case("dark_vessel", True, "the ship whose AIS is 1 km off, on radar", a + 1800 + 840, a + 1800 + 1140,
                 *offset(la, lo, -8000, -6000), 20_000),
            Case("identity_clash", False, "AIS and radar agree", a, a + 2 * H, *offset(la, lo, 8000, 6000), 20_000,
                 m2)], r
    place(contradicted, group="radar_contradiction")

    return vs, cases, radars


# event groups and the hour after ``t0`` at which each starts
GROUPS: dict[str, float] = {
    "ais_gap": 1.0, "dark_vessel": 2.0, "speed_jump": 3.0, "on_land": 4.0, "identity_clash": 5.0,
    "radar_contradiction": 5.2, "invalid_identity": 5.5, "loitering": 6.0, "rendezvous": 7.0,
    "zone_entry": 8.0, "foreign_fishing": 9.0, "swarm": 10.0, "distress": 11.0, "gnss_interference": 12.0,
}


def _at_sea(world: World, p: Path) -> bool:
    """The whole path (sampled every ~500 m) at sea and outside every watch zone."""
    for (a0, b0), (a1, b1) in zip(zip(p.lat, p.lon), zip(p.lat[1:], p.lon[1:])):
        n = max(2, int(distance_m(a0, b0, a1, b1) / 500) + 1)
        for f in np.linspace(0, 1, n):
            la, lo = a0 + f * (a1 - a0), b0 + f * (b1 - b0)
            if world.base_geo.on_land(la, lo) or not world.geo.in_aoi(la, lo) or world.geo.watch_zones_at(la, lo):
                return False
    return True



def _sites(world: World) -> list[tuple[float, float]]:
    """Open-water case sites: in coverage, ≥ 25 km from land, ports and watch zones, ≥ 120 km apart."""
    rng = world.rng
    out: list[tuple[float, float]] = []
    rx = [s for s in world.sensors.values() if s.kind == "ais"]
    order = rng.permutation(len(rx))
    for i in order:
        s = rx[i]
        for _ in range(30):
            p = world.sea_point_near(s.lat, s.lon, 70_000, clear_m=20_000)
            if p is None or not world.geo.in_aoi(*p) or world.geo.nearest_port(p[0], p[1], 40_000):
                continue
            if not world.in_coverage(np.array([p[0]]), np.array([p[1]]))[0]:
                continue
            if all(distance_m(p[0], p[1], q[0], q[1]) > 120_000 for q in out):
                out.append(p)
                break
    return out


def _site_in(world: World, state: str) -> tuple[float, float]:
    for s in world.sensors.values():
        if s.kind == "ais":
            p = world.sea_point_near(s.lat, s.lon, 70_000, clear_m=20_000, state=state)
            if p is not None and not world.geo.nearest_port(p[0], p[1], 40_000):
                return p
    raise RuntimeError(f"no site in the {state} EEZ")


def _coast_offset(world: World, depth_m: float) -> tuple[float, float, float, float]:
    """A sea point 1.5 km off a straight coast and the offset that puts a fix ``depth_m`` inland."""
    rng = world.rng
    land_osm = [shape(f["geometry"]) for f in layer("land_osm")["features"]]
    big = max(land_osm, key=lambda g: g.area)
    for _ in range(2000):
        x, y = shapely.get_coordinates(big.exterior)[rng.integers(len(big.exterior.coords))]
        if not (100 < x < 122 and 2 < y < 24):
            continue
        for b in range(0, 360, 30):
            e, n = math.sin(math.radians(b)), math.cos(math.radians(b))
            sea = offset(y, x, 1500 * e, 1500 * n)
            inl = offset(y, x, -depth_m * e, -depth_m * n)
            if not world.base_geo.on_land(*sea) and world._sea_clear(sea[0], sea[1], 1000) \
                    and abs(world.base_geo.inland_m(*inl) - depth_m) < 0.3 * depth_m + 100 \
                    and world.geo.nearest_port(sea[0], sea[1], 10_000) is None:
                return sea[0], sea[1], inl[0] - sea[0], inl[1] - sea[1]
    raise RuntimeError("no straight coast found")
