"""Rule thresholds, with units in the names.  Defaults follow docs/architecture.md."""

from __future__ import annotations

from dataclasses import dataclass, field

WATCH_KINDS = ("disputed_feature_12nm", "protected_area", "closed_area")


@dataclass(frozen=True, slots=True)
class RulesConfig:
    # engine
    eval_every_s: float = 30.0            # per-track re-evaluation of slow rules (loiter, rendezvous, fishing)
    sweep_every_s: float = 60.0           # periodic sweeps (swarm clustering)
    stale_s: float = 900.0                # a track line older than this no longer counts as "holding"
    update_every_s: float = 600.0         # an open alert is re-emitted at most this often for evidence only
    default_releasability: tuple[str, ...] = ()  # an alert with no sensors behind it: no agency
    enabled: tuple[str, ...] | None = None  # None = every rule; else the alert types to run
    # ais_gap
    ais_gap_s: float = 1800.0
    ais_gap_min_reports: int = 3           # "reporting regularly": at least this many reports ...
    ais_gap_regular_interval_s: float = 600.0  # ... with a mean interval at most this
    ais_gap_radar_fresh_s: float = 600.0   # radar "still holds" it if a radar-fed line is this recent
    ais_gap_uncovered_severity: str | None = None  # None: silences outside coverage are not reported
    ais_gap_assume_coverage_without_receivers: bool = True
    ais_gap_close_after_s: float = 12 * 3600.0  # give up on a vessel silent this long
    # dark_vessel
    dark_vessel_s: float = 900.0
    dark_merge_distance_m: float = 1500.0  # a lost dark track this close to an AIS track was its twin
    # speed_jump / identity_clash
    speed_jump_kn: float = 60.0
    speed_jump_min_m: float = 2000.0
    speed_jump_quiet_s: float = 1800.0     # a jump episode closes after this long without jumps
    clash_window_s: float = 1800.0         # both places must have been reported within this window
    clash_min_switches: int = 2            # returns to an earlier place before a clash is declared
    clash_max_places: int = 4
    # on_land
    on_land_m: float = 1000.0
    on_land_quiet_s: float = 1800.0
    # loitering
    loiter_speed_kn: float = 2.0
    loiter_s: float = 7200.0
    loiter_sample_s: float = 60.0
    loiter_max_gap_s: float = 1800.0       # a longer silence restarts the window
    loiter_exit_speed_kn: float = 4.0      # the episode ends after this speed held for loiter_exit_s
    loiter_exit_s: float = 300.0
    port_clear_m: float = 5000.0           # "away from ports": farther than this from any port point
    loiter_exempt_own_eez_fishing: bool = True  # fishing vessels slow in their own state's EEZ are not loitering
    # rendezvous
    rendezvous_m: float = 500.0
    rendezvous_speed_kn: float = 2.0
    rendezvous_s: float = 3600.0
    rendezvous_break_factor: float = 1.5   # the pair breaks beyond rendezvous_m * this
    # zone_entry
    zone_kinds: tuple[str, ...] = WATCH_KINDS
    zone_exit_margin_m: float = 500.0
    zone_exit_s: float = 600.0
    zone_severity: dict[str, str] = field(default_factory=lambda: {
        "disputed_feature_12nm": "medium", "protected_area": "medium", "closed_area": "high"})
    # foreign_fishing
    fishing_ship_types: tuple[int, ...] = (30,)
    fishing_min_kn: float = 0.5
    fishing_max_kn: float = 5.0
    foreign_fishing_s: float = 1800.0
    foreign_fishing_break_s: float = 600.0
    # flags that count as another state's for EEZ purposes (MID-derived flags of territories)
    flag_equivalents: dict[str, str] = field(default_factory=lambda: {"HK": "CN", "MO": "CN"})
    # swarm
    swarm_min_vessels: int = 20
    swarm_radius_m: float = 5000.0         # members within this of the swarm's centre
    swarm_speed_kn: float = 3.0
    swarm_s: float = 3600.0
    swarm_exclude_ports: bool = True
    # distress
    distress_quiet_s: float = 1800.0       # the episode closes after this long without a distress report
    # gnss_interference
    gnss_min_vessels: int = 3
    gnss_radius_m: float = 50_000.0
    gnss_window_s: float = 1800.0
    # severities
    severity: dict[str, str] = field(default_factory=lambda: {
        "ais_gap_radar": "high", "ais_gap": "medium", "dark_vessel": "medium", "speed_jump": "low",
        "on_land": "low", "identity_clash": "medium", "invalid_identity": "low", "loitering": "low",
        "rendezvous": "medium", "foreign_fishing": "high", "swarm": "high", "distress": "critical",
        "gnss_interference": "high"})
    # identity_clash from the radar (AIS fixes the radar contradicts; new fields go last: checkpoints)
    radar_clash_quiet_s: float = 1800.0    # the episode closes after this long without a contradiction
    radar_clash_min_fixes: int = 2         # contradicted fixes of one track ...
    radar_clash_window_s: float = 600.0    # ... within this long before the alert
    mmsi_keep_s: float = 86_400.0          # per-MMSI rule state with no report this long (feed time) is forgotten
    # AIS coverage model (fusion/coverage.py) and dark_vessel's gate on it
    coverage_cell_m: float = 5000.0        # learned reception grid: square cells about this wide
    coverage_prior_weight: float = 5.0     # the registered range counts as this many vessels heard
    coverage_station_silent_s: float | None = 1800.0  # a station heard before, silent this long: down
    dark_assume_coverage_without_receivers: bool = True  # no AIS station known at all: AIS expected
    # places learned from traffic (fusion/rules/traffic.py; docs/alerts.md)
    learn_cell_m: float = 1000.0           # grid cell of learned anchorages and water
    stop_speed_kn: float = 0.5             # a vessel "stops" below this ...
    stop_s: float = 1800.0                 # ... for this long (or reports at anchor / moored as long)
    anchorage_min_vessels: int = 5         # distinct MMSIs stopping in a cell make it an anchorage ...
    anchorage_min_span_s: float = 86_400.0  # ... with their stops spread over at least this long
    water_min_kn: float = 2.0              # a vessel "moves" between these speeds ...
    water_max_kn: float = 50.0
    water_min_vessels: int = 3             # distinct MMSIs moving through a cell make it navigable water
    learn_max_pending_cells: int = 500_000  # cells counted but not yet qualified (oldest dropped)
    nav_status_fresh_s: float = 1800.0     # a reported navigational status counts this long
    anchor_status_coast_m: float = 40_000.0  # "at anchor"/"moored" exempts from loitering within this of land
    # zone_entry policies and grouping (zones.py): per zone kind, then per zone name (admin)
    # by default ordinary fishing and leisure craft at a disputed feature raise nothing: massing is
    # ``swarm``, fishing in another state's EEZ is ``foreign_fishing``; an admin adds them back per zone
    zone_policies: dict[str, dict] = field(default_factory=lambda: {
        "disputed_feature_12nm": {"categories": ("cargo", "tanker", "passenger", "government", "service",
                                                 "high_speed", "other", "unknown", "dark")}})
    zone_policy_overrides: dict[str, dict] = field(default_factory=dict)
    zone_group: bool = True                # one alert per zone and vessel category
    zone_group_update_s: float = 60.0      # a group alert's membership re-sent at most this often
    # sensor_integrity (integrity.py): receivers' timestamps against their peers on the same reports
    integrity_clock_offset_s: float = 30.0  # a receiver this far off its peers (median) has a wrong clock
    integrity_replay_s: float = 600.0      # ... this far: it sends old reports (replayed or duplicated traffic)
    integrity_min_shared: int = 20         # shared reports (per pair of receivers) before judging
    integrity_min_sog_kn: float = 1.0      # only moving vessels' reports (a vessel at rest repeats them)
    integrity_keep_s: float = 3600.0       # reports remembered this long (feed time) ...
    integrity_max_reports: int = 100_000   # ... and at most this many (then one MMSI in 2, 4, ...)
    integrity_quiet_s: float = 1800.0      # an episode closes after its receiver agrees again this long
    # clean-day precision (docs/alerts.md "What does not alert"); new fields go last: checkpoints
    rendezvous_alongside_m: float = 150.0  # two ships both at anchor this close are alongside (a transfer);
    #                                        farther apart, or either moored, they are neighbours in port
    on_land_berth_m: float = 10_000.0      # a vessel reporting at anchor / moored: on land only this far
    #                                        from navigable water and from every listed port (berths, basins)
    loiter_exempt_fishing_outside_eez: bool = True  # fishing vessels where no state's EEZ applies: fishing
    zone_dark_s: float = 600.0             # a radar-only track counts as dark in a zone after this long
    rendezvous_fishing_pairs: bool = False  # two fishing vessels together (a fleet, pair trawlers) meet?
    integrity_correct_clock: bool = True   # a receiver singled out with a wrong clock: its reports re-timed
    on_land_follow: bool = True            # a path followed from navigable water, fix by fix, is a waterway
    on_land_gap_s: float = 600.0           # ... with fixes at most this far apart
    # radar registration against AIS (registration.py)
    registration_gate_m: float = 1500.0    # a plot pairs with the one AIS vessel this near (none other in twice it)
    registration_ais_fresh_s: float = 30.0  # ... whose latest report is this recent (dead-reckoned to the plot)
    registration_min_range_m: float = 5000.0  # pairs nearer the radar than this are not used
    registration_min_pairs: int = 60       # the medians are judged from this many pairs ...
    registration_min_vessels: int = 5      # ... of at least this many distinct AIS vessels
    registration_bearing_deg: float = 0.5  # a median bearing residual beyond this is a bias ...
    registration_range_m: float = 150.0    # ... and so is a median range residual beyond this
    registration_correct: bool = True      # a misregistered radar's plots are corrected before fusion
    # vessels only one AIS station hears (single_station.py)
    single_min_reports: int = 30           # class A reports of an MMSI, all through one station ...
    single_min_span_s: float = 900.0       # ... over at least this long
    single_min_heard: int = 2              # a witness station has heard this many other vessels along its path ...
    single_min_witnesses: int = 2          # ... and at least this many such stations never heard it
    single_sat_miss_p: float = 1e-3        # or a satellite overhead, which heard the vessels around it so often that
                                           #   missing every report of a real one would have this probability
    single_sat_within_s: float = 60.0      # ... "around it": within this long of one of its reports and a cell of it
    single_sat_pass_gap_s: float = 1200.0  # ... satellite reports this far apart are two passes
    # a drifting receiver clock (integrity.py), named before its offset reaches integrity_clock_offset_s
    integrity_drift_s_per_h: float = 20.0  # its offset against every peer grows this fast (a crystal: < 1 s/h) ...
    integrity_drift_min_s: float = 10.0    # ... and is already this large (network jitter stays well under it) ...
    integrity_drift_span_s: float = 600.0  # ... the trend fitted over at least this long of minute medians
    ais_gap_edge_margin: float = 0.05      # ais_gap: "inside coverage" is this share of a receiver's range
                                           #   inside its edge (reception fades out at the nominal range)
