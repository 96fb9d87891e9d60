"""``mfc simulate``: a scenario file → the feeds a real deployment would receive, with the truth.

A scenario is a small TOML file (the built-in ones are in ``services/data/scenarios``; copy one and
edit it).  Its keys:

    name, description            what ``mfc simulate --list`` shows
    seed = 7                     every draw comes from it: the same seed gives the same bytes
    start = "2026-11-24T00:00:00Z"
    hours = 4                    feed time written
    vessels = 60                 background traffic on the sea lanes, fishing grounds, anchorages
    island_sensors = false       true: besides the coastal AIS receivers at the ports, receivers on
                                 Pag-asa, Namyit and Lawak, a radar on Pag-asa and long-range radars
                                 on Woody Island and Swallow Reef
    clean_day = false            true: also the clean day's traffic (outer anchorages, rivers,
                                 fishing near features, ships beyond AIS cover)
    events = ["dark_vessel"]     scripted event groups (``GROUPS``): each brings cases that must
                                 raise its alert and near-misses that must not, labelled
    near = [lat, lon]            optional: build the events at open water within
    near_radius_km = 60          this distance of a place (outside its watch zones)
    receivers = [{id = "X", lat = 1.2, lon = 103.8, range_m = 60000}]   more AIS receivers
    duplicates = false           true: a report is heard by every receiver in range (93 % each), not
                                 only the nearest, as merged real feeds carry it
    truth_every_s = 60           truth sampling step
    ais_schedule = "network"     "network": one position per vessel every 10–180 s (by kind of vessel)
                                 and static data hourly, as a shore network thinning its feed delivers;
                                 "itu": every transmission as ITU-R M.1371-5 schedules it (class A
                                 180 s at anchor or moored, 10 / 6 / 2 s under way by speed; class B
                                 30 s, 180 s at ≤ 2 kn; static data every 6 minutes)
    class_b = 0                  small craft with class B "CS" sets (fishing boats, pleasure craft)
                                 near the coasts: messages 18 and 24 (parts A and B)
    patrols = 0                  law-enforcement craft (ship type 55) patrolling 10–25 km legs at
                                 12–20 kn near the coastal receivers, stopping now and then
    patrol_radars = false        true: each patrol craft's navigation radar reports (platform
                                 "ship", 24 km, 2.5 s scans, polar plots carrying the ship's position)
    aircraft = 0                 maritime patrol aircraft flights (platform "aircraft": a 120 km
                                 search radar, 10 s scans, 150 m, lat/lon plots) from the ports
    radar_detection = "fixed"    "fixed": every vessel in range detected 90 % of scans; "range":
                                 by range and size (Swerling I, Pfa 1e-6, Pd 0.5 for a 100 m²
                                 target at the radar's range; ships 10,000 m², fishing 30, small
                                 craft 5)
    satellite = {revisit_s = 5400, pass_s = 600, latency_s = 300, detection = 0.5}
                                 optional satellite AIS ("SAT-AIS-1", platform satellite): a pass of
                                 pass_s every revisit_s hears each transmission anywhere with
                                 probability `detection`; a pass's reports are delivered together
                                 latency_s × U(0.2, 1.8) after it ends (store and forward), so they
                                 are written later in ais.nmea than the terrestrial lines of their
                                 time, stamped with the time the satellite heard them

Written into the output directory: ``ais.nmea`` (NMEA 0183 with NMEA 4.10 tag blocks naming the
receiving station and the time in milliseconds; messages 1 and 5, 18 and 24 for class B), ``radar.jsonl`` (geographic
plots, contract format), ``sensors.json``, ``zones.geojson`` (the scenario's extra zones: none yet),
``truth.jsonl`` (one line per vessel per step: ``time``, ``vessel``, ``lat``, ``lon``, ``sog_kn``,
``cog_deg``, ``mmsi``, ``ais`` = transmitting, ``ship_type``, ``covered`` = within some radar's range,
or transmitting within some AIS receiver's range), ``labels.jsonl`` (one line per
scripted case: ``type``, ``positive``, ``label``, ``from``, ``to``, ``lat``, ``lon``,
``radius_m``, ``mmsi``) and ``scenario.json`` (the settings used and counts).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import heapq
import math
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path as FsPath

import numpy as np

from fusion.geodesy import destination, distance_m, distance_m_array, inverse, m_per_deg_array
from fusion.model import Observation, Sensor
from ingest.nmea import nmea_checksum

from services.scenario.attacks import stolen_key
from services.scenario.events import GROUPS, Case, inject
from services.scenario.world import (AIS_DTYPE, STATIC, AisReports, MmsiBook, MovingRadar, RadarPlots, Vessel, World, ais_reports,
                    ais_sensor_id, beyond_cover_traffic, class_b_craft, clean_day_sensors, feature_fishing,
                    itu_report_times, moving_radar_plots, normal_traffic, outer_anchorage_traffic, patrol_aircraft,
                    patrol_craft, patrol_radars, radar_plots, river_traffic)

H = 3600.0
# attacks on the centre's own feeds (written into the AIS feed; labelled sensor_integrity)
ATTACKS = {"receiver_clock": "one receiver's clock runs 2 min behind from 30 min in; another's 5 s ahead "
                             "(a near-miss: network jitter)",
           "receiver_drift": "one receiver's clock drifts from 30 min in, falling 1 s further behind every minute; "
                             "another's drifts 3 s an hour (within tolerance: a near-miss)",
           "receiver_replay": "one receiver re-sends, from 1 h in and for 30 min, what it heard an hour before",
           "receiver_forgery": "one receiver injects a forged vessel from 30 min in, for an hour: a copy of a "
                               "real ship's track 10 min behind it under another MMSI, heard by no other station"}
# attacks that bring a sensor and traffic of their own (``attacks.py``; labelled sensor_integrity)
SENSOR_ATTACKS = {"stolen_key": "an integrator's key is stolen: from 30 min in, for 90 min, two forged vessels are "
                                "pushed through its only receiver, far out at sea where no other station hears; "
                                "a satellite passing over can tell (the scenario needs `satellite`)"}
# attacks on a radar (written into the radar feed; labelled sensor_integrity)
RADAR_ATTACKS = {"radar_bias": "the busiest radar's antenna turns 1.0° off north and its range reads 250 m long "
                               "from 30 min in (a registration fault)"}
KEYS = {"name", "description", "seed", "start", "hours", "vessels", "island_sensors", "clean_day", "duplicates",
        "receivers", "events", "near",
        "near_radius_km", "truth_every_s", "ais_schedule", "class_b", "patrols", "radar_detection", "satellite",
        "patrol_radars", "aircraft"}
CHOICES = {"ais_schedule": ("network", "itu"), "radar_detection": ("fixed", "range")}
SATELLITE = {"revisit_s": 5400.0, "pass_s": 600.0, "latency_s": 300.0, "detection": 0.5}


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message says why."""


