"""Conflation of the published picture: a steady track is republished at most every few seconds.

``mfc fusion`` publishes one line per track update on ``mfc.tracks``; with AIS every 2–10 s and
several radars, most lines of a vessel holding its course say nothing new, and each costs a
Kafka record to produce and one to consume in every reader (store, router, agencies).  The
conflator passes at once every line that changes the picture materially and holds the others
back, keeping only a track's newest held line:

- at once: a track's first line, a change of status, identity (MMSI, name, type, flag), sources
  or sensors (each line is as releasable as what made it), or radar-only contact class; a
  change of course of ``turn_deg`` or more (from ``min_sog_kn``: a slow vessel's course is
  noise) or of speed of ``speed_kn`` or more since the last line published; a late line (a
  history point); a line ``every_s`` or more of feed time after the track's last published one;
- a held line goes out when ``every_s`` of feed time has passed since its own time with no
  newer line of its track (the track went quiet), or ``every_s`` of wall-clock time since the
  track's first held line (a quiet feed), or at a checkpoint and at a stop (``flush``), so the
  latest state is always published.

``every_s`` 0 passes every line (``MFC_TRACKS_CONFLATE_S``; docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

_LIVE = ("tentative", "confirmed", "coasting")
_IDENTITY = ("status", "mmsi", "name", "ship_type", "flag", "contact")


def steady(sog: Any, p_sog: Any, cog: Any, p_cog: Any, speed_kn: float, turn_deg: float, min_sog_kn: float) -> bool:
    """Whether speed and course are the same as before, within ``speed_kn`` and ``turn_deg`` (a
    course below ``min_sog_kn`` is noise; an unknown value changes nothing)."""
    if sog is not None and p_sog is not None and abs(sog - p_sog) >= speed_kn:
        return False
    return (cog is None or p_cog is None or sog is None or p_sog is None or min(sog, p_sog) < min_sog_kn
            or abs((cog - p_cog + 180.0) % 360.0 - 180.0) < turn_deg)


def _identity(line: dict[str, Any]) -> tuple:
    """What must not change for a line to be held: status, identity, sources, sensors."""
    return (tuple(line.get(k) for k in _IDENTITY), tuple(line.get("sources") or ()),
            tuple(line.get("sensors") or ()))


class Conflator:
    def __init__(self, every_s: float = 5.0, turn_deg: float = 5.0, speed_kn: float = 1.0,
                 min_sog_kn: float = 2.0) -> None:
        self.every_s, self.turn_deg, self.speed_kn, self.min_sog_kn = every_s, turn_deg, speed_kn, min_sog_kn
        self.sent: dict[str, tuple[float, Any, Any, tuple]] = {}  # track id → (time, sog, cog, identity) last published
        self.held: dict[str, tuple[dict[str, Any], float, float]] = {}  # track id → (line, its time, wall time first held)
        self.feed_now = float("-inf")
        self.passed = self.conflated = 0
        self._scan_at = (float("-inf"), float("-inf"))  # (feed, wall) time after which ``due`` looks again
        self._prune_at = float("-inf")  # feed time of the next forgetting of tracks silent for an hour

    def offer(self, track_id: str, line: dict[str, Any], time_s: float, wall_s: float) -> bool:
        """True: publish ``line`` now; False: held (a newer line or ``due``/``flush`` sends it)."""
        if time_s > self.feed_now:
            self.feed_now = time_s
        if self.every_s <= 0 or line.get("late"):
            self.passed += 1
            return True
        ident = _identity(line)
        sog, cog = line.get("sog_kn"), line.get("cog_deg")
        prev = self.sent.get(track_id)
        if prev is not None and prev[3] == ident and prev[0] <= time_s < prev[0] + self.every_s:
            if steady(sog, prev[1], cog, prev[2], self.speed_kn, self.turn_deg, self.min_sog_kn):
                first_held = self.held[track_id][2] if track_id in self.held else wall_s
                self.held[track_id] = (line, time_s, first_held)
                self.conflated += 1
                return False
        self._sent(track_id, line, time_s, sog, cog, ident)
        self.passed += 1
        return True

    def _sent(self, track_id: str, line: dict[str, Any], time_s: float, sog: Any, cog: Any, ident: tuple) -> None:
        self.held.pop(track_id, None)
        if line.get("status", "confirmed") in _LIVE:
            self.sent[track_id] = (time_s, sog, cog, ident)
        else:  # lost or closed: nothing more will come for it
            self.sent.pop(track_id, None)

    def due(self, wall_s: float) -> list[tuple[str, dict[str, Any]]]:
        """Held lines whose time has come (feed time or wall-clock time), now published.  The
        held lines are looked over at most once a second of feed time or half a second of wall
        time (each look costs one pass over them).  Tracks silent for an hour of feed time are
        forgotten (a track dropped with no last line would otherwise be remembered for ever)."""
        if self.feed_now >= self._prune_at:
            self._prune_at = self.feed_now + 600.0
            horizon = self.feed_now - 3600.0
            self.sent = {k: v for k, v in self.sent.items() if v[0] >= horizon or k in self.held}
        if not self.held or (self.feed_now < self._scan_at[0] and wall_s < self._scan_at[1]):
            return []
        self._scan_at = (self.feed_now + 1.0, wall_s + 0.5)
        out = []
        for track_id, (line, time_s, first_held) in list(self.held.items()):
            if self.feed_now >= time_s + self.every_s or wall_s - first_held >= self.every_s:
                out.append((track_id, line))
                self._mark(track_id, line, time_s)
        return out

    def flush(self) -> list[tuple[str, dict[str, Any]]]:
        """Every held line (a checkpoint or a stop: the published picture is the state)."""
        out = [(track_id, line) for track_id, (line, _, _) in self.held.items()]
        for track_id, (line, time_s, _) in list(self.held.items()):
            self._mark(track_id, line, time_s)
        return out

    def _mark(self, track_id: str, line: dict[str, Any], time_s: float) -> None:
        self._sent(track_id, line, time_s, line.get("sog_kn"), line.get("cog_deg"), _identity(line))
