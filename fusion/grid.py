"""A uniform lat/lon grid of tracks for gating: only nearby tracks are tested."""

from __future__ import annotations

import math
from collections.abc import Iterator

from .track import Track


class TrackGrid:
    def __init__(self, cell_deg: float) -> None:
        self.cell_deg = cell_deg
        self._cells: dict[tuple[int, int], dict[str, Track]] = {}

    def key(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self.cell_deg), math.floor(lon / self.cell_deg)

    def place(self, track: Track) -> None:
        """Put a track in the cell of its position (moving it if it changed cell)."""
        cell = self.key(track.lat, track.lon)
        bucket = self._cells.get(track.cell)
        if bucket is not None and cell == track.cell and track.track_id in bucket:
            return
        self.remove(track)
        track.cell = cell
        self._cells.setdefault(cell, {})[track.track_id] = track

    def remove(self, track: Track) -> None:
        bucket = self._cells.get(track.cell)
        if bucket is not None and bucket.pop(track.track_id, None) is not None and not bucket:
            del self._cells[track.cell]

    def near(self, lat: float, lon: float, rings: int = 1) -> Iterator[Track]:
        """Tracks in the cell of (lat, lon) and ``rings`` cells around it."""
        ci, cj = self.key(lat, lon)
        for i in range(ci - rings, ci + rings + 1):
            for j in range(cj - rings, cj + rings + 1):
                bucket = self._cells.get((i, j))
                if bucket:
                    yield from bucket.values()
