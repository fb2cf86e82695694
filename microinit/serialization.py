"""Save and load model weights as ``.npz`` files: no pickle, atomic, checksummed.

The file is an ordinary numpy ``.npz`` archive (``np.load(path)`` can read it), holding
one ``.npy`` member per parameter plus a small JSON record ``__microinit__`` (stored as
a uint8 array) with the format name, the list of keys and a SHA-256 over every key,
dtype, shape and byte of data.

Writing (``save``) goes to a temporary file in the same directory, is flushed and
``fsync``-ed, then renamed over the target with ``os.replace``: a crash or an
exception mid-save leaves the old file intact and no temporary file behind
(docs/reliability.md rows 43-44).

A write killed outright (``kill -9``) leaves the old file intact and a temporary file
named after its pid, which the next save to the same file removes (row 55,
``microinit._atomic``).

Reading (``load``, through ``microinit._npz_reader``) never unpickles, checks every
zip and ``.npy`` field against the file's real size before allocating (flag bits,
compression method, offsets, sizes, CRC-32, header length, shape), accepts only
float32/float64/int64 arrays and verifies the SHA-256. Any problem raises
``ValueError`` naming the file and the cause (rows 40, 42, 56); a model given to
``load`` is changed only after the whole file has been read and checked, and only
if every key and shape matches (``Module.load_state_dict``). Every shape round-trips
exactly, 0-d and zero-size ones included (row 54).

Format version 1 is the only one so far: this reader accepts it (files written by
earlier releases included) and refuses a higher version as written by a newer microinit.

Example::

    >>> import os, tempfile
    >>> from microinit import nn, save, load
    >>> model = nn.MLP([2, 16, 3], rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "spirals.npz")
    >>> save(model, path)
    >>> state = load(path, nn.MLP([2, 16, 3], rng=1))   # checked, then copied into the model
    >>> list(state), bool((state["0.weight"] == model[0].weight.data).all())
    (['0.weight', '0.bias', '1.weight', '1.bias'], True)
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from numpy.typing import NDArray

from microinit._atomic import atomic_open
from microinit._npz_reader import MAX_HEADER_BYTES, read_npz

if TYPE_CHECKING:  # annotations only: nn/module.py imports this module lazily
    from microinit.nn.module import Module

__all__ = ["save", "load", "FORMAT", "VERSION", "MAX_HEADER_BYTES"]

FORMAT = "microinit-weights"
VERSION = 1
META_KEY = "__microinit__"
ALLOWED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def _state_of(obj: Any, path: str) -> dict[str, NDArray[Any]]:
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise TypeError(f"save to {path}: expected a Module or a dict of arrays, got {type(obj).__name__}")
    state: dict[str, NDArray[Any]] = {}
    for k, v in obj.items():
        # "/" and "\\" would be read as folders, and zip names stop at a NUL byte
        if not isinstance(k, str) or not k or k == META_KEY or any(c in k for c in "/\\\0"):
            raise ValueError(f"save to {path}: invalid parameter name {k!r}")
        if not isinstance(v, (np.ndarray, np.generic)):
            v = getattr(v, "data", v)  # a Tensor; ndarray.data is a raw buffer, not this
        a = np.asarray(v)
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)  # never 0-d here: 0-d arrays are always contiguous
        if a.dtype.kind in "fi" and not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))  # files hold native-order data only
        if a.dtype not in ALLOWED_DTYPES:
            raise TypeError(f"save to {path}: {k} has dtype {a.dtype}; supported: float32, float64, int64")
        state[k] = a
    return state


def _checksum(state: Mapping[str, NDArray[Any]]) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        a = state[k]
        h.update(k.encode("utf-8") + b"\0" + a.dtype.str.encode() + repr(a.shape).encode() + b"\0")
        h.update(a.tobytes())
    return h.hexdigest()


def save(obj: Module | Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a model's parameters (or a ``{name: array}`` dict) to ``path`` atomically.

    The file is written exactly at ``path`` (no ``.npz`` is appended). Raises
    ``OSError`` naming ``path`` if the directory is not writable or the disk is full;
    the previous file at ``path``, if any, is then untouched.
    """
    path = os.fspath(path)
    state = _state_of(obj, path)
    meta = {"format": FORMAT, "version": VERSION, "keys": list(state), "sha256": _checksum(state)}
    try:
        with atomic_open(path, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
                for k, a in state.items():
                    with zf.open(k + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, a, allow_pickle=False)
                blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
                with zf.open(META_KEY + ".npy", "w") as member:
                    np.lib.format.write_array(member, blob, allow_pickle=False)
    except OSError as err:
        raise OSError(err.errno, f"could not save weights to {path}: {err.strerror or err}") from err


def _read_record(meta: NDArray[Any] | None, path: str) -> tuple[list[str], str]:
    """The ``__microinit__`` record -> (keys in saved order, SHA-256 hex digest)."""
    if meta is None:
        raise ValueError(f"{path}: no {META_KEY} record; not written by microinit.save "
                         f"(so it has no checksum to verify)")
    if meta.dtype != np.uint8 or meta.ndim != 1:
        raise ValueError(f"{path}: the {META_KEY} record is {meta.dtype} of shape {meta.shape}, "
                         f"not bytes")
    try:
        info = json.loads(meta.tobytes().decode("utf-8"))
    except ValueError as err:  # bad UTF-8 or JSON
        raise ValueError(f"{path}: unreadable {META_KEY} record ({err})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{path}: the {META_KEY} record is not a {FORMAT} record")
    version = info.get("version")
    if type(version) is not int or version < 1:
        raise ValueError(f"{path}: the {META_KEY} record has version {version!r}")
    if version > VERSION:
        raise ValueError(f"{path}: format version {version}, written by a newer microinit; "
                         f"this one reads version {VERSION}")
    keys, digest = info.get("keys"), info.get("sha256")
    if (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
            or len(set(keys)) != len(keys) or not isinstance(digest, str)):
        raise ValueError(f"{path}: the {META_KEY} record has malformed keys or checksum")
    return keys, digest


def load(path: str | os.PathLike[str], model: Module | None = None,
         strict: bool = True) -> dict[str, NDArray[Any]]:
    """Read a weights file written by ``save``; return ``{name: array}``.

    If ``model`` is given, its parameters are then set from the file with
    ``model.load_state_dict(state, strict=strict, source=path)``, which checks every key and shape
    first, so the model is unchanged when anything is wrong.
    """
    path = os.fspath(path)
    state = read_npz(path)
    meta = state.pop(META_KEY, None)
    for k, a in state.items():
        if a.dtype not in ALLOWED_DTYPES:
            raise ValueError(f"{path}: member {k!r} has dtype {a.dtype}; supported: float32, float64, int64")
    keys, digest = _read_record(meta, path)
    if sorted(keys) != sorted(state):
        raise ValueError(f"{path}: the archive's members {sorted(state)} do not match its "
                         f"record {sorted(keys)}")
    if _checksum(state) != digest:
        raise ValueError(f"{path}: checksum mismatch (SHA-256); the file is corrupt")
    state = {k: state[k] for k in keys}  # the order they were saved in
    if model is not None:
        model.load_state_dict(state, strict=strict, source=path)
    return state
