"""The web page, its static files and the public basemap (no key: nothing in them is restricted)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from services.geo import layers as geo

STATIC = resources.files("api").joinpath("static")
router = APIRouter()
static_files = StaticFiles(directory=str(STATIC))


@router.get("/v1/land", tags=["geography"], response_class=Response, responses={
    200: {"content": {"application/geo+json": {"schema": {"type": "object"}}},
          "description": "OSM land and reefs as a GeoJSON FeatureCollection"}})
def land() -> Response:  # public basemap data, no key needed
    return Response(geo.land_for_map(), media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(str(STATIC.joinpath("index.html")))
