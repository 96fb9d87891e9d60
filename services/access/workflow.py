"""The alert workflow and incidents: transitions, the audit trail, suppressions, releasability meets.

Pure functions over plain dicts; the store (``services.store.sql``) persists what they decide and
the routes (``api/routes/alerts.py``, ``incidents.py``, ``suppressions.py``) speak HTTP.

* A change (``PATCH``) may set ``state`` (``acknowledged``, ``closed``, ``open`` to reopen),
  ``assignee``, ``comment`` and ``disposition``.  Closing needs a disposition (given now or
  set before).  A closed (or retracted) item takes no change but reopening.  Every action is
  one entry of the audit trail ``history``: ``{"at", "by", "action", …}``, oldest first.
* A suppression holds back the alerts that match *all* of its given criteria (rule type,
  track, zone, area) until its ``until``: they are stored and counted, not raised.
* An incident is releasable to an agency only where its own releasability *and* that of each
  alert and track it links cover the agency: the meet of their tokens (``meet``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fusion.model import iso_time
from services.access.visibility import WILDCARDS, covers

DISPOSITIONS = ("true_positive", "false_positive", "benign", "duplicate")
STATES = ("open", "acknowledged", "closed")  # what an officer may set
TERMINAL = ("closed", "retracted")           # states that take only a reopening
CATEGORIES = ("piracy_armed_robbery", "iuu_fishing", "smuggling", "sar_hadr", "collision_incident",
              "gnss_interference", "other")
SEVERITIES = ("info", "low", "medium", "high", "critical")
CHANGE_FIELDS = ("state", "assignee", "comment", "disposition")
MAX_COMMENT = 4000
MAX_NAME = 64
MAX_SUPPRESSION_S = 30 * 86400  # a snooze ends: nothing is silenced for good


class WorkflowError(ValueError):
    """A change refused, with the HTTP status that says why (409 conflict, 422 invalid)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def empty_workflow() -> dict[str, Any]:
    return {"assignee": None, "disposition": None, "history": []}


def check_change(body: Any) -> dict[str, Any]:
    """Validate a PATCH body; the fields it sets (``assignee`` may be null: unassign)."""
    if not isinstance(body, dict):
        raise WorkflowError(422, "want a JSON object with any of state, assignee, comment, disposition")
    unknown = sorted(set(body) - set(CHANGE_FIELDS))
    if unknown:
        raise WorkflowError(422, f"unknown fields: {', '.join(unknown)}; known: {', '.join(CHANGE_FIELDS)}")
    if not body:
        raise WorkflowError(422, "nothing to change: give state, assignee, comment or disposition")
    if "state" in body and body["state"] not in STATES:
        raise WorkflowError(422, f"state must be one of {', '.join(STATES)} (open reopens), not {body['state']!r}")
    if "disposition" in body and body["disposition"] not in DISPOSITIONS:
        raise WorkflowError(422, f"disposition must be one of {', '.join(DISPOSITIONS)}, "
                                 f"not {body['disposition']!r}")
    if "assignee" in body and body["assignee"] is not None and (
            not isinstance(body["assignee"], str) or not 0 < len(body["assignee"].strip()) <= MAX_NAME):
        raise WorkflowError(422, f"assignee must be a user name of 1 to {MAX_NAME} characters, or null to unassign")
    if "comment" in body and (not isinstance(body["comment"], str) or not 0 < len(body["comment"].strip())
                              or len(body["comment"]) > MAX_COMMENT):
        raise WorkflowError(422, f"comment must be a non-empty text of at most {MAX_COMMENT} characters")
    return dict(body)


