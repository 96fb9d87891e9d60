"""The checkpoint file: a ZIP of ``state.json`` and ``arrays/<i>.npy``, nothing executable.

``state.json``: ``{"format": "mfc-fusion-state", "version": 1, "generation": g,
"covered": [[partition, next offset]...], "arrays": n, "state": <codec tree>}``.
Arrays are written and read with ``allow_pickle=False``; the ZIP's CRCs catch corruption.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson

FORMAT_NAME = "mfc-fusion-state"
VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_MEMBER_BYTES = 4 << 30  # a member that claims more than this is not ours


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and what is wrong."""


def write_state(path: Path, header: dict[str, Any], tree: Any, arrays: list[np.ndarray]) -> None:
    """Atomically (temporary file, fsync, rename) and owner-only (0600)."""
    doc = {"format": FORMAT_NAME, "version": VERSION, **header, "arrays": len(arrays), "state": tree}
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when an older temporary file had wider permissions
    with os.fdopen(fd, "wb") as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr("state.json", _json(doc))
            for i, a in enumerate(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
                zf.writestr(f"arrays/{i}.npy", buf.getvalue(), zipfile.ZIP_STORED)  # floats barely deflate
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _json(doc: dict[str, Any]) -> bytes:
    """Compact JSON by orjson (a tenth of ``json.dumps``' time on a large state).  An integer
    beyond 64 bits, which orjson refuses (and reads back as a float), is written as
    ``{"i": "digits"}`` (``codec.decode`` reads it).  The tree holds no non-finite float:
    ``codec`` writes them as ``{"f": ...}`` (orjson would write null)."""
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return orjson.dumps(_big_ints(doc))


def _big_ints(v: Any) -> Any:
    if type(v) is int and not -(1 << 63) <= v < 1 << 64:
        return {"i": str(v)}
    if type(v) in (list, tuple):
        return [_big_ints(x) for x in v]
    if type(v) is dict:
        return {k: _big_ints(x) for k, x in v.items()}
    return v


def read_state(path: Path, header_only: bool = False) -> tuple[dict[str, Any], Any, list[np.ndarray]]:
    """(header with ``generation`` and ``covered``, state tree, arrays); ``CheckpointError``
    for a pickle of an earlier version, a corrupt, truncated or unknown file."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:1] == b"\x80":
        raise CheckpointError(f"{path}: a pickled checkpoint of an earlier version; it is never loaded "
                              f"implicitly: convert it once with `mfc checkpoint convert {path} NEW` "
                              f"(only if this deployment wrote it) and point MFC_CHECKPOINT at NEW")
    if magic != _ZIP_MAGIC:
        raise CheckpointError(f"{path}: not a fusion checkpoint (unknown file format)")
    try:
        with zipfile.ZipFile(path) as zf:
            doc = _loads(_member(zf, "state.json"))
            header = _header(doc)
            if header_only:
                return header, None, []
            arrays = [_array(_member(zf, f"arrays/{i}.npy")) for i in range(doc["arrays"])]
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, TypeError,
            RecursionError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
    return header, doc["state"], arrays


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # the standard library's reason for what is not JSON
        return json.loads(data)


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CheckpointError(f"missing {name}") from None
    if info.file_size > _MAX_MEMBER_BYTES:
        raise CheckpointError(f"{name} claims {info.file_size} bytes")
    return zf.read(info)  # checks the CRC


def _header(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise CheckpointError(f"not a fusion checkpoint (format {doc.get('format') if isinstance(doc, dict) else None!r}, "
                              f"want {FORMAT_NAME!r})")
    if doc.get("version") != VERSION:
        raise CheckpointError(f"checkpoint version {doc.get('version')!r} is not supported (this version "
                              f"reads {VERSION})")
    covered, generation = doc.get("covered"), doc.get("generation")
    if type(generation) is not int or not isinstance(covered, list) or type(doc.get("arrays")) is not int \
            or not all(isinstance(c, list) and len(c) == 2 and all(type(x) is int for x in c) for c in covered):
        raise CheckpointError("bad header: generation, covered or arrays missing or malformed")
    return {"generation": generation, "covered": {p: o for p, o in covered}}


def _array(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


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
