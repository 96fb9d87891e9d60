"""The checkpoint's codec keeps every value, the non-finite floats and huge integers among
plain data included (they are where a fast path that stores plain containers as they are could
lose them: JSON has no NaN, and orjson writes one as null)."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from pathlib import Path

import numpy as np

from services.state.codec import decode, encode
from services.state.file import read_state, write_state


def _same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (tuple, list, deque, set, frozenset)):
        if isinstance(a, (set, frozenset)):
            return len(a) == len(b) and all(any(_same(x, y) for y in b) for x in a)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def test_plain_containers_with_non_finite_floats_and_big_integers_survive_a_checkpoint_file(tmp_path: Path) -> None:
    shared = [1.5, 2.5]
    state = {
        "fixes": (1.0, math.nan, 3.0),                     # a tuple of floats with NaN
        "mixed": (math.inf, "R1", None, True, 7),          # floats, strings, None, bool, int
        "neg": [-math.inf, 0.0, 1e-300],
        "big": (2 ** 70, 1.0),                             # beyond 64 bits
        "huge_sum": (1.7e308, 1.7e308),                    # finite, but their sum is not
        "by_key": {"a": math.nan, "b": 1.0},
        "ordered": OrderedDict([(1, -math.inf), (2, 2.0)]),
        "queue": deque([(1.0, 2.0), (math.nan, 3.0)], maxlen=5),
        "set": {1, 2, 3},
        "shared": (shared, shared),
        "array": np.array([1.0, np.nan]),
    }
    tree, arrays = encode(state)
    path = tmp_path / "state.ckpt"
    write_state(path, {"covered": [], "generation": 1}, tree, arrays)
    _, tree2, arrays2 = read_state(path)
    back = decode(tree2, arrays2)
    for key in state:
        if key == "array":
            np.testing.assert_array_equal(back[key], state[key])
        else:
            assert _same(back[key], state[key]), (key, back[key], state[key])
    assert back["queue"].maxlen == 5
    assert back["shared"][0] is back["shared"][1]          # one list again, not two copies
