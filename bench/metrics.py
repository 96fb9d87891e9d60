"""Benchmark results: GOSPA per scan (the metric itself is ``services/scenario/gospa.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.scenario.gospa import Gospa, gospa  # noqa: F401  (re-exported for the benchmarks)


@dataclass(frozen=True, slots=True)
class RunResult:
    """One tracker's run over a radar scenario's first ``scans`` scans."""
    seconds: float        # tracker loop only (process CPU time)
    detections: int       # detections fed
    scans: int            # scans fed
    per_scan: list[Gospa]  # GOSPA of each scan after the burn-in

    @property
    def rate(self) -> float:
        return self.detections / self.seconds if self.seconds > 0 else float("nan")

    @property
    def mean(self) -> Gospa:
        return mean_gospa(self.per_scan)


def mean_gospa(values: list[Gospa]) -> Gospa:
    """Component-wise mean over scans (counts become mean counts)."""
    if not values:
        return Gospa(*[float("nan")] * 6)
    arr = np.array([[g.total, g.localisation, g.missed, g.false, g.n_missed, g.n_false]
                    for g in values])
    mean = arr.mean(axis=0)
    return Gospa(*map(float, mean))
