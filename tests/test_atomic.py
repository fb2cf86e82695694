"""microinit._atomic: atomic writes, and which leftover temporary files the next write removes
(docs/reliability.md rows 43 and 55)."""
import os
import subprocess
import sys

import pytest

from microinit import _atomic as A

posix_only = pytest.mark.skipif(os.name != "posix", reason="pid probing is POSIX-only")


def _dead_pid():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)  # exited and reaped by run(): no process has this pid now


def _temp_name(target, pid, rand="abcd_123"):
    return A.temp_stem(target) + f"{pid}.{rand}{A.TEMP_SUFFIX}"


def _touch(folder, name, data=b"x"):
    (folder / name).write_bytes(data)
    return name


def test_temp_file_is_in_the_folder_and_names_the_writer(tmp_path):
    target = tmp_path / "w.npz"
    with A.atomic_open(target, "wb") as f:
        f.write(b"new")
        (name,) = os.listdir(tmp_path)
        assert name.startswith(A.temp_stem(target) + f"{os.getpid()}.") and name.endswith(A.TEMP_SUFFIX)
    assert os.listdir(tmp_path) == ["w.npz"] and target.read_bytes() == b"new"


@posix_only
def test_stale_temps_of_the_target_are_removed_and_nothing_else(tmp_path):
    target = tmp_path / "w.npz"
    dead = _dead_pid()
    stale = [_touch(tmp_path, _temp_name(target, dead)), _touch(tmp_path, _temp_name(target, dead, "zz_99999"))]
    kept = [
        _touch(tmp_path, _temp_name(target, os.getpid())),                    # a live writer: this process
        _touch(tmp_path, _temp_name(tmp_path / "other.npz", dead)),           # another target's
        _touch(tmp_path, f".w.npz.00000000-{dead}.abcd_123{A.TEMP_SUFFIX}"),  # another host's
        _touch(tmp_path, f".w.npz.{dead}.tmp"),                               # the old pattern, no owner
        _touch(tmp_path, _temp_name(target, dead, "ABCD_123")),               # not mkstemp's alphabet
        _touch(tmp_path, _temp_name(target, dead) + ".bak"),                  # a user's copy
        _touch(tmp_path, "w.npz.microinit-tmp"),
    ]
    assert sorted(A.remove_stale_temps(target)) == sorted(stale)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
    A.atomic_write(target, b"data")  # every write cleans up the same way
    assert sorted(os.listdir(tmp_path)) == sorted(kept + ["w.npz"])


@posix_only
def test_a_concurrent_writers_temp_survives_until_it_dies(tmp_path):
    target = tmp_path / "w.npz"
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        name = _touch(tmp_path, _temp_name(target, writer.pid))
        A.atomic_write(target, b"mine")
        assert name in os.listdir(tmp_path)  # a live writer's file is never deleted
    finally:
        writer.kill()
        writer.wait()
    A.atomic_write(target, b"again")
    assert os.listdir(tmp_path) == ["w.npz"]


@posix_only
def test_long_target_names_stay_within_file_name_limits(tmp_path):
    target = tmp_path / ("n" * 200 + ".npz")
    stale = _touch(tmp_path, _temp_name(target, _dead_pid()))
    assert len(stale) < 160
    A.atomic_write(target, "text")
    assert os.listdir(tmp_path) == [target.name]


def test_cleanup_never_makes_a_write_fail(tmp_path, monkeypatch):
    def unreadable(_):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "scandir", unreadable)
    assert A.atomic_write(tmp_path / "w.txt", "ok") == str(tmp_path / "w.txt")
    assert (tmp_path / "w.txt").read_text() == "ok"


def test_failed_write_removes_its_temp_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "w.txt"
    A.atomic_write(target, "old")
    with pytest.raises(RuntimeError, match="midway"):
        with A.atomic_open(target, "w") as f:
            f.write("half")
            raise RuntimeError("midway")
    assert os.listdir(tmp_path) == ["w.txt"] and target.read_text() == "old"
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with A.atomic_open(target, "a"):
            pass
