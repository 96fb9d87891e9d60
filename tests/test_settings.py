"""Settings: one frozen object from one environment, secrets never shown, placeholders refused
outside the demo, and the demo key only in ``mfc demo``."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from mfc.cli import serve_settings
from services.config.settings import Settings, SettingsError
from services.workers.runtime import Runtime

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
REAL = secrets.token_hex(16)  # a password nobody copied from an example


def run_mfc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "mfc", *args], capture_output=True, text=True,
                          env=full, timeout=120, cwd=str(ROOT))


def test_settings_come_from_the_mapping_given_and_are_frozen(monkeypatch):
    monkeypatch.setenv("MFC_PORT", "1234")
    assert Settings.from_env({}).port == 8000                    # only the mapping given is read
    assert Settings.from_env().port == 1234                      # default: the process environment
    s = Settings.from_env({"MFC_PORT": "9000", "MFC_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true", "MFC_HOST": ""})
    assert (s.port, s.webhook_allow_loopback_http, s.host) == (9000, True, "127.0.0.1")  # empty = unset
    with pytest.raises(ValidationError):
        s.port = 1  # type: ignore[misc]
    with pytest.raises(SettingsError, match="MFC_PORT"):
        Settings.from_env({"MFC_PORT": "eighty"})


def test_secrets_do_not_show_in_repr_or_str():
    key = secrets.token_urlsafe(18)
    s = Settings.from_env({"MFC_DB": f"postgresql+psycopg://mfc:{REAL}@db.example.org:5432/mfc",
                           "MFC_API_KEYS": f"{key}:agency:PH-CG"}, demo_key="demo-" + key)
    for text in (repr(s), str(s), s.db_display):
        assert REAL not in text and key not in text
    assert s.db_display == "postgresql+psycopg://mfc:***@db.example.org:5432/mfc"
    assert s.db.endswith(f":{REAL}@db.example.org:5432/mfc")      # the engine still gets the real URL
    assert set(s.all_keys()) == {key, "demo-" + key}


@pytest.mark.parametrize("env, what, secret", [
    pytest.param({"MFC_DB": "postgresql+psycopg://mfc:changeme@db:5432/mfc"}, "MFC_DB password", "changeme",
                 id="db-changeme"),
    pytest.param({"MFC_DB": "postgresql+psycopg://mfc:mfc-change-me@db:5432/mfc"}, "MFC_DB password",
                 "mfc-change-me", id="db-old-compose-default"),
    pytest.param({"MFC_DB": "postgresql://postgres:postgres@db.internal/mfc"}, "MFC_DB password", "postgres@",
                 id="db-postgres"),
    pytest.param({"MFC_DB": "postgresql://mfc:Password@10.0.0.5/mfc"}, "MFC_DB password", "Password",
                 id="db-password"),
    pytest.param({"MFC_API_KEYS": "changeme:admin:ops"}, "API key 'ops'", "changeme", id="key-changeme"),
    pytest.param({"MFC_API_KEYS": f"{REAL}:officer,example-key-change-me:integrator:x"}, "API key 'x'",
                 "example-key", id="key-change-me-inside"),
])
def test_placeholder_secrets_are_refused_outside_the_demo(env, what, secret):
    with pytest.raises(SettingsError, match=f"{what}.*placeholder.*only in `mfc demo`") as refused:
        Settings.from_env(env)
    assert secret not in str(refused.value)  # the reason never repeats the secret
    assert Settings.from_env(env, demo=True)  # the demo on a laptop may use them


def test_real_secrets_and_loopback_postgres_are_accepted():
    assert Settings.from_env({"MFC_DB": f"postgresql+psycopg://mfc:{REAL}@db:5432/mfc",
                              "MFC_API_KEYS": f"{secrets.token_urlsafe(24)}:admin:ops"})
    assert Settings.from_env({"MFC_DB": "postgresql://postgres:postgres@127.0.0.1:5432/mfc"})  # a developer's box


def args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(host=None, port=None, sensors=None, **kw)


def test_mfc_serve_has_no_demo_key_and_mfc_demo_has_one(tmp_path, capsys):
    demo_key = secrets.token_urlsafe(18)
    env = {"MFC_DEMO_KEY": demo_key, "MFC_DB": f"sqlite:///{tmp_path / 'serve.db'}"}
    served = serve_settings(args(), demo=False, env=env)
    assert served.demo_key.get_secret_value() == "" and not served.demo
    assert "MFC_DEMO_KEY is ignored" in capsys.readouterr().err
    runtime = Runtime(served, {})
    runtime.start()
    try:
        client = TestClient(create_app(runtime))
        assert client.get("/v1/tracks", headers={"Authorization": f"Bearer {demo_key}"}).status_code == 401
    finally:
        runtime.stop()
    demo = serve_settings(args(speed=1.0), demo=True, env=env)
    assert demo.demo and demo.demo_key.get_secret_value() == demo_key
    generated = serve_settings(args(speed=1.0), demo=True, env={"MFC_DB": env["MFC_DB"]})
    assert len(generated.demo_key.get_secret_value()) >= 20


def test_mfc_api_prints_the_database_url_without_its_password():
    port = free_port()  # nothing listens there: the command prints its banner, then fails to connect
    done = run_mfc({"MFC_DB": f"postgresql+psycopg://mfc:{REAL}@127.0.0.1:{port}/mfc"}, "api")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"postgresql+psycopg://mfc:***@127.0.0.1:{port}/mfc" in done.stdout
    assert REAL not in out


def test_mfc_serve_refuses_a_placeholder_key_with_the_reason():
    done = run_mfc({"MFC_API_KEYS": "changeme:admin:ops", "MFC_DB": "sqlite:///:memory:"}, "serve")
    assert done.returncode == 2
    assert "API key 'ops' is a placeholder" in done.stderr and "changeme" not in done.stderr


def test_an_exercise_system_is_named_and_its_kafka_topics_are_apart_from_live_ones():
    s = Settings.from_env({"MFC_EXERCISE": "Drill 1", "MFC_KAFKA_PREFIX": "ci"})
    assert s.exercise == "Drill 1" and s.bus_prefix == "exercise-Drill_1.ci"
    assert Settings.from_env({"MFC_KAFKA_PREFIX": "ci"}).bus_prefix == "ci"
    with pytest.raises(SettingsError, match="MFC_EXERCISE"):
        Settings.from_env({"MFC_EXERCISE": "<script>"})
