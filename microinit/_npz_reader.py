"""Read the arrays of an uncompressed ``.npz`` archive, trusting no field of the file.

``zipfile`` is used only to parse the central directory. Every member is then checked
against the file's real size before a byte of it is read: no encryption or patched-data
flag bits, stored (uncompressed) only, a unique name ending in ``.npy``, a local header
that agrees with the directory, and a data range inside the file that overlaps no other
member (so a crafted directory cannot make us allocate more than the file holds). The
member's bytes are read once, their CRC-32 checked, and the ``.npy`` header parsed with
a length cap and exact integer shape entries whose size must equal the bytes present.

Every problem raises ``ValueError`` naming the file and the cause (docs/reliability.md
rows 40, 42 and 56); the caller decides which dtypes it accepts.

>>> import io, os, tempfile
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "plain.npz")
>>> np.savez(path, w=np.arange(3.0), s=np.float32(2.5))
>>> arrays = read_npz(path)
>>> list(arrays), arrays["s"].shape, arrays["w"]
(['w', 's'], (), array([0., 1., 2.]))
>>> with open(path, "r+b") as f:            # set bit 0 (encrypted) of the first member
...     _ = f.seek(6); _ = f.write(b"\\x01")
>>> read_npz(path)                          # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: ...plain.npz: member 'w.npy' sets zip flag bits [0] (encrypted) in its local header; ...
"""
from __future__ import annotations

import ast
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from typing import TYPE_CHECKING, Any, Sequence, TypedDict

import numpy as np
from numpy.typing import NDArray

__all__ = ["read_npz", "MAX_HEADER_BYTES"]

# numpy writes headers of ~128 bytes; anything near this is hostile or corrupt.
MAX_HEADER_BYTES = 10_000

_FLAG_NAMES = {0: "encrypted", 5: "patched data", 6: "strong encryption", 13: "masked directory"}
# Flag bits that change nothing for a stored member: 1-2 (deflate options), 3 (sizes in a
# data descriptor; the directory's sizes are used), 11 (UTF-8 names).
_HARMLESS_FLAGS = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 11)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zip APPNOTE 4.3.7, 30 bytes
_LOCAL_MAGIC = b"PK\x03\x04"
_ZIP64_SIZE = 0xFFFFFFFF
_NPY_MAGIC = b"\x93NUMPY"
_PLAIN_DESCR = re.compile(r"[<>|=]?[biufc][0-9]{1,2}")
_OBJECT_DESCR = re.compile(r"[<>|=]?O[0-9]{0,2}")


if TYPE_CHECKING:  # for the type checker only: at run time _parse_header returns a plain dict
    class _NpyHeader(TypedDict):
        descr: np.dtype[Any]
        shape: tuple[int, ...]
        fortran_order: bool


class _Layout:
    """Where one member's bytes are, once its directory entry and local header agree."""

    def __init__(self, info: zipfile.ZipInfo, start: int, end: int) -> None:
        self.info = info      # the zipfile.ZipInfo of the central directory
        self.start = start    # offset of the member's data in the file
        self.end = end        # offset just past it


def read_npz(path: str | os.PathLike[str]) -> dict[str, NDArray[Any]]:
    """Return ``{name: array}`` (names without ``.npy``, in archive order) from ``path``.

    Raises ``FileNotFoundError``/``PermissionError`` (naming ``path``) when the file
    cannot be opened, ``ValueError`` naming ``path`` and the cause for anything wrong
    inside it. The arrays are C-contiguous, writable and keep their stored shape
    (0-d included).
    """
    path = os.fspath(path)
    mode = os.stat(path).st_mode  # a missing file raises FileNotFoundError naming it
    if stat.S_ISDIR(mode):
        raise ValueError(f"{path}: is a directory, not a weights file")
    if not stat.S_ISREG(mode):  # a FIFO would block open() until someone writes to it
        raise ValueError(f"{path}: not a regular file, so not a weights file")
    with open(path, "rb") as f:  # an unreadable file raises PermissionError naming it
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ValueError(f"{path}: the file is empty (0 bytes); not a microinit weights file")
        try:
            infos, start_dir = _directory(f)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                struct.error, OverflowError, KeyError, IndexError, NotImplementedError) as err:
            # zipfile parses offsets and names from the file itself; any of these means
            # the directory is truncated, corrupt or crafted (UnicodeDecodeError is a ValueError;
            # NotImplementedError: a "needs zip version 17.3" field)
            raise ValueError(f"{path}: not a valid weights archive ({type(err).__name__}: {err}); "
                             f"the file is truncated, corrupt or of another format") from None
        layouts = [_locate(f, info, path, start_dir) for info in infos]
        _check_unique_and_disjoint(layouts, path)
        arrays = {}
        for lay in layouts:
            name = lay.info.filename[:-4]
            arrays[name] = _parse_npy(_read_exact(f, lay, path), name, path)
    return arrays


