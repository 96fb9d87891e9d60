"""The batched paths (a radar scan, the AIS reports of one call, at once on the state table)
give exactly what one-by-one processing gives, however the feed is cut into calls."""

import random

from fusion.tracker import Tracker

from .builders import T0, make_ais, radar, vessel_ais, vessel_plots

SENSORS = {"R1": radar()}


def scenario(seed=41, vessels=30):
    rng = random.Random(seed)
    obs = []
    for k in range(vessels):
        lat, lon = 10.0 + rng.uniform(-0.2, 0.2), 114.0 + rng.uniform(-0.2, 0.2)
        sog, cog = rng.uniform(3, 18), rng.uniform(0, 360)
        if k % 3:
            reports = vessel_ais(548100000 + k, lat, lon, sog, cog, reports=60, period_s=rng.choice([2.0, 6.0, 10.0]),
                                 t0=T0 + rng.uniform(0, 10))
            # some reports arrive late (satellite), some twice (two stations)
            for r in rng.sample(reports, 5):
                r.time_s -= rng.uniform(20, 120)
            obs += reports + [make_ais(r.mmsi, r.time_s, r.lat, r.lon, r.sog_kn, r.cog_deg) for r in reports[:3]]
        if k % 3 != 1:
            obs += vessel_plots(rng, lat, lon, sog, cog, scans=60, t0=T0 + 1, p_detect=0.9)
    return sorted(obs, key=lambda o: o.time_s + (30 if o.kind == "ais_position" and o.time_s < T0 else 0))


def run(obs, step):
    tracker = Tracker(SENSORS)
    lines = []
    for i in range(0, len(obs), step):
        lines += tracker.update(obs[i:i + step])
    lines += tracker.flush()
    return [x.to_dict() for x in lines], dict(tracker.stats)


def test_output_does_not_depend_on_how_the_feed_is_cut_into_calls():
    obs = scenario()
    one_by_one = run(obs, 1)
    assert len(one_by_one[0]) > 1000 and one_by_one[1]["out_of_sequence"] > 0 and one_by_one[1]["echoes"] > 0
    for step in (7, 100, 1000, len(obs)):
        assert run(obs, step) == one_by_one
