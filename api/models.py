"""The API's request and response models (pydantic v2): one class per message, as on the wire.

Field names are the contract's (docs/architecture.md: track line, alert line, sensors file).
Models forbid extra fields, so ``/openapi.json`` says exactly what a response holds and a
checker (schemathesis) catches a field that appears without being declared.  Big lists are
served as they are (the routes skip per-item validation); the schema still describes them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Exact(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Exact):
    """Every error this API raises itself: the reason, in words."""
    error: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Exact):
    """A query or path parameter out of its declared range (FastAPI's own 422 body)."""
    detail: list[ValidationIssue]


class Point(Exact):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3)


class Polygon(Exact):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]


# --- tracks and the picture -------------------------------------------------------------

class TrackLine(Exact):
    """A fused track as a key may see it (``view`` only on an agency's narrowed view)."""
    track_id: str
    time: str
    lat: float
    lon: float
    sog_kn: float | None = None
    cog_deg: float | None = None
    sigma_m: float | None = None
    mmsi: int | None = None
    name: str | None = None
    flag: str | None = None
    ship_type: int | None = None
    sources: list[str] = []
    status: str
    sensors: list[str] = []
    view: Literal["releasable_sources"] | None = None
    reports: int | None = None        # AIS position reports so far
    receivers: int | None = None      # distinct AIS receivers that heard it
    first_seen: str | None = None     # when it entered the picture
    stations: list[str] = []          # the AIS receivers that heard it in the last 30 min
    contact: Literal["dark", "unidentified"] | None = None  # radar-only: AIS expected here or not
    origin: list[str] | None = Field(None, description="a partner node's track: the node ids it came "
                                     "through, oldest first (services.federation.inbound)")
    releasability: list[str] | None = Field(None, description="a partner node's track: the tokens it was "
                                            "shared under (who here may see it)")
    partners: list[PartnerContribution] | None = Field(None, description="partner nodes' tracks of the same "
                                                       "vessel, folded into this node's")


class PartnerContribution(Exact):
    """A partner node's track of a vessel this node also tracks."""
    node: str = Field(description="the partner node it came from")
    origin: list[str]
    track_id: str
    time: str | None
    lat: float | None
    lon: float | None
    sog_kn: float | None = None
    cog_deg: float | None = None
    sigma_m: float | None = None


class TrackList(Exact):
    tracks: list[TrackLine]
    count: int


class HistoryPoint(Exact):
    time: str
    lat: float
    lon: float
    sog_kn: float | None = None
    cog_deg: float | None = None


class TrackHistory(Exact):
    track_id: str
    points: list[HistoryPoint]


class TrackFeature(Exact):
    type: Literal["Feature"]
    id: str
    geometry: Point
    properties: TrackLine


class Picture(Exact):
    """Live tracks (or the picture at ``at``) as a GeoJSON FeatureCollection."""
    type: Literal["FeatureCollection"]
    time: str | None
    features: list[TrackFeature]
    exercise: str | None = Field(None, description="present on an exercise system (MFC_EXERCISE): its name")


class HistoryRange(Exact):
    earliest: str | None
    latest: str | None


# --- alerts -----------------------------------------------------------------------------

class HistoryEntry(BaseModel):
    """One action of the audit trail: when, by whom (the key's name), what; the action's own
    fields (``from``, ``assignee``, ``previous``, ``comment``, ``disposition``) beside."""
    model_config = ConfigDict(extra="allow")
    at: str
    by: str
    action: Literal["create", "acknowledge", "assign", "unassign", "comment", "disposition", "close", "reopen"]


class Workflow(Exact):
    """The officers' work on an alert or incident: who has it, the verdict, every action."""
    assignee: str | None = None
    disposition: Literal["true_positive", "false_positive", "benign", "duplicate"] | None = None
    history: list[HistoryEntry] = []