def _directory(f: io.BufferedReader) -> tuple[list[zipfile.ZipInfo], int]:
    with zipfile.ZipFile(f, "r") as zf:
        return zf.infolist(), zf.start_dir


def _locate(f: io.BufferedReader, info: zipfile.ZipInfo, path: str, start_dir: int) -> _Layout:
    """Check one directory entry and its local header; return where its data lie."""
    name = info.filename
    if (not name.endswith(".npy") or "/" in name or "\\" in name or len(name) == 4
            or name != info.orig_filename):
        raise ValueError(f"{path}: unexpected member {name!r} in the archive")
    _refuse_flags(info.flag_bits, name, path, "")
    if info.compress_type != zipfile.ZIP_STORED:
        kind = "deflate" if info.compress_type == zipfile.ZIP_DEFLATED else "unknown"
        raise ValueError(f"{path}: member {name!r} uses compression method {info.compress_type} "
                         f"({kind}); microinit writes and reads uncompressed (stored) members")
    if info.compress_size != info.file_size:
        raise ValueError(f"{path}: member {name!r} is stored but declares {info.compress_size} bytes "
                         f"stored and {info.file_size} bytes uncompressed")
    offset = info.header_offset
    if not 0 <= offset <= start_dir - _LOCAL_HEADER.size:
        raise ValueError(f"{path}: member {name!r} starts at offset {offset}, outside the data "
                         f"area (0..{start_dir}); the file is truncated or corrupt")
    f.seek(offset)
    head = f.read(_LOCAL_HEADER.size)
    (magic, _, _, flags, method, _, _, _, csize, usize, name_len, extra_len) = _LOCAL_HEADER.unpack(head)
    if magic != _LOCAL_MAGIC:
        raise ValueError(f"{path}: member {name!r} has no local header at offset {offset}; "
                         f"the file is corrupt")
    _refuse_flags(flags, name, path, " in its local header")
    if method != info.compress_type:
        raise ValueError(f"{path}: member {name!r}: its local header says compression method {method}, "
                         f"the directory {info.compress_type}; the file is corrupt")
    sized = not flags & (1 << 3) and _ZIP64_SIZE not in (csize, usize)
    if sized and (csize, usize) != (info.compress_size, info.file_size):
        raise ValueError(f"{path}: member {name!r}: its local header declares {usize} bytes, "
                         f"the directory {info.file_size}; the file is corrupt")
    local_name = f.read(name_len)
    if local_name != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437",
                                               "surrogateescape"):
        raise ValueError(f"{path}: member {name!r}: its local header names {local_name[:80]!r}")
    start = offset + _LOCAL_HEADER.size + name_len + extra_len
    end = start + info.compress_size
    if end > start_dir:
        raise ValueError(f"{path}: member {name!r} declares {info.compress_size} bytes at offset "
                         f"{start}, past the end of the data area ({start_dir}); "
                         f"the file is truncated or corrupt")
    return _Layout(info, start, end)


def _refuse_flags(flags: int, name: str, path: str, where: str) -> None:
    odd = flags & ~_HARMLESS_FLAGS
    if odd:
        bits = [b for b in range(16) if odd >> b & 1]
        what = ", ".join(_FLAG_NAMES.get(b, "unknown") for b in bits)
        raise ValueError(f"{path}: member {name!r} sets zip flag bits {bits} ({what}){where}; "
                         f"microinit reads only plain stored members")


def _check_unique_and_disjoint(layouts: Sequence[_Layout], path: str) -> None:
    seen = set()
    for lay in layouts:
        if lay.info.filename in seen:
            raise ValueError(f"{path}: member {lay.info.filename!r} appears twice in the archive")
        seen.add(lay.info.filename)
    ordered = sorted(layouts, key=lambda lay: lay.info.header_offset)
    for a, b in zip(ordered, ordered[1:]):
        if a.end > b.info.header_offset:
            raise ValueError(f"{path}: members {a.info.filename!r} and {b.info.filename!r} overlap "
                             f"in the file; the archive is corrupt or crafted")


