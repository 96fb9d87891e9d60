"""Federation, inbound: two nodes on loopback, each its own API, fusion, store and bus.  What a
partner shares reaches exactly the agencies its tokens cover, on every read and push path of
the receiving node; a tampered, looping or unsigned record is refused and counted; a deleted
agreement cuts the partner off; a retraction propagates; one vessel seen by both nodes is one
entry on each side.

Between the two embedded buses, ``Mirror`` does what MirrorMaker 2 does between two brokers
(copy each outbound record, in order, to ``<source>.<topic>`` on the target); the real
MirrorMaker 2 between two real brokers is tested in ``test_federation_kafka.py``."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from contextlib import ExitStack, contextmanager

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.bus import topics
from services.config.settings import ApiKey
from services.federation.inbound import inbound_topic
from services.federation.outbound import seal

from .conftest import ADMIN_KEY, INTEGRATOR_KEY, OFFICER_KEY, LiveServer, make_runtime, wait_for
from .test_api import position_sentence, with_time

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OFFICER = {"Authorization": f"Bearer {OFFICER_KEY}"}
INTEGRATOR = {"Authorization": f"Bearer {INTEGRATOR_KEY}"}
SG = {"Authorization": "Bearer sg-mpa-key-for-tests"}
PH = {"Authorization": "Bearer ph-cg-key-for-tests"}
KEYS = (ApiKey(INTEGRATOR_KEY, "integrator", "test-integrator"), ApiKey(ADMIN_KEY, "admin", "test-admin"),
        ApiKey("sg-mpa-key-for-tests", "agency", "SG-MPA"), ApiKey("ph-cg-key-for-tests", "agency", "PH-CG"))
KINDS = ("tracks", "alerts", "incidents")


@contextmanager
def two_nodes(tmp_path):
    with ExitStack() as stack:
        nodes = []
        for name in ("A", "B"):
            (tmp_path / name).mkdir()
            nodes.append(stack.enter_context(LiveServer(make_runtime(tmp_path / name, api_keys=KEYS, node_id=name))))
        yield nodes


class Mirror:
    """MirrorMaker 2's work between two embedded buses: what ``src`` writes for ``dst`` lands on
    ``dst`` as ``<src node>_mfc.federation.<dst node>.<kind>``, in order; ``change`` may alter a
    record on the way (a tamperer on the link), or drop it (returning None)."""

    def __init__(self, src: LiveServer, dst: LiveServer, change=None) -> None:
        self.src_node, self.dst_node = src.runtime.settings.node_id, dst.runtime.settings.node_id
        self.dst, self.change = dst.runtime.bus, change
        self.consumers = {k: src.runtime.bus.consumer(f"mfc.federation.{self.dst_node}.{k}", "mirror") for k in KINDS}
        self.copied = 0

    def pump(self) -> int:
        for kind, consumer in self.consumers.items():
            for r in consumer.poll(timeout_s=0.02, max_records=10_000):
                value = self.change(r.value) if self.change else r.value
                if value is None:  # lost on the way
                    continue
                self.dst.publish(inbound_topic(self.src_node, self.dst_node, kind), r.key, value)
                self.copied += 1
            consumer.commit()
        self.dst.flush()
        return self.copied


def public_key(node: LiveServer) -> str:
    return httpx.get(f"{node.url}/v1/federation", headers=ADMIN).json()["public_key"]


def agree(node: LiveServer, partner: str, tokens: list[str], key: str | None = None, **more) -> None:
    body = {"partner": partner, "releasability": tokens, **({"public_key": key} if key else {}), **more}
    r = httpx.post(f"{node.url}/v1/federation/agreements", json=body, headers=ADMIN)
    assert r.status_code in (200, 201), r.text


def radar(sensor_id: str, lat: float, releasability: list[str]) -> dict:
    return {"id": sensor_id, "kind": "radar", "lat": lat, "lon": 115.0, "range_m": 40000, "accuracy_m": 30,
            "scan_period_s": 3, "releasability": releasability}


def plot(sensor_id: str, t: float, lat: float, t0: float) -> str:
    import json
    return json.dumps({"kind": "plot", "sensor_id": sensor_id, "time": t, "lat": lat + 0.1,
                       "lon": 115.1 + 0.00014 * (t - t0) / 3, "sigma_m": 30})


@contextmanager
def live_radars(node: LiveServer, radars: dict[str, tuple[float, list[str]]]):
    """Each radar registered at ``node`` and scanning its own vessel (a plot every 3 s, sent as
    it is made) while the block runs: the vessels stay in the live picture however slow the
    test machine is."""
    for sid, (lat, rel) in radars.items():
        assert httpx.post(f"{node.url}/v1/sensors", json=radar(sid, lat, rel), headers=INTEGRATOR).status_code == 201
    stop = threading.Event()
    t0 = time.time() - 30

    def scan() -> None:
        t = t0
        while not stop.is_set():
            while t <= time.time():  # a backlog first: the tracks confirm at once
                body = "\n".join(plot(sid, t, lat, t0) for sid, (lat, _) in radars.items())
                assert httpx.post(f"{node.url}/v1/ingest/radar", content=body,
                                  headers=INTEGRATOR).json()["accepted"] == len(radars)
                t += 3
            stop.wait(0.5)
    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def partner_tracks(node: LiveServer, headers: dict) -> dict[str, dict]:
    tracks = httpx.get(f"{node.url}/v1/tracks", headers=headers).json()["tracks"]
    return {t["track_id"]: t for t in tracks if t.get("origin")}


def link(node: LiveServer, partner: str, direction: str) -> dict | None:
    links = httpx.get(f"{node.url}/v1/federation", headers=ADMIN).json()["links"]
    return next((x for x in links if x["partner"] == partner and x["direction"] == direction), None)


def alert(alert_id: str, tokens: list[str], state: str = "open") -> dict:
    return {"alert_id": alert_id, "type": "zone_entry", "severity": "medium", "time": "2026-12-07T10:00:00Z",
            "track_id": None, "mmsi": None, "lat": 11.2, "lon": 115.1, "zone": "Z", "summary": "entered Z",
            "evidence": {"releasability": tokens}, "state": state}


def test_a_partners_records_reach_exactly_the_agencies_its_tokens_cover_on_every_path(tmp_path):
    with two_nodes(tmp_path) as (a, b), ExitStack() as stack:
        agree(a, "B", ["ASEAN", "SG"])
        agree(b, "A", ["ASEAN"], key=public_key(a))
        radars = {"RAD-SG": (11.0, ["SG"]), "RAD-PH": (11.3, ["PH"]), "RAD-ASEAN": (11.6, ["ASEAN"])}
        with live_radars(a, radars):
            for x in (alert("A-SG", ["SG"]), alert("A-PH", ["PH"]), alert("A-ASEAN", ["ASEAN"])):
                a.runtime.bus.publish(topics.ALERTS, x["alert_id"], x)
            a.runtime.bus.publish(topics.INCIDENTS, "I-1", {
                "incident_id": "I-1", "category": "other", "title": "t", "summary": "s", "releasability": ["SG"],
                "releasability_effective": ["SG"], "state": "open", "created": "2026-12-07T10:00:00Z",
                "updated": "2026-12-07T10:00:00Z", "alert_ids": ["A-SG"], "track_ids": []})
            a.runtime.bus.flush()
            sg_topic = b.runtime.bus.consumer(topics.agency_alerts("SG-MPA"), "test")
            ph_topic = b.runtime.bus.consumer(topics.agency_alerts("PH-CG"), "test")
            streams = {who: stack.enter_context(stream_events(b, headers, "track,alert,incident"))
                       for who, headers in (("SG", SG), ("PH", PH))}
            mirror = Mirror(a, b)

            def arrived() -> bool:
                mirror.pump()
                return len(partner_tracks(b, OFFICER)) == 2 and \
                    len(httpx.get(f"{b.url}/v1/incidents", headers=OFFICER).json()["incidents"]) == 1
            assert wait_for(arrived, 20), (partner_tracks(b, OFFICER), link(b, "A", "in"), link(a, "B", "out"),
                                           httpx.get(f"{a.url}/v1/tracks", headers=OFFICER).json())

            staff = partner_tracks(b, OFFICER)
            assert all(t["origin"] == ["A"] and t["track_id"].startswith("A:") for t in staff.values())
            by_lat = {round(t["lat"], 1): t for t in staff.values()}
            assert set(by_lat) == {11.1, 11.7}, "the PH radar's track stayed at A"
            assert by_lat[11.1]["releasability"] == ["SG"] and by_lat[11.7]["releasability"] == ["ASEAN"]
            sg_id, asean_id = by_lat[11.1]["track_id"], by_lat[11.7]["track_id"]
            assert set(partner_tracks(b, SG)) == {sg_id, asean_id}
            assert set(partner_tracks(b, PH)) == {asean_id}

            def picture(headers: dict) -> set[str]:
                feats = httpx.get(f"{b.url}/v1/picture", headers=headers).json()["features"]
                return {f["properties"]["track_id"] for f in feats if f["properties"].get("origin") == ["A"]}

            def ogc(headers: dict) -> set[str]:
                feats = httpx.get(f"{b.url}/ogc/collections/tracks/items", headers=headers).json()["features"]
                return {str(f["id"]) for f in feats} & {sg_id, asean_id}

            def cot(headers: dict) -> set[str]:
                text = httpx.get(f"{b.url}/v1/picture.cot", headers=headers).text
                return {t for t in (sg_id, asean_id) if f'uid="MFC-{t}"' in text}

            def replay(headers: dict) -> set[str]:  # the picture as it was a moment ago, from history
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
                feats = httpx.get(f"{b.url}/v1/picture", params={"at": at}, headers=headers).json()["features"]
                return {f["properties"]["track_id"] for f in feats if f["properties"].get("origin") == ["A"]}

            for read in (picture, ogc, cot, replay):
                assert read(SG) == {sg_id, asean_id}, read.__name__
                assert read(PH) == {asean_id}, read.__name__
            assert httpx.get(f"{b.url}/v1/tracks/{sg_id}", headers=PH).status_code == 404
            assert httpx.get(f"{b.url}/v1/tracks/{sg_id}/history", headers=PH).status_code == 404
            assert httpx.get(f"{b.url}/v1/tracks/{sg_id}/history", headers=SG).json()["points"]  # its path, as shared
            assert httpx.get(f"{b.url}/v1/tracks/{sg_id}", headers=SG).json()["origin"] == ["A"]

            def alerts(headers: dict) -> set[str]:
                return {x["alert_id"] for x in httpx.get(f"{b.url}/v1/alerts", headers=headers).json()["alerts"]}
            assert wait_for(lambda: alerts(OFFICER) == {"A:A-SG", "A:A-ASEAN"}), alerts(OFFICER)
            assert alerts(SG) == {"A:A-SG", "A:A-ASEAN"} and alerts(PH) == {"A:A-ASEAN"}
            pushed: dict[str, set] = {"SG": set(), "PH": set()}
            assert wait_for(lambda: ([pushed["SG"].add(r.key) for r in sg_topic.poll(0.1)],
                                     [pushed["PH"].add(r.key) for r in ph_topic.poll(0.1)],
                                     pushed["SG"] == {"A:A-SG", "A:A-ASEAN"})[-1]), pushed
            assert pushed["PH"] == {"A:A-ASEAN"}

            def streamed(who: str) -> dict[str, set[str]]:
                ids = {"track": "track_id", "alert": "alert_id", "incident": "incident_id"}
                out: dict[str, set[str]] = {k: set() for k in ids}
                for kind, data in list(streams[who]):
                    if str(data.get(ids[kind], "")).startswith("A:"):
                        out[kind].add(data[ids[kind]])
                return out
            assert wait_for(lambda: streamed("SG")["incident"] == {"A:I-1"}, 10), streamed("SG")
            assert streamed("SG") == {"track": {sg_id, asean_id}, "alert": {"A:A-SG", "A:A-ASEAN"},
                                      "incident": {"A:I-1"}}
            assert streamed("PH") == {"track": {asean_id}, "alert": {"A:A-ASEAN"}, "incident": set()}
            incident = httpx.get(f"{b.url}/v1/incidents", headers=OFFICER).json()["incidents"][0]
            assert incident["incident_id"] == "A:I-1" and incident["origin"] == ["A"]
            assert incident["alert_ids"] == ["A:A-SG"]
            assert len(httpx.get(f"{b.url}/v1/incidents", headers=SG).json()["incidents"]) == 1
            assert httpx.get(f"{b.url}/v1/incidents", headers=PH).json()["incidents"] == []

            inbound = link(b, "A", "in")
            assert inbound["state"] == "up" and inbound["refused"] == 0, inbound
            assert inbound["by_kind"]["received"]["tracks"] >= 2 and inbound["by_kind"]["received"]["alerts"] == 2
            # B shares with A only ASEAN-marked data of its own, never what A sent it
            assert all(not k.startswith("A:") for k in b.runtime.federation.shared)


def test_a_tampered_looping_or_foreign_record_is_refused_counted_and_the_next_one_accepted(tmp_path):
    with two_nodes(tmp_path) as (a, b):
        agree(b, "A", ["ASEAN"], key=public_key(a))
        key = a.runtime.agreements.node_key()
        now = time.time()
        track = {"track_id": "T1", "time": "2026-12-07T10:00:00Z", "lat": 11.0, "lon": 115.0, "sog_kn": 5.0,
                 "cog_deg": 90.0, "status": "confirmed", "sources": ["radar"], "sensors": ["RAD-X"]}

        def envelope(**change) -> dict:
            return {"v": 1, "kind": "tracks", "origin": ["A"], "hops": 3, "onward": False, "retention_s": 86400,
                    "sent_s": now, "releasability": ["ASEAN"], "record": dict(track), **change}

        flipped = seal(envelope(), key)
        flipped["envelope"]["record"]["lat"] = 11.5  # altered after signing
        inbound = inbound_topic("A", "B", "tracks")
        bad = {"flipped": flipped,
               "loop": seal(envelope(origin=["B", "A"]), key),
               "hops": seal(envelope(hops=0), key),
               "stranger": seal(envelope(), Ed25519PrivateKey.generate()),
               "last hop": seal(envelope(origin=["C"]), key),
               "no tokens": seal(envelope(releasability=[]), key),
               "no position": seal(envelope(record={**track, "lat": 95.0}), key),
               # signed, but a line this node's store could not take (it would stall the writer)
               "bad speed": seal(envelope(record={**track, "sog_kn": "fast"}), key),
               "bad status": seal(envelope(record={**track, "status": "x" * 40}), key),
               "not a record": {"line": "AIVDM"}}
        for value in bad.values():
            b.runtime.bus.publish(inbound, "T1", value)
        b.runtime.bus.publish(inbound, "T1", seal(envelope(), key))
        b.runtime.bus.flush()
        assert wait_for(lambda: "A:T1" in partner_tracks(b, OFFICER), 15)
        got = partner_tracks(b, OFFICER)["A:T1"]
        assert (got["lat"], got["sensors"]) == (11.0, [])  # A's sensor ids are not B's
        inbound_link = link(b, "A", "in")
        assert inbound_link["refused"] == len(bad) and inbound_link["shared"] == 1, inbound_link
        dead = [r.value for r in b.runtime.bus.consumer(topics.DEADLETTER, "t").poll(0.5, 100)
                if r.key == "federation:A"]
        reasons = " | ".join(d["reason"] for d in dead)
        assert len(dead) == len(bad), reasons
        for words in ("signature does not verify", "loop", "no hops left", "not the partner's",
                      "last hop is 'C'", "no releasability token", "no position", "not a shared record",
                      "sog_kn must be a number", "status must be one of"):
            assert words in reasons, (words, reasons)


def test_deleting_the_agreement_cuts_the_partner_off_and_retraction_propagates(tmp_path):
    with two_nodes(tmp_path) as (a, b):
        agree(a, "B", ["SG"])
        agree(b, "A", ["ASEAN"], key=public_key(a))
        mirror = Mirror(a, b)
        a.runtime.bus.publish(topics.ALERTS, "X1", alert("X1", ["SG"]))
        a.runtime.bus.flush()

        def state(alert_id: str) -> str | None:
            r = httpx.get(f"{b.url}/v1/alerts/{alert_id}", headers=OFFICER)
            return r.json()["state"] if r.status_code == 200 else None
        assert wait_for(lambda: (mirror.pump(), state("A:X1"))[1] == "open", 15)
        # B's officer acknowledges it in B's queue; A's rule then closes it: closed at B too
        assert httpx.post(f"{b.url}/v1/alerts/A:X1/ack", headers=OFFICER).status_code == 200
        a.runtime.bus.publish(topics.ALERTS, "X1", alert("X1", ["SG"], state="closed"))
        a.runtime.bus.flush()
        assert wait_for(lambda: (mirror.pump(), state("A:X1"))[1] == "closed", 15), state("A:X1")

        assert httpx.delete(f"{b.url}/v1/federation/agreements/A", headers=ADMIN).status_code == 200
        a.runtime.bus.publish(topics.ALERTS, "X2", alert("X2", ["SG"]))
        a.runtime.bus.flush()
        assert wait_for(lambda: mirror.pump() and False, 4) is False  # pumped for 4 s
        assert state("A:X2") is None
        assert link(b, "A", "in") is None


@contextmanager
def stream_events(node: LiveServer, headers: dict, types: str = "track"):
    """The events of ``node``'s live stream (``/v1/stream``) as ``(kind, data)``, collected as they come."""
    events: list[tuple[str, dict]] = []
    opened, stop = threading.Event(), threading.Event()
    client = httpx.Client(timeout=30)
    held: list = []  # the stream's socket

    def read() -> None:
        kind = None
        try:
            with client.stream("GET", f"{node.url}/v1/stream?types={types}", headers=headers) as r:
                held.append(r.extensions["network_stream"].get_extra_info("socket"))
                opened.set()
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        events.append((kind, json.loads(line[5:])))
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            if not stop.is_set():
                raise
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(10)
    time.sleep(0.2)
    try:
        yield events
    finally:
        stop.set()
        for sock in held:  # the connection goes: the server ends the stream at once
            sock.shutdown(socket.SHUT_RDWR)
        reader.join(5)
        client.close()


