"""Matrix-multiply kernels: out (+)= op(a) @ op(b) with op = identity or transpose.

The blocked, register-tiled core lives in gemm.pxd (shared with dense.pyx). These
wrappers check their ndarray arguments in C (dtype, contiguity, shape: see gemm.pxd
for why ndarrays and not memoryviews), turn them into (pointer, leading dimension)
pairs and release the GIL for products big enough to pay for it.

    gemm(a, b, out, trans_a=False, trans_b=False, accumulate=False)
        out[m, n] = op(a)[m, k] @ op(b)[k, n]   (+ out if accumulate)
        a is (m, k), or (k, m) when trans_a; b is (k, n), or (n, k) when trans_b.
    gemm_batched(a, b, out, ...)     the same per batch entry (broadcast batch allowed)
    gemm_path(a, b, out, ..., path)  gemm with the A access forced (tests, crossover)
    matmul_auto(a, b, blas_min, pool, matmul)
                                     one-call fast path of functional.matmul
    BufferPool                       reusable output buffers (see its docstring)
    set_num_threads / get_num_threads, fma_peak   thread count; measured fp32 peak
    gemm_isa                         instruction set of the packed GEMM in use

Example (from Python; shapes are the caller's responsibility)::

    >>> a = np.ones((2, 3), np.float32); b = np.ones((3, 4), np.float32)
    >>> out = np.empty((2, 4), np.float32); gemm(a, b, out); float(out[0, 0])
    3.0
"""
from cython cimport floating
from microinit._kernels.fastpath cimport plain_float_type, plain_of
cimport numpy as cnp
from libc.string cimport strcmp

from microinit._kernels.argcheck cimport mi_check, mi_float_type
from microinit._kernels.gemm cimport mi_gemm, mi_gemm_packed, mi_pk_isa
from microinit._kernels.omp cimport MI_HAS_OPENMP, mi_max_threads, mi_set_threads

cnp.import_array()


# The one rule for which products go to numpy's BLAS (dense.pyx, matmul_auto, the
# compiled step's build): above blas_min multiply-adds (ops/linalg.py's crossovers) --
# except on one thread with the AVX-512 tile, where the own kernel ties or beats
# OpenBLAS up to ~1.3e8 (benchmarks/crossover.py --quick --threads 1 on the Xeon:
# 32x784x256 1.24x, 128x1024x1024 1.01x, 256x784x256 0.99x, 256x1024x1024 0.98x),
# and at any size for a product with a transposed operand -- the backward's x^T dz
# and dz W^T (medians of 15 alternations, own/BLAS speed: 784x1024x256 x^T 1.02x,
# 1024x1024x256 x^T 1.01x, 256x1024x1024 W^T 1.02x; the same forward product x @ W,
# 256x1024x1024, 0.96x).
# With two threads blas_min stands: right after a numpy BLAS call an own team of two
# threads stalls for milliseconds behind OpenBLAS's spinning threads (gemm.pxd,
# MI_PARALLEL_MIN; the medium MLP's step measured 0.9 ms with BLAS, 40 ms without).
cdef enum:
    ONE_THREAD_OWN_MAX = 1 << 27


cdef bint blas_above(Py_ssize_t macs, Py_ssize_t blas_min, bint transposed=False) noexcept nogil:
    if macs <= blas_min:
        return False
    # blas_min 0 asks for BLAS for every product (how tests exercise that path), so the
    # one-thread exception below does not apply to it
    if blas_min <= 0 or mi_max_threads() > 1:
        return True
    # (mi_pk_isa names the tile chosen once, at the first call)
    return strcmp(mi_pk_isa(), b"avx512") != 0 or (macs > ONE_THREAD_OWN_MAX and not transposed)


