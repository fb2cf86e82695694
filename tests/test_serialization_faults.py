"""File faults (issue 13's file-fault test; docs/reliability.md rows 40, 43 and 55).

Every truncation of a saved file and a few hundred random bit flips either load exactly
what was saved or raise ValueError naming the file, with the model left unchanged; a
save killed with SIGKILL at random moments leaves the old file loadable, and the next
save removes the temporary file the killed one left.
"""
import os
import random
import signal
import time

import numpy as np
import pytest

from microinit import nn
from microinit import serialization as S
from microinit._atomic import TEMP_SUFFIX


def _model(seed):
    return nn.MLP([3, 4, 2], activation="tanh", rng=seed)


def _snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _same(a, b):
    return list(a) == list(b) and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes() for k in a)


def _load_or_refuse(path, saved, model):
    """Load ``path`` into ``model``: exactly ``saved``, or ValueError naming it and no change."""
    before = _snapshot(model)
    try:
        S.load(path, model)
    except ValueError as err:
        assert str(path) in str(err), err
        assert _same(model.state_dict(), before), "a failed load changed the model"
        return False
    assert _same(model.state_dict(), saved), "a corrupt file loaded to other values"
    return True


@pytest.fixture
def saved_file(tmp_path):
    path = tmp_path / "small.npz"
    _model(0).save(path)
    return path, path.read_bytes(), _model(0).state_dict()


def test_every_truncation_is_refused_and_leaves_the_model_unchanged(tmp_path, saved_file):
    _, raw, saved = saved_file
    cut, model = tmp_path / "cut.npz", _model(7)
    for n in range(len(raw)):  # every prefix, the empty one included
        cut.unlink(missing_ok=True)  # a new file: ext4 flushes a file truncated and rewritten
        cut.write_bytes(raw[:n])
        assert not _load_or_refuse(cut, saved, model), f"a {n}-byte prefix of {len(raw)} bytes loaded"


def test_random_bit_flips_load_exactly_or_are_refused(tmp_path, saved_file):
    _, raw, saved = saved_file
    rng = random.Random(13)
    flipped = tmp_path / "flipped.npz"
    refused = 0
    for _ in range(400):
        data = bytearray(raw)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        flipped.unlink(missing_ok=True)
        flipped.write_bytes(bytes(data))
        model = _model(7)  # fresh: a flip that loads cleanly has filled the last one
        refused += not _load_or_refuse(flipped, saved, model)
    assert refused > 300  # most bytes are data, header or CRC: a flip there must be caught


def _version(v, n=1 << 20):
    """Version ``v`` of a 4 MB state: the version itself (0-d) and data derived from it."""
    return {"version": np.array(v, np.int64), "w": np.arange(n, dtype=np.float32) + np.float32(v)}


def _strays(folder, target):
    return sorted(name for name in os.listdir(folder) if name != target)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork to kill a saving process")
def test_kill_9_during_save_keeps_the_old_file_and_next_save_cleans_up(tmp_path):
    path = tmp_path / "big.npz"
    S.save(_version(0), path)
    rng = random.Random(55)
    newest, killed_with_temp = 0, 0
    for kill in range(20):
        first = newest + 1
        pid = os.fork()
        if pid == 0:  # the child saves versions first, first+1, ... until it is killed
            try:
                for v in range(first, first + 10 ** 6):
                    S.save(_version(v), path)
            finally:
                os._exit(1)
        if kill % 2:
            time.sleep(rng.uniform(0.0, 0.06))  # any moment: between saves, mid-write, mid-rename
        else:  # a moment when a temporary file surely exists: mid-write
            deadline = time.monotonic() + 5
            while not any(n.endswith(TEMP_SUFFIX) for n in os.listdir(tmp_path)):
                assert time.monotonic() < deadline, "the child never started a save"
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 0.004))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)  # reaped: a zombie's pid still counts as a running writer
        state = S.load(path)  # the old file, or a newer complete one: never a broken one
        v = int(state["version"])
        assert state["version"].shape == () and v >= newest
        assert _same(state, _version(v))
        strays = _strays(tmp_path, "big.npz")
        assert all(n.startswith(".big.npz.") and n.endswith(TEMP_SUFFIX) and f"-{pid}." in n
                   for n in strays), strays
        killed_with_temp += bool(strays)
        newest = max(v, first + 1000)  # later versions than any the child could have reached
        S.save(_version(newest), path)
        assert _strays(tmp_path, "big.npz") == [], "a killed save's temporary file survived the next save"
        assert _same(S.load(path), _version(newest))
    assert killed_with_temp >= 5  # the kills did land mid-save, so the cleanup was exercised