def test_one_vessel_seen_by_both_nodes_is_one_entry_on_each_side_and_nothing_loops(tmp_path):
    with two_nodes(tmp_path) as (a, b):
        for node, partner, lat0 in ((a, "B", 11.0), (b, "A", 11.0)):
            sensor = {"id": f"AIS-{node.runtime.settings.node_id}", "kind": "ais", "lat": lat0, "lon": 115.0,
                      "range_m": 60000, "releasability": ["ASEAN"]}
            assert httpx.post(f"{node.url}/v1/sensors", json=sensor, headers=INTEGRATOR).status_code == 201
        agree(a, "B", ["ASEAN"], key=public_key(b))
        agree(b, "A", ["ASEAN"], key=public_key(a))
        mirrors = (Mirror(a, b), Mirror(b, a))
        now = int(time.time())
        for node in (a, b):
            sid = f"AIS-{node.runtime.settings.node_id}"
            lines = [with_time(position_sentence(563001234, 11.1 + 0.0005 * k, 115.1, sog=10.0, cog=0.0), now - 60 + 10 * k)
                     for k in range(6)]
            # another vessel only A hears: it stays A's alone at B, and is not folded into anything
            if node is a:
                lines += [with_time(position_sentence(563009999, 11.4 + 0.0005 * k, 115.3, sog=10.0, cog=0.0),
                                    now - 60 + 10 * k) for k in range(6)]
            r = httpx.post(f"{node.url}/v1/ingest/ais?sensor_id={sid}", content="\n".join(lines), headers=INTEGRATOR)
            assert r.json()["accepted"] == len(lines), r.text

        def entries(node: LiveServer, mmsi: int) -> list[dict]:
            return [t for t in httpx.get(f"{node.url}/v1/tracks", headers=OFFICER).json()["tracks"]
                    if t["mmsi"] == mmsi]

        def settled() -> bool:
            for m in mirrors:
                m.pump()
            return all(len(e := entries(n, 563001234)) == 1 and e[0].get("partners") for n in (a, b)) \
                and len(entries(b, 563009999)) == 1
        assert wait_for(settled, 20), (entries(a, 563001234), entries(b, 563001234))
        for node, partner in ((a, "B"), (b, "A")):
            (entry,) = entries(node, 563001234)
            assert "origin" not in entry, "the node's own track is the entry"
            (contribution,) = entry["partners"]
            assert contribution["node"] == partner and contribution["track_id"].startswith(f"{partner}:")
            assert abs(contribution["lat"] - entry["lat"]) < 0.01
        assert entries(b, 563009999)[0]["origin"] == ["A"]
        assert entries(a, 563009999)[0].get("origin") is None
        # B's live stream: A's next update of the shared vessel says which of B's tracks it is
        # the same vessel as; the vessel only A hears is no one's
        with stream_events(b, OFFICER) as events:
            lines = [with_time(position_sentence(m, lat, 115.1 if m == 563001234 else 115.3, sog=10.0, cog=0.0), now + 5)
                     for m, lat in ((563001234, 11.1035), (563009999, 11.4035))]
            r = httpx.post(f"{a.url}/v1/ingest/ais?sensor_id=AIS-A", content="\n".join(lines), headers=INTEGRATOR)
            assert r.json()["accepted"] == 2, r.text

            def partner_events() -> dict[int, dict]:
                mirrors[0].pump()
                return {e["mmsi"]: e for kind, e in list(events) if kind == "track" and e.get("origin") == ["A"]}
            assert wait_for(lambda: len(partner_events()) == 2, 15), list(events)
            shared, alone = partner_events()[563001234], partner_events()[563009999]
            assert shared["folded_into"] == entries(b, 563001234)[0]["track_id"]
            assert "folded_into" not in alone
        # A's alert about the vessel links, at B, to B's own track of it
        a.runtime.bus.publish(topics.ALERTS, "V1", {**alert("V1", ["ASEAN"]), "mmsi": 563001234,
                                                    "track_id": entries(a, 563001234)[0]["track_id"]})
        a.runtime.bus.flush()

        def at_b() -> dict | None:
            for m in mirrors:
                m.pump()
            r = httpx.get(f"{b.url}/v1/alerts/A:V1", headers=OFFICER)
            return r.json() if r.status_code == 200 else None
        assert wait_for(at_b, 15)
        assert at_b()["evidence"]["local_track_id"] == entries(b, 563001234)[0]["track_id"]
        assert at_b()["track_id"] == f"A:{entries(a, 563001234)[0]['track_id']}"
        # several more rounds both ways: nothing comes back to where it started, nothing is refused
        for _ in range(10):
            for m in mirrors:
                m.pump()
            time.sleep(0.1)
        for node, partner in ((a, "B"), (b, "A")):
            assert link(node, partner, "in")["refused"] == 0
            stored = [t["track_id"] for t in node.runtime.store.tracks(limit=1000)]
            own = node.runtime.settings.node_id
            assert not [t for t in stored if t.startswith(f"{partner}:{own}:")], stored