def uses_blas(Py_ssize_t macs, Py_ssize_t blas_min, bint transposed=False):
    """Whether a product of ``macs`` multiply-adds goes to numpy's BLAS given the
    crossover ``blas_min`` (see blas_above above), on this thread's thread count;
    ``transposed``: an operand is read transposed (the backward's x^T dz, dz W^T).

    >>> uses_blas(10, 1 << 21), uses_blas(1 << 30, 1 << 21), uses_blas(10, 0)
    (False, True, True)
    """
    return blas_above(macs, blas_min, transposed)


# The GEMM for the other kernel modules (matmul.pxd says why they do not compile their own).
cdef int own_gemm_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A, Py_ssize_t lda, bint ta,
                    const float* B, Py_ssize_t ldb, bint tb, float* C, Py_ssize_t ldc, bint accumulate,
                    int nthreads, mi_rows_done_fn rows_done, void* done_ctx) noexcept nogil:
    return mi_gemm(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads, rows_done, done_ctx)


cdef int own_gemm_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* A, Py_ssize_t lda, bint ta,
                    const double* B, Py_ssize_t ldb, bint tb, double* C, Py_ssize_t ldc, bint accumulate,
                    int nthreads, mi_rows_done_fn rows_done, void* done_ctx) noexcept nogil:
    return mi_gemm(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads, rows_done, done_ctx)


# False when built without OpenMP (macOS, MICROINIT_NO_OPENMP=1): kernels run on one thread.
HAS_OPENMP = bool(MI_HAS_OPENMP)


def set_num_threads(int n):
    """Thread count for every OpenMP kernel started from this thread (omp_set_num_threads)."""
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    mi_set_threads(n)


def get_num_threads():
    """Threads the next OpenMP kernel may use (omp_get_max_threads)."""
    return mi_max_threads()


def gemm_isa():
    """The instruction set of the GEMM's register tiles (the packed and the direct path
    alike), chosen at the first call from what the CPU supports: "avx512", "avx2" or
    "base" (src/gemm_packed.h, src/gemm.h).

    >>> gemm_isa() in ("avx512", "avx2", "base")
    True
    """
    return mi_pk_isa().decode()


def gemm(cnp.ndarray a not None, cnp.ndarray b not None, cnp.ndarray out not None,
         bint trans_a=False, bint trans_b=False, bint accumulate=False):
    """out (+)= op(a) @ op(b) for C-contiguous 2-D float32/float64 arrays of one dtype.

    a is (m, k), or (k, m) when trans_a; b is (k, n), or (n, k) when trans_b; out is
    (m, n). Wrong dtypes or shapes raise TypeError/ValueError (see gemm.pxd).

    >>> a = np.arange(6, dtype=np.float64).reshape(2, 3); out = np.empty((3, 3))
    >>> gemm(a, a, out, trans_a=True); out.tolist()      # a^T a
    [[9.0, 12.0, 15.0], [12.0, 17.0, 22.0], [15.0, 22.0, 29.0]]
    """
    cdef int t = mi_float_type(out, "gemm")
    cdef Py_ssize_t m, n, k
    if cnp.PyArray_NDIM(out) != 2:
        raise ValueError(f"gemm: out must be 2-D, got shape {(<object>out).shape}")
    m = cnp.PyArray_DIMS(out)[0]
    n = cnp.PyArray_DIMS(out)[1]
    if cnp.PyArray_NDIM(a) != 2:
        raise ValueError(f"gemm: a must be 2-D, got shape {(<object>a).shape}")
    k = cnp.PyArray_DIMS(a)[0] if trans_a else cnp.PyArray_DIMS(a)[1]
    mi_check(out, t, 2, True, m, n, "out", "gemm")
    if trans_a:
        mi_check(a, t, 2, False, k, m, "a", "gemm")
    else:
        mi_check(a, t, 2, False, m, k, "a", "gemm")
    if trans_b:
        mi_check(b, t, 2, False, n, k, "b", "gemm")
    else:
        mi_check(b, t, 2, False, k, n, "b", "gemm")
    if m == 0 or n == 0:
        return
    if t == cnp.NPY_FLOAT32:
        _gemm[float](<const float*> cnp.PyArray_DATA(a), <const float*> cnp.PyArray_DATA(b),
                     <float*> cnp.PyArray_DATA(out), m, n, k, trans_a, trans_b, accumulate)
    else:
        _gemm[double](<const double*> cnp.PyArray_DATA(a), <const double*> cnp.PyArray_DATA(b),
                      <double*> cnp.PyArray_DATA(out), m, n, k, trans_a, trans_b, accumulate)


