"""Object graphs as plain data: a JSON tree plus NumPy arrays, rebuilt without running code.

``encode(root, externals)`` walks the state and gives a JSON-able tree and a list of arrays;
``decode(tree, arrays, externals)`` rebuilds it.  What may appear:

* ``None``, ``bool``, ``int``, ``str``, ``float`` (``{"f": "inf"}`` for inf and nan; the
  checkpoint file writes an integer beyond 64 bits as ``{"i": "digits"}``);
* ``{"t": [...]}`` tuple, ``{"fs": [...]}`` frozenset, and, each with an ``"id"`` so that a
  container seen twice is one container again: ``{"l": [...]}`` list, ``{"d": [[k, v]...]}``
  dict, ``{"od": [[k, v], ...]}`` OrderedDict, ``{"s": [...]}`` set, ``{"dq": [...], "maxlen": n}`` deque;
* ``{"a": i, "id": n}``: array ``i`` of the container (NumPy, never pickled);
  ``{"aa": i, "id": n}``: a standard-library ``array.array``, stored as NumPy array ``i``;
  ``{"n": i}``: a NumPy scalar, kept as a 0-d array;
* ``{"o": "module.Class", "id": n, "v": {attribute: value}}``: an object of a class on the
  allow-list (``classes.ALLOWED``), rebuilt with ``object.__new__`` and attribute
  assignment only;
* ``{"r": n}``: the container or object with that id again (shared references, cycles);
* ``{"m": "name", "self": obj}``: a bound method (a function defined by an allowed class),
  and ``{"p": method, "args": [...]}``: ``functools.partial`` of one;
* ``{"x": "name"}``: an object the caller supplies (the geography, the sensors), not stored.

The decoder never imports or calls anything the data names: a class or method that is not
on the allow-list is refused with ``StateFormatError``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import types
from array import array
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from services.state.classes import ALLOWED, qualified_name

_ARRAY_CODES = frozenset("bBhHiIlLqQfd")
_FLOATS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
_PLAIN = frozenset({type(None), bool, int, str})   # stored as themselves
_PLAIN_F = _PLAIN | {float}                         # as themselves when finite
_NUMBERS = frozenset({bool, int, float})


class StateFormatError(ValueError):
    """The state cannot be encoded or a stored state is malformed or not allowed."""


def allowed_method(cls: type, name: object) -> types.FunctionType:
    """The plain function ``name`` defined by the allowed class ``cls`` (or an allowed base), else refused."""
    if not isinstance(name, str) or name.startswith("__"):
        raise StateFormatError(f"method name {name!r} is not allowed")
    if ALLOWED.get(qualified_name(cls)) is cls:
        for klass in cls.__mro__:
            fn = vars(klass).get(name)
            if isinstance(fn, types.FunctionType) and ALLOWED.get(qualified_name(klass)) is klass:
                return fn
    raise StateFormatError(f"{qualified_name(cls)} has no method {name!r} that a checkpoint may name")


def _attributes(obj: object) -> dict[str, Any]:
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    out = {}
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in ("__weakref__", "__dict__") and hasattr(obj, name):
                out[name] = getattr(obj, name)
    return out


def _plain(items: Any) -> bool:
    """Every item is None, a bool, an int, a str or a finite float: stored as it is, without a
    call per item (most of a fusion state is tuples and dicts of these; 2.4 million calls of
    ``enc`` for 5,000 vessels before this)."""
    kinds = set(map(type, items))
    if kinds <= _PLAIN:
        return True
    if not kinds <= _PLAIN_F:
        return False
    try:
        if kinds <= _NUMBERS:
            return math.isfinite(math.fsum(items))   # nan or inf anywhere: not finite
        return all(map(math.isfinite, [x for x in items if type(x) is float]))
    except (OverflowError, ValueError):  # a sum beyond the float range, or inf - inf
        return False


def _scalars(items: Any) -> bool:
    """A stored list of JSON scalars only (no entry to decode): taken as it is."""
    return type(items) is list and set(map(type, items)) <= _PLAIN_F


def _scalar_pairs(pairs: Any) -> bool:
    """A stored dict's ``[[key, value], ...]`` of JSON scalars only."""
    return (type(pairs) is list and set(map(type, pairs)) <= {list} and set(map(len, pairs)) <= {2}
            and set(map(type, itertools.chain.from_iterable(pairs))) <= _PLAIN_F)


