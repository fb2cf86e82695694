# cython: language_level=3
"""Sampling kernels for the initializers, drawing from the caller's numpy Generator.

Every kernel takes a ``numpy.random.Generator`` and pulls raw 64-bit words from its
bit generator through numpy's C interface (the "BitGenerator" PyCapsule holding a
``bitgen_t``), with the bit generator's lock held for the whole fill. So seeding is
numpy's: the same seed gives the same words and therefore bitwise-identical samples,
and the Generator's state advances exactly as far as the words consumed. One
Generator is one sequential stream, so each fill runs on one thread.

The transforms from words to samples (all written once, here):

* uniform: float32 takes 24 bits (two samples per word), float64 takes 53 bits;
  U = bits * 2^-bits in [0, 1), x = low + (high - low) * U, and an x that rounds onto
  `high` (or below `low`) in the output dtype is redrawn, so x is in [low, high).
* standard normal: Marsaglia & Tsang's ziggurat with 256 layers. float32 uses 32-bit
  halves of a word (low 8 bits pick the layer, the upper 24 bits are a signed
  magnitude: two samples per word); float64 uses a whole word (8 bits layer + 53-bit
  signed magnitude, disjoint bits). ~99% of draws are one table lookup and a multiply;
  the rest take the exact wedge/tail rejection path.
* truncated normal on (low, high): rejection, with the proposal chosen once per fill
  (Robert 1995): the normal itself when it lands inside often enough, an exponential
  proposal for intervals in one tail, a uniform proposal for narrow intervals. The
  proposal is drawn on the part of (low, high) whose values ROUND to a value of the
  output dtype strictly inside (low, high), so every proposal method accepts with
  probability >= 0.3 whatever the interval (docs/reliability.md row 52: an interval
  far in the tail, std=1e-9 on (1, 2), costs no more than one near the mean). The
  affine map back is clamped onto that set of values, which only removes rounding
  error: no sample lands on or outside a bound, and none is ever inf.

Every loop does a bounded expected amount of work per sample, and fills are cut into
chunks of CHUNK samples between which pending signals are checked with the GIL held,
so Ctrl-C interrupts a large fill.

``reference.py`` holds scalar Python twins of these transforms, consuming the same
words from ``Generator.bit_generator.random_raw``; tests check they agree.
"""
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from libc.math cimport exp, hypot, isfinite, log, sqrt
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from numpy.random cimport bitgen_t
cimport numpy as cnp

from microinit._kernels.argcheck cimport check_array, float_typenum

import numpy as np

# Re-exported: the per-fill planning in plain Python (sampling_intervals.py).
from microinit._kernels.sampling_intervals import (TN_EXPONENTIAL, TN_NORMAL, TN_UNIFORM,  # noqa: F401
                                                   check_range, inside_bounds, plan_truncnorm,
                                                   range_of, truncnorm_method)

cnp.import_array()

ctypedef fused real:
    float
    double

DEF N_LAYERS = 256
# Marsaglia & Tsang (2000), 256 layers: the base-strip edge r and the common layer area v.
cdef double ZIG_R = 3.6541528853610088
cdef double ZIG_V = 0.00492867323399

#: The largest |z| the ziggurat can return: a tail draw is r + xx with xx^2 < 2 yy and
#: yy = -log(u) <= 53 log 2 (u has 53 bits), so |z| < r + sqrt(106 log 2) = 12.23.
#: normal_fill refuses a mean and std whose samples could then leave the dtype's range.
NORMAL_MAX_Z = 12.25

#: Samples per chunk of a fill: signals (Ctrl-C) are checked between chunks.
cdef Py_ssize_t CHUNK_SIZE = 1 << 20
CHUNK = CHUNK_SIZE

cdef uint32_t ZK32[N_LAYERS]
cdef double ZW32[N_LAYERS]
cdef uint64_t ZK64[N_LAYERS]
cdef double ZW64[N_LAYERS]
cdef double ZF[N_LAYERS]