@dataclass
class Scenario:
    name: str
    description: str = ""
    seed: int = 7
    start: str = "2026-11-24T00:00:00Z"
    hours: float = 4.0
    vessels: int = 60
    island_sensors: bool = False
    clean_day: bool = False
    duplicates: bool = False
    receivers: list[dict] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    near: list[float] | None = None
    near_radius_km: float = 60.0
    truth_every_s: float = 60.0
    ais_schedule: str = "network"
    class_b: int = 0
    patrols: int = 0
    radar_detection: str = "fixed"
    satellite: dict | None = None
    patrol_radars: bool = False
    aircraft: int = 0

    @property
    def start_s(self) -> float:
        return parse_time(self.start)


def parse_time(text: str) -> float:
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"start {text!r} is not an ISO 8601 time ({exc})") from None
    if t.tzinfo is None:
        raise ScenarioError(f"start {text!r} has no time zone (write it in UTC, ending in Z)")
    return t.timestamp()


def iso(t: float) -> str:
    """UTC ISO 8601 with milliseconds."""
    ms = int(round(t * 1000.0))
    return _iso_second(ms // 1000) + f".{ms % 1000:03d}Z"


@lru_cache(maxsize=1 << 14)
def _iso_second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def load(source: str | FsPath) -> Scenario:
    """A built-in scenario by name, or a TOML file by path."""
    text, where = None, str(source)
    p = FsPath(source)
    if p.suffix == ".toml" or p.exists():
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read {p}: {exc.strerror}") from None
    else:
        builtin = _builtin_dir() / f"{source}.toml"
        if not builtin.is_file():
            raise ScenarioError(f"no scenario named {source!r} (built-in: {', '.join(builtin_names())}; "
                                "or give a .toml file)")
        text, where = builtin.read_text(encoding="utf-8"), f"built-in {source}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from None
    return from_dict(raw, where)


def from_dict(raw: dict, where: str = "scenario") -> Scenario:
    unknown = set(raw) - KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ScenarioError(f"{where}: `name` (a string) is required")
    s = Scenario(name=raw["name"])
    for key, kind in (("description", str), ("seed", int), ("start", str), ("hours", (int, float)),
                      ("vessels", int), ("island_sensors", bool), ("clean_day", bool), ("duplicates", bool), ("near_radius_km", (int, float)),
                      ("truth_every_s", (int, float)), ("ais_schedule", str), ("class_b", int), ("patrols", int),
                      ("radar_detection", str), ("patrol_radars", bool), ("aircraft", int)):
        if key in raw:
            v = raw[key]
            if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
                raise ScenarioError(f"{where}: `{key}` must be {_kind_name(kind)}, not {v!r}")
            setattr(s, key, v)
    if "events" in raw:
        ev = raw["events"]
        if not isinstance(ev, list) or not all(isinstance(e, str) for e in ev):
            raise ScenarioError(f"{where}: `events` must be a list of event names")
        bad = [e for e in ev if e not in GROUPS and e not in ATTACKS and e not in RADAR_ATTACKS
               and e not in SENSOR_ATTACKS]
        if bad:
            raise ScenarioError(f"{where}: unknown event(s) {', '.join(bad)}; "
                                f"known: {', '.join([*GROUPS, *ATTACKS, *RADAR_ATTACKS, *SENSOR_ATTACKS])}")
        s.events = list(dict.fromkeys(ev))
    if "receivers" in raw:
        rs = raw["receivers"]
        if not isinstance(rs, list):
            raise ScenarioError(f"{where}: `receivers` must be a list of {{id, lat, lon, range_m}} tables")
        for r in rs:
            ok = isinstance(r, dict) and set(r) == {"id", "lat", "lon", "range_m"} and isinstance(r["id"], str) \
                and all(isinstance(r[k], (int, float)) and not isinstance(r[k], bool) for k in ("lat", "lon", "range_m"))
            if not ok or not (-90 <= r["lat"] <= 90 and -180 <= r["lon"] <= 180 and 0 < r["range_m"] <= 1_000_000):
                raise ScenarioError(f"{where}: a receiver must be {{id, lat, lon, range_m}} with lat/lon in degrees "
                                    f"and 0 < range_m ≤ 1000000, not {r!r}")
        s.receivers = [dict(r) for r in rs]
    for key, allowed in CHOICES.items():
        if getattr(s, key) not in allowed:
            raise ScenarioError(f"{where}: `{key}` must be one of {', '.join(map(repr, allowed))}, "
                                f"not {getattr(s, key)!r}")
    if raw.get("satellite") is not None:
        sat = raw["satellite"]
        if not isinstance(sat, dict) or set(sat) - set(SATELLITE) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in sat.values()):
            raise ScenarioError(f"{where}: `satellite` must be a table with some of {', '.join(SATELLITE)} "
                                f"(numbers), not {sat!r}")
        sat = {**SATELLITE, **{k: float(v) for k, v in sat.items()}}
        if not (600 <= sat["revisit_s"] <= 86_400 and 60 <= sat["pass_s"] <= sat["revisit_s"]
                and 0 <= sat["latency_s"] <= 6 * 3600 and 0 < sat["detection"] <= 1):
            raise ScenarioError(f"{where}: `satellite` needs 600 ≤ revisit_s ≤ 86400, 60 ≤ pass_s ≤ revisit_s, "
                                f"0 ≤ latency_s ≤ 21600 and 0 < detection ≤ 1, not {sat}")
        s.satellite = sat
    if "near" in raw:
        nr = raw["near"]
        if not (isinstance(nr, list) and len(nr) == 2 and all(isinstance(x, (int, float)) for x in nr)
                and -90 <= nr[0] <= 90 and -180 <= nr[1] <= 180):
            raise ScenarioError(f"{where}: `near` must be [lat, lon] in degrees, not {nr!r}")
        s.near = [float(nr[0]), float(nr[1])]
    if not 0 < s.hours <= 72:
        raise ScenarioError(f"{where}: `hours` must be in (0, 72], not {s.hours}")
    if not 0 <= s.vessels <= 20_000:
        raise ScenarioError(f"{where}: `vessels` must be in [0, 20000], not {s.vessels}")
    for key, most in (("class_b", 5_000), ("patrols", 5_000), ("aircraft", 50)):
        if not 0 <= getattr(s, key) <= most:
            raise ScenarioError(f"{where}: `{key}` must be in [0, {most}], not {getattr(s, key)}")
    if s.patrol_radars and not s.patrols:
        raise ScenarioError(f"{where}: `patrol_radars` needs patrol craft (`patrols` > 0)")
    if "stolen_key" in s.events and not s.satellite:
        raise ScenarioError(f"{where}: `stolen_key` needs a `satellite` (where no station overlaps the "
                            "integrator's receiver, only a satellite can contradict it)")
    if not 1 <= s.truth_every_s <= 3600:
        raise ScenarioError(f"{where}: `truth_every_s` must be in [1, 3600], not {s.truth_every_s}")
    if not 5 <= s.near_radius_km <= 500:
        raise ScenarioError(f"{where}: `near_radius_km` must be in [5, 500], not {s.near_radius_km}")
    s.start_s  # noqa: B018  (checked here, so a bad time fails before any work)
    return s


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({int: "an integer", float: "a number", str: "a string", bool: "true or false"}[k]
                       for k in kinds)


