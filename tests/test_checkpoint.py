"""Fusion state saved mid-feed and reloaded continues exactly as an uninterrupted run; the file
is plain data that never runs code, and anything else is refused with a clear error."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import subprocess
import sys
import time
import zipfile
from collections import deque
from pathlib import Path

import pytest

from fusion.pipeline import Fusion
from fusion.rules.loitering import _Loiter
from ingest.sensors import load_sensors
from mfc.cli import main as mfc
from services.geo.geography import build_geography
from services.state.checkpoint import Checkpoint, CheckpointError, CheckpointSuperseded
from services.state.file import write_state
from services.state.restore import state_of
from services.workers.fuse import load_observations

from .conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
SCS = ROOT / "sample_feeds" / "scs"
FEED_S = 40 * 60  # the first 40 minutes of the sample feeds: silence timers set before the cut fire after it


@pytest.fixture(scope="module")
def feed():
    sensors = load_sensors(SCS / "sensors.json")
    observations, _ = load_observations([SCS / "ais.nmea", SCS / "radar.jsonl"], sensors)
    start = observations[0].time_s
    return sensors, [o for o in observations if o.time_s < start + FEED_S]


def fresh(sensors) -> Fusion:
    """What ``mfc fusion`` builds at start, before it restores a checkpoint."""
    return Fusion(dict(sensors), build_geography(sensors))


def run(fusion: Fusion, observations, step: int = 1000) -> tuple[list, list]:
    lines, alerts = [], []
    for i in range(0, len(observations), step):
        batch = observations[i:i + step]
        for got_lines, got_alerts in (fusion.update(batch), fusion.advance(batch[-1].time_s + 5.0)):
            lines += [x.to_dict() for x in got_lines]
            alerts += [a.to_dict() for a in got_alerts]
    return lines, alerts


@pytest.fixture(scope="module")
def uninterrupted(feed):
    sensors, observations = feed
    return run(fresh(sensors), observations)


@pytest.fixture(scope="module")
def halfway(feed):
    """A Fusion that took the first half of the feed, its outputs, and where it stopped."""
    sensors, observations = feed
    half = len(observations) // 4000 * 1000  # a quarter in, on a batch boundary of ``run``
    first = fresh(sensors)
    return first, run(first, observations[:half]), half


def test_restart_from_checkpoint_equals_uninterrupted_run(feed, uninterrupted, halfway, tmp_path):
    sensors, observations = feed
    first, before, half = halfway
    assert len(first.rules.ctx.timers) > 0 and first.tracker.tracks  # silence timers and tracks in flight
    checkpoint = Checkpoint(tmp_path / "fusion.ckpt")
    checkpoint.save(first, {0: half})
    restored, covered = Checkpoint(tmp_path / "fusion.ckpt").load(fresh(sensors))
    after = run(restored, observations[covered[0]:])

    assert covered == {0: half}
    assert before[0] + after[0] == uninterrupted[0] and len(uninterrupted[0]) > 1000
    assert before[1] + after[1] == uninterrupted[1] and len(uninterrupted[1]) > 20


def test_file_holds_no_pickle_and_is_owner_only(halfway, tmp_path):
    first, _, half = halfway
    path = tmp_path / "fusion.ckpt"
    old = os.umask(0)  # even a permissive umask gives 0600
    try:
        Checkpoint(path).save(first, {0: half})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("state.json"))
        for name in names:
            assert b"\x80\x04\x95" not in zf.read(name) and b"\x80\x05\x95" not in zf.read(name)
    assert doc["format"] == "mfc-fusion-state" and doc["version"] == 1 and doc["covered"] == [[0, half]]
    assert any(n.endswith(".npy") for n in names)


def rewrite(path: Path, change) -> None:
    """Rewrite a checkpoint's state.json through ``change(doc)`` (as someone who can write the file)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["state.json"])
    change(doc)
    members["state.json"] = json.dumps(doc).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())


@pytest.fixture
def saved(halfway, tmp_path) -> Path:
    first, _, half = halfway
    path = tmp_path / "fusion.ckpt"
    Checkpoint(path).save(first, {0: half})
    return path