def ziggurat_tables(int bits):
    """(k, w, f) ziggurat tables for a `bits`-bit magnitude (Marsaglia & Tsang's zigset).

    Layer i has right edge x_i (x_255 = r, decreasing upward); w[i] = x_i / 2^bits turns
    a magnitude into x; a magnitude below k[i] lies under the curve for sure (fast
    accept); f[i] = exp(-x_i^2 / 2). Index 0 is the base strip with the tail.
    ``bits`` is 1..63 (the magnitude must fit a 64-bit word).

    >>> k, w, f = ziggurat_tables(23)
    >>> float(f[0]), float(k[1]), len(w)
    (1.0, 0.0, 256)
    """
    if not 1 <= bits <= 63:
        raise ValueError(f"ziggurat_tables: bits must be in 1..63, got {bits}")
    cdef double m1 = 2.0 ** bits
    cdef double dn = ZIG_R, tn = ZIG_R, vn = ZIG_V
    cdef double q = vn / exp(-0.5 * dn * dn)
    k = np.zeros(N_LAYERS)
    w = np.zeros(N_LAYERS)
    f = np.zeros(N_LAYERS)
    k[0] = np.floor((dn / q) * m1)
    k[1] = 0
    w[0] = q / m1
    w[N_LAYERS - 1] = dn / m1
    f[0] = 1.0
    f[N_LAYERS - 1] = exp(-0.5 * dn * dn)
    for i in range(N_LAYERS - 2, 0, -1):
        dn = sqrt(-2.0 * log(vn / dn + exp(-0.5 * dn * dn)))
        k[i + 1] = np.floor((dn / tn) * m1)
        tn = dn
        f[i] = exp(-0.5 * dn * dn)
        w[i] = dn / m1
    return k, w, f


def _init_tables():
    k32, w32, f = ziggurat_tables(23)  # 24-bit signed magnitude
    k64, w64, _ = ziggurat_tables(52)  # 53-bit signed magnitude
    for i in range(N_LAYERS):
        ZK32[i] = <uint32_t>int(k32[i])
        ZW32[i] = w32[i]
        ZK64[i] = <uint64_t>int(k64[i])
        ZW64[i] = w64[i]
        ZF[i] = f[i]


_init_tables()


cdef struct Stream:
    bitgen_t *bg
    uint64_t half      # the unused upper 32 bits of the last word
    int has_half


cdef inline uint64_t next64(Stream *s) noexcept nogil:
    return s.bg.next_uint64(s.bg.state)


cdef inline uint32_t next32(Stream *s) noexcept nogil:
    # Low half first, then the high half of the same word.
    cdef uint64_t r
    if s.has_half:
        s.has_half = 0
        return <uint32_t>s.half
    r = next64(s)
    s.half = r >> 32
    s.has_half = 1
    return <uint32_t>(r & 0xffffffffu)


cdef inline double next_double(Stream *s) noexcept nogil:
    # 53 random bits, [0, 1)
    return (next64(s) >> 11) * (1.0 / 9007199254740992.0)


cdef inline double next_open(Stream *s) noexcept nogil:
    # (0, 1]: safe under log
    return 1.0 - next_double(s)


cdef bint zig_slow(Stream *s, int idx, double *x) noexcept nogil:
    """The rare path for a candidate |x| in layer idx: the tail (idx 0: Marsaglia's
    exponential method, always succeeds and overwrites x) or the wedge test. Returns
    whether x is accepted; if not, the caller draws a new candidate."""
    cdef double xx, yy
    if idx == 0:
        while True:
            xx = -log(next_open(s)) / ZIG_R
            yy = -log(next_open(s))
            if yy + yy > xx * xx:
                x[0] = ZIG_R + xx
                return True
    return ZF[idx] + next_double(s) * (ZF[idx - 1] - ZF[idx]) < exp(-0.5 * x[0] * x[0])


cdef inline double finish_normal_32(Stream *s, uint32_t r) noexcept nogil:
    """A standard normal whose first 32-bit candidate is r (more words only if the
    candidate falls outside the ziggurat's fast region): low 8 bits pick the layer,
    the upper 24 bits are a signed magnitude (the multiply carries the sign)."""
    cdef int idx
    cdef int32_t hz
    cdef uint32_t mag
    cdef double x
    while True:
        idx = r & 0xff
        hz = (<int32_t>r) >> 8
        mag = <uint32_t>(hz if hz >= 0 else -hz)
        if mag < ZK32[idx]:
            return hz * ZW32[idx]
        x = mag * ZW32[idx]
        if zig_slow(s, idx, &x):
            return x if hz >= 0 else -x
        r = next32(s)