def test_a_partners_records_are_purged_when_the_retention_ends(tmp_path):
    with two_nodes(tmp_path) as (a, b):
        agree(b, "A", ["ASEAN"], key=public_key(a))
        key = a.runtime.agreements.node_key()
        track = {"track_id": "T9", "time": "2026-12-07T10:00:00Z", "lat": 11.0, "lon": 115.0,
                 "status": "confirmed", "sources": ["radar"]}
        sent = time.time()
        envelope = {"v": 1, "kind": "tracks", "origin": ["A"], "hops": 3, "onward": False, "retention_s": 3600,
                    "sent_s": sent, "releasability": ["ASEAN"], "record": track}
        b.runtime.bus.publish(inbound_topic("A", "B", "tracks"), "T9", seal(envelope, key))
        old = copy.deepcopy(envelope)
        old["sent_s"] = sent - 3601  # its retention ended before it arrived
        old["record"]["track_id"] = "T8"
        b.runtime.bus.publish(inbound_topic("A", "B", "tracks"), "T8", seal(old, key))
        b.runtime.bus.flush()
        assert wait_for(lambda: "A:T9" in partner_tracks(b, OFFICER), 15)
        assert "A:T8" not in partner_tracks(b, OFFICER)
        assert "retention" in link(b, "A", "in")["last_refusal"]
        store = b.runtime.store
        assert store.purge_partner_data(sent + 3599) == 0
        assert store.purge_partner_data(sent + 3601) == 1
        assert store.track("A:T9") is None and store.history("A:T9") == []


