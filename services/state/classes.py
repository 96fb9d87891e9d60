"""The one allow-list of classes a fusion checkpoint may hold (``codec``).

A class is here because the fusion state is made of it; a checkpoint naming any other
class (``os.system``, ``subprocess.Popen``, a class of this project not listed) is
refused.  Objects are rebuilt with ``object.__new__`` and their attributes set one by
one: no constructor, ``__setstate__`` or other method of these classes runs on load.
Adding a class to the fusion state means adding it here (a test saves a real state).
"""

from __future__ import annotations

from fusion.config import TrackerConfig
from fusion.coverage import Coverage
from fusion.grid import TrackGrid
from fusion.model import AisRadarConflict, Alert, Observation, Sensor, TrackLine
from fusion.pipeline import Fusion
from fusion.rules.ais_gap import AisGap, _Vessel
from fusion.rules.base import AlertBook, Context, PointGrid, Timers
from fusion.rules.config import RulesConfig
from fusion.rules.dark_vessel import DarkVessel, _Dark
from fusion.rules.engine import RuleEngine
from fusion.rules.foreign_fishing import ForeignFishing, _Fishing
from fusion.rules.gnss import Gnss, _Area
from fusion.rules.identity import Distress, InvalidIdentity
from fusion.rules.integrity import SensorIntegrity, _Receiver
from fusion.rules.jumps import Jumps, _Mmsi, _Place
from fusion.rules.loitering import Loitering, _Loiter
from fusion.rules.on_land import OnLand, _Land
from fusion.rules.radar_contradiction import RadarContradiction, _Episode
from fusion.rules.registration import RadarRegistration, _Bias
from fusion.rules.rendezvous import Rendezvous, _Pair
from fusion.rules.single_station import SingleStation, _Heard
from fusion.rules.swarm import Swarm, _Swarm
from fusion.rules.traffic import TrafficMap, _Stop
from fusion.rules.zones import ZoneEntry, _Group, _Visit
from fusion.track import Track
from fusion.tracker import Tracker

_CLASSES: tuple[type, ...] = (
    # pipeline, tracker and its records
    Fusion, Tracker, Track, TrackGrid, TrackerConfig,
    Observation, Sensor, AisRadarConflict, TrackLine, Alert,
    # rule engine and shared machinery
    RuleEngine, RulesConfig, Context, AlertBook, Timers, PointGrid, Coverage,
    # rules and their per-key state
    AisGap, _Vessel, DarkVessel, _Dark, ForeignFishing, _Fishing, Gnss, _Area,
    Distress, InvalidIdentity, Jumps, _Mmsi, _Place, Loitering, _Loiter, OnLand, _Land,
    RadarContradiction, _Episode, Rendezvous, _Pair, Swarm, _Swarm, ZoneEntry, _Visit,
    TrafficMap, _Stop, _Group, SensorIntegrity, _Receiver, RadarRegistration, _Bias,
    SingleStation, _Heard,
)


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


ALLOWED: dict[str, type] = {qualified_name(c): c for c in _CLASSES}