class WorkflowChange(Exact):
    """``PATCH`` of an alert or incident: any of these (``state: open`` reopens; closing needs a
    disposition, given now or before; ``assignee: null`` unassigns)."""
    state: Literal["acknowledged", "closed", "open"] | None = None
    assignee: str | None = Field(None, max_length=64)
    comment: str | None = Field(None, min_length=1, max_length=4000)
    disposition: Literal["true_positive", "false_positive", "benign", "duplicate"] | None = None


class Alert(Exact):
    """An alert line with its lifecycle (``acked_by``/``acked_at`` once acknowledged) and the
    officers' ``workflow``; ``suppressed_by`` names the suppression that held it back."""
    alert_id: str
    type: str
    severity: str
    time: str
    track_id: str | None = None
    mmsi: int | None = None
    lat: float | None = None
    lon: float | None = None
    zone: str | None = None
    summary: str
    evidence: dict[str, Any]
    state: str
    acked_by: str | None = None
    acked_at: str | None = None
    workflow: Workflow | None = None
    suppressed_by: str | None = None
    origin: list[str] | None = Field(None, description="a partner node's alert: the node ids it came through")


class AlertList(Exact):
    """The queue (or with ``suppressed=true`` the alerts held back); ``suppressed`` counts the
    alerts suppressions hold back now, as visible to the key."""
    alerts: list[Alert]
    count: int
    suppressed: int = 0


class TypeStats(Exact):
    total: int
    states: dict[str, int]
    dispositions: dict[str, int]
    suppressed: int           # held back by a suppression now
    precision: float | None   # true_positive / (true_positive + false_positive); null without either


class AlertStats(Exact):
    """Per alert type (rule): counts by state and by disposition, and precision."""
    types: dict[str, TypeStats]


class SuppressionIn(Exact):
    """Hold back the alerts matching every criterion given (at least one) until ``until``."""
    type: str | None = None
    track_id: str | None = None
    zone: str | None = None
    bbox: list[float] | None = Field(None, min_length=4, max_length=4)
    until: str
    reason: str = Field(min_length=1, max_length=1000)


class Suppression(Exact):
    id: str
    type: str | None
    track_id: str | None
    zone: str | None
    bbox: list[float] | None
    until: str
    reason: str
    created_by: str | None
    created: str
    held: int   # alerts it has held back


class SuppressionList(Exact):
    suppressions: list[Suppression]
    suppressed: int   # alerts held back now, by all suppressions


IncidentCategory = Literal["piracy_armed_robbery", "iuu_fishing", "smuggling", "sar_hadr", "collision_incident",
                           "gnss_interference", "other"]


class IncidentIn(Exact):
    category: IncidentCategory
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=4000)
    alert_ids: list[str] = []
    track_ids: list[str] = []
    releasability: list[str]


class Incident(Exact):
    """An incident; ``releasability_effective`` is what it is shared with: the meet of its own
    releasability and that of the alerts and tracks it links."""
    incident_id: str
    category: IncidentCategory
    title: str
    summary: str
    alert_ids: list[str]
    track_ids: list[str]
    releasability: list[str]
    releasability_effective: list[str]
    state: str
    created: str
    created_by: str | None
    updated: str
    workflow: Workflow
    origin: list[str] | None = Field(None, description="a partner node's incident: the node ids it came through")


class IncidentList(Exact):
    incidents: list[Incident]
    count: int


# --- ingest and sensors -----------------------------------------------------------------

class Reject(Exact):
    line_no: int
    line: str
    reason: str


class Verdict(Exact):
    """What ingest made of a body: lines accepted (on the bus), rejected with reasons, ignored."""
    accepted: int
    rejected: int
    ignored: int
    rejects: list[Reject]
    rejected_earlier: int = 0         # of the rejected: fragments held from an earlier line, given up
    rejects_truncated: bool = False   # more rejects than listed (all are counted)
    late: int = 0                     # of the accepted: older than the live window at receipt
    warned: int = 0                   # accepted with a warning (the first ones in ``warnings``)
    warnings: list[Reject] = []
    extra_sentences: int = 0          # sentences beyond the first on lines carrying several (one outcome each)