def test_a_record_travels_on_only_where_its_origin_and_each_relay_allow_and_never_comes_back(tmp_path):
    """A lets B pass its data on (``onward``); B relays partners' data to C (``relay``) under
    ASEAN only; C relays to A.  A's ASEAN alert reaches C through B, with the path A → B, and
    never comes back to A; A's SG-only alert stops at B; once A withdraws ``onward``, its next
    alert stops at B too, while its closing of the first one (passed on before) still reaches C."""
    with ExitStack() as stack:
        nodes = {}
        for name in ("A", "B", "C"):
            (tmp_path / name).mkdir()
            nodes[name] = stack.enter_context(LiveServer(make_runtime(tmp_path / name, api_keys=KEYS, node_id=name)))
        a, b, c = nodes["A"], nodes["B"], nodes["C"]
        agree(a, "B", ["ASEAN", "SG"], onward=True)
        agree(b, "A", ["ASEAN"], key=public_key(a))
        agree(b, "C", ["ASEAN"], relay=True)
        agree(c, "B", ["ASEAN"], key=public_key(b))
        agree(c, "A", ["ASEAN"], key=public_key(a), relay=True)
        agree(a, "C", ["ASEAN"], key=public_key(c))
        mirrors = [Mirror(a, b), Mirror(b, c), Mirror(c, a)]

        def alerts(node: LiveServer) -> dict[str, dict]:
            for m in mirrors:
                m.pump()
            return {x["alert_id"]: x for x in httpx.get(f"{node.url}/v1/alerts", headers=OFFICER).json()["alerts"]}

        for x in (alert("X1", ["ASEAN"]), alert("X2", ["SG"])):
            a.runtime.bus.publish(topics.ALERTS, x["alert_id"], x)
        a.runtime.bus.flush()
        assert wait_for(lambda: set(alerts(b)) == {"A:X1", "A:X2"} and "A:X1" in alerts(c), 20), (alerts(b), alerts(c))
        assert alerts(c)["A:X1"]["origin"] == ["A", "B"] and "A:X2" not in alerts(c)
        assert alerts(c)["A:X1"]["evidence"]["releasability"] == ["ASEAN"]
        for _ in range(5):  # C relays to A?  A is on the path: never
            alerts(a)
            time.sleep(0.1)
        assert set(alerts(a)) == {"X1", "X2"}
        assert link(a, "C", "in")["refused"] == 0 and link(c, "B", "in")["refused"] == 0

        agree(a, "B", ["ASEAN", "SG"], onward=False)
        a.runtime.bus.publish(topics.ALERTS, "X3", alert("X3", ["ASEAN"]))
        a.runtime.bus.publish(topics.ALERTS, "X1", alert("X1", ["ASEAN"], state="closed"))
        a.runtime.bus.flush()
        assert wait_for(lambda: "A:X3" in alerts(b) and alerts(c)["A:X1"]["state"] == "closed", 20), alerts(c)
        assert "A:X3" not in alerts(c)