cdef inline double std_normal_32(Stream *s) noexcept nogil:
    return finish_normal_32(s, next32(s))


cdef inline bint fast_normal_32(uint32_t r, double *x) noexcept nogil:
    # The ziggurat's common case only (no draws): True and x set, or False.
    cdef int idx = r & 0xff
    cdef int32_t hz = (<int32_t>r) >> 8
    cdef uint32_t mag = <uint32_t>(hz if hz >= 0 else -hz)
    x[0] = hz * ZW32[idx]
    return mag < ZK32[idx]


cdef inline double std_normal_64(Stream *s) noexcept nogil:
    """A standard normal from 64 random bits (rarely more): low 8 bits pick the layer,
    the upper 53 bits are a signed magnitude."""
    cdef uint64_t r
    cdef int idx
    cdef int64_t hz
    cdef uint64_t mag
    cdef double x
    while True:
        r = next64(s)
        idx = r & 0xff
        hz = (<int64_t>r) >> 11
        mag = <uint64_t>(hz if hz >= 0 else -hz)
        x = hz * ZW64[idx]
        if mag < ZK64[idx]:
            return x
        x = mag * ZW64[idx]
        if zig_slow(s, idx, &x):
            return x if hz >= 0 else -x


cdef inline double unit_uniform(Stream *s, bint single) noexcept nogil:
    if single:
        return (next32(s) >> 8) * (1.0 / 16777216.0)
    return next_double(s)


cdef object _checked_bitgen(object gen, Stream *s):
    """Fill s from gen's C bit generator; return the bit generator (whose lock the
    caller holds while drawing)."""
    if not isinstance(gen, np.random.Generator):
        raise TypeError(f"sampling: expected a numpy.random.Generator, got {type(gen).__name__}")
    bitgen = gen.bit_generator
    capsule = bitgen.capsule
    if not PyCapsule_IsValid(capsule, b"BitGenerator"):
        raise ValueError("sampling: the Generator's bit generator has no valid 'BitGenerator' capsule")
    s.bg = <bitgen_t *>PyCapsule_GetPointer(capsule, b"BitGenerator")
    s.has_half = 0
    s.half = 0
    return bitgen


cdef inline void _uniform_one(Stream *s, real *dst, double low, double span, double high,
                              bint single) noexcept nogil:
    # One sample in [low, high) of dst's dtype, redrawn if it rounds out of it.
    cdef real x
    while True:
        x = <real>(low + span * unit_uniform(s, single))
        if low <= x < high:
            dst[0] = x
            return


cdef void _uniform_loop(Stream *s, real[::1] out, double low, double high) noexcept nogil:
    cdef Py_ssize_t i = 0, n = out.shape[0]
    cdef double span = high - low
    cdef bint single = real is float
    cdef uint64_t r
    cdef real x0, x1
    if not single:
        for i in range(n):
            _uniform_one(s, &out[i], low, span, high, single)
        return
    # float32: two samples per word (low half, then high half, as next32 hands them
    # out). On the rare rounding onto `high`, the same halves go through the general
    # path in the same order, so the result equals drawing sample by sample.
    while i < n:
        if s.has_half or i == n - 1:
            _uniform_one(s, &out[i], low, span, high, single)
            i += 1
            continue
        r = next64(s)
        x0 = <real>(low + span * ((<uint32_t>r >> 8) * (1.0 / 16777216.0)))
        x1 = <real>(low + span * ((<uint32_t>(r >> 32) >> 8) * (1.0 / 16777216.0)))
        if low <= x0 < high and low <= x1 < high:
            out[i] = x0
            out[i + 1] = x1
            i += 2
            continue
        s.half = r >> 32
        s.has_half = 1
        if low <= x0 < high:
            out[i] = x0
            i += 1


cdef int _check_out(str op, object out, int ndim) except -1:
    """The type number of out, a writeable C-contiguous float32/float64 ndarray of ndim
    dimensions (argcheck.pxd raises otherwise)."""
    cdef int t = float_typenum(op, "out", out)
    check_array(op, "out", out, t, ndim, True)
    return t


