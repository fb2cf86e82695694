import io
import os
import zipfile

import numpy as np
import pytest

from microinit import nn
from microinit import serialization as S


def _model(seed=0, sizes=(3, 5, 2)):
    return nn.MLP(list(sizes), activation="tanh", rng=seed)


def _snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _assert_state_equal(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].dtype == b[k].dtype


def test_round_trip_restores_parameters_exactly(tmp_path):
    src, dst = _model(0), _model(1)
    path = tmp_path / "w.npz"
    S.save(src, path)
    state = S.load(path, dst)
    _assert_state_equal(dst.state_dict(), src.state_dict())
    _assert_state_equal(state, src.state_dict())
    # the file is a plain npz numpy can read, with no pickle needed
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["0.weight"], src[0].weight.data)


def test_module_save_load_methods_and_float64(tmp_path):
    src = nn.MLP([2, 4, 1], rng=0, dtype=np.float64)
    dst = nn.MLP([2, 4, 1], rng=9, dtype=np.float64)
    src.save(tmp_path / "m.npz")
    arr = dst[0].weight.data
    v = dst[0].weight._version
    dst.load(tmp_path / "m.npz")
    assert dst[0].weight.data is arr  # copied in place: optimizers keep their references
    assert dst[0].weight._version > v
    _assert_state_equal(dst.state_dict(), src.state_dict())


def test_save_dict_of_arrays_and_order(tmp_path):
    state = {"z": np.arange(3.0), "a": np.ones((2, 2), np.float32), "n": np.arange(4),
             "f": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
             "big": np.arange(4, dtype=">f4")}
    S.save(state, tmp_path / "d.npz")
    back = S.load(tmp_path / "d.npz")
    assert list(back) == ["z", "a", "n", "f", "big"]
    assert back["big"].dtype == np.float32 and back["f"].flags.c_contiguous
    state["big"] = state["big"].astype(np.float32)
    _assert_state_equal(back, state)
    back["z"][0] = 5.0  # loaded arrays are ordinary writable arrays


def test_save_writes_exactly_the_path_and_leaves_no_temp(tmp_path):
    S.save(_model(), tmp_path / "weights.bin")
    assert sorted(os.listdir(tmp_path)) == ["weights.bin"]


def _corrupt(tmp_path, data):
    p = tmp_path / "bad.npz"
    p.unlink(missing_ok=True)  # a new file: ext4 flushes a file truncated and rewritten (slow)
    p.write_bytes(data)
    return p


def _good_bytes(tmp_path):
    S.save(_model(), tmp_path / "good.npz")
    return (tmp_path / "good.npz").read_bytes()


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_refused_and_model_unchanged(tmp_path, cut):
    raw = _good_bytes(tmp_path)
    path = _corrupt(tmp_path, raw[: int(len(raw) * cut)])
    model = _model(5)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="bad.npz"):
        S.load(path, model)
    _assert_state_equal(model.state_dict(), before)


def test_zero_byte_file(tmp_path):
    path = _corrupt(tmp_path, b"")
    with pytest.raises(ValueError, match=r"bad.npz: the file is empty"):
        S.load(path)


def test_missing_file_names_path(tmp_path):
    with pytest.raises(OSError, match="nope.npz"):
        S.load(tmp_path / "nope.npz")


def test_bit_flips_are_caught_or_harmless(tmp_path):
    raw = bytearray(_good_bytes(tmp_path))
    saved = _model().state_dict()
    # byte ranges holding parameter data: every flip there must be detected
    payload = set()
    for a in saved.values():
        start = bytes(raw).find(a.tobytes())
        assert start > 0
        payload.update(range(start, start + a.nbytes))
    for pos in range(0, len(raw), 5):
        model = _model(5)
        before = _snapshot(model)
        flipped = bytearray(raw)
        flipped[pos] ^= 0x10
        path = _corrupt(tmp_path, bytes(flipped))
        try:
            S.load(path, model)
        except (ValueError, OSError) as err:
            assert "bad.npz" in str(err)
            _assert_state_equal(model.state_dict(), before)  # unchanged on failure
        else:
            # a flip in zip bookkeeping (a timestamp, a version field) may leave the
            # data intact; then what was loaded must be exactly what was saved
            assert pos not in payload, f"flip at byte {pos} of the data went unnoticed"
            _assert_state_equal(model.state_dict(), saved)