class SensorIn(BaseModel):
    """A sensor as in the sensors file (unknown extra fields are ignored)."""
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    kind: Literal["ais", "radar"]
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    range_m: float | None = Field(None, gt=0)
    accuracy_m: float | None = Field(None, gt=0)
    scan_period_s: float | None = Field(None, gt=0)
    owner: str | None = None
    releasability: list[str] | None = None
    range_sigma_m: float | None = Field(None, gt=0)
    bearing_sigma_deg: float | None = Field(None, gt=0)
    platform: Literal["terrestrial", "satellite", "ship", "aircraft"] | None = None  # AIS satellite needs revisit_s; radar ship|aircraft: moving
    revisit_s: float | None = Field(None, gt=0)


class SensorsIn(BaseModel):
    sensors: list[SensorIn] = Field(min_length=1)


class Sensor(Exact):
    id: str
    kind: str
    lat: float
    lon: float
    range_m: float
    accuracy_m: float
    scan_period_s: float
    owner: str
    releasability: list[str]
    range_sigma_m: float | None = None
    bearing_sigma_deg: float | None = None
    platform: Literal["terrestrial", "satellite", "ship", "aircraft"] | None = None
    revisit_s: float | None = None


class SensorHealth(Exact):
    accepted: int
    rejected: int
    last_receipt: str | None
    last_observation: str | None
    last_reject: str | None
    status: Literal["live", "silent", "never"]
    late: int = 0
    warnings: int = 0
    last_warning: str | None = None
    range_exceeded: int = 0
    farthest_range_m: float | None = None
    datagrams: int = 0                # ASTERIX UDP datagrams received from this radar (mfc ingest)
    datagrams_rejected: int = 0       # of those, datagrams none of whose reports was accepted


class SensorIntegrity(Exact):
    status: Literal["ok", "suspect"]
    cause: Literal["clock_offset", "replayed_traffic", "registration_bias", "single_station"] | None = None
    offset_s: float | None = None
    drift_s_per_h: float | None = None   # clock_offset: how fast the receiver's clock moves away from its peers'
    correcting: bool | None = None   # corrected before fusion: re-timed by offset_s, or plots moved back by the bias
    bearing_bias_deg: float | None = None   # registration_bias: plots' bearing minus AIS truth (median)
    range_bias_m: float | None = None       # registration_bias: plots' range minus AIS truth (median)
    alert_id: str | None = None
    summary: str | None = None


class SensorWithHealth(Sensor):
    health: SensorHealth
    integrity: SensorIntegrity = Field(description="`suspect` while an open sensor_integrity alert the key "
                                                   "may see names this sensor (an integrator: its own "
                                                   "sensors, without the alert's text); `ok` otherwise")


class SensorHealthList(Exact):
    sensors: list[SensorWithHealth]


class SensorList(Exact):
    sensors: list[Sensor]


class Deleted(Exact):
    deleted: str


# --- zones and subscriptions --------------------------------------------------------------

class ZoneFeature(BaseModel):
    """A watch zone: ``properties.name`` and ``properties.kind``, other properties kept."""
    model_config = ConfigDict(extra="forbid")
    type: Literal["Feature"]
    properties: dict[str, Any]
    geometry: Polygon


class Zones(Exact):
    type: Literal["FeatureCollection"]
    features: list[ZoneFeature]


ZoneCategory = Literal["fishing", "cargo", "tanker", "passenger", "government", "service", "leisure",
                       "high_speed", "other", "unknown", "dark"]
FlagCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 flag state")]


