"""Federation, inbound: what partner nodes share with this node, verified, into this node's picture.

A partner P writes this node's share to ``mfc.federation.<this node>.<kind>`` on its own broker
(``services.federation.outbound``); MirrorMaker 2 (``scripts/federation-mirror``) replicates those topics
to this node's broker under the source's prefix, ``<P>_mfc.federation.<this node>.<kind>``
(``inbound_topic``; the source's cluster alias is P's node id).  The
importer reads them for every partner whose agreement carries the partner's public key
(``public_key``); without a key, or once the agreement is deleted, nothing of P's is read.

Each record is checked on arrival, and refused (counted per partner, with the reason on
``mfc.deadletter``) when: its signature does not verify with P's key (a flipped byte fails);
its last hop is not P; this node is already on its path (a loop); it has no hops left; it is
of another kind than its topic; it names no releasability token; it is malformed; or the
agreement's retention has already ended.  Heartbeats (every few seconds from a live exporter)
tell a quiet link from a broken one and give the link's lag; the records' numbers (``seq``)
show records lost on the way (an outage longer than a topic's retention): the link reports
the gap (``gaps``, ``last_gap``) instead of silence.  The numbering followed is saved per
partner (``AgreementStore.save_inbound``) before records are committed, so a gap that opened
while this node itself was down is reported after its restart.  On Kafka the importer makes
its inbound topics before subscribing to them.

What is accepted enters this node's own flow, so every read and push path has it and decides
on it as on local data (``services.access.visibility``):

* a track goes on ``mfc.tracks`` as ``<origin node>:<its id>`` with ``origin`` (the node path,
  oldest first) and ``releasability`` (the tokens P shared it under): this node's agencies
  covered by those tokens see it; P's sensor ids are dropped (they are not this node's);
* an alert goes on ``mfc.alerts`` as ``<origin node>:<its id>`` with ``origin``, its evidence's
  releasability replaced by the tokens P shared it under, and ``evidence.local_track_id`` when
  this node holds a live track of the same MMSI; P's closing or retracting it closes or retracts
  it here, and this node's officers work it in their own queue;
* an incident is stored and goes on ``mfc.incidents`` the same way.

A track or alert whose envelope says ``onward`` gets ``onward_hops`` (the links it may still
travel: ``hops`` less one; 0 otherwise), which this node's exporter reads to pass it on where
this node's own agreements ``relay`` (``services.federation.outbound.relayed_view``); incidents and
anything without ``onward`` stay here.  Partner data is purged when the retention P's agreement
gave (``retention_s``) ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fusion.model import iso_time
from ingest.timeparse import parse_iso

from services.bus import topics
from services.bus.core import Bus, Consumer
from services.federation.outbound import (_NODE, _TOKEN, CATCHING_UP_S, ENVELOPE_VERSION, HEARTBEAT_S, HOP_LIMIT, KINDS,
                         RETENTION_MAX_S, RETENTION_MIN_S, AgreementStore, partner_key, partner_topic, verify)
from services.bus.kafka_bus import PARTNER_TOPIC, ensure_topics
from services.workers.loops import Worker, finite_number
from services.access.workflow import CATEGORIES, SEVERITIES, STATES, TERMINAL

log = logging.getLogger("mfc.federation")

LINK_DOWN_S = 6 * HEARTBEAT_S  # no record or heartbeat from a partner this long: its link is down
PURGE_EVERY_S = 60.0
_POLL = 1000


def inbound_topic(partner: str, node: str, kind: str) -> str:
    """Where MirrorMaker 2 (``scripts/federation-mirror``) puts what ``partner`` shares with
    ``node``: ``<partner>_mfc.federation.<node>.<kind>`` (its replication policy with the
    separator "_": with the default ".", MirrorMaker would take ``mfc.federation.<node>.<kind>``
    for a topic replicated from a cluster named ``<node>`` and skip it as a cycle)."""
    return f"{partner}_{partner_topic(node, kind)}"


class Refused(ValueError):
    """A partner's record refused on arrival, with the reason."""


