# distutils: extra_compile_args = -fno-math-errno
"""The compiled training step's interpreter: a flat program of kernel calls replayed
in one nogil loop.

A ``Program`` holds *slots* (preallocated arrays, each kept alive here; slot 0 is the
batch ``x`` and slot 1 the targets ``y``, both set per step) and *op records* (an op
code, slot numbers, sizes and a few constants). ``step`` runs the records once,
``run`` runs them k times over a stack of batches, both without Python work between
the ops. Every op calls the nogil core the eager op calls (``dense_core.pxd``,
``elementwise_core.pxd``, ``dropout_core.pxd``, ``norm_core.pxd``, ``mse_core.pxd``,
``xent_core.pxd``, ``update_core.pxd``), so one step is the same
arithmetic as the eager step; products the eager rule sends to numpy's BLAS
(``ops/linalg.py``, ``DENSE_BLAS_MIN``) go to numpy's BLAS here too, through an
``OP_BLAS`` record that takes the GIL for that call only.

Weight updates fused into the backward (``OP_MAXABS``, ``OP_PROVE``, ``OP_GRAD_W``):
an update may only start once no gradient can be NaN/inf (the step updates all
parameters or none). Instead of scanning every gradient, ``OP_PROVE`` bounds them:
``|dW| <= rows * max|x| * max|dz|`` (program_records.pxd); when that holds, each
``OP_GRAD_W`` record hands the SGD update (the OP_SGD record's ``sgd_loop``, so the
same bits) to the GEMM, which runs it on each block of rows of dW as soon as they are
final (``rows_done``, gemm.pxd), and the scans and the fused parameters' OP_SGD
records are skipped.

The program knows nothing about models: ``microinit/compile/`` builds it. What it
guarantees on its own is memory safety: ``add`` checks every slot number, every
slot's dtype and that each array holds at least the elements the op will touch, so
no call from Python can make the loop read or write outside an array.

Status (``Program.status`` after a ``step``/``run`` that returned early)::

    ST_INPUT            x or y is not a plain array of the captured dtype and shape
    ST_NOT_READY        an optimizer state flag is off (e.g. a momentum buffer unset)
    ST_BAD_LABEL        a label outside [0, C) (an OP_LABELS record first: nothing ran)
    ST_ALL_NEG_INF      a row of logits all -inf (likewise)
    ST_GRAD_NONFINITE   a gradient holds NaN/inf; no parameter was updated
    ST_PARAM_NONFINITE  parameter ``status_index`` overflowed during the update
    ST_NOMEM / ST_PYERR a gemm workspace allocation / a BLAS or Python record failed
                        (``error`` holds a Python record's exception)

Example (a 1-layer linear model, MSE, plain SGD: ``compile_step`` builds such
programs; this shows the records themselves)::

    >>> import numpy as np
    >>> x = np.ones((2, 3), np.float32); y = np.zeros((2, 1), np.float32)
    >>> W = np.full((3, 1), 0.5, np.float32)
    >>> P = Program(x, y)
    >>> w, out, d, g, dw = [P.add_slot(a) for a in (W, np.empty((2, 1), np.float32),
    ...     np.empty((2, 1), np.float32), np.empty((2, 1), np.float32), np.empty_like(W))]
    >>> P.add(OP_DENSE_FWD, (0, w, -1, out, out), 2, 1, 3)
    >>> P.add(OP_MSE, (out, 1, d, g), 2, 1, flag=1)
    >>> P.add(OP_DENSE_BWD, (0, w, out, out, g, g, -1, dw, -1), 2, 1, 3)
    >>> P.add(OP_SGD, (w, dw, -1), 3, 1, f=(0.0, 0.0, 0.0))
    >>> P.step(x, y, 0.1)                   # (1.5^2 + 1.5^2) / 2
    2.25
    >>> [round(w, 6) for w in W.ravel().tolist()]   # dW = x^T (2 * 1.5 / 2) = 3; 0.5 - 0.1 * 3
    [0.2, 0.2, 0.2]
"""
from cpython.exc cimport PyErr_CheckSignals
from cython cimport floating
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset
cimport numpy as cnp
import numpy as np

