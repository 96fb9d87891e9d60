"""Reading a pickled checkpoint of an earlier version: the ONLY place that unpickles.

Used by ``mfc checkpoint convert`` alone.  The unpickler is restricted to the globals such a
file holds (the project's fusion classes, NumPy arrays, Shapely geometry and trees) and to
``getattr`` of methods of those classes; still, convert only a file your own fusion service
wrote.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from services.state.codec import StateFormatError, allowed_method
from services.state.file import CheckpointError

_GLOBALS = {
    ("collections", "deque"), ("collections", "OrderedDict"), ("functools", "partial"), ("builtins", "set"), ("builtins", "frozenset"),
    ("copyreg", "_reconstructor"), ("builtins", "object"),
    ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("shapely.io", "from_wkb"), ("shapely.strtree", "STRtree"),
}


def _safe_getattr(obj: object, name: str) -> Any:
    """``getattr`` as pickle uses it for bound methods: only methods of fusion classes."""
    if not type(obj).__module__.startswith("fusion."):
        raise pickle.UnpicklingError(f"getattr on a {type(obj).__name__} is not allowed")
    try:
        allowed_method(type(obj), name)
    except StateFormatError as exc:
        raise pickle.UnpicklingError(str(exc)) from None
    return getattr(obj, name)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _safe_getattr
        if (module, name) in _GLOBALS:
            return super().find_class(module, name)
        if module.startswith("fusion.") and "." not in name:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a fusion checkpoint")


def read_pickle(path: Path) -> dict[str, Any]:
    """The ``{"format": 1, "fusion", "covered", "generation"}`` dict of an old checkpoint."""
    try:
        with open(path, "rb") as fh:
            data = _Unpickler(fh).load()
    except OSError as exc:
        raise CheckpointError(f"{path}: {exc.strerror or exc}") from None
    except Exception as exc:  # a bad pickle raises nearly anything
        raise CheckpointError(f"{path}: not a readable pickled checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != 1 or "fusion" not in data:
        raise CheckpointError(f"{path}: not a pickled fusion checkpoint of format 1")
    from fusion.pipeline import Fusion
    if type(data["fusion"]) is not Fusion or not isinstance(data.get("covered"), dict):
        raise CheckpointError(f"{path}: the pickle holds no Fusion state and offsets")
    return data