def uniform_fill(gen, out, double low, double high):
    """out[i] ~ U[low, high) for a 1-D C-contiguous float32/float64 out; low < high,
    both within the finite range of out's dtype, and at least one value of that dtype
    in [low, high) (else no draw could be kept).

    >>> out = np.empty(3, np.float32)
    >>> uniform_fill(np.random.default_rng(0), out, -1.0, 1.0)
    >>> bool(((-1 <= out) & (out < 1)).all())
    True
    """
    cdef Stream s
    cdef float[::1] out_f
    cdef double[::1] out_d
    cdef Py_ssize_t start, stop, n
    if not (low < high and isfinite(low) and isfinite(high) and isfinite(high - low)):
        raise ValueError(f"uniform_fill: need finite low < high (and a finite high - low), "
                         f"got low={low!r}, high={high!r}")
    cdef int t = _check_out("uniform_fill", out, 1)
    check_range("uniform_fill", out.dtype, low, high)
    if inside_bounds(out.dtype, low, high, closed_low=True) is None:
        raise ValueError(f"uniform_fill: no {out.dtype.name} value lies in [low={low!r}, high={high!r})")
    bitgen = _checked_bitgen(gen, &s)
    n = out.shape[0]
    with bitgen.lock:
        if t == cnp.NPY_FLOAT32:
            out_f = out
        else:
            out_d = out
        for start in range(0, n, CHUNK_SIZE):
            stop = min(start + CHUNK_SIZE, n)
            if t == cnp.NPY_FLOAT32:
                with nogil:
                    _uniform_loop(&s, out_f[start:stop], low, high)
            else:
                with nogil:
                    _uniform_loop(&s, out_d[start:stop], low, high)
            PyErr_CheckSignals()


cdef void _normal_loop(Stream *s, real[::1] out, double mean, double std) noexcept nogil:
    cdef Py_ssize_t i = 0, n = out.shape[0]
    cdef uint64_t r
    cdef double x0, x1
    if real is double:
        for i in range(n):
            out[i] = mean + std * std_normal_64(s)
    else:
        # float32: both halves of a word at once when both take the fast path (~98%);
        # otherwise the same halves go through the general path in the same order, so
        # the result equals drawing every sample with std_normal_32.
        while i < n:
            if s.has_half or i == n - 1:
                out[i] = <float>(mean + std * std_normal_32(s))
                i += 1
                continue
            r = next64(s)
            if fast_normal_32(<uint32_t>r, &x0) and fast_normal_32(<uint32_t>(r >> 32), &x1):
                out[i] = <float>(mean + std * x0)
                out[i + 1] = <float>(mean + std * x1)
                i += 2
                continue
            s.half = r >> 32
            s.has_half = 1
            out[i] = <float>(mean + std * finish_normal_32(s, <uint32_t>r))
            i += 1


def normal_fill(gen, out, double mean, double std):
    """out[i] ~ N(mean, std^2) via the ziggurat for a 1-D C-contiguous float32/float64
    out; mean finite, std >= 0 finite, and |mean| + NORMAL_MAX_Z * std within the
    finite range of out's dtype (so that no sample can be inf)."""
    cdef Stream s
    cdef float[::1] out_f
    cdef double[::1] out_d
    cdef Py_ssize_t start, stop, n
    if not (std >= 0 and isfinite(std) and isfinite(mean)):
        raise ValueError(f"normal_fill: need finite mean and std >= 0, got mean={mean!r}, std={std!r}")
    cdef int t = _check_out("normal_fill", out, 1)
    big = range_of(out.dtype)
    if not abs(mean) + NORMAL_MAX_Z * std <= big:
        raise ValueError(f"normal_fill: mean={mean!r}, std={std!r} reach |mean| + {NORMAL_MAX_Z} std, "
                         f"outside {out.dtype.name}'s range [{-big:.8g}, {big:.8g}]")
    bitgen = _checked_bitgen(gen, &s)
    n = out.shape[0]
    with bitgen.lock:
        if t == cnp.NPY_FLOAT32:
            out_f = out
        else:
            out_d = out
        for start in range(0, n, CHUNK_SIZE):
            stop = min(start + CHUNK_SIZE, n)
            if t == cnp.NPY_FLOAT32:
                with nogil:
                    _normal_loop(&s, out_f[start:stop], mean, std)
            else:
                with nogil:
                    _normal_loop(&s, out_d[start:stop], mean, std)
            PyErr_CheckSignals()


