"""The multi-sensor tracker: one push call, ``update(observations)``.

AIS position reports join their MMSI's track after a kinematic consistency
check (an MMSI is an attribute, not the track id: an inconsistent report opens
a second track, so clashes stay visible).  Radar plots are buffered per sensor
for one scan, gated against the tracks near them and associated by global
nearest neighbour; unassociated plots start tentative tracks confirmed after M
hits within N scans.  A new MMSI first tries to adopt a radar-only track at its
position; radar-only tracks that keep agreeing with an identified track are
merged into it.  Silent tracks coast, then are published once as ``lost`` and
dropped.  Time only advances with the observations' own timestamps.

The parts (Stone Soup's initiator, associator, updater, deleter; each a mixin in its own
module, all sharing this one object's state, so a checkpoint holds one flat ``Tracker``):

* ``ais_path``        AIS position reports (echoes, conflicts, late reports) and static data;
* ``ais_association`` which track an AIS report joins: its MMSI's consistent track, or a
                      radar-only track it adopts;
* ``ais_batch``       the vectorised update of simple AIS reports;
* ``scan``            radar plots buffered into scans, each scan gated and assigned to tracks
                      (first stage, manoeuvre second chance, tentative stage);
* ``scan_update``     the vectorised Kalman/IMM update of a scan's plots;
* ``arpa``            radar-tracked (ARPA) targets bound to fused tracks;
* ``lifecycle``       initiation, confirmation, coasting, loss and deletion of tracks;
* ``twins``           radar-only tracks merged into the identified track they keep agreeing with;
* ``state_table``     the NumPy table mirroring the tracks, and the deadline heap (housekeeping).

Motion: by default radar plots update an interacting multiple model per track (a
quiet and a manoeuvre nearly-constant-velocity model, ``imm``), whose mixture is
the published state; AIS reports and fixes carrying a velocity update that state
with one model (``Track.update``) and the models restart from it at the next plot.

How it stays fast with many live tracks:

* each ``Track`` keeps its state in plain floats (the AIS and update paths are
  scalar Python); a NumPy table (one row per track, ``association.LAT`` …)
  mirrors the states for the array work and is brought up to date lazily,
  only for the tracks changed since the last array operation;
* a radar scan is gated as a whole against that table (``association``) and its
  plots update their tracks' IMM models at once (a second table, ``_models``);
* the merge check of radar-only tracks against identified ones runs on the
  table too (a k-d tree of the radar-only tracks);
* coasting, loss and the end of a tentative track's confirmation window are
  deadlines in a heap: housekeeping pops only the tracks that are due.

Late data: a fix older than its track's state updates the track through the
retrodicted state (out-of-sequence update, ``Track.update``), so the track
never moves back in time.  A fix more than ``late_window_s`` older than the
newest feed time is too late for the live picture (``stats["too_late"]``):
radar plots are dropped; an AIS position report still belongs to its vessel
(``_late_ais``): it updates the MMSI's track when nothing newer is known of it
(a sparse source: satellite AIS, a backfill), else it becomes a history point
(a track line marked ``late``).  A track fed by such fixes ages from when it
was last fed, not from its fix's time, so a backfill keeps its tracks.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import fields

import numpy as np

from .ais_association import AisAssociation
from .ais_batch import AisBatch
from .ais_path import _RECENT_AIS, AisPath
from .arpa import ArpaTargets
from .association import N_COLS
from .config import TrackerConfig
from .imm import N_MODEL_ROWS
from .lifecycle import Lifecycle
from .model import AisRadarConflict, Observation, Sensor, TrackLine
from .scan import ScanAssociation
from .scan_update import ScanUpdate
from .state_table import _LIVE, StateTable
from .track import Track
from .twins import TwinMerge


class Tracker(AisPath, AisAssociation, AisBatch, ScanAssociation, ScanUpdate, ArpaTargets,
              Lifecycle, TwinMerge, StateTable):
    """The fusion tracker: the push API over its parts (see the module docstring for the map).

    One object holds all the state (a checkpoint stores it as one flat ``Tracker``); the
    parts are mixins, each one module that reads top to bottom."""

    def __init__(self, sensors: Mapping[str, Sensor] | None = None,
                 config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.sensors = sensors if sensors is not None else {}  # shared: sensors registered later are seen
        self.tracks: dict[str, Track] = {}
        self.by_mmsi: dict[int, list[Track]] = {}
        self.identities: dict[int, dict[str, object]] = {}
        self.now_s = -math.inf
        self.stats = {"out_of_sequence": 0, "too_late": 0, "echoes": 0, "ais_radar_conflicts": 0,
                      "late_applied": 0, "late_history": 0, "plots_in_live_gate": 0}
        self.conflicts: list[AisRadarConflict] = []  # since the last ``take_conflicts``
        self._next_id = 1
        self._pending: dict[str, list[Observation]] = {}
        self._ais_q: list[Observation] = []  # AIS position reports not yet applied (empty between calls)
        self._arpa: dict[tuple[str, str], Track] = {}  # (sensor id, ARPA target id) → its track
        self._retired: OrderedDict[int, Track] = OrderedDict()  # MMSI → its last lost track (``_resume``)
        self._housekept_s = -math.inf
        self._radar_scan_s: dict[str, float] = {}  # radar sensor id → the time of its last scan
        self._out: list[TrackLine] = []
        self._init_table()  # the state table and the deadline heap (``state_table``)

    def __setstate__(self, state: dict) -> None:
        """Restore a pickled tracker, also one saved by an earlier version of this class."""
        self.__dict__.update(state)
        cfg = self.config
        if any(not hasattr(cfg, f.name) for f in fields(TrackerConfig)):  # settings added since: defaults
            self.config = TrackerConfig(**{f.name: getattr(cfg, f.name) for f in fields(TrackerConfig)
                                           if hasattr(cfg, f.name)})
        self.__dict__.setdefault("_arpa", {})
        if "_models" not in self.__dict__:  # saved before the IMM: every track's models restart
            self._models = np.full((N_MODEL_ROWS, self._state.shape[1]), -1.0)
        self.__dict__.setdefault("_ais_q", [])
        self.__dict__.setdefault("conflicts", [])
        self.__dict__.setdefault("_retired", OrderedDict())
        self.__dict__.setdefault("_radar_scan_s", {})
        self.stats.setdefault("ais_radar_conflicts", 0)
        self.stats.setdefault("late_applied", 0)
        self.stats.setdefault("late_history", 0)
        self.stats.setdefault("plots_in_live_gate", 0)
        for track in self.tracks.values():
            _upgrade_track(track)
        if self._state.shape[0] < N_COLS:  # older, narrower state table: rebuilt from the tracks
            self._state = np.vstack([self._state, np.zeros((N_COLS - self._state.shape[0], self._state.shape[1]))])
            self._dirty.update((t.slot, t) for t in self.tracks.values())

    # ----------------------------------------------------------------- push API
    def update(self, observations: Iterable[Observation]) -> list[TrackLine]:
        """Take observations (in time order, ideally) and return the track lines they caused."""
        every = self.config.housekeeping_s
        ais_q = self._ais_q
        for obs in observations:
            if obs.time_s > self.now_s:
                self.now_s = obs.time_s
            kind = obs.kind
            if kind == "ais_position":
                if obs.time_s < self.now_s - self.config.late_window_s:
                    self._late_ais(obs)
                else:
                    ais_q.append(obs)  # taken in batches (``_flush_ais``)
            elif kind == "radar_plot":
                self._buffer(obs)
            elif kind == "radar_track":
                if obs.local_id is None:
                    self._buffer(obs)
                else:
                    self._arpa_target(obs)
            elif kind == "ais_static":
                self._static(obs)
            if self.now_s - self._housekept_s >= every:
                self._housekeep()
        if ais_q:
            self._flush_ais()
        return self._drain()

    def advance(self, time_s: float) -> list[TrackLine]:
        """Let feed time pass with no data: finish scans, coast and drop silent tracks."""
        self.now_s = max(self.now_s, time_s)
        self._housekeep()
        return self._drain()

    def flush(self) -> list[TrackLine]:
        """End of feed: process every buffered scan."""
        for sensor_id in list(self._pending):
            self._scan(self._pending.pop(sensor_id))
        return self._drain()

    def take_conflicts(self) -> list[AisRadarConflict]:
        """AIS fixes contradicted by the radar since the last call (and forget them).

        A fix is recorded when its MMSI's track had a radar update within
        ``source_window_s`` of it and the fix lies beyond both ``ais_conflict_chi2``
        (normalised innovation squared against the track) and ``ais_conflict_min_m``.
        ``stats["ais_radar_conflicts"]`` counts them all.  Only the last 10,000 are
        kept if nobody takes them."""
        out, self.conflicts = self.conflicts, []
        return out

    def snapshot(self, time_s: float) -> list[TrackLine]:
        """Every live confirmed track, predicted to ``time_s``."""
        cfg = self.config
        return [t.line(time_s, cfg.accel_psd_m2_s3, cfg.source_window_s, None, cfg.manoeuvre_tau_s)
                for t in self.tracks.values() if t.status in _LIVE]

    def _drain(self) -> list[TrackLine]:
        out, self._out = self._out, []
        return out


def _upgrade_track(track: Track) -> None:
    """A track restored from a checkpoint of an earlier version: attributes added since get defaults."""
    if not hasattr(track, "arpa"):
        track.arpa = None
    if not hasattr(track, "feeders"):
        track.feeders = None
    if not hasattr(track, "late_fed_s"):
        track.late_fed_s = -math.inf
    if not hasattr(track, "sensors_cache"):
        track.sensors_cache, track.sensors_from, track.sensors_until = None, math.inf, -math.inf
    if not hasattr(track, "reports"):  # saved before the publication policy
        track.reports, track.heard_by, track.report_s = track.hits, None, 0.0
    if not isinstance(track.recent_ais, tuple):  # a list, then a dict of (time, lat, lon) keys
        track.recent_ais = tuple(hash(tuple(k)) for k in track.recent_ais)[-_RECENT_AIS:]