from microinit._kernels.dense_core cimport (
    EPI_PARALLEL_MIN, GEMM_NOGIL_MIN, dense_backward_core, dense_forward_core,
)
from microinit._kernels.omp cimport mi_max_threads
from microinit._kernels.dropout_core cimport dropout_backward_core, dropout_forward_core, dropout_scale
from microinit._kernels.elementwise_core cimport act_backward_all, act_forward_all
from microinit._kernels.mse_core cimport mse_diff_sumsq, mse_scaled
from microinit._kernels.norm_core cimport norm_rows_forward
from microinit._kernels.program_records cimport grad_w_record, grads_bounded, layer_norm_record, slot_ptr
from microinit._kernels.update_core cimport adam_corrections, adam_loop, any_nonfinite, max_abs, sgd_loop
from microinit._kernels.xent_core cimport xent_label_grads, xent_label_rows

cnp.import_array()

cdef enum:
    # Programs below this many multiply-adds per step run with the GIL held (a
    # release and re-acquire costs ~0.2 us, a tenth of such a program's arithmetic).
    NOGIL_MIN_MACS = 1 << 18

OP_DENSE_FWD = C_DENSE_FWD
OP_DENSE_BWD = C_DENSE_BWD
OP_MSE = C_MSE
OP_XENT = C_XENT
OP_CHECK_GRAD = C_CHECK_GRAD
OP_SGD = C_SGD
OP_ADAM = C_ADAM
OP_BLAS = C_BLAS
OP_REQUIRE = C_REQUIRE
OP_PYCALL = C_PYCALL
OP_LABELS = C_LABELS
OP_ACT_FWD = C_ACT_FWD
OP_ACT_BWD = C_ACT_BWD
OP_DROPOUT_FWD = C_DROP_FWD
OP_DROPOUT_BWD = C_DROP_BWD
OP_LAYER_NORM_FWD = C_LN_FWD
OP_LAYER_NORM_BWD = C_LN_BWD
OP_MAXABS = C_MAXABS
OP_PROVE = C_PROVE
OP_GRAD_W = C_GRAD_W

cdef enum:
    S_OK = 0
    S_INPUT = 1
    S_NOT_READY = 3
    S_BAD_LABEL = 4
    S_ALL_NEG_INF = 5
    S_GRAD_NONFINITE = 6
    S_PARAM_NONFINITE = 7
    S_NOMEM = 8
    S_PYERR = 9

ST_OK = S_OK
ST_INPUT = S_INPUT
ST_NOT_READY = S_NOT_READY
ST_BAD_LABEL = S_BAD_LABEL
ST_ALL_NEG_INF = S_ALL_NEG_INF
ST_GRAD_NONFINITE = S_GRAD_NONFINITE
ST_PARAM_NONFINITE = S_PARAM_NONFINITE
ST_NOMEM = S_NOMEM
ST_PYERR = S_PYERR


cdef int _blas(void* prog, int idx) noexcept with gil:
    """One product through numpy's BLAS, called exactly as ops/linalg.py calls it."""
    try:
        (<Program> prog).blas_call(idx)
    except BaseException as err:
        (<Program> prog).error = err
        return -1
    return 0


cdef int _pycall(void* prog, int idx, double* loss) noexcept with gil:
    """A record that runs Python: fn(x, y) -> the loss (or None: not a loss record); the
    exception, if any, is kept."""
    cdef Program P = <Program> prog
    try:
        r = P.pycalls[idx](P.cur_x, P.cur_y)
        if r is not None:
            loss[0] = float(r)
    except BaseException as err:
        P.error = err
        return -1
    return 0


cdef inline void _param_nonfinite(Outcome* out, Py_ssize_t index) noexcept nogil:
    """Parameter ``index`` overflowed in its update: the outcome names the first one in
    the optimizer's order (fused updates run in another order), as the eager step does."""
    if out.status == S_OK or (out.status == S_PARAM_NONFINITE and index < out.index):
        out.status = S_PARAM_NONFINITE
        out.index = index


