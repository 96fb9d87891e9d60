"""Keys never reach a log: uvicorn's access log, turned on, shows ``key=[redacted]``."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import uvicorn

from api.app import create_app

from .conftest import OFFICER_KEY, free_port, make_runtime


def served(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn") and "/v1/" in r.getMessage()]


def test_the_access_log_never_records_a_key_from_the_query_string(tmp_path, caplog):
    runtime = make_runtime(tmp_path)
    port = free_port()
    # as an operator would turn it on: info level, access log, uvicorn's loggers propagating
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port,
                                           log_level="info", access_log=True, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    runtime.start()
    caplog.set_level(logging.INFO)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        secret = "not-a-real-key-0123456789"
        assert httpx.get(f"{url}/v1/tracks?bbox=1,2,3,4&key={secret}").status_code == 401
        assert httpx.get(f"{url}/v1/tracks", params={"key": OFFICER_KEY, "limit": 5}).status_code == 401
        with httpx.stream("GET", f"{url}/v1/stream?key={OFFICER_KEY}", timeout=5) as r:
            assert r.status_code == 200
        deadline = time.time() + 5
        while time.time() < deadline and len(served(caplog)) < 3:
            time.sleep(0.05)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.stop()
    lines = served(caplog)
    assert len(lines) >= 3, lines
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("uvicorn"))
    assert secret not in text and OFFICER_KEY not in text
    assert sum("key=[redacted]" in line for line in lines) == 3, lines
    assert any("bbox=1,2,3,4" in line for line in lines)  # the rest of the path is kept
