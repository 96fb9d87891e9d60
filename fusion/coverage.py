"""AIS coverage: where each AIS station can be expected to hear a vessel, learned from the stream.

The prior is each terrestrial station's registered range (``Sensor.range_m`` around its
position, a WGS 84 geodesic distance).  The stream refines it on a grid of square cells of
about ``cell_m`` (5 km by default):

* **heard** — for each station and cell, the distinct vessels (MMSIs) the station has heard
  reporting a position in that cell.  A cell where a station has heard traffic counts as
  covered by it, inside its registered range or not (ducting, a tall antenna).
* **missed** — for each cell, the distinct AIS-transmitting vessels a radar held there (track
  lines fed by radar *and* AIS, with an MMSI: their transponder is on, some receiver hears
  them).  Those a station never heard in that cell count against it there.  Only vessels
  that are transmitting count, so a group of dark vessels cannot talk a station out of its
  coverage.

A station's reception of a cell is estimated as ``(h + w·prior) / (h + m + w)``: ``h`` heard,
``m`` missed, ``prior`` 1 inside the registered range and 0 outside, ``w`` the weight of the
prior (``coverage_prior_weight``, 5, inside; 1 outside).  The cell is covered when this is at
least one half: inside the registered range until more than ``w`` transmitting vessels went
unheard there (cells routinely seen by radar but never heard decay to not covered); outside it
as soon as the station has heard traffic there (and more than it missed).

AIS observations whose station is not a registered AIS sensor (a feed without tag blocks, an
aggregator) are kept under their feed's sensor id with no prior: they cover where they hear,
and a vessel they heard in a cell is not counted as missed by the registered stations there.

A station heard before and silent for ``coverage_station_silent_s`` (30 min) is taken as down:
it is expected to hear nothing until it is heard again.  A station never heard is taken as up.

Satellite AIS sensors (``platform: satellite``, ``revisit_s``) hear everywhere, but pass over a
place only every ``revisit_s``: they make AIS *expected* only over a silence longer than that.

Everything is plain dicts keyed by station id and (row, column) cell, kept in the checkpoint
with the rule engine.  Per cell and station at most ``CAP`` MMSIs are kept (the most recent):
the decisions need only small counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .geodesy import M_PER_DEG_LAT, distance_m_array

CAP = 32                     # MMSIs kept per (station, cell) and per cell (most recent)
ANON_PREFIX = "feed:"        # key of a feed whose station is not a registered AIS sensor

Cell = tuple[int, int]


def _add(bucket: dict[int, None], mmsi: int) -> None:
    """Add ``mmsi`` (moved to the newest end), keeping at most CAP."""
    bucket.pop(mmsi, None)
    bucket[mmsi] = None
    if len(bucket) > CAP:
        del bucket[next(iter(bucket))]


class Coverage:
    """The coverage model.  ``geo`` is the rules' geography (its AIS receivers and satellites)."""

    def __init__(self, geo: Any, cell_m: float = 5000.0, prior_weight: float = 5.0,
                 station_silent_s: float | None = 1800.0) -> None:
        self.geo = geo
        self.cell_deg = cell_m / M_PER_DEG_LAT
        self.prior_weight = prior_weight
        self.station_silent_s = station_silent_s
        self.heard: dict[str, dict[Cell, dict[int, None]]] = {}   # station -> cell -> MMSIs heard
        self.radar: dict[Cell, dict[int, None]] = {}              # cell -> transmitting MMSIs radar held
        self.last_heard_s: dict[str, float] = {}                  # station -> last report heard
        self._prior: dict[Cell, tuple[str, ...]] = {}             # cell -> stations whose range covers it
        self._prior_of = -1                                       # id() of the receiver list it was built for

    # ------------------------------------------------------------------ learning
    def cell(self, lat: float, lon: float) -> Cell:
        return math.floor(lat / self.cell_deg), math.floor(lon / self.cell_deg)

    def cell_centre(self, cell: Cell) -> tuple[float, float]:
        return (cell[0] + 0.5) * self.cell_deg, (cell[1] + 0.5) * self.cell_deg

    def station_key(self, sensor_id: str, station: str | None) -> str | None:
        """The registered station that heard a report (tag-block station, else the feed's sensor),
        ``feed:<sensor>`` when neither is a registered terrestrial AIS sensor, None for a satellite."""
        rx = self.geo.receivers
        if getattr(self, "_known_of", None) != id(rx):   # (rebuilt when the receiver list changes)
            self._known_of, self._known = id(rx), {r[0] for r in rx}
        known = self._known
        sats = getattr(self.geo, "satellites", {})
        for key in (station, sensor_id):
            if key is None:
                continue
            if key in sats:
                return None
            if key in known:
                return key
        return ANON_PREFIX + (station or sensor_id)

    def heard_at(self, sensor_id: str, station: str | None, mmsi: int, lat: float, lon: float,
                 time_s: float) -> None:
        """An AIS position report of ``mmsi`` at (lat, lon), heard through this sensor/station."""
        key = self.station_key(sensor_id, station)
        if key is None:
            return
        _add(self.heard.setdefault(key, {}).setdefault(self.cell(lat, lon), {}), mmsi)
        if time_s > self.last_heard_s.get(key, -math.inf):
            self.last_heard_s[key] = time_s

    def radar_saw(self, mmsi: int, lat: float, lon: float) -> None:
        """A radar held a vessel whose AIS is being heard (a track line fed by radar and AIS)."""
        _add(self.radar.setdefault(self.cell(lat, lon), {}), mmsi)

    # ------------------------------------------------------------------ questions
    def _in_range(self, cell: Cell) -> tuple[str, ...]:
        """Terrestrial stations whose registered range holds the cell's centre."""
        rx = self.geo.receivers
        if self._prior_of != id(rx):
            self._prior, self._prior_of = {}, id(rx)
        got = self._prior.get(cell)
        if got is None:
            if rx:
                lat, lon = self.cell_centre(cell)
                d = distance_m_array(lat, lon, np.array([r[1] for r in rx], dtype=float),
                                     np.array([r[2] for r in rx], dtype=float))
                got = tuple(r[0] for r, dist in zip(rx, d) if dist <= r[3])
            else:
                got = ()
            self._prior[cell] = got
        return got

    def _anonymous_heard(self, cell: Cell) -> set[int]:
        out: set[int] = set()
        for key, cells in self.heard.items():
            if key.startswith(ANON_PREFIX) and cell in cells:
                out.update(cells[cell])
        return out

    def reception(self, station: str, cell: Cell, in_range: bool | None = None) -> tuple[float, int, int]:
        """(estimated reception, vessels heard, transmitting vessels missed) of ``station`` in ``cell``."""
        if in_range is None:
            in_range = station in self._in_range(cell)
        heard = self.heard.get(station, {}).get(cell, {})
        radar = self.radar.get(cell, {})
        missed = 0
        if radar:
            others = self._anonymous_heard(cell) if not station.startswith(ANON_PREFIX) else set()
            missed = sum(1 for m in radar if m not in heard and m not in others)
        h = len(heard)
        w = self.prior_weight if in_range else 1.0
        return (h + (w if in_range else 0.0)) / (h + missed + w), h, missed

    def _up(self, station: str, time_s: float) -> bool:
        last = self.last_heard_s.get(station)
        return last is None or self.station_silent_s is None or time_s - last <= self.station_silent_s

    def _terrestrial(self, lat: float, lon: float, time_s: float) -> list[str]:
        cell = self.cell(lat, lon)
        in_range = self._in_range(cell)
        candidates = dict.fromkeys(in_range)
        for key, cells in self.heard.items():
            if cell in cells:
                candidates[key] = None
        return [s for s in candidates
                if self._up(s, time_s) and self.reception(s, cell, s in in_range)[0] >= 0.5]

    def stations_that_could_hear(self, lat: float, lon: float, time_s: float) -> list[str]:
        """The AIS stations that could hear a vessel at (lat, lon) at ``time_s``: terrestrial
        stations (up, whose learned coverage holds the place), then every satellite."""
        return self._terrestrial(lat, lon, time_s) + sorted(getattr(self.geo, "satellites", {}))

    def ais_expected(self, lat: float, lon: float, time_s: float, silence_s: float) -> bool | None:
        """Would AIS from a vessel at (lat, lon) have been heard over a silence of ``silence_s``
        ending at ``time_s``?  Yes where a terrestrial station covers the place, or a satellite
        revisits within the silence.  None when nothing is known of any AIS station."""
        sats = getattr(self.geo, "satellites", {})
        if not self.geo.receivers and not sats and not self.heard:
            return None
        if self._terrestrial(lat, lon, time_s):
            return True
        return any(revisit <= silence_s for revisit in sats.values())

    # ------------------------------------------------------------------ view
    def geojson(self, visible: Callable[[str], bool]) -> dict[str, Any]:
        """Stations (registered range, platform) and the learned cells of each station
        ``visible`` admits, as a GeoJSON FeatureCollection."""
        features: list[dict[str, Any]] = []
        for sid, lat, lon, range_m in self.geo.receivers:
            if visible(sid):
                features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                                 "properties": {"kind": "station", "station": sid, "platform": "terrestrial",
                                                "range_m": range_m, "last_heard_s": self.last_heard_s.get(sid)}})
        for sid, revisit_s in sorted(getattr(self.geo, "satellites", {}).items()):
            if visible(sid):
                features.append({"type": "Feature", "geometry": None,
                                 "properties": {"kind": "station", "station": sid, "platform": "satellite",
                                                "revisit_s": revisit_s}})
        stations = {r[0] for r in self.geo.receivers} | set(self.heard)
        for sid in sorted(stations):
            if not visible(sid):
                continue
            cells = set(self.heard.get(sid, {}))
            cells |= {c for c in self.radar if sid in self._in_range(c)}
            for cell in sorted(cells):
                in_range = sid in self._in_range(cell)
                p, h, m = self.reception(sid, cell, in_range)
                if h == 0 and m == 0:
                    continue
                features.append(self._cell_feature(sid, cell, p, h, m, in_range))
        return {"type": "FeatureCollection", "features": features}

    def _cell_feature(self, sid: str, cell: Cell, p: float, h: int, m: int, in_range: bool) -> dict[str, Any]:
        s, w = cell[0] * self.cell_deg, cell[1] * self.cell_deg
        n, e = s + self.cell_deg, w + self.cell_deg
        ring = [[round(x, 6), round(y, 6)] for x, y in ((w, s), (e, s), (e, n), (w, n), (w, s))]
        return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"kind": "cell", "station": sid, "heard": h, "missed": m,
                               "reception": round(p, 3), "covered": p >= 0.5, "in_registered_range": in_range}}