class ZonePolicyIn(Exact):
    """An admin's policy for one zone (``fusion/rules/zones.py``): only the fields given override
    its kind's policy; ``{}`` removes the override."""
    categories: list[ZoneCategory] | None = Field(None, description="vessel categories that matter; null: all")
    flags: list[FlagCode] | None = Field(None, description="flag states that matter; null: all")
    exclude_flags: list[FlagCode] = Field([], description="flag states that never matter")
    dark: bool | None = Field(None, description="true: only vessels without AIS identity; false: only "
                                                "identified ones; null: both")
    min_inside_s: float = Field(0.0, ge=0, le=30 * 86400, description="a visit counts once this long inside")
    severity: Literal["info", "low", "medium", "high", "critical"] = "medium"
    group: bool = Field(True, description="one alert per zone and vessel category (false: one per vessel)")


class ZonePolicyFields(Exact):
    categories: list[str] | None
    flags: list[str] | None
    exclude_flags: list[str]
    dark: bool | None
    min_inside_s: float
    severity: str
    group: bool


class ZonePolicy(Exact):
    """A zone's policy: the admin's ``override`` (the fields set) and the ``effective`` policy
    (its kind's, overridden field by field)."""
    zone: str
    kind: str
    watched: bool = Field(description="the rules watch zones of this kind (zone_entry)")
    override: dict[str, Any]
    effective: ZonePolicyFields
    updated: str | None
    updated_by: str | None


class AnchorageProperties(Exact):
    kind: Literal["anchorage"]
    source: Literal["learned_from_traffic"]
    cells: int
    vessels_at_least: int
    center: list[float] = Field(min_length=2, max_length=2)


class AnchorageFeature(Exact):
    """An anchorage learned from traffic: adjacent ~1 km grid cells where vessels stop."""
    type: Literal["Feature"]
    properties: AnchorageProperties
    geometry: Polygon


class Anchorages(Exact):
    type: Literal["FeatureCollection"]
    features: list[AnchorageFeature]


class DeliveryIn(BaseModel):
    kind: Literal["kafka", "webhook", "stream"]
    url: str | None = None
    secret: str | None = Field(None, min_length=16)


class SubscriptionIn(Exact):
    types: list[str] = []
    bbox: list[float] | None = Field(None, min_length=4, max_length=4)
    min_severity: Literal["info", "low", "medium", "high", "critical"] = "info"
    delivery: DeliveryIn | Literal["kafka", "webhook", "stream"] = "kafka"
    agency: str | None = None


class Subscription(Exact):
    """A subscription as shown (``secret`` only in the answer that created a webhook)."""
    id: str
    agency: str
    types: list[str]
    bbox: list[float] | None
    min_severity: str
    delivery: str
    url: str | None = None
    topic: str | None = None
    secret: str | None = None


class SubscriptionList(Exact):
    subscriptions: list[Subscription]


class Health(Exact):
    status: str
    bus: str
    exercise: str | None = Field(None, description="the exercise's name on an exercise system (MFC_EXERCISE); "
                                                   "null on a live system")
    clock: Literal["wall", "feed"] = Field(
        "wall", description="`wall`: feed times must follow this server's clock (a report more than 300 s "
                            "ahead of its receipt is refused); `feed`: a replay or exercise system, which "
                            "runs on the feed's own time (any replay speed)")


# --- OGC API – Features ----------------------------------------------------------------------

class Link(Exact):
    href: str
    rel: str
    type: str
    title: str | None = None


class Landing(Exact):
    title: str
    description: str
    links: list[Link]


class Conformance(Exact):
    conformsTo: list[str]


class Extent(Exact):
    spatial: dict[str, Any]


class Collection(Exact):
    id: str
    title: str
    description: str
    itemType: str
    crs: list[str]
    extent: Extent
    links: list[Link]


class Collections(Exact):
    links: list[Link]
    collections: list[Collection]


class OgcFeature(Exact):
    """A track, alert or zone as an OGC feature (properties as in ``/v1``)."""
    type: Literal["Feature"]
    id: str
    geometry: Point | Polygon | None
    properties: dict[str, Any]
    links: list[Link] | None = None


