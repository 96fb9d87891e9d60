"""EUROCONTROL ASTERIX target reports from coastal and VTS radars: CAT048 and CAT010.

Decoded by ``libasterix`` (MIT, the specification-generated decoder of the asterix-specs
project); this module only maps the items to the radar observation contract:

* CAT048 (monoradar target reports): I048/010 SAC/SIC, I048/140 time of day, I048/040
  measured position (ρ in NM, θ) or I048/042 cartesian (x, y in NM), I048/161 track number,
  I048/200 ground speed (NM/s) and heading;
* CAT010 (surface movement, used by VTS radars): I010/010, I010/140, I010/041 WGS 84
  position, else I010/040 polar (ρ in m) or I010/042 cartesian (m), I010/161 track number,
  I010/200 ground speed and track angle.

A report with a track number is a ``radar_track`` (``local_id`` = the number), else a
``radar_plot``.  Polar and cartesian positions are taken from the registered sensor's
position on the WGS 84 ellipsoid.  ASTERIX carries only a time of day: the date is the one
that puts it nearest the time of receipt (a capture's packet time for recordings).
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from asterix.base import Bits, RawDatablock
from fusion.geodesy import destination, distance_m
from fusion.model import Observation, Sensor
from ingest.errors import IngestError
from ingest.radar import polar_sigma_m
from ingest.sensors import MOVING

NM_M = 1852.0
# monoradar service messages (CAT034, and CAT002 from older radars) interleave the target
# reports of every radar's stream: taken as read, neither observations nor rejects
SERVICE_CATEGORIES = frozenset({2, 34})
DAY_S = 86_400.0


@cache
def _uaps() -> dict[int, Any]:
    """The category definitions, imported on first use: ``asterix.generated`` (every category and
    edition) takes about 2 s to import, which every ``mfc`` command would otherwise pay."""
    import asterix.generated as gen
    return {48: gen.Cat_048_1_32, 10: gen.Cat_010_1_1}


def decode_asterix(data: bytes, sensor: Sensor, receipt_s: float) -> tuple[list[Observation], list[str]]:
    """Every target report of the datablocks in ``data``: (observations, reasons of the reports
    or blocks that were refused; service messages are neither).  Never raises."""
    observations: list[Observation] = []
    problems: list[str] = []
    try:
        blocks = _blocks(data)
    except IngestError as exc:
        return [], [exc.reason]
    for cat, raw in blocks:
        if cat in SERVICE_CATEGORIES:
            continue  # north markers and sector crossings: part of every radar's stream, no targets
        uap = _uaps().get(cat)
        if uap is None:
            problems.append(f"ASTERIX category {cat} is not a target report category this centre reads "
                            f"(CAT010, CAT048)")
            continue
        records = uap.cv_uap.parse(raw)
        if isinstance(records, ValueError):
            problems.append(f"malformed CAT{cat:03d} records: {records}")
            continue
        for no, record in enumerate(records, start=1):
            try:
                observations.append(_observation(cat, record, sensor, receipt_s))
            except IngestError as exc:
                problems.append(f"CAT{cat:03d} record {no}: {exc.reason}")
    return observations, problems


def _blocks(data: bytes) -> list[tuple[int, Any]]:
    parsed = RawDatablock.parse(Bits.from_bytes(data))
    if isinstance(parsed, ValueError):
        raise IngestError(f"not ASTERIX datablocks ({len(data)} bytes): {parsed}")
    return [(block.get_category(), block.get_raw_records()) for block in parsed]


def _observation(cat: int, rec: Any, sensor: Sensor, receipt_s: float) -> Observation:
    tod = _item(rec, "140")
    if tod is None:
        raise IngestError("no time of day (I140)")
    time_s = resolve_time_of_day(tod.variation.content.as_quantity("s"), receipt_s)
    lat, lon, range_m = _position(cat, rec, sensor)
    trn = _item(rec, "161")
    sog_kn, cog_deg = _velocity(rec)
    sid = _item(rec, "010")
    station = None if sid is None else f"{_uint(sid, 'SAC')}/{_uint(sid, 'SIC')}"
    obs = Observation("radar_track" if trn is not None else "radar_plot", sensor.id, time_s, lat, lon,
                      sigma_m=polar_sigma_m(sensor, range_m), sog_kn=sog_kn, cog_deg=cog_deg,
                      local_id=None if trn is None else str(_uint(trn, "TRN")), station=station,
                      receive_time_s=receipt_s)
    return obs


def resolve_time_of_day(tod_s: float, receipt_s: float) -> float:
    """The epoch time with this UTC time of day nearest ``receipt_s``."""
    if not 0.0 <= tod_s < DAY_S + 1.0:
        raise IngestError(f"time of day {tod_s} s is outside one day")
    midnight = math.floor(receipt_s / DAY_S) * DAY_S
    t = midnight + tod_s
    if t - receipt_s > DAY_S / 2:
        t -= DAY_S
    elif receipt_s - t > DAY_S / 2:
        t += DAY_S
    return t


def _position(cat: int, rec: Any, sensor: Sensor) -> tuple[float, float, float]:
    """(lat, lon, range from the sensor in m): WGS 84, else polar, else cartesian."""
    wgs = _item(rec, "041") if cat == 10 else None
    if wgs is not None:
        lat, lon = _q(wgs, "LAT", "°"), _q(wgs, "LON", "°")
        # (a moving radar's range to the plot is not known: its accuracy is the plot's sigma)
        return lat, lon, 0.0 if sensor.platform in MOVING else distance_m(sensor.lat, sensor.lon, lat, lon)
    polar, cart = _item(rec, "040"), _item(rec, "042")
    unit = "NM" if cat == 48 else "m"
    scale = NM_M if cat == 48 else 1.0
    if polar is not None:
        range_m, bearing = _q(polar, "RHO", unit) * scale, _q(polar, "THETA", "°")
    elif cart is not None:
        x, y = _q(cart, "X", unit) * scale, _q(cart, "Y", unit) * scale
        range_m, bearing = math.hypot(x, y), math.degrees(math.atan2(x, y)) % 360.0
    else:
        raise IngestError("no position (I040, I042" + (" or I041)" if cat == 10 else ")"))
    if sensor.platform in MOVING:
        raise IngestError(f"a polar or cartesian position from the moving ({sensor.platform}) radar "
                          f"'{sensor.id}' cannot be placed: ASTERIX does not carry the radar's position; "
                          "send WGS 84 positions (CAT010 I041) or JSON plots with lat/lon")
    lat, lon = destination(sensor.lat, sensor.lon, bearing, range_m)
    return lat, lon, range_m


def _velocity(rec: Any) -> tuple[float | None, float | None]:
    vel = _item(rec, "200")
    if vel is None:
        return None, None
    speed, angle = _first_q(vel, ("GSP", "GS"), "NM/s"), _first_q(vel, ("HDG", "TA"), "°")
    return (None if speed is None else speed * 3600.0), (None if angle is None else angle % 360.0)


def _item(rec: Any, name: str) -> Any:
    try:
        return rec.get_item(name)
    except (KeyError, ValueError, AttributeError):
        return None


def _first_q(item: Any, names: tuple[str, ...], unit: str) -> float | None:
    """The first of the subitem ``names`` the item has (editions name them differently)."""
    for name in names:
        try:
            return _q(item, name, unit)
        except (KeyError, ValueError, AttributeError, TypeError):
            continue
    return None


def _q(item: Any, sub: str, unit: str) -> float:
    return float(item.variation.get_item(sub).variation.content.as_quantity(unit))


def _uint(item: Any, sub: str) -> int:
    return int(item.variation.get_item(sub).as_uint())
