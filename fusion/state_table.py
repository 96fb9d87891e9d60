"""The tracker's state table and its schedule: the arrays, their rows, and when to look again.

Each ``Track`` keeps its state in plain floats (the AIS and update paths are scalar
Python); a NumPy table, one column per track (rows ``association.LAT`` …), mirrors those
states for the array work (gating a scan, the AIS batch, the merge check).  It is brought
up to date lazily: ``_sync`` copies only the tracks marked dirty since the last array
operation.  Columns are reused through a free list and the table doubles when full.

Beside it: a status code per column (``_CODE``, ``_FREE`` for an unused column), an
"identified" flag (the track has an MMSI), the IMM models of each column (``imm``), and
the column's ``Track``.

The schedule: coasting, loss and the end of a tentative track's confirmation window are
deadlines in a heap (``_due``, ``_schedule``); ``_housekeep`` finishes the radar scans
whose window has passed, pops only the tracks that are due and lets the lifecycle
(``lifecycle.Lifecycle._age``) decide, then runs the merge check (``twins``).

This is a mixin of ``tracker.Tracker``: its state lives in the tracker's own attributes
(``_state``, ``_models``, ``_code``, ``_ident``, ``_rows``, ``_free``, ``_hi``, ``_dirty``,
``_heap``, ``_seq``), so a checkpoint holds one flat ``Tracker`` object as before.
"""

from __future__ import annotations

import heapq

import numpy as np

from .association import N_COLS
from .geodesy import m_per_deg
from .imm import MU, N_MODEL_ROWS
from .track import Track

_LIVE = ("confirmed", "coasting")
_CODE = {"tentative": 0, "confirmed": 1, "coasting": 2}
_FREE = -1
_START_COLUMNS = 1024


class StateTable:
    """The arrays mirroring the tracks, their columns, and the deadline heap."""

    def _init_table(self) -> None:
        """An empty table (columns reused through a free list) and an empty schedule."""
        n = _START_COLUMNS
        self._state = np.zeros((N_COLS, n))  # one column per track
        self._models = np.full((N_MODEL_ROWS, n), -1.0)  # the IMM models of each column (``imm``)
        self._hi = 0                             # columns ever used
        self._code = np.full(n, _FREE, np.int8)
        self._ident = np.zeros(n, bool)
        self._rows: list[Track | None] = [None] * n
        self._free: list[int] = list(range(n - 1, -1, -1))
        self._dirty: dict[int, Track] = {}
        # expiry heap: (due time, sequence, track)
        self._heap: list[tuple[float, int, Track]] = []
        self._seq = 0

    # ----------------------------------------------------------------- columns
    def _claim_column(self, track: Track) -> None:
        """Give a new track a free column (growing the table if none is left)."""
        if not self._free:
            self._grow()
        row = self._free.pop()
        if row >= self._hi:
            self._hi = row + 1
        track.slot = row
        self._rows[row] = track
        self._dirty[row] = track
        self._models[MU, row] = -1.0
        self._ident[row] = False
        self._code[row] = _CODE[track.status]

    def _release_column(self, track: Track) -> None:
        """Free a dropped track's column for reuse."""
        row = track.slot
        self._dirty.pop(row, None)
        self._code[row] = _FREE
        self._ident[row] = False
        self._rows[row] = None
        self._free.append(row)

    def _grow(self) -> None:
        n = len(self._rows)
        self._state = np.concatenate([self._state, np.zeros((N_COLS, n))], axis=1)
        self._models = np.concatenate([self._models, np.full((N_MODEL_ROWS, n), -1.0)], axis=1)
        self._code = np.concatenate([self._code, np.full(n, _FREE, np.int8)])
        self._ident = np.concatenate([self._ident, np.zeros(n, bool)])
        self._rows.extend([None] * n)
        self._free.extend(range(2 * n - 1, n - 1, -1))

    def _sync(self) -> None:
        """Copy the states of the tracks changed since the last array operation into the table."""
        if not self._dirty:
            return
        tracks = list(self._dirty.values())
        self._dirty.clear()
        rows = [t.slot for t in tracks]
        self._state[:, rows] = np.array(
            [(t.lat, t.lon, t.ve, t.vn, t.time_s, t.a, t.b, t.c, t.qs, (k := m_per_deg(t.lat))[0], t.nis_avg,
              t.interval_s, k[1]) for t in tracks]).T
        self._code[rows] = [_CODE[t.status] for t in tracks]

    # ---------------------------------------------------------------- schedule
    def _due(self, track: Track) -> float:
        """When the track's status must next be looked at (it changes only strictly after)."""
        cfg = self.config
        status = track.status
        if status == "tentative":
            return track.confirm_by_s + max(0.0, track.late_fed_s - track.time_s)
        heard = max(track.time_s, track.late_fed_s)
        interval = track.interval_s if track.interval_s >= track.report_s else track.report_s
        if status == "confirmed":
            due = heard + max(cfg.coast_after_intervals * interval, cfg.coast_min_s)
        else:
            floor = cfg.ais_lost_min_s if track.mmsi is not None else cfg.radar_lost_min_s
            due = heard + max(cfg.lost_after_intervals * interval, floor)
        if track.mmsi is None:
            # a radar-only track is looked at when it has missed its radar's scans; past that
            # (out of cover, the radar not scanning yet) every half scan period until the floors
            radar = self._radar_deadline(track)  # type: ignore[attr-defined]
            if radar is not None:
                short = radar[0] if radar[0] >= self.now_s else self.now_s + 0.5 * radar[1]
                if short < due:
                    return short
        return due

    def _schedule(self, track: Track) -> None:
        """Make sure the heap holds an entry no later than the track's deadline."""
        due = self._due(track)
        if track.heap_seq >= 0 and track.heap_due <= due:
            return
        self._seq += 1
        track.heap_seq, track.heap_due = self._seq, due
        heapq.heappush(self._heap, (due, self._seq, track))

    def _housekeep(self) -> None:
        """Finish scans whose window has passed, coast and drop silent tracks, merge twins."""
        self._housekept_s = self.now_s
        if self._ais_q:
            self._flush_ais()
        self._finish_due_scans()
        self._age_due_tracks()
        self._merge_twins()

    def _finish_due_scans(self) -> None:
        for sensor_id, buf in list(self._pending.items()):
            if self.now_s - buf[0].time_s >= self._scan_period(sensor_id):
                del self._pending[sensor_id]
                self._scan(buf)

    def _age_due_tracks(self) -> None:
        """Pop the heap's entries that are due; stale entries (superseded, dropped) are skipped."""
        heap, now = self._heap, self.now_s
        while heap and heap[0][0] < now:
            _, seq, track = heapq.heappop(heap)
            if not track.alive or seq != track.heap_seq:
                continue
            track.heap_seq = -1
            self._age(track)
            if track.alive:
                self._schedule(track)
