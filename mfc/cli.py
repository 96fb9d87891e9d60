"""The ``mfc`` command."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import sys
import time
from pathlib import Path

# the demo's feeds: beside the package in a source checkout; an install names them (the image does)
SAMPLE = Path(os.environ.get("MFC_SAMPLE_FEEDS") or Path(__file__).resolve().parent.parent / "sample_feeds" / "scs")


def _sensors(path: str | None, near: list[Path]) -> dict:
    from ingest.sensors import load_sensors
    if path:
        return load_sensors(Path(path))
    for p in near:  # convenience: a sensors.json beside the first feed
        candidate = p.parent / "sensors.json"
        if candidate.exists():
            return load_sensors(candidate)
    return {}


def cmd_fuse(args: argparse.Namespace) -> int:
    from services.workers.fuse import fuse
    from services.geo.geography import load_zones_file
    paths = [Path(p) for p in args.files]
    for p in paths:
        if not p.exists():
            print(f"mfc fuse: no such file: {p}", file=sys.stderr)
            return 2
    sensors = _sensors(args.sensors, paths)
    extra_zones = load_zones_file(Path(args.zones)) if args.zones else []
    # a batch run allocates millions of short-lived objects and makes few reference cycles:
    # the cyclic collector runs a fiftieth as often (5 % of the run's time on the textbook scene);
    # as it was afterwards, for a caller in the same process
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    t0 = time.perf_counter()
    try:
        stats = fuse(paths, Path(args.tracks_out), Path(args.alerts_out), sensors,
                     sample_every_s=args.sample_every,
                     rejects_out=Path(args.rejects_out) if args.rejects_out else None,
                     extra_zones=extra_zones, sample_closed=args.sample_closed, reorder_s=args.reorder_s,
                     progress=False if args.quiet else None)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    dt = time.perf_counter() - t0
    print(f"mfc fuse: {stats.observations} observations, {stats.rejects} rejected lines, "
          f"{stats.warnings} lines accepted with a warning, "
          f"{stats.track_lines} track lines, {stats.alerts} alerts in {dt:.1f} s "
          f"({stats.observations / max(dt, 1e-9):,.0f} obs/s)", file=sys.stderr)
    for reason, n in sorted(stats.reject_reasons.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  rejected {n:6d}  {reason}", file=sys.stderr)
    return 0


def serve_settings(args: argparse.Namespace, demo: bool, env: dict[str, str] | None = None):
    """The settings of ``mfc demo`` (``demo``: placeholders allowed, an officer key made unless
    MFC_DEMO_KEY fixes it) or ``mfc serve`` (no demo key: keys come from MFC_API_KEYS or ``mfc keys``)."""
    import secrets

    from services.config.settings import Settings
    env = dict(os.environ if env is None else env)
    overrides: dict[str, object] = {"demo": demo}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if demo:
        overrides["demo_key"] = env.get("MFC_DEMO_KEY") or secrets.token_urlsafe(18)
        if "MFC_DB" not in env:
            Path("mfc-demo.db").unlink(missing_ok=True)
            overrides["db"] = "sqlite:///mfc-demo.db"
    else:
        if env.get("MFC_DEMO_KEY"):
            print("mfc: MFC_DEMO_KEY is ignored outside `mfc demo`; make keys with `mfc keys create`",
                  file=sys.stderr)
        overrides["demo_key"] = ""
    return Settings.from_env(env, **overrides)


def _serve(args: argparse.Namespace, feeds: list[Path] | None) -> int:
    import uvicorn

    from api.app import create_app

    from services.workers.replay import Replayer, ScaledClock
    from services.workers.runtime import Runtime

    settings = serve_settings(args, demo=feeds is not None)
    sensor_file = args.sensors or (str(SAMPLE / "sensors.json") if feeds else None)
    sensors = _sensors(sensor_file, [])
    clock = ScaledClock(getattr(args, "speed", 1.0))
    runtime = Runtime(settings, sensors, clock=clock)
    runtime.start()
    replayer = None
    if feeds:
        replayer = Replayer(feeds, sensors, runtime.ingest, clock)
        replayer.start()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = f"http://{host}:{settings.port}"
    sign_in = (f"{base}/?key={settings.demo_key.get_secret_value()}" if feeds  # the demo's link, like Jupyter's
               else f"{base}/  (sign in with a key from `mfc keys create --role officer --name NAME`)")
    print(f"\n  ASEAN Maritime Fusion Centre — {'demo' if feeds else 'serving'}\n"
          f"  Open the picture:  {sign_in}\n"
          f"  API docs:          {base}/docs\n", flush=True)
    try:
        uvicorn.run(create_app(runtime), host=settings.host, port=settings.port, log_level="warning")
    finally:
        if replayer:
            replayer.stop()
        runtime.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    feeds = [SAMPLE / "ais.nmea", SAMPLE / "radar.jsonl"]
    missing = [str(p) for p in feeds if not p.exists()]
    if missing:
        print(f"mfc demo: sample feeds missing: {', '.join(missing)} (set MFC_SAMPLE_FEEDS to the "
              "directory holding ais.nmea, radar.jsonl and sensors.json)", file=sys.stderr)
        return 2
    return _serve(args, feeds)


def cmd_serve(args: argparse.Namespace) -> int:
    return _serve(args, None)


def cmd_replay(args: argparse.Namespace) -> int:
    from services.workers.replay_http import replay
    key = args.key or os.environ.get("MFC_REPLAY_KEY", "")
    if not key:
        print("mfc replay: give an integrator key with --key or MFC_REPLAY_KEY", file=sys.stderr)
        return 2
    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"mfc replay: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    from services.workers.replay_http import ReplayRefused
    try:
        totals = replay(paths, args.to, key, speed=args.speed, default_sensor=args.sensor_id)
    except ReplayRefused as exc:
        print(f"mfc replay: {exc}", file=sys.stderr)
        return 2
    late = f" ({totals['late']} too late for the live picture)" if totals.get("late") else ""
    print(f"mfc replay: sent {totals['sent']} lines, {totals['accepted']} accepted{late}, "
          f"{totals['rejected']} rejected", file=sys.stderr)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from services.scenario.simulate import main_simulate
    return main_simulate(args)


def cmd_exercise(args: argparse.Namespace) -> int:
    from services.scenario.exercise import main_exercise
    if args.action in ("start", "debrief") and not args.key:
        print(f"mfc exercise {args.action}: give a key with --key or MFC_EXERCISE_KEY", file=sys.stderr)
        return 2
    return main_exercise(args)


def cmd_score(args: argparse.Namespace) -> int:
    from services.scenario.score import main_score
    return main_score(args)


def cmd_checkpoint_convert(args: argparse.Namespace) -> int:
    from services.state.checkpoint import CheckpointError, convert_pickle
    try:
        header = convert_pickle(Path(args.old), Path(args.new))
    except CheckpointError as exc:
        print(f"mfc checkpoint convert: {exc}", file=sys.stderr)
        return 2
    print(f"mfc checkpoint convert: wrote {args.new} (offsets {header['covered']}); "
          f"set MFC_CHECKPOINT to it", file=sys.stderr)
    return 0


def _checkpoint_commands(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("checkpoint", help="fusion checkpoint files")
    csub = c.add_subparsers(dest="action", required=True)
    conv = csub.add_parser(
        "convert", help="convert a pickled checkpoint of an earlier version (this UNPICKLES it)",
        description="Convert a pickled fusion checkpoint written by an earlier version into the "
                    "current format (JSON and arrays, never executed).  This is the only command that "
                    "unpickles, and unpickling can run code: convert only a file your own fusion "
                    "service wrote.  Its journal, if any, is copied beside NEW.")
    conv.add_argument("old", help="the pickled checkpoint (OLD)")
    conv.add_argument("new", help="where to write the converted checkpoint (NEW)")
    conv.set_defaults(func=cmd_checkpoint_convert)


def cmd_federation_certs(args: argparse.Namespace) -> int:
    from services.federation.pki import make_certs
    out = Path(args.out)
    try:
        made = make_certs(args.node, out, args.host or ["127.0.0.1", "localhost"])
    except ValueError as exc:
        print(f"mfc federation certs: {exc}", file=sys.stderr)
        return 2
    print(f"mfc federation certs: {args.node}'s CA {made['ca']} (give it to partners; keep {made['ca_key']} "
          f"here) and link identity {made['node']}; put each partner's ca.pem in {made['partners']}/<partner>.pem",
          file=sys.stderr)
    return 0


def _federation_commands(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("federation", help="federation between nodes: link certificates")
    fsub = f.add_subparsers(dest="action", required=True)
    certs = fsub.add_parser(
        "certs", help="make this node's certificate authority (once) and issue its link certificate",
        description="Make NODE's own certificate authority in DIR (kept if it exists) and issue NODE's "
                    "link certificate (CN=NODE, server and client) for mutual TLS between brokers: "
                    "DIR/ca.pem goes to partners, DIR/ca.key stays here, DIR/node.pem is read by "
                    "scripts/kafka-dev (MFC_KAFKA_TLS_DIR) and scripts/federation-mirror "
                    "(MFC_MIRROR_TLS_DIR); partners' CA certificates go in DIR/partners/PARTNER.pem.")
    certs.add_argument("node", type=_node_id, help="this node's id (MFC_NODE_ID)")
    certs.add_argument("--out", required=True, metavar="DIR", help="the node's certificate directory")
    certs.add_argument("--host", action="append", metavar="H",
                       help="a host name or address partners reach the broker at (repeatable; "
                            "default 127.0.0.1 and localhost)")
    certs.set_defaults(func=cmd_federation_certs)


def _node_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a node id (letters, digits, '_' or '-')")
    return value


def _service(name: str):
    """``mfc.deploy``'s command ``name``, imported when it runs: the services' modules
    (Kafka, SQLAlchemy, pydantic) stay out of the batch commands' start-up."""
    def run(args: argparse.Namespace) -> int:
        from mfc import deploy
        return getattr(deploy, name)(args)
    return run