cdef inline double half_sq_diff(double u, double v) noexcept nogil:
    # (u^2 - v^2) / 2 without overflowing for |u|, |v| up to the double range.
    return (u - v) * (0.5 * u + 0.5 * v)


cdef inline double _tn_offset(Stream *s, int method, double a, double w, double c) noexcept nogil:
    """For EXPONENTIAL and UNIFORM: the offset d = x - a >= 0 of a standard
    truncated-normal draw x in [a, b] (before flipping). Returning the offset rather
    than x keeps its precision when a is huge (an interval far in the tail, where
    a + d would round back to a); w = b - a, computed by the caller without
    cancellation."""
    cdef double d, lam, lam_minus_a, e
    if method == 1:
        # Robert's rate lam = (a + sqrt(a^2 + 4)) / 2; x - lam = d - (lam - a), with
        # lam - a = 2 / (a + sqrt(a^2 + 4)) (no cancellation, no overflow).
        lam = 0.5 * a + 0.5 * hypot(a, 2.0)
        lam_minus_a = 2.0 / (a + hypot(a, 2.0))
        while True:
            d = -log(next_open(s)) / lam
            e = d - lam_minus_a
            if d <= w and next_double(s) <= exp(-0.5 * e * e):
                return d
    while True:
        d = w * next_double(s)
        # Accept with exp((c^2 - x^2) / 2): for c = a that is exp(-d (a + d / 2)).
        if c == a:
            e = -d * (a + 0.5 * d)
        else:
            e = half_sq_diff(c, a + d)
        if next_double(s) <= exp(e):
            return d


cdef inline double _tn_normal(Stream *s, double a, double b, bint single) noexcept nogil:
    """For NORMAL: a standard normal draw kept if it lies in [a, b]."""
    cdef double x
    while True:
        x = std_normal_32(s) if single else std_normal_64(s)
        if a <= x <= b:
            return x


cdef inline double clamp(double x, double first, double last) noexcept nogil:
    # Comparisons, not fmin/fmax (library calls without -ffast-math).
    if x < first:
        return first
    if x > last:
        return last
    return x


cdef void _truncnorm_loop(Stream *s, real[::1] out, double mean, double std, double lo_edge,
                          double hi_edge, double first, double last, int method, double a,
                          double b, double w, double c, bint flip) noexcept nogil:
    # Every x below lies (up to the rounding of its affine map) in the part of the
    # interval that rounds to [first, last]: clamping it there only removes that rounding.
    cdef Py_ssize_t i, n = out.shape[0]
    cdef bint single = real is float
    cdef double edge = hi_edge if flip else lo_edge
    cdef double step = -std if flip else std
    if method == 0:
        for i in range(n):
            out[i] = <real>clamp(mean + std * _tn_normal(s, a, b, single), first, last)
    else:
        for i in range(n):
            out[i] = <real>clamp(edge + step * _tn_offset(s, method, a, w, c), first, last)


