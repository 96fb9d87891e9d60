"""Tracker settings, with units in the names.  Defaults suit ships seen by
coastal radars (scan periods of seconds) and AIS (reports every 2 s to 6 min)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    accel_psd_m2_s3: float = 0.05        # white-acceleration noise of the CV model
    gate_chi2: float = 13.8               # 99.9 % for 2 degrees of freedom
    init_speed_sigma_ms: float = 10.0     # velocity spread of a track started from one plot
    confirm_hits: int = 3                 # radar: M of N scans
    confirm_scans: int = 5
    tentative_cost: float = 8.0           # one-stage only: added to the cost of a tentative track
    ais_confirm_reports: int = 2          # AIS: consistent reports before a track is confirmed, when the
                                           #   first is not plausible for its receiver (else: one)
    ais_confirm_window_s: float = 900.0
    ais_max_speed_kn: float = 60.0        # beyond this an AIS fix cannot be the same vessel
    ais_jump_slack_m: float = 2000.0
    ais_velocity_sigma_ms: float = 0.5
    coast_after_intervals: float = 3.0
    coast_min_s: float = 30.0
    lost_after_intervals: float = 10.0
    ais_lost_min_s: float = 600.0          # identified tracks are kept at least this long unheard
    radar_lost_min_s: float = 60.0
    source_window_s: float = 180.0         # a source is listed while it fed the track this recently
    housekeeping_s: float = 5.0
    merge_checks: int = 3                  # consecutive agreeing checks before radar-only ↔ AIS merge
    merge_speed_diff_ms: float = 2.5
    publish_tentative: bool = False
    cell_deg: float = 0.1                  # unused since gating moved to a k-d tree (kept for old configs)
    late_window_s: float = 600.0           # fixes this much older than the newest feed time are ignored
    manoeuvre_nis: float = 8.0             # running mean NIS (2 dof, expected 2) beyond which the
    manoeuvre_memory: float = 0.5          #   process noise is raised (mean's weight of the past)
    manoeuvre_boost: float = 4.0           # ... by this factor per such fix
    manoeuvre_q_max: float = 64.0          # ... up to this many times the base noise
    manoeuvre_tau_s: float = 60.0          # the excess noise fades as exp(-dt / tau)
    ais_conflict_chi2: float = 100.0       # an AIS fix this far (NIS, 2 dof) from a radar-held track ...
    ais_conflict_min_m: float = 500.0      # ... and at least this many metres off is recorded as a conflict
    # (new settings go last: a checkpoint pickles this as its values in field order)
    two_stage_association: bool = True     # confirmed/coasting tracks take plots first, tentative the rest
    motion_model: str = "imm"              # "imm": radar plots update two models (below); "adaptive":
                                           #   one model whose noise is raised while it misfits (manoeuvre_*)
    imm_q_quiet_m2_s3: float = 0.001       # IMM: acceleration noise of a vessel holding course and speed
                                           #   (σ ≈ 0.013 m/s² over a 6 s scan, 0.018 over 3 s: an autopilot's
                                           #   ±1° heading wander at 10 m/s, speed held to a tenth of a knot)
    imm_q_manoeuvre_m2_s3: float = 1.0     # ... and of a manoeuvring one (about 3 °/s at 25 kn)
    imm_quiet_s: float = 600.0             # ... mean time between manoeuvres
    imm_manoeuvre_s: float = 60.0          # ... mean length of a manoeuvre
    identity_keep_s: float = 7 * 86400.0   # an MMSI's static data (name, type) with no report this long is forgotten
    # AIS publication (ITU-R M.1371 reporting intervals, ``reporting``): a plausible first report
    # publishes its vessel; an identified track coasts after ``coast_after_intervals`` and is lost
    # after ``lost_after_intervals`` of the longer of its nominal and its observed reporting interval
    ais_receiver_range_factor: float = 3.0  # a first report this many times farther than the range of
                                           #   its (registered) receiver waits for a second one
    ais_resume_s: float = 86_400.0         # a lost MMSI re-heard within this long, where it can have
                                           #   got to at ``ais_max_speed_kn``, continues its track
    ais_resume_max: int = 200_000          # lost tracks remembered for that
    # Radar-only tracks (no MMSI) are lost by missed scans, not by the AIS-sized time floors above:
    # after N consecutive scans of a radar that covers the track (within its registered ``range_m``,
    # and that kept scanning) brought no plot, N the fewest misses a real vessel detected with
    # probability ``radar_detection_probability`` per scan makes in a row with probability at most
    # ``radar_false_loss_probability``: ln(1e-6)/ln(1 - 0.9) = 6 scans (18 s on a 3 s radar).  1e-6
    # per track and scan: among 1,000 held vessels on a 3 s radar, one lost by chance every ~50 min.
    # A young track (fewer than ``lifecycle.RADAR_YOUNG_HITS`` = 10 plots) is far likelier than an
    # established one to be clutter or a neighbour's duplicate, so less contrary evidence drops it:
    # ``radar_young_false_loss_probability`` 1e-5, ln(1e-5)/ln(0.1) = 5 scans (the textbook deletion,
    # Stone Soup's 5 steps).  A real vessel new to the picture is dropped by chance in its first ~10
    # scans with probability ~1e-4, and started again within 3 scans.
    radar_detection_probability: float = 0.9
    radar_false_loss_probability: float = 1e-6
    radar_young_false_loss_probability: float = 1e-5
    held_gate_chi2: float = 0.0            # > 0: a plot no track took within this gate (d², 2 dof; 5.99 is
                                           #   95 %) of a live track that took a plot of the same scan starts
                                           #   no track (a second echo or a neighbour's); 0: off (measured:
                                           #   fewer false tracks, more missed neighbours, docs/benchmarks.md)
    merge_radar_twins: bool = True         # a radar-only track agreeing with an older radar-only one in
                                           #   position (gate_chi2) and velocity (merge_speed_diff_ms) for
                                           #   merge_checks checks, never fed by one scan with it, is merged
    radar_gate_max_m: float = 3000.0       # a radar plot is never taken by a track predicted farther than this
                                           #   (a track coasting for minutes spreads over kilometres: its gate
                                           #   would take clutter, or another vessel's echo, far from the vessel)
    imm_reseed_mu: float | None = 0.5      # IMM mixing: the quiet model restarts from the models' mix only while
                                           #   the manoeuvre model's probability exceeds this, else from its own
                                           #   state, and the manoeuvre model always from its own (``fusion.imm``);
                                           #   None: the standard IMM mixing (quiet textbook GOSPA 4.3 % worse)

    def __post_init__(self) -> None:
        if self.motion_model not in ("imm", "adaptive"):
            raise ValueError(f"motion_model must be 'imm' or 'adaptive', not {self.motion_model!r}")
        if not all(0.0 < p < 1.0 for p in (self.radar_detection_probability, self.radar_false_loss_probability,
                                           self.radar_young_false_loss_probability)):
            raise ValueError("radar_detection_probability, radar_false_loss_probability and "
                             "radar_young_false_loss_probability must lie in (0, 1)")

    @property
    def radar_lost_after_scans(self) -> int:
        """Consecutive missed scans of a covering radar after which a radar-only track detected
        with the nominal ``radar_detection_probability`` is lost."""
        return self.lost_after_scans(self.radar_detection_probability)

    @property
    def radar_young_lost_after_scans(self) -> int:
        """The same for a young radar-only track (``radar_young_false_loss_probability``)."""
        return self.lost_after_scans(self.radar_detection_probability, self.radar_young_false_loss_probability)

    def lost_after_scans(self, p_detect: float, p_false_loss: float | None = None) -> int:
        """The fewest consecutive misses a vessel detected with ``p_detect`` per scan makes with
        probability at most ``p_false_loss`` (default ``radar_false_loss_probability``)."""
        p = min(max(p_detect, 0.05), 0.99)
        n = math.log(p_false_loss or self.radar_false_loss_probability) / math.log(1.0 - p)
        return max(1, math.ceil(n - 1e-9))