def test_records_lost_on_the_way_show_as_a_gap_not_silence(tmp_path):
    """Records that never reach the partner (an outage longer than the topic's retention) are
    reported on the inbound link as a gap of that many records; the link goes on."""
    with two_nodes(tmp_path) as (a, b):
        agree(a, "B", ["SG"])
        agree(b, "A", ["ASEAN"], key=public_key(a))
        lost = {"X3", "X4", "X5"}

        def drop(value: dict):
            record = value["envelope"]["record"]
            return None if record.get("alert_id") in lost else value
        mirror = Mirror(a, b, change=drop)
        for i in range(1, 9):
            a.runtime.bus.publish(topics.ALERTS, f"X{i}", alert(f"X{i}", ["SG"]))
        a.runtime.bus.flush()

        def alerts() -> set[str]:
            mirror.pump()
            return {x["alert_id"] for x in httpx.get(f"{b.url}/v1/alerts", headers=OFFICER).json()["alerts"]}
        assert wait_for(lambda: len(alerts()) == 5, 15), alerts()
        inbound = link(b, "A", "in")
        assert inbound["gaps"] == 3 and inbound["refused"] == 0, inbound
        assert inbound["last_gap"]["kind"] == "alerts" and inbound["last_gap"]["missing"] == 3
        assert inbound["last_gap"]["after_seq"] == 2
        # a repeat (MirrorMaker is at-least-once) is not a gap
        mirror.change = None
        for value in [r.value for r in a.runtime.bus.consumer("mfc.federation.B.alerts", "again").poll(0.2, 100)]:
            b.runtime.bus.publish(inbound_topic("A", "B", "alerts"), "again", value)
        b.runtime.bus.flush()
        assert wait_for(lambda: len(alerts()) == 8, 15), alerts()
        assert link(b, "A", "in")["gaps"] == 3


