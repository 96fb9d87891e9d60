"""docker-compose.yml, Dockerfile and .dockerignore: valid, and wired to what the code reads.

Validation is ``docker-compose config`` (Debian's ``docker-compose`` package, or Compose v2 as
``docker compose``): it checks the file against the Compose specification and resolves
anchors, merges and variables.  Without it the test skips, which fails the run under CI=true.
No container is started.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
import sys
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from mfc.cli import parser
from services.config.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
FEDERATION = ROOT / "docker-compose.federation.yml"
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


def compose_base(*more: Path) -> list[str]:
    cmd = compose_command()
    if cmd is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    return [*cmd, "-f", str(COMPOSE), *(a for f in more for a in ("-f", str(f))), "--project-directory", str(ROOT)]


@pytest.fixture(scope="module")
def config() -> dict:
    return resolved(compose_base())


@pytest.fixture(scope="module")
def federation_config() -> dict:
    return resolved(compose_base(FEDERATION))


def resolved(base: list[str]) -> dict:
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
        assert not unknown, f"service {name} sets {sorted(unknown)}, which services/config/settings.py does not read"
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
    for part in ("mfc", "services", "ingest", "fusion", "api"):
        assert f"COPY {part} ./{part}" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "*.db", "*.ckpt"} <= set(ignored)


def test_the_federation_file_runs_a_partner_node_linked_both_ways_over_mutual_tls(config, federation_config, tmp_path):
    """``docker-compose -f docker-compose.yml -f docker-compose.federation.yml up``: a second node
    with its own broker, fusion and API; each broker keeps a TLS listener for the other node
    (client certificates required, only the other node's CA trusted, its certificates mapped to
    the other node's id, an authorizer on); one MirrorMaker 2 per direction reads the source's TLS
    listener with the receiving node's certificate.  The certificate job's own script is run
    here (with this checkout's ``mfc``): the files every service names exist, and each broker
    trusts, through the file it names, the certificate the other side's MirrorMaker presents
    (checked with OpenSSL through Python's ``ssl``)."""
    base, services = config["services"], federation_config["services"]
    partner = {"federation-certs", "kafka-partner", "fusion-partner", "api-partner", "mirror-to-partner",
               "mirror-from-partner"}
    assert not partner & set(base) and partner <= set(services)
    assert "FED" not in environment(base["kafka"])["KAFKA_LISTENERS"]  # the base deployment is unchanged
    ours, theirs = environment(services["api"])["MFC_NODE_ID"], environment(services["api-partner"])["MFC_NODE_ID"]
    assert ours != theirs and environment(services["fusion-partner"])["MFC_NODE_ID"] == theirs
    assert environment(services["api-partner"])["MFC_BUS"] == environment(services["fusion-partner"])["MFC_BUS"] \
        == "kafka://kafka-partner:9092"
    assert services["api-partner"]["ports"] != services["api"]["ports"]

    # the certificate job, run as compose would (the volume at a temporary directory)
    job = services["federation-certs"]
    script = "\n".join(job["command"]).replace("$$", "$").replace("/certs", str(tmp_path))
    if os.geteuid() != 0:
        script = script.replace("chown 1000:1000", "true")
    bin_dir = str(Path(sys.executable).parent)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={**CLEAN_ENV, "PATH": f"{bin_dir}:{CLEAN_ENV['PATH']}", **environment(job)})
    assert done.returncode == 0, done.stderr

    def in_volume(path: str) -> Path:
        assert path.startswith("/certs/"), path
        return tmp_path / path.removeprefix("/certs/")
    brokers = {ours: "kafka", theirs: "kafka-partner"}
    for node, name in brokers.items():
        other = theirs if node == ours else ours
        env = environment(services[name])
        assert services[name]["depends_on"]["federation-certs"]["condition"] == "service_completed_successfully"
        assert "FED://:9094" in env["KAFKA_LISTENERS"] and f"FED://{name}:9094" in env["KAFKA_ADVERTISED_LISTENERS"]
        assert "FED:SSL" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
        assert env["KAFKA_LISTENER_NAME_FED_SSL_CLIENT_AUTH"] == "required"
        assert env["KAFKA_LISTENER_NAME_FED_SSL_PRINCIPAL_MAPPING_RULES"].replace("$$", "$") == f"RULE:^.*$/{other}/"
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
        assert env["KAFKA_SUPER_USERS"] == "User:ANONYMOUS"
        # the MirrorMaker that reads this broker runs for the other node, with the other node's certificate
        (mirror,) = [m for m in ("mirror-to-partner", "mirror-from-partner") if environment(services[m])["SOURCE"] == node]
        menv = environment(services[mirror])
        assert menv["TARGET"] == other and menv["SOURCE_BOOTSTRAP"] == f"{name}:9094"
        assert menv["TARGET_BOOTSTRAP"] == f"{brokers[other]}:9092"
        identity = in_volume(menv["TLS_DIR"] + "/node.pem")
        trusted = ssl.create_default_context(cafile=str(in_volume(env["KAFKA_LISTENER_NAME_FED_SSL_TRUSTSTORE_LOCATION"])))
        trusted.load_cert_chain(str(identity))  # the key matches its certificate
        chain = x509.load_pem_x509_certificates(identity.read_bytes())
        ca = x509.load_pem_x509_certificate(in_volume(env["KAFKA_LISTENER_NAME_FED_SSL_TRUSTSTORE_LOCATION"]).read_bytes())
        chain[0].verify_directly_issued_by(ca)  # the broker's truststore holds the CA of the client's certificate
        assert chain[0].subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == other
        # and MirrorMaker trusts the broker's own certificate through the file it names
        server = x509.load_pem_x509_certificates(in_volume(env["KAFKA_LISTENER_NAME_FED_SSL_KEYSTORE_LOCATION"]).read_bytes())
        their_ca = x509.load_pem_x509_certificate((identity.parent / "partners" / f"{node}.pem").read_bytes())
        server[0].verify_directly_issued_by(their_ca)
        names = server[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert name in names.get_values_for_type(x509.DNSName)  # the host MirrorMaker connects to
        script = "\n".join(services[mirror]["command"]).replace("$$", "$")
        assert "connect-mirror-maker.sh" in script and "replication.policy.separator = _" in script
        assert "${SOURCE}->${TARGET}.topics = mfc[.]federation[.]${TARGET}[.].*" in script
        assert "${SOURCE}.security.protocol = SSL" in script
        assert "${SOURCE}.ssl.keystore.location = ${TLS_DIR}/node.pem" in script
        assert "${SOURCE}.ssl.truststore.location = ${TLS_DIR}/partners/${SOURCE}.pem" in script
        assert "offset-syncs.topic.location = target" in script
        assert services[mirror]["image"] == services["kafka"]["image"]  # MirrorMaker of the broker's release