def apply_change(state: str, workflow: Mapping[str, Any] | None, change: Mapping[str, Any], who: str,
                 at_s: float) -> tuple[str, dict[str, Any]]:
    """The new state and workflow after ``change`` (validated by ``check_change``) by ``who``.

    Raises ``WorkflowError`` 409 for a change to a closed item other than reopening and 422
    for a close without a disposition.  A state it already has changes nothing (no entry)."""
    wf = {**empty_workflow(), **(dict(workflow) if workflow else {})}
    wf["history"] = list(wf.get("history") or [])
    at = iso_time(at_s)
    target = change.get("state")
    reopening = target == "open" and state != "open"
    if state in TERMINAL and not reopening:
        raise WorkflowError(409, f"it is {state}: reopen it first (state: open) to change anything")
    if target == "closed" and state != "closed" and not (change.get("disposition") or wf.get("disposition")):
        raise WorkflowError(422, f"closing needs a disposition: one of {', '.join(DISPOSITIONS)}")

    def entry(action: str, **more: Any) -> None:
        wf["history"].append({"at": at, "by": who, "action": action, **more})

    if reopening:
        entry("reopen", **{"from": state})
        state, wf["disposition"] = "open", None
    if "assignee" in change and change["assignee"] != wf.get("assignee"):
        assignee = change["assignee"].strip() if change["assignee"] else None
        entry("assign" if assignee else "unassign", assignee=assignee, previous=wf.get("assignee"))
        wf["assignee"] = assignee
    if "comment" in change:
        entry("comment", comment=change["comment"])
    if target == "closed" and state != "closed":
        disposition = change.get("disposition") or wf["disposition"]
        entry("close", **{"from": state}, disposition=disposition)
        state, wf["disposition"] = "closed", disposition
    elif "disposition" in change and change["disposition"] != wf.get("disposition"):
        entry("disposition", disposition=change["disposition"], previous=wf.get("disposition"))
        wf["disposition"] = change["disposition"]
    if target == "acknowledged" and state != "acknowledged":
        entry("acknowledge", **{"from": state})
        state = "acknowledged"
    return state, wf