def _marker_cmd(marker: Path) -> list[str]:
    return ["touch", str(marker)]


@pytest.mark.parametrize("payload", [
    pytest.param(lambda m: {"o": "subprocess.Popen", "id": 10**9, "v": {"args": _marker_cmd(m)}}, id="Popen-object"),
    pytest.param(lambda m: {"p": {"m": "system", "self": {"o": "os.system", "id": 10**9, "v": {}}},
                            "args": [f"touch {m}"], "kw": []}, id="os.system-partial"),
    pytest.param(lambda m: {"o": "posix.system", "id": 10**9, "v": {"command": f"touch {m}"}}, id="posix.system"),
    pytest.param(lambda m: {"o": "fusion.pipeline.Unknown", "id": 10**9, "v": {}}, id="unknown-class"),
])
def test_a_state_naming_code_is_refused_without_running_it(saved, tmp_path, payload, feed):
    marker = tmp_path / "pwned"

    def inject(doc):  # the payload replaces the tracker's stats dict, deep inside the state
        tracker = next(v for k, v in doc["state"]["fusion"]["v"].items() if k == "tracker")
        tracker["v"]["stats"] = payload(marker)

    rewrite(saved, inject)
    with pytest.raises(CheckpointError, match="not allowed") as err:
        Checkpoint(saved).load(fresh(feed[0]))
    assert str(saved) in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("method, owner, reason", [
    pytest.param("__reduce_ex__", "tracker", "method name '__reduce_ex__' is not allowed", id="dunder"),
    pytest.param("add_zone", "geography", "Geography has no method 'add_zone'", id="not-allowed-owner"),
    pytest.param("nope", "tracker", "Tracker has no method 'nope'", id="unknown-method"),
])
def test_a_method_not_defined_by_an_allowed_class_is_refused(saved, feed, method, owner, reason):
    def inject(doc):
        tracker = doc["state"]["fusion"]["v"]["tracker"]
        target = {"r": tracker["id"]} if owner == "tracker" else {"x": "geography"}
        tracker["v"]["stats"] = {"p": {"m": method, "self": target}, "args": [2], "kw": []}

    rewrite(saved, inject)
    with pytest.raises(CheckpointError, match=reason):
        Checkpoint(saved).load(fresh(feed[0]))