class OgcItems(Exact):
    type: Literal["FeatureCollection"]
    features: list[OgcFeature]
    numberMatched: int
    numberReturned: int
    timeStamp: str
    links: list[Link]


# --- AIS coverage -------------------------------------------------------------------------

class CoverageProperties(Exact):
    """A station (``kind: station``) or one learned grid cell of a station (``kind: cell``)."""
    kind: Literal["station", "cell"]
    station: str
    platform: Literal["terrestrial", "satellite"] | None = None   # stations
    range_m: float | None = None                                  # terrestrial: registered range
    revisit_s: float | None = None                                # satellite: time between passes
    last_heard: str | None = None                                 # the station's last report heard
    heard: int | None = None                  # cells: distinct vessels the station heard there
    missed: int | None = None                 # cells: transmitting vessels radar held there, not heard
    reception: float | None = None            # cells: estimated share of vessels heard
    covered: bool | None = None               # cells: reception >= 0.5
    in_registered_range: bool | None = None


class CoverageFeature(Exact):
    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: CoverageProperties


class Coverage(Exact):
    """The AIS coverage model as GeoJSON: stations, then the learned cells of each."""
    type: Literal["FeatureCollection"]
    time: str | None
    cell_m: float
    features: list[CoverageFeature]


# --- exercises ----------------------------------------------------------------------------

class ExerciseIn(Exact):
    """What an instructor starts: a built-in scenario (``GET /v1/exercise`` lists them), its speed."""
    scenario: str = Field(description="a built-in scenario's name")
    speed: float = Field(1.0, gt=0, le=10_000, description="times real time (above 1: a feed-clock system, "
                                                           "MFC_FUSION_CLOCK=feed, or a short enough scenario)")
    seed: int | None = Field(None, description="override the scenario's seed")
    hours: float | None = Field(None, gt=0, le=72, description="override the scenario's length (feed time)")


class ScenarioInfo(Exact):
    name: str
    description: str
    hours: float


class ExerciseState(Exact):
    """The exercise this server plays (at most one at a time), without its truth: no vessels,
    labels or counts of what is scripted."""
    exercise: str | None = Field(description="this system's MFC_EXERCISE name; null on a live system, "
                                             "which never plays an exercise")
    state: Literal["none", "starting", "running", "stopping", "finished", "stopped", "failed"] = Field(
        description="`starting`: the scenario is being written and its sensors registered; `running`: "
                    "its feeds play; `stopping`: asked to stop; `finished`: all played; `stopped`: "
                    "ended early; `failed`: see `error`")
    scenario: str | None = None
    seed: int | None = None
    speed: float | None = None
    hours: float | None = Field(None, description="the scenario's feed time")
    sent: int | None = Field(None, description="lines of the feeds sent into the ingest so far")
    total: int | None = Field(None, description="lines of the feeds in all (known once written)")
    requested: str | None = Field(None, description="when the instructor started it")
    started: str | None = Field(None, description="when the feeds began to play (wall clock)")
    ended: str | None = None
    by: str | None = Field(None, description="the admin key's name that started it")
    dir: str | None = Field(None, description="where the server wrote it, truth included (`mfc exercise "
                                              "debrief DIR`); never served")
    error: str | None = None
    scenarios: list[ScenarioInfo] = Field(description="the built-in scenarios an exercise may play "
                                                      "(empty on a live system)")


# --- federation between nodes (services.federation.outbound) -----------------------------------------