def test_records_lost_while_the_receiver_was_down_show_as_a_gap_after_its_restart(tmp_path):
    """The receiver keeps the link's numbering across its own restart: records of the partner's
    that never reached it while it was down (longer than its broker kept them) are a gap."""
    for name in ("A", "B"):
        (tmp_path / name).mkdir()
    with LiveServer(make_runtime(tmp_path / "A", api_keys=KEYS, node_id="A")) as a:
        agree(a, "B", ["SG"])

        def received(b: LiveServer, mirror: Mirror) -> set[str]:
            mirror.pump()
            return {x["alert_id"] for x in httpx.get(f"{b.url}/v1/alerts", headers=OFFICER).json()["alerts"]}

        def send(*ids: str) -> None:
            for alert_id in ids:
                a.runtime.bus.publish(topics.ALERTS, alert_id, alert(alert_id, ["SG"]))
            a.runtime.bus.flush()
            assert wait_for(lambda: a.runtime.federation.shared["B"]["alerts"] >= int(ids[-1][1:]), 15)

        with LiveServer(make_runtime(tmp_path / "B", api_keys=KEYS, node_id="B")) as b:
            agree(b, "A", ["ASEAN"], key=public_key(a))
            mirror = Mirror(a, b)
            send("X1", "X2")
            assert wait_for(lambda: received(b, mirror) == {"A:X1", "A:X2"}, 15)
            assert link(b, "A", "in")["gaps"] == 0
        send("X3", "X4", "X5")  # B is down, and these never reach it
        Mirror(a, b).pump()     # (the copy into B's stopped node: gone with it)
        with LiveServer(make_runtime(tmp_path / "B", api_keys=KEYS, node_id="B")) as b:
            mirror = Mirror(a, b)
            send("X6")
            assert wait_for(lambda: "A:X6" in received(b, mirror), 15)
            inbound = link(b, "A", "in")
            assert inbound["gaps"] == 3, inbound
            assert inbound["last_gap"]["missing"] == 3 and inbound["last_gap"]["after_seq"] == 2


