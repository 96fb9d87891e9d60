"""dark_vessel alerts of an `mfc fuse` run, each judged against the scenario's ground truth.

    python bench/dark_truth.py TRUTH.jsonl SENSORS.json ALERTS.jsonl [ALERTS2.jsonl ...]

For each alerts file: the final count per alert type, then each dark_vessel alert (as first
emitted) matched to the nearest vessel of truth.jsonl at the alert's time (WGS 84 distances,
pyproj): "true" when that vessel had no AIS on, "false" when its AIS was on; and whether the
alert lies beyond the registered range of every AIS receiver of the sensors file.
Used for the coverage work (issue 14, point 1): a generated scenario with a long-range radar
(the PH-PAG-R1 radar raised to 110 km on a 400 m site) holds ships beyond AIS reach.
"""
import json, collections, sys, math, bisect
from pyproj import Geod
G = Geod(ellps="WGS84")
truth = collections.defaultdict(list)  # time -> [(lat, lon, vessel, ais)]
for l in open(sys.argv[1]):
    t = json.loads(l); truth[t["time"][:19]].append((t["lat"], t["lon"], t["vessel"], t["ais"]))
times = sorted(truth)
sens = json.load(open(sys.argv[2]))["sensors"]
ais_rx = [s for s in sens if s["kind"] == "ais"]
def classify(a):
    tt = a["time"][:19]
    i = bisect.bisect_left(times, tt); tt = times[min(i, len(times) - 1)]
    best = min(truth[tt], key=lambda v: G.inv(a["lon"], a["lat"], v[1], v[0])[2])
    d = G.inv(a["lon"], a["lat"], best[1], best[0])[2]
    beyond = all(G.inv(a["lon"], a["lat"], s["lon"], s["lat"])[2] > s.get("range_m", 40_000) for s in ais_rx)
    return best[3], d, beyond
for f in sys.argv[3:]:
    fin = {}
    for l in open(f):
        a = json.loads(l); fin[a["alert_id"]] = a
    types = collections.Counter(a["type"] for a in fin.values())
    first = {}
    for l in open(f):
        a = json.loads(l)
        first.setdefault(a["alert_id"], a)
    c = collections.Counter()
    for aid, a in first.items():
        if a["type"] != "dark_vessel": continue
        ais_on, d, rx_beyond = classify(a)
        c[("false: AIS was on" if ais_on else "true: no AIS", "beyond every AIS rx range" if rx_beyond else "inside a rx range")] += 1
    print(f.split("/")[-1], dict(sorted(types.items())))
    for k, v in sorted(c.items()): print("   dark_vessel", k, v)
