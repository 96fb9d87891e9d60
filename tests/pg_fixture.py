"""A throwaway PostgreSQL server (Debian's packages) on loopback for store tests."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from .conftest import free_port


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_url():
    if os.environ.get("MFC_TEST_POSTGRES"):
        yield os.environ["MFC_TEST_POSTGRES"]
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server is not installed (./dev test installs Debian's postgresql)")
    bindir = os.path.dirname(found[-1])
    root = tempfile.mkdtemp(prefix="mfc-pg-")
    data, log = os.path.join(root, "data"), os.path.join(root, "pg.log")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    pg_ctl = os.path.join(bindir, "pg_ctl")
    subprocess.run(_as_postgres([os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "mfc"]),
                   check=True, capture_output=True)
    opts = f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c full_page_writes=off"
    subprocess.run(_as_postgres([pg_ctl, "-D", data, "-o", opts, "-l", log, "-w", "start"]),
                   check=True, capture_output=True)
    # the server stops by itself within the hour even if this session is killed
    watchdog = subprocess.Popen(_as_postgres(["sh", "-c", f"sleep 3600; {pg_ctl} -D {data} -m immediate stop"]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield f"postgresql+psycopg://mfc@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"]), capture_output=True)
        watchdog.kill()
        shutil.rmtree(root, ignore_errors=True)
