"""loitering: time-weighted mean speed < loiter_speed_kn over loiter_s, away from ports
and anchorages, inside the AOI.

Per track: speed samples at most every loiter_sample_s (so a track costs O(1) per
line) as step segments with running sums over the window.  The segments sit in one flat
``array('d')`` (t0, t1, sog per segment, the live ones from ``head``): 24 bytes a segment
where a deque of tuples took about 140, which over a two-hour window and thousands of
tracks was the service's slow memory growth.  Fires on the first sample
where the full window is covered and its mean is slow; closes when the vessel holds
≥ loiter_exit_speed_kn for loiter_exit_s, enters a port/anchorage, or is lost.
Fishing vessels inside their own flag state's EEZ are exempt (drifting and light-luring
at night are their trade; ``loiter_exempt_own_eez_fishing``), and so are fishing vessels where
no state's EEZ applies (the high seas and the disputed features of the shipped layer:
``loiter_exempt_fishing_outside_eez``), as Global Fishing Watch reserves loitering for
non-fishing vessels; a fishing vessel slow in another state's EEZ still loiters.
A vessel at anchor is not loitering: one reporting navigational status 1 (at anchor) or 5
(moored) within ``anchor_status_coast_m`` of land, or stopped inside an anchorage learned
from traffic (``TrafficMap``), does not raise it; and the hours it spent reporting at anchor or
moored do not count in the window (it restarts), so a ship casting off is not loitering.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from ..model import Alert, TrackLine
from .base import Context, minutes
from .identity import not_a_vessel


@dataclass(slots=True)
class _Loiter:
    segs: array = field(default_factory=lambda: array("d"))  # flat (t0, t1, sog) per segment
    sum_w: float = 0.0
    sum_ws: float = 0.0
    last_t: float = 0.0
    last_sog: float = 0.0
    fast_since: float | None = None
    alert: Alert | None = None
    head: int = 0  # index in segs of the oldest live segment's t0 (last: old pickles hold one field less)


class Loitering:
    types = ("loitering",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.tracks: dict[str, _Loiter] = {}

    def on_line(self, line: TrackLine) -> None:
        cfg = self.cfg
        st = self.tracks.get(line.track_id)
        if line.status == "lost":
            if st is not None:
                if st.alert is not None:
                    self.ctx.book.close(st.alert, line.time_s, "Loitering vessel lost from the picture")
                del self.tracks[line.track_id]
            return
        t = line.time_s
        if not_a_vessel(line.mmsi):
            return
        if st is None:
            self.tracks[line.track_id] = _Loiter(last_t=t, last_sog=line.sog_kn)
            return
        if st.alert is not None:
            self._check_end(line, st)
        if t - st.last_t < cfg.loiter_sample_s:
            # between samples: the window may fill now, so judge it with the open segment
            # (the alert must not wait for the next sample; reports may come just under
            # loiter_sample_s apart, which would halve the sampling rate)
            if st.alert is None and _start(st) <= t - cfg.loiter_s:
                w = t - st.last_t
                sum_w, sum_ws = st.sum_w + w, st.sum_ws + w * st.last_sog
                mean = sum_ws / sum_w if sum_w > 0 else 0.0
                if mean < cfg.loiter_speed_kn:
                    self._fire(line, st, mean)
            return
        if t - st.last_t > cfg.loiter_max_gap_s or (st.alert is None and self._moored_now(line)):
            # too long unseen, or at anchor / moored now: restart the window (time spent at
            # anchor is not loitering, so a ship casting off does not loiter on its berth's hours)
            _clear(st)
        else:
            w = t - st.last_t
            segs = st.segs
            segs.extend((st.last_t, t, st.last_sog))
            st.sum_w += w
            st.sum_ws += w * st.last_sog
            h, n = st.head, len(segs)
            while h < n and segs[h + 1] <= t - cfg.loiter_s:
                a, b, s = segs[h], segs[h + 1], segs[h + 2]
                st.sum_w -= b - a
                st.sum_ws -= (b - a) * s
                h += 3
            if h >= 96 and 2 * h >= n:  # drop the dead prefix now and then: amortised O(1)
                del segs[:h]
                h = 0
            st.head = h
        st.last_t, st.last_sog = t, line.sog_kn
        if st.alert is not None:
            since = st.alert.evidence["since_s"]
            self.ctx.book.update(st.alert, t, force=False, lat=line.lat, lon=line.lon, sensors=line.sensors,
                                 duration_s=round(t - since))
        elif _start(st) <= t - cfg.loiter_s:
            mean = st.sum_ws / st.sum_w if st.sum_w > 0 else 0.0
            if mean < cfg.loiter_speed_kn:
                self._fire(line, st, mean)

    def _fire(self, line: TrackLine, st: _Loiter, mean: float) -> None:
        cfg, geo = self.cfg, self.ctx.geo
        if not geo.in_aoi(line.lat, line.lon) or geo.harbour(line.lat, line.lon, cfg.port_clear_m):
            return
        if self._at_anchor(line):
            return
        if line.ship_type in cfg.fishing_ship_types:
            states = geo.eez_states_at(line.lat, line.lon)
            if cfg.loiter_exempt_fishing_outside_eez and not states:
                return  # fishing where no state's EEZ applies (high seas, disputed features): fishing
            if cfg.loiter_exempt_own_eez_fishing and line.flag \
                    and cfg.flag_equivalents.get(line.flag, line.flag) in states:
                return  # a fishing vessel drifting or jigging on its own state's grounds
        since = _start(st)
        span = line.time_s - since
        who = f"MMSI {line.mmsi}" if line.mmsi is not None else "Radar contact"
        st.alert = self.ctx.book.open(
            "loitering", cfg.severity["loitering"], line.time_s,
            f"{who} loitering at mean {mean:.1f} kn for {minutes(span)} away from ports",
            track_id=line.track_id, mmsi=line.mmsi, lat=line.lat, lon=line.lon, sensors=line.sensors,
            evidence={"mean_speed_kn": round(mean, 2), "duration_s": round(span), "since_s": since,
                      "name": line.name, "flag": line.flag, "sources": list(line.sources)})

    def _moored_now(self, line: TrackLine) -> bool:
        """Reports at anchor / moored (status fresh) near the coast: cheap dict lookup first."""
        return self.ctx.traffic.anchored(line.mmsi, line.time_s) and \
            self.ctx.geo.near_land(line.lat, line.lon, self.cfg.anchor_status_coast_m)

    def _at_anchor(self, line: TrackLine) -> bool:
        """In an anchorage learned from traffic, or reporting at anchor / moored near the coast."""
        traffic = self.ctx.traffic
        if traffic.anchorage_at(line.lat, line.lon):
            return True
        return traffic.anchored(line.mmsi, line.time_s) and \
            self.ctx.geo.near_land(line.lat, line.lon, self.cfg.anchor_status_coast_m)

    def _check_end(self, line: TrackLine, st: _Loiter) -> None:
        cfg = self.cfg
        assert st.alert is not None
        if line.sog_kn >= cfg.loiter_exit_speed_kn:
            st.fast_since = st.fast_since if st.fast_since is not None else line.time_s
        else:
            st.fast_since = None
        since = st.alert.evidence["since_s"]
        if st.fast_since is not None and line.time_s - st.fast_since >= cfg.loiter_exit_s:
            self.ctx.book.close(st.alert, line.time_s, f"Vessel under way again at {line.sog_kn:.0f} kn after "
                                f"{minutes(st.fast_since - since)} loitering",
                                duration_s=round(st.fast_since - since))
        elif self.ctx.geo.harbour(line.lat, line.lon, cfg.port_clear_m) and line.time_s - st.last_t >= cfg.loiter_sample_s:
            self.ctx.book.close(st.alert, line.time_s, "Vessel reached a port or anchorage",
                                duration_s=round(line.time_s - since))
        else:
            return
        st.alert = None
        _clear(st)
        st.fast_since = None


def _start(st: _Loiter) -> float:
    """Start time of the oldest segment in the window; +inf when there is none."""
    return st.segs[st.head] if st.head < len(st.segs) else float("inf")


def _clear(st: _Loiter) -> None:
    del st.segs[:]
    st.head = 0
    st.sum_w = st.sum_ws = 0.0