def _builtin_dir():
    return resources.files("services") / "data" / "scenarios"


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def builtin_list() -> list[Scenario]:
    return [load(n) for n in builtin_names()]


# ------------------------------------------------------------------ generation
@dataclass
class Generated:
    """What ``write`` writes.  ``ais`` and ``radar`` hold the reports and plots in time order as
    compact arrays (``.rows``); iterating or indexing them gives :class:`Observation` objects, made
    on demand (``observations``: both, the AIS reports first)."""
    scenario: Scenario
    world: World
    vessels: list[Vessel]
    cases: list[Case]
    ais: AisReports
    radar: RadarPlots
    t_start: float
    t_end: float
    receptions: list = field(default_factory=list)
    passes: list[tuple[float, float]] = field(default_factory=list)   # satellite passes (from, to)
    moving: list = field(default_factory=list)                          # ship and airborne radars
    moving_plots: list[tuple[float, dict]] = field(default_factory=list)  # their lines (time, line)

    @property
    def observations(self) -> "_Observations":
        return _Observations(self.ais, self.radar)


class _Observations:
    """The AIS reports (in time order), then the radar plots (in time order), as Observations
    made on demand."""

    def __init__(self, *parts) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __iter__(self):
        for p in self.parts:
            yield from p

    def __getitem__(self, i: int) -> Observation:
        if i < 0:
            i += len(self)
        for p in self.parts:
            if 0 <= i < len(p):
                return p[i]
            i -= len(p)
        raise IndexError(i)


