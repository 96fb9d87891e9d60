"""FeedOrder: a backlog polled unevenly from several partitions comes out in feed-time order,
each partition's records in offset order and none lost or doubled."""

from __future__ import annotations

import random

from services.bus.core import Record
from services.bus.feed_order import FeedOrder


def backlog(rng: random.Random, partitions: int, per_partition: list[int]) -> dict[int, list[Record]]:
    """Each partition: records at random increasing feed times over an hour (its own rate)."""
    out = {}
    for p in range(partitions):
        times = sorted(rng.uniform(0, 3600) for _ in range(per_partition[p]))
        out[p] = [Record("mfc.obs", None, {"time_s": 1_795_000_000 + t}, k, p) for k, t in enumerate(times)]
    return out


def test_uneven_polls_of_six_partitions_come_out_in_feed_time_order():
    rng = random.Random(4)
    parts = backlog(rng, 6, [4000, 300, 2500, 50, 1200, 800])
    cursor = {p: 0 for p in parts}
    order, released = FeedOrder(), []
    while any(cursor[p] < len(parts[p]) for p in parts) or order:
        # a poll brings a big chunk of some partitions and nothing of others (as Kafka's fetcher does)
        for p in rng.sample(sorted(parts), 2):
            take = rng.randint(0, 1500)
            order.add(parts[p][cursor[p]:cursor[p] + take])
            cursor[p] = min(len(parts[p]), cursor[p] + take)
        waiting = {p: len(parts[p]) - cursor[p] for p in parts}
        batch = order.release(waiting)
        released.append(batch)
    flat = [r for batch in released for r in batch]
    assert sorted((r.partition, r.offset) for r in flat) == sorted((r.partition, r.offset) for p in parts.values()
                                                                    for r in p)
    # across batches, no record is older than one already handed on (the tracker's feed time)
    newest = float("-inf")
    for batch in released:
        assert all(r.value["time_s"] >= newest for r in batch)
        if batch:
            newest = max(r.value["time_s"] for r in batch)
    # per partition, offsets are handed on in order and each batch's are contiguous (the journal's ranges)
    for p in parts:
        offsets = [r.offset for r in flat if r.partition == p]
        assert offsets == list(range(len(parts[p])))


def test_with_the_waiting_counts_unknown_everything_goes():
    order = FeedOrder()
    records = [Record("mfc.obs", None, {"time_s": 10.0 - k}, k, k % 2) for k in range(6)]
    order.add(records)
    assert len(order.release(None)) == 6 and not order
