"""docker-compose.yml, Dockerfile and .dockerignore: valid, and wired to what the code reads.

Validation is ``docker-compose config`` (Debian's ``docker-compose`` package, or Compose v2 as
``docker compose``): it checks the file against the Compose specification and resolves
anchors, merges and variables.  Without it the test skips, which fails the run under CI=true.
No container is started.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from services.cli import parser
from services.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
MFC_SERVICES = {"ingest", "fusion", "api"}


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # no MFC_* from the caller's environment


def compose_base() -> list[str]:
    cmd = compose_command()
    if cmd is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    return [*cmd, "-f", str(COMPOSE), "--project-directory", str(ROOT)]


@pytest.fixture(scope="module")
def config() -> dict:
    base = compose_base()
    env = {**CLEAN_ENV, "MFC_DB_PASSWORD": secrets.token_hex(16)}  # the operator must set it
    checked = subprocess.run([*base, "config", "-q"], capture_output=True, text=True, env=env, timeout=120)
    assert checked.returncode == 0, checked.stderr
    as_json = subprocess.run([*base, "config", "--format", "json"], capture_output=True, text=True, env=env,
                             timeout=120)
    if as_json.returncode == 0 and as_json.stdout.lstrip().startswith("{"):  # Compose v2
        return json.loads(as_json.stdout)
    # Compose v1 (Python) prints YAML only: read it with the YAML library it runs on.
    resolved = subprocess.run([*base, "config"], capture_output=True, text=True, env=env, timeout=120)
    assert resolved.returncode == 0, resolved.stderr
    shebang = Path(shutil.which(base[0]) or "").read_bytes()[:200].split(b"\n")[0].decode(errors="replace")
    assert shebang.startswith("#!") and "python" in shebang, f"cannot read {base[0]}'s YAML ({shebang!r})"
    python = shebang[2:].strip().split()[-1] if "env" in shebang else shebang[2:].strip().split()[0]
    to_json = subprocess.run([python, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
                             input=resolved.stdout, capture_output=True, text=True, timeout=60)
    assert to_json.returncode == 0, to_json.stderr
    return json.loads(to_json.stdout)


def test_compose_ships_no_database_password():
    """Without MFC_DB_PASSWORD compose refuses to start, naming the variable, rather than fall back
    on a password everyone who read the file knows."""
    refused = subprocess.run([*compose_base(), "config", "-q"], capture_output=True, text=True, env=CLEAN_ENV,
                             timeout=120)
    assert refused.returncode != 0
    assert "MFC_DB_PASSWORD" in refused.stderr


def test_a_placeholder_database_password_stops_the_api_services():
    """Compose resolves the variable; the settings of `mfc api` then refuse a placeholder."""
    resolved = subprocess.run([*compose_base(), "config"], capture_output=True, text=True, timeout=120,
                              env={**CLEAN_ENV, "MFC_DB_PASSWORD": "changeme"})
    assert resolved.returncode == 0, resolved.stderr
    (line,) = [ln.strip() for ln in resolved.stdout.splitlines()
               if ln.strip().startswith("MFC_DB:") and "postgresql" in ln]  # the partner node's is SQLite
    url = line.split(":", 1)[1].strip().strip("'\"")
    assert ":changeme@db:5432/" in url
    with pytest.raises(SettingsError, match="MFC_DB password .* placeholder") as refused:
        Settings.from_env({"MFC_DB": url})
    assert "changeme" not in str(refused.value)  # the reason never repeats the secret


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def variables_settings_reads() -> set[str]:
    class Spy(dict):
        def __init__(self) -> None:
            super().__init__()
            self.asked: set[str] = set()

        def get(self, key, default=None):
            self.asked.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            self.asked.add(key)
            return super().__getitem__(key)

        def __contains__(self, key):
            self.asked.add(key)
            return super().__contains__(key)
    spy = Spy()
    Settings.from_env(spy)
    return {k for k in spy.asked if k.startswith("MFC_")}


def test_compose_file_is_valid_and_has_the_deployment(config):
    services = config["services"]
    assert MFC_SERVICES <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["db"]["image"].startswith("postgres:")
    for name in ("kafka", "db", "api", "fusion"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in MFC_SERVICES:
        svc = services[name]
        assert "build" in svc or svc.get("image", "").startswith("mfc")
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure")
        assert environment(svc)["MFC_BUS"] == "kafka://kafka:9092"
    assert services["api"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert environment(services["api"])["MFC_DB"].startswith("postgresql+psycopg://")
    assert "@db:5432/" in environment(services["api"])["MFC_DB"]


def test_state_lives_on_volumes(config):
    services, volumes = config["services"], set(config.get("volumes") or {})

    def mounts(name: str) -> dict[str, str]:
        out = {}
        for v in services[name].get("volumes", []):
            if isinstance(v, str):
                source, target = v.split(":")[:2]
            else:
                source, target = v.get("source"), v["target"]
            out[target] = source
        return out
    checkpoint = Path(environment(services["fusion"])["MFC_CHECKPOINT"])
    fusion_mounts = mounts("fusion")
    assert str(checkpoint.parent) in fusion_mounts and fusion_mounts[str(checkpoint.parent)] in volumes
    assert mounts("db").get("/var/lib/postgresql/data") in volumes
    kafka_dirs = environment(services["kafka"])["KAFKA_LOG_DIRS"]
    assert mounts("kafka").get(kafka_dirs) in volumes


def test_fusion_scales_to_standbys_sharing_one_checkpoint(config):
    """``docker-compose up --scale fusion=2``: replicas need no fixed name or host port, and
    they share the checkpoint through a named volume (a standby takes the owner's state over
    from it; docs/deployment.md, "Scaling out"): a bind-less anonymous volume would give each
    replica its own, and the second would refuse to fuse."""
    fusion = config["services"]["fusion"]
    assert "container_name" not in fusion and not fusion.get("ports")
    checkpoint_dir = str(Path(environment(fusion)["MFC_CHECKPOINT"]).parent)
    sources = []
    for v in fusion.get("volumes", []):
        source, target = (v.split(":")[:2] if isinstance(v, str) else (v.get("source"), v["target"]))
        if target == checkpoint_dir:
            sources.append(source)
    assert sources and sources[0] in set(config.get("volumes") or {})
    assert fusion.get("restart") in ("unless-stopped", "always", "on-failure")  # a fenced member comes back as a standby


def test_every_mfc_variable_is_one_the_settings_read(config):
    read = variables_settings_reads()
    assert {"MFC_BUS", "MFC_DB", "MFC_CHECKPOINT", "MFC_KAFKA_PREFIX"} <= read
    for name, svc in config["services"].items():
        unknown = {k for k in environment(svc) if k.startswith("MFC_")} - read
        assert not unknown, f"service {name} sets {sorted(unknown)}, which services/settings.py does not read"
    # and the values parse
    for name in MFC_SERVICES:
        env = {k: v for k, v in environment(config["services"][name]).items() if k.startswith("MFC_")}
        Settings.from_env(env)


def test_each_service_runs_a_real_mfc_subcommand(config):
    for name in MFC_SERVICES:
        command = config["services"][name]["command"]
        if isinstance(command, str):
            command = command.split()
        assert command[0] == "mfc", command
        args = parser().parse_args(command[1:])  # SystemExit on an unknown command or option
        assert args.command == name and callable(args.func)


def test_dockerfile_and_dockerignore():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") or "FROM python:3" in dockerfile
    assert "FROM python:3.11" in dockerfile and 'CMD ["mfc"' in dockerfile and "USER mfc" in dockerfile
    for part in ("services", "ingest", "fusion", "api"):
        assert f"COPY {part} ./{part}" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "*.db", "*.ckpt"} <= set(ignored)


def test_the_federation_profile_runs_a_partner_node_linked_both_ways_by_mirrormaker(config):
    """``docker-compose --profile federation up``: a second node with its own broker, fusion and
    API, and one MirrorMaker 2 per direction whose cluster aliases are the two nodes' ids and
    whose topics are the ones each node writes for the other (``mfc.federation.<target>.*``)."""
    services = config["services"]
    partner = {"kafka-partner", "fusion-partner", "api-partner", "mirror-to-partner", "mirror-from-partner"}
    assert partner <= set(services)
    for name in partner:
        assert services[name].get("profiles") == ["federation"], name
    for name in ("kafka", "db", "ingest", "fusion", "api"):
        assert not services[name].get("profiles"), f"{name} must run without the profile"
    ours, theirs = environment(services["api"])["MFC_NODE_ID"], environment(services["api-partner"])["MFC_NODE_ID"]
    assert ours != theirs and environment(services["fusion-partner"])["MFC_NODE_ID"] == theirs
    assert environment(services["api-partner"])["MFC_BUS"] == environment(services["fusion-partner"])["MFC_BUS"] \
        == "kafka://kafka-partner:9092"
    assert services["api-partner"]["ports"] != services["api"]["ports"]
    for name, (source, target) in {"mirror-to-partner": (ours, theirs), "mirror-from-partner": (theirs, ours)}.items():
        env = environment(services[name])
        assert (env["SOURCE"], env["TARGET"]) == (source, target)
        brokers = {ours: "kafka:9092", theirs: "kafka-partner:9092"}
        assert (env["SOURCE_BOOTSTRAP"], env["TARGET_BOOTSTRAP"]) == (brokers[source], brokers[target])
        script = "\n".join(services[name]["command"]).replace("$$", "$")
        assert "connect-mirror-maker.sh" in script and "replication.policy.separator = _" in script
        assert "${SOURCE}->${TARGET}.topics = mfc[.]federation[.]${TARGET}[.].*" in script
        assert services[name]["image"] == services["kafka"]["image"]  # MirrorMaker of the broker's release
