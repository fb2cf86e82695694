"""Atomic file writes: the one way microinit writes a file (weights, figures, DOT, JSON).

A write goes to a temporary file in the target's directory, is flushed and fsync-ed,
then renamed over the target with ``os.replace`` (atomic on POSIX and Windows), and
the directory is fsync-ed so the rename itself survives a crash. If anything fails
before the rename, the temporary file is removed and the old target is untouched.

A process killed outright (``kill -9``, power loss) cannot remove its temporary file.
So the temporary file's name says whose it is::

    .<target name>.<host tag>-<pid>.<8 random chars>.microinit-tmp

and the next write to the same target removes every such file whose writer (same host,
that pid) no longer runs (docs/reliability.md row 55). A file of a live writer, of
another host, of another target, or any name not of exactly this form is never touched,
so two concurrent saves never delete each other's temporary file. (A killed writer
that is still a zombie, not yet reaped by its parent, counts as running, and so does a
new process that happens to get the dead writer's pid: the file then stays until that
one ends too. Files of the older ``.<name>.XXXXXXXX.tmp`` form carry no pid and are
left alone.)

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
>>> with atomic_open(path, "w") as f:
...     _ = f.write("all or nothing")
>>> open(path).read(), os.listdir(os.path.dirname(path))
('all or nothing', ['notes.txt'])
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
from typing import IO, Any, Iterator

__all__ = ["atomic_open", "atomic_write", "remove_stale_temps", "temp_stem", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".microinit-tmp"
# Long target names are cut in the temporary name so it stays under the usual
# 255-byte limit of a file name; the cut is part of the pattern, so it still matches.
_NAME_CHARS = 100
# tempfile.mkstemp's random part: 8 characters of this alphabet.
_RANDOM_PART = r"[a-z0-9_]{8}"


def _host_tag() -> str:
    # pids are per host: a file written on another machine sharing the folder (NFS)
    # must not be judged by a local pid.
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def temp_stem(path: str | os.PathLike[str]) -> str:
    """``.<name>.<host tag>-``: what every temporary file for ``path`` starts with.

    >>> stem = temp_stem("/data/w.npz")
    >>> stem.startswith(".w.npz.") and stem.endswith("-") and len(stem) == len(".w.npz.") + 9
    True
    """
    return f".{os.path.basename(path)[:_NAME_CHARS]}.{_host_tag()}-"


def _pid_is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # exists under another user, or not a pid we can judge: keep the file
    return True


def remove_stale_temps(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files a killed write to ``path`` left behind; return their names.

    Only on POSIX, where ``os.kill(pid, 0)`` asks whether a process exists without
    touching it. Errors (an unreadable folder, a file another cleaner removed first)
    are ignored: cleaning up must never make a write fail.

    >>> import os, subprocess, sys, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
    ...                        capture_output=True, text=True)
    >>> dead = int(child.stdout)              # the process has exited: its pid is free
    >>> stale = temp_stem("w.npz") + f"{dead}.abcd_123{TEMP_SUFFIX}"
    >>> mine = temp_stem("w.npz") + f"{os.getpid()}.abcd_123{TEMP_SUFFIX}"
    >>> for name in (stale, mine, ".w.npz.abcd_123.tmp"):
    ...     open(os.path.join(folder, name), "wb").close()
    >>> remove_stale_temps(os.path.join(folder, "w.npz")) == [stale] or os.name != "posix"
    True
    >>> sorted(os.listdir(folder)) == sorted([mine, ".w.npz.abcd_123.tmp"]) or os.name != "posix"
    True
    """
    if os.name != "posix":
        return []  # os.kill(pid, 0) would terminate the process on Windows
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape(temp_stem(path)) + r"([0-9]{1,10})\." + _RANDOM_PART
                         + re.escape(TEMP_SUFFIX))
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _pid_is_running(int(match.group(1))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:
            pass
    return removed


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the ``with`` block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(path)  # first, so a full disk gets the space back before we write
    tmp: str | None
    fd, tmp = tempfile.mkstemp(prefix=f"{temp_stem(path)}{os.getpid()}.", suffix=TEMP_SUFFIX,
                               dir=directory)
    try:
        # mkstemp makes the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(directory)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> str:
    """Write ``data`` (bytes or str) to ``path`` atomically."""
    with atomic_open(path, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
    return os.fspath(path)


def _fsync_dir(directory: str) -> None:
    # Make the rename durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