class _Encoder:
    def __init__(self, externals: Mapping[str, object]) -> None:
        self.externals = {id(v): k for k, v in externals.items()}
        self.ids: dict[int, int] = {}
        self.alive: list[object] = []  # keeps every numbered object alive, so ids stay unique
        self.arrays: list[np.ndarray] = []

    def enc(self, v: Any) -> Any:
        t = type(v)
        if v is None or t in (bool, int, str):
            return v
        if t is float:
            return v if math.isfinite(v) else {"f": repr(v)}
        if id(v) in self.externals:
            return {"x": self.externals[id(v)]}
        if t is tuple:
            return {"t": v if _plain(v) else [self.enc(x) for x in v]}
        if t is frozenset:
            return {"fs": [self.enc(x) for x in v]}
        if isinstance(v, np.generic):
            return {"n": self._array(np.asarray(v))}
        if t is types.MethodType:
            return self._bound(v)
        if t is functools.partial:
            if not isinstance(v.func, types.MethodType):
                raise StateFormatError(f"cannot store a partial of {v.func!r}: only bound methods")
            return {"p": self._bound(v.func), "args": [self.enc(a) for a in v.args],
                    "kw": [[k, self.enc(a)] for k, a in v.keywords.items()]}
        if id(v) in self.ids:
            return {"r": self.ids[id(v)]}
        return self._numbered(v, t)

    def _numbered(self, v: Any, t: type) -> dict[str, Any]:
        n = self.ids[id(v)] = len(self.ids) + 1
        self.alive.append(v)
        if t is list:
            return {"l": list(v) if _plain(v) else [self.enc(x) for x in v], "id": n}
        if t is dict or t is OrderedDict:
            pairs = ([[k, x] for k, x in v.items()] if _plain(v.keys()) and _plain(v.values())
                     else [[self.enc(k), self.enc(x)] for k, x in v.items()])
            return {"d" if t is dict else "od": pairs, "id": n}
        if t is set:
            return {"s": list(v) if _plain(v) else [self.enc(x) for x in v], "id": n}
        if t is deque:
            return {"dq": list(v) if _plain(v) else [self.enc(x) for x in v], "maxlen": v.maxlen, "id": n}
        if t is np.ndarray:
            return {"a": self._array(v), "id": n}
        if t is array:
            return {"aa": self._array(np.frombuffer(v, dtype=v.typecode).copy()), "id": n}
        name = qualified_name(t)
        if ALLOWED.get(name) is not t:
            raise StateFormatError(f"cannot store an object of class {name}: not on the allow-list")
        return {"o": name, "id": n, "v": {k: self.enc(x) for k, x in _attributes(v).items()}}

    def _array(self, a: np.ndarray) -> int:
        if a.dtype.hasobject:
            raise StateFormatError("cannot store an array of Python objects")
        self.arrays.append(a)
        return len(self.arrays) - 1

    def _bound(self, m: types.MethodType) -> dict[str, Any]:
        allowed_method(type(m.__self__), m.__func__.__name__)
        return {"m": m.__func__.__name__, "self": self.enc(m.__self__)}


