"""One track: a nearly-constant-velocity state kept in its own local frame.

The state is re-centred on every update: ``lat``/``lon`` is the filtered
position at ``time_s`` and the local frame starts there, so only the velocity
(``ve``/``vn``, m/s) and the shared per-axis covariance ``(a, b, c)`` are
carried (see ``kalman``).  The Kalman algebra is written out inline on plain
floats: this is the innermost loop of the tracker.

Manoeuvres: radar plots normally go through the tracker's IMM (``imm``), which
writes the combined state back here and sets ``qs`` to its models' mix; this
class's own update is the single model used for the other fixes (and for all of
them with ``motion_model = "adaptive"``).  In it the acceleration noise is
``q · qs``.  While the running mean of the radar fixes' normalised innovation squared (2 for a model that fits)
exceeds a threshold, each fix raises the scale ``qs`` (and is weighed with the
raised noise); the excess fades with time (``qs - 1`` decays as
``exp(-dt / tau_s)``), so a coasting track's gate does not balloon.

A fix older than the state (out of sequence, e.g. satellite AIS) updates the
current state through the retrodicted one (``kalman.retro_position_gain``):
it never moves the track back in time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geodesy import KN_TO_MS, course_from_velocity, from_local, m_per_deg
from .kalman import Cov
from .model import TrackLine

_INF = math.inf
# a track line lists the AIS receivers that heard the vessel this recently (30 min: ten times
# class B's longest ITU-R M.1371 interval, and a satellite pass or two)
STATIONS_WINDOW_S = 1800.0
# a track line's ``sources``: one shared tuple each, no list per published line
AIS, RADAR, BOTH, NONE = ("ais",), ("radar",), ("ais", "radar"), ()


@dataclass(slots=True, eq=False)
class Track:
    track_id: str
    lat: float
    lon: float
    time_s: float
    ve: float = 0.0
    vn: float = 0.0
    a: float = 2500.0          # per-axis position variance (m²)
    b: float = 0.0             # position-velocity covariance
    c: float = 100.0           # velocity variance (m²/s²)
    status: str = "tentative"
    created_s: float = 0.0
    hits: int = 1
    confirm_hits: int = 1
    confirm_by_s: float = 0.0
    interval_s: float = 10.0
    mmsi: int | None = None
    name: str | None = None
    ship_type: int | None = None
    flag: str | None = None
    last_ais_s: float = -_INF          # feed time the track was last fed by each source
    last_radar_s: float = -_INF
    last_ais: tuple[float, float, float] | None = None  # time, lat, lon of the newest AIS fix
    recent_ais: tuple[int, ...] = ()  # hashes of the last AIS fixes (time, lat, lon), oldest first: echoes
    merge_votes: int = 0
    qs: float = 1.0                    # process-noise scale (manoeuvre)
    nis_avg: float = 2.0               # running mean of the fixes' NIS (2 when the model fits)
    slot: int = -1                     # row in the tracker's state arrays
    heap_seq: int = -1                 # the live entry of this track in the expiry heap
    heap_due: float = _INF             # ... and its due time
    alive: bool = True
    arpa: dict[str, tuple[str, float]] | None = None  # sensor id → (ARPA target id, its last time)
    feeders: dict[str, float] | None = None  # sensor id → the last feed time it fed this track
    # sensor id → its newest fix (time_s, lat, lon, sog_kn, cog_deg): an agency's view from its sensors
    fixes: dict[str, tuple[float, float, float, float | None, float | None]] | None = None
    # ``sensor_ids`` remembered for times in [from, until]; a sensor not in it feeding clears it
    sensors_cache: tuple[str, ...] | None = None
    sensors_from: float = _INF
    sensors_until: float = -_INF
    late_fed_s: float = -_INF          # tracker time when a fix older than the live window last fed it
    reports: int = 0                   # AIS position reports applied
    # the AIS receivers (station, else sensor) that heard it → the feed time each last did
    heard_by: dict[str, float | None] | None = None
    report_s: float = 0.0              # nominal AIS reporting interval (``reporting``), 0 when none

    def feed(self, sensor_id: str, time_s: float) -> None:
        """Note that ``sensor_id`` fed the track at ``time_s``."""
        f = self.feeders
        if f is None:
            self.feeders = {sensor_id: time_s}
        elif time_s > f.get(sensor_id, -_INF):
            f[sensor_id] = time_s
        c = self.sensors_cache
        if c is not None and sensor_id not in c:
            self.sensors_cache = None

    def fix(self, sensor_id: str, time_s: float, lat: float, lon: float,
            sog_kn: float | None = None, cog_deg: float | None = None) -> None:
        """Keep ``sensor_id``'s newest fix of the vessel (releasable views of the track)."""
        f = self.fixes
        if f is None:
            self.fixes = {sensor_id: (time_s, lat, lon, sog_kn, cog_deg)}
            return
        old = f.get(sensor_id)
        if old is None or time_s >= old[0]:
            f[sensor_id] = (time_s, lat, lon, sog_kn, cog_deg)

    def fixes_of(self, sensors: tuple[str, ...]) -> dict[str, tuple] | None:
        """A copy of the fixes of ``sensors`` for a published line (None for one sensor: its
        releasability is the whole line's)."""
        f = self.fixes
        if f is None or len(sensors) < 2:
            return None
        return {s: f[s] for s in sensors if s in f}

    def sensor_ids(self, time_s: float, window_s: float) -> tuple[str, ...]:
        """The sensors that fed the track within ``window_s`` of ``time_s`` (else the latest one)."""
        c = self.sensors_cache
        if c is not None and self.sensors_from <= time_s <= self.sensors_until:
            return c
        f = self.feeders
        if not f:
            return ()
        if len(f) == 1:
            out = tuple(f)
            until = _INF  # one sensor: it stays the answer until another feeds
        else:
            recent = sorted(s for s, t in f.items() if time_s - t <= window_s)
            if recent:
                out = tuple(recent)
                until = min(f[s] for s in recent) + window_s  # the first of them to fall out
            else:
                out = (max(f, key=f.__getitem__),)
                until = time_s
        self.sensors_cache, self.sensors_from, self.sensors_until = out, time_s, until
        return out

    def heard(self, receiver: str, time_s: float | None = None) -> None:
        """Count an AIS position report heard by ``receiver`` (a station, else a sensor) at
        ``time_s`` (feed time; the track's own time when not given)."""
        self.reports += 1
        t = self.time_s if time_s is None else time_s
        h = self.heard_by
        if h is None:
            self.heard_by = {receiver: t}
        else:
            old = h.get(receiver)
            if old is None or t > old:
                h[receiver] = t

    def stations(self, time_s: float) -> tuple[str, ...]:
        """The receivers that heard the vessel within ``STATIONS_WINDOW_S`` before ``time_s``
        (a receiver restored from an old checkpoint, without a time, counts as recent)."""
        h = self.heard_by
        if not h:
            return ()
        since = time_s - STATIONS_WINDOW_S
        return tuple(sorted(r for r, t in h.items() if t is None or t >= since))

    @property
    def receivers(self) -> int:
        h = self.heard_by
        return 0 if h is None else len(h)

    @property
    def cov(self) -> Cov:
        return self.a, self.b, self.c

    @property
    def last_seen(self) -> dict[str, float]:
        out = {}
        if self.last_ais_s > -_INF:
            out["ais"] = self.last_ais_s
        if self.last_radar_s > -_INF:
            out["radar"] = self.last_radar_s
        return out

    def predicted(self, time_s: float, q: float, tau_s: float = 60.0) -> tuple[float, float, float]:
        """Predicted (lat, lon, position variance m²) at ``time_s`` (no earlier than the state)."""
        dt = time_s - self.time_s
        if dt <= 0.0:
            return self.lat, self.lon, self.a
        lat, lon = from_local(self.lat, self.lon, self.ve * dt, self.vn * dt)
        if self.qs > 1.0:
            q *= 1.0 + (self.qs - 1.0) * math.exp(-dt / tau_s)
        return lat, lon, self.a + dt * (2.0 * self.b + dt * (self.c + q * dt / 3.0))

    def innovation(self, lat: float, lon: float, time_s: float, q: float,
                   tau_s: float = 60.0) -> tuple[float, float, float]:
        """Innovation east/north (m) and its per-axis prior variance for a fix at ``time_s``
        (retrodicted when the fix is older than the state)."""
        dt = time_s - self.time_s
        kx, ky = m_per_deg(self.lat)
        east = (lon - self.lon) * kx
        north = (lat - self.lat) * ky
        if self.qs > 1.0:
            q *= 1.0 + (self.qs - 1.0) * math.exp(-abs(dt) / tau_s)
        return (east - self.ve * dt, north - self.vn * dt,
                self.a + dt * (2.0 * self.b + dt * self.c) + q * abs(dt) ** 3 / 3.0)

    def update(self, lat: float, lon: float, sigma_m: float, time_s: float, q: float,
               velocity: tuple[float, float, float] | None = None,
               nis_max: float = _INF, boost: float = 1.0, qs_max: float = 1.0, tau_s: float = 60.0,
               memory: float = 0.5) -> float:
        """Kalman update with a position fix (and optionally a velocity ve, vn, sigma m/s).

        Returns the fix's normalised innovation squared (2 degrees of freedom).  Only
        fixes without a velocity (radar plots) raise the noise scale: AIS reports carry
        their own course and speed."""
        dt = time_s - self.time_s
        ref_lat, ref_lon = self.lat, self.lon
        kx, ky = m_per_deg(ref_lat)
        e0 = (lon - ref_lon) * kx
        n0 = (lat - ref_lat) * ky
        r = sigma_m * sigma_m
        a, b, c, qs = self.a, self.b, self.c, self.qs
        ve, vn = self.ve, self.vn
        if dt >= 0.0:
            dt2 = dt * dt
            if qs > 1.0:
                qs = 1.0 + (qs - 1.0) * math.exp(-dt / tau_s)  # the excess noise fades with time
            qq = q * qs
            pa = a + 2.0 * b * dt + c * dt2 + qq * dt2 * dt / 3.0
            pb = b + c * dt + qq * dt2 / 2.0
            pc = c + qq * dt
            ye, yn = e0 - ve * dt, n0 - vn * dt
            s = pa + r
            nis = (ye * ye + yn * yn) / s
            if velocity is None and dt > 0.0:
                m = self.nis_avg = memory * self.nis_avg + (1.0 - memory) * (nis if nis < 50.0 else 50.0)
                if m > nis_max and qs < qs_max:
                    qs = min(qs * boost, qs_max)  # manoeuvre: weigh this fix with the larger noise
                    qq = q * qs
                    pa = a + 2.0 * b * dt + c * dt2 + qq * dt2 * dt / 3.0
                    pb = b + c * dt + qq * dt2 / 2.0
                    pc = c + qq * dt
                    s = pa + r
            k0, k1 = pa / s, pb / s
            e, n = ve * dt + k0 * ye, vn * dt + k0 * yn
            ve, vn = ve + k1 * ye, vn + k1 * yn
            a, b, c = (1.0 - k0) * pa, (1.0 - k0) * pb, pc - k1 * pb
            if velocity is not None:
                vme, vmn, vsig = velocity
                s = c + vsig * vsig
                k0, k1 = b / s, c / s
                ye, yn = vme - ve, vmn - vn
                e, n, ve, vn = e + k0 * ye, n + k0 * yn, ve + k1 * ye, vn + k1 * yn
                a, b, c = a - k0 * b, b - k0 * c, c - k1 * c
            if dt > 0.5:
                self.interval_s = 0.8 * self.interval_s + 0.2 * dt
            self.time_s = time_s
        else:
            # out of sequence: update the current state through the retrodicted one
            lag = -dt
            lag2 = lag * lag
            qq = q * (1.0 + (qs - 1.0) * math.exp(-lag / tau_s)) if qs > 1.0 else q
            ca = a - b * lag
            cb = b - c * lag
            s = a - 2.0 * b * lag + c * lag2 + qq * lag2 * lag / 3.0 + r
            ye, yn = e0 + ve * lag, n0 + vn * lag
            nis = (ye * ye + yn * yn) / s
            k0, k1 = ca / s, cb / s
            e, n = k0 * ye, k0 * yn
            ve, vn = ve + k1 * ye, vn + k1 * yn
            a, b, c = a - k0 * ca, b - k0 * cb, c - k1 * cb
            if velocity is not None:
                vme, vmn, vsig = velocity
                s = c + qq * lag + vsig * vsig
                k0, k1 = b / s, c / s
                ye, yn = vme - ve, vmn - vn
                e, n, ve, vn = e + k0 * ye, n + k0 * yn, ve + k1 * ye, vn + k1 * yn
                a, b, c = a - k0 * b, b - k0 * c, c - k1 * c
        self.lat = ref_lat + n / ky
        self.lon = ref_lon + e / kx
        self.ve, self.vn, self.a, self.b, self.c, self.qs = ve, vn, a, b, c, qs
        return nis

    def sources(self, time_s: float, window_s: float) -> tuple[str, ...]:
        ais, radar = self.last_ais_s, self.last_radar_s
        if time_s - ais <= window_s:
            return BOTH if time_s - radar <= window_s else AIS
        if time_s - radar <= window_s:
            return RADAR
        if ais == -_INF and radar == -_INF:
            return NONE
        return AIS if ais >= radar else RADAR

    def current_line(self, window_s: float) -> TrackLine:
        """The published track line at the track's own time (the update path's fast form)."""
        ve, vn, t = self.ve, self.vn, self.time_s
        ais, radar = self.last_ais_s, self.last_radar_s
        if t - ais <= window_s:
            sources = BOTH if t - radar <= window_s else AIS
        elif t - radar <= window_s:
            sources = RADAR
        else:
            sources = self.sources(t, window_s)
        a = self.a
        sensors = self.sensor_ids(t, window_s)
        return TrackLine(self.track_id, t, self.lat, self.lon, math.hypot(ve, vn) / KN_TO_MS,
                         math.degrees(math.atan2(ve, vn)) % 360.0, math.sqrt(a) if a > 0.0 else 0.0,
                         self.mmsi, self.name, self.flag, self.ship_type, sources,
                         self.status, sensors, self.fixes_of(sensors),  # type: ignore[arg-type]
                         self.reports, self.receivers, self.created_s, stations=self.stations(t))

    def line(self, time_s: float, q: float, window_s: float, status: str | None = None,
             tau_s: float = 60.0) -> TrackLine:
        """The published track line, predicted to ``time_s``."""
        ve, vn = self.ve, self.vn
        if time_s > self.time_s:
            lat, lon, var = self.predicted(time_s, q, tau_s)
        else:
            lat, lon, var = self.lat, self.lon, self.a
        sog, cog = course_from_velocity(ve, vn)
        sensors = self.sensor_ids(time_s, window_s)
        return TrackLine(self.track_id, time_s, lat, lon, sog, cog, math.sqrt(var) if var > 0.0 else 0.0,
                         self.mmsi, self.name, self.flag, self.ship_type, self.sources(time_s, window_s),
                         status or self.status, sensors, self.fixes_of(sensors),  # type: ignore[arg-type]
                         self.reports, self.receivers, self.created_s, stations=self.stations(time_s))