def generate(s: Scenario, *, progress=None) -> Generated:
    """The vessels, sensors, cases and observations of a scenario (deterministic in its seed)."""
    t_start = s.start_s
    t_end = t_start + s.hours * H
    rng = np.random.default_rng(s.seed)
    book = MmsiBook(rng)
    vs: list[Vessel] = []
    cases: list[Case] = []
    radars: list[Sensor] = []
    _tick(progress, "events")
    extra = (clean_day_sensors() if s.island_sensors else []) + [
        Sensor(r["id"], "ais", float(r["lat"]), float(r["lon"]), range_m=float(r["range_m"])) for r in s.receivers]
    groups = [e for e in s.events if e in GROUPS]
    if groups:
        probe = World(rng, extra)
        # the groups keep their relative times; the first starts half an hour into the scenario
        t0 = t_start - (min(GROUPS[e] for e in groups) - 0.5) * H
        sites = _sites_near(probe, s) if s.near else None
        vs, cases, radars = inject(probe, t0, book, only=set(groups), sites=sites)
        made = {c.type for c in cases if c.positive}
        missing = [e for e in groups if {"radar_contradiction": "identity_clash"}.get(e, e) not in made]
        if missing:
            raise ScenarioError(f"{s.name}: no open-water site found for {', '.join(missing)}"
                                + (" near the given place (try a larger near_radius_km)" if s.near else ""))
    _tick(progress, "traffic")
    taken = {r.id for r in radars}
    world = World(np.random.default_rng(s.seed + 1), radars + [x for x in extra if x.id not in taken])
    vs += normal_traffic(world, s.vessels, t_start, t_end, book,
                         progress=None if progress is None else
                         lambda k, n: progress(f"traffic: {k:,} / {n:,} vessels"))
    if s.clean_day:
        scale = max(s.vessels / 400.0, 0.25)
        vs += outer_anchorage_traffic(world, t_start, t_end, book, per_site=max(2, round(6 * scale)))
        vs += river_traffic(world, t_start, t_end, book, per_river=max(2, round(8 * scale)))
        vs += beyond_cover_traffic(world, t_start, t_end, book, per_radar=max(2, round(8 * scale)))
        vs += feature_fishing(world, t_start, t_end, book, per_feature=max(1, round(4 * scale)))
    if s.class_b:
        vs += class_b_craft(world, s.class_b, t_start, t_end, book)
    moving: list[MovingRadar] = []
    if s.patrols:
        patrols = patrol_craft(world, s.patrols, t_start, t_end, book)
        vs += patrols
        if s.patrol_radars:
            moving += patrol_radars(patrols)
    if s.aircraft:
        moving += patrol_aircraft(world, s.aircraft, t_start, t_end)
    forged: list[Vessel] = []   # AIS reports of vessels that do not exist: no truth, no radar, no satellite
    if "stolen_key" in s.events:
        local, forged, more = stolen_key(world, t_start, t_end, book, np.random.default_rng(s.seed + 5), s.name)
        vs += local
        cases += more
    # reports and plots as compact rows (``AIS_DTYPE``, ``RADAR_DTYPE``), not Observations: a
    # 24-hour, 5,000-vessel day has ten million reports and two and a half million plots
    _tick(progress, "AIS reports")
    parts, every, senders = [], max(1, len(vs) // 50), vs + forged
    for i, v in enumerate(senders):
        parts.append(ais_reports(world, v, t_start, t_end, rng, s.ais_schedule, i))
        if progress is not None and (i + 1) % every == 0:
            progress(f"AIS reports: {i + 1:,} / {len(senders):,} vessels")
    rows = np.concatenate(parts) if parts else np.zeros(0, AIS_DTYPE)
    del parts
    rows = rows[(rows["t"] >= t_start) & (rows["t"] < t_end)]
    # in time order; at one time positions before static data (then as made: the sort is stable)
    rows = rows[np.lexsort((rows["kind"] == STATIC, rows["t"]))]
    ais = AisReports(rows, senders, ais_sensor_id(world))
    del rows
    _tick(progress, "radar plots")
    plots = radar_plots(world, vs, t_start, t_end, rng, s.radar_detection,
                        progress=None if progress is None else
                        lambda k, n: progress(f"radar plots: {k} / {n} radars"))
    plots = plots[(plots["t"] >= t_start) & (plots["t"] < t_end)]
    if "radar_bias" in s.events:
        _radar_bias(s, world, plots, cases, t_start)
    # in time order, then by radar id (as text)
    by_id = np.argsort(np.argsort(np.array([r.id for r in world.radars], dtype=object))) \
        if world.radars else np.zeros(0, int)
    plots = plots[np.lexsort((by_id[plots["radar"]], plots["t"]))] if len(plots) else plots
    radar = RadarPlots(plots, list(world.radars))
    del plots
    _tick(progress, "receptions")
    g = Generated(s, world, vs, cases, ais, radar, t_start, t_end)
    if moving:
        _tick(progress, "ship and airborne radars")
        mrng = np.random.default_rng(s.seed + 4)
        g.moving = moving
        g.moving_plots = list(heapq.merge(*(moving_radar_plots(m, vs, t_start, t_end, mrng, s.radar_detection)
                                            for m in moving), key=lambda x: x[0]))
        for m in moving:
            world.sensors[m.sensor.id] = m.sensor
    g.receptions = _receptions(g, np.random.default_rng(s.seed + 2))
    if s.satellite:
        _tick(progress, "satellite AIS")
        g.receptions = _with_satellite(g, np.random.default_rng(s.seed + 3))
    return g


class _single_receptions:
    """Each report heard by its nearest receiver only, produced as it is written (a 24-hour,
    5,000-vessel scenario has ten million of them)."""

    def __init__(self, observations: AisReports, primary: np.ndarray, rx_ids: list[str]) -> None:
        self.obs, self.primary, self.rx_ids = observations, primary.astype(np.int32), rx_ids

    def __iter__(self):
        last: dict[int, str] = {}
        k = 0
        rx_ids, primary = self.rx_ids, self.primary
        for o in self.obs:
            if o.kind == "ais_position":
                st = rx_ids[primary[k]]
                k += 1
                last[o.mmsi] = st
                yield o.time_s, o, st, o.time_s
            elif o.kind == "ais_static":
                yield o.time_s, o, last.get(o.mmsi, rx_ids[0]), o.time_s


def _receptions(g: Generated, rng: np.random.Generator) -> list[tuple[float, Observation, str, float]]:
    """Every AIS report as the feed carries it: (true time, report, station, time stamped).  Each
    report is heard by the nearest receiver whose range holds it (else the nearest); with
    ``duplicates`` (or an attack on a receiver) also by every other receiver in range, each with
    93 % probability, as real merged feeds carry it.  Attacks change the stamps or add lines, and
    add their labels to ``g.cases``."""
    world, s = g.world, g.scenario
    rx_ids = world.rx_ids
    if not rx_ids:
        return [(o.time_s, o, "AIS", o.time_s) for o in g.ais]
    is_pos = g.ais.rows["kind"] != STATIC
    lat, lon = g.ais.rows["lat"][is_pos], g.ais.rows["lon"][is_pos]
    primary = world.nearest_receiver(lat, lon) if len(lat) else np.zeros(0, int)
    attacks = [e for e in s.events if e in ATTACKS]
    if not (s.duplicates or attacks):   # made as they are written (g.ais holds compact rows)
        return _single_receptions(g.ais, primary, rx_ids)
    # duplicates and attacks: the reports as Observations
    obs = list(g.ais)
    pos = [o for o in obs if o.kind == "ais_position"]
    heard: list[list[int]] = [[int(k)] for k in primary]
    if (s.duplicates or attacks) and pos:
        for i, others in enumerate(world.receivers_in_range(lat, lon)):
            for k in others:
                if k != primary[i] and rng.random() < 0.93:
                    heard[i].append(int(k))
    out: list[tuple[float, Observation, str, float]] = []
    last: dict[int, str] = {}
    it = iter(zip(pos, heard))
    for o in obs:
        if o.kind == "ais_position":
            _, ks = next(it)
            for k in ks:
                out.append((o.time_s, o, rx_ids[k], o.time_s))
            last[o.mmsi] = rx_ids[ks[0]]
        elif o.kind == "ais_static":
            out.append((o.time_s, o, last.get(o.mmsi, rx_ids[0]), o.time_s))
    if not attacks:
        return out
    # the target: a receiver sharing many reports with at least two others (so that its peers,
    # agreeing among themselves, single it out); ranked by its second-best peer's shared reports
    pair: dict[str, dict[str, int]] = {}
    for ks in heard:
        for k in ks:
            for j in ks:
                if j != k:
                    row = pair.setdefault(rx_ids[k], {})
                    row[rx_ids[j]] = row.get(rx_ids[j], 0) + 1

    def rank(r: str) -> tuple:
        counts = sorted(pair[r].values(), reverse=True) + [0, 0]
        return (-counts[1], -counts[0], r)
    ranked = sorted(pair, key=rank)
    if not ranked:
        raise ScenarioError(f"{s.name}: no two receivers hear the same vessels; an attack on a receiver needs "
                            "overlapping coverage (more vessels or hours)")
    target = ranked[0]
    rx = world.sensors[target]
    if "receiver_clock" in attacks:
        a = g.t_start + 0.5 * H
        out = [(t, o, st, stamp - 120.0 if st == target and t >= a else stamp) for t, o, st, stamp in out]
        g.cases.append(Case("sensor_integrity", True, f"{target}'s clock 120 s behind", a, a + 45 * 60,
                            rx.lat, rx.lon, 20_000.0))
        peers = sorted(pair[target], key=lambda p: (-pair[target][p], p))
        if peers:   # network jitter on the target's closest peer: not a fault
            other = world.sensors[peers[0]]
            out = [(t, o, st, stamp + 5.0 if st == other.id and t >= a else stamp) for t, o, st, stamp in out]
            g.cases.append(Case("sensor_integrity", False, f"{other.id}'s clock 5 s ahead", g.t_start, g.t_end,
                                other.lat, other.lon, 20_000.0))
    if "receiver_drift" in attacks:
        a = g.t_start + 0.5 * H
        rate = 1.0 / 60.0   # s of clock error per s: a free-running or tampered clock, not a crystal's ppm
        out = [(t, o, st, stamp - rate * (t - a) if st == target and t >= a else stamp) for t, o, st, stamp in out]
        g.cases.append(Case("sensor_integrity", True, f"{target}'s clock drifts 1 s a minute behind", a, g.t_end,
                            rx.lat, rx.lon, 20_000.0))
        peers = sorted(pair[target], key=lambda p: (-pair[target][p], p))
        if peers:   # a slow drift on the target's closest peer, 3 s an hour: within tolerance
            other = world.sensors[peers[0]]
            slow = 3.0 / H
            out = [(t, o, st, stamp + slow * (t - g.t_start) if st == other.id else stamp)
                   for t, o, st, stamp in out]
            g.cases.append(Case("sensor_integrity", False, f"{other.id}'s clock drifts 3 s an hour", g.t_start,
                                g.t_end, other.lat, other.lon, 20_000.0))
    if "receiver_forgery" in attacks:
        a = g.t_start + 0.5 * H
        # the ship to copy: under way, heard by the target and at least two other receivers at a
        shared = [(o, ks) for o, ks in zip(pos, heard) if o.time_s >= a and len(ks) >= 3
                  and target in (rx_ids[k] for k in ks) and (o.sog_kn or 0) >= 5]
        if not shared:
            raise ScenarioError(f"{s.name}: no ship under way that {target} and two other receivers hear")
        model = shared[0][0]
        ghost = 412_000_000 + int(rng.integers(100_000, 999_999))
        t_end = model.time_s + H
        copies = [o for o in pos if o.mmsi == model.mmsi and model.time_s <= o.time_s <= t_end]
        fake = [replace(o, mmsi=ghost, time_s=o.time_s + 600.0, name=None) for o in copies
                if o.time_s + 600.0 < g.t_end]
        out = sorted(out + [(o.time_s, o, target, o.time_s) for o in fake], key=lambda r: r[0])
        when = min(len(fake) - 1, 90)   # where the vessel is some 15 minutes of reports in
        g.cases.append(Case("sensor_integrity", True, f"{target} injects a forged vessel (MMSI {ghost})",
                            fake[0].time_s + 600, fake[0].time_s + 45 * 60, fake[when].lat, fake[when].lon,
                            60_000.0, ghost))
    if "receiver_replay" in attacks:
        a, b = g.t_start + H, g.t_start + 1.5 * H
        again = [(t + H, o, st, stamp + H) for t, o, st, stamp in out
                 if st == target and a - H <= t < b - H and o.kind == "ais_position"]
        out = sorted(out + again, key=lambda r: r[0])
        g.cases.append(Case("sensor_integrity", True, f"{target} replays what it heard an hour before", a,
                            a + 30 * 60, rx.lat, rx.lon, 20_000.0))
    return out


SAT_ID = "SAT-AIS-1"


def satellite_passes(t_start: float, t_end: float, sat: dict, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Passes over the area: one of ``pass_s`` every ``revisit_s`` (± 10 %), the first within one
    revisit of the start."""
    out, t = [], t_start + rng.uniform(0.0, sat["revisit_s"])
    while t < t_end:
        out.append((t, t + sat["pass_s"]))
        t += sat["revisit_s"] * rng.uniform(0.9, 1.1)
    return out


def _with_satellite(g: Generated, rng: np.random.Generator) -> list[tuple[float, Observation, str, float]]:
    """The terrestrial receptions merged, in the order they are delivered, with what the satellite
    hears: every transmission during a pass (wherever the vessel is) with probability
    ``detection``, delivered with its pass ``latency_s × U(0.2, 1.8)`` after the pass ends.  A
    reception's first field is then its delivery time; its stamp stays the time it was heard."""
    sat = g.scenario.satellite
    g.passes = satellite_passes(g.t_start, g.t_end, sat, rng)
    g.world.sensors[SAT_ID] = Sensor(SAT_ID, "ais", 0.0, 0.0, range_m=0.0, owner="MFC-EXERCISE",
                                     platform="satellite", revisit_s=sat["revisit_s"])
    heard: list[tuple[float, Observation, str, float]] = []
    for a, b in g.passes:
        deliver = min(b, g.t_end) + sat["latency_s"] * rng.uniform(0.2, 1.8)
        for v in g.vessels:
            if v.mmsi is None or v.radar_only:
                continue
            lo_, hi_ = max(a, v.path.t[0], v.t_on, g.t_start), min(b, v.path.t[-1], v.t_off, g.t_end)
            if hi_ <= lo_:
                continue
            times = itu_report_times(v, lo_, hi_, rng)
            for x, y in v.silent:
                times = times[(times < x) | (times > y)]
            times = times[rng.random(len(times)) < sat["detection"]]
            if not len(times):
                continue
            lat, lon, sog, cog = v.path.at(times)
            kx, ky = m_per_deg_array(lat)
            lat = lat + rng.normal(0, v.noise_m, len(times)) / ky
            lon = lon + rng.normal(0, v.noise_m, len(times)) / kx
            for t, la, lo, sg, cg in zip(times.tolist(), lat.tolist(), lon.tolist(), sog.tolist(), cog.tolist()):
                o = Observation("ais_position", SAT_ID, t, la, lo, sigma_m=10.0, mmsi=v.mmsi,
                                sog_kn=round(sg, 1), cog_deg=round(cg, 1), nav_status=v.nav_status,
                                ais_class=v.ais_class, ship_type=v.ship_type, name=v.name)
                heard.append((deliver, o, SAT_ID, t))
    heard.sort(key=lambda r: (r[0], r[3]))
    return _merged(g.receptions, heard)


class _merged:
    """Two time-ordered reception sequences as one, produced as it is written."""

    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def __iter__(self):
        return heapq.merge(self.a, self.b, key=lambda r: r[0])


def _radar_bias(s: Scenario, world: World, plots: np.ndarray, cases: list[Case], t_start: float,
                bearing_deg: float = 1.0, range_m: float = 250.0) -> None:
    """The radar with the most plots turns ``bearing_deg`` off north and reads ``range_m`` long
    from 30 min in: each of its plots (rows of ``RADAR_DTYPE``, changed in place) from then on
    rotated and pushed out about it (WGS 84)."""
    n = np.bincount(plots["radar"], minlength=len(world.radars)) if len(plots) else np.zeros(0, int)
    counts = {world.radars[k].id: int(c) for k, c in enumerate(n) if c}
    if not counts:
        raise ScenarioError(f"{s.name}: radar_bias needs a radar (island_sensors = true gives several)")
    target = max(sorted(counts), key=lambda k: counts[k])
    r = world.sensors[target]
    a = t_start + 0.5 * H
    ri = next(k for k, x in enumerate(world.radars) if x.id == target)
    for k in np.nonzero((plots["radar"] == ri) & (plots["t"] >= a))[0]:
        d, b, _ = inverse(r.lat, r.lon, float(plots["lat"][k]), float(plots["lon"][k]))
        plots["lat"][k], plots["lon"][k] = destination(r.lat, r.lon, b + bearing_deg, d + range_m)
    cases.append(Case("sensor_integrity", True, f"radar {target} {bearing_deg:g}° off north, range {range_m:g} m long",
                      a, a + 45 * 60, r.lat, r.lon, 20_000.0))


def _sites_near(world: World, s: Scenario) -> list[tuple[float, float]]:
    """Open-water points within ``near_radius_km`` of the place, in AIS receiver coverage, outside
    watch zones, ≥ 5 km from land and ≥ 25 km apart."""
    la, lo = s.near
    out: list[tuple[float, float]] = []
    for _ in range(400):
        p = world.sea_point_near(la, lo, s.near_radius_km * 1000.0, clear_m=5000.0, tries=20)
        if p is not None and world.geo.in_aoi(*p) and world.in_coverage(np.array([p[0]]), np.array([p[1]]))[0] \
                and all(distance_m(*p, *q) > 25_000 for q in out):
            out.append(p)
        if len(out) >= 24:
            break
    return out


def _tick(progress, what: str) -> None:
    if progress is not None:
        progress(what)


# ------------------------------------------------------------------ writing
def write(g: Generated, out: FsPath, *, progress=None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    s, world = g.scenario, g.world
    _tick(progress, "sensors.json")
    sensors = {"sensors": [_sensor_json(x) for x in world.sensors.values()]}
    (out / "sensors.json").write_text(json.dumps(sensors, indent=1) + "\n", encoding="utf-8")
    (out / "zones.geojson").write_text('{"type": "FeatureCollection", "features": []}\n', encoding="utf-8")
    _tick(progress, "ais.nmea")
    n_ais = _write_ais(g, out / "ais.nmea", progress)
    _tick(progress, "radar.jsonl")
    n_radar = _write_radar(g, out / "radar.jsonl", progress)
    _tick(progress, "truth.jsonl")
    n_truth = _write_truth(g, out / "truth.jsonl", progress)
    with (out / "labels.jsonl").open("w", encoding="utf-8") as f:
        for c in sorted(g.cases, key=lambda c: (c.t_from, c.type, c.label)):
            f.write(json.dumps({"type": c.type, "positive": c.positive, "label": c.label, "from": iso(c.t_from),
                                "to": iso(c.t_to), "lat": round(c.lat, 6), "lon": round(c.lon, 6),
                                "radius_m": c.radius_m, "mmsi": c.mmsi}, separators=(",", ":")) + "\n")
    summary = {"scenario": asdict(s), "start": iso(g.t_start), "end": iso(g.t_end), "vessels": len(g.vessels),
               "sensors": len(world.sensors), "ais_lines": n_ais, "radar_plots": n_radar, "truth_lines": n_truth,
               "labels": len(g.cases), "positive_labels": sum(c.positive for c in g.cases)}
    (out / "scenario.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def _write_radar(g: Generated, path: FsPath, progress) -> int:
    """The fixed radars' plots (``g.radar``) merged in time with the moving ones' lines, one JSON
    line each: kind, sensor_id, time, then the rest (``json.dumps``'s bytes, formatted here)."""
    n, total = 0, len(g.radar) + len(g.moving_plots)
    with path.open("w", encoding="utf-8") as f:
        for _, line in heapq.merge(_fixed_plot_lines(g.radar), g.moving_plots, key=lambda x: x[0]):
            if not isinstance(line, str):
                line = {"kind": line["kind"], "sensor_id": line["sensor_id"], "time": iso(line["time_s"]),
                        **{k: v for k, v in line.items() if k not in ("kind", "sensor_id", "time_s")}}
                line = json.dumps(line, separators=(",", ":"))
            f.write(line + "\n")
            n += 1
            if progress is not None and n % 250_000 == 0:
                progress(f"radar.jsonl {n:,} / {total:,} plots")
    return n


def _fixed_plot_lines(plots: RadarPlots):
    """(time, line) of each plot: what ``json.dumps`` gives for {"kind": "plot", "sensor_id",
    "time", "lat", "lon" (6 decimals), "sigma_m"} with separators (",", ":")."""
    heads = [f'{{"kind":"plot","sensor_id":{json.dumps(r.id)},"time":"' for r in plots.radars]
    tails = [f',"sigma_m":{json.dumps(r.accuracy_m)}}}' for r in plots.radars]
    rows = plots.rows
    for a in range(0, len(rows), 65_536):
        c = rows[a:a + 65_536]
        for t, la, lo, k in zip(c["t"].tolist(), c["lat"].tolist(), c["lon"].tolist(), c["radar"].tolist()):
            yield t, f'{heads[k]}{iso(t)}","lat":{_jfloat(round(la, 6))},"lon":{_jfloat(round(lo, 6))}{tails[k]}'


_jfloat = float.__repr__   # how json.dumps writes a (finite) float


def _sensor_json(x: Sensor) -> dict:
    d = {"id": x.id, "kind": x.kind, "lat": round(x.lat, 6), "lon": round(x.lon, 6), "range_m": x.range_m,
         "owner": x.owner or "MFC-EXERCISE", "releasability": list(x.releasability) or ["ASEAN"]}
    if x.kind == "radar":
        d.update(accuracy_m=x.accuracy_m, scan_period_s=x.scan_period_s)
        if x.range_sigma_m is not None:
            d.update(range_sigma_m=x.range_sigma_m, bearing_sigma_deg=x.bearing_sigma_deg)
        if x.platform != "terrestrial":
            d.update(platform=x.platform)
    if x.platform == "satellite":   # heard everywhere: no range (the contract ignores lat/lon)
        del d["range_m"]
        d.update(platform="satellite", revisit_s=x.revisit_s)
    return d


_ARMOUR = [chr(v + 48 if v < 40 else v + 56) for v in range(64)]


def position_payload(mmsi: int, status: int, sog_kn: float, lon: float, lat: float, cog_deg: float,
                     second: int, accuracy: int = 1) -> str:
    """The 168-bit payload of an ITU-R M.1371 message 1 (6-bit armoured, 28 characters): rate of
    turn and heading not available, no manoeuvre indicator, SOTDMA radio state 0."""
    sog = min(int(round(sog_kn * 10.0)), 1022)
    cog = int(round((cog_deg % 360.0) * 10.0)) % 3600
    x = int(round(lon * 600_000.0)) & ((1 << 28) - 1)
    y = int(round(lat * 600_000.0)) & ((1 << 27) - 1)
    # type 1 (6 bits), repeat 0 (2), mmsi (30), status (4), rate of turn 0x80 (8), sog (10),
    # accuracy (1), lon (28), lat (27), cog (12), heading 511 (9), second (6), then 2 + 3 + 1 + 19 zeros
    bits = ((((((((((1 << 32 | mmsi) << 4 | status) << 8 | 0x80) << 10 | sog) << 1 | accuracy) << 28 | x) << 27 | y)
              << 12 | cog) << 9 | 511) << 6 | second % 64) << 25
    # 168 bits = 21 bytes = 28 base64 digits, each a 6-bit group: base64's alphabet → AIS armouring
    return base64.b64encode((bits & _BITS_168).to_bytes(21, "big")).translate(_B64_TO_ARMOUR).decode("ascii")


_BITS_168 = (1 << 168) - 1
_B64_TO_ARMOUR = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                                 "".join(_ARMOUR).encode("ascii"))


def _write_ais(g: Generated, path: FsPath, progress) -> int:
    """Messages 1 (position; :func:`position_payload`) and 5 (static, two fragments, as pyais
    encodes them), one line per reception (``_receptions``), in the order they were heard, each
    with a tag block naming the station and the time it stamped, in milliseconds."""
    from pyais.encode import encode_dict
    n = 0
    group = 0
    next_tick = 200_000
    span = max(g.t_end - g.t_start, 1e-9)
    with path.open("w", encoding="ascii") as f:
        for _, o, station, stamp in g.receptions:
            c = str(int(math.floor(stamp * 1000.0)))
            if o.ais_class == "B":
                n += _write_class_b(f, o, station, c)
            elif o.kind == "ais_position":
                status = 15 if o.nav_status is None else int(o.nav_status)
                payload = position_payload(int(o.mmsi), status, float(o.sog_kn or 0.0), float(o.lon), float(o.lat),
                                           float(o.cog_deg or 0.0), int(o.time_s) % 60)
                sentence = f"AIVDM,1,1,,A,{payload},0"
                body = f"s:{station},c:{c}"
                f.write(f"\\{body}*{nmea_checksum(body)}\\!{sentence}*{nmea_checksum(sentence)}\n")
                n += 1
            else:
                group += 1
                msg = {"type": 5, "mmsi": int(o.mmsi), "ais_version": 2, "imo": 0, "callsign": "",
                       "shipname": (o.name or "")[:20].upper(), "ship_type": int(o.ship_type or 0),
                       "to_bow": 60, "to_stern": 40, "to_port": 10, "to_starboard": 10, "epfd": 1,
                       "draught": 6.0, "destination": ""}
                sentences = encode_dict(msg, talker_id="AI", sentence_type="VDM", radio_channel="A",
                                        seq_id=group % 10)
                for k, sentence in enumerate(sentences):
                    body = f"g:{k + 1}-{len(sentences)}-{group % 10000},s:{station},c:{c}"
                    f.write(f"\\{body}*{nmea_checksum(body)}\\{sentence}\n")
                    n += 1
            if progress is not None and n >= next_tick:
                done = min(max((stamp - g.t_start) / span, 0.0), 1.0)
                progress(f"ais.nmea {n:,} lines, {done:.0%} of the feed time")
                next_tick += 200_000
    return n


def _write_class_b(f, o: Observation, station: str, c: str) -> int:
    """A class B "CS" report: message 18 (position) or message 24 parts A (name) and B (ship type,
    dimensions), as pyais encodes them, each one sentence with its tag block."""
    from pyais.encode import encode_dict
    if o.kind == "ais_position":
        msgs = [{"type": 18, "mmsi": int(o.mmsi), "speed": float(o.sog_kn or 0.0), "accuracy": 1,
                 "lon": float(o.lon), "lat": float(o.lat), "course": float(o.cog_deg or 0.0), "heading": 511,
                 "second": int(o.time_s) % 60, "cs": 1}]
    else:
        msgs = [{"type": 24, "mmsi": int(o.mmsi), "partno": 0, "shipname": (o.name or "")[:20].upper()},
                {"type": 24, "mmsi": int(o.mmsi), "partno": 1, "ship_type": int(o.ship_type or 0),
                 "callsign": "", "to_bow": 6, "to_stern": 6, "to_port": 2, "to_starboard": 2}]
    body = f"s:{station},c:{c}"
    for msg in msgs:
        sentence, = encode_dict(msg, talker_id="AI", sentence_type="VDM", radio_channel="B")
        f.write(f"\\{body}*{nmea_checksum(body)}\\{sentence}\n")
    return len(msgs)


def _write_truth(g: Generated, path: FsPath, progress=None) -> int:
    """One line per vessel (and twin) per ``truth_every_s``, in (time, vessel id) order.  The
    samples are held as columns (not as lines: a 5,000-vessel day has eight million) and each line
    formatted as it is written, with the bytes ``json.dumps`` gives."""
    step = g.scenario.truth_every_s
    t_first = math.ceil(g.t_start / step) * step
    paths: list[tuple[str, Vessel, object]] = []
    for i, v in enumerate(g.vessels):
        vid = f"V{i + 1:04d}"
        paths.append((vid, v, v.path))
        if v.twin is not None:
            paths.append((vid + "b", v, v.twin[0]))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "lat", "lon", "sog", "cog", "on", "seen", "path")}
    every = max(1, len(paths) // 50)
    for pi, (vid, v, p) in enumerate(paths):
        if progress is not None and (pi + 1) % every == 0:
            progress(f"truth.jsonl: {pi + 1:,} / {len(paths):,} vessels")
        a, b = max(t_first, float(p.t[0])), min(g.t_end, float(p.t[-1]))
        if b < a:
            continue
        ts = np.arange(math.ceil(a / step) * step, b + 1e-9, step)
        if not len(ts):
            continue
        lat, lon, sog, cog = p.at(ts)
        on = _transmitting_at(v, ts)
        seen = _radar_cover(g.world, lat, lon)
        seen |= on & (True if v.coverage_free else g.world.in_coverage(lat, lon))
        for x, y in g.passes:   # a satellite overhead hears it anywhere
            seen |= on & (ts >= x) & (ts <= y)
        for m in g.moving:      # within a ship's or an aircraft's radar range where it is then
            if m.carrier is v:
                continue
            inside = (ts >= m.path.t[0]) & (ts <= m.path.t[-1])
            if inside.any():
                pla, plo, _, _ = m.path.at(ts[inside])
                seen[inside] |= distance_m_array(pla, plo, lat[inside], lon[inside]) <= m.sensor.range_m
        for k, x in (("t", ts), ("lat", lat), ("lon", lon), ("sog", sog), ("cog", cog), ("on", on), ("seen", seen),
                     ("path", np.full(len(ts), pi, np.int32))):
            cols[k].append(x)
    if not cols["t"]:
        path.write_text("", encoding="utf-8")
        return 0
    col = {k: np.concatenate(x) for k, x in cols.items()}
    del cols
    rank = np.empty(len(paths), np.int32)      # vessel ids in text order
    rank[sorted(range(len(paths)), key=lambda k: paths[k][0])] = np.arange(len(paths))
    order = np.lexsort((rank[col["path"]], col["t"]))
    heads = [f',"vessel":{json.dumps(vid)},"lat":' for vid, _, _ in paths]
    mids = [f',"mmsi":{json.dumps(v.mmsi)},"ais":' for _, v, _ in paths]
    types = [f',"ship_type":{json.dumps(v.ship_type)},"covered":' for _, v, _ in paths]
    tf = ("false", "true")
    n = len(order)
    with path.open("w", encoding="utf-8") as f:
        for c0 in range(0, n, 100_000):
            idx = order[c0:c0 + 100_000]
            t, lat, lon, sog, cog = (col[k][idx] for k in ("t", "lat", "lon", "sog", "cog"))
            on, seen, pi = col["on"][idx].tolist(), col["seen"][idx].tolist(), col["path"][idx].tolist()
            if not all(np.isfinite(x).all() for x in (lat, lon, sog, cog)):   # NaN, Infinity: as json writes them
                for k in range(len(idx)):
                    vid, v, _ = paths[pi[k]]
                    f.write(json.dumps(
                        {"time": iso(float(t[k])), "vessel": vid, "lat": round(float(lat[k]), 6),
                         "lon": round(float(lon[k]), 6), "sog_kn": round(float(sog[k]), 2),
                         "cog_deg": round(float(cog[k]), 1), "mmsi": v.mmsi, "ais": bool(on[k]),
                         "ship_type": v.ship_type, "covered": bool(seen[k])}, separators=(",", ":")) + "\n")
                continue
            f.write("".join(
                f'{{"time":"{iso(tk)}"{heads[p]}{_jfloat(round(la, 6))},"lon":{_jfloat(round(lo, 6))},'
                f'"sog_kn":{_jfloat(round(sg, 2))},"cog_deg":{_jfloat(round(cg, 1))}{mids[p]}{tf[o]}{types[p]}{tf[s_]}}}\n'
                for tk, la, lo, sg, cg, o, s_, p in zip(t.tolist(), lat.tolist(), lon.tolist(), sog.tolist(),
                                                        cog.tolist(), on, seen, pi)))
            if progress is not None:
                progress(f"truth.jsonl {min(c0 + 100_000, n):,} / {n:,} lines")
    return n


def _transmitting_at(v: Vessel, ts: np.ndarray) -> np.ndarray:
    """:func:`_transmitting` at each of the times."""
    if v.mmsi is None or v.radar_only:
        return np.zeros(len(ts), bool)
    on = (v.t_on <= ts) & (ts <= v.t_off)
    for a, b in v.silent:
        on &= ~((a <= ts) & (ts <= b))
    return on


def _radar_cover(world: World, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Within some radar's range (geodesic)."""
    out = np.zeros(len(lat), bool)
    for r in world.radars:
        out |= distance_m_array(r.lat, r.lon, lat, lon) <= r.range_m
    return out


def _transmitting(v: Vessel, t: float) -> bool:
    if v.mmsi is None or v.radar_only or not (v.t_on <= t <= v.t_off):
        return False
    return not any(a <= t <= b for a, b in v.silent)


# ------------------------------------------------------------------ the command
def main_simulate(args) -> int:
    if args.list:
        rows = builtin_list()
        w = max(len(s.name) for s in rows)
        for s in rows:
            ev = ", ".join(s.events) or "none"
            print(f"{s.name:<{w}}  {s.hours:g} h, {s.vessels} vessels, events: {ev}\n{'':<{w}}  {s.description}")
        return 0
    if not args.scenario or not args.out:
        print("mfc simulate: give a scenario (a name from --list, or a .toml file) and --out DIR", file=sys.stderr)
        return 2
    try:
        s = load(args.scenario)
        over = {k: v for k, v in (("seed", args.seed), ("hours", args.hours), ("vessels", args.vessels))
                if v is not None}
        if over:
            raw = {k: v for k, v in asdict(s).items() if v is not None}
            s = from_dict({**raw, **over}, s.name)
    except ScenarioError as exc:
        print(f"mfc simulate: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    quiet = args.quiet

    shown = ["", 0.0]   # the stage last shown, when

    def progress(what: str) -> None:
        """A stage (the first word of ``what``) when it starts, then its count at most 5 times a second."""
        if quiet:
            return
        now, stage = time.perf_counter(), what.split(" ")[0].rstrip(":")
        if stage == shown[0] and now - shown[1] < 0.2:
            return
        shown[:] = [stage, now]
        print(f"\rmfc simulate: {now - t0:6.1f} s  {what:<56}", end="", file=sys.stderr, flush=True)
    try:
        g = generate(s, progress=progress)
    except ScenarioError as exc:
        print(f"\nmfc simulate: {exc}", file=sys.stderr)
        return 2
    summary = write(g, FsPath(args.out), progress=progress)
    if not quiet:
        print("", file=sys.stderr)
    print(f"mfc simulate: {s.name} (seed {s.seed}) {summary['start']} – {summary['end']}: {summary['vessels']} "
          f"vessels, {summary['sensors']} sensors, {summary['ais_lines']:,} AIS lines, {summary['radar_plots']:,} "
          f"radar plots, {summary['labels']} labelled cases ({summary['positive_labels']} must alert) → {args.out} "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0
