"""Records of several partitions handed on in feed-time order.

A backlog on a Kafka topic with several partitions does not come back in time order: one
poll may bring an hour of one partition and the first minutes of another.  Fed as it comes,
the tracker's feed time would run ahead with the first partition and the others would be
too late.  ``FeedOrder`` holds polled records per partition and releases, from each, the
records no later than the newest record of the partition that is furthest behind (among
those that still have records held or waiting on the broker): a k-way merge by feed time
with a watermark.  Within a partition the order is kept, so the records released from one
partition are always a prefix of what it polled (its offsets stay contiguous).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping


def _time(value: object) -> float:
    t = value.get("time_s") if isinstance(value, dict) else None
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) else -math.inf


def feed_time(record: object) -> float:
    """An ``mfc.obs`` record's feed time: its observation's time, a batch's latest (minus
    infinity if it has none: handled first)."""
    value = getattr(record, "value", None)
    if isinstance(value, dict) and isinstance(value.get("observations"), list):
        return max(map(_time, value["observations"]), default=-math.inf)
    return _time(value)


class FeedOrder:
    def __init__(self) -> None:
        self.held: dict[int, collections.deque] = {}  # per partition: (feed time, record)
        self.newest_s: dict[int, float] = {}  # per partition: the latest feed time polled from it

    def __bool__(self) -> bool:
        return any(self.held.values())

    def __len__(self) -> int:
        return sum(len(q) for q in self.held.values())

    def add(self, records: Iterable) -> None:
        for r in records:
            t = feed_time(r)
            self.held.setdefault(r.partition, collections.deque()).append((t, r))
            if t > self.newest_s.get(r.partition, -math.inf):
                self.newest_s[r.partition] = t

    def release(self, waiting: Mapping[int, int] | None) -> list:
        """The records that can go now, in (partition, offset) order.

        ``waiting``: per partition, how many records are still on the broker, not polled; None
        when unknown (then everything held goes, as if there were one partition)."""
        if waiting is None:
            return self.take_all()
        bounds = [self.newest_s[p] for p, q in self.held.items() if q]
        bounds += [self.newest_s.get(p, -math.inf) for p, n in waiting.items() if n > 0 and not self.held.get(p)]
        if not bounds:
            return []
        watermark = min(bounds)
        out = []
        for q in self.held.values():
            while q and q[0][0] <= watermark:
                out.append(q.popleft()[1])
        return sorted(out, key=lambda r: (r.partition, r.offset))

    def take_all(self) -> list:
        out = sorted((r for q in self.held.values() for _, r in q), key=lambda r: (r.partition, r.offset))
        self.held.clear()
        return out
