"""Fusion state on disk: the tracker and rules, with the input offsets they cover, and a journal.

The checkpoint is one file, a ZIP container written atomically (temporary file, fsync,
rename) with owner-only permissions (0600): ``state.json`` (format name and version, the
offsets covered, and the state as plain data, ``state_codec``) and ``arrays/<i>.npy``
(the tracker's tables, read with ``allow_pickle=False``).  Loading never runs code: only
classes on the allow-list (``state_classes``) are rebuilt, and anything else, or a corrupt,
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
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fusion.pipeline import Fusion

from .state_file import CheckpointError, read_state, write_state
from .state_restore import restore, state_of

__all__ = ["Checkpoint", "CheckpointError", "convert_pickle"]


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._journal_fh: Any = None
        self.generation = 0  # of the checkpoint on disk; journal entries carry the one they follow

    def save(self, fusion: Fusion, covered: dict[int, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tree, arrays = state_of(fusion)
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
        out = []
        for path in (self.path, self.journal_path):
            try:
                st = path.stat()
                out.append((st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def append_journal(self, entry: dict[str, Any]) -> None:
        """Add one batch to the journal, durably (returns after fsync)."""
        entry = {"generation": self.generation, **entry}
        if self._journal_fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._journal_fh = _open_private(self.journal_path, "a")
        self._journal_fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._journal_fh.flush()
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
                if entry.get("generation") != self.generation:
                    continue  # inside the checkpoint already (a crash before the journal was emptied)
                entries.append(entry)
        return entries

    def close(self) -> None:
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None


def _open_private(path: Path, mode: str) -> Any:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, 0o600), mode, encoding="utf-8")


def convert_pickle(old: Path, new: Path) -> dict[str, Any]:
    """Convert a pickled checkpoint of an earlier version (UNPICKLES ``old``: run it only on a
    file this deployment's fusion service wrote).  Returns the header written to ``new``."""
    from .state_legacy import read_pickle
    data = read_pickle(old)
    tree, arrays = state_of(data["fusion"])
    header = {"covered": sorted(data["covered"].items()), "generation": data.get("generation", 0)}
    write_state(Path(new), header, tree, arrays)
    journal = Path(old).with_name(Path(old).name + ".journal")
    if journal.exists() and Path(new).resolve() != Path(old).resolve():
        with _open_private(Path(new).with_name(Path(new).name + ".journal"), "w") as fh:
            fh.write(journal.read_text(encoding="utf-8"))
    return header