def test_replacing_a_partners_key_refuses_what_the_old_key_signs_from_then_on(tmp_path):
    """A revoked key (the agreement re-posted with the partner's new key) is cut off at once."""
    with two_nodes(tmp_path) as (a, b):
        old, new = a.runtime.agreements.node_key(), Ed25519PrivateKey.generate()
        agree(b, "A", ["ASEAN"], key=public_key(a))
        track = {"track_id": "T1", "time": "2026-12-07T10:00:00Z", "lat": 11.0, "lon": 115.0, "status": "confirmed",
                 "sources": ["radar"]}

        def send(track_id: str, key) -> None:
            envelope = {"v": 1, "kind": "tracks", "origin": ["A"], "hops": 3, "onward": False, "retention_s": 86400,
                        "sent_s": time.time(), "releasability": ["ASEAN"], "record": {**track, "track_id": track_id}}
            b.runtime.bus.publish(inbound_topic("A", "B", "tracks"), track_id, seal(envelope, key))
            b.runtime.bus.flush()
        send("T1", old)
        assert wait_for(lambda: "A:T1" in partner_tracks(b, OFFICER), 15)
        from services.federation.outbound import public_pem
        agree(b, "A", ["ASEAN"], key=public_pem(new))
        send("T2", old)
        send("T3", new)
        assert wait_for(lambda: "A:T3" in partner_tracks(b, OFFICER), 15)
        assert "A:T2" not in partner_tracks(b, OFFICER)
        assert link(b, "A", "in")["refused"] == 1 and "not the partner's" in link(b, "A", "in")["last_refusal"]


