"""Geography the rules need, prepared once: land, zones, ports, EEZs, AOI, AIS receivers.

Everything is passed in as Shapely geometries (lon/lat degrees); nothing is read
from files here.  Metric questions ("how far inland", "how far from a port")
are answered in a local equirectangular frame around the query point, which is
exact to well under 100 m at the few-kilometre scales involved (0–25°N).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import Point, box

from ..geodesy import distance_m, distance_m_array, m_per_deg

DEFAULT_AOI = box(95.0, -5.0, 125.0, 27.0)


def _m_per_deg_lon(lat: float) -> float:
    kx, ky = m_per_deg(lat)
    return max(kx, 0.05 * ky)


def metric_distance_m(geom: shapely.Geometry, lat: float, lon: float, search_m: float = 5000.0) -> float:
    """Distance in metres from (lat, lon) to ``geom`` (for a polygon: to its boundary)."""
    target = geom.boundary if geom.geom_type in ("Polygon", "MultiPolygon") else geom
    kx, ky = _m_per_deg_lon(lat), m_per_deg(lat)[1]
    hx, hy = search_m / kx, search_m / ky
    near = shapely.clip_by_rect(target, lon - hx, lat - hy, lon + hx, lat + hy)
    if near.is_empty:
        near = target  # farther than the search box: use the whole geometry (rare)
    local = shapely.transform(near, lambda c: (c - (lon, lat)) * (kx, ky))
    return float(shapely.distance(local, Point(0.0, 0.0)))


EMPTY = shapely.Polygon()
_WILDCARDS = frozenset({"ASEAN", "ALL"})


def meet_tokens(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """Releasability tokens that both lists allow: ``ASEAN``/``ALL`` restrict nothing, a state
    prefix meets its agencies (``PH`` and ``PH-CG`` give ``PH-CG``); an empty list allows no one."""
    wild_a, wild_b = bool(_WILDCARDS.intersection(a)), bool(_WILDCARDS.intersection(b))
    if wild_a and wild_b:
        return sorted(_WILDCARDS.intersection(a) | _WILDCARDS.intersection(b))
    if wild_a or wild_b:
        return sorted(set(b if wild_a else a))
    return sorted({m for x in a for y in b if (m := _meet(x, y)) is not None})


def _meet(a: str, b: str) -> str | None:
    """The narrower of two releasability tokens, or None when they share no agency."""
    if a == b or b.startswith(f"{a}-"):
        return b
    if a.startswith(f"{b}-"):
        return a
    return None


class _CellIndex:
    """Which items' bounding boxes touch each 0.1° cell: a dict lookup before any geometry test.

    An item whose box would span more than ``MAX_CELLS`` cells, or is not finite (a zone in
    projected metres, an empty geometry), goes to ``wide`` instead: checked on every query,
    so no box can make building the index hang.
    """

    MAX_CELLS = 50_000  # about 22° x 22°: more than any zone the services accept

    def __init__(self, bounds: Iterable[tuple[float, float, float, float]], cell_deg: float = 0.1,
                 pad_deg: float = 0.0) -> None:
        self.cell = cell_deg
        self.wide: tuple[int, ...] = ()
        acc: dict[tuple[int, int], list[int]] = {}
        for k, b in enumerate(bounds):
            span = self._span(b, pad_deg)
            if span is None:
                self.wide += (k,)
                continue
            for i in span[0]:
                for j in span[1]:
                    acc.setdefault((i, j), []).append(k)
        self.cells: dict[tuple[int, int], tuple[int, ...]] = {c: tuple(v) for c, v in acc.items()}

    def _span(self, bounds: tuple[float, float, float, float], pad_deg: float) -> tuple[range, range] | None:
        """The cell rows and columns the padded box covers; None for a wide or non-finite box."""
        if not all(math.isfinite(v) for v in bounds):
            return None
        x0, y0, x1, y1 = bounds
        rows = range(math.floor((y0 - pad_deg) / self.cell), math.floor((y1 + pad_deg) / self.cell) + 1)
        cols = range(math.floor((x0 - pad_deg) / self.cell), math.floor((x1 + pad_deg) / self.cell) + 1)
        return (rows, cols) if len(rows) * len(cols) <= self.MAX_CELLS else None

    def add(self, k: int, bounds: tuple[float, float, float, float], pad_deg: float = 0.0) -> None:
        span = self._span(bounds, pad_deg)
        if span is None:
            self.wide += (k,)
            return
        for i in span[0]:
            for j in span[1]:
                self.cells[(i, j)] = self.cells.get((i, j), ()) + (k,)

    def remove(self, k: int) -> None:
        self.cells = {c: tuple(x for x in v if x != k) for c, v in self.cells.items()}
        self.wide = tuple(x for x in self.wide if x != k)

    def at(self, lat: float, lon: float) -> tuple[int, ...]:
        hit = self.cells.get((math.floor(lat / self.cell), math.floor(lon / self.cell)), ())
        return tuple(sorted(hit + self.wide)) if self.wide else hit


class Geography:
    """Prepared geometry.  ``zones``: (name, kind, polygon); ``ports``: (name, lat, lon);
    ``eez``: (state ISO 3166 alpha-2, polygon); ``receivers``: AIS (sensor_id, lat, lon, range_m);
    ``releasability``: optional sensor_id → agencies allowed to see that sensor's data."""

    def __init__(self, land: shapely.Geometry | None = None,
                 zones: Iterable[tuple[str, str, shapely.Geometry]] = (),
                 ports: Iterable[tuple[str, float, float]] = (),
                 area_of_interest: shapely.Geometry | None = None,
                 eez: Iterable[tuple[str, shapely.Geometry]] = (),
                 receivers: Iterable[tuple[str, float, float, float]] = (),
                 *, releasability: Mapping[str, Sequence[str]] | None = None,
                 satellites: Mapping[str, float] | None = None,
                 water: shapely.Geometry | None = None,
                 radars: Mapping[str, tuple[float, float]] | None = None) -> None:
        # land: parts in an STRtree (to find the polygon holding a point) plus the prepared whole
        self.land = land if land is not None and not land.is_empty else None
        if self.land is not None:
            self._land_parts = shapely.get_parts(self.land)
            self._land_tree = shapely.STRtree(self._land_parts)
            shapely.prepare(self.land)
        # inland navigable water (rivers, estuaries, canals, lakes, port basins) inside the land
        self.water = water if water is not None and not water.is_empty else None
        if self.water is not None:
            self._water_parts = shapely.get_parts(self.water)
            self._water_tree = shapely.STRtree(self._water_parts)
            shapely.prepare(self.water)
        # zones: watch zones (every kind but eez/anchorage) and anchorages
        self.zones = [(n, k, g) for n, k, g in zones]
        self.watch = [(n, k, g) for n, k, g in self.zones if k not in ("eez", "anchorage")]
        self._watch_cells = _CellIndex(g.bounds for _, _, g in self.watch)
        for _, _, g in self.watch:
            shapely.prepare(g)
        self._outer: dict[tuple[int, float], shapely.Geometry] = {}
        self.anchorages = [(n, g) for n, k, g in self.zones if k == "anchorage"]
        self._anch_cells = _CellIndex(g.bounds for _, g in self.anchorages)
        for _, g in self.anchorages:
            shapely.prepare(g)
        # ports
        self.ports = [(n, float(la), float(lo)) for n, la, lo in ports]
        self._port_tree = shapely.STRtree([Point(lo, la) for _, la, lo in self.ports])
        self._port_cells = _CellIndex(((lo, la, lo, la) for _, la, lo in self.ports), pad_deg=0.1)
        # EEZs
        self.eez = [(s, g) for s, g in eez]
        self._eez_tree = shapely.STRtree([g for _, g in self.eez])
        for _, g in self.eez:
            shapely.prepare(g)
        # area of interest
        self.aoi = area_of_interest if area_of_interest is not None else DEFAULT_AOI
        shapely.prepare(self.aoi)
        # receivers
        rec = list(receivers)
        self.receivers = rec
        self._rx_lat = np.array([r[1] for r in rec], dtype=float)
        self._rx_lon = np.array([r[2] for r in rec], dtype=float)
        self._rx_range = np.array([r[3] for r in rec], dtype=float)
        self.releasability = {k: tuple(v) for k, v in (releasability or {}).items()}
        # satellite AIS sensors (sensor_id -> revisit_s): they hear everywhere, once a revisit
        self.satellites: dict[str, float] = dict(satellites or {})
        # radars (sensor_id -> lat, lon): registration against AIS (rules/registration.py)
        self.radars: dict[str, tuple[float, float]] = {k: (float(v[0]), float(v[1])) for k, v in (radars or {}).items()}

    def add_sensor(self, sensor_id: str, kind: str, lat: float, lon: float, range_m: float,
                   releasability: Sequence[str], revisit_s: float | None = None,
                   platform: str = "terrestrial") -> None:
        """A sensor registered at run time: its releasability, and for AIS its coverage
        (a satellite, with ``revisit_s``, hears everywhere and is not a receiver with a range);
        a fixed radar's site (a moving one, ``platform`` ship or aircraft, has none)."""
        self.releasability[sensor_id] = tuple(releasability)
        if kind == "radar":
            if not hasattr(self, "radars"):
                self.radars = {}
            if platform in ("ship", "aircraft"):
                self.radars.pop(sensor_id, None)
            else:
                self.radars[sensor_id] = (float(lat), float(lon))
        if kind != "ais":
            return
        if revisit_s is not None:
            self.satellites[sensor_id] = float(revisit_s)
            return
        self.receivers = [r for r in self.receivers if r[0] != sensor_id] + [(sensor_id, lat, lon, range_m)]
        self._rx_lat = np.array([r[1] for r in self.receivers], dtype=float)
        self._rx_lon = np.array([r[2] for r in self.receivers], dtype=float)
        self._rx_range = np.array([r[3] for r in self.receivers], dtype=float)

    # ------------------------------------------------------------------ areas
    def in_aoi(self, lat: float, lon: float) -> bool:
        return bool(shapely.contains_xy(self.aoi, lon, lat))

    def in_coverage(self, lat: float, lon: float, margin: float = 0.0) -> bool | None:
        """Inside some AIS receiver's range (with ``margin``: at least that fraction of the range
        inside its edge); None when no receivers are known."""
        if not self.receivers:
            return None
        d = distance_m_array(lat, lon, self._rx_lat, self._rx_lon)
        return bool(np.any(d <= self._rx_range * (1.0 - margin)))

    def inland_m(self, lat: float, lon: float) -> float:
        """0 on navigable water (the sea, or the inland water layer: rivers, estuaries, canals,
        lakes, port basins), else the distance in metres from the point to the nearest such water."""
        if self.land is None or not shapely.contains_xy(self.land, lon, lat):
            return 0.0
        idx = self._land_tree.query(Point(lon, lat), predicate="intersects")
        if len(idx) == 0:
            return 0.0
        if self.water is not None and shapely.contains_xy(self.water, lon, lat):
            return 0.0
        coast = min(metric_distance_m(self._land_parts[i], lat, lon) for i in idx)
        return min(coast, self.inland_water_m(lat, lon, coast))

    def on_land(self, lat: float, lon: float) -> bool:
        """``inland_m(lat, lon) > 0`` without measuring the distance (off navigable water)."""
        if self.land is None or not shapely.contains_xy(self.land, lon, lat):
            return False
        if len(self._land_tree.query(Point(lon, lat), predicate="intersects")) == 0:
            return False
        return not (self.water is not None and shapely.contains_xy(self.water, lon, lat))

    def inland_water_m(self, lat: float, lon: float, within_m: float) -> float:
        """Distance in metres to the inland water layer, or ``within_m`` when none is that close."""
        if self.water is None or within_m <= 0:
            return within_m
        reach = within_m / _m_per_deg_lon(lat)
        idx = self._water_tree.query(Point(lon, lat), predicate="dwithin", distance=reach)
        best = within_m
        for i in idx:
            best = min(best, metric_distance_m(self._water_parts[i], lat, lon, search_m=within_m))
        return best

    def near_land(self, lat: float, lon: float, within_m: float) -> bool:
        """Land within ``within_m`` metres of the point (on land counts)."""
        if self.land is None:
            return False
        reach = within_m / _m_per_deg_lon(lat)
        for i in self._land_tree.query(Point(lon, lat), predicate="dwithin", distance=reach):
            if shapely.contains_xy(self._land_parts[i], lon, lat) or \
                    metric_distance_m(self._land_parts[i], lat, lon, search_m=within_m) <= within_m:
                return True
        return False

    # ------------------------------------------------------------------ zones
    def add_zone(self, name: str, kind: str, polygon: shapely.Geometry) -> None:
        """Watch one more zone (a user zone added at run time); same name replaces it.

        Indices into ``watch`` stay stable (rules key their state by them): a removed zone
        keeps its slot with an empty geometry.
        """
        self.remove_zone(name)
        shapely.prepare(polygon)
        self.zones.append((name, kind, polygon))
        if kind == "anchorage":
            self.anchorages.append((name, polygon))
            self._anch_cells.add(len(self.anchorages) - 1, polygon.bounds)
        elif kind != "eez":
            self.watch.append((name, kind, polygon))
            self._watch_cells.add(len(self.watch) - 1, polygon.bounds)

    def remove_zone(self, name: str) -> bool:
        """Stop watching zone ``name``; True if there was one."""
        found = False
        self.zones = [z for z in self.zones if z[0] != name]
        for i, (n, k, _) in enumerate(self.watch):
            if n == name:
                self.watch[i] = (n, k, EMPTY)
                self._watch_cells.remove(i)
                self._outer = {key: g for key, g in self._outer.items() if key[0] != i}
                found = True
        for i, (n, _) in enumerate(self.anchorages):
            if n == name:
                self.anchorages[i] = (n, EMPTY)
                self._anch_cells.remove(i)
                found = True
        return found

    def watch_zones_at(self, lat: float, lon: float) -> list[int]:
        return [i for i in self._watch_cells.at(lat, lon) if shapely.contains_xy(self.watch[i][2], lon, lat)]

    def in_watch_outer(self, index: int, lat: float, lon: float, margin_m: float) -> bool:
        """Inside watch zone ``index`` grown by about ``margin_m`` (built once per zone and margin)."""
        outer = self._outer.get((index, margin_m))
        if outer is None:
            g = self.watch[index][2]
            if g.is_empty:  # removed zone
                return False
            outer = g.buffer(margin_m / _m_per_deg_lon(g.centroid.y), quad_segs=4)
            shapely.prepare(outer)
            self._outer[(index, margin_m)] = outer
        return bool(shapely.contains_xy(outer, lon, lat))

    def zone_name_at(self, lat: float, lon: float) -> str | None:
        hits = self.watch_zones_at(lat, lon)
        return self.watch[min(hits)][0] if hits else None

    def anchorage_at(self, lat: float, lon: float) -> str | None:
        for i in self._anch_cells.at(lat, lon):
            if shapely.contains_xy(self.anchorages[i][1], lon, lat):
                return self.anchorages[i][0]
        return None

    def eez_states_at(self, lat: float, lon: float) -> list[str]:
        if not self.eez:
            return []
        hits = self._eez_tree.query(Point(lon, lat), predicate="intersects")
        return sorted({self.eez[int(i)][0] for i in hits})

    # ------------------------------------------------------------------ ports
    def nearest_port(self, lat: float, lon: float, within_m: float) -> tuple[str, float] | None:
        """The nearest port point within ``within_m`` metres, with its distance."""
        if not self.ports:
            return None
        reach_deg = within_m / _m_per_deg_lon(lat)
        if reach_deg <= 0.1:   # the cell index holds every port within 0.1° of each cell
            candidates = self._port_cells.at(lat, lon)
        else:
            candidates = self._port_tree.query(Point(lon, lat), predicate="dwithin", distance=reach_deg)
        best = None
        for i in candidates:
            name, plat, plon = self.ports[int(i)]
            d = distance_m(lat, lon, plat, plon)
            if d <= within_m and (best is None or d < best[1]):
                best = (name, d)
        return best

    def harbour(self, lat: float, lon: float, port_clear_m: float) -> str | None:
        """Name of the port or anchorage the point is in/near, None when away from them."""
        anch = self.anchorage_at(lat, lon)
        if anch is not None:
            return anch
        port = self.nearest_port(lat, lon, port_clear_m)
        return port[0] if port else None

    # ------------------------------------------------------------------ data sharing
    def releasability_of(self, sensor_ids: Iterable[str], default: Sequence[str] = ()) -> list[str]:
        """Agencies allowed to see data from all these sensors: the meet of their lists, where
        ``ASEAN``/``ALL`` restrict nothing and a state prefix (``PH``) covers its agencies
        (``PH-CG``).  Fails closed: a sensor this geography does not know makes the answer
        empty (no agency), and so does no sensor at all (unless ``default`` says otherwise)."""
        lists = []
        for sid in sensor_ids:
            tokens = self.releasability.get(sid)
            if tokens is None:
                return []
            lists.append(tokens)
        if not lists:
            return list(default)
        out: list[str] = list(lists[0])
        for other in lists[1:]:
            out = meet_tokens(out, other)
        return out
