"""Builders for rules tests: synthetic geography, AIS observations and track lines."""

from __future__ import annotations

import math

from shapely.geometry import MultiPolygon, box

from fusion.geodesy import KN_TO_MS, M_PER_DEG_LAT, from_local
from fusion.identity import flag_of
from fusion.model import Alert, Observation, TrackLine
from fusion.rules import Geography, RuleEngine, RulesConfig

T0 = 1_795_000_000.0

# A square island ~22 km wide, a second one at 24°N, a watch zone, an anchorage, a port.
ISLAND = box(114.0, 10.0, 114.2, 10.2)
NORTH_ISLAND = box(118.0, 24.0, 118.2, 24.2)
ZONE = box(115.0, 10.0, 115.2, 10.2)
ZONE_NAME = "Test Shoal 12nm"
ANCHORAGE = box(116.0, 10.0, 116.1, 10.1)
PORT = ("Port Alpha", 10.5, 116.5)
EEZ_PH = box(116.0, 5.0, 120.0, 15.0)
EEZ_VN = box(105.0, 5.0, 112.0, 15.0)
RECEIVER = ("AIS-A", 10.0, 114.5, 150_000.0)   # covers roughly 8.65–11.35N, 113.1–115.9E


def geography(**kw: object) -> Geography:
    base = dict(land=MultiPolygon([ISLAND, NORTH_ISLAND]),
                zones=[(ZONE_NAME, "disputed_feature_12nm", ZONE), ("Alpha Anchorage", "anchorage", ANCHORAGE),
                       ("PH EEZ", "eez", EEZ_PH)],
                ports=[PORT], eez=[("PH", EEZ_PH), ("VN", EEZ_VN)], receivers=[RECEIVER],
                releasability={"AIS-A": ["ASEAN"], "RADAR-A": ["ASEAN"]})
    base.update(kw)
    return Geography(**base)  # type: ignore[arg-type]


def engine(**cfg: object) -> RuleEngine:
    return RuleEngine(geography(), RulesConfig(**cfg))  # type: ignore[arg-type]


def move(lat: float, lon: float, sog_kn: float, cog_deg: float, dt_s: float) -> tuple[float, float]:
    d = sog_kn * KN_TO_MS * dt_s
    return from_local(lat, lon, d * math.sin(math.radians(cog_deg)), d * math.cos(math.radians(cog_deg)))


def east_of(lat: float, lon: float, metres: float) -> float:
    """Longitude ``metres`` east of (lat, lon) (negative: west)."""
    return lon + metres / (M_PER_DEG_LAT * math.cos(math.radians(lat)))


def ais(mmsi: int, t: float, lat: float, lon: float, sog: float = 10.0, cog: float = 90.0,
        sensor: str = "AIS-A", **kw: object) -> Observation:
    return Observation("ais_position", sensor, t, lat, lon, sigma_m=10.0, mmsi=mmsi, sog_kn=sog,
                       cog_deg=cog, **kw)  # type: ignore[arg-type]


def line(tid: str, t: float, lat: float, lon: float, sog: float = 10.0, cog: float = 90.0,
         mmsi: int | None = None, sources: tuple[str, ...] = ("ais",), status: str = "confirmed",
         ship_type: int | None = None, name: str | None = None) -> TrackLine:
    sensors = tuple({"ais": "AIS-A", "radar": "RADAR-A"}[s] for s in sources)  # the builders' two sensors
    return TrackLine(tid, t, lat, lon, sog, cog, 30.0, mmsi, name, flag_of(mmsi), ship_type,
                     tuple(sources), status, sensors)  # type: ignore[arg-type]


def voyage(tid: str, mmsi: int | None, lat: float, lon: float, sog: float, cog: float, t0: float,
           t1: float, every_s: float, sources: tuple[str, ...] = ("ais",), with_obs: bool = True,
           ship_type: int | None = None) -> tuple[list[Observation], list[TrackLine]]:
    """A vessel on a steady course from t0 to t1 (inclusive): its AIS reports and track lines."""
    obs, lines = [], []
    n = int(round((t1 - t0) / every_s))
    for k in range(n + 1):
        t = t0 + k * every_s
        la, lo = move(lat, lon, sog, cog, t - t0)
        if with_obs and mmsi is not None and "ais" in sources:
            obs.append(ais(mmsi, t, la, lo, sog, cog))
        lines.append(line(tid, t, la, lo, sog, cog, mmsi, sources, ship_type=ship_type))
    return obs, lines


def run(eng: RuleEngine, obs: list[Observation], lines: list[TrackLine], until_s: float | None = None,
        chunk_s: float = 600.0) -> list[Alert]:
    """Feed everything in time order, in chunks of ``chunk_s`` feed seconds, then advance."""
    obs = sorted(obs, key=lambda o: o.time_s)
    lines = sorted(lines, key=lambda ln: ln.time_s)
    times = [o.time_s for o in obs] + [ln.time_s for ln in lines]
    out: list[Alert] = []
    if times:
        t, end = min(times), max(times)
        i = j = 0
        while t <= end:
            t += chunk_s
            i2 = i
            while i2 < len(obs) and obs[i2].time_s < t:
                i2 += 1
            j2 = j
            while j2 < len(lines) and lines[j2].time_s < t:
                j2 += 1
            out += eng.process(obs[i:i2], lines[j:j2])
            i, j = i2, j2
    if until_s is not None:
        out += eng.advance(until_s)
    return out


def of_type(alerts: list[Alert], type_: str) -> list[Alert]:
    return [a for a in alerts if a.type == type_]


def latest(alerts: list[Alert]) -> dict[str, Alert]:
    """The last emitted version of each alert id."""
    out: dict[str, Alert] = {}
    for a in alerts:
        out[a.alert_id] = a
    return out


def first_open(alerts: list[Alert], type_: str) -> Alert:
    hits = [a for a in alerts if a.type == type_ and a.state == "open"]
    assert hits, f"no open {type_} alert among {[(a.type, a.state) for a in alerts]}"
    return hits[0]