cdef int _exec(const Op* ops, int nops, void** slots, double lr, void* prog,
               Outcome* out, floating tag) noexcept nogil:
    """Run the records once; the loss goes to out.loss. Returns the status (S_OK, or
    the first problem: later records are not run, except that a parameter overflow is
    recorded and the update finishes as the eager optimizer's does)."""
    cdef int i, j, rc, nt, bad, bad_label
    cdef int grad_bad = 0
    # every gradient provably finite (an OP_PROVE record): no scans, updates fused
    cdef bint proven = False
    cdef const Op* o
    cdef double total, s
    cdef double step_size, bc2
    cdef int64_t* steps
    cdef bint r
    cdef const char* flags
    cdef const int64_t* labels
    out.loss = 0.0
    for i in range(nops):
        o = &ops[i]
        if o.code == C_DENSE_FWD:
            # the thread rule of dense.pyx's _forward/_forward_one
            nt = 1 if (o.flag or (o.m * o.n * o.k < GEMM_NOGIL_MIN
                                  and o.m * o.n < EPI_PARALLEL_MIN)) else mi_max_threads()
            rc = dense_forward_core(<const floating*> slot_ptr(slots, o.s[0]), <const floating*> slot_ptr(slots, o.s[1]),
                                    <const floating*> slot_ptr(slots, o.s[2]), <floating*> slot_ptr(slots, o.s[3]),
                                    <floating*> slot_ptr(slots, o.s[4]), o.m, o.n, o.k, o.act, o.param,
                                    not o.flag, nt)
            if rc != 0:
                return S_NOMEM
        elif o.code == C_DENSE_BWD:
            nt = 1 if (o.flag or o.m * o.n * o.k < GEMM_NOGIL_MIN) else mi_max_threads()
            rc = dense_backward_core(<const floating*> slot_ptr(slots, o.s[0]), <const floating*> slot_ptr(slots, o.s[1]),
                                     <const floating*> slot_ptr(slots, o.s[2]), <const floating*> slot_ptr(slots, o.s[3]),
                                     <const floating*> slot_ptr(slots, o.s[4]), <floating*> slot_ptr(slots, o.s[5]),
                                     <floating*> slot_ptr(slots, o.s[6]), <floating*> slot_ptr(slots, o.s[7]),
                                     <floating*> slot_ptr(slots, o.s[8]), o.m, o.n, o.k, o.act, o.param, nt)
            if rc != 0:
                return S_NOMEM
        elif o.code == C_MSE:
            # regression.pyx's mse_forward_auto then mse_backward_auto with g = 1
            total = mse_diff_sumsq(<const floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                                   <floating*> slots[o.s[2]], o.m * o.n)
            s = 2.0
            if o.flag:
                total = total / (o.m * o.n)
                s = s / (o.m * o.n)
            out.loss = <floating> total
            mse_scaled(<const floating*> slots[o.s[2]], <floating> s, <floating*> slots[o.s[3]],
                       <floating*> NULL, o.m * o.n)
        elif o.code == C_XENT:
            # xent.pyx's forward_auto then backward_auto with g = 1
            total = 0.0
            bad = 0
            bad_label = 0
            xent_label_rows(<const floating*> slots[o.s[0]], <const int64_t*> slots[o.s[1]],
                            <floating*> NULL, <floating*> slots[o.s[2]], o.m, o.n,
                            &total, &bad, &bad_label)
            if bad_label:
                return S_BAD_LABEL
            if bad:
                return S_ALL_NEG_INF
            if o.flag:
                total = total / o.m
            out.loss = <floating> total
            xent_label_grads(<const floating*> slots[o.s[2]], <const int64_t*> slots[o.s[1]], 1.0,
                             o.flag, <floating*> slots[o.s[3]], o.m, o.n)
        elif o.code == C_CHECK_GRAD:
            # A gradient is checked right after the record that computed it, while it is
            # still in cache; the backward then finishes (the eager step computes every
            # gradient before its optimizer refuses) and the first update record stops.
            # Not needed where the bounds proved every gradient finite.
            if not proven and not grad_bad and any_nonfinite(<const floating*> slots[o.s[0]], o.m):
                grad_bad = 1
                out.index = o.k
        elif o.code == C_SGD:
            if grad_bad:
                return S_GRAD_NONFINITE
            if proven and o.flag & 2:
                continue  # its OP_GRAD_W record updated the parameter
            r = sgd_loop(<floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                         <floating*> slot_ptr(slots, o.s[2]), o.m, <floating> lr, <floating> o.f[0],
                         <floating> o.f[1], <floating> o.f[2], o.flag & 1, False)
            if r:
                _param_nonfinite(out, o.k)
        elif o.code == C_MAXABS:
            (<double*> slots[o.s[1]])[o.k] = max_abs(<const floating*> slots[o.s[0]], o.m)
        elif o.code == C_PROVE:
            proven = grads_bounded(<const double*> slots[o.s[0]], o.m, o.n, tag)
        elif o.code == C_GRAD_W:
            # dW = x^T dz; when proven, with the parameter's SGD update (program_records)
            rc = grad_w_record(o, slots, lr, proven, &r, tag)
            if r:
                _param_nonfinite(out, o.index)
            if rc != 0:
                return S_NOMEM
        elif o.code == C_ADAM:
            if grad_bad:
                return S_GRAD_NONFINITE
            steps = <int64_t*> slots[o.s[4]]
            steps[o.k] += 1
            adam_corrections(lr, o.f[0], o.f[1], <double> steps[o.k], &step_size, &bc2)
            r = adam_loop(<floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                          <floating*> slots[o.s[2]], <floating*> slots[o.s[3]], o.m,
                          <floating> lr, <floating> o.f[0], <floating> o.f[1], <floating> o.f[2],
                          <floating> o.f[3], o.flag, <floating> step_size, <floating> bc2)
            if r:
                _param_nonfinite(out, o.k)
        elif o.code == C_BLAS:
            if _blas(prog, o.k) != 0:
                return S_PYERR
        elif o.code == C_PYCALL:
            if _pycall(prog, o.k, &out.loss) != 0:
                return S_PYERR
        elif o.code == C_REQUIRE:
            flags = <const char*> slots[o.s[0]]
            for j in range(o.m):
                if not flags[j]:
                    return S_NOT_READY
        elif o.code == C_ACT_FWD:
            act_forward_all(o.act, <const floating*> slots[o.s[0]], <floating*> slots[o.s[1]], o.param, o.m)
        elif o.code == C_ACT_BWD:
            act_backward_all(o.act, <const floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                             <const floating*> slots[o.s[2]], <floating*> slots[o.s[3]], o.param, o.m)
        elif o.code == C_DROP_FWD:
            # p comes from a slot: the record before draws u and sets p (0 when not training)
            s = (<const double*> slots[o.s[4]])[0]
            dropout_forward_core(<const floating*> slots[o.s[0]], <const floating*> slots[o.s[1]],
                                 <floating> s, <floating> dropout_scale(s), <floating*> slots[o.s[2]],
                                 <cnp.uint8_t*> slots[o.s[3]], o.m)
        elif o.code == C_DROP_BWD:
            s = (<const double*> slots[o.s[3]])[0]
            dropout_backward_core(<const floating*> slots[o.s[0]], <const cnp.uint8_t*> slots[o.s[1]],
                                  <floating> dropout_scale(s), <floating*> slots[o.s[2]], o.m)
        elif o.code == C_LN_FWD:
            norm_rows_forward(<const floating*> slots[o.s[0]], <const floating*> slot_ptr(slots, o.s[1]),
                              <const floating*> slot_ptr(slots, o.s[2]), <floating*> slots[o.s[3]],
                              <floating*> slots[o.s[4]], <floating*> slots[o.s[5]], o.m, o.n, o.param)
        elif o.code == C_LN_BWD:
            layer_norm_record(o, slots, tag)
        elif o.code == C_LABELS:
            labels = <const int64_t*> slots[o.s[0]]
            for j in range(o.m):
                if labels[j] < 0 or labels[j] >= o.n:
                    return S_BAD_LABEL
    if grad_bad:  # (a program without update records)
        return S_GRAD_NONFINITE
    return out.status


