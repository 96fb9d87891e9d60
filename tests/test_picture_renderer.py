"""The polled reads (the live picture, its CoT form, the track list) are rendered in processes
of their own (``api.renderer``): what each viewer
gets is what the serving process would have rendered, releasability included; a sensor only
another process knows shows up; a renderer that dies costs no poll; an in-memory database
keeps rendering in the serving process."""

from __future__ import annotations

import os
import signal
import time

import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.app import create_app
from api.renderer import shareable
from fusion.model import Sensor, iso_time
from services.store.sensor_registry import SensorRegistry

from .conftest import make_runtime, wait_for
from .pg_fixture import postgres_url  # noqa: F401  (a fixture)
from .test_picture_cache import KEYS, OFFICER, PH, SENSORS, VN, ids, server, track


READS = ("/v1/picture", "/v1/picture?bbox=114,11,116,11.2", "/v1/tracks", "/v1/tracks?source=radar&limit=7",
         "/v1/picture.cot", "/v1/picture.cot?stale_s=60")


def bodies(url: str) -> dict[tuple[str, str], bytes]:
    out = {}
    for path in READS:
        for name, who in (("officer", OFFICER), ("PH", PH), ("VN", VN)):
            r = httpx.get(f"{url}{path}", headers={**who, "Accept-Encoding": "identity"})
            assert r.status_code == 200, r.text
            out[(path, name)] = r.content
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A database another process can read: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mfc.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    name = "r_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_each_viewer_gets_from_the_renderer_process_what_the_serving_process_renders(tmp_path, db):
    t0 = time.time() + 60  # newer than what server() writes: the same lines in both pictures, byte for byte
    lines = [track(f"T-{k}", ("RAD-PH", "RAD-ALL")[k % 2], 11.0 + k / 100, t0 + k) for k in range(40)] + [
        track("T-PH", "RAD-PH", 11.1, t0), track("T-ALL", "RAD-ALL", 12.1, t0)]
    with server(tmp_path, picture_cache_s=30, db=db) as srv:
        srv.runtime.store.write_tracks(lines)
        renderer = srv.app_state.picture_renderer
        assert renderer is not None
        assert ids(srv.url, VN) == {"T-ALL"} | {f"T-{k}" for k in range(1, 40, 2)}  # never a PH-only radar's
        assert ids(srv.url, PH) == {"T-PH", "T-ALL"} | {f"T-{k}" for k in range(40)}
        elsewhere = bodies(srv.url)
        # each viewer's each read once (the two asked above among them), none in the serving process
        assert renderer.renders == len(READS) * 3 and renderer.fallbacks == 0
    with server(tmp_path, picture_cache_s=30, picture_renderer="inline", db=db) as srv:
        srv.runtime.store.write_tracks(lines)
        assert srv.app_state.picture_renderer is None
        here = bodies(srv.url)
    assert elsewhere == here  # byte for byte
    for path in READS:  # Viet Nam's view is narrower than staff's in each
        assert here[(path, "VN")] != here[(path, "officer")], path


def test_an_agencys_picture_time_is_the_newest_of_what_it_may_see_not_of_a_restricted_track(tmp_path):
    t0 = time.time() + 60  # newer than what server() writes
    with server(tmp_path) as srv:
        srv.runtime.store.write_tracks([track("T-ALL", "RAD-ALL", 12.1, t0), track("T-PH", "RAD-PH", 11.1, t0 + 30)])
        officer = httpx.get(f"{srv.url}/v1/picture", headers=OFFICER).json()
        vn = httpx.get(f"{srv.url}/v1/picture", headers=VN).json()
        assert [f["id"] for f in vn["features"]] == ["T-ALL"]
        assert officer["time"] == iso_time(t0 + 30)  # staff: the Philippine radar's newer track
        assert vn["time"] == iso_time(t0)  # Viet Nam is not told when a track it may not see last moved


def test_a_sensor_registered_by_another_process_shows_on_the_next_rendering(tmp_path):
    with server(tmp_path) as srv:
        srv.runtime.sensor_lookup.reload_s = 0.2  # how often a miss re-reads the registry (5 s by default)
        srv.runtime.store.write_tracks([track("T-NEW", "RAD-NEW", 12.3)])
        assert ids(srv.url, VN) == {"T-ALL"}  # an unknown sensor's track: visible to no agency
        # registered through another process's registry, never through this one
        SensorRegistry(srv.runtime.settings.db).put(
            Sensor("RAD-NEW", "radar", 12.0, 115.0, owner="vn", releasability=("VN",)), "other-process")
        assert wait_for(lambda: ids(srv.url, VN) == {"T-ALL", "T-NEW"}, timeout_s=10, every_s=0.2)
        assert ids(srv.url, PH) == {"T-PH", "T-ALL"}  # and still not to the Philippines


def test_a_renderer_process_killed_costs_no_poll_and_is_replaced(tmp_path):
    with server(tmp_path, picture_cache_s=0.2) as srv:
        renderer = srv.app_state.picture_renderer
        assert ids(srv.url, VN) == {"T-ALL"}
        pids = [p.pid for p in renderer._pool._processes.values()]
        assert pids and os.getpid() not in pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)  # past the cache time: the next poll needs a rendering
        srv.runtime.store.write_tracks([track("T-NEW", "RAD-ALL", 12.5)])
        assert ids(srv.url, VN) == {"T-ALL", "T-NEW"}  # rendered here while the renderer was gone
        assert renderer.fallbacks >= 1
        time.sleep(0.3)
        assert ids(srv.url, OFFICER) == {"T-PH", "T-ALL", "T-NEW"}
        new = [p.pid for p in renderer._pool._processes.values()]
        assert new and not set(new) & set(pids)  # a new renderer made it


def test_a_database_another_process_cannot_read_is_rendered_in_the_serving_process(tmp_path):
    assert not shareable("sqlite://") and not shareable("sqlite:///:memory:")
    assert not shareable("sqlite:///file:pic?mode=memory&cache=shared&uri=true")
    assert shareable(f"sqlite:///{tmp_path / 'mfc.db'}") and shareable("postgresql+psycopg://u@localhost/mfc")
    runtime = make_runtime(tmp_path, sensors=SENSORS, api_keys=KEYS, db="sqlite://", fusion=False)
    assert create_app(runtime).state.picture_renderer is None
