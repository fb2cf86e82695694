"""Save and load model weights as ``.npz`` files: no pickle, atomic, checksummed.

The file is an ordinary numpy ``.npz`` archive (``np.load(path)`` can read it), holding
one ``.npy`` member per parameter plus a small JSON record ``__microinit__`` (stored as
a uint8 array) with the format name, the list of keys and a SHA-256 over every key,
dtype, shape and byte of data.

Writing (``save``) goes to a temporary file in the same directory, is flushed and
``fsync``-ed, then renamed over the target with ``os.replace``: a crash or an
exception mid-save leaves the old file intact and no temporary file behind
(docs/reliability.md rows 43-44).

Reading (``load``) never unpickles (``allow_pickle`` is never enabled), caps the
``.npy`` header length, checks each member's size against its header's shape and
dtype, accepts only float32/float64/int64 arrays and verifies the checksum. Any
problem raises ``ValueError`` naming the file and the cause; a model given to
``load`` is changed only after the whole file has been read and checked, and only
if every key and shape matches (``Module.load_state_dict``).

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
import hashlib
import json
import os
import zipfile

import numpy as np

from microinit._atomic import atomic_open

__all__ = ["save", "load", "FORMAT", "MAX_HEADER_BYTES"]

FORMAT = "microinit-weights"
VERSION = 1
META_KEY = "__microinit__"
# numpy writes headers of ~128 bytes; anything near this is hostile or corrupt.
MAX_HEADER_BYTES = 10_000
ALLOWED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def _state_of(obj):
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a Module or a dict of arrays, got {type(obj).__name__}")
    state = {}
    for k, v in obj.items():
        if not isinstance(k, str) or not k or k == META_KEY or "/" in k:
            raise ValueError(f"save: invalid parameter name {k!r}")
        a = np.ascontiguousarray(getattr(v, "data", v))
        if a.dtype.kind in "fi" and not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))  # files hold native-order data only
        if a.dtype not in ALLOWED_DTYPES:
            raise TypeError(f"save: {k} has dtype {a.dtype}; supported: float32, float64, int64")
        state[k] = a
    return state


def _checksum(state):
    h = hashlib.sha256()
    for k in sorted(state):
        a = state[k]
        h.update(k.encode("utf-8") + b"\0" + a.dtype.str.encode() + repr(a.shape).encode() + b"\0")
        h.update(a.tobytes())
    return h.hexdigest()


def save(obj, path):
    """Write a model's parameters (or a ``{name: array}`` dict) to ``path`` atomically.

    The file is written exactly at ``path`` (no ``.npz`` is appended). Raises
    ``OSError`` naming ``path`` if the directory is not writable or the disk is full;
    the previous file at ``path``, if any, is then untouched.
    """
    state = _state_of(obj)
    path = os.fspath(path)
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


def _read_member(zf, info, path):
    """Read one ``.npy`` member, checking its header and size before trusting it."""
    name = info.filename[:-4]
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError as err:
            raise ValueError(f"{path}: member {name!r} is not a .npy array ({err})") from None
        if version == (1, 0):
            hlen = int.from_bytes(f.read(2), "little")
        elif version in ((2, 0), (3, 0)):
            hlen = int.from_bytes(f.read(4), "little")
        else:
            raise ValueError(f"{path}: member {name!r} has unsupported .npy version {version}")
        if hlen > MAX_HEADER_BYTES:
            raise ValueError(f"{path}: member {name!r} declares a {hlen}-byte header "
                             f"(limit {MAX_HEADER_BYTES}); the file is corrupt or hostile")
        header = f.read(hlen)
        try:
            d = _parse_header(header)
            dtype = np.dtype(d["descr"])
            shape = tuple(int(s) for s in d["shape"])
            fortran = bool(d["fortran_order"])
        except Exception as err:  # noqa: BLE001 - any malformed header is the file's fault
            raise ValueError(f"{path}: member {name!r} has a malformed .npy header ({err})") from None
        if dtype.hasobject:
            raise ValueError(f"{path}: member {name!r} holds Python objects (pickle); refused")
        if name != META_KEY and dtype not in ALLOWED_DTYPES:
            raise ValueError(f"{path}: member {name!r} has dtype {dtype}; "
                             f"supported: float32, float64, int64")
        if any(s < 0 for s in shape):
            raise ValueError(f"{path}: member {name!r} has a negative dimension in shape {shape}")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        expected = f.tell() + count * dtype.itemsize
        if info.file_size != expected:
            raise ValueError(f"{path}: member {name!r} is {info.file_size} bytes but its header "
                             f"(shape {shape}, {dtype}) needs {expected}; the file is truncated or corrupt")
        raw = f.read(count * dtype.itemsize)
    if len(raw) != count * dtype.itemsize:
        raise ValueError(f"{path}: short read in member {name!r}; the file is truncated")
    # bytearray: the arrays handed back are writable and own their memory
    a = np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.ascontiguousarray(a)


def _parse_header(header):
    import ast

    d = ast.literal_eval(header.decode("latin1"))
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"unexpected header {header[:80]!r}")
    return d


def load(path, model=None, strict=True):
    """Read a weights file written by ``save``; return ``{name: array}``.

    If ``model`` is given, its parameters are then set from the file with
    ``model.load_state_dict(state, strict=strict, source=path)``, which checks every key and shape
    first, so the model is unchanged when anything is wrong.
    """
    path = os.fspath(path)
    state = {}
    meta = None
    if os.path.getsize(path) == 0:  # a missing file raises FileNotFoundError naming it
        raise ValueError(f"{path}: the file is empty (0 bytes); not a microinit weights file")
    try:
        with zipfile.ZipFile(path, "r") as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy") or "/" in info.filename:
                    raise ValueError(f"{path}: unexpected member {info.filename!r} in the archive")
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ValueError(f"{path}: member {info.filename!r} is compressed; "
                                     f"microinit writes uncompressed archives")
                arr = _read_member(zf, info, path)
                if info.filename[:-4] == META_KEY:
                    meta = arr
                else:
                    state[info.filename[:-4]] = arr
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path}: not a valid weights archive ({err}); "
                         f"the file is truncated, corrupt or of another format") from None
    except (EOFError, zipfile.LargeZipFile) as err:
        raise ValueError(f"{path}: the file is truncated ({err})") from None
    except OSError as err:
        # zipfile seeks to offsets read from the file itself: a corrupt offset gives EINVAL
        raise ValueError(f"{path}: could not be read as a weights archive ({err}); "
                         f"the file is corrupt or truncated") from None
    if meta is None:
        raise ValueError(f"{path}: no {META_KEY} record; not written by microinit.save "
                         f"(so it has no checksum to verify)")
    try:
        info = json.loads(meta.tobytes().decode("utf-8"))
        keys, digest = info["keys"], info["sha256"]
        if info.get("format") != FORMAT:
            raise ValueError(f"format {info.get('format')!r}")
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"{path}: unreadable {META_KEY} record ({err})") from None
    if sorted(keys) != sorted(state):
        raise ValueError(f"{path}: the archive's members {sorted(state)} do not match its "
                         f"record {sorted(keys)}")
    if _checksum(state) != digest:
        raise ValueError(f"{path}: checksum mismatch (SHA-256); the file is corrupt")
    state = {k: state[k] for k in keys}  # the order they were saved in
    if model is not None:
        model.load_state_dict(state, strict=strict, source=path)
    return state
