"""Fusion state on disk: the tracker and rules, with the input offsets they cover, and a journal.

The checkpoint is one file, a ZIP container written atomically (temporary file, fsync,
rename) with owner-only permissions (0600): ``state.json`` (format name and version, the
offsets covered, and the state as plain data, ``codec``) and ``arrays/<i>.npy``
(the tracker's tables, read with ``allow_pickle=False``).  Loading never runs code: only
classes on the allow-list (``classes``) are rebuilt, and anything else, or a corrupt,
truncated or unknown file, raises ``CheckpointError``.

The geography (land, zones, ports: Shapely geometries and trees) is not stored: ``load``
takes a freshly built ``Fusion`` and restores the state into its geography and sensors,
adding the sensors and AIS receivers the state knew that the fresh ones lack.

Pickled checkpoints of earlier versions are never loaded; ``convert_pickle`` (the command
``mfc checkpoint convert OLD NEW``) converts one once.

The journal (``<checkpoint>.journal``, JSON Lines) lists the batches handled since the
checkpoint: for each, the offset ranges ``[partition, first, end)`` in the order they were
fused and the clock time the state was advanced to.  Each entry is on disk (fsync) before
the batch's outputs are published, so after a crash the same batches can be fused again,
identically.  A torn last line (a crash while writing it) is ignored: that batch's outputs
were never published.  Saving a checkpoint empties the journal.

``save_in_background`` writes the checkpoint from a forked child (copy-on-write: the state as
it is at the fork, encoded on the other core) while the caller fuses on; entries journaled
meanwhile carry the new generation.  A state on disk replays every journal entry of its
generation and later, so a crash before the child finished (the previous checkpoint, every
entry since it) and after it (the new one, the entries since the fork) both recover exactly.
Once the child has finished, ``finished()`` empties the journal of what the new checkpoint
holds and gives the offsets it covers (only then may they be committed).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fusion.pipeline import Fusion
from services.state.file import CheckpointError, read_state, write_state
from services.state.restore import restore, state_of

__all__ = ["Checkpoint", "CheckpointError", "CheckpointSuperseded", "convert_pickle"]


class CheckpointSuperseded(RuntimeError):
    """Another process wrote the checkpoint or its journal while this one's background save ran
    (a member of the fusion group that took over): this one's state is not the picture any more."""

