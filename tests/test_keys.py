"""API keys: stored hashed, managed by ``mfc keys`` (run as a real subprocess), and obeyed by a
running app within the key ring's TTL — no restart."""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from services.access.keyring import TTL_S, KeyRing
from services.access.keys import KeyStore
from services.config.settings import Settings

from .conftest import make_runtime, wait_for
from .pg_fixture import postgres_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def mfc(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "MFC_DB": f"sqlite:///{db}"}
    return subprocess.run([sys.executable, "-m", "mfc", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=str(ROOT))


def listed_row(db: Path, name: str) -> list[str]:
    """The fields of ``name``'s row in ``mfc keys list``: id, prefix, role, name, created, last used, state."""
    (row,) = [ln.split() for ln in mfc(db, "keys", "list").stdout.splitlines()[1:] if ln.split()[3] == name]
    return row


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def app(tmp_path):
    """A running app on the SQLite file that ``mfc keys`` writes too."""
    runtime = make_runtime(tmp_path)
    runtime.start()
    try:
        with TestClient(create_app(runtime)) as client:
            yield client, tmp_path / "mfc.db", runtime
    finally:
        runtime.stop()


def accepted(client: TestClient, key: str) -> bool:
    """A key just made works within ttl/4 (an unknown key makes the ring read the store again)."""
    return wait_for(lambda: client.get("/v1/tracks", headers=bearer(key)).status_code == 200,
                    timeout_s=TTL_S / 4 + 0.5, every_s=0.05)


def refused_within(client: TestClient, key: str, limit_s: float) -> float | None:
    """Seconds until ``key`` is refused on /v1/tracks (polled), or None if not within ``limit_s``."""
    t0 = time.monotonic()
    refused = wait_for(lambda: client.get("/v1/tracks", headers=bearer(key)).status_code == 401,
                       timeout_s=limit_s, every_s=0.05)
    return time.monotonic() - t0 if refused else None


def test_a_stored_key_is_only_its_hash(tmp_path):
    db = tmp_path / "keys.db"
    store = KeyStore(f"sqlite:///{db}")
    key, secret = store.create("agency", "PH-CG", time.time())
    store.close()
    rows = sqlite3.connect(db).execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) == 1
    assert not any(secret in str(v) for v in rows[0])            # no column holds the key
    assert hashlib.sha256(secret.encode()).hexdigest() in rows[0]  # its SHA-256 does
    assert secret.encode() not in db.read_bytes()                 # nor does the file, anywhere
    assert len(secret) >= 40 and key.prefix == secret[:10]


@pytest.fixture(params=["sqlite", "postgresql"])
def key_store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        yield KeyStore(url)
        return
    from sqlalchemy import create_engine, text
    base = request.getfixturevalue("postgres_url")
    name = "k_" + secrets.token_hex(6)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    store = KeyStore(base.rsplit("/", 1)[0] + "/" + name)
    yield store
    store.close()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()


def test_key_lifecycle_on_both_databases(key_store):
    """create → accepted; rotate → only the new secret; revoke → nothing; the bootstrap key
    from MFC_API_KEYS keeps working throughout.  A fake clock stands for the TTL passing."""
    now = [0.0]
    boot = secrets.token_urlsafe(16)
    settings = Settings.from_env({"MFC_API_KEYS": f"{boot}:admin:ops"})
    ring = KeyRing(settings.all_keys(), key_store, clock=lambda: now[0], wall=lambda: 1_800_000_000.0)
    key, first = key_store.create("agency", "MY-MMEA", 1_700_000_000.0)
    assert ring.lookup(first).name == "MY-MMEA" and ring.agencies() == ["MY-MMEA"]
    assert ring.lookup(boot).role == "admin" and ring.lookup(first[:-1]) is None
    _, second = key_store.rotate(key.id, 1_700_000_100.0)
    now[0] += TTL_S
    assert ring.lookup(first) is None and ring.lookup(second).id == key.id
    now[0] += TTL_S
    assert key_store.get(key.id).last_used_s == 1_800_000_000.0  # recorded at the refresh
    assert key_store.revoke(key.id, 1_700_000_200.0) and not key_store.revoke(key.id, 1_700_000_300.0)
    now[0] += TTL_S
    assert ring.lookup(second) is None and ring.agencies() == [] and ring.lookup(boot) is not None
    assert [k.id for k in key_store.all(include_revoked=True)] == [key.id] and key_store.all() == []


