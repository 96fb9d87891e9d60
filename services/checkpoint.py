"""Fusion state on disk: the tracker and rules, with the input offsets they cover.

Written atomically (temporary file, fsync, rename), so a crash mid-write
leaves the previous checkpoint whole.  The file is a pickle of the pure
fusion objects: read it only from a path the fusion service itself wrote.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from fusion.pipeline import Fusion

FORMAT = 1


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def save(self, fusion: Fusion, covered: dict[int, int]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            pickle.dump({"format": FORMAT, "fusion": fusion, "covered": dict(covered)}, fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def load(self) -> tuple[Fusion, dict[int, int]] | None:
        if not self.path.exists():
            return None
        with open(self.path, "rb") as fh:
            data = pickle.load(fh)
        if data.get("format") != FORMAT:
            raise ValueError(f"{self.path}: checkpoint format {data.get('format')} is not {FORMAT}")
        return data["fusion"], data["covered"]
