# cython: language_level=3
"""The records of program.pyx that are more than one call to a kernel core (header-only,
like the ``*_core.pxd`` files): the layer-norm backward, and OP_GRAD_W's weight gradient
with the SGD update fused into it, with the bound that allows the fusion.

An update may only start once no gradient can be NaN/inf (a step updates all parameters
or none). ``grads_bounded`` proves that from ``max|x|`` and ``max|dz|`` of every dense
layer; ``grad_w_record`` then hands the OP_SGD record's ``sgd_loop`` to the GEMM, which
runs it on each block of rows of dW as soon as they are final (``rows_done``, gemm.pxd).
"""
from cython cimport floating
from libc.float cimport DBL_MAX, FLT_MAX

from microinit._kernels.dense_core cimport GEMM_NOGIL_MIN, dense_weight_grad
from microinit._kernels.norm_core cimport norm_rows_backward
from microinit._kernels.omp cimport mi_max_threads
from microinit._kernels.program cimport Op
from microinit._kernels.update_core cimport sgd_loop


cdef inline void* slot_ptr(void** slots, int s) noexcept nogil:
    """The data of slot s, NULL for an absent slot (-1)."""
    return NULL if s < 0 else slots[s]


cdef struct RowUpdate:
    # an OP_GRAD_W record's SGD update, run on rows of dW as the GEMM finishes them
    void* p
    const void* g
    void* buf
    Py_ssize_t cols
    double lr, momentum, dampening, wd
    bint nesterov
    int bad


cdef inline void sgd_rows(RowUpdate* u, long r0, long r1, floating tag) noexcept nogil:
    """The OP_SGD record's sgd_loop call on rows r0..r1-1 only (elementwise: the same
    bits as on the whole array)."""
    cdef Py_ssize_t off = r0 * u.cols
    cdef floating* buf = NULL if u.buf == NULL else <floating*> u.buf + off
    if sgd_loop(<floating*> u.p + off, <const floating*> u.g + off, buf, (r1 - r0) * u.cols,
                <floating> u.lr, <floating> u.momentum, <floating> u.dampening, <floating> u.wd,
                u.nesterov, False):
        u.bad = 1


cdef inline void sgd_rows_f(void* ctx, long r0, long r1) noexcept nogil:
    sgd_rows(<RowUpdate*> ctx, r0, r1, <float> 0)


cdef inline void sgd_rows_d(void* ctx, long r0, long r1) noexcept nogil:
    sgd_rows(<RowUpdate*> ctx, r0, r1, <double> 0)


cdef inline bint grads_bounded(const double* bounds, Py_ssize_t layers, Py_ssize_t rows,
                                floating tag) noexcept nogil:
    """Whether every dense layer's gradients are certainly finite, from bounds[2l] =
    max|x_l| (its input) and bounds[2l + 1] = max|dz_l| (its pre-activation gradient).

    |dW_ij| = |sum_r x_ri dz_rj| <= rows * max|x| * max|dz|, and |db_j| <= rows * max|dz|;
    every partial sum of the float accumulation stays within (1 + eps)^rows < 2 times
    that (rows < 2^22), so twice the bound below the type's largest value rules out
    inf (and so NaN: the operands are finite)."""
    cdef double lim = FLT_MAX if floating is float else DBL_MAX
    cdef double bx, bdz
    cdef Py_ssize_t l
    if rows >= (1 << 22):
        return False
    for l in range(layers):
        bx = bounds[2 * l]
        bdz = bounds[2 * l + 1]
        if not (bx <= lim and bdz <= lim):
            return False
        if not (2.0 * rows * bx * bdz < lim and 2.0 * rows * bdz < lim):
            return False
    return True


cdef inline int grad_w_record(const Op* o, void** slots, double lr, bint proven, bint* bad,
                              floating tag) noexcept nogil:
    """OP_GRAD_W: dW = x^T dz (dense_backward_core's product); when proven and the record
    asks for it (flag 2), the parameter's SGD update runs on each block of rows of dW as
    the GEMM finishes it, while those rows are in cache, instead of in a pass of its own
    over p and dW. bad: the update overflowed. Returns gemm's status."""
    cdef RowUpdate upd
    cdef int nt, rc
    bad[0] = False
    if o.m == 0 or o.n == 0:
        return 0
    nt = 1 if o.m * o.n * o.k < GEMM_NOGIL_MIN else mi_max_threads()
    if not (proven and o.flag & 2):
        return dense_weight_grad(<const floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                                 <floating*> slots[o.s[2]], o.k, o.n, o.m, nt, NULL, NULL)
    upd.p = slots[o.s[3]]
    upd.g = slots[o.s[2]]
    upd.buf = slot_ptr(slots, o.s[4])
    upd.cols = o.n
    upd.lr = lr
    upd.momentum, upd.dampening, upd.wd = o.f[0], o.f[1], o.f[2]
    upd.nesterov = o.flag & 1
    upd.bad = 0
    rc = dense_weight_grad(<const floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                           <floating*> slots[o.s[2]], o.k, o.n, o.m, nt,
                           sgd_rows_f if floating is float else sgd_rows_d, &upd)
    bad[0] = upd.bad != 0
    return rc


cdef inline void layer_norm_record(const Op* o, void** slots, floating tag) noexcept nogil:
    """norm.pyx's layer_norm_backward: dx, and the parameter sums accumulated in double
    (zeroed first) and rounded once to the dtype."""
    cdef Py_ssize_t j, n = o.n
    cdef double* acc = <double*> slot_ptr(slots, o.s[6])
    cdef floating* dw = <floating*> slot_ptr(slots, o.s[7])
    cdef floating* db = <floating*> slot_ptr(slots, o.s[8])
    if acc != NULL:
        for j in range(2 * n):
            acc[j] = 0.0
    norm_rows_backward(<const floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                       <const floating*> slots[o.s[2]], <const floating*> slot_ptr(slots, o.s[3]),
                       <const floating*> slots[o.s[4]], <floating*> slot_ptr(slots, o.s[5]),
                       acc, NULL if acc == NULL else acc + n, o.m, n)
    for j in range(n):
        if dw != NULL:
            dw[j] = <floating> acc[j]
        if db != NULL:
            db[j] = <floating> acc[n + j]