def _service_commands(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("fusion", help="service: mfc.obs → tracker and rules → mfc.tracks, mfc.alerts")
    f.add_argument("--checkpoint-every", type=float, default=10.0, help="seconds between state checkpoints")
    f.set_defaults(func=_service("cmd_fusion"))
    i = sub.add_parser("ingest", help="service: raw topics and NMEA sockets → mfc.obs")
    i.add_argument("--sensor-id", help="sensor id for lines arriving on the NMEA sockets")
    i.add_argument("--tcp", type=int, help="TCP port for NMEA lines")
    i.add_argument("--udp", type=int, help="UDP port for NMEA datagrams")
    i.add_argument("--asterix-udp", type=int, metavar="PORT", help="UDP port for ASTERIX CAT048/CAT010 datagrams")
    i.add_argument("--asterix-source", action="append", metavar="ADDRESS=SENSOR_ID",
                   help="a radar's source address and its registered sensor id (repeat for each radar); "
                        "datagrams from other addresses are refused")
    i.set_defaults(func=_service("cmd_ingest"))
    a = sub.add_parser("api", help="service: HTTP API, web page and store writer")
    a.set_defaults(func=_service("cmd_api"))
    r = sub.add_parser("router", help="service: mfc.alerts → agency topics and signed webhooks")
    r.set_defaults(func=_service("cmd_router"))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mfc", description="ASEAN Maritime Fusion Centre")
    sub = p.add_subparsers(dest="command", required=True)
    for name, fn, helptext in (("demo", cmd_demo, "the whole system on the sample feeds"),
                               ("serve", cmd_serve, "the whole system, waiting for integrators")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--host", help="listen address (MFC_HOST, default 127.0.0.1)")
        s.add_argument("--port", type=int, help="listen port (MFC_PORT, default 8000)")
        s.add_argument("--sensors", help="sensors file (JSON)")
        if name == "demo":
            s.add_argument("--speed", type=float, default=1.0, help="replay speed, times real time")
        s.set_defaults(func=fn)
    f = sub.add_parser("fuse", help="batch: fuse recorded feeds into track and alert lines")
    f.add_argument("files", nargs="+")
    f.add_argument("--tracks-out", required=True)
    f.add_argument("--alerts-out", required=True)
    f.add_argument("--sample-every", type=float, help="seconds of feed time between snapshots")
    f.add_argument("--sample-closed", action="store_true",
                   help="with --sample-every: a snapshot at t also takes the observations stamped at t and "
                        "processes the radar scans buffered by then (set --sample-every to the scan period "
                        "for one snapshot right after each scan)")
    f.add_argument("--sensors", help="sensors file (default: sensors.json beside the first feed)")
    f.add_argument("--zones", help="extra zones (GeoJSON)")
    f.add_argument("--rejects-out", help="write rejected lines and reasons here (JSON Lines)")
    f.add_argument("--reorder-s", type=float, default=600.0,
                   help="seconds of feed time within which each file's lines are put in time order; "
                        "a line older than that behind its file's newest is fused as a late report (default 600)")
    f.add_argument("--quiet", action="store_true", help="no progress line on a terminal")
    f.set_defaults(func=cmd_fuse)
    r = sub.add_parser("replay", help="push recorded feeds into a running system, paced")
    r.add_argument("files", nargs="+")
    r.add_argument("--to", required=True, help="base URL of the running system, e.g. http://127.0.0.1:8000")
    r.add_argument("--speed", type=float, default=1.0, help="times real time")
    r.add_argument("--key", help="integrator key (or MFC_REPLAY_KEY)")
    r.add_argument("--sensor-id", default="ais", help="sensor id for AIS lines without a tag-block station")
    r.set_defaults(func=cmd_replay)
    sim = sub.add_parser("simulate", help="write a scenario's feeds, truth and labels (seeded)",
                         description="Write a scenario's feeds (contract formats), sensors.json, zones.geojson, "
                                     "truth.jsonl and labels.jsonl into --out.  The same seed gives the same bytes.")
    sim.add_argument("scenario", nargs="?", help="a built-in scenario's name (see --list) or a .toml file")
    sim.add_argument("--out", help="output directory")
    sim.add_argument("--list", action="store_true", help="list the built-in scenarios")
    sim.add_argument("--seed", type=int, help="override the scenario's seed")
    sim.add_argument("--hours", type=float, help="override the scenario's length")
    sim.add_argument("--vessels", type=int, help="override the scenario's background vessels")
    sim.add_argument("--quiet", action="store_true", help="no progress line")
    sim.set_defaults(func=cmd_simulate)
    sc = sub.add_parser("score", help="score a run against a scenario's truth and labels",
                        description="Score mfc fuse output (tracks sampled with --sample-every, alerts) against the "
                                    "truth.jsonl and labels.jsonl of a scenario directory.")
    sc.add_argument("dir", help="the scenario directory (truth.jsonl, labels.jsonl)")
    sc.add_argument("--tracks", required=True, help="track lines (mfc fuse --tracks-out, with --sample-every)")
    sc.add_argument("--alerts", required=True, help="alert lines (mfc fuse --alerts-out)")
    sc.add_argument("--json", help="write the scores here (JSON)")
    sc.add_argument("--plot", help="plot truth, tracks and alerts: a self-contained HTML page (.html, .htm) or an image (.png)")
    sc.add_argument("--cutoff-m", type=float, default=500.0, help="GOSPA cut-off c in metres (p = 1, alpha = 2)")
    sc.set_defaults(func=cmd_score)
    ex = sub.add_parser("exercise", help="a scenario played into an exercise system, and the debrief",
                        description="Exercises run on an exercise system (MFC_EXERCISE=NAME; MFC_FUSION_CLOCK=feed "
                                    "for speeds above 1), never in the live picture.")
    exsub = ex.add_subparsers(dest="action", required=True)
    st = exsub.add_parser("start", help="write the scenario (truth kept here), register its sensors, play its feeds")
    st.add_argument("scenario", help="a built-in scenario's name (mfc simulate --list) or a .toml file")
    st.add_argument("--to", required=True, help="base URL of the exercise system")
    st.add_argument("--key", default=os.environ.get("MFC_EXERCISE_KEY"), help="admin key (or MFC_EXERCISE_KEY)")
    st.add_argument("--speed", type=float, default=1.0, help="times real time (above 1: a feed-clock system)")
    st.add_argument("--dir", help="where the scenario and the exercise record go")
    st.add_argument("--seed", type=int, help="override the scenario's seed")
    st.add_argument("--hours", type=float, help="override the scenario's length")
    sp = exsub.add_parser("stop", help="end a running exercise")
    sp.add_argument("dir")
    db = exsub.add_parser("debrief", help="what the trainees did against the truth")
    db.add_argument("dir")
    db.add_argument("--key", default=os.environ.get("MFC_EXERCISE_KEY"), help="officer or admin key")
    db.add_argument("--json", help="write the debrief here (JSON)")
    ex.set_defaults(func=cmd_exercise)
    _service_commands(sub)
    from mfc import keys_cli
    keys_cli.add_commands(sub)
    _checkpoint_commands(sub)
    _federation_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from services.config.settings_core import SettingsError
    from ingest.errors import IngestError
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, IngestError) as exc:  # a bad sensors file, settings, ...: the reason, no traceback
        print(f"mfc {args.command}: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"mfc {args.command}: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except ValueError as exc:
        zones = sys.modules.get("services.geo.geography")  # a zones file refused (loaded only then)
        if zones is not None and isinstance(exc, zones.ZonesFileError):
            print(f"mfc {args.command}: {exc}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