def test_a_deeply_nested_state_is_refused(saved, feed):
    rewrite(saved, lambda d: d["state"].update(sensors="NESTED"))
    with zipfile.ZipFile(saved) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    deep = b'{"t":[' * 100_000 + b"]}" * 100_000  # tuples in tuples, deeper than any stack
    members["state.json"] = members["state.json"].replace(b'"NESTED"', deep)
    with zipfile.ZipFile(saved, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(CheckpointError, match="RecursionError"):
        Checkpoint(saved).load(fresh(feed[0]))


@pytest.mark.parametrize("damage, reason", [
    pytest.param(lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "corrupt or truncated",
                 id="truncated"),
    pytest.param(lambda p: p.write_bytes(p.read_bytes()[:200] + bytes(64) + p.read_bytes()[264:]),
                 "corrupt or truncated", id="corrupt-bytes"),
    pytest.param(lambda p: p.write_bytes(b"\x00garbage" * 10), "not a fusion checkpoint", id="not-a-checkpoint"),
    pytest.param(lambda p: rewrite(p, lambda d: d.update(version=99)), "version 99 is not supported",
                 id="unknown-version"),
    pytest.param(lambda p: rewrite(p, lambda d: d.update(format="other-tool")), "format 'other-tool'",
                 id="unknown-format"),
    pytest.param(lambda p: rewrite(p, lambda d: d.update(arrays=d["arrays"] + 1)), "missing arrays/",
                 id="array-missing"),
])
def test_damaged_or_foreign_files_are_refused_with_the_reason(saved, feed, damage, reason):
    damage(saved)
    with pytest.raises(CheckpointError, match=reason) as err:
        Checkpoint(saved).load(fresh(feed[0]))
    assert str(saved) in str(err.value)


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_an_old_pickle_is_never_loaded_implicitly(tmp_path, feed):
    marker = tmp_path / "pwned"
    path = tmp_path / "old.ckpt"
    path.write_bytes(pickle.dumps({"format": 1, "fusion": _RunsCode(marker), "covered": {0: 1}}))
    with pytest.raises(CheckpointError, match="mfc checkpoint convert"):
        Checkpoint(path).load(fresh(feed[0]))
    assert not marker.exists()
    # and convert, the one command that unpickles, still refuses globals a checkpoint never holds
    assert mfc(["checkpoint", "convert", str(path), str(tmp_path / "new.ckpt")]) == 2
    assert not marker.exists() and not (tmp_path / "new.ckpt").exists()


def test_mfc_fusion_refuses_an_old_pickle_naming_the_convert_command(tmp_path):
    path = tmp_path / "old.ckpt"
    path.write_bytes(pickle.dumps({"format": 1, "fusion": None, "covered": {}}))
    env = {**os.environ, "MFC_CHECKPOINT": str(path), "MFC_BUS": "embedded", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "mfc", "fusion"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"mfc checkpoint convert {path}" in done.stderr


def test_convert_turns_an_old_pickle_into_a_checkpoint_that_continues_the_run(feed, uninterrupted, tmp_path):
    sensors, observations = feed
    half = len(observations) // 4000 * 1000  # a quarter in, on a batch boundary of ``run``
    first = fresh(sensors)
    before = run(first, observations[:half])
    for rule in first.rules.rules:  # loitering windows as the earlier version held them
        for st in getattr(rule, "tracks", {}).values():
            if isinstance(st, _Loiter):
                flat = st.segs[st.head:]
                st.segs, st.head = deque(tuple(flat[i:i + 3]) for i in range(0, len(flat), 3)), 0
    assert any(isinstance(st, _Loiter) and len(st.segs) > 3 for r in first.rules.rules
               for st in getattr(r, "tracks", {}).values())
    old = tmp_path / "old.ckpt"
    with open(old, "wb") as fh:  # what the earlier version's Checkpoint.save wrote
        pickle.dump({"format": 1, "fusion": first, "covered": {0: half}, "generation": 4}, fh,
                    protocol=pickle.HIGHEST_PROTOCOL)
    old.with_name("old.ckpt.journal").write_text('{"generation":4,"ranges":[[0,1,2]],"clock":null}\n')

    assert mfc(["checkpoint", "convert", str(old), str(tmp_path / "new.ckpt")]) == 0
    converted = Checkpoint(tmp_path / "new.ckpt")
    restored, covered = converted.load(fresh(sensors))
    after = run(restored, observations[covered[0]:])

    assert before[0] + after[0] == uninterrupted[0]
    assert before[1] + after[1] == uninterrupted[1]
    assert converted.journal() == [{"generation": 4, "ranges": [[0, 1, 2]], "clock": None}]
    assert stat.S_IMODE((tmp_path / "new.ckpt").stat().st_mode) == 0o600


def _journaled(fusion: Fusion, checkpoint: Checkpoint, observations, start: int, end: int,
               step: int = 1000) -> tuple[list, list]:
    """``run`` over observations[start:end], each batch journaled first, as ``mfc fusion`` does."""
    lines, alerts = [], []
    for i in range(start, end, step):
        batch = observations[i:min(i + step, end)]
        advance = batch[-1].time_s + 5.0
        checkpoint.append_journal({"ranges": [[0, i, i + len(batch)]], "advance": advance})
        for got_lines, got_alerts in (fusion.update(batch), fusion.advance(advance)):
            lines += [x.to_dict() for x in got_lines]
            alerts += [a.to_dict() for a in got_alerts]
    return lines, alerts


def _recovered(path: Path, sensors, observations) -> tuple[list, list]:
    """What a fusion restarted after a crash publishes: the journal's batches redone on the state
    on disk, then the rest of the feed."""
    checkpoint = Checkpoint(path)
    fusion, covered = checkpoint.load(fresh(sensors))
    lines, alerts = [], []
    end = covered[0]
    for entry in checkpoint.journal():
        (_, a, b), = entry["ranges"]
        assert a == end, "the journal goes on from where the state on disk stops"
        for got_lines, got_alerts in (fusion.update(observations[a:b]), fusion.advance(entry["advance"])):
            lines += [x.to_dict() for x in got_lines]
            alerts += [a_.to_dict() for a_ in got_alerts]
        end = b
    rest = run(fusion, observations[end:], step=700)  # polled anew: not the batches the crashed run made
    return lines + rest[0], alerts + rest[1]


@pytest.mark.parametrize("crash", ["child failed", "child done, not reaped", "reaped"])
def test_a_background_save_recovers_exactly_whenever_the_crash_comes(feed, uninterrupted, tmp_path, monkeypatch,
                                                                    crash):
    """``save_in_background`` writes the state from a forked child while fusion goes on: a crash
    while the child writes (the previous checkpoint stays), after it wrote but before the fusion
    noticed, or after, must all come back to the uninterrupted run's outputs."""
    sensors, observations = feed
    q1, q2, q3 = (len(observations) // 4000 * 1000 * k for k in (1, 2, 3))
    fusion, path = fresh(sensors), tmp_path / "fusion.ckpt"
    checkpoint = Checkpoint(path)
    before = run(fusion, observations[:q1])
    checkpoint.save(fusion, {0: q1})
    between = _journaled(fusion, checkpoint, observations, q1, q2)
    if crash == "child failed":
        def broken(*args, **kwargs):
            raise OSError("disk full")
        monkeypatch.setattr("services.state.checkpoint.write_state", broken)
    assert checkpoint.save_in_background(fusion, {0: q2})
    after = _journaled(fusion, checkpoint, observations, q2, q3)  # fused on while the child writes
    if crash == "reaped":
        assert checkpoint.finished(wait=True) == {0: q2}
        assert len(checkpoint.journal()) == len(range(q2, q3, 1000))  # only what followed the fork
    else:
        pid = checkpoint._child[0]
        _, status = os.waitpid(pid, 0)
        assert (os.WEXITSTATUS(status) != 0) == (crash == "child failed")
    head = Checkpoint(path).peek()
    assert head["covered"] == ({0: q1} if crash == "child failed" else {0: q2})
    recovered = _recovered(path, sensors, observations)
    # from the state on disk up to the crash, the restarted fusion redoes the crashed run's
    # batches and publishes the very lines and alerts it had published, under the same ids
    redone = [b + c for b, c in zip(between, after)] if crash == "child failed" else list(after)
    assert len(redone[0]) > 500
    assert recovered[0][:len(redone[0])] == redone[0]
    assert recovered[1][:len(redone[1])] == redone[1]
    assert before[0] + between[0] + after[0] == uninterrupted[0][:len(before[0] + between[0] + after[0])]


@pytest.mark.parametrize("order", ["the other member writes first", "the child writes first"])
def test_a_background_save_never_writes_over_a_member_that_took_over(halfway, tmp_path, order):
    """A member paused past its session (a VM freeze) while its child writes: the member that
    took over saves too.  Its state must be the one on disk, and the paused member must learn
    that it lost the picture, whichever write came first."""
    first, _, half = halfway
    path = tmp_path / "fusion.ckpt"
    paused = Checkpoint(path)
    paused.save(first, {0: 1})
    before = paused.stamp()[0]
    took_over = Checkpoint(path)
    took_over.peek()
    tree, arrays = state_of(first)
    if order == "the other member writes first":
        with took_over._locked():  # the child, forked meanwhile, waits for the lock
            assert paused.save_in_background(first, {0: 2})
            time.sleep(0.2)
            write_state(path, {"covered": [[0, half]], "generation": 2}, tree, arrays)
    else:
        assert paused.save_in_background(first, {0: 2})
        assert wait_for(lambda: paused.stamp()[0] != before, timeout_s=30)
        time.sleep(0.05)  # the child's rename is done; let it tell its stamp
        with took_over._locked():
            write_state(path, {"covered": [[0, half]], "generation": 2}, tree, arrays)
    with pytest.raises(CheckpointSuperseded):
        paused.finished(wait=True)
    assert Checkpoint(path).peek()["covered"] == {0: half}
