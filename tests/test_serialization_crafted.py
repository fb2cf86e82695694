"""Crafted weights files: each raises ValueError naming the path and the cause
(docs/reliability.md rows 42 and 56), never a bare MemoryError, RuntimeError,
NotImplementedError, OverflowError, BadZipFile, KeyError or UnicodeDecodeError.

The archives are built byte by byte (``_zip``) so every field a loader might trust can be
set to a lie, while the members and the ``__microinit__`` record stay those of a real
save: only the field under test is wrong.
"""
import io
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microinit import serialization as S

LOCAL = struct.Struct("<4s2B4HL2L2H")
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
END = struct.Struct("<4s4H2LH")


class Entry:
    """One member of a hand-built zip; every field can be overridden."""

    def __init__(self, name, data, **fields):
        self.name = name.encode("utf-8") if isinstance(name, str) else name
        self.data = data
        self.flags = fields.get("flags", 0)
        self.local_flags = fields.get("local_flags", self.flags)
        self.method = fields.get("method", 0)
        self.crc = fields.get("crc", zlib.crc32(data))
        self.size = fields.get("size", len(data))
        self.local_size = fields.get("local_size", self.size)
        self.local_name = fields.get("local_name", self.name)
        self.offset = fields.get("offset")  # None: where the local record really is


def _zip(entries, tail=b""):
    out, offsets = bytearray(), []
    for e in entries:
        offsets.append(len(out))
        out += LOCAL.pack(b"PK\x03\x04", 20, 0, e.local_flags, e.method, 0, 0x21, e.crc,
                          e.local_size, e.local_size, len(e.local_name), 0) + e.local_name + e.data
    start = len(out)
    for e, off in zip(entries, offsets):
        out += CENTRAL.pack(b"PK\x01\x02", 20, 0, 20, 0, e.flags, e.method, 0, 0x21, e.crc, e.size, e.size,
                            len(e.name), 0, 0, 0, 0, 0, off if e.offset is None else e.offset) + e.name
    out += END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(out) - start, start, 0)
    return bytes(out) + tail


def _npy(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


STATE = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.float64(0.5)}


@pytest.fixture
def members(tmp_path):
    """{member name: bytes} of a real save of STATE, the record included."""
    S.save(STATE, tmp_path / "real.npz")
    with zipfile.ZipFile(tmp_path / "real.npz") as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _entries(members, **override_for_w):
    return [Entry(n, d, **(override_for_w if n == "w.npy" else {})) for n, d in members.items()]


