"""An install without extras (what the Docker image has) runs every ``mfc`` subcommand.

The package is built from a copy of the source (no tests, no repo on ``sys.path``) into a
fresh virtual environment with ``pip install <dir>`` and nothing else; then each module of
``mfc``, ``services``, ``ingest``, ``fusion`` and ``api`` is imported there, and each subcommand runs:
``mfc fuse`` on a few sample lines, ``mfc replay`` into a ``mfc serve`` started from that
environment, ``--help`` for the long-running services.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

from .conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_feeds" / "scs"
PACKAGES = ("mfc", "services", "ingest", "fusion", "api")
KEY = "install-test-admin-key"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py, mfc = env_dir / "bin" / "python", env_dir / "bin" / "mfc"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run([str(py), "-m", "pip", "install", "-q", str(src)], cwd=base, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    work = base / "work"  # not the repo: only the installed package can be imported
    work.mkdir()
    return {"py": str(py), "mfc": str(mfc), "env": env, "work": work}


def run(installed: dict, *args: str, timeout_s: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    env = dict(installed["env"], **extra_env)
    return subprocess.run(list(args), cwd=installed["work"], env=env, capture_output=True, text=True,
                          timeout=timeout_s)


def test_every_module_imports_with_the_runtime_dependencies_only(installed):
    script = (
        "import importlib, pkgutil, sys\n"
        f"for name in {PACKAGES!r}:\n"
        "    pkg = importlib.import_module(name)\n"
        "    assert 'site-packages' in pkg.__file__, pkg.__file__\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "        print(info.name)\n")
    done = run(installed, installed["py"], "-c", script)
    assert done.returncode == 0, done.stderr
    imported = done.stdout.split()
    assert {"mfc.deploy", "services.workers.replay_http", "services.bus.kafka_bus"} <= set(imported)
    assert len(imported) > 50
    # and the test extras really are absent, so the check above means something
    assert run(installed, installed["py"], "-c", "import pytest").returncode != 0


def _subcommands() -> list[str]:
    from mfc.cli import parser
    (action,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(action.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_answers_help(installed, command):
    done = run(installed, installed["mfc"], command, "--help")
    assert done.returncode == 0, done.stderr
    assert f"usage: mfc {command}" in done.stdout


def _head(path: Path, n: int, out: Path) -> Path:
    with path.open() as f:
        out.write_text("".join(next(f) for _ in range(n)))
    return out


def test_fuse_on_a_few_sample_lines(installed):
    work = installed["work"]
    ais = _head(SAMPLE / "ais.nmea", 400, work / "ais.nmea")
    radar = _head(SAMPLE / "radar.jsonl", 400, work / "radar.jsonl")
    done = run(installed, installed["mfc"], "fuse", str(ais), str(radar), "--sensors", str(SAMPLE / "sensors.json"),
               "--tracks-out", str(work / "tracks.jsonl"), "--alerts-out", str(work / "alerts.jsonl"))
    assert done.returncode == 0, done.stderr
    tracks = [json.loads(line) for line in (work / "tracks.jsonl").read_text().splitlines()]
    assert len({t["mmsi"] for t in tracks if t["mmsi"]}) >= 10


def _get(url: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _wait(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_replay_into_serve_both_from_the_install(installed):
    work, port = installed["work"], free_port()
    url = f"http://127.0.0.1:{port}"
    ais = _head(SAMPLE / "ais.nmea", 300, work / "replay.nmea")
    env = dict(installed["env"], MFC_API_KEYS=f"{KEY}:admin:ops", MFC_DB=f"sqlite:///{work / 'serve.db'}")
    server = subprocess.Popen([installed["mfc"], "serve", "--port", str(port), "--sensors",
                               str(SAMPLE / "sensors.json")], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait(lambda: _get(f"{url}/healthz") is not None, 60), "mfc serve did not come up"
        done = run(installed, installed["mfc"], "replay", str(ais), "--to", url, "--speed", "1000", "--key", KEY)
        assert done.returncode == 0, done.stderr
        assert "ModuleNotFoundError" not in done.stderr
        summary = done.stderr.strip().splitlines()[-1]
        accepted = int(summary.split(" accepted")[0].rsplit(" ", 1)[1])
        assert accepted >= 150, summary
        assert _wait(lambda: len(_get(f"{url}/v1/tracks")["tracks"]) >= 10, 30)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert "Traceback" not in err, err


def test_demo_from_the_install_serves_the_sample_picture(installed):
    work, port = installed["work"], free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(installed["env"], MFC_DEMO_KEY=KEY, MFC_SAMPLE_FEEDS=str(SAMPLE), MFC_DB=f"sqlite:///{work / 'demo.db'}")
    demo = subprocess.Popen([installed["mfc"], "demo", "--port", str(port), "--speed", "20"], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait(lambda: len(_get(f"{url}/v1/tracks")["tracks"]) >= 5, 90), "the demo's picture stayed empty"
    finally:
        demo.terminate()
        out, err = demo.communicate(timeout=30)
    assert f"/?key={KEY}" in out and "Traceback" not in err, err
