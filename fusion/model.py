"""Plain data the fusion core works on: observations in, tracks and alerts out.

Times are epoch seconds (UTC) as floats, named ``*_s``; positions are WGS 84
degrees; distances and accuracies are metres (``*_m``); speeds knots (``*_kn``);
courses degrees true (``*_deg``).  These are plain slotted dataclasses: the
boundary (``ingest/``) validates once, the core trusts what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal

ObsKind = Literal["ais_position", "ais_static", "radar_plot", "radar_track"]


@dataclass(slots=True)
class Observation:
    """One normalised report from one sensor at one time.

    ``ais_position``: an AIS position report (``mmsi``, ``lat``/``lon`` set).
    ``ais_static``: AIS voyage/static data (``mmsi`` and identity fields, no position).
    ``radar_plot``: an anonymous radar detection (``lat``/``lon``, ``sigma_m``).
    ``radar_track``: a sensor-level tracked target (ARPA), ``local_id`` set.
    """

    kind: ObsKind
    sensor_id: str
    time_s: float
    lat: float | None = None
    lon: float | None = None
    sigma_m: float = 10.0
    mmsi: int | None = None
    sog_kn: float | None = None
    cog_deg: float | None = None
    heading_deg: float | None = None
    nav_status: int | None = None
    ais_class: str | None = None  # "A" or "B" for AIS
    name: str | None = None
    callsign: str | None = None
    imo: int | None = None
    ship_type: int | None = None
    local_id: str | None = None
    msg_type: int | None = None
    # provenance: station and signal data from tag blocks / receiver JSON
    station: str | None = None
    receive_time_s: float | None = None
    signal_db: float | None = None     # received signal power (AIS-catcher JSON)
    ppm: float | None = None           # receiver's frequency offset (AIS-catcher JSON)

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set (every field is a scalar: no copy needed; ``asdict``'s deep
        copy was 40 % of ingest's time per NMEA line, 24 µs against 1.6 µs)."""
        return {k: v for k in _OBS_SLOTS if (v := getattr(self, k)) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Observation":
        return cls(**{k: v for k, v in data.items() if k in _OBS_FIELDS})


_OBS_FIELDS = frozenset(Observation.__dataclass_fields__)
_OBS_SLOTS = tuple(Observation.__dataclass_fields__)   # in declaration order, as asdict gave them


@dataclass(slots=True, frozen=True)
class Sensor:
    """A registered sensor: where it is, what it sees, who may see its data."""

    id: str
    kind: Literal["radar", "ais"]
    lat: float
    lon: float
    range_m: float = 40_000.0
    accuracy_m: float = 50.0
    scan_period_s: float = 3.0
    owner: str = ""
    releasability: tuple[str, ...] = ()  # who may see its data; none declared: no agency
    range_sigma_m: float | None = None
    bearing_sigma_deg: float | None = None
    # AIS: "terrestrial" (a shore or ship station: position and range_m) or "satellite"
    # (hears everywhere, but passes over a place only every revisit_s); radar: "terrestrial"
    # (fixed: polar plots from its registered position) or a moving "ship" or "aircraft" radar
    # (its lat/lon is a home position only: polar plots must carry where it was)
    platform: Literal["terrestrial", "satellite", "ship", "aircraft"] = "terrestrial"
    revisit_s: float | None = None


@dataclass(slots=True, frozen=True)
class AisRadarConflict:
    """An AIS fix far outside the gate of its MMSI's track while radar holds that track
    (``Tracker.take_conflicts``): the reported position is contradicted by the radar
    (spoofed or faulty GNSS, a wrong MMSI).  The fix is still applied as before."""

    track_id: str
    mmsi: int
    time_s: float                 # the AIS fix's time
    lat: float                    # where AIS puts the vessel
    lon: float
    track_lat: float              # where the track (radar-held) has it at that time
    track_lon: float
    distance_m: float
    nis: float                    # normalised innovation squared of the fix (2 dof)
    last_radar_s: float           # the track's last radar update
    sensor_id: str
    station: str | None = None


TrackStatus = Literal["tentative", "confirmed", "coasting", "lost"]


@dataclass(slots=True)
class TrackLine:
    """A track state as published (the contract's track line)."""

    track_id: str
    time_s: float
    lat: float
    lon: float
    sog_kn: float
    cog_deg: float
    sigma_m: float
    mmsi: int | None
    name: str | None
    flag: str | None
    ship_type: int | None
    sources: tuple[str, ...]        # shared constants: ("ais",), ("radar",), ("ais", "radar") or ()
    status: TrackStatus
    sensors: tuple[str, ...] = ()   # the sensors that fed the track recently (releasability)
    # multi-sensor lines: each sensor's newest fix (sensor id -> time_s, lat, lon, sog_kn, cog_deg),
    # so that an agency that may see only some of the sensors gets a view built from those
    # (services.access.visibility)
    fixes: dict[str, tuple[float, float, float, float | None, float | None]] | None = None
    # how well established the track is: AIS position reports so far, distinct AIS receivers
    # (stations, else sensors) that heard it, when it entered the picture
    reports: int = 0
    receivers: int = 0
    first_seen_s: float | None = None
    late: bool = False              # a history point only: a fix older than the track's newer state
    stations: tuple[str, ...] = ()  # the AIS receivers that heard it in the last 30 min
    # radar-only tracks, set by the rules from the coverage model: "dark" where AIS reception is
    # expected, "unidentified" outside AIS cover (no alert by itself); None when identified
    contact: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "track_id": self.track_id,
            "time": iso_time(self.time_s),
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "sog_kn": round(self.sog_kn, 2),
            "cog_deg": round(self.cog_deg, 1),
            "sigma_m": round(self.sigma_m, 1),
            "mmsi": self.mmsi,
            "name": self.name,
            "flag": self.flag,
            "ship_type": self.ship_type,
            "sources": list(self.sources),
            "status": self.status,
            "sensors": list(self.sensors),
            "reports": self.reports,
            "receivers": self.receivers,
            "first_seen": None if self.first_seen_s is None else iso_time(self.first_seen_s),
            "stations": list(self.stations),
        }
        if self.fixes:
            out["fixes"] = {s: [f[0], round(f[1], 6), round(f[2], 6), f[3], f[4]] for s, f in self.fixes.items()}
        if self.late:
            out["late"] = True
        if self.contact is not None:
            out["contact"] = self.contact
        return out


@dataclass(slots=True)
class Alert:
    """An anomaly alert (the contract's alert line)."""

    alert_id: str
    type: str
    severity: str
    time_s: float
    track_id: str | None
    mmsi: int | None
    lat: float | None
    lon: float | None
    zone: str | None
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    state: str = "open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "type": self.type,
            "severity": self.severity,
            "time": iso_time(self.time_s),
            "track_id": self.track_id,
            "mmsi": self.mmsi,
            "lat": None if self.lat is None else round(self.lat, 6),
            "lon": None if self.lon is None else round(self.lon, 6),
            "zone": self.zone,
            "summary": self.summary,
            "evidence": self.evidence,
            "state": self.state,
        }


@lru_cache(maxsize=4096)
def iso_time(time_s: float) -> str:
    """Epoch seconds to ISO 8601 UTC with a ``Z`` (milliseconds kept when present).  Cached:
    the lines of one snapshot or scan share their times."""
    dt = datetime.fromtimestamp(time_s, tz=timezone.utc)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