def _text(record: dict[str, Any], name: str, kind: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value or len(value) > 64:
        raise Refused(f"{kind} record without a {name} (1 to 64 characters)")
    return value


def _time(record: dict[str, Any], name: str, kind: str) -> float:
    try:
        return parse_iso(record[name])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Refused(f"{kind} record with no ISO 8601 {name}: {record.get(name)!r}") from None


# What a partner's track line may carry, and how: a signed record is the partner's word, not
# proof of a sound line, and one this node's store cannot take would stall its writer.
_NUMBERS = ("sog_kn", "cog_deg", "sigma_m")
_INTEGERS = ("mmsi", "ship_type", "reports", "receivers")
_TEXTS = {"name": 64, "flag": 4, "contact": 16}
_STATUSES = ("tentative", "confirmed", "coasting", "lost", "dropped")
_SOURCES = ("ais", "radar")


def _optional(record: dict[str, Any], name: str, check: Callable[[Any], bool], what: str, kind: str) -> Any:
    value = record.get(name)
    if value is not None and not check(value):
        raise Refused(f"{kind} record: {name} must be {what}, not {value!r:.40}")
    return value


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31


def _clean_track(record: dict[str, Any], tid: str) -> dict[str, Any]:
    """The track line this node keeps of a partner's record (known fields, checked), or ``Refused``."""
    line: dict[str, Any] = {"time": record["time"], "lat": record["lat"], "lon": record["lon"]}
    for name in _NUMBERS:
        line[name] = _optional(record, name, finite_number, "a number", "track")
    for name in _INTEGERS:
        line[name] = _optional(record, name, _integer, "a whole number", "track")
    for name, most in _TEXTS.items():
        line[name] = _optional(record, name, lambda v, n=most: isinstance(v, str) and len(v) <= n,
                               f"text of at most {most} characters", "track")
    status = record.get("status", "confirmed")
    if status not in _STATUSES:
        raise Refused(f"track {tid!r}: status must be one of {', '.join(_STATUSES)}, not {status!r:.40}")
    sources = record.get("sources") or []
    if not isinstance(sources, list) or any(s not in _SOURCES for s in sources):
        raise Refused(f"track {tid!r}: sources must be a list of ais and radar, not {sources!r:.60}")
    line.update(status=status, sources=list(dict.fromkeys(sources)))
    if isinstance(record.get("first_seen"), str):
        _time(record, "first_seen", "track")
        line["first_seen"] = record["first_seen"]
    return line


EPOCHS_KEPT = 8  # per kind, the sender's latest epochs whose numbering is followed (and saved)


class _Link:
    def __init__(self) -> None:
        self.received: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.refused: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.last_heard_s: float | None = None
        self.lag_s: float | None = None
        self.last_refusal: str | None = None
        self.last_seq: dict[tuple[str, str], int] = {}  # (kind, sender's epoch) → highest seq seen
        self.gaps = 0                                    # records known lost on the way
        self.last_gap: dict[str, Any] | None = None

    def count(self, kind: str, epoch: Any, seq: Any, now_s: float) -> None:
        """Note a record's number; a jump is records lost on the way (a repeat is harmless:
        at-least-once).  A number starts being followed at the first record of an epoch."""
        if not isinstance(epoch, str) or not isinstance(seq, int) or isinstance(seq, bool):
            return
        last = self.last_seq.get((kind, epoch))
        if last is not None and seq > last + 1:
            missing = seq - last - 1
            self.gaps += missing
            self.last_gap = {"kind": kind, "missing": missing, "after_seq": last, "detected": iso_time(now_s)}
            log.warning("%d %s records lost on the way (after %d of epoch %s)", missing, kind, last, epoch)
        if last is None or seq > last:
            self.last_seq.pop((kind, epoch), None)  # the newest epoch last (insertion order)
            self.last_seq[(kind, epoch)] = seq
            self.changed = True
            mine = [k for k in self.last_seq if k[0] == kind]
            for old in mine[:-EPOCHS_KEPT]:
                del self.last_seq[old]

    changed = False  # numbering seen since the state was last saved

    def state(self) -> dict[str, Any]:
        """What survives a restart of this node: the numbering followed and the gaps found, so
        records lost while the node was down (an outage longer than its broker keeps the
        partner's topics) still show as a gap."""
        return {"last_seq": [[k, e, n] for (k, e), n in self.last_seq.items()], "gaps": self.gaps,
                "last_gap": self.last_gap}

    def restore(self, state: dict[str, Any]) -> None:
        for item in state.get("last_seq") or []:
            if (isinstance(item, list) and len(item) == 3 and item[0] in KINDS and isinstance(item[1], str)
                    and isinstance(item[2], int) and not isinstance(item[2], bool)):
                self.last_seq[(item[0], item[1])] = item[2]
        gaps = state.get("gaps")
        self.gaps = gaps if isinstance(gaps, int) and not isinstance(gaps, bool) and gaps >= 0 else 0
        self.last_gap = state.get("last_gap") if isinstance(state.get("last_gap"), dict) else None


class FederationImporter(Worker):
    """Reads what each partner shares with this node, verifies it and puts it into the picture."""

    def __init__(self, bus: Bus, agreements: AgreementStore, store: Any, node: str,
                 group: str = "federation-in", refresh_s: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("federation-in")
        self.bus, self.agreements, self.store, self.node = bus, agreements, store, node
        self.group, self.refresh_s, self.clock = group, refresh_s, clock
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._keys_read_s = float("-inf")
        self._consumers: dict[tuple[str, str], Consumer] = {}
        self._synced = float("-inf")
        self._purged = float("-inf")
        self.links: dict[str, _Link] = defaultdict(_Link)
        try:
            for partner, state in agreements.inbound_states().items():
                self.links[partner].restore(state)
        except Exception as exc:  # unreadable: numbering followed afresh (a gap across the restart goes unseen)
            log.error("could not read the inbound links' state: %s", exc)

    def invalidate(self) -> None:
        """Agreements changed: read them again now (a deleted partner's records are refused
        from this moment; its consumers close on the worker's next round)."""
        self._read_keys()
        with self._lock:
            self._synced = float("-inf")

    def _read_keys(self) -> dict[str, Ed25519PublicKey]:
        try:
            wanted = {a.partner: a.public_key for a in self.agreements.all() if a.public_key}
        except Exception as exc:  # unreadable: read from no one until they can be read
            log.error("could not read agreements: %s", exc)
            wanted = {}
        keys = {}
        for partner, pem in wanted.items():
            try:
                keys[partner] = partner_key(pem)
            except ValueError as exc:
                log.error("agreement with %s: %s", partner, exc)
        with self._lock:
            self._keys, self._keys_read_s = keys, time.monotonic()
        return keys

    def sync(self) -> None:
        """Consumers for exactly the partners whose agreement has a key."""
        keys = self._read_keys()
        with self._lock:
            self._synced = time.monotonic()
        for (partner, kind), consumer in list(self._consumers.items()):
            if partner not in keys:
                del self._consumers[(partner, kind)]
                consumer.close()
        for partner in keys:
            new = [kind for kind in KINDS if (partner, kind) not in self._consumers]
            if not new:
                continue
            # the inbound topics are made here (one partition, as the partner's outbound ones;
            # MirrorMaker uses them as they are): a consumer that joins its group before its
            # topic exists is assigned nothing, and may not notice the topic for minutes
            ensure_topics(self.bus, {inbound_topic(partner, self.node, kind): PARTNER_TOPIC for kind in new})
            for kind in new:
                self._consumers[(partner, kind)] = self.bus.consumer(
                    inbound_topic(partner, self.node, kind), f"{self.group}-{partner}-{kind}")

    def run(self) -> None:
        self.run_then_leave(self._loop, self._consumers.values)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if time.monotonic() - self._synced >= self.refresh_s:
                    self.sync()
                if not self._consumers:
                    self.stopping.wait(0.2)
                for (partner, kind), consumer in list(self._consumers.items()):
                    records = consumer.poll(timeout_s=0.05, max_records=_POLL)
                    if records:
                        self.take(partner, kind, [r.value for r in records])
                        self.bus.flush()
                        self._save(partner)
                        consumer.commit()
                        self.handled += len(records)
                if time.monotonic() - self._purged >= PURGE_EVERY_S:
                    self._purged = time.monotonic()
                    gone = self.store.purge_partner_data(self.clock())
                    if gone:
                        log.info("purged %d partner records past their retention", gone)
            except Exception:  # e.g. the broker away: not committed, so read again after the pause
                log.exception("federation import failed; retrying in 1 s")
                self.stopping.wait(1.0)

    def _save(self, partner: str) -> None:
        """The link's numbering, saved before its records are committed: after a restart the
        next record is compared with the last one taken (a repeat is harmless)."""
        link = self.links[partner]
        with self._lock:
            if not link.changed:
                return
            state, link.changed = link.state(), False
        self.agreements.save_inbound(partner, state)

    def take(self, partner: str, kind: str, values: list[Any]) -> list[str | None]:
        """Check each of ``partner``'s records from its ``kind`` topic; accept or refuse it.
        Per record: None (taken) or the reason it was refused."""
        with self._lock:
            key = self._keys.get(partner)
        link = self.links[partner]
        verdicts: list[str | None] = []
        for value in values:
            try:
                if key is None:
                    raise Refused(f"no agreement with a public_key for {partner!r}")
                accepted = self.accept(partner, kind, value, key, link)
            except Refused as exc:
                reason = str(exc)
                with self._lock:
                    link.refused[kind] += 1
                    link.last_refusal = reason
                log.warning("refused a %s record from %s: %s", kind, partner, reason)
                self.bus.publish(topics.DEADLETTER, f"federation:{partner}", {
                    "source": f"federation:{partner}", "reason": reason,
                    "topic": inbound_topic(partner, self.node, kind), "value": value, "received": self.clock()})
                verdicts.append(reason)
                continue
            verdicts.append(None)
            if accepted is not None:
                with self._lock:
                    link.received[kind] += 1
        return verdicts

    def take_pushed(self, partner: str, values: list[Any]) -> list[str | None]:
        """A partner's push over HTTPS (``POST /v1/federation/inbound``): its records, of any
        kind, checked as if read from its topics (the kind is the envelope's own), then handed
        on and the link's numbering saved.  ``PermissionError`` when no agreement holds a key
        for ``partner``: nothing of it is read."""
        with self._lock:
            known = partner in self._keys
            stale = time.monotonic() - self._keys_read_s >= 1.0
        if not known and stale:  # an agreement made this instant (read at most once a second)
            self._read_keys()
            with self._lock:
                known = partner in self._keys
        if not known:
            raise PermissionError(f"no agreement with a public_key for {partner!r}: nothing of it is taken")
        verdicts = []
        for value in values:
            envelope = value.get("envelope") if isinstance(value, dict) else None
            kind = envelope.get("kind") if isinstance(envelope, dict) else None
            verdicts += self.take(partner, kind if kind in KINDS else KINDS[0], [value])
        self.bus.flush()
        self._save(partner)
        return verdicts

    def accept(self, partner: str, kind: str, value: Any, key: Ed25519PublicKey, link: _Link) -> str | None:
        """Verify and check one record, put it into this node's flow; its local id, or None
        for a heartbeat.  ``Refused`` with the reason otherwise."""
        try:
            envelope = verify(value, key)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        if envelope.get("v") != ENVELOPE_VERSION:
            raise Refused(f"envelope version {envelope.get('v')!r}; this node reads {ENVELOPE_VERSION}")
        origin = envelope.get("origin")
        if not isinstance(origin, list) or not 1 <= len(origin) <= HOP_LIMIT + 1 \
                or not all(isinstance(n, str) and _NODE.fullmatch(n) for n in origin):
            raise Refused(f"origin must be the list of node ids the record came through, not {origin!r}")
        if origin[-1] != partner:
            raise Refused(f"the record's last hop is {origin[-1]!r}, not {partner!r} whose link it came on")
        if self.node in origin:
            raise Refused(f"a loop: this node ({self.node}) is already on the record's path {origin}")
        hops, sent_s = envelope.get("hops"), envelope.get("sent_s")
        if not isinstance(hops, int) or isinstance(hops, bool) or hops < 1:
            raise Refused(f"no hops left ({hops!r})")
        if not finite_number(sent_s):
            raise Refused(f"sent_s must be a time in seconds, not {sent_s!r}")
        now = self.clock()
        with self._lock:
            link.last_heard_s, link.lag_s = now, round(max(0.0, now - sent_s), 3)
        what = envelope.get("kind")
        if what == "heartbeat":
            return None
        if what != kind:
            raise Refused(f"a {what!r} record on the {kind} topic")
        tokens = envelope.get("releasability")
        if not isinstance(tokens, list) or not tokens \
                or not all(isinstance(t, str) and _TOKEN.fullmatch(t) for t in tokens):
            raise Refused("shared under no releasability token: no one here could see it")
        retention = envelope.get("retention_s")
        if not isinstance(retention, int) or isinstance(retention, bool) \
                or not RETENTION_MIN_S <= retention <= RETENTION_MAX_S:
            raise Refused(f"retention_s must be whole seconds from {RETENTION_MIN_S} to {RETENTION_MAX_S}")
        expires_s = sent_s + retention
        if expires_s <= now:
            raise Refused("older than the retention its node allowed")
        record = envelope.get("record")
        if not isinstance(record, dict):
            raise Refused("no record in the envelope")
        # how many more links this record may travel from here (0: it stays here)
        onward_hops = hops - 1 if envelope.get("onward") is True else 0
        mark = {"origin": origin, "expires_s": expires_s, "onward_hops": onward_hops}
        local = getattr(self, f"_{kind}")(origin[0], record, tokens, mark)
        with self._lock:
            link.count(kind, envelope.get("epoch"), envelope.get("seq"), now)
        return local

    def _tracks(self, source: str, record: dict[str, Any], tokens: list[str], mark: dict[str, Any]) -> str:
        tid = _text(record, "track_id", "track")
        _time(record, "time", "track")
        lat, lon = record.get("lat"), record.get("lon")
        if not (finite_number(lat) and finite_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise Refused(f"track {tid!r} has no position (lat {lat!r}, lon {lon!r})")
        line = _clean_track(record, tid)
        local = f"{source}:{tid}"
        line.update(track_id=local, partner_track_id=tid, sensors=[], stations=[], releasability=tokens, **mark)
        self.bus.publish(topics.TRACKS, local, line)
        return local

    def _alerts(self, source: str, record: dict[str, Any], tokens: list[str], mark: dict[str, Any]) -> str:
        aid = _text(record, "alert_id", "alert")
        kind_ = record.get("type")
        if not isinstance(kind_, str) or not 0 < len(kind_) <= 32:
            raise Refused(f"alert {aid!r}: type must be 1 to 32 characters, not {kind_!r:.40}")
        if record.get("severity") not in SEVERITIES:
            raise Refused(f"alert {aid!r}: severity must be one of {', '.join(SEVERITIES)}")
        if not isinstance(record.get("summary"), str):
            raise Refused(f"alert {aid!r} has no summary")
        _time(record, "time", "alert")
        for name in ("lat", "lon"):
            _optional(record, name, finite_number, "a number", "alert")
        _optional(record, "mmsi", _integer, "a whole number", "alert")
        _optional(record, "zone", lambda v: isinstance(v, str) and len(v) <= 128, "text of at most 128 characters",
                  "alert")
        evidence = record.get("evidence") if isinstance(record.get("evidence"), dict) else {}
        line = {k: record.get(k) for k in ("type", "severity", "time", "mmsi", "lat", "lon", "zone", "summary")}
        local = f"{source}:{aid}"
        evidence = {**evidence, "releasability": tokens, "partner_alert_id": aid}
        mmsi = record.get("mmsi")
        if isinstance(mmsi, int) and not isinstance(mmsi, bool):
            mine = self.store.local_track_of(mmsi)
            if mine is not None:
                evidence["local_track_id"] = mine
        tid = record.get("track_id")
        line.update(alert_id=local, evidence=evidence,
                    track_id=f"{source}:{tid}" if isinstance(tid, str) and 0 < len(tid) <= 64 else None,
                    state=record.get("state") if record.get("state") in TERMINAL else "open", **mark)
        self.bus.publish(topics.ALERTS, local, line)
        return local

    def _incidents(self, source: str, record: dict[str, Any], tokens: list[str], mark: dict[str, Any]) -> str:
        iid = _text(record, "incident_id", "incident")
        state = record.get("state")
        if state not in (*STATES, *TERMINAL):
            raise Refused(f"incident {iid!r}: state must be one of {', '.join((*STATES, *TERMINAL))}, "
                          f"not {state!r:.40}")
        created_s = _time(record, "created", "incident")
        updated_s = _time(record, "updated", "incident") if record.get("updated") else created_s
        local = f"{source}:{iid}"

        def ids(name: str) -> list[str]:
            got = record.get(name)
            return [f"{source}:{i}" for i in got if isinstance(i, str)] if isinstance(got, list) else []

        category = record.get("category") if record.get("category") in CATEGORIES else "other"
        line = {"incident_id": local, "category": category, "title": record.get("title"),
                "summary": record.get("summary"), "alert_ids": ids("alert_ids"), "track_ids": ids("track_ids"),
                "releasability": tokens, "releasability_effective": tokens, "state": state,
                "created_by": source, "created_s": created_s, "updated_s": updated_s,
                "origin": mark["origin"], "expires_s": mark["expires_s"]}
        self.store.put_partner_incident(line)
        stored = self.store.incident(local)
        if stored is not None:
            self.bus.publish(topics.INCIDENTS, local, stored)
        return local

    def status(self) -> list[dict[str, Any]]:
        """One inbound link per partner whose agreement has a key (``GET /v1/federation``)."""
        now, alive = self.clock(), self.is_alive()
        with self._lock:
            partners = sorted(self._keys)
            out = []
            for p in partners:
                link = self.links[p]
                heard = link.last_heard_s
                down = not alive or heard is None or now - heard > LINK_DOWN_S
                lag = None if down else link.lag_s
                state = "down" if down else "catching_up" if (lag or 0.0) > CATCHING_UP_S else "up"
                out.append({"partner": p, "direction": "in", "state": state,
                            "shared": sum(link.received.values()), "withheld": 0,
                            "refused": sum(link.refused.values()), "lag_s": lag,
                            "by_kind": {"received": dict(link.received), "refused": dict(link.refused)},
                            "last_heard": None if heard is None else iso_time(heard),
                            "last_refusal": link.last_refusal, "gaps": link.gaps, "last_gap": link.last_gap})
        return out