class _Decoder:
    def __init__(self, arrays: list[np.ndarray], externals: Mapping[str, object]) -> None:
        self.arrays, self.externals = arrays, externals
        self.objs: dict[int, Any] = {}

    def dec(self, v: Any) -> Any:
        if v is None or type(v) in (bool, int, str, float):
            return v
        if type(v) is not dict or not v:
            raise StateFormatError(f"unexpected value {str(v)[:60]!r}")
        if "f" in v:
            return _FLOATS[v["f"]]
        if "i" in v:   # an integer beyond 64 bits (``file``)
            if type(v["i"]) is not str or not v["i"].lstrip("-").isdigit() or len(v["i"]) > 4300:
                raise StateFormatError(f"bad integer {str(v['i'])[:60]!r}")
            return int(v["i"])
        if "x" in v:
            if v["x"] not in self.externals:
                raise StateFormatError(f"unknown external object {v['x']!r}")
            return self.externals[v["x"]]
        if "t" in v:
            items = v["t"]
            return tuple(items) if _scalars(items) else tuple(self.dec(x) for x in items)
        if "fs" in v:
            return frozenset(self.dec(x) for x in v["fs"])
        if "n" in v:
            return self.arrays[v["n"]][()]
        if "r" in v:
            if v["r"] not in self.objs:
                raise StateFormatError(f"reference to unknown object {v['r']!r}")
            return self.objs[v["r"]]
        if "m" in v:
            owner = self.dec(v["self"])
            return types.MethodType(allowed_method(type(owner), v["m"]), owner)
        if "p" in v:
            return functools.partial(self.dec(v["p"]), *[self.dec(a) for a in v["args"]],
                                     **{k: self.dec(a) for k, a in v["kw"]})
        return self._numbered(v)

    def _numbered(self, v: dict[str, Any]) -> Any:
        n = v["id"]
        if type(n) is not int or n in self.objs:
            raise StateFormatError(f"bad or repeated object id {n!r}")
        if "l" in v:
            out = self.objs[n] = []
            out.extend(v["l"] if _scalars(v["l"]) else (self.dec(x) for x in v["l"]))
        elif "d" in v or "od" in v:
            pairs = v["d"] if "d" in v else v["od"]
            out = self.objs[n] = {} if "d" in v else OrderedDict()
            if _scalar_pairs(pairs):
                out.update(pairs)
            else:
                for k, x in pairs:
                    out[self.dec(k)] = self.dec(x)
        elif "s" in v:
            out = self.objs[n] = set()
            out.update(v["s"] if _scalars(v["s"]) else (self.dec(x) for x in v["s"]))
        elif "dq" in v:
            out = self.objs[n] = deque(maxlen=v["maxlen"])
            out.extend(v["dq"] if _scalars(v["dq"]) else (self.dec(x) for x in v["dq"]))
        elif "a" in v:
            out = self.objs[n] = self.arrays[v["a"]]
        elif "aa" in v:
            a = self.arrays[v["aa"]]
            if a.dtype.char not in _ARRAY_CODES or a.ndim != 1:
                raise StateFormatError(f"array of {a.dtype} (ndim {a.ndim}) cannot be an array.array")
            out = self.objs[n] = array(a.dtype.char, a.tobytes())
        elif "o" in v:
            out = self._object(n, v["o"], v["v"])
        else:
            raise StateFormatError(f"unknown entry with keys {sorted(v)[:5]}")
        return out

    def _object(self, n: int, name: object, attrs: dict[str, Any]) -> Any:
        cls = ALLOWED.get(name) if isinstance(name, str) else None
        if cls is None:
            raise StateFormatError(f"class {name!r} is not allowed in a checkpoint")
        obj = self.objs[n] = object.__new__(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else None
        for key, x in attrs.items():
            if not isinstance(key, str) or key.startswith("__") or (fields is not None and key not in fields):
                raise StateFormatError(f"{name} has no attribute {key!r} a checkpoint may set")
            object.__setattr__(obj, key, self.dec(x))
        for f in (fields or {}).values():  # fields added since the state was written: defaults
            if f.name not in attrs and f.default is not dataclasses.MISSING:
                object.__setattr__(obj, f.name, f.default)
            elif f.name not in attrs and f.default_factory is not dataclasses.MISSING:
                object.__setattr__(obj, f.name, f.default_factory())
        return obj


def encode(root: object, externals: Mapping[str, object] = {}) -> tuple[Any, list[np.ndarray]]:
    """The state under ``root`` as (JSON-able tree, arrays); ``externals`` are named, not stored."""
    enc = _Encoder(externals)
    return enc.enc(root), enc.arrays


def decode(tree: Any, arrays: list[np.ndarray], externals: Mapping[str, object] = {}) -> Any:
    """Rebuild what ``encode`` gave; ``StateFormatError`` for anything malformed or not allowed."""
    try:
        return _Decoder(arrays, externals).dec(tree)
    except StateFormatError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise StateFormatError(f"malformed state ({type(exc).__name__}: {exc})") from None
