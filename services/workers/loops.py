"""Long-running loops: fusion (mfc.obs → tracks) and store (tracks/alerts → database).

Each loop polls a batch, handles it fully, publishes, then commits its offset
(at-least-once; the effects are idempotent).  A bad record goes to the
dead-letter topic with its reason and the loop goes on.
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import threading
import time
from collections.abc import Iterable
from typing import Any, Callable

from fusion.model import Observation
from fusion.pipeline import Fusion
from services.access.workflow import SuppressionCache
from services.bus import topics
from services.bus.core import Bus, consumer_waiting_for_broker
from services.bus.feed_order import FeedOrder
from services.delivery.broadcast import Broadcaster
from services.delivery.conflation import Conflator
from services.state.checkpoint import Checkpoint, CheckpointSuperseded
from services.store.sql import Store

log = logging.getLogger("mfc.workers")

_BATCH = 5000  # observations per poll of mfc.obs (records of one, or a poll's worth of batches)


class Worker(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()
        self.handled = 0

    def stop(self) -> None:
        self.stopping.set()

    def run_then_leave(self, loop: Callable[[], None], consumers: Callable[[], Iterable[Any]]) -> None:
        """Run ``loop``; when it ends, close ``consumers()``: they leave their groups at once, so
        a successor (another process, or this one restarted) need not wait for them to time out."""
        try:
            loop()
        finally:
            for consumer in list(consumers()):
                consumer.close()


_KINDS = ("ais_position", "ais_static", "radar_plot", "radar_track")
_NUMBERS = ("sigma_m", "sog_kn", "cog_deg", "heading_deg", "receive_time_s")
_INTEGERS = ("nav_status", "imo", "ship_type", "msg_type")
_TEXTS = ("ais_class", "name", "callsign", "local_id", "station")


def finite_number(value: object) -> bool:
    """A JSON number that is finite (not a bool, not NaN or infinite)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def observation_from_value(value: dict) -> Observation:
    """An ``mfc.obs`` record's value as an ``Observation``; ``ValueError`` (with the reason) if it is not one.

    Checked here, at the boundary, so that one bad record (a foreign producer, a bug) goes to
    ``mfc.deadletter`` instead of stopping the tracker on every restart.
    """
    if "_undecodable" in value:
        raise ValueError(str(value.get("_reason", "undecodable value")))
    kind = value.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(_KINDS)}")
    if not isinstance(value.get("sensor_id"), str) or not value["sensor_id"]:
        raise ValueError("sensor_id must be a non-empty string")
    if not finite_number(value.get("time_s")):
        raise ValueError(f"time_s must be a finite number, not {value.get('time_s')!r}")
    if kind != "ais_static":
        lat, lon = value.get("lat"), value.get("lon")
        if not (finite_number(lat) and finite_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"a {kind} needs lat/lon in range, not {lat!r}/{lon!r}")
    mmsi = value.get("mmsi")
    if kind.startswith("ais") and (not isinstance(mmsi, int) or isinstance(mmsi, bool)):
        raise ValueError(f"a {kind} needs an integer mmsi, not {mmsi!r}")
    if mmsi is not None and (not isinstance(mmsi, int) or isinstance(mmsi, bool)):
        raise ValueError(f"mmsi must be an integer, not {mmsi!r}")
    for name in _NUMBERS:
        if value.get(name) is not None and not finite_number(value[name]):
            raise ValueError(f"{name} must be a finite number, not {value[name]!r}")
    if "sigma_m" in value and not value["sigma_m"] > 0:
        raise ValueError(f"sigma_m must be positive, not {value['sigma_m']!r}")
    for name in _INTEGERS:
        if value.get(name) is not None and (not isinstance(value[name], int) or isinstance(value[name], bool)):
            raise ValueError(f"{name} must be an integer, not {value[name]!r}")
    for name in _TEXTS:
        if value.get(name) is not None and not isinstance(value[name], str):
            raise ValueError(f"{name} must be a string, not {value[name]!r}")
    return Observation.from_dict(value)


class FusionOwnershipError(RuntimeError):
    """This fusion member must not fuse: it lost its partitions, or its state is not the group's."""


