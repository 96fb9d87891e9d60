"""Anomaly rules over observations and track lines (pure: no I/O, no clock).

    engine = RuleEngine(Geography(land=..., zones=[...], ...), RulesConfig())
    alerts = engine.process(observations, lines)
    alerts += engine.advance(time_s)
"""

from .config import RulesConfig
from .engine import ALERT_TYPES, RuleEngine
from .geography import Geography

__all__ = ["ALERT_TYPES", "Geography", "RuleEngine", "RulesConfig"]