def check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """A request's ``[west, south, east, north]`` in degrees (suppressions, subscriptions,
    federation agreements); ``ValueError`` with the reason when it is not one."""
    if (not isinstance(bbox, list) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
        raise ValueError("bbox must be [west, south, east, north] in degrees")
    w, s, e, n = (float(v) for v in bbox)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ValueError("bbox must have west < east within ±180 and south < north within ±90")
    return w, s, e, n


# --------------------------------------------------------------------------------- suppressions

def check_suppression(body: Any, now_s: float, alert_types: Iterable[str]) -> dict[str, Any]:
    """Validate a suppression request; the suppression's fields (``until_s`` a number)."""
    from ingest.timeparse import parse_iso
    if not isinstance(body, dict):
        raise WorkflowError(422, "want a JSON object with type, track_id, zone or bbox, until and reason")
    known = ("type", "track_id", "zone", "bbox", "until", "reason")
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise WorkflowError(422, f"unknown fields: {', '.join(unknown)}; known: {', '.join(known)}")
    if not any(body.get(k) is not None for k in ("type", "track_id", "zone", "bbox")):
        raise WorkflowError(422, "name what to suppress: at least one of type, track_id, zone, bbox")
    types = tuple(alert_types)
    if body.get("type") is not None and body["type"] not in types:
        raise WorkflowError(422, f"type must be an alert type ({', '.join(types)}), not {body['type']!r}")
    if body.get("type") in NEVER_SUPPRESSED:
        raise WorkflowError(422, f"{body['type']} alerts concern life at sea and are never suppressed")
    for k in ("track_id", "zone"):
        if body.get(k) is not None and (not isinstance(body[k], str) or not 0 < len(body[k]) <= 128):
            raise WorkflowError(422, f"{k} must be a non-empty string of at most 128 characters")
    bbox = body.get("bbox")
    if bbox is not None:
        try:
            bbox = list(check_bbox(bbox))
        except ValueError as exc:
            raise WorkflowError(422, str(exc)) from None
    until = body.get("until")
    try:
        until_s = parse_iso(until) if isinstance(until, str) else None
    except ValueError:
        until_s = None
    if until_s is None:
        raise WorkflowError(422, f"until must be an ISO 8601 time with its zone, not {until!r}")
    if until_s <= now_s:
        raise WorkflowError(422, f"until {until} is not in the future (now {iso_time(now_s)})")
    if until_s - now_s > MAX_SUPPRESSION_S:
        raise WorkflowError(422, f"until {until} is more than {MAX_SUPPRESSION_S // 86400} days ahead: "
                                 "a suppression must end (set a new one when it does)")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        raise WorkflowError(422, "reason must be a non-empty text of at most 1000 characters")
    return {"type": body.get("type"), "track_id": body.get("track_id"), "zone": body.get("zone"),
            "bbox": bbox, "until_s": until_s, "reason": reason}


def suppresses(supp: Mapping[str, Any], alert: Mapping[str, Any], now_s: float) -> bool:
    """Does the suppression hold ``alert`` back at ``now_s``?  Every criterion given must match."""
    if now_s >= supp["until_s"]:
        return False
    if supp.get("type") is not None and alert.get("type") != supp["type"]:
        return False
    if supp.get("track_id") is not None and alert.get("track_id") != supp["track_id"]:
        return False
    if supp.get("zone") is not None and alert.get("zone") != supp["zone"]:
        return False
    if supp.get("bbox") is not None:
        lat, lon = alert.get("lat"), alert.get("lon")
        if lat is None or lon is None:
            return False
        w, s, e, n = supp["bbox"]
        if not (s <= lat <= n and w <= lon <= e):
            return False
    return True


def first_suppression(supps: Iterable[Mapping[str, Any]], alert: Mapping[str, Any],
                      now_s: float) -> Mapping[str, Any] | None:
    """The suppression holding ``alert`` back (the one lasting longest), or None.

    Distress and collision-risk alerts concern life at sea: they are never held back."""
    if alert.get("type") in NEVER_SUPPRESSED:
        return None
    found = [s for s in supps if suppresses(s, alert, now_s)]
    return max(found, key=lambda s: s["until_s"], default=None)


NEVER_SUPPRESSED = ("distress",)


# ------------------------------------------------------------------------------- releasability

def _covers_token(tokens: Iterable[str], token: str) -> bool:
    """Does a list of tokens cover every agency ``token`` covers?"""
    if token in WILDCARDS:
        return any(t in WILDCARDS for t in tokens)
    return covers(tokens, token)


def meet(*lists: Iterable[str]) -> list[str]:
    """The releasability covering exactly the agencies every list covers (fails closed: no lists,
    or an empty one, covers no one)."""
    if not lists:
        return []
    out = sorted(set(lists[0]))
    for other in lists[1:]:
        other = sorted(set(other))
        out = sorted({t for t in out if _covers_token(other, t)} | {t for t in other if _covers_token(out, t)})
    # drop what another token already covers (["ASEAN", "PH"] is ["ASEAN"])
    return [t for t in out if not any(u != t and u not in WILDCARDS and t.startswith(f"{u}-") for u in out)
            and not (t not in WILDCARDS and any(u in WILDCARDS for u in out))]


def incident_releasable_to(incident: Mapping[str, Any], agency: str) -> bool:
    """May ``agency`` see ``incident``?  Only where its effective releasability (the meet of its own
    and its linked alerts' and tracks') and its own releasability both cover it."""
    effective = incident.get("releasability_effective")
    own = incident.get("releasability")
    return isinstance(effective, list) and isinstance(own, list) and covers(effective, agency) \
        and covers(own, agency)


def visible_incidents(rows: Iterable[Mapping[str, Any]], role: str, name: str) -> list[Mapping[str, Any]]:
    from services.access.visibility import STAFF_ROLES
    if role in STAFF_ROLES:
        return list(rows)
    if role != "agency":
        return []
    return [r for r in rows if incident_releasable_to(r, name)]


def severity_at_least(severity: str | None, minimum: str) -> bool:
    return severity in SEVERITIES and SEVERITIES.index(severity) >= SEVERITIES.index(minimum)


class SuppressionCache:
    """The running suppressions, read from the store at most every ``refresh_s`` (another process
    may add one); ``invalidate`` makes the next look read them at once (this process added one)."""

    def __init__(self, store: Any, clock: Any, refresh_s: float = 2.0) -> None:
        self.store, self.clock, self.refresh_s = store, clock, refresh_s
        self._supps: list[dict[str, Any]] = []
        self._loaded = float("-inf")

    def invalidate(self) -> None:
        self._loaded = float("-inf")

    def current(self) -> list[dict[str, Any]]:
        import logging
        import time
        if time.monotonic() - self._loaded >= self.refresh_s:
            try:
                self._supps = [{**s, "until_s": _until_s(s)} for s in self.store.suppressions(self.clock())]
                self._loaded = time.monotonic()
            except Exception as exc:  # keep the last known list
                logging.getLogger("mfc.workflow").error("could not read suppressions: %s", exc)
        return self._supps

    def holding(self, alert: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return first_suppression(self.current(), alert, self.clock())


def _until_s(supp: Mapping[str, Any]) -> float:
    from ingest.timeparse import parse_iso
    return parse_iso(supp["until"])