log = logging.getLogger("mfc.fusion")


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._journal_fh: Any = None
        self.generation = 0  # of the checkpoint on disk; journal entries carry the one they follow
        self._child: tuple[int, dict[int, int], int] | None = None  # a background save: pid, offsets, pipe
        self._since: list[str] = []  # journal lines written since that save's fork
        self._journal_stamp: tuple | None = None  # the journal as this process last wrote it

    @property
    def saving(self) -> bool:
        """A background save is under way (not reaped by ``finished()`` yet)."""
        return self._child is not None

    def save_in_background(self, fusion: Fusion, covered: dict[int, int]) -> bool:
        """Start writing ``fusion`` as it is now from a forked child; False (nothing started) where
        the platform cannot fork or a background save is under way already."""
        if not hasattr(os, "fork") or self._child is not None:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {"covered": sorted(covered.items()), "generation": self.generation + 1}
        at_fork = _stamp(self.path)
        self._journal_stamp = _stamp(self.journal_path)
        sys.stderr.flush()
        parent = os.getpid()
        told, tell = os.pipe()  # the child tells the stamp of the file it wrote
        pid = os.fork()
        if pid == 0:  # the child: encode, write, leave at once (no atexit, no buffers of the parent)
            status = 1
            try:
                os.close(told)
                _die_with(parent)
                tree, arrays = state_of(fusion)
                with self._locked():
                    if _stamp(self.path) != at_fork:  # another member saved since the fork: its state rules
                        os._exit(_SUPERSEDED)
                    write_state(self.path, header, tree, arrays)
                    os.write(tell, json.dumps(_stamp(self.path)).encode())
                status = 0
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
            os._exit(status)
        os.close(tell)
        self._child = (pid, dict(covered), told)
        self.generation += 1  # entries journaled from now on follow the new checkpoint
        self._since = []
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on ``<checkpoint>.lock`` (every write of the checkpoint file holds it)."""
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)  # a POSIX lock: never inherited by a forked child
            yield
        finally:
            os.close(fd)

    def finished(self, wait: bool = False) -> dict[int, int] | None:
        """The offsets the background save covers once it is on disk (its journal entries
        dropped); None while it runs (``wait``: until it ends) or when there is none, and None
        (logged) if it failed: the previous checkpoint and the whole journal still hold the state."""
        if self._child is None:
            return None
        pid, covered, told = self._child
        done, status = os.waitpid(pid, 0 if wait else os.WNOHANG)
        if done == 0:
            return None
        self._child = None
        with os.fdopen(told, "rb") as fh:
            written = fh.read()
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == _SUPERSEDED:
            raise CheckpointSuperseded(f"another process saved {self.path} while this one's background save ran")
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and list(_stamp(self.path) or ()) != \
                json.loads(written or b"[]"):
            raise CheckpointSuperseded(f"another process saved {self.path} after this one's background save")
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            log.error("fusion: the background checkpoint save failed (status %d): the previous checkpoint "
                      "and the journal still hold the state; the next save tries again", status)
            return None
        # The journal keeps only what followed the fork (replaced whole: a crash leaves the old
        # file, whose earlier entries the new checkpoint's generation skips, or the new one).
        since, self._since = self._since, []
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
        if _stamp(self.journal_path) != self._journal_stamp:
            raise CheckpointSuperseded(f"another process wrote {self.journal_path} while this one's background "
                                       "save ran")
        tmp = self.journal_path.with_name(self.journal_path.name + ".tmp")
        with _open_private(tmp, "w") as fh:
            fh.writelines(since)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.journal_path)
        return covered

    def save(self, fusion: Fusion, covered: dict[int, int]) -> None:
        if self._child is not None:
            self.finished(wait=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tree, arrays = state_of(fusion)
        with self._locked():
            write_state(self.path, {"covered": sorted(covered.items()), "generation": self.generation + 1},
                        tree, arrays)
        self.generation += 1
        # The journal's batches are inside the new checkpoint now.  (A crash before this
        # truncation leaves entries of the previous generation, which ``journal()`` skips.)
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
        with _open_private(self.journal_path, "w") as fh:
            fh.flush()
            os.fsync(fh.fileno())

    def load(self, fresh: Fusion) -> tuple[Fusion, dict[int, int]] | None:
        """The saved state restored into ``fresh`` (a Fusion built from this start's sensors
        and geography) and the offsets it covers; None without a checkpoint file."""
        if not self.path.exists():
            return None
        header, tree, arrays = read_state(self.path)
        fusion = restore(tree, arrays, fresh, self.path)
        self.generation = header["generation"]
        return fusion, header["covered"]

    def peek(self) -> dict[str, Any] | None:
        """The saved header (``generation``, ``covered``) without rebuilding the state."""
        if not self.path.exists():
            return None
        header = read_state(self.path, header_only=True)[0]
        self.generation = header["generation"]
        return header

    def stamp(self) -> tuple:
        """What identifies the files on disk now (size and modification time of the checkpoint and
        its journal): it changes when another process saves or journals."""
        return _stamp(self.path), _stamp(self.journal_path)

    def append_journal(self, entry: dict[str, Any]) -> None:
        """Add one batch to the journal, durably (returns after fsync)."""
        entry = {"generation": self.generation, **entry}
        if self._journal_fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._journal_fh = _open_private(self.journal_path, "a")
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        self._journal_fh.write(line)
        self._journal_fh.flush()
        if self._child is not None:
            self._since.append(line)
            self._journal_stamp = _stamp(self.journal_path)
        os.fsync(self._journal_fh.fileno())

    def journal(self) -> list[dict[str, Any]]:
        """The journal's batches since the checkpoint on disk (call ``load()`` first)."""
        if not self.journal_path.exists():
            return []
        entries = []
        with open(self.journal_path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    break  # torn last line: that batch was never published
                if not line.endswith("\n"):
                    break
                if not isinstance(entry.get("generation"), int) or entry["generation"] < self.generation:
                    continue  # inside the checkpoint already (a crash before the journal was emptied)
                entries.append(entry)
        return entries

    def close(self) -> None:
        if self._child is not None:
            try:
                self.finished(wait=True)
            except CheckpointSuperseded as exc:
                log.warning("fusion: %s", exc)
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None


_SUPERSEDED = 3  # a background save's exit status when another process saved since its fork
# resolved before any fork: the child takes no import or loader lock another thread may hold
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def _die_with(parent: int) -> None:
    """In a background save's child: be killed when the fusion process dies (Linux), so that a
    fusion restarted after a crash never sees a stale state renamed over its own later."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # a Ctrl-C or a stop is the parent's to handle
        signal.signal(sig, signal.SIG_IGN)
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before that took effect
        os._exit(1)


def _open_private(path: Path, mode: str) -> Any:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, 0o600), mode, encoding="utf-8")


def convert_pickle(old: Path, new: Path) -> dict[str, Any]:
    """Convert a pickled checkpoint of an earlier version (UNPICKLES ``old``: run it only on a
    file this deployment's fusion service wrote).  Returns the header written to ``new``."""
    from services.state.legacy import read_pickle
    data = read_pickle(old)
    tree, arrays = state_of(data["fusion"])
    header = {"covered": sorted(data["covered"].items()), "generation": data.get("generation", 0)}
    write_state(Path(new), header, tree, arrays)
    journal = Path(old).with_name(Path(old).name + ".journal")
    if journal.exists() and Path(new).resolve() != Path(old).resolve():
        with _open_private(Path(new).with_name(Path(new).name + ".journal"), "w") as fh:
            fh.write(journal.read_text(encoding="utf-8"))
    return header
