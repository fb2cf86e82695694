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
  proposal for intervals in one tail, a uniform proposal for narrow intervals. A
  sample whose value rounds onto or outside a bound in the output dtype is redrawn,
  so every sample lies strictly inside (low, high).

``reference.py`` holds scalar Python twins of these transforms, consuming the same
words from ``Generator.bit_generator.random_raw``; tests check they agree.
"""
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from libc.math cimport exp, isfinite, log, sqrt
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from numpy.random cimport bitgen_t
cimport numpy as cnp

from microinit._kernels.argcheck cimport check_array, float_typenum

import numpy as np

cnp.import_array()

ctypedef fused real:
    float
    double

DEF N_LAYERS = 256
# Marsaglia & Tsang (2000), 256 layers: the base-strip edge r and the common layer area v.
cdef double ZIG_R = 3.6541528853610088
cdef double ZIG_V = 0.00492867323399

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
    both finite.

    >>> out = np.empty(3, np.float32)
    >>> uniform_fill(np.random.default_rng(0), out, -1.0, 1.0)
    >>> bool(((-1 <= out) & (out < 1)).all())
    True
    """
    cdef Stream s
    cdef float[::1] out_f
    cdef double[::1] out_d
    if not (low < high and isfinite(low) and isfinite(high)):
        raise ValueError(f"uniform_fill: need finite low < high, got low={low!r}, high={high!r}")
    cdef int t = _check_out("uniform_fill", out, 1)
    bitgen = _checked_bitgen(gen, &s)
    if out.shape[0] == 0:
        return
    with bitgen.lock:
        if t == cnp.NPY_FLOAT32:
            out_f = out
            with nogil:
                _uniform_loop(&s, out_f, low, high)
        else:
            out_d = out
            with nogil:
                _uniform_loop(&s, out_d, low, high)


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
    out; mean finite, std >= 0 finite."""
    cdef Stream s
    cdef float[::1] out_f
    cdef double[::1] out_d
    if not (std >= 0 and isfinite(std) and isfinite(mean)):
        raise ValueError(f"normal_fill: need finite mean and std >= 0, got mean={mean!r}, std={std!r}")
    cdef int t = _check_out("normal_fill", out, 1)
    bitgen = _checked_bitgen(gen, &s)
    if out.shape[0] == 0:
        return
    with bitgen.lock:
        if t == cnp.NPY_FLOAT32:
            out_f = out
            with nogil:
                _normal_loop(&s, out_f, mean, std)
        else:
            out_d = out
            with nogil:
                _normal_loop(&s, out_d, mean, std)


# Proposal methods for the truncated normal (chosen once per fill by truncnorm_method).
TN_NORMAL = 0
TN_EXPONENTIAL = 1
TN_UNIFORM = 2


def truncnorm_method(double alpha, double beta):
    """(method, a, b, c, flip) for a standard normal truncated to (alpha, beta).

    The proposal draws x on (a, b) and the sample is -x if flip else x. NORMAL: the
    plain normal when P(alpha < Z < beta) >= 0.3. For one-sided intervals (mirrored
    so that a >= 0): UNIFORM on (a, b) accepted with prob exp((c^2 - x^2) / 2), c = a,
    when that is >= 0.3 everywhere, else EXPONENTIAL with Robert's optimal rate.
    Intervals around 0 that are too narrow for the normal: UNIFORM with c = 0.
    """
    mass = 0.5 * (_erfc(-beta / sqrt(2.0)) - _erfc(-alpha / sqrt(2.0)))
    if mass >= 0.3:
        return TN_NORMAL, alpha, beta, 0.0, False
    flip = False
    a, b = alpha, beta
    if beta <= 0:
        a, b, flip = -beta, -alpha, True
    if a >= 0:
        if exp(0.5 * (a * a - b * b)) >= 0.3:
            return TN_UNIFORM, a, b, a, flip
        return TN_EXPONENTIAL, a, b, 0.0, flip
    return TN_UNIFORM, a, b, 0.0, flip


def _erfc(x):
    import math

    return math.erfc(x)


cdef inline double _tn_draw(Stream *s, int method, double a, double b, double c,
                            bint flip, bint single) noexcept nogil:
    """One standard truncated-normal candidate strictly inside (a, b), before flipping."""
    cdef double x, lam
    if method == 0:
        while True:
            x = std_normal_32(s) if single else std_normal_64(s)
            if a < x < b:
                return x
    if method == 1:
        lam = 0.5 * (a + sqrt(a * a + 4.0))
        while True:
            x = a - log(next_open(s)) / lam
            if x < b and next_double(s) <= exp(-0.5 * (x - lam) * (x - lam)) and x > a:
                return x
    while True:
        x = a + (b - a) * next_double(s)
        if a < x < b and next_double(s) <= exp(0.5 * (c * c - x * x)):
            return x


cdef void _truncnorm_loop(Stream *s, real[::1] out, double mean, double std, double low,
                          double high, int method, double a, double b, double c,
                          bint flip) noexcept nogil:
    cdef Py_ssize_t i, n = out.shape[0]
    cdef bint single = real is float
    cdef double z
    cdef real x
    for i in range(n):
        while True:
            z = _tn_draw(s, method, a, b, c, flip, single)
            x = <real>(mean + std * (-z if flip else z))
            if low < x < high:  # strict in the OUTPUT dtype: nothing lands on a bound
                break
        out[i] = x


def truncnorm_fill(gen, out, double mean, double std, double low, double high):
    """out[i] ~ N(mean, std^2) restricted to (low, high), strictly inside in out's dtype
    (a 1-D C-contiguous float32/float64 array).

    Needs finite mean, finite std > 0, low < high (either may be infinite), and at least
    one value of out's dtype strictly between low and high (else no sample could be
    accepted)."""
    cdef Stream s
    cdef float[::1] out_f
    cdef double[::1] out_d
    if not (std > 0 and isfinite(std) and isfinite(mean) and low < high):
        raise ValueError(f"truncnorm_fill: need finite mean, finite std > 0 and low < high, got "
                         f"mean={mean!r}, std={std!r}, low={low!r}, high={high!r}")
    cdef int typenum = _check_out("truncnorm_fill", out, 1)
    t = np.float32 if typenum == cnp.NPY_FLOAT32 else np.float64
    inside = t(low)
    if inside <= low:
        inside = np.nextafter(inside, t(np.inf))
    if not inside < high:
        raise ValueError(f"truncated_normal: no {np.dtype(t).name} value lies strictly between "
                         f"low={low!r} and high={high!r}")
    bitgen = _checked_bitgen(gen, &s)
    if out.shape[0] == 0:
        return
    method, a, b, c, flip = truncnorm_method((low - mean) / std, (high - mean) / std)
    cdef int m = method
    cdef double ca = a, cb = b, cc = c
    cdef bint cflip = flip
    with bitgen.lock:
        if typenum == cnp.NPY_FLOAT32:
            out_f = out
            with nogil:
                _truncnorm_loop(&s, out_f, mean, std, low, high, m, ca, cb, cc, cflip)
        else:
            out_d = out
            with nogil:
                _truncnorm_loop(&s, out_d, mean, std, low, high, m, ca, cb, cc, cflip)


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