def _refused(tmp_path, data, cause):
    path = tmp_path / "crafted.npz"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=cause) as info:
        S.load(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_the_hand_built_archive_of_real_members_loads(tmp_path, members):
    # the builder itself is right: without a lie, the archive loads exactly
    path = tmp_path / "crafted.npz"
    path.write_bytes(_zip(_entries(members)))
    back = S.load(path)
    assert back["s"].shape == () and back["s"] == 0.5
    np.testing.assert_array_equal(back["w"], STATE["w"])


@pytest.mark.parametrize("bit, what", [(0, "encrypted"), (5, "patched data"), (6, "strong encryption"),
                                       (13, "masked directory"), (15, "unknown")])
def test_zip_flag_bits_refused_in_directory_and_local_header(tmp_path, members, bit, what):
    _refused(tmp_path, _zip(_entries(members, flags=1 << bit)), rf"sets zip flag bits \[{bit}\] \({what}\)")
    _refused(tmp_path, _zip(_entries(members, local_flags=1 << bit)),
             rf"sets zip flag bits \[{bit}\] \({what}\) in its local header")


@pytest.mark.parametrize("method, kind", [(99, "unknown"), (12, "unknown"), (8, "deflate")])
def test_compression_methods_refused(tmp_path, members, method, kind):
    _refused(tmp_path, _zip(_entries(members, method=method)), rf"compression method {method} \({kind}\)")


def test_real_deflated_member_refused(tmp_path):
    np.savez_compressed(tmp_path / "crafted.npz", w=np.zeros(3))
    with pytest.raises(ValueError, match=r"crafted.npz: member 'w.npy' uses compression method 8"):
        S.load(tmp_path / "crafted.npz")


def _with_header(members, text):
    """Member w.npy with its .npy header replaced by ``text`` (its data bytes kept)."""
    blob = members["w.npy"]
    hlen = int.from_bytes(blob[8:10], "little")
    header = text.encode("latin1")
    header += b" " * (hlen - 1 - len(header)) + b"\n" if len(header) < hlen else b"\n"
    return dict(members, **{"w.npy": blob[:8] + len(header).to_bytes(2, "little") + header
                            + blob[10 + hlen:]})


@pytest.mark.parametrize("shape, cause", [
    ("(2**62, 4)", "malformed .npy header"),                         # not a literal
    ("(4611686018427387904, 4)", r"needs \d{20}"),                  # 2**62 * 4 overflows int64
    ("(3, 768614336404564651)", r"needs 9223372036854775940"),      # 4 bytes x count overflows int64
    ("(2, 2305843009213693955)", r"needs 18446744073709551768"),    # in int64 it wraps to the 24 bytes present
    ("(10**30,)", "malformed"),
    ("(99999999999999999999999,)", "needs"),
    ("(-1, 6)", "negative dimension"),
    ("(2.0, 3)", "a tuple of ints is required"),
    ("(True, 6)", "a tuple of ints is required"),
    ("[2, 3]", "a tuple of ints is required"),
    ("(2, 4)", r"is 152 bytes .* needs 160"),                                      # absurd vs the bytes present
])
def test_shapes_checked_before_allocating(tmp_path, members, shape, cause):
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    _refused(tmp_path, _zip(_entries(_with_header(members, header))), cause)


@pytest.mark.parametrize("header, cause", [
    ("{'descr': 'xq9', 'fortran_order': False, 'shape': (6,), }", "only plain numeric dtypes"),
    ("{'descr': '<f3', 'fortran_order': False, 'shape': (6,), }", "numpy does not know"),
    ("{'descr': '<f4,)', 'fortran_order': False, 'shape': (6,), }", "only plain numeric dtypes"),
    ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", "only plain numeric dtypes"),
    ("{'descr': '|O', 'fortran_order': False, 'shape': (6,), }", "holds Python objects"),
    ("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", "has dtype complex64"),
    ("{'descr': '<f4', 'fortran_order': 'yes', 'shape': (2, 3), }", "True or False"),
    ("{'descr': '<f4', 'shape': (2, 3), }", "malformed .npy header"),
    ("(" * 300, "malformed .npy header"),
    ("\udcff", "malformed"),
])
def test_npy_headers_checked(tmp_path, members, header, cause):
    if header == "\udcff":  # a header that is not text at all
        blob = members["w.npy"]
        members = dict(members, **{"w.npy": blob[:10] + b"\xff\xfe" * 30 + blob[70:]})
    else:
        members = _with_header(members, header)
    _refused(tmp_path, _zip(_entries(members)), cause)


@pytest.mark.parametrize("hlen, version, cause", [
    (10 ** 8, 2, "declares a 100000000-byte header"),
    (2 ** 32 - 1, 3, "declares a 4294967295-byte header"),
    (5000, 2, "declares a 5000-byte header but holds only"),
    (16, 9, r"unsupported .npy version 9"),
])
def test_npy_header_lengths_capped_and_checked(tmp_path, members, hlen, version, cause):
    blob = b"\x93NUMPY" + bytes([version, 0]) + hlen.to_bytes(4, "little") + b"{" * 64
    _refused(tmp_path, _zip(_entries(dict(members, **{"w.npy": blob}))), cause)


def test_duplicate_names_refused(tmp_path, members):
    entries = _entries(members) + [Entry("w.npy", _npy(np.zeros((2, 3), np.float32)))]
    _refused(tmp_path, _zip(entries), "member 'w.npy' appears twice")


def test_declared_sizes_checked_against_the_file(tmp_path, members):
    n = len(members["w.npy"])
    _refused(tmp_path, _zip(_entries(members, size=n + 10 ** 9, local_size=n + 10 ** 9)),
             "past the end of the data area")
    _refused(tmp_path, _zip(_entries(members, size=2 ** 32 - 2, local_size=2 ** 32 - 2)), "past the end")
    _refused(tmp_path, _zip(_entries(members, local_size=n - 4)), "local header declares")
    _refused(tmp_path, _zip(_entries(members, size=n - 8, local_size=n - 8)), "CRC-32|truncated")
    _refused(tmp_path, _zip(_entries(members, crc=1234)), "fails its CRC-32 check")


def test_offsets_and_local_headers_checked(tmp_path, members):
    _refused(tmp_path, _zip(_entries(members, offset=2 ** 32 - 1)), "outside the data area")
    _refused(tmp_path, _zip(_entries(members, offset=3)), "no local header at offset 3")
    _refused(tmp_path, _zip(_entries(members, local_name=b"x.npy")), "its local header names")


def test_overlapping_members_refused(tmp_path, members):
    # member a.npy's data is member b.npy's whole local record: one byte range, read twice.
    # Repeated, this is how a small crafted file would make a loader allocate gigabytes.
    inner = Entry("b.npy", members["w.npy"])
    b_record = _zip([inner])[: LOCAL.size + len(inner.name) + len(inner.data)]
    a = Entry("a.npy", b_record)
    b = Entry("b.npy", members["w.npy"], offset=LOCAL.size + len(a.name))
    _refused(tmp_path, _zip([a, b, Entry("__microinit__.npy", members["__microinit__.npy"])]), "overlap")


@pytest.mark.parametrize("name, cause", [
    ("dir/w.npy", "unexpected member 'dir/w.npy'"), ("w.txt", "unexpected member"), (".npy", "unexpected member"),
    (b"w\x00evil.npy", "unexpected member"),
])
def test_member_names_checked(tmp_path, members, name, cause):
    entries = _entries(members) + [Entry(name, _npy(np.zeros(2)))]
    _refused(tmp_path, _zip(entries), cause)


def test_undecodable_utf8_name_refused(tmp_path, members):
    entries = _entries(members) + [Entry(b"\xff\xfe.npy", _npy(np.zeros(2)), flags=1 << 11)]
    _refused(tmp_path, _zip(entries), "not a valid weights archive")


def test_npy_magic_checked(tmp_path, members):
    _refused(tmp_path, _zip(_entries(dict(members, **{"w.npy": b"PK" * 40}))), "is not a .npy array")


@pytest.mark.parametrize("record, cause", [
    (b"not json", "unreadable __microinit__ record"),
    (b"\xff\xfe", "unreadable __microinit__ record"),
    (b"[1, 2]", "not a microinit-weights record"),
    (b'{"format": "microinit-weights", "version": 2, "keys": ["w", "s"], "sha256": ""}', "newer microinit"),
    (b'{"format": "microinit-weights", "version": "1", "keys": ["w", "s"], "sha256": ""}', "version '1'"),
    (b'{"format": "microinit-weights", "version": 1, "keys": [1, "s"], "sha256": ""}', "malformed keys"),
    (b'{"format": "microinit-weights", "version": 1, "keys": ["w", "w"], "sha256": ""}', "malformed keys"),
    (b'{"format": "microinit-weights", "version": 1, "keys": ["w"], "sha256": ""}', "do not match"),
    (b'{"format": "microinit-weights", "version": 1, "keys": ["w", "s"], "sha256": "0"}', "checksum mismatch"),
])
def test_record_checked(tmp_path, members, record, cause):
    blob = _npy(np.frombuffer(record, np.uint8))
    _refused(tmp_path, _zip(_entries(dict(members, **{"__microinit__.npy": blob}))), cause)


def test_record_of_the_wrong_dtype_refused(tmp_path, members):
    blob = _npy(np.zeros(4, np.float64))
    _refused(tmp_path, _zip(_entries(dict(members, **{"__microinit__.npy": blob}))), "not bytes")


@pytest.mark.parametrize("data", [b"\x00", b"garbage" * 100, b"PK\x05\x06" + b"\xff" * 18,
                                  b"PK\x05\x06" + b"\x00" * 18, b"PK\x03\x04" * 10])
def test_non_zip_garbage_refused(tmp_path, data):
    _refused(tmp_path, data, "not a valid weights archive|no __microinit__ record")


def test_directory_and_missing_paths(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}: is a directory"):
        S.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        S.load(tmp_path / "nope.npz")


def test_file_written_by_the_previous_release_still_loads(tmp_path, members):
    # Version 1 as written before the reader was hardened (same layout, same checksum);
    # the hand-built archive has no zip64 extras, unlike what save() writes today.
    path = tmp_path / "v1.npz"
    path.write_bytes(_zip(_entries(members)))
    assert os.path.getsize(path) < os.path.getsize(tmp_path / "real.npz")
    back = S.load(path)
    assert list(back) == ["w", "s"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_byte_mutations_load_exactly_or_raise_valueerror(tmp_path, data):
    """Random byte edits of a valid file: a clean, exact load or ValueError/OSError naming the path."""
    path = tmp_path / "good.npz"
    if not path.exists():
        S.save(STATE, path)
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["set", "flip", "insert", "delete", "cut"]))
        if op == "set":
            raw[pos] = data.draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif op == "flip":
            raw[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del raw[pos:pos + data.draw(st.integers(1, 8))]
        else:
            del raw[pos:]
        if not raw:
            raw = bytearray(b"\x00")
    bad = tmp_path / "mutated.npz"
    bad.write_bytes(bytes(raw))
    try:
        back = S.load(bad)
    except (ValueError, OSError) as err:
        assert str(bad) in str(err)
    else:
        assert list(back) == list(STATE)
        for k, a in STATE.items():
            assert back[k].dtype == a.dtype and back[k].shape == np.shape(a)
            assert back[k].tobytes() == np.asarray(a).tobytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_member_edits_behind_a_valid_crc(tmp_path, members, data):
    """Edits inside one member, with its CRC-32 recomputed, reach the .npy header and record
    parsers: a clean, exact load or ValueError naming the path."""
    name = data.draw(st.sampled_from(sorted(members)))
    raw = bytearray(members[name])
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, min(len(raw), 140) - 1)) if raw else 0
        op = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if op == "set" and raw:
            raw[pos] = data.draw(st.sampled_from(b"0123456789(),-' {}:TrueFalse<>fiuObc[]\xff"))
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[pos:pos + data.draw(st.integers(1, 4))]
    path = tmp_path / "edited.npz"
    path.write_bytes(_zip([Entry(n, bytes(raw) if n == name else d) for n, d in members.items()]))
    try:
        back = S.load(path)
    except ValueError as err:
        assert str(path) in str(err)
    else:
        for k, a in STATE.items():
            assert back[k].dtype == a.dtype and back[k].shape == np.shape(a)
            assert back[k].tobytes() == np.asarray(a).tobytes()


def test_unaligned_data_comes_back_aligned(tmp_path, members):
    blob = members["w.npy"]
    hlen = int.from_bytes(blob[8:10], "little")
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".ljust(118) + b"\n"
    edited = dict(members, **{"w.npy": blob[:8] + len(header).to_bytes(2, "little") + header + blob[10 + hlen:]})
    path = tmp_path / "odd.npz"
    path.write_bytes(_zip(_entries(edited)))  # the data now start at byte 129 of the member
    back = S.load(path)
    assert back["w"].flags.aligned and back["w"].flags.c_contiguous
    np.testing.assert_array_equal(back["w"], STATE["w"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(ValueError, match="pipe.npz: not a regular file"):
        S.load(tmp_path / "pipe.npz")