cdef tuple _ARITY = (5, 9, 4, 4, 1, 3, 5, 0, 1, 0, 1, 2, 4, 5, 4, 6, 9, 2, 1, 5)
cdef tuple _OPTIONAL = ((2,), (2, 3, 6, 7, 8), (), (), (), (2,), (), (), (), (), (), (), (), (), (),
                        (1, 2), (3, 5, 6, 7, 8), (), (), (4,))


cdef class Program:
    """A flat program of kernel calls over preallocated buffers (module docstring).

    ``Program(x, y)``: x is an example batch (its dtype, float32 or float64, is the
    program's; its shape is fixed) and y an example target (labels int64, or floats
    of x's dtype); neither is kept.
    """

    def __cinit__(self):
        self.ops = NULL
        self.slots = NULL

    def __init__(self, cnp.ndarray x not None, cnp.ndarray y not None):
        t = cnp.PyArray_TYPE(x)
        if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
            raise TypeError(f"Program: x has dtype {x.dtype}; programs run on float32 or float64")
        if x.ndim != 2:
            raise ValueError(f"Program: x must be 2-D, got shape {(<object> x).shape}")
        self.typenum = t
        self.ytype = cnp.PyArray_TYPE(y)
        if self.ytype != cnp.NPY_INT64 and self.ytype != t:
            raise TypeError(f"Program: y has dtype {y.dtype}; expected int64 labels or {x.dtype}")
        self.xshape = tuple((<object> x).shape)
        self.yshape = tuple((<object> y).shape)
        self.ynd = y.ndim
        self.arrays = [None, None]
        self.calls = []
        self.pycalls = []
        self.slots = <void**> malloc(2 * sizeof(void*))
        if self.slots == NULL:
            raise MemoryError("Program: out of memory")
        self.slots[0] = NULL
        self.slots[1] = NULL

    def __dealloc__(self):
        free(self.ops)
        free(self.slots)

    cdef Py_ssize_t _size(self, int s) except -1:
        if s == 0:
            return self.xshape[0] * self.xshape[1]
        if s == 1:
            return int(np.prod(self.yshape))
        return cnp.PyArray_SIZE(<cnp.ndarray> self.arrays[s])

    cdef int _type(self, int s):
        if s == 0:
            return self.typenum
        if s == 1:
            return self.ytype
        return cnp.PyArray_TYPE(<cnp.ndarray> self.arrays[s])

    def add_slot(self, cnp.ndarray a not None):
        """Keep ``a`` (an aligned, C-contiguous, writeable array) and return its slot number."""
        if not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISALIGNED(a) or not cnp.PyArray_ISWRITEABLE(a):
            raise ValueError(f"Program.add_slot: the array (shape {(<object> a).shape}) must be aligned, "
                             f"C-contiguous and writeable")
        if not cnp.PyArray_ISNOTSWAPPED(a):
            raise TypeError(f"Program.add_slot: the array has byte-swapped dtype {a.dtype}")
        n = len(self.arrays)
        cdef void** grown = <void**> realloc(self.slots, (n + 1) * sizeof(void*))
        if grown == NULL:
            raise MemoryError("Program: out of memory")
        self.slots = grown
        self.slots[n] = cnp.PyArray_DATA(a)
        self.arrays.append(a)
        return n

    def slot_of(self, cnp.ndarray a not None):
        """The slot holding exactly the array a (ValueError if none does)."""
        for s in range(2, len(self.arrays)):
            if self.arrays[s] is a:
                return s
        raise ValueError("Program.slot_of: the array is in no slot")

    def array(self, int s):
        """The array of slot s (2 or more)."""
        if s < 2 or s >= len(self.arrays):
            raise ValueError(f"Program.array: no array in slot {s}")
        return self.arrays[s]

    def add(self, int code, tuple slots not None, Py_ssize_t m=0, Py_ssize_t n=0, Py_ssize_t k=0,
            int act=0, double param=0.0, int flag=0, tuple f=(), call=None, int index=-1):
        """Append one record after checking its slots (numbers, dtypes, sizes); ``index``
        is an OP_GRAD_W record's optimizer index of its parameter."""
        cdef Op op
        cdef int pos, s, want
        cdef Py_ssize_t need
        if code < 0 or code >= N_CODES:
            raise ValueError(f"Program.add: unknown op code {code}")
        if code != C_BLAS and len(slots) != _ARITY[code]:
            raise ValueError(f"Program.add: op {code} takes {_ARITY[code]} slots, got {len(slots)}")
        if m < 0 or n < 0 or k < 0 or len(f) > 4:
            raise ValueError(f"Program.add: bad sizes ({m}, {n}, {k}) or constants {f}")
        if code in (C_DENSE_FWD, C_DENSE_BWD, C_ACT_FWD, C_ACT_BWD):
            if act < 0 or act >= 9:
                raise ValueError(f"Program.add: unknown activation code {act}")
        memset(&op, 0, sizeof(Op))
        op.code = code
        op.m, op.n, op.k = m, n, k
        op.act = act
        op.param = param
        op.flag = flag
        op.index = index
        for pos in range(len(f)):
            op.f[pos] = f[pos]
        for pos in range(MAX_SLOTS_PER_OP):
            op.s[pos] = -1
        if code != C_BLAS and code != C_PYCALL:
            for pos in range(len(slots)):
                s = slots[pos]
                if s < 0:
                    if pos not in _OPTIONAL[code]:
                        raise ValueError(f"Program.add: op {code} needs slot {pos}")
                    continue
                if s >= len(self.arrays):
                    raise ValueError(f"Program.add: no slot {s}")
                want = slot_type(code, pos, self.typenum)
                if self._type(s) != want:
                    raise TypeError(f"Program.add: slot {s} of op {code} has the wrong dtype")
                need = slot_need(code, pos, m, n, k)
                if self._size(s) < need:
                    raise ValueError(f"Program.add: slot {s} holds {self._size(s)} elements, "
                                     f"op {code} needs {need}")
                op.s[pos] = s
        elif code == C_PYCALL:
            if call is None or not callable(call):
                raise TypeError("Program.add: an OP_PYCALL record needs a callable fn(x, y) -> loss")
            op.k = len(self.pycalls)
            self.pycalls.append(call)
        else:
            if len(slots) != 3:
                raise ValueError("Program.add: an OP_BLAS record takes slots a, b, out")
            for s in slots:
                if s < 0 or s == 1 or s >= len(self.arrays) or self._type(s) != self.typenum:
                    raise ValueError(f"Program.add: OP_BLAS slot {s} is not a float array of the program")
            op.k = len(self.calls)
            self.calls.append((slots[0], slots[1], slots[2], bool(flag & 1), bool(flag & 2)))
        if self.nops == self.cap:
            self.cap = 2 * self.cap + 8
            grown = <Op*> realloc(self.ops, self.cap * sizeof(Op))
            if grown == NULL:
                raise MemoryError("Program: out of memory")
            self.ops = <Op*> grown
        self.ops[self.nops] = op
        self.nops += 1
        if code == C_DENSE_FWD or code == C_DENSE_BWD or code == C_GRAD_W:
            self.macs += m * n * k

    cdef bint _plain_inputs(self, object x, object y) noexcept:
        cdef int d
        if not cnp.PyArray_CheckExact(x) or not cnp.PyArray_CheckExact(y):
            return False
        if not (cnp.PyArray_TYPE(<cnp.ndarray> x) == self.typenum
                and cnp.PyArray_NDIM(<cnp.ndarray> x) == 2
                and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> x)
                and cnp.PyArray_ISALIGNED(<cnp.ndarray> x)
                and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> x)
                and cnp.PyArray_DIMS(<cnp.ndarray> x)[0] == <Py_ssize_t> self.xshape[0]
                and cnp.PyArray_DIMS(<cnp.ndarray> x)[1] == <Py_ssize_t> self.xshape[1]):
            return False
        if not (cnp.PyArray_TYPE(<cnp.ndarray> y) == self.ytype
                and cnp.PyArray_NDIM(<cnp.ndarray> y) == self.ynd
                and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> y)
                and cnp.PyArray_ISALIGNED(<cnp.ndarray> y)
                and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> y)):
            return False
        for d in range(self.ynd):
            if cnp.PyArray_DIMS(<cnp.ndarray> y)[d] != <Py_ssize_t> self.yshape[d]:
                return False
        return True

    cdef int _go(self, double lr, Outcome* res) noexcept:
        res.status = S_OK
        res.index = -1
        res.loss = 0.0
        if self.calls or self.pycalls or self.macs < NOGIL_MIN_MACS:
            # BLAS and Python records need the GIL for their call: the loop keeps it rather
            # than dropping and taking it back around every product. A small program keeps
            # it too: the round trip would cost more than a tenth of its arithmetic.
            if self.typenum == cnp.NPY_FLOAT32:
                return _exec[float](self.ops, self.nops, self.slots, lr, <void*> self, res, 0)
            return _exec[double](self.ops, self.nops, self.slots, lr, <void*> self, res, 0)
        with nogil:
            if self.typenum == cnp.NPY_FLOAT32:
                res.status = _exec[float](self.ops, self.nops, self.slots, lr, NULL, res, 0)
            else:
                res.status = _exec[double](self.ops, self.nops, self.slots, lr, NULL, res, 0)
        return res.status

    def blas_call(self, int idx):
        """Run OP_BLAS record idx: numpy.matmul(op(a), op(b), out=c)."""
        sa, sb, sc, ta, tb = self.calls[idx]
        a = self.cur_x if sa == 0 else self.arrays[sa]
        b = self.cur_x if sb == 0 else self.arrays[sb]
        np.matmul(a.T if ta else a, b.T if tb else b, out=self.arrays[sc])

    cpdef object step(self, x, y, double lr):
        """One run of the program on batch x, targets y: the loss as a float, or None
        when it stopped early or did not start (read ``status``)."""
        cdef Outcome res
        self.steps_done = 0
        if not self._plain_inputs(x, y):
            self.status = S_INPUT
            return None
        self._enter()
        self.slots[0] = cnp.PyArray_DATA(<cnp.ndarray> x)
        self.slots[1] = cnp.PyArray_DATA(<cnp.ndarray> y)
        self.cur_x = x
        self.cur_y = y
        self.status = self._go(lr, &res)
        self.cur_x = self.cur_y = None
        self.busy = False
        self.status_index = res.index
        if self.status != S_OK:
            if self.status == S_PARAM_NONFINITE:
                self.steps_done = 1
            return None
        self.steps_done = 1
        return res.loss

    def run(self, cnp.ndarray xs not None, cnp.ndarray ys not None, double lr,
            cnp.ndarray losses not None, Py_ssize_t start=0):
        """Steps start, start+1, ... over xs[i], ys[i] (C-contiguous stacks of batches of
        the captured shape), losses[i] set for each; returns None. ``steps_done`` says
        how many completed (a step whose update overflowed counts); ``status`` why it
        stopped early."""
        cdef Py_ssize_t kk
        if (xs.ndim != 3 or ys.ndim != self.ynd + 1 or xs.shape[0] == 0 or ys.shape[0] == 0
                or not self._plain_inputs(xs[0], ys[0])):
            raise ValueError("Program.run: xs/ys do not match the captured shapes and dtypes")
        if not cnp.PyArray_IS_C_CONTIGUOUS(xs) or not cnp.PyArray_IS_C_CONTIGUOUS(ys):
            raise ValueError("Program.run: xs and ys must be C-contiguous")
        kk = xs.shape[0]
        if ys.shape[0] != kk or cnp.PyArray_TYPE(losses) != cnp.NPY_FLOAT64 or losses.ndim != 1 \
                or losses.shape[0] != kk or not cnp.PyArray_IS_C_CONTIGUOUS(losses) or start < 0:
            raise ValueError("Program.run: xs, ys and losses must hold the same number of steps")
        self.steps_done = 0
        self.status = S_OK
        self._enter()
        try:
            self._run(xs, ys, lr, losses, start, kk)
        finally:
            self.busy = False

    cdef int _enter(self) except -1:
        """Mark the program running; a second thread may not run it meanwhile (it shares
        the buffers), and raises RuntimeError instead."""
        if self.busy:
            raise RuntimeError("Program: already running (a compiled step is not to be called "
                               "from two threads at once)")
        self.busy = True
        return 0

    cdef int _run(self, cnp.ndarray xs, cnp.ndarray ys, double lr, cnp.ndarray losses, Py_ssize_t start,
                  Py_ssize_t kk) except -1:
        """The loop of run, over arguments run has checked."""
        cdef Outcome res
        cdef Py_ssize_t i, xstride, ystride
        cdef double* lp
        xstride = cnp.PyArray_STRIDES(xs)[0]
        ystride = cnp.PyArray_STRIDES(ys)[0]
        lp = <double*> cnp.PyArray_DATA(losses)
        for i in range(start, kk):
            self.slots[0] = <char*> cnp.PyArray_DATA(xs) + i * xstride
            self.slots[1] = <char*> cnp.PyArray_DATA(ys) + i * ystride
            if self.calls or self.pycalls:
                self.cur_x = xs[i]
                self.cur_y = ys[i]
            self.status = self._go(lr, &res)
            self.cur_x = self.cur_y = None
            self.status_index = res.index
            if self.status == S_OK or self.status == S_PARAM_NONFINITE:
                lp[i] = res.loss
                self.steps_done += 1
            if self.status != S_OK:
                return 0
            # Ctrl-C between steps (a KeyboardInterrupt with steps_done steps made)
            PyErr_CheckSignals()
        return 0