def _write_npz(path, members):
    """Write a zip of raw .npy members (bytes) without any of save()'s care."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


def _npy_bytes(a, **kw):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, **kw)
    return buf.getvalue()


def test_checksum_mismatch_detected(tmp_path):
    # Rebuild a valid archive whose data differ from the recorded checksum.
    S.save({"w": np.ones(3)}, tmp_path / "a.npz")
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        meta = zf.read("__microinit__.npy")
    _write_npz(tmp_path / "b.npz", {"w.npy": _npy_bytes(np.full(3, 2.0)), "__microinit__.npy": meta})
    with pytest.raises(ValueError, match=r"b.npz: checksum mismatch"):
        S.load(tmp_path / "b.npz")


def test_pickle_payload_refused(tmp_path):
    obj = np.array([{"evil": 1}], dtype=object)
    _write_npz(tmp_path / "p.npz", {"w.npy": _npy_bytes(obj, allow_pickle=True)})
    with pytest.raises(ValueError, match=r"p.npz: member 'w' holds Python objects"):
        S.load(tmp_path / "p.npz")


def test_wrong_dtype_refused(tmp_path):
    _write_npz(tmp_path / "c.npz", {"w.npy": _npy_bytes(np.zeros(3, np.complex128))})
    with pytest.raises(ValueError, match=r"c.npz: member 'w' has dtype complex128"):
        S.load(tmp_path / "c.npz")


def test_huge_header_length_refused(tmp_path):
    blob = b"\x93NUMPY\x02\x00" + (10 ** 8).to_bytes(4, "little") + b"{" * 64
    _write_npz(tmp_path / "h.npz", {"w.npy": blob})
    with pytest.raises(ValueError, match=r"h.npz: member 'w' declares a 100000000-byte header"):
        S.load(tmp_path / "h.npz")


def test_header_shape_larger_than_data_refused(tmp_path):
    good = _npy_bytes(np.zeros((2, 2)))
    lying = good.replace(b"(2, 2)", b"(9, 9)")
    _write_npz(tmp_path / "s.npz", {"w.npy": lying})
    with pytest.raises(ValueError, match=r"s.npz: member 'w' is \d+ bytes but its header"):
        S.load(tmp_path / "s.npz")


def test_plain_npz_without_record_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.zeros(2))
    with pytest.raises(ValueError, match="no __microinit__ record"):
        S.load(tmp_path / "plain.npz")


def test_shape_mismatch_and_keys_listed_model_unchanged(tmp_path):
    S.save(_model(0, (3, 4, 2)), tmp_path / "w.npz")
    model = _model(1, (3, 5, 2))
    before = _snapshot(model)
    with pytest.raises(ValueError) as info:
        S.load(tmp_path / "w.npz", model)
    msg = str(info.value)
    assert "size mismatch for 0.weight: file (3, 4) vs model (3, 5)" in msg
    assert "size mismatch for 1.weight: file (4, 2) vs model (5, 2)" in msg
    _assert_state_equal(model.state_dict(), before)
    deeper = _model(1, (3, 4, 4, 2))
    with pytest.raises(ValueError, match=r"missing keys: 2.weight, 2.bias"):
        S.load(tmp_path / "w.npz", deeper)
    shallow = nn.MLP([3, 4], rng=0)
    with pytest.raises(ValueError, match=r"unexpected keys: 1.weight, 1.bias"):
        S.load(tmp_path / "w.npz", shallow)
    S.load(tmp_path / "w.npz", shallow, strict=False)  # non-strict: the shared key loads
    np.testing.assert_array_equal(shallow[0].weight.data, S.load(tmp_path / "w.npz")["0.weight"])


def test_exception_mid_save_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    S.save({"w": np.ones(3)}, path)
    old = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("crash while writing")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(RuntimeError, match="crash while writing"):
        S.save({"w": np.zeros(3)}, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["w.npz"]


def test_disk_full_raises_oserror_with_path(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    S.save({"w": np.ones(3)}, path)
    old = path.read_bytes()

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"could not save weights to .*w.npz: No space left"):
        S.save({"w": np.zeros(3)}, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["w.npz"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_directory(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(OSError, match="ro/w.npz"):
            S.save({"w": np.ones(3)}, d / "w.npz")
    finally:
        d.chmod(0o700)


def test_read_only_directory_simulated(tmp_path, monkeypatch):
    import tempfile

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OSError, match=r"could not save weights to .*x.npz: Permission denied"):
        S.save({"w": np.ones(3)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_bad_things_to_save(tmp_path):
    with pytest.raises(TypeError, match="Module or a dict"):
        S.save([1, 2], tmp_path / "x.npz")
    with pytest.raises(TypeError, match="complex128"):
        S.save({"w": np.zeros(2, complex)}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="invalid parameter name"):
        S.save({"a/b": np.zeros(2)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_save_errors_name_the_path(tmp_path):
    target = tmp_path / "named.npz"
    with pytest.raises(TypeError, match=r"save to .*named.npz: expected a Module"):
        S.save(3, target)
    with pytest.raises(TypeError, match=r"save to .*named.npz: w has dtype float16"):
        S.save({"w": np.zeros(2, np.float16)}, target)
    for bad in ("", "a\\b", "a\0b", "__microinit__", 7):
        with pytest.raises(ValueError, match=r"save to .*named.npz: invalid parameter name"):
            S.save({bad: np.zeros(2)}, target)
    with pytest.raises(OSError, match=r"could not save weights to .*: Is a directory"):
        S.save({"w": np.zeros(2)}, tmp_path)
    assert os.listdir(tmp_path) == []