def _read_exact(f: io.BufferedReader, lay: _Layout, path: str) -> bytearray:
    f.seek(lay.start)
    raw = bytearray(lay.end - lay.start)  # bounded: the range was checked against the file
    got = f.readinto(raw)
    if got != len(raw):
        raise ValueError(f"{path}: short read in member {lay.info.filename!r} "
                         f"({got} of {len(raw)} bytes); the file is truncated")
    if zlib.crc32(raw) != lay.info.CRC:
        raise ValueError(f"{path}: member {lay.info.filename!r} fails its CRC-32 check; "
                         f"the file is corrupt")
    return raw


def _parse_npy(raw: bytearray, name: str, path: str) -> NDArray[Any]:
    """One ``.npy`` member's bytes -> array, checking the header before trusting it."""
    if raw[:6] != _NPY_MAGIC or len(raw) < 10:
        raise ValueError(f"{path}: member {name!r} is not a .npy array (bad magic)")
    major = raw[6]
    if major == 1:
        hlen, pos = int.from_bytes(raw[8:10], "little"), 10
    elif major in (2, 3) and len(raw) >= 12:
        hlen, pos = int.from_bytes(raw[8:12], "little"), 12
    else:
        raise ValueError(f"{path}: member {name!r} has unsupported .npy version {major}.{raw[7]}")
    if hlen > MAX_HEADER_BYTES:
        raise ValueError(f"{path}: member {name!r} declares a {hlen}-byte header "
                         f"(limit {MAX_HEADER_BYTES}); the file is corrupt or hostile")
    if pos + hlen > len(raw):
        raise ValueError(f"{path}: member {name!r} declares a {hlen}-byte header but holds only "
                         f"{len(raw) - pos} bytes after its magic; the file is truncated")
    header = _parse_header(bytes(raw[pos:pos + hlen]), name, path)
    dtype, shape = header["descr"], header["shape"]
    data_at = pos + hlen
    count = 1
    for s in shape:
        count *= s  # Python ints: no int64 wrap-around, however absurd the shape
    nbytes = count * dtype.itemsize
    if nbytes != len(raw) - data_at:
        raise ValueError(f"{path}: member {name!r} is {len(raw)} bytes but its header (shape {shape}, "
                         f"{dtype}) needs {data_at + nbytes}; the file is truncated or corrupt")
    a = np.frombuffer(raw, dtype=dtype, count=count, offset=data_at)
    if header["fortran_order"]:
        c_order: NDArray[Any] = a.reshape(shape[::-1]).T.copy()  # copy() keeps 0-d arrays 0-d
        return c_order
    a = a.reshape(shape)
    # numpy pads headers so data start 64-byte aligned; another writer's may not, and
    # kernels want aligned data
    aligned: NDArray[Any] = a if a.flags.aligned else a.copy()
    return aligned


def _parse_header(header: bytes, name: str, path: str) -> _NpyHeader:
    try:
        d = ast.literal_eval(header.decode("latin1"))
    except Exception as err:  # noqa: BLE001 - any unparsable text is the file's fault
        raise ValueError(f"{path}: member {name!r} has a malformed .npy header "
                         f"({type(err).__name__}: {err})") from None
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"{path}: member {name!r} has a malformed .npy header {header[:80]!r}")
    shape, descr, fortran = d["shape"], d["descr"], d["fortran_order"]
    if not isinstance(shape, tuple) or not all(type(s) is int for s in shape):
        raise ValueError(f"{path}: member {name!r} has shape {shape!r}; a tuple of ints is required")
    if any(s < 0 for s in shape):
        raise ValueError(f"{path}: member {name!r} has a negative dimension in shape {shape}")
    if not isinstance(fortran, bool):
        raise ValueError(f"{path}: member {name!r} has fortran_order {fortran!r}; True or False required")
    if isinstance(descr, str) and _OBJECT_DESCR.fullmatch(descr):
        raise ValueError(f"{path}: member {name!r} holds Python objects (pickle); refused")
    # np.dtype() of an arbitrary string runs numpy's own parsers (comma strings go through
    # ast.literal_eval): only a plain "<f4"-like code is handed to it.
    if not isinstance(descr, str) or not _PLAIN_DESCR.fullmatch(descr):
        raise ValueError(f"{path}: member {name!r} has dtype {descr!r}; only plain numeric dtypes "
                         f"(like '<f4') are read")
    try:
        dtype = np.dtype(descr)
    except TypeError as err:  # a well-formed code numpy lacks, e.g. '<f3'
        raise ValueError(f"{path}: member {name!r} has dtype {descr!r}, which numpy does not know "
                         f"({err})") from None
    return {"descr": dtype, "shape": shape, "fortran_order": fortran}
