"""Arrays that end right before an inaccessible page: a kernel that reads or writes past
an operand's last element faults instead of passing by luck (tests/kernels)."""
import numpy as np


def guarded_region(nbytes):
    """A writable buffer of nbytes (page multiple) directly followed by a page that
    faults on any access, or None where mprotect is unavailable."""
    import ctypes
    import mmap
    import sys

    if not sys.platform.startswith("linux"):
        return None
    page = mmap.PAGESIZE
    nbytes = -(-nbytes // page) * page
    region = mmap.mmap(-1, nbytes + page)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(region))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(addr + nbytes, page, 0) != 0:   # PROT_NONE
        return None
    return region, nbytes


def at_end(region, shape, dtype):
    """A C-contiguous array of shape whose last element is the region's last byte."""
    buf, nbytes = region
    count = int(np.prod(shape))
    item = np.dtype(dtype).itemsize
    return np.frombuffer(buf, dtype, count, nbytes - count * item).reshape(shape)


def gemm_operands_at_end(regions, rng, m, k, n, ta, tb, dtype):
    """a (m x k, or k x m when ta), b (k x n, or n x k when tb) filled with normal
    samples, and out (m x n), each ending at the end of its region (three regions)."""
    a = at_end(regions[0], (k, m) if ta else (m, k), dtype)
    b = at_end(regions[1], (n, k) if tb else (k, n), dtype)
    out = at_end(regions[2], (m, n), dtype)
    a[...] = rng.standard_normal(a.shape)
    b[...] = rng.standard_normal(b.shape)
    return a, b, out