class FusionWorker(Worker):
    """Runs tracker and rules over ``mfc.obs``, publishing ``mfc.tracks`` and ``mfc.alerts``.

    With a clock, live time passes between batches (tracks coast when a feed stops), but
    only once the worker has caught up: while the consumer is behind (a restart, an outage,
    a backfill published at once: a full batch, or records still waiting on the topic) the
    backlog is read in feed time, so none of it is too late for the tracker; the worker
    joins the clock when it has read everything there is (``catching_up`` tells which).
    Records of several partitions are handed to the tracker in feed-time order (``FeedOrder``),
    and only the offsets of records handled are committed.

    With a checkpoint, the worker is restartable after a crash without a second track or
    alert.  The fusion state and the input offsets it covers are saved together every
    ``checkpoint_every_s`` and at a graceful stop, and only then are the offsets committed.
    Between checkpoints, each batch is written to the checkpoint's journal (which offsets of
    which partitions, in which order, and the clock time it advanced to) *before* its track
    lines and alerts are published.  After a crash the worker reloads the state and replays
    the journal: the same records in the same batches, so the same outputs under the same
    ids (published again: the compacted track topic and the store keep one of each).  Only
    then does it go on with new records.  Without the journal a restarted worker would read
    the partitions interleaved differently, number the tracks differently and leave the
    tracks it had published before the crash behind as ghosts.
    """

    def __init__(self, bus: Bus, fusion: Fusion, clock: Callable[[], float] | None = None,
                 group: str = "fusion", checkpoint: Checkpoint | None = None,
                 checkpoint_every_s: float = 10.0, fresh: Callable[[], Fusion] | None = None,
                 conflate_s: float = 0.0) -> None:
        super().__init__("fusion")
        self.conflator = Conflator(conflate_s)  # 0: every track line is published (``services.delivery.conflation``)
        self.bus, self.clock, self.checkpoint = bus, clock, checkpoint
        self.fusion = fusion
        self.covered: dict[int, int] = {}  # partition → next offset the state holds
        self._journal: list[dict] = []
        self._fresh = fresh  # a Fusion to restore a checkpoint into, for a standby taking over
        self._loaded = None  # the checkpoint files as they were when the state was loaded
        if checkpoint is not None:
            saved = checkpoint.load(fusion)
            if saved is not None:
                self.fusion, self.covered = saved
            self._journal = checkpoint.journal()
            self._loaded = checkpoint.stamp()
        self.every_s = checkpoint_every_s
        # With a checkpoint (``mfc fusion``) one member of the group owns every partition and
        # the others stand by (``SingleOwnerAssignor``): the picture is one state, never split.
        self.single_owner = checkpoint is not None
        self.role = "starting"  # "standby" while another member owns mfc.obs, then "active"
        self._owned: set[int] = set()
        self.consumer = consumer_waiting_for_broker(bus, topics.OBS, group, single_owner=self.single_owner)
        self._controls: queue.SimpleQueue[Callable[[Fusion], object]] = queue.SimpleQueue()
        self._held: dict[int, collections.deque] = {}  # polled, not yet handled (journal replay)
        self.replayed = 0  # batches replayed from the journal at start
        self.catching_up = False  # reading a backlog in feed time (the clock waits)
        self._order = FeedOrder()  # polled, waiting for the other partitions to catch up in feed time
        self._waiting: dict[int, int] | None = {}  # per partition: records not polled yet
        self._full = False  # the last poll brought a full batch
        self._per_record = 1.0  # observations per record of mfc.obs, lately

    def control(self, action: Callable[[Fusion], object], wait_s: float = 5.0) -> bool:
        """Run ``action(fusion)`` on the fusion thread between two batches (e.g. add a zone).

        Waits until it ran (at most ``wait_s``) so that a caller can promise it applies to
        every observation published afterwards; False if the worker did not get to it in time.
        """
        done = threading.Event()

        def run(fusion: Fusion) -> None:
            try:
                action(fusion)
            finally:
                done.set()

        self._controls.put(run)
        if not self.is_alive():
            return False
        return done.wait(wait_s)

    def run(self) -> None:
        last_tick = last_save = time.monotonic()
        clean = False
        try:
            if self.single_owner and not self._wait_to_own():
                return  # stopped while standing by: it never touched the state or the offsets
            if not self._replay_journal():
                return  # stopped during the replay: the journal stays for the next start
            while not self.stopping.is_set():
                while not self._controls.empty():
                    self._controls.get()(self.fusion)
                records = self._poll()
                if self.single_owner:
                    self._still_owner()
                advance = None
                if self.clock is not None and time.monotonic() - last_tick >= 1.0 and self._caught_up(records):
                    last_tick = time.monotonic()
                    advance = self.clock()
                self._batch(records, advance)
                if self.checkpoint is None:
                    if records:
                        self._commit()
                else:
                    self._saved()
                    if time.monotonic() - last_save >= self.every_s and not self.checkpoint.saving:
                        self._save(background=True)
                        last_save = time.monotonic()
            clean = True
        except FusionOwnershipError as exc:
            log.error("fusion: %s", exc)  # the thread ends: the process exits 1 (``run_until_signalled``)
        finally:
            # Save only after a clean stop: after a failure (e.g. the bus did not take a batch's
            # lines) the state may hold work whose outputs were never delivered; the journal
            # and the last checkpoint recover it on the next start.
            if clean and self.checkpoint is not None:
                self._save()
            elif clean:
                for track_id, value in self.conflator.flush():
                    self.bus.publish(topics.TRACKS, track_id, value)
            if self.checkpoint is not None:
                self.checkpoint.close()
            self.consumer.close()

    # ------------------------------------------------------------ one owner, standbys
    def _wait_to_own(self) -> bool:
        """Poll until this member owns partitions of ``mfc.obs`` (at once when it is the group's
        only member; a standby while another owns them, until that one leaves the group); then
        take the state over.  False if stopped first."""
        while not self.stopping.is_set():
            polled = self.consumer.poll(timeout_s=0.5, max_records=_BATCH)
            owned = self.consumer.partitions()
            if owned:
                self._take_over(polled, owned)
                return True
            if owned is not None and self.role != "standby":  # in the group, given nothing
                self.role = "standby"
                log.warning("fusion: standby: another member of the group owns mfc.obs; this one takes over "
                            "when it leaves (it must share this member's checkpoint, %s)", self.checkpoint.path)
        return False

    def _take_over(self, polled: list, owned: set[int]) -> None:
        """Become the owner: the state the previous owner left (its checkpoint and journal, when
        they changed since this member loaded them), which must cover what the group committed."""
        assert self.checkpoint is not None
        was_standby = self.role == "standby"
        if self.checkpoint.stamp() != self._loaded:
            if self._fresh is None:
                raise FusionOwnershipError("the checkpoint changed since it was loaded and there is no "
                                           "fresh state to restore it into")
            saved = self.checkpoint.load(self._fresh())
            if saved is not None:
                self.fusion, self.covered = saved
            self._journal = self.checkpoint.journal()
            self._loaded = self.checkpoint.stamp()
            log.warning("fusion: taking over: state of generation %d reloaded from %s, %d journal batches to "
                        "redo", self.checkpoint.generation, self.checkpoint.path, len(self._journal))
        committed = self.consumer.committed_offsets()
        gap = {p: (self.covered.get(p, 0), c) for p, c in sorted(committed.items()) if c > self.covered.get(p, 0)}
        if gap:
            raise FusionOwnershipError(
                "the state in " + str(self.checkpoint.path) + " does not cover what the group already fused "
                "(partition: state's offset < committed offset: "
                + ", ".join(f"{p}: {a} < {b}" for p, (a, b) in gap.items()) + "). Every member of a fusion "
                "group must share one checkpoint (MFC_CHECKPOINT on a shared volume); fusing on from this "
                "state would number tracks and alerts anew over the published ones. To start an empty "
                "picture, use a new MFC_KAFKA_PREFIX or reset the group's offsets.")
        for r in polled:  # from the committed offsets: the journal replay takes them first
            self._held.setdefault(r.partition, collections.deque()).append(r)
        self._owned = set(owned)
        self.role = "active"
        (log.warning if was_standby else log.info)("fusion: %s partitions %s of mfc.obs", "took over" if was_standby
                                                   else "owns", ",".join(map(str, sorted(owned))))

    def _still_owner(self) -> None:
        """Stop at once (no checkpoint, no commit) if a rebalance took partitions away: another
        member owns them now (this one was presumed dead, e.g. paused beyond the session
        timeout), and two owners would publish two pictures."""
        owned = self.consumer.partitions()
        if owned is None or owned >= self._owned:
            if owned:
                self._owned = set(owned)  # partitions added to the topic
            return
        raise FusionOwnershipError(f"partitions {sorted(self._owned - owned)} of mfc.obs were given to another "
                                   "member of the group: stopping without saving (it continues from the "
                                   "checkpoint and journal); started again, this member stands by")

    def _fence(self) -> None:
        """Before writing the checkpoint or its journal: stop if another member wrote them since
        this one did (it took the partitions over while this one was paused beyond the session
        timeout, and this one has not polled since to learn it): its state is the picture now."""
        if self.single_owner and self.checkpoint is not None and self._changed():
            raise FusionOwnershipError(f"another member of the group wrote {self.checkpoint.path} since this one "
                                       "did: it owns mfc.obs now; stopping without saving or publishing")

    def _changed(self) -> bool:
        """Whether the checkpoint or journal changed since this member wrote or loaded them (while
        its own background save runs, the checkpoint is its child's to change: the journal tells)."""
        stamp = self.checkpoint.stamp()
        if self.checkpoint.saving:
            return stamp[1] != self._loaded[1]
        return stamp != self._loaded

    def _batch(self, records: list, advance: float | None, journal: bool = True) -> None:
        """Handle one batch: records (already in partition, offset order) then the clock."""
        fresh = [r for r in records if r.offset >= self.covered.get(r.partition, 0)]
        if journal and self.checkpoint is not None and (fresh or advance is not None):
            ranges: dict[int, list[int]] = {}
            for r in fresh:
                span = ranges.setdefault(r.partition, [r.offset, r.offset + 1])
                span[1] = r.offset + 1
            self._fence()
            self.checkpoint.append_journal({"ranges": [[p, a, b] for p, (a, b) in sorted(ranges.items())],
                                            "advance": advance})
            self._loaded = self.checkpoint.stamp()
        observations = self._observations(fresh)
        lines, alerts = self.fusion.update(observations)
        if advance is not None:
            more_lines, more_alerts = self.fusion.advance(advance)
            lines, alerts = lines + more_lines, alerts + more_alerts
        self._publish(lines, alerts)
        self.handled += len(observations)

    def _poll(self) -> list:
        """The next records to handle: polled, then released in feed-time order across partitions."""
        wanted = max(1, round(_BATCH / self._per_record))
        polled = self.consumer.poll(timeout_s=0.05 if self._order else 0.2, max_records=wanted)
        if polled:  # records hold one observation or a batch: a poll takes about _BATCH observations
            held = sum(len(v["observations"]) if isinstance(v.get("observations"), list) else 1
                       for v in (r.value for r in polled))
            self._per_record = max(1.0, 0.5 * self._per_record + 0.5 * held / len(polled))
        self._order.add(polled)
        self._full = len(polled) >= wanted
        lags = getattr(self.consumer, "lags", None)
        self._waiting = lags() if lags is not None else {}  # None: not known yet (a Kafka group joining)
        return self._order.release(self._waiting)

    def _commit(self) -> None:
        """Commit the offsets of the records handled (not of those held back by ``FeedOrder``)."""
        self.consumer.commit(upto=self.covered)

    def _caught_up(self, records: list) -> bool:
        """Whether the consumer has read all there is (then live time is the clock's)."""
        waiting = self._waiting
        behind = self._full or bool(self._order) or waiting is None or sum(waiting.values()) > 0
        if behind != self.catching_up:
            self.catching_up = behind
            log.info("fusion: %s", "behind: reading the backlog in feed time" if behind
                     else "caught up: on the live clock")
        return not behind

    def _replay_journal(self, timeout_s: float = 300.0) -> bool:
        """Redo the batches the journal lists, exactly as before the crash; False if stopped first."""
        for entry in self._journal:
            batch = []
            for partition, start, end in entry["ranges"]:
                q = self._held.setdefault(partition, collections.deque())
                deadline = time.monotonic() + timeout_s
                while not (q and q[-1].offset >= end - 1):
                    if self.stopping.is_set():
                        return False
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"journal replay: offsets {start}..{end - 1} of partition "
                                           f"{partition} did not come back within {timeout_s:.0f} s")
                    for r in self.consumer.poll(timeout_s=0.5, max_records=5000):
                        self._held.setdefault(r.partition, collections.deque()).append(r)
                while q and q[0].offset < end:
                    r = q.popleft()
                    if r.offset >= start:
                        batch.append(r)
            self._batch(batch, entry.get("advance"), journal=False)
            self.replayed += 1
        for q in self._held.values():  # polled beyond the journal: handled next, in feed-time order
            self._order.add(q)
        self._held.clear()
        if self._journal:
            log.warning("fusion: replayed %d batches from the journal after an unclean stop", self.replayed)
            self._journal = []
        return True

    def _observations(self, records: list) -> list[Observation]:
        observations = []
        for rec in records:
            self.covered[rec.partition] = rec.offset + 1
            try:
                items = topics.observations_in(rec.value)
            except ValueError as exc:
                self.bus.publish(topics.DEADLETTER, "fusion", {
                    "topic": rec.topic, "partition": rec.partition, "offset": rec.offset,
                    "value": rec.value, "reason": f"not an observation batch: {exc}"})
                continue
            batch = items is not rec.value  # one bad item of a batch costs that item only
            for i, value in enumerate(items):
                try:
                    if not isinstance(value, dict):
                        raise TypeError(f"an observation is a JSON object, not {type(value).__name__}")
                    observations.append(observation_from_value(value))
                except (TypeError, ValueError) as exc:
                    dead = {"topic": rec.topic, "partition": rec.partition, "offset": rec.offset,
                            "value": value, "reason": f"not an observation: {exc}"}
                    if batch:
                        dead["item"] = i
                    self.bus.publish(topics.DEADLETTER, "fusion", dead)
        observations.sort(key=lambda o: o.time_s)
        return observations

    def _publish(self, lines: list, alerts: list) -> None:
        offer, wall = self.conflator.offer, time.monotonic()
        for line in lines:
            value = line.to_dict()
            if offer(line.track_id, value, line.time_s, wall):
                self.bus.publish(topics.TRACKS, line.track_id, value)
        for track_id, value in self.conflator.due(wall):
            self.bus.publish(topics.TRACKS, track_id, value)
        for alert in alerts:
            self.bus.publish(topics.ALERTS, alert.alert_id, alert.to_dict())
        if self.checkpoint is None:
            self.bus.flush()  # the offsets are committed next: what they cover must be delivered
        # With a checkpoint the producer sends on its own (within its linger); the offsets are
        # committed only after a save, which flushes first, and a batch whose lines a crash lost
        # is in the journal, redone at the restart.  (A flush per batch waited for the broker's
        # acknowledgement: 40 ms a batch.)

    def _save(self, background: bool = False) -> None:
        """Save the state and the offsets it covers, then commit them.  ``background``: from a
        forked child while fusion goes on (``Checkpoint.save_in_background``: the pause was 2.6 s
        at 5,000 vessels), the offsets committed when it has finished (``_saved``)."""
        assert self.checkpoint is not None
        self._fence()
        for track_id, value in self.conflator.flush():  # the published picture is the state saved
            self.bus.publish(topics.TRACKS, track_id, value)
        self.bus.flush()
        if background and self.checkpoint.save_in_background(self.fusion, self.covered):
            return
        self._saved(wait=True)
        self.checkpoint.save(self.fusion, self.covered)
        self._loaded = self.checkpoint.stamp()
        self._commit()

    def _saved(self, wait: bool = False) -> None:
        """A background save that has finished: its files are this member's, its offsets committed."""
        if self.checkpoint is None or not self.checkpoint.saving:
            return
        try:
            covered = self.checkpoint.finished(wait=wait)
        except CheckpointSuperseded as exc:
            raise FusionOwnershipError(f"{exc}: another member owns mfc.obs now; stopping without saving "
                                       "or publishing") from exc
        if not self.checkpoint.saving:
            self._loaded = self.checkpoint.stamp()
            if covered is not None:
                self.consumer.commit(upto=covered)


