"""Build services/data/geo/inland_water_ne10m.geojson: rivers and lakes of the region as water.

Inputs (public domain, Natural Earth 1:10m physical, version 4.1.0 as converted to GeoJSON by
ogr2ogr in github.com/martynafford/natural-earth-geojson, commit 0b9a6ceb0a70, CC0):
``10m/physical/ne_10m_rivers_lake_centerlines.7z`` and ``10m/physical/ne_10m_lakes.7z``,
each holding one .json FeatureCollection (extract them first, e.g. with py7zr).

Method (docs/geo-provenance.md, "inland_water_ne10m.geojson"): every river centreline and lake
that touches the region box (lon 95..125, lat -5..27) is buffered by CORRIDOR_M on each side in
a WGS 84 azimuthal equidistant frame centred on the feature (pyproj), clipped to the box, snapped
to a 1e-5 degree grid and made valid.  CORRIDOR_M is the positional tolerance of 1:10,000,000
data (0.5 mm on the map), not a value fitted to any track.

Usage: python scripts/build_inland_water.py RIVERS.json LAKES.json OUT.geojson
"""

from __future__ import annotations

import json
import sys

import shapely
from pyproj import CRS, Transformer
from shapely.geometry import box, mapping, shape

BOX = box(95.0, -5.0, 125.0, 27.0)
CORRIDOR_M = 5000.0
SOURCE = "Natural Earth 1:10m physical 4.1.0 (martynafford/natural-earth-geojson@0b9a6ceb0a70)"


def _buffer_m(geom: shapely.Geometry, metres: float) -> shapely.Geometry:
    c = geom.centroid
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m")
    fwd = Transformer.from_crs("EPSG:4326", aeqd, always_xy=True)
    back = Transformer.from_crs(aeqd, "EPSG:4326", always_xy=True)
    local = shapely.transform(geom, lambda xy: _apply(fwd, xy))
    grown = local.buffer(metres, quad_segs=8)
    return shapely.transform(grown, lambda xy: _apply(back, xy))


def _apply(tr: Transformer, xy):
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    xy = xy.copy()
    xy[:, 0], xy[:, 1] = x, y
    return xy


def build(rivers_path: str, lakes_path: str) -> dict:
    features = []
    for path, kind in ((rivers_path, "river"), (lakes_path, "lake")):
        doc = json.load(open(path, encoding="utf-8"))
        for f in doc["features"]:
            if not f.get("geometry"):
                continue
            g = shape(f["geometry"])
            if not g.intersects(BOX):
                continue
            water = shapely.make_valid(_buffer_m(g, CORRIDOR_M).intersection(BOX))
            water = shapely.make_valid(shapely.set_precision(water, 1e-5))
            if water.is_empty:
                continue
            p = f["properties"]
            features.append({"type": "Feature", "properties": {
                "kind": kind, "name": p.get("name_en") or p.get("name"), "featurecla": p.get("featurecla"),
                "scalerank": p.get("scalerank"), "corridor_m": CORRIDOR_M, "source": SOURCE,
                "licence": "public domain (Natural Earth)"}, "geometry": mapping(water)})
    features.sort(key=lambda f: (f["properties"]["kind"], f["properties"]["name"] or ""))
    return {"type": "FeatureCollection", "features": features}


if __name__ == "__main__":
    doc = build(sys.argv[1], sys.argv[2])
    with open(sys.argv[3], "w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [\n')
        out.write(",\n".join(json.dumps(f, separators=(",", ":")) for f in doc["features"]))
        out.write("\n]}\n")
    print(len(doc["features"]), "features")
