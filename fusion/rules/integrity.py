"""``sensor_integrity``: an AIS receiver whose timestamps cannot be trusted.

One transmission is heard by every receiver in range, and each stamps it with its own clock: the
same position report (same MMSI, position, speed and course: a moving vessel never repeats them)
from two receivers gives the offset between their clocks.  Per pair of receivers the rule keeps
the latest offsets and their median; a receiver whose median offset against every peer it shares
traffic with (at least two peers that agree among themselves, or its only peer) is beyond
``integrity_clock_offset_s`` raises an alert:

- a **clock offset** (tens of seconds to minutes): the receiver's clock is wrong, and its reports
  are placed at the wrong time (the picture lags or leads, and speed jumps follow);
- **replayed traffic** (beyond ``integrity_replay_s``): the receiver sends reports that were
  transmitted long before (a recording played back, a looped or duplicated feed).

A receiver that repeats its own reports long after (no peer needed) is replayed traffic too.
A receiver singled out with a wrong clock (its peers agree among themselves) is **corrected**
(``integrity_correct_clock``): its reports reach the tracker at their time minus the measured
offset, so its vessels are placed where they were when they transmitted; the rule keeps measuring
the raw stamps, and the correction follows the offset as it drifts and ends with the episode.
Two receivers that only disagree with each other are not corrected (which one is wrong is
unknown).  A receiver is judged again after ``_JUDGE_EVERY_S`` of feed time or ``_JUDGE_EVERY_N`` new samples.
A **drifting** clock is named before its offset reaches the limit: per pair of receivers the
rule also keeps minute medians of the offsets (the last ``_TREND_BUCKETS``) and fits a line to
them; a receiver whose offset against every peer (at least two, agreeing among themselves) is
already ``integrity_drift_min_s`` and growing away at ``integrity_drift_s_per_h`` or faster, over
at least ``integrity_drift_span_s``, has a wrong clock too (evidence ``drift_s_per_h``).  A
crystal oscillator without its time source drifts well under a second an hour; a ramp of tens of
seconds an hour is a broken clock or a clock being pushed slowly to stay under the limit.
With a single peer the rule cannot tell which of the two clocks is wrong and says so, naming
both.  Receivers are the tag-block station, else the feed's sensor.  Memory is bounded: reports
are remembered for ``integrity_keep_s`` of feed time, at most ``integrity_max_reports``; when
that many cover less than twice ``integrity_replay_s`` (heavy traffic), only the reports of one
MMSI in 2, 4, … are remembered from then on (the same MMSIs at every receiver), so that replays
stay detectable and memory stays bounded.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from statistics import median

from ..model import Alert, Observation
from .base import Context

_PAIR_SAMPLES = 64
_JUDGE_EVERY_S = 10.0     # a receiver is judged again after this much feed time ...
_JUDGE_EVERY_N = 8        # ... or this many new samples
_MAX_STRIDE = 1024
_TREND_BUCKET_S = 60.0    # a pair's offsets are also kept as one median a minute ...
_TREND_BUCKETS = 30       # ... the last this many (half an hour)
_TREND_MIN_POINTS = 5


def _spread(mmsi: int) -> int:
    """MMSIs mixed (Knuth's multiplicative hash, its high bits), so that one in 2, 4, … is a fair
    sample whatever the MMSIs' last digits."""
    return ((mmsi * 2_654_435_761) & 0xFFFFFFFF) >> 16


class _Receiver:
    """One receiver's open episode."""

    def __init__(self, alert: Alert, kind: str) -> None:
        self.alert, self.kind = alert, kind
        self.last_bad_s = alert.time_s


class SensorIntegrity:
    types = ("sensor_integrity",)

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.cfg = ctx, ctx.cfg
        # report content -> (feed time it was first taken, ((time stamped, receiver), ...))
        self.reports: OrderedDict[tuple, tuple[float, tuple]] = OrderedDict()
        # (a, b) with a < b -> offsets t_b - t_a of shared reports
        self.pairs: dict[tuple[str, str], deque] = {}
        # receiver -> its own reports repeated long after (time, delay)
        self.repeats: dict[str, deque] = {}
        self.peers: dict[str, set[str]] = {}
        self.stride = 1                        # only MMSIs divisible by it are remembered
        self.latest: dict[int, tuple] = {}     # MMSI -> its latest report taken (not a replay)
        self.judged: dict[str, tuple[float, int]] = {}  # receiver -> (feed time last judged, samples since)
        # episode key (a receiver, or "a|b" for two receivers that disagree) -> its episode
        self.open: dict[str, _Receiver] = {}
        # receiver singled out with a wrong clock -> its offset (s): its reports reach the tracker
        # at their corrected time (the rule itself keeps measuring the raw stamps)
        self.clock_fix: dict[str, float] = {}
        # (a, b) -> minute medians (time, offset) of the pair's offsets, and the minute being filled
        self.trend: dict[tuple[str, str], deque] = {}
        self.minute: dict[tuple[str, str], tuple[float, list]] = {}

    def corrected_time(self, obs: Observation) -> float | None:
        """The time of ``obs`` with its receiver's measured clock offset removed, when that
        receiver has been singled out (its peers agree among themselves) and correcting is on."""
        fix = getattr(self, "clock_fix", None)   # (a checkpoint from before clock correction)
        if not fix or obs.kind != "ais_position":
            return None
        off = fix.get(obs.station or obs.sensor_id)
        return None if off is None else obs.time_s - off

    def is_replay(self, obs: Observation) -> bool:
        """A report taken long before (``integrity_replay_s`` of feed time) arriving again with a
        time that much later, after the vessel had moved on: sent again and stamped as new.  (A
        late copy that keeps its old time is a backlog; a vessel whose position has not changed
        since, a stuck GNSS, is not replayed.)"""
        if obs.kind != "ais_position" or obs.mmsi is None or obs.lat is None:
            return False
        key = (obs.mmsi, obs.lat, obs.lon)
        seen = self.reports.get(key)
        if seen is None or self.latest.get(obs.mmsi, key) == key:
            return False  # new; or not known to have moved on since (a stuck position is no replay)
        limit = self.cfg.integrity_replay_s
        age = max(self.ctx.now_s, obs.time_s) - seen[0]
        return limit <= age <= self.cfg.integrity_keep_s and obs.time_s - seen[1][0][0] >= limit

    def on_obs(self, obs: Observation, replay: bool | None = None) -> None:
        """``replay``: ``is_replay(obs)`` when the caller knows it already."""
        cfg = self.cfg
        if obs.kind != "ais_position" or obs.mmsi is None or obs.lat is None or obs.sog_kn is None \
                or obs.sog_kn < cfg.integrity_min_sog_kn:
            return
        if obs.sensor_id in self.ctx.geo.satellites:
            return  # satellite AIS reaches the ground minutes to hours after transmission
        if self.stride > 1 and _spread(obs.mmsi) % self.stride:
            return
        rx = obs.station or obs.sensor_id
        key = (obs.mmsi, obs.lat, obs.lon)  # a moving vessel is never twice at the same point
        now = self.ctx.now_s
        seen = self.reports.get(key)
        if replay is None:
            replay = self.is_replay(obs)
        if not replay:
            self.latest[obs.mmsi] = key
        if seen is None:
            # tuples of numbers and strings only: the garbage collector stops tracking them
            self.reports[key] = (now, ((obs.time_s, rx),))
            self._trim(now)
            return
        now0, heard = seen
        if replay:
            # the same report again, long after it was first taken, stamped as new: sent again
            self.repeats.setdefault(rx, deque(maxlen=_PAIR_SAMPLES)).append((now, now - now0, heard[0][1]))
            self._judge(rx, now)
            return
        if now - now0 >= cfg.integrity_replay_s:
            return  # a late copy keeping its time (a backlog), or a position stuck for long: nothing to judge
        if any(r == rx for _, r in heard):
            return
        judged = []
        for t0, rx0 in heard:   # one transmission, stamped by each receiver that heard it
            a, b, d = (rx0, rx, obs.time_s - t0) if rx0 < rx else (rx, rx0, t0 - obs.time_s)
            ds = self.pairs.get((a, b))
            if ds is None:
                ds = self.pairs[(a, b)] = deque(maxlen=_PAIR_SAMPLES)
                self.peers.setdefault(a, set()).add(b)
                self.peers.setdefault(b, set()).add(a)
            ds.append(d)
            self._to_trend((a, b), now, d)
            judged.append(rx0)
        self.reports[key] = (now0, heard + ((obs.time_s, rx),))
        self._judge(rx, now)
        for rx0 in judged:
            self._judge(rx0, now)

    def forget_mmsi(self, mmsi: int) -> bool:
        """An MMSI silent for ``mmsi_keep_s``."""
        self.latest.pop(mmsi, None)
        return True

    def _trim(self, now_s: float) -> None:
        keep_s, cap = self.cfg.integrity_keep_s, self.cfg.integrity_max_reports
        reports = self.reports
        while reports:
            k, (seen, _) = next(iter(reports.items()))
            if seen < now_s - keep_s:
                reports.popitem(last=False)
            elif len(reports) > cap:
                reports.popitem(last=False)
                if seen > now_s - 2 * self.cfg.integrity_replay_s and self.stride < _MAX_STRIDE:
                    self.stride *= 2   # too much traffic to remember it all for long enough: sample MMSIs
                    for key in [key for key in reports if _spread(key[0]) % self.stride]:
                        del reports[key]
            else:
                break

    def offsets(self, rx: str) -> dict[str, tuple[float, int]]:
        """Peer -> (median offset of ``rx``'s clock against the peer's, shared reports), for
        peers with at least ``integrity_min_shared`` shared reports."""
        out = {}
        for peer in self.peers.get(rx, ()):
            a, b = (rx, peer) if rx < peer else (peer, rx)
            ds = self.pairs[(a, b)]
            if len(ds) >= self.cfg.integrity_min_shared:
                m = self._recent_median(ds)
                out[peer] = (m if rx == b else -m, len(ds))
        return out

    def _to_trend(self, pair: tuple[str, str], now_s: float, d: float) -> None:
        if not hasattr(self, "trend"):   # (a checkpoint from before drift detection)
            self.trend, self.minute = {}, {}
        cur = self.minute.get(pair)
        if cur is None or now_s - cur[0] >= _TREND_BUCKET_S:
            if cur is not None:
                self.trend.setdefault(pair, deque(maxlen=_TREND_BUCKETS)).append(
                    (cur[0] + 0.5 * _TREND_BUCKET_S, median(cur[1])))
            self.minute[pair] = (now_s, [d])
        elif len(cur[1]) < 256:
            cur[1].append(d)

    def drift(self, rx: str, peer: str) -> float | None:
        """The rate (s of offset per s of feed time) at which ``rx``'s clock moves away from
        ``peer``'s: the slope of a line fitted to the pair's minute medians, when they span
        ``integrity_drift_span_s`` and the slope is at least four standard errors from zero."""
        a, b = (rx, peer) if rx < peer else (peer, rx)
        pts = getattr(self, "trend", {}).get((a, b))
        if not pts or len(pts) < _TREND_MIN_POINTS or pts[-1][0] - pts[0][0] < self.cfg.integrity_drift_span_s:
            return None
        n = len(pts)
        tm = sum(t for t, _ in pts) / n
        ym = sum(y for _, y in pts) / n
        sxx = sum((t - tm) ** 2 for t, _ in pts)
        slope = sum((t - tm) * (y - ym) for t, y in pts) / sxx
        resid = sum((y - ym - slope * (t - tm)) ** 2 for t, y in pts)
        se = (resid / (n - 2) / sxx) ** 0.5
        if abs(slope) < 4 * se:
            return None
        return slope if rx == b else -slope

    def _drifting(self, rx: str, peers: dict[str, tuple[float, int]]) -> float | None:
        """``rx``'s drift rate (s/s, the median over its peers) when its offset against every peer
        (at least two, agreeing among themselves) is ``integrity_drift_min_s`` or more and growing
        away from them at ``integrity_drift_s_per_h`` or faster."""
        cfg = self.cfg
        if len(peers) < 2:
            return None
        rates = []
        for p, (off, _) in peers.items():
            r = self.drift(rx, p)
            if r is None or abs(off) < cfg.integrity_drift_min_s or r * off <= 0 \
                    or abs(r) * 3600.0 < cfg.integrity_drift_s_per_h:
                return None
            rates.append(r)
        names = list(peers)
        if not all(abs(d) <= cfg.integrity_clock_offset_s for i, p in enumerate(names) for q in names[i + 1:]
                   if (d := self._offset_between(p, q)) is not None):
            return None
        return median(rates)

    def _judge(self, rx: str, now_s: float) -> None:
        last_s, waiting = self.judged.get(rx, (-1e18, 0))
        if now_s - last_s < _JUDGE_EVERY_S and waiting < _JUDGE_EVERY_N:
            self.judged[rx] = (last_s, waiting + 1)
            return
        self.judged[rx] = (now_s, 0)
        cfg = self.cfg
        limit = cfg.integrity_clock_offset_s
        peers = self.offsets(rx)
        verdict, offset, shared, with_ = None, 0.0, 0, []
        if peers:
            bad = {p: v for p, v in peers.items() if abs(v[0]) > limit}
            if len(bad) == len(peers):
                # every peer disagrees with rx: rx is wrong when those peers agree among themselves
                others = list(bad)
                agree = all(abs(self._offset_between(p, q)) <= limit for i, p in enumerate(others)
                            for q in others[i + 1:] if self._offset_between(p, q) is not None)
                if len(bad) == 1 and self._singled_out(others[0]):
                    agree = False  # the one peer is the receiver whose clock is wrong (its other peers say so)
                if agree:
                    offset = median(v[0] for v in bad.values())
                    shared = sum(v[1] for v in bad.values())
                    with_ = sorted(bad)
                    verdict = "clock_offset"
            if verdict is None and (rate := self._drifting(rx, peers)) is not None:
                offset = median(v[0] for v in peers.values())
                shared = sum(v[1] for v in peers.values())
                with_ = sorted(peers)
                verdict = "clock_offset"
        rep = self.repeats.get(rx)
        if rep is not None and len(rep) >= cfg.integrity_min_shared:
            recent = [(d, src) for t, d, src in rep if t >= now_s - cfg.integrity_quiet_s]
            if len(recent) >= cfg.integrity_min_shared:
                verdict, offset, shared = "replayed_traffic", median(d for d, _ in recent), len(recent)
                with_ = sorted({src for _, src in recent})
        ep_key = rx if verdict != "clock_offset" or len(with_) > 1 else "|".join(sorted((rx, *with_)))
        if verdict is None:
            for key in [k for k in self.open if k == rx or rx in k.split("|")]:
                ep = self.open[key]
                if all(abs(v[0]) <= limit / 2 for v in peers.values()) \
                        and now_s - ep.last_bad_s >= cfg.integrity_quiet_s:
                    self.ctx.book.close(ep.alert, now_s, summary=f"Receiver {rx}: timestamps agree with its peers again")
                    del self.open[key]
                    self._set_fix(key, None)
            return
        if "|" not in ep_key:   # singled out: a disagreement of two it was part of is explained
            for key in [k for k in self.open if "|" in k and rx in k.split("|")]:
                self.ctx.book.retract(self.open.pop(key).alert, now_s,
                                      f"receiver {rx} is the one whose timestamps are wrong (its other peers agree)")
        ep = self.open.get(ep_key)
        correcting = verdict == "clock_offset" and "|" not in ep_key and cfg.integrity_correct_clock
        self._set_fix(ep_key, offset if correcting else None)
        rate = None
        if verdict == "clock_offset" and "|" not in ep_key:
            rates = [r for p in with_ if (r := self.drift(rx, p)) is not None and r * offset > 0]
            rate = median(rates) * 3600.0 if len(rates) == len(with_) else None
        summary = self._summary(rx, verdict, offset, shared, with_)
        if rate is not None and abs(rate) >= cfg.integrity_drift_s_per_h:
            summary += f", drifting {abs(rate):.0f} s an hour"
        if correcting:
            summary += f"; its reports are placed {abs(offset):.0f} s {'earlier' if offset > 0 else 'later'}, at the peers' time"
        evidence = {"receiver": rx, "cause": verdict, "offset_s": round(offset, 1), "shared_reports": shared,
                    "peers": with_, "correcting": bool(correcting),
                    "drift_s_per_h": None if rate is None else round(rate, 1)}
        if ep is None:
            lat, lon = self._where(rx)
            alert = self.ctx.book.open(
                "sensor_integrity", self.cfg.severity.get("sensor_integrity", "high"), now_s, summary,
                lat=lat, lon=lon, evidence=evidence, sensors=[rx, *[p for p in with_ if p != rx]])
            self.open[ep_key] = _Receiver(alert, verdict)
        else:
            ep.last_bad_s = now_s
            # peers joining narrow who may see it (never widen it)
            self.ctx.book.update(ep.alert, now_s, force=verdict != ep.kind, summary=summary,
                                 sensors=[rx, *[p for p in with_ if p != rx]], **evidence)
            ep.kind = verdict

    def _set_fix(self, key: str, offset: float | None) -> None:
        if not hasattr(self, "clock_fix"):
            self.clock_fix = {}
        if offset is None or "|" in key:
            self.clock_fix.pop(key, None)
        else:
            self.clock_fix[key] = offset

    def _singled_out(self, rx: str) -> bool:
        """At least two peers, all far from ``rx`` and agreeing among themselves."""
        limit = self.cfg.integrity_clock_offset_s
        peers = self.offsets(rx)
        if len(peers) < 2 or any(abs(v[0]) <= limit for v in peers.values()):
            return False
        names = list(peers)
        return all(abs(d) <= limit for i, p in enumerate(names) for q in names[i + 1:]
                   if (d := self._offset_between(p, q)) is not None)

    def _offset_between(self, p: str, q: str) -> float | None:
        a, b = (p, q) if p < q else (q, p)
        ds = self.pairs.get((a, b))
        if ds is None or len(ds) < self.cfg.integrity_min_shared:
            return None
        return self._recent_median(ds)

    def _recent_median(self, ds: deque) -> float:
        """Median of the latest ``integrity_min_shared`` offsets: robust to a few odd reports, and
        the current offset once a fault has lasted that many shared reports."""
        n = self.cfg.integrity_min_shared
        return median(list(ds)[-n:])

    def _summary(self, rx: str, verdict: str, offset: float, shared: int, peers: list[str]) -> str:
        if verdict == "replayed_traffic":
            ago = abs(offset)
            span = f"{ago / 3600:.1f} h" if ago >= 5400 else f"{ago / 60:.0f} min"
            src = "itself" if peers == [rx] else ", ".join(peers)
            return (f"Receiver {rx} sends reports first heard {span} earlier (by {src}): replayed or "
                    f"duplicated traffic ({shared} reports in the last {self.cfg.integrity_quiet_s / 60:.0f} min)")
        way = "behind" if offset < 0 else "ahead of"
        who = ", ".join(peers)
        if len(peers) == 1:
            return (f"Receivers {rx} and {who} disagree by {abs(offset):.0f} s on the same reports "
                    f"({shared}): one of their clocks is wrong")
        return f"Receiver {rx}'s clock runs {abs(offset):.0f} s {way} {who} on the same reports ({shared})"

    def _where(self, rx: str) -> tuple[float | None, float | None]:
        for sid, lat, lon, _ in self.ctx.geo.receivers:
            if sid == rx:
                return lat, lon
        return None, None