class StoreWorker(Worker):
    """Writes track lines and alerts into the store, and hands them (and incidents) to the stream.

    An alert a suppression holds back (``services.access.workflow``) is stored, marked and counted,
    and not streamed; when the suppression runs out, the alerts it held that are still live
    are published again on ``mfc.alerts`` (raised: queue, stream, agency topics, webhooks)."""

    def __init__(self, bus: Bus, store: Store, group: str = "store", keep_history_s: float = 86_400.0,
                 clock: Callable[[], float] = time.time, broadcaster: Broadcaster | None = None,
                 suppressions: SuppressionCache | None = None) -> None:
        super().__init__("store")
        self.bus, self.store, self.broadcaster = bus, store, broadcaster
        self.keep_history_s, self.clock = keep_history_s, clock
        self.suppressions = suppressions or SuppressionCache(store, clock)
        self._pruned = 0.0
        self._released = 0.0
        self.tracks = bus.consumer(topics.TRACKS, f"{group}-tracks")  # one group per topic
        self.alerts = bus.consumer(topics.ALERTS, f"{group}-alerts")
        self.incidents = bus.consumer(topics.INCIDENTS, f"{group}-incidents")

    def run(self) -> None:
        self.run_then_leave(self._loop, lambda: (self.tracks, self.alerts, self.incidents))

    def _loop(self) -> None:
        while not self.stopping.is_set():
            t_recs = self.tracks.poll(timeout_s=0.2, max_records=5000)
            a_recs = self.alerts.poll(timeout_s=0.05, max_records=1000)  # Kafka needs time in poll to join
            i_recs = self.incidents.poll(timeout_s=0.02, max_records=1000)
            held = self._held([r.value for r in a_recs])
            while not self._write(t_recs, a_recs, held):
                if self.stopping.wait(1.0):
                    return
            if self.broadcaster is not None:
                # history points (``late``) are not live events: they go to the store only
                self.broadcaster.publish("track", [r.value for r in t_recs if not r.value.get("late")])
                self.broadcaster.publish("alert", [r.value for r in a_recs
                                                   if r.value.get("alert_id") not in held])
                self.broadcaster.publish("incident", [r.value for r in i_recs])  # stored by the API
            if t_recs:
                self.tracks.commit()
            if a_recs:
                self.alerts.commit()
            if i_recs:
                self.incidents.commit()
            self.handled += len(t_recs) + len(a_recs) + len(i_recs)
            if time.monotonic() - self._released >= 1.0:
                self._released = time.monotonic()
                self._write_safely(self._release_expired)
            if time.monotonic() - self._pruned > 600:
                self._pruned = time.monotonic()
                self._write_safely(lambda: self.store.prune_history(self.clock() - self.keep_history_s))

    def _held(self, values: list) -> dict[str, tuple[str, float]]:
        held = {}
        for value in values:
            if isinstance(value, dict) and "alert_id" in value:
                supp = self.suppressions.holding(value)
                if supp is not None:
                    held[value["alert_id"]] = (supp["id"], supp["until_s"])
        return held

    def _release_expired(self) -> None:
        """Raise again the live alerts of the suppressions that ran out (each expiry once)."""
        for sid in self.store.claim_expired(self.clock()):
            for alert in self.store.held_by(sid):
                self.bus.publish(topics.ALERTS, alert["alert_id"], alert)
            self.bus.flush()

    def _write(self, t_recs: list, a_recs: list, held: dict[str, tuple[str, float]] | None = None) -> bool:
        return self._write_safely(lambda: (self.store.write_tracks(r.value for r in t_recs),
                                           self.store.write_alerts((r.value for r in a_recs), held)))

    def _write_safely(self, action: Callable[[], object]) -> bool:
        try:
            action()
            return True
        except Exception as exc:  # a store fault must not kill the loop: the caller retries
            log.error("store write failed, will retry: %s", exc)
            return False
