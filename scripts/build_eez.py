#!/usr/bin/env python3
"""Build services/data/geo/eez_approx.geojson: APPROXIMATE exclusive economic zones.

Run once by a developer; the output is committed (the product never runs this).

    (mkdir -p $SCRATCH && cd $SCRATCH && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz)
    .venv/bin/python scripts/build_eez.py --countries $SCRATCH/package/countries-10m.json

Method (documented in docs/geo-provenance.md and docs/alerts.md):

1. Land with country attribution: Natural Earth 4.1.0 1:10m admin-0 countries (npm
   ``world-atlas@2.0.2``, ``countries-10m.json``, public domain).  Hong Kong and Macao
   count as CN, Australia's Indian Ocean Territories as AU.
2. Small disputed features are NOT base points: Natural Earth's "Spratly Is." and
   "Scarborough Reef" shapes, and every island under 100 km² inside the Spratly,
   Paracel, Pratas and Senkaku boxes more than 100 km from a large landmass, are left
   out.  Every other island of a state counts (Hainan, Taiwan, Palawan, Natuna, Con Son,
   Phu Quoc...), except islands under 200 km² within ~25 km of another state's large
   landmass and over ~50 km from their own (Kinmen, Matsu...).  This is one common, defensible simplification; it is not any state's
   claim and it is not a legal boundary.
3. Coast = boundary of the union of that land (land borders are not coast), sampled
   every ``--spacing-km`` and attributed to the nearest state's land.
4. Median (equidistance) lines: Voronoi cells of the coast points, computed in a WGS 84
   azimuthal equidistant projection centred on 110°E 11°N, dissolved per state.
5. 200 nm limit: each state's land buffered by 370,400 m in an azimuthal equidistant
   projection centred on that state's land in the region.
6. EEZ(state) = its median-line cell ∩ its 200 nm buffer ∩ the area of interest
   (95–125°E, 5°S–27°N), minus land (islands under 5 km² stay inside the polygon).
   Simplified to ``--simplify-m`` and rounded to 4 decimals.
7. Checks (printed, and the build fails when a limit is exceeded): on points sampled along
   the median lines, geodesic (WGS 84) distances to the two states' nearest coast points
   differ by at most a few km; points sampled on the outer limit lie 200 nm ± a few km
   from the state's coast; a few reference points fall in the expected state.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from scipy.spatial import cKDTree
from shapely.geometry import MultiPolygon, Polygon, box, mapping

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "services" / "data" / "geo" / "eez_approx.geojson"
AOI = box(95.0, -5.0, 125.0, 27.0)
WORK_BOX = box(85.0, -16.0, 135.0, 36.0)      # land whose 200 nm can reach the AOI
NM200_M = 370_400.0
GEOD = Geod(ellps="WGS84")

# ISO 3166-1 numeric (Natural Earth ids) -> alpha-2 used by the rules (flags from MMSI MIDs)
ISO = {"156": "CN", "344": "CN", "446": "CN", "158": "TW", "704": "VN", "608": "PH", "458": "MY",
       "096": "BN", "360": "ID", "764": "TH", "116": "KH", "702": "SG", "418": "LA", "104": "MM",
       "356": "IN", "050": "BD", "626": "TL", "598": "PG", "036": "AU", "392": "JP", "585": "PW",
       "410": "KR", "408": "KP", "144": "LK"}
NAMED = {"Indian Ocean Ter.": "AU"}
DROP_NAMED = {"Spratly Is.", "Scarborough Reef"}
NAMES = {"CN": "China", "TW": "Taiwan", "VN": "Viet Nam", "PH": "Philippines", "MY": "Malaysia",
         "BN": "Brunei", "ID": "Indonesia", "TH": "Thailand", "KH": "Cambodia", "SG": "Singapore",
         "MM": "Myanmar", "IN": "India", "AU": "Australia", "JP": "Japan", "TL": "Timor-Leste",
         "PG": "Papua New Guinea", "PW": "Palau"}
# small disputed features that are not used as base points (lon0, lat0, lon1, lat1)
DISPUTED_BOXES = {"Spratly Islands": (111.0, 6.0, 116.7, 12.0), "Paracel Islands": (110.8, 15.5, 113.0, 17.4),
                  "Scarborough Shoal": (117.5, 14.9, 118.0, 15.4), "Pratas Island": (116.4, 20.4, 117.2, 21.0),
                  "Senkaku/Diaoyu Islands": (123.3, 25.6, 124.7, 26.0)}
CHECK_POINTS = [  # (label, lat, lon, expected state)
    ("50 km west of Palawan", 9.55, 117.95, "PH"), ("off central Viet Nam", 14.0, 109.75, "VN"),
    ("off southern Hainan", 17.7, 109.6, "CN"), ("Luzon Strait, west of Luzon", 17.0, 119.8, "PH"),
    ("Taiwan Strait, east side", 23.5, 119.8, "TW"), ("off Sarawak", 3.6, 112.2, "MY"),
    ("Natuna Sea", 3.0, 108.5, "ID"), ("off Brunei", 5.3, 114.4, "BN"),
    ("Gulf of Thailand, west", 10.5, 100.5, "TH"), ("Gulf of Thailand, Cambodian coast", 10.6, 103.2, "KH"),
    ("off Guangdong", 21.0, 113.5, "CN"), ("Singapore Strait", 1.22, 103.85, "SG")]


# ------------------------------------------------------------------ TopoJSON
def topo_polygons(path: Path) -> list[tuple[str, shapely.Geometry]]:
    doc = json.loads(path.read_text("utf-8"))
    sx, sy = doc["transform"]["scale"]
    tx, ty = doc["transform"]["translate"]
    arcs = []
    for arc in doc["arcs"]:
        a = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([a[:, 0] * sx + tx, a[:, 1] * sy + ty]))

    def ring(idx: list[int]) -> np.ndarray:
        parts = []
        for k in idx:
            pts = arcs[k] if k >= 0 else arcs[~k][::-1]
            parts.append(pts if not parts else pts[1:])
        return np.concatenate(parts)

    out = []
    for g in doc["objects"]["countries"]["geometries"]:
        name = g["properties"].get("name")
        if name in DROP_NAMED:
            continue
        iso = ISO.get(g.get("id") or "") or NAMED.get(name)
        if iso is None or g["type"] not in ("Polygon", "MultiPolygon"):
            continue
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        geoms = []
        for p in polys:
            rings = [ring(r) for r in p]
            if len(rings[0]) >= 4:
                geoms.append(shapely.make_valid(Polygon(rings[0], [r for r in rings[1:] if len(r) >= 4])))
        geom = shapely.intersection(shapely.union_all(geoms), WORK_BOX)
        if not geom.is_empty:
            out.append((iso, geom))
    return out


def aeqd(lat: float, lon: float) -> tuple[Transformer, Transformer]:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    return (Transformer.from_crs("EPSG:4326", crs, always_xy=True),
            Transformer.from_crs(crs, "EPSG:4326", always_xy=True))


def project(geom: shapely.Geometry, tr: Transformer) -> shapely.Geometry:
    return shapely.transform(geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def geodesic_area_km2(g: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6


# ------------------------------------------------------------------ build
def build(countries: Path, spacing_km: float, simplify_m: float) -> tuple[dict, list[str]]:
    report: list[str] = []
    by_state: dict[str, list[shapely.Geometry]] = {}
    for iso, g in topo_polygons(countries):
        by_state.setdefault(iso, []).extend(p for p in shapely.get_parts(g) if p.geom_type == "Polygon")
    big = [p for ps in by_state.values() for p in ps if geodesic_area_km2(p) >= 5000]
    big_u = shapely.union_all(big)
    shapely.prepare(big_u)
    dropped = []
    for iso, parts in by_state.items():
        keep = []
        for p in parts:
            c = p.representative_point()
            where = next((n for n, b in DISPUTED_BOXES.items() if box(*b).contains(c)), None)
            if where and geodesic_area_km2(p) < 100 and not shapely.dwithin(big_u, c, 1.0):
                dropped.append(f"{iso} {where} ({c.y:.2f}N {c.x:.2f}E, {geodesic_area_km2(p):.1f} km²)")
                continue
            keep.append(p)
        by_state[iso] = keep
    # small islands of one state hard against another state's large landmass (Kinmen and Matsu
    # off Fujian, the Turtle Islands off Sabah…): they would carve pockets out of the other state's
    # coastal waters, which no median-line practice does; their own waters are not modelled
    # (islands near their own state's mainland too, e.g. at a land border, are kept)
    for iso, parts in by_state.items():
        others = [p for s2, ps in by_state.items() if s2 != iso for p in ps if geodesic_area_km2(p) >= 5000]
        if not others:
            continue
        near = shapely.union_all(others)
        own = shapely.union_all([p for p in parts if geodesic_area_km2(p) >= 5000])
        keep = []
        for p in parts:
            c = p.representative_point()
            if geodesic_area_km2(p) < 200 and shapely.dwithin(near, c, 0.25) \
                    and (own.is_empty or not shapely.dwithin(own, c, 0.5)):
                dropped.append(f"{iso} island within ~25 km of another state's mainland "
                               f"({c.y:.2f}N {c.x:.2f}E, {geodesic_area_km2(p):.1f} km²)")
                continue
            keep.append(p)
        by_state[iso] = keep
    report.append(f"small features left out as base points: {len(dropped)}")
    report += [f"  - {d}" for d in dropped]
    land = {s: shapely.union_all(ps) for s, ps in by_state.items() if ps}

    # coast points, in one AEQD frame centred on the region
    fwd, inv = aeqd(11.0, 110.0)
    land_p = {s: project(g, fwd) for s, g in land.items()}
    states = sorted(land_p)
    union_p = shapely.union_all(list(land_p.values()))
    coast = shapely.segmentize(union_p.boundary, spacing_km * 1000.0)
    pts = shapely.get_coordinates(coast)
    pts = np.unique(np.round(pts, 0), axis=0)
    tree = shapely.STRtree([land_p[s] for s in states])
    owner_idx = tree.query_nearest(shapely.points(pts), all_matches=False)[1]
    owner = np.array(states)[owner_idx]
    report.append(f"coast points: {len(pts)} (every {spacing_km:g} km), states: {', '.join(states)}")

    # median lines: Voronoi cells of coast points, dissolved per state
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=box(-6e6, -6e6, 6e6, 6e6)))
    cell_tree = shapely.STRtree(cells)
    # each Voronoi cell contains exactly one input point
    pi, ci = cell_tree.query(shapely.points(pts), predicate="intersects")
    cell_owner = {}
    for p_i, c_i in zip(pi, ci):
        if shapely.contains_xy(cells[c_i], *pts[p_i]) or c_i not in cell_owner:
            cell_owner[c_i] = owner[p_i]
    median = {}
    for s in states:
        mine = [cells[c] for c, o in cell_owner.items() if o == s]
        median[s] = shapely.coverage_union_all(mine) if mine else Polygon()

    aoi_p = project(shapely.segmentize(AOI, 0.1), fwd)
    # sea only: remove the land (simplified; islands under 5 km² stay inside the polygons)
    land_sea_mask = shapely.union_all([p for p in shapely.get_parts(shapely.simplify(union_p, 300.0))
                                       if p.area >= 5e6])
    features = []
    for s in states:
        g = land[s]
        c = shapely.intersection(g, AOI.buffer(6.0)).centroid if not shapely.intersection(g, AOI.buffer(6.0)).is_empty else g.centroid
        f2, i2 = aeqd(round(c.y, 2), round(c.x, 2))
        buf = project(project(shapely.simplify(project(g, f2), 200.0).buffer(NM200_M, quad_segs=32), i2), fwd)
        eez_p = shapely.intersection(shapely.intersection(median[s], buf), aoi_p)
        eez_p = shapely.difference(eez_p, land_sea_mask)
        if eez_p.is_empty or eez_p.area < 1e6:
            continue
        eez_p = shapely.simplify(eez_p, simplify_m)
        eez = shapely.make_valid(shapely.set_precision(project(eez_p, inv), 1e-4))
        eez = MultiPolygon([p for p in shapely.get_parts(eez) if p.geom_type == "Polygon" and not p.is_empty])
        features.append({"type": "Feature",
                         "properties": {"state": s, "name": f"{NAMES.get(s, s)} (approximate EEZ)",
                                        "kind": "eez", "approximate": True,
                                        "area_km2": round(geodesic_area_km2(eez)),
                                        "note": "Approximation for alerting: 200 nm from land with median "
                                                "lines between states; small disputed features ignored. "
                                                "NOT a legal boundary and not any state's claim.",
                                        "source": "Natural Earth 4.1.0 1:10m admin-0 (npm world-atlas@2.0.2), "
                                                  "built by scripts/build_eez.py",
                                        "licence": "public domain (Natural Earth)"},
                         "geometry": mapping(eez)})
    doc = {"type": "FeatureCollection",
           "name": "eez_approx",
           "note": "APPROXIMATE EEZs for the foreign_fishing rule; not legal boundaries. See docs/geo-provenance.md.",
           "features": features}
    report += check(doc, pts, owner, inv)
    return doc, report


# ------------------------------------------------------------------ checks
def check(doc: dict, pts_p: np.ndarray, owner: np.ndarray, inv: Transformer) -> list[str]:
    out, fail = [], []
    lon, lat = inv.transform(pts_p[:, 0], pts_p[:, 1])
    lon, lat = np.asarray(lon), np.asarray(lat)
    xyz = _xyz(lat, lon)
    trees = {s: (cKDTree(xyz[owner == s]), lat[owner == s], lon[owner == s]) for s in np.unique(owner)}

    def nearest_m(s: str, la: float, lo: float, k: int = 4) -> float:
        t, slat, slon = trees[s]
        _, idx = t.query(_xyz(np.array([la]), np.array([lo]))[0], k=min(k, len(slat)))
        idx = np.atleast_1d(idx)
        _, _, d = GEOD.inv(np.full(len(idx), lo), np.full(len(idx), la), slon[idx], slat[idx])
        return float(np.min(d))

    geoms = {f["properties"]["state"]: shapely.geometry.shape(f["geometry"]) for f in doc["features"]}
    # median lines: shared boundaries between two states' polygons
    worst_median, n_med = 0.0, 0
    names = sorted(geoms)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = shapely.intersection(geoms[a].boundary, geoms[b].boundary)
            if shared.is_empty or shared.length < 0.05:
                continue
            for p in shapely.get_coordinates(shapely.segmentize(shared, 0.25))[::2]:
                if not (95.05 < p[0] < 124.95 and -4.95 < p[1] < 26.95):
                    continue
                da, db = nearest_m(a, p[1], p[0]), nearest_m(b, p[1], p[0])
                if min(da, db) > NM200_M:      # where both 200 nm arcs meet, not a median line
                    continue
                worst_median = max(worst_median, abs(da - db))
                n_med += 1
    out.append(f"median lines: {n_med} points checked, worst |d(A)-d(B)| = {worst_median / 1000:.1f} km")
    if worst_median > 8000:
        fail.append("median line error above 8 km")
    # outer limit: boundary points not shared with another state and not on the AOI edge
    worst_outer, n_out = 0.0, 0
    for s, g in geoms.items():
        others = shapely.union_all([h for t, h in geoms.items() if t != s]).buffer(0.02)
        for p in shapely.get_coordinates(shapely.segmentize(g.boundary, 0.25))[::3]:
            if not (95.05 < p[0] < 124.95 and -4.95 < p[1] < 26.95) or others.contains(shapely.Point(p)):
                continue
            d = min(nearest_m(t, p[1], p[0]) for t in trees)
            if d < 5000:      # a coast inside the polygon's outline (land not removed)
                continue
            worst_outer = max(worst_outer, abs(nearest_m(s, p[1], p[0]) - NM200_M))
            n_out += 1
    out.append(f"200 nm limit: {n_out} points checked, worst |d - 370.4 km| = {worst_outer / 1000:.1f} km")
    if worst_outer > 8000:
        fail.append("200 nm limit error above 8 km")
    for label, la, lo, want in CHECK_POINTS:
        got = sorted(s for s, g in geoms.items() if g.contains(shapely.Point(lo, la)))
        ok = got == [want]
        out.append(f"{'PASS' if ok else 'FAIL'} {label} ({la}, {lo}): {got} (expected {want})")
        if not ok:
            fail.append(label)
    if fail:
        out.append("FAILED: " + "; ".join(fail))
    return out


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--countries", type=Path, required=True, help="world-atlas@2.0.2 countries-10m.json")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--spacing-km", type=float, default=3.0)
    ap.add_argument("--simplify-m", type=float, default=500.0)
    args = ap.parse_args(argv)
    doc, report = build(args.countries, args.spacing_km, args.simplify_m)
    text = "{\"type\":\"FeatureCollection\",\"name\":\"eez_approx\",\"note\":" + json.dumps(doc["note"]) + \
        ",\"features\":[\n" + ",\n".join(json.dumps(f, separators=(",", ":")) for f in doc["features"]) + "\n]}\n"
    args.out.write_text(text, "utf-8")
    print("\n".join(report))
    print(f"wrote {args.out} ({len(text.encode()):,} bytes, {len(doc['features'])} features, "
          f"sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}…)")
    print("input sha256", hashlib.sha256(args.countries.read_bytes()).hexdigest()[:16] + "…")
    return 1 if any(r.startswith("FAILED") for r in report) else 0


if __name__ == "__main__":
    sys.exit(main())