class AgreementIn(Exact):
    """A sharing agreement with one partner node."""
    partner: str = Field(description="the partner node's id")
    releasability: list[str] = Field(description="the releasability tokens that may go to the partner, "
                                                 "matched exactly (e.g. [\"ASEAN\", \"SG\"])")
    kinds: list[Literal["tracks", "alerts", "incidents"]] = Field(
        ["tracks", "alerts", "incidents"], description="what kinds of record may go")
    bbox: list[float] | None = Field(None, description="[west, south, east, north]: only records inside")
    onward: bool = Field(False, description="may the partner pass this node's tracks and alerts on (at most "
                         "3 links from this node, never back to a node on their path)")
    relay: bool = Field(False, description="also pass on to this partner other partners' tracks and alerts "
                        "that their origin lets travel on (`onward`), under the tokens here")
    push_url: str | None = Field(None, description="also push the share over HTTPS to the partner node's "
                                 "`POST /v1/federation/inbound` (for partners without a Kafka link)")
    retention_s: int = Field(604_800, description="how long the partner may keep this node's data")
    public_key: str | None = Field(None, description="the partner's Ed25519 public key (PEM, from its "
                                   "GET /v1/federation): what it sends is verified with it; without "
                                   "it nothing from the partner is accepted")


class Agreement(Exact):
    partner: str
    releasability: list[str]
    kinds: list[str]
    bbox: list[float] | None
    onward: bool
    retention_s: int
    public_key: str | None
    relay: bool
    push_url: str | None


class AgreementList(Exact):
    agreements: list[Agreement]


class PushIn(BaseModel):
    node: str = Field(description="the pushing partner node's id")
    records: list[dict[str, Any]] = Field(description="signed records, as on its outbound topics "
                                          "(`{\"envelope\", \"sig\", \"key\"}`), at most 5,000")


class PushStatus(Exact):
    url: str
    pushed: int = Field(description="records the partner has taken")
    last_push: str | None = Field(description="when the partner last took a batch")
    last_error: str | None = Field(description="why the last push failed (null once one succeeds again); "
                                   "the batch is sent again, backing off up to 30 s")
    waiting: int = Field(description="records of the batches waiting to be taken")


class PushRefusal(Exact):
    index: int
    reason: str


class PushResult(Exact):
    taken: int = Field(description="records verified and taken (heartbeats included)")
    refused: list[PushRefusal] = Field(description="the records refused, by position, with the reason "
                                       "(the first 1,000)")


class FederationLink(Exact):
    partner: str
    direction: Literal["out", "in"]
    state: Literal["up", "down", "catching_up"]
    shared: int = Field(description="records written for the partner")
    withheld: int = Field(description="records the agreement did not let through")
    refused: int = Field(description="records from the partner refused on arrival (inbound links)")
    lag_s: float | None = Field(description="outbound: seconds since the link last had its input drained; "
                                "inbound: how old the newest record from the partner was on arrival; "
                                "null when down")
    by_kind: dict[str, dict[str, int]] = Field(description="per kind: shared and withheld (out), "
                                               "received and refused (in)")
    last_heard: str | None = Field(None, description="inbound: when the partner was last heard (a record "
                                   "or its heartbeat)")
    last_refusal: str | None = Field(None, description="inbound: why the partner's last refused record was refused")
    gaps: int | None = Field(None, description="inbound: records of the partner's known lost on the way (their "
                             "numbers jumped), e.g. after an outage longer than a topic's retention")
    last_gap: dict[str, Any] | None = Field(None, description="inbound: the last gap: kind, missing, after_seq, "
                                            "detected")
    broker_access: str | None = Field(None, description="outbound, on Kafka: the partner's grant on this node's "
                                      "broker: `granted` (it may read its mfc.federation.<partner>.* topics and "
                                      "nothing else), `no authorizer` (the broker does not check: partners must "
                                      "not reach it), `embedded` (no broker) or `error: ...`")
    push: PushStatus | None = Field(None, description="outbound, with the agreement's `push_url`: the push of "
                                    "the share over HTTPS")


class FederationStatus(Exact):
    node: str = Field(description="this node's id (MFC_NODE_ID)")
    public_key: str = Field(description="this node's Ed25519 public key (PEM): partners verify its records with it")
    links: list[FederationLink]