def truncnorm_fill(gen, out, double mean, double std, double low, double high, inside=None):
    """out[i] ~ N(mean, std^2) restricted to (low, high): every sample, rounded to the
    dtype `inside` (default: out's dtype; numpy.float16 for a float32 buffer that will
    be rounded to float16), is a value strictly between low and high, never inf (out
    is a 1-D C-contiguous float32/float64 array).

    Needs finite mean, finite std > 0, low < high (either may be infinite), and at
    least one value of `inside` strictly between low and high, else ValueError naming
    the interval. The proposal is drawn on the values that round into that set, so
    the work per sample is bounded however far in the tail the interval is.

    >>> out = np.empty(3)
    >>> truncnorm_fill(np.random.default_rng(0), out, 0.0, 1e-9, 1.0, 2.0)
    >>> bool((out > 1.0).all() and (out < 1.0 + 1e-15).all())
    True
    """
    cdef Stream s
    cdef float[::1] out_f
    cdef double[::1] out_d
    cdef Py_ssize_t start, stop, n
    if not (std > 0 and isfinite(std) and isfinite(mean) and low < high):
        raise ValueError(f"truncnorm_fill: need finite mean, finite std > 0 and low < high, got "
                         f"mean={mean!r}, std={std!r}, low={low!r}, high={high!r}")
    cdef int typenum = _check_out("truncnorm_fill", out, 1)
    t = out.dtype if inside is None else np.dtype(inside)
    if t not in (np.float16, np.float32, np.float64) or t.itemsize > out.dtype.itemsize:
        raise TypeError(f"truncnorm_fill: inside={inside!r} must be a float dtype no wider than "
                        f"out's {out.dtype.name}")
    plan = plan_truncnorm(mean, std, low, high, t)
    bitgen = _checked_bitgen(gen, &s)
    n = out.shape[0]
    if n == 0:
        return
    if plan.point is not None:
        out[...] = plan.point
        return
    cdef int m = plan.method
    cdef double ca = plan.a, cb = plan.b, cc = plan.c, cw = plan.width
    cdef double first = plan.first, last = plan.last, lo_edge = plan.lo_edge, hi_edge = plan.hi_edge
    cdef bint cflip = plan.flip
    with bitgen.lock:
        if typenum == cnp.NPY_FLOAT32:
            out_f = out
        else:
            out_d = out
        for start in range(0, n, CHUNK_SIZE):
            stop = min(start + CHUNK_SIZE, n)
            if typenum == cnp.NPY_FLOAT32:
                with nogil:
                    _truncnorm_loop(&s, out_f[start:stop], mean, std, lo_edge, hi_edge, first, last,
                                    m, ca, cb, cw, cc, cflip)
            else:
                with nogil:
                    _truncnorm_loop(&s, out_d[start:stop], mean, std, lo_edge, hi_edge, first, last,
                                    m, ca, cb, cw, cc, cflip)
            PyErr_CheckSignals()


cdef inline uint32_t bounded32(Stream *s, uint32_t n) noexcept nogil:
    """Uniform integer in [0, n), n >= 1: Lemire's multiply-shift with rejection (unbiased)."""
    cdef uint32_t x = next32(s)
    cdef uint64_t m = <uint64_t>x * n
    cdef uint32_t low = <uint32_t>m
    cdef uint32_t threshold
    if low < n:
        threshold = (-n) % n
        while low < threshold:
            x = next32(s)
            m = <uint64_t>x * n
            low = <uint32_t>m
    return <uint32_t>(m >> 32)


cdef void _zero_rows_loop(Stream *s, real[:, ::1] out, Py_ssize_t k, int[::1] perm) noexcept nogil:
    cdef Py_ssize_t i, j, t, cols = out.shape[1]
    cdef int tmp
    for i in range(out.shape[0]):
        # k steps of a Fisher-Yates shuffle pick a uniform k-subset; perm need not be
        # reset between rows (a partial shuffle of any permutation is still uniform).
        for j in range(k):
            t = j + bounded32(s, <uint32_t>(cols - j))
            tmp = perm[j]
            perm[j] = perm[t]
            perm[t] = tmp
            out[i, perm[j]] = 0


def zero_random_per_row(gen, out, Py_ssize_t k):
    """Set k entries of every row of out (a 2-D C-contiguous float32/float64 array) to
    zero, at positions chosen uniformly without replacement (PyTorch's sparse_ per
    input unit). 0 <= k <= out.shape[1] < 2^31.

    >>> out = np.ones((2, 4))
    >>> zero_random_per_row(np.random.default_rng(0), out, 3)
    >>> (out == 0).sum(axis=1).tolist()
    [3, 3]
    """
    cdef Stream s
    cdef float[:, ::1] out_f
    cdef double[:, ::1] out_d
    cdef int t = _check_out("zero_random_per_row", out, 2)
    bitgen = _checked_bitgen(gen, &s)
    cdef Py_ssize_t cols = out.shape[1]
    if not 0 <= k <= cols or cols >= 2 ** 31:
        raise ValueError(f"zero_random_per_row: need 0 <= k <= {cols} < 2**31, got k={k}")
    if out.shape[0] == 0 or k == 0:
        return
    cdef int[::1] perm = np.arange(cols, dtype=np.intc)
    with bitgen.lock:
        if t == cnp.NPY_FLOAT32:
            out_f = out
            with nogil:
                _zero_rows_loop(&s, out_f, k, perm)
        else:
            out_d = out
            with nogil:
                _zero_rows_loop(&s, out_d, k, perm)
