"""invalid_identity (once per MMSI) and distress (AIS-SART / MOB / EPIRB, nav status 14).

MMSI structure per ITU-R M.585: ships 2xx–7xx with an allocated MID; excluded from
invalid_identity are the special families (97x distress devices, 111 SAR aircraft,
99 aids to navigation, 0/00 coast and group stations, 98 craft of a parent ship and
8 handhelds when their MID is allocated).
"""

from __future__ import annotations

from functools import partial

from ..identity import flag_of
from ..model import Alert, Observation, TrackLine
from .base import Context, minutes

DISTRESS = {970: "AIS-SART", 972: "MOB (man overboard) device", 974: "EPIRB-AIS"}


def _mid_allocated(mid: int) -> bool:
    return flag_of(mid * 1_000_000) is not None


def not_a_vessel(mmsi: int | None) -> bool:
    """MMSIs of stations that are not vessels under way: aids to navigation (99…), coast and
    group stations (0…), SAR aircraft (111…) and distress devices (970/972/974…)."""
    if mmsi is None:
        return False
    return (mmsi < 100_000_000 or 990_000_000 <= mmsi <= 999_999_999 or 111_000_000 <= mmsi <= 111_999_999
            or mmsi // 1_000_000 in DISTRESS)


def mmsi_problem(mmsi: int) -> str | None:
    """Why an MMSI reported by a vessel is invalid, or None when it is fine (or special)."""
    if mmsi <= 0 or mmsi > 999_999_999:
        return "malformed: not 9 digits"
    s = f"{mmsi:09d}"
    if s[:3] in ("970", "972", "974") or s.startswith("111") or s.startswith("99"):
        return None  # distress devices, SAR aircraft, aids to navigation
    if s.startswith("00"):
        mid = int(s[2:5])
        return None if _mid_allocated(mid) else f"coast-station MMSI with unallocated MID {mid:03d}"
    if s.startswith("0"):
        mid = int(s[1:4])
        return None if _mid_allocated(mid) else f"group MMSI with unallocated MID {mid:03d}"
    if s.startswith("98"):
        mid = int(s[2:5])
        return None if _mid_allocated(mid) else f"craft MMSI with unallocated MID {mid:03d}"
    if s.startswith("8"):
        mid = int(s[1:4])
        return None if _mid_allocated(mid) else f"handheld MMSI with unallocated MID {mid:03d}"
    if s[0] in "1" or s[0] == "9":
        return f"no allocated MID {s[:3]} (not a ship station number)"
    mid = int(s[:3])
    return None if _mid_allocated(mid) else f"no allocated MID {mid:03d}"


class InvalidIdentity:
    types = ("invalid_identity",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.seen: set[int] = set()

    def forget_mmsi(self, mmsi: int) -> bool:
        """An MMSI silent for ``mmsi_keep_s``: judged again if it comes back."""
        self.seen.discard(mmsi)
        return True

    def on_obs(self, obs: Observation) -> None:
        if obs.mmsi is None or obs.kind not in ("ais_position", "ais_static") or obs.mmsi in self.seen:
            return
        self.seen.add(obs.mmsi)
        problem = mmsi_problem(obs.mmsi)
        if problem is None:
            return
        tracks = self.ctx.mmsi_tracks.get(obs.mmsi)
        self.ctx.book.open(
            "invalid_identity", self.cfg.severity["invalid_identity"], obs.time_s,
            f"Vessel transmits invalid MMSI {obs.mmsi}: {problem}",
            track_id=next(reversed(tracks)) if tracks else None, mmsi=obs.mmsi, lat=obs.lat, lon=obs.lon,
            evidence={"mmsi": obs.mmsi, "reason": problem, "name": obs.name, "sensor_id": obs.sensor_id,
                      "releasability": self.ctx.releasability([obs.sensor_id])})


class Distress:
    types = ("distress",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        self.open: dict[int, tuple[Alert, list[float]]] = {}

    def on_obs(self, obs: Observation) -> None:
        if obs.mmsi is None or obs.kind != "ais_position":
            return
        device = DISTRESS.get(obs.mmsi // 1_000_000) if obs.mmsi < 1_000_000_000 else None
        if device is None and obs.nav_status != 14:
            return
        if device is not None and obs.nav_status == 15:
            return  # a device in test mode
        what = device or "AIS-SART active (navigational status 14)"
        st = self.open.get(obs.mmsi)
        if st is not None:
            st[1][0] = max(st[1][0], obs.time_s)
            self.ctx.book.update(st[0], obs.time_s, force=False, lat=obs.lat, lon=obs.lon,
                                 sensors=[obs.sensor_id], last_report_s=obs.time_s)
            return
        tracks = self.ctx.mmsi_tracks.get(obs.mmsi)
        alert = self.ctx.book.open(
            "distress", self.cfg.severity["distress"], obs.time_s,
            f"Distress: {what} transmitting (MMSI {obs.mmsi})",
            track_id=next(reversed(tracks)) if tracks else None, mmsi=obs.mmsi, lat=obs.lat, lon=obs.lon,
            evidence={"device": what, "nav_status": obs.nav_status, "first_report_s": obs.time_s,
                      "last_report_s": obs.time_s, "sensor_id": obs.sensor_id,
                      "releasability": self.ctx.releasability([obs.sensor_id])})
        self.open[obs.mmsi] = (alert, [obs.time_s])
        self._arm(obs.mmsi, obs.time_s)

    def on_line(self, line: TrackLine) -> None:
        """The first report raised the alert before its track existed: link the track as soon
        as it is published (the officer's click on the alert selects the vessel).  Usually the
        track comes from the same report, so the alert's first delivery already names it;
        otherwise the link goes out with the alert's next emission, not as a delivery of its own."""
        if line.mmsi is None or not self.open:
            return
        st = self.open.get(line.mmsi)
        if st is not None and st[0].track_id is None and st[0].state == "open":
            st[0].track_id = line.track_id
            self.ctx.book.amend(st[0])

    def _arm(self, mmsi: int, t: float) -> None:
        self.ctx.timers.at(t + self.cfg.distress_quiet_s, partial(self._due, mmsi))

    def _due(self, mmsi: int, due_s: float) -> None:
        st = self.open.get(mmsi)
        if st is None:
            return
        last = st[1][0]
        if due_s - last >= self.cfg.distress_quiet_s:
            self.ctx.book.close(st[0], due_s, f"Distress transmissions stopped {minutes(due_s - last)} ago")
            del self.open[mmsi]
        else:
            self._arm(mmsi, last)