def test_mfc_keys_create_list_rotate_revoke_end_to_end(app):
    client, db, runtime = app
    made = mfc(db, "keys", "create", "--role", "agency", "--name", "VN-MSA")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert len(made.stdout.splitlines()) == 1 and "shown only now" in made.stderr
    assert accepted(client, secret)
    assert "VN-MSA" in runtime.agencies()  # a member agency now
    assert wait_for(lambda: "VN-MSA" in runtime.router.agencies, timeout_s=TTL_S + 2)  # its topic gets alerts

    listed = mfc(db, "keys", "list")
    assert listed.returncode == 0 and secret not in listed.stdout + listed.stderr
    key_id, prefix, role, name, created, last_used, state = listed_row(db, "VN-MSA")
    assert (prefix, role, state) == (secret[:10] + "…", "agency", "active") and created.endswith("Z")
    # the app records use, batched: the list shows a last-used time after the ring's next refresh
    assert wait_for(lambda: listed_row(db, "VN-MSA")[5] != "-", timeout_s=TTL_S + 5)

    rotated = mfc(db, "keys", "rotate", key_id)
    assert rotated.returncode == 0, rotated.stderr
    new_secret = rotated.stdout.strip()
    assert new_secret != secret
    assert refused_within(client, secret, TTL_S + 1.0) is not None  # the old secret stops working
    assert accepted(client, new_secret)

    revoked = mfc(db, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert refused_within(client, new_secret, TTL_S + 1.0) is not None
    assert "VN-MSA" not in runtime.agencies()
    assert wait_for(lambda: "VN-MSA" not in runtime.router.agencies, timeout_s=TTL_S + 2)
    assert mfc(db, "keys", "revoke", key_id).returncode == 1          # already revoked: says so
    assert "revoked" in mfc(db, "keys", "list", "--all").stdout
    assert key_id not in mfc(db, "keys", "list").stdout


def test_revocation_reaches_a_running_app_within_the_ttl(app):
    client, db, _ = app
    store = KeyStore(f"sqlite:///{db}")  # as another process (the CLI) would
    key, secret = store.create("officer", "watch-1", time.time())
    assert accepted(client, secret)  # and now cached
    store.revoke(key.id, time.time())
    took = refused_within(client, secret, TTL_S + 1.0)
    store.close()
    assert took is not None and took <= TTL_S + 0.5
    r = client.get("/v1/tracks", headers=bearer(secret))
    assert "revoked" in r.json()["error"]


@pytest.mark.parametrize("args, reason", [
    pytest.param(["keys", "create", "--role", "agency", "--name", "PH CG; drop"], "name must", id="bad-name"),
    pytest.param(["keys", "rotate", "Knothere"], "no active key", id="unknown-id"),
])
def test_mfc_keys_says_why_it_refuses(tmp_path, args, reason):
    done = mfc(tmp_path / "k.db", *args)
    assert done.returncode == 1 and reason in done.stderr


def test_mfc_router_routes_for_agencies_of_the_key_store(tmp_path):
    db = tmp_path / "k.db"
    store = KeyStore(f"sqlite:///{db}")
    store.create("agency", "PH-CG", time.time())
    store.close()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "MFC_DB": f"sqlite:///{db}",
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mfc", "router"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    try:
        banner = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "for PH-CG and webhooks" in banner and f"sqlite:///{db}" in banner
