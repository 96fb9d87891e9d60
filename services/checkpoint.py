"""Fusion state on disk: the tracker and rules, with the input offsets they cover, and a journal.

The checkpoint is written atomically (temporary file, fsync, rename), so a crash mid-write
leaves the previous checkpoint whole.  The file is a pickle of the pure fusion objects:
read it only from a path the fusion service itself wrote.

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
import pickle
from pathlib import Path
from typing import Any

from fusion.pipeline import Fusion

FORMAT = 1


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._journal_fh: Any = None
        self.generation = 0  # of the checkpoint on disk; journal entries carry the one they follow

    def save(self, fusion: Fusion, covered: dict[int, int]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            pickle.dump({"format": FORMAT, "fusion": fusion, "covered": dict(covered),
                         "generation": self.generation + 1}, fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self.generation += 1
        # The journal's batches are inside the new checkpoint now.  (A crash before this
        # truncation leaves entries of the previous generation, which ``journal()`` skips.)
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
        with open(self.journal_path, "w", encoding="utf-8") as fh:
            fh.flush()
            os.fsync(fh.fileno())

    def load(self) -> tuple[Fusion, dict[int, int]] | None:
        if not self.path.exists():
            return None
        with open(self.path, "rb") as fh:
            data = pickle.load(fh)
        if data.get("format") != FORMAT:
            raise ValueError(f"{self.path}: checkpoint format {data.get('format')} is not {FORMAT}")
        self.generation = data.get("generation", 0)
        return data["fusion"], data["covered"]

    def append_journal(self, entry: dict[str, Any]) -> None:
        """Add one batch to the journal, durably (returns after fsync)."""
        entry = {"generation": self.generation, **entry}
        if self._journal_fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._journal_fh = open(self.journal_path, "a", encoding="utf-8")
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


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
