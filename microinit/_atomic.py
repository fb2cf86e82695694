"""Atomic file writes: the one way microinit writes a file (weights, figures, DOT, JSON).

A write goes to a temporary file in the target's directory, is flushed and fsync-ed,
then renamed over the target with ``os.replace`` (atomic on POSIX and Windows), and
the directory is fsync-ed so the rename itself survives a crash. If anything fails
before the rename, the temporary file is removed and the old target is untouched.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
>>> with atomic_open(path, "w") as f:
...     _ = f.write("all or nothing")
>>> open(path).read(), os.listdir(os.path.dirname(path))
('all or nothing', ['notes.txt'])
"""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """Open a temporary file that replaces ``path`` when the ``with`` block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
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


def atomic_write(path, data):
    """Write ``data`` (bytes or str) to ``path`` atomically."""
    with atomic_open(path, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
    return os.fspath(path)


def _fsync_dir(directory):
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