def test_a_radar_only_partner_track_folds_only_into_its_one_unambiguous_neighbour():
    from pyproj import Geod

    from services.access.visibility import fold_partner_tracks
    geod = Geod(ellps="WGS84")

    def at(lat: float, lon: float, az: float, m: float) -> tuple[float, float]:
        lon2, lat2, _ = geod.fwd(lon, lat, az, m)
        return lat2, lon2

    def track(tid: str, lat: float, lon: float, origin=None, mmsi=None) -> dict:
        line = {"track_id": tid, "time": "2026-12-07T10:00:00Z", "lat": lat, "lon": lon, "sog_kn": 0.0,
                "cog_deg": 0.0, "sigma_m": 50.0, "mmsi": mmsi}
        return {**line, "origin": origin} if origin else line
    lat0, lon0 = 11.0, 115.0
    lone = track("L1", lat0, lon0)
    partner_near = track("A:P1", *at(lat0, lon0, 45, 150), origin=["A"])   # 150 m: inside 3 combined sigmas (212 m)
    partner_out = track("A:P5", *at(lat0, lon0, 225, 300), origin=["A"])   # 300 m the other way: outside them
    pair_a, pair_b = track("L2", *at(lat0, lon0, 90, 20_000)), track("L3", *at(lat0, lon0, 90, 20_100))
    between = track("A:P2", *at(lat0, lon0, 90, 20_050), origin=["A"])         # 50 m from each of two: ambiguous
    same_far = track("L4", *at(lat0, lon0, 180, 30_000), mmsi=548000001)
    mmsi_far = track("A:P3", *at(lat0, lon0, 180, 45_000), origin=["A"], mmsi=548000001)  # 15 km: another ship
    mmsi_near = track("A:P4", *at(lat0, lon0, 180, 31_000), origin=["A"], mmsi=548000001)  # 1 km: the same one
    out = {t["track_id"]: t for t in fold_partner_tracks(
        [lone, partner_near, pair_a, pair_b, between, same_far, mmsi_far, mmsi_near])}
    assert set(out) == {"L1", "L2", "L3", "A:P2", "L4", "A:P3"}
    assert [c["track_id"] for c in out["L1"]["partners"]] == ["A:P1"]
    alone = {t["track_id"] for t in fold_partner_tracks([dict(lone), partner_out])}
    assert alone == {"L1", "A:P5"}
    assert [c["track_id"] for c in out["L4"]["partners"]] == ["A:P4"]
    assert "partners" not in out["L2"] and "partners" not in out["L3"]
