"""Alert evaluation: per-type precision/recall, a clean day's false-alarm rate, rules cost.

    python -m bench.alerts [--seed 7] [--vessels 400] [--hours 24] [--tracks 10000] [--quick]

1. **Labelled scenarios.**  For every alert type, injected cases that must fire (right
   vessel, time window, place) and near-misses that must not, embedded in background
   traffic, run through ``fusion.pipeline.Fusion`` (pure, driven by feed time) on the
   product's geography (land, 12 nm zones, ports, approximate EEZs, receivers).
   Precision = matched alerts / alerts raised of that type (alerts later retracted are
   counted apart); recall = positive cases with a matching alert / positive cases.
2. **Clean day.**  Normal traffic only: merchant ships along the sea lanes, fishing
   vessels trawling (and drifting at night) on grounds in their own EEZ, ships at anchor
   off ports, coastal AIS receivers and radars.  Every alert is a false alarm; reported
   per 1,000 vessel-hours of vessels in the picture.
3. **Rules cost.**  10,000 live AIS tracks: ``Fusion.update`` with rules against the same
   fusion without the rules step (same input, same run, interleaved).

Synthetic and seeded: the figures describe the rules on this traffic, not on a real feed.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from fusion.geodesy import KN_TO_MS, m_per_deg_array
from fusion.model import Alert, Observation
from fusion.pipeline import Fusion
from fusion.rules import RulesConfig
from services.geo.geography import build_geography
from services.scenario.alert_score import final_versions, matches, score, vessel_hours
from services.scenario.events import inject
from services.scenario.world import (MmsiBook, World, ais_observations, beyond_cover_traffic, clean_day_groups,
                                     clean_day_sensors, feature_fishing, normal_traffic, outer_anchorage_traffic,
                                     radar_observations, river_traffic)

T0 = 1_795_000_000.0        # 2026-11-18T06:13:20Z; any fixed epoch


# ------------------------------------------------------------------ running and scoring
def run_fusion(world: World, obs: list[Observation], t_end: float, step_s: float = 60.0,
               rules_config: RulesConfig | None = None) -> tuple[list[Alert], float, Fusion]:
    obs.sort(key=lambda o: o.time_s)
    fusion = Fusion(world.sensors, world.geo, rules_config=rules_config)
    alerts: list[Alert] = []
    i, n = 0, len(obs)
    t = obs[0].time_s if obs else t_end
    t_start = time.perf_counter()
    while t < t_end:
        t += step_s
        j = i
        while j < n and obs[j].time_s < t:
            j += 1
        alerts += fusion.update(obs[i:j])[1]
        alerts += fusion.advance(t)[1]
        i = j
    alerts += fusion.flush(end=True)[1]
    return alerts, time.perf_counter() - t_start, fusion


# ------------------------------------------------------------------ rules cost at 10k tracks
def rules_cost(n_tracks: int, seed: int, minutes: float = 6.0) -> dict[str, float]:
    """n_tracks AIS vessels at sea (10 % slow, 5 % fishing) over the SCS, reports every 60 s.
    Two fusions on the same batches, interleaved; after a warm-up, time update() of each."""
    rng = np.random.default_rng(seed)
    geo = build_geography({})
    lat = rng.uniform(3.0, 22.0, 3 * n_tracks)
    lon = rng.uniform(106.0, 121.0, 3 * n_tracks)
    sea = np.array([geo.inland_m(a, b) == 0 and not geo.watch_zones_at(a, b) for a, b in zip(lat, lon)])
    lat, lon = lat[sea][:n_tracks], lon[sea][:n_tracks]   # ships at sea (a ship on land is an alert)
    sog = np.where(rng.random(n_tracks) < 0.1, rng.uniform(0.1, 1.9, n_tracks), rng.uniform(5, 18, n_tracks))
    cog = rng.uniform(0, 360, n_tracks)
    st = np.where(rng.random(n_tracks) < 0.05, 30, 70)
    mids = np.array([412, 574, 548, 533, 525, 567, 563, 477, 351, 636])
    mmsi = mids[rng.integers(len(mids), size=n_tracks)] * 1_000_000 + np.arange(n_tracks) + 100_000
    phase = rng.uniform(0, 60, n_tracks)
    kx, ky = m_per_deg_array(lat)
    ve, vn = sog * KN_TO_MS * np.sin(np.radians(cog)), sog * KN_TO_MS * np.cos(np.radians(cog))

    def batch(t0: float) -> list[Observation]:
        order = np.argsort(phase)
        out = []
        for k in order:
            t = t0 + phase[k]
            dt = t - T0
            out.append(Observation("ais_position", "AIS-X", float(t), float(lat[k] + vn[k] * dt / ky[k]),
                                   float(lon[k] + ve[k] * dt / kx[k]), mmsi=int(mmsi[k]), sog_kn=float(sog[k]),
                                   cog_deg=float(cog[k]), ship_type=int(st[k])))
        return out

    with_rules = Fusion({}, geo)
    without = Fusion({}, geo, rules_config=RulesConfig(enabled=()))
    warm = 3
    times = {"with": 0.0, "without": 0.0, "rules_only": 0.0}
    n_obs = 0
    for k in range(int(minutes)):
        b = batch(T0 + 60.0 * k)
        for name, f in (("with", with_rules), ("without", without)) if k % 2 else (("without", without), ("with", with_rules)):
            t = time.perf_counter()
            if name == "with":
                lines = f.tracker.update(b)
                t_mid = time.perf_counter()
                f.rules.process(b, sorted(lines, key=lambda ln: ln.time_s))
                f.rules.advance(T0 + 60.0 * (k + 1))
                t_end = time.perf_counter()
                if k >= warm:
                    times["with"] += t_end - t
                    times["rules_only"] += t_end - t_mid
            else:
                f.tracker.update(b)
                if k >= warm:
                    times["without"] += time.perf_counter() - t
        if k >= warm:
            n_obs += len(b)
    live = sum(1 for t in with_rules.tracker.tracks.values() if t.status in ("confirmed", "coasting"))
    return {"tracks": live, "obs": n_obs, **times}


# ------------------------------------------------------------------ report
def _fmt_pct(num: int, den: int) -> str:
    return "–" if den == 0 else f"{100.0 * num / den:.0f} %"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Alert evaluation (see module docstring)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--vessels", type=int, default=400, help="clean day: vessels")
    ap.add_argument("--hours", type=float, default=24.0, help="clean day: hours")
    ap.add_argument("--background", type=int, default=120, help="labelled scenarios: background vessels")
    ap.add_argument("--tracks", type=int, default=10_000, help="rules cost: live tracks")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: labelled,clean,cost")
    ap.add_argument("--verbose", action="store_true", help="list every false alarm")
    ap.add_argument("--plain-clean", action="store_true",
                    help="clean day without the outer anchorages, rivers, long-range radars and feature fishing")
    args = ap.parse_args(argv)
    if args.quick:
        args.vessels, args.hours, args.background, args.tracks = 80, 4.0, 30, 2000
    skip = set(filter(None, args.skip.split(",")))

    if "labelled" not in skip:
        rng = np.random.default_rng(args.seed)
        book = MmsiBook(rng)
        probe = World(rng)
        vs, cases, radars = inject(probe, T0, book)
        world = World(np.random.default_rng(args.seed + 1), radars)
        t_end = T0 + 15 * 3600.0
        n_injected = len(vs)
        vs += normal_traffic(world, args.background, T0, t_end, book)
        obs = [o for v in vs for o in ais_observations(world, v, T0, t_end, rng)]
        obs += radar_observations(world, vs, T0, t_end, rng)
        exits = {v.mmsi: float(v.path.t[-1]) for v in vs[:n_injected] if v.mmsi is not None}
        alerts, secs, _ = run_fusion(world, obs, t_end)
        table = score(cases, alerts, exits)
        print(f"\n## Labelled scenarios (seed {args.seed}): {len(vs)} vessels ({args.background} background), "
              f"{len(obs):,} observations, 16 h feed time, fused in {secs:.0f} s\n")
        print("| type | positive cases | found | recall | alerts raised | matched | precision | near-misses "
              "| near-misses fired | retracted |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for t, r in table.items():
            print(f"| `{t}` | {r['cases']} | {r['found']} | {_fmt_pct(r['found'], r['cases'])} | {r['alerts']} "
                  f"| {r['matched']} | {_fmt_pct(r['matched'], r['alerts'])} | {r['near_miss']} "
                  f"| {r['near_miss_fired']} | {r['retracted']} |")
        tot_c = sum(r["cases"] for r in table.values())
        tot_f = sum(r["found"] for r in table.values())
        tot_a = sum(r["alerts"] for r in table.values())
        tot_m = sum(r["matched"] for r in table.values())
        print(f"| **all** | {tot_c} | {tot_f} | {_fmt_pct(tot_f, tot_c)} | {tot_a} | {tot_m} | {_fmt_pct(tot_m, tot_a)} "
              f"| {sum(r['near_miss'] for r in table.values())} | {sum(r['near_miss_fired'] for r in table.values())} "
              f"| {sum(r['retracted'] for r in table.values())} |")
        missed = [c for c in cases if c.positive and not any(matches(c, f, l) for f, l in final_versions(alerts).values())]
        for c in missed:
            print(f"  missed: {c.type} — {c.label}")
            if args.verbose:
                for f, _ in final_versions(alerts).values():
                    if c.mmsi is not None and f.mmsi == c.mmsi:
                        print(f"    its alert: {f.type} t+{(f.time_s - T0) / 60:.0f} min (case window "
                              f"t+{(c.t_from - T0) / 60:.0f}..{(c.t_to - T0) / 60:.0f}): {f.summary}")
        if args.verbose:
            for r in table.values():
                for f in r["false"]:
                    print(f"  unmatched: {f.type} {f.alert_id} t+{(f.time_s - T0) / 60:.0f} min "
                          f"({f.lat:.3f}, {f.lon:.3f}) mmsi {f.mmsi}: {f.summary}")

    if "clean" not in skip:
        rng = np.random.default_rng(args.seed + 100)
        if args.plain_clean:        # the clean day before issue 14 (normal traffic, three radars)
            world = World(rng, clean_day_sensors()[:3])
        else:
            world = World(rng, clean_day_sensors())
        book = MmsiBook(rng)
        t_end = T0 + args.hours * 3600
        vs = normal_traffic(world, args.vessels, T0, t_end, book)
        if not args.plain_clean:
            scale = max(args.vessels / 400.0, 0.25)
            vs += outer_anchorage_traffic(world, T0, t_end, book, per_site=max(2, round(6 * scale)))
            vs += river_traffic(world, T0, t_end, book, per_river=max(2, round(8 * scale)))
            vs += beyond_cover_traffic(world, T0, t_end, book, per_radar=max(2, round(8 * scale)))
            vs += feature_fishing(world, T0, t_end, book, per_feature=max(1, round(4 * scale)))
        groups = clean_day_groups(vs)
        n_by_group = defaultdict(int)
        for g in groups.values():
            n_by_group[g] += 1
        obs = [o for v in vs for o in ais_observations(world, v, T0, t_end, rng)]
        n_radar_vessels = len(obs)
        obs += radar_observations(world, vs, T0, t_end, rng)
        n_plots = len(obs) - n_radar_vessels
        alerts, secs, fusion = run_fusion(world, obs, t_end)
        versions = final_versions(alerts)
        vh = vessel_hours(obs)
        kinds = defaultdict(int)
        for f, last in versions.values():
            kinds[f.type + (" (retracted)" if last.state == "retracted" else "")] += 1
        n_all = len(versions)
        n_kept = sum(1 for _, last in versions.values() if last.state != "retracted")
        print(f"\n## Clean day (seed {args.seed + 100}): {len(vs)} vessels, {args.hours:g} h, "
              f"{len(world.sensors)} sensors, {len(obs):,} observations ({n_plots:,} radar plots), fused in {secs:.0f} s\n")
        print(f"vessel-hours in the picture: {vh:,.0f}")
        print(f"alerts raised: {n_all} = {1000.0 * n_all / max(vh, 1e-9):.2f} per 1,000 vessel-hours "
              f"({n_kept} not retracted = {1000.0 * n_kept / max(vh, 1e-9):.2f}); target < 1")
        print("traffic: " + ", ".join(f"{g} {n}" for g, n in sorted(n_by_group.items())))
        zone_n = sum(v for k, v in kinds.items() if k.startswith("zone_entry"))
        print(f"without zone_entry (watch notifications by zone policy): {n_all - zone_n} = "
              f"{1000.0 * (n_all - zone_n) / max(vh, 1e-9):.2f} per 1,000 vessel-hours")
        by = defaultdict(lambda: defaultdict(int))
        example: dict[tuple[str, str], Alert] = {}
        for f, last in versions.values():
            g = groups.get(f.mmsi, "no MMSI (radar only)")
            by[f.type][g] += 1
            example.setdefault((f.type, g), f)
        print("\n| type | alerts | per 1,000 vessel-hours | by traffic |\n|---|---|---|---|")
        for t in sorted(by, key=lambda t: -sum(by[t].values())):
            n = sum(by[t].values())
            print(f"| `{t}` | {n} | {1000.0 * n / max(vh, 1e-9):.2f} | "
                  + ", ".join(f"{g} {k}" for g, k in sorted(by[t].items(), key=lambda x: -x[1])) + " |")
        for (t, g), f in sorted(example.items()):
            print(f"  e.g. {t} / {g}: t+{(f.time_s - T0) / 60:.0f} min ({f.lat}, {f.lon}) mmsi {f.mmsi}: {f.summary}")
        if args.verbose:
            for f, last in versions.values():
                print(f"  {f.type} {f.alert_id} t+{(f.time_s - T0) / 60:.0f} min ({f.lat}, {f.lon}) "
                      f"mmsi {f.mmsi} -> {last.state}: {f.summary}")

    if "cost" not in skip:
        r = rules_cost(args.tracks, args.seed)
        print(f"\n## Rules cost at {r['tracks']:,} live tracks ({r['obs']:,} AIS reports timed)\n")
        print(f"fusion with rules {r['with']:.2f} s, without rules {r['without']:.2f} s, rules step alone "
              f"{r['rules_only']:.2f} s: rules are {100.0 * r['rules_only'] / r['with']:.0f} % of fusion time "
              f"({1e6 * r['rules_only'] / max(r['obs'], 1):.1f} µs per report)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