def gemm_path(cnp.ndarray a not None, cnp.ndarray b not None, cnp.ndarray out not None,
              bint trans_a=False, bint trans_b=False, str path="packed", int nthreads=1):
    """gemm with the A access forced: "packed" (Goto layout) or "direct" (A read in
    place), whatever the size.

    For the crossover measurement (benchmarks/crossover.py) and for tests that must
    exercise both paths; the library calls gemm, which picks by size. ``nthreads`` is
    1..1024.

    >>> a = np.ones((2, 3), np.float32); out = np.empty((2, 2), np.float32)
    >>> gemm_path(a, a, out, trans_b=True, path="direct"); out.tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    cdef int t = mi_float_type(out, "gemm_path")
    cdef Py_ssize_t m, n, k
    cdef int rc
    cdef bint direct = path == "direct"
    if path not in ("direct", "packed"):
        raise ValueError(f"gemm_path: path must be 'direct' or 'packed', got {path!r}")
    # Each thread gets its own packing block: bound the count, so a typo cannot ask
    # malloc for terabytes or OpenMP for a million threads.
    if not 1 <= nthreads <= 1024:
        raise ValueError(f"gemm_path: nthreads must be in 1..1024, got {nthreads}")
    if cnp.PyArray_NDIM(out) != 2 or cnp.PyArray_NDIM(a) != 2:
        raise ValueError(f"gemm_path: a and out must be 2-D, got shapes {(<object>a).shape} "
                         f"and {(<object>out).shape}")
    m = cnp.PyArray_DIMS(out)[0]
    n = cnp.PyArray_DIMS(out)[1]
    k = cnp.PyArray_DIMS(a)[0] if trans_a else cnp.PyArray_DIMS(a)[1]
    mi_check(out, t, 2, True, m, n, "out", "gemm_path")
    mi_check(a, t, 2, False, k if trans_a else m, m if trans_a else k, "a", "gemm_path")
    mi_check(b, t, 2, False, n if trans_b else k, k if trans_b else n, "b", "gemm_path")
    if m == 0 or n == 0 or k == 0:
        gemm(a, b, out, trans_a, trans_b)
        return
    if t == cnp.NPY_FLOAT32:
        rc = mi_gemm_packed[float](m, n, k, <const float*> cnp.PyArray_DATA(a), m if trans_a else k,
                                   trans_a, <const float*> cnp.PyArray_DATA(b), k if trans_b else n,
                                   trans_b, <float*> cnp.PyArray_DATA(out), n, False, nthreads, direct)
    else:
        rc = mi_gemm_packed[double](m, n, k, <const double*> cnp.PyArray_DATA(a), m if trans_a else k,
                                    trans_a, <const double*> cnp.PyArray_DATA(b), k if trans_b else n,
                                    trans_b, <double*> cnp.PyArray_DATA(out), n, False, nthreads, direct)
    if rc != 0:
        raise MemoryError("gemm_path: could not allocate a workspace")


cdef int _gemm(const floating* a, const floating* b, floating* out, Py_ssize_t m,
               Py_ssize_t n, Py_ssize_t k, bint ta, bint tb, bint acc) except -1:
    cdef int rc
    # Small products run on the calling thread without releasing the GIL: the release
    # and re-acquire cost ~0.2 us, a 16x16x16 product ~0.3 us.
    if m * n * k < 32 * 32 * 32:
        rc = mi_gemm(m, n, k, a, m if ta else k, ta, b, k if tb else n, tb, out, n, acc, 1)
    else:
        with nogil:
            rc = mi_gemm(m, n, k, a, m if ta else k, ta, b, k if tb else n, tb, out, n, acc,
                         mi_max_threads())
    if rc != 0:
        raise MemoryError(f"gemm: could not allocate the packing workspace for {m}x{k}x{n}")
    return 0


cdef inline Py_ssize_t _batched_arg(cnp.ndarray a, int t, str name, bint out) except -1:
    """Check a 3-D batched operand; return its row stride in elements."""
    cdef object o = a
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(a)
    if cnp.PyArray_TYPE(a) != t or not cnp.PyArray_ISNOTSWAPPED(a):
        raise TypeError(f"gemm_batched: {name} has dtype {o.dtype}, unlike out; all "
                        f"arguments must share one dtype, float32 or float64 in native "
                        f"byte order")
    if cnp.PyArray_NDIM(a) != 3:
        raise ValueError(f"gemm_batched: {name} must be 3-D, got shape {o.shape}")
    if cnp.PyArray_SIZE(a) == 0:
        # nothing is read or written (gemm_batched returns before its loop or runs k = 0),
        # and numpy may give an empty array any strides, zeros included
        return o.shape[2]
    s0, s1, s2 = o.strides
    # Rows must be contiguous and strides non-negative multiples of the item size; the
    # batch stride may be 0 (a broadcast operand). out must be C-contiguous.
    if ((s2 != item and o.shape[2] > 1) or s0 < 0 or s1 < 0 or s0 % item or s1 % item
            or not cnp.PyArray_ISALIGNED(a) or (out and not cnp.PyArray_IS_C_CONTIGUOUS(a))):
        raise ValueError(f"gemm_batched: {name} needs contiguous rows and non-negative strides, "
                         f"got shape {o.shape} strides {o.strides}")
    if out and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"gemm_batched: {name} is read-only")
    return s1 // item if o.shape[1] > 1 else o.shape[2]


def gemm_batched(cnp.ndarray a not None, cnp.ndarray b not None, cnp.ndarray out not None,
                 bint trans_a=False, bint trans_b=False, bint accumulate=False):
    """out[i] (+)= op(a[i]) @ op(b[i]) for every batch index i.

    a or b may have batch stride 0 (np.broadcast_to), so a broadcast operand is never
    copied; their rows must be contiguous. out is C-contiguous.

    >>> a = np.ones((2, 1, 3)); b = np.broadcast_to(np.ones((1, 3, 2)), (2, 3, 2))
    >>> out = np.empty((2, 1, 2)); gemm_batched(a, b, out); out.ravel().tolist()
    [3.0, 3.0, 3.0, 3.0]
    """
    cdef int t = mi_float_type(out, "gemm_batched")
    cdef Py_ssize_t lda = _batched_arg(a, t, "a", False)
    cdef Py_ssize_t ldb = _batched_arg(b, t, "b", False)
    cdef Py_ssize_t ldc = _batched_arg(out, t, "out", True)
    cdef object ao = a, bo = b, oo = out
    cdef Py_ssize_t nb = oo.shape[0], m = oo.shape[1], n = oo.shape[2]
    cdef Py_ssize_t k = ao.shape[1] if trans_a else ao.shape[2]
    want_a = (nb, k, m) if trans_a else (nb, m, k)
    want_b = (nb, n, k) if trans_b else (nb, k, n)
    if ao.shape != want_a or bo.shape != want_b:
        raise ValueError(f"gemm_batched: shapes a {ao.shape}, b {bo.shape}, out {oo.shape} do "
                         f"not fit (trans_a={trans_a}, trans_b={trans_b})")
    if nb == 0 or m == 0 or n == 0:
        return
    cdef Py_ssize_t sa = ao.strides[0] // cnp.PyArray_ITEMSIZE(a)
    cdef Py_ssize_t sb = bo.strides[0] // cnp.PyArray_ITEMSIZE(b)
    if t == cnp.NPY_FLOAT32:
        _batched[float](<const float*> cnp.PyArray_DATA(a), <const float*> cnp.PyArray_DATA(b),
                        <float*> cnp.PyArray_DATA(out), nb, m, n, k, sa, lda, sb, ldb,
                        trans_a, trans_b, accumulate)
    else:
        _batched[double](<const double*> cnp.PyArray_DATA(a), <const double*> cnp.PyArray_DATA(b),
                         <double*> cnp.PyArray_DATA(out), nb, m, n, k, sa, lda, sb, ldb,
                         trans_a, trans_b, accumulate)


cdef int _batched(const floating* a, const floating* b, floating* out, Py_ssize_t nb,
                  Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, Py_ssize_t sa, Py_ssize_t lda,
                  Py_ssize_t sb, Py_ssize_t ldb, bint ta, bint tb, bint acc) except -1:
    cdef Py_ssize_t i
    cdef int rc = 0, nt = mi_max_threads()
    with nogil:
        for i in range(nb):
            rc = mi_gemm(m, n, k, a + i * sa, lda, ta, b + i * sb, ldb, tb,
                         out + i * m * n, n, acc, nt)
            if rc != 0:
                break
    if rc != 0:
        raise MemoryError(f"gemm_batched: could not allocate the packing workspace for {m}x{k}x{n}")
    return 0


# --- buffer reuse and the one-call fast path (shared with dense.pyx) ----------------
#
# A small product computes in ~1 us, about what a Python-level dispatcher spends on
# attribute tests, an allocation and the argument parsing of the kernel call.
# matmul_auto (and dense.forward_auto/backward_auto) do the common case -- exact
# ndarrays, one float dtype, C-contiguous, consistent shapes -- in one C-level call and
# return None for anything else, which functional/linalg.py then validates, converts
# and reports in Python.

from cpython.object cimport PyObject
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
import numpy as np

cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(PyObject* o)


cdef class BufferPool:
    """Arrays keyed by (shape, dtype), handed out again once nothing else holds them.

    An array is reused only when its reference count shows the pool's own list as its
    sole holder, so a result a caller keeps (or a view of it, which references its
    base) is never overwritten. The test and the hand-out run in C under the GIL, so
    two Python threads cannot take the same array. At most ``per_key`` arrays are kept
    per key and at most ``max_keys`` shapes (the oldest shape is dropped first, so a
    process that sees ever new batch sizes does not grow without bound); ``clear()``
    drops them all.

    >>> pool = BufferPool(); a = pool.get((2, 3), np.float32)
    >>> b = pool.get((2, 3), np.float32); a is b      # a is still held
    False
    """
    def __cinit__(self, Py_ssize_t per_key=8, Py_ssize_t max_keys=64):
        self._free = {}
        self.per_key = per_key
        self.max_keys = max_keys

    cdef cnp.ndarray take(self, int nd, Py_ssize_t d0, Py_ssize_t d1, int typenum):
        cdef object key
        cdef list arrs
        cdef Py_ssize_t i
        cdef PyObject* item
        cdef cnp.npy_intp dims[2]
        cdef cnp.ndarray a
        if nd == 2:
            key = (d0, d1, typenum)
        else:
            key = (d0, typenum)
        arrs = self._free.get(key)
        if arrs is None:
            if len(self._free) >= self.max_keys:
                del self._free[next(iter(self._free))]
            arrs = []
            self._free[key] = arrs
        for i in range(PyList_GET_SIZE(arrs)):
            item = PyList_GET_ITEM(arrs, i)
            if Py_REFCNT(item) == 1:
                return <cnp.ndarray> item
        dims[0] = d0
        dims[1] = d1
        a = cnp.PyArray_EMPTY(nd, dims, typenum, 0)
        if PyList_GET_SIZE(arrs) < self.per_key:
            arrs.append(a)
        return a

    def get(self, shape, dtype):
        """An array of ``shape`` (1-D or 2-D) and float ``dtype``, reused when idle."""
        cdef int t = np.dtype(dtype).num
        shape = tuple(shape)
        if len(shape) == 2:
            return self.take(2, shape[0], shape[1], t)
        if len(shape) == 1:
            return self.take(1, shape[0], 0, t)
        return np.empty(shape, dtype)

    def clear(self):
        self._free.clear()

    def nbytes(self):
        """Bytes held by the pool (idle or handed out)."""
        return sum(a.nbytes for arrs in self._free.values() for a in arrs)


def matmul_auto(a, b, Py_ssize_t blas_min, BufferPool pool, matmul, bint trans_a=False,
                bint trans_b=False):
    """op(a) @ op(b) for plain 2-D arguments (exact ndarrays, one float dtype,
    C-contiguous, matching inner dims) into a pooled output, or None (validate in Python).

    a is (m, k), or (k, m) when trans_a; b is (k, n), or (n, k) when trans_b (how
    matmul's backward reads its operands without transposed copies). Products above
    ``blas_min`` multiply-adds go to ``matmul(op(a), op(b), out=out)`` (numpy's BLAS),
    the rest to the own kernel.
    """
    cdef int t
    cdef Py_ssize_t m, k, n
    cdef cnp.ndarray out
    t = plain_float_type(a, 2)
    if t < 0 or not plain_of(b, t, 2):
        return None
    m = cnp.PyArray_DIMS(<cnp.ndarray> a)[1 if trans_a else 0]
    k = cnp.PyArray_DIMS(<cnp.ndarray> a)[0 if trans_a else 1]
    n = cnp.PyArray_DIMS(<cnp.ndarray> b)[0 if trans_b else 1]
    if cnp.PyArray_DIMS(<cnp.ndarray> b)[1 if trans_b else 0] != k:
        return None
    out = pool.take(2, m, n, t)
    if m and n:
        if blas_above(m * n * k, blas_min, trans_a or trans_b):
            matmul(a.T if trans_a else a, b.T if trans_b else b, out=out)
        elif t == cnp.NPY_FLOAT32:
            _gemm[float](<const float*> cnp.PyArray_DATA(<cnp.ndarray> a),
                         <const float*> cnp.PyArray_DATA(<cnp.ndarray> b),
                         <float*> cnp.PyArray_DATA(out), m, n, k, trans_a, trans_b, False)
        else:
            _gemm[double](<const double*> cnp.PyArray_DATA(<cnp.ndarray> a),
                          <const double*> cnp.PyArray_DATA(<cnp.ndarray> b),
                          <double*> cnp.PyArray_DATA(out), m, n, k, trans_a, trans_b, False)
    return out


cdef extern from "fma_peak.h":
    float mi_fma_loop(long iters) noexcept nogil
    int mi_fma_width() noexcept nogil


def fma_peak(double seconds=0.05):
    """Measured fp32 peak of one core in GFLOP/s: 12 independent FMA chains of the
    GEMM's tile width (16 floats where it runs its AVX-512 variant, gemm_isa(); else 8).

    Each iteration is 12 vector FMAs x width lanes x 2 flops and touches no memory, so
    the rate is the core's FMA throughput at its current clock: what a perfect matmul
    could reach. The benchmark divides achieved GFLOP/s by this.
    """
    # Timed by this thread's CPU clock, so time spent descheduled on a shared machine
    # does not count against the core.
    from time import thread_time
    cdef long iters = 1 << 16
    cdef float sink = 0
    cdef double t0, dt = 0.0
    while True:
        t0 = thread_time()
        with nogil:
            sink += mi_fma_loop(iters)
        dt = thread_time() - t0
        if dt >= seconds or iters > (1 << 40):
            break
        iters *= 2
    if sink != sink:  # keeps the loop's result alive; never true for these constants
        raise ArithmeticError("fma_peak: non-finite checksum")
    return 24.0 * mi_fma_width() * iters / dt / 1e9
