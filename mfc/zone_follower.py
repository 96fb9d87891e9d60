"""User zones and zone policies set through the API reach a separate ``mfc fusion``.

``mfc api`` stores a zone or a policy and publishes the zone's whole state on the compacted
topic ``mfc.zones`` (key: zone name; value ``{"name", "feature", "policy"}``: ``feature`` the
user zone's GeoJSON Feature or null (a built-in zone, or a user zone deleted), ``policy`` the
admin's override, ``{}`` for none; ``topics.zone_message``).  The fusion service reads the topic from its start with a
consumer group of its own: before it restores its checkpoint (so the zones its rules were
watching are there again, with their visits) and then as it runs.

A record is checked as the API checks a request (zone geometry, policy fields); one that
fails is logged and skipped, keeping the zone's last good state.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import shapely

from fusion.pipeline import Fusion
from services.bus.core import consumer_waiting_for_broker
from services.bus.topics import ZONES as ZONES_TOPIC
from services.geo.geography import usable_zones

log = logging.getLogger("mfc.zones")


def _checked_policy(policy: Any) -> dict[str, Any]:
    from pydantic import ValidationError

    from api.models import ZonePolicyIn
    try:
        return ZonePolicyIn.model_validate(policy).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise ValueError("; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}"
                                   for e in exc.errors())) from None


class ZoneFollower:
    """The user zones and policy overrides on ``mfc.zones``, applied to a ``Fusion``."""

    def __init__(self, bus: Any, name: str = "zones") -> None:
        self.consumer = consumer_waiting_for_broker(bus, ZONES_TOPIC, f"{name}-{uuid.uuid4().hex[:12]}")
        self.zones: dict[str, tuple[str, shapely.Geometry]] = {}  # user zones: name → (kind, geometry)
        self.policies: dict[str, dict[str, Any]] = {}
        self.applied: set[str] = set()  # user zones this follower put into the fusion's geography
        self.refused = 0

    def poll(self, timeout_s: float = 0.0) -> set[str]:
        """Read what arrived; the names of the zones whose state changed."""
        changed: set[str] = set()
        for rec in self.consumer.poll(timeout_s=timeout_s, max_records=1000):
            value = rec.value if isinstance(rec.value, dict) else {}
            try:
                name = value.get("name")
                if not isinstance(name, str) or not name or name != rec.key:
                    raise ValueError(f"zone name {name!r} does not match the record key {rec.key!r}")
                zone = None
                if value.get("feature") is not None:
                    zones, refused = usable_zones([value["feature"]], "mfc.zones")
                    if refused:
                        raise ValueError(refused[0])
                    ((zname, kind, geometry),) = zones
                    if zname != name:
                        raise ValueError(f"feature names zone {zname!r}, record is for {name!r}")
                    zone = (kind, geometry)
                policy = _checked_policy(value.get("policy") or {})
            except (ValueError, TypeError, AttributeError) as exc:
                self.refused += 1
                log.warning("mfc.zones record %s@%s refused, the zone keeps its last state: %s",
                            rec.key, rec.offset, exc)
                continue
            if zone is None:
                self.zones.pop(name, None)
            else:
                self.zones[name] = zone
            if policy:
                self.policies[name] = policy
            else:
                self.policies.pop(name, None)
            changed.add(name)
        return changed

    def catch_up(self, within_s: float = 30.0) -> bool:
        """Read the topic to its end (True), or for ``within_s`` when its end cannot be known
        (False: the broker is not answering; what arrives later is applied as it comes)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            self.poll(timeout_s=0.5)
            lags = self.consumer.lags()
            if lags is not None and not any(lags.values()):
                return True
        return False

    def changes(self, names: set[str]) -> dict[str, tuple[tuple[str, shapely.Geometry] | None, dict[str, Any]]]:
        """The followed state of ``names`` (a copy: it is applied on the fusion thread)."""
        return {n: (self.zones.get(n), dict(self.policies.get(n, {}))) for n in names}

    def apply(self, fusion: Fusion, changes: dict[str, tuple[tuple[str, shapely.Geometry] | None, dict[str, Any]]]) -> None:
        """Bring ``fusion``'s user zones and policy overrides to ``changes`` (from ``changes()``).
        A zone whose geometry did not change is left alone (its visits stay with it)."""
        geo, overrides = fusion.rules.ctx.geo, fusion.rules.cfg.zone_policy_overrides
        for name, (zone, policy) in changes.items():
            current = next(((k, g) for n, k, g in geo.zones if n == name), None)
            if zone is None:
                if name in self.applied:  # never a built-in zone
                    fusion.remove_zone(name)
                    self.applied.discard(name)
            elif current is None or current[0] != zone[0] or not shapely.equals(current[1], zone[1]):
                fusion.add_zone(name, zone[0], zone[1])
                self.applied.add(name)
            if policy:
                overrides[name] = policy
            else:
                overrides.pop(name, None)

    def user_zones(self) -> list[tuple[str, str, shapely.Geometry]]:
        """The user zones known now, for the geography of a fusion being built (counted as applied)."""
        self.applied |= set(self.zones)
        return [(name, kind, geometry) for name, (kind, geometry) in sorted(self.zones.items())]

    def close(self) -> None:
        self.consumer.close()
