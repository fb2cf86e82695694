# cython: language_level=3
"""C-level declarations of program.pyx, the compiled step's interpreter: the op codes
and how many elements each slot of a record must hold, the op record, the outcome of a
run, and the Program class, so that microinit/compile/_hot.pyx calls ``Program.step``
as a C method (a Python-level call costs ~0.1 us, 2% of a tiny step)."""
cimport numpy as cnp

cdef enum:
    MAX_SLOTS_PER_OP = 9

# Op codes (module-level names below, for the builder).
cdef enum:
    C_DENSE_FWD = 0     # slots x, W, b|-1, z, y;  m, n, k; act, param; flag = BLAS did x @ W
    C_DENSE_BWD = 1     # slots x, W, zx, y, dy, dz, dx|-1, dW|-1, db|-1;  m, n, k; act, param
    C_MSE = 2           # slots pred, target, diff, dpred;  m, n (elements m*n); flag = mean
    C_XENT = 3          # slots logits, labels, probs, dlogits;  m rows, n classes; flag = mean
    C_CHECK_GRAD = 4    # slots g;  m elements; k = optimizer index
    C_SGD = 5           # slots p, g, buf|-1;  m elements; f = momentum, dampening, wd; flag = nesterov; k = index
    C_ADAM = 6          # slots p, g, m, v, steps;  m elements; f = beta1, beta2, eps, wd; flag = decoupled; k = index
    C_BLAS = 7          # slots a, b, c;  flag bit 1 = a transposed, bit 2 = b transposed
    C_REQUIRE = 8       # slots bool array;  m elements: all must be true
    C_PYCALL = 9        # a Python callable fn(x, y) -> the loss or None (what the kernels do not have)
    C_LABELS = 10       # slots labels;  m labels, each in [0, n) (checked before anything runs)
    C_ACT_FWD = 11      # slots x, y;  m elements; act, param
    C_ACT_BWD = 12      # slots x, y, dy, dx;  m elements; act, param
    C_DROP_FWD = 13     # slots x, u, y, keep (uint8), p (float64 [p]);  m elements
    C_DROP_BWD = 14     # slots dy, keep, dx, p;  m elements
    C_LN_FWD = 15       # slots x, w|-1, b|-1, y, mean, rstd;  m rows of n; param = eps
    C_LN_BWD = 16       # slots x, mean, rstd, w|-1, dy, dx|-1, acc (float64 2n)|-1, dw|-1, db|-1
    C_MAXABS = 17       # slots a, bounds (float64);  m elements; k = entry: bounds[k] = max|a| (inf if not finite)
    C_PROVE = 18        # slots bounds;  m layers (pairs max|x|, max|dz|), n batch rows: sets `proven`
    C_GRAD_W = 19       # slots x, dz, dW, p, buf|-1;  m in, n out, k batch rows; f = momentum,
                        # dampening, wd; flag 1 = nesterov, 2 = update p from dW's rows when proven
    N_CODES = 20


# Slots each op code reads or writes, and how many elements each must hold, as
# functions of (m, n, k); -1 in a position marks a slot that may be absent.
cdef inline Py_ssize_t slot_need(int code, int pos, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k):
    if code == C_DENSE_FWD:
        return (m * k, k * n, n, m * n, m * n)[pos]
    if code == C_DENSE_BWD:
        return (m * k, k * n, m * n, m * n, m * n, m * n, m * k, k * n, n)[pos]
    if code == C_MSE or code == C_XENT:
        if code == C_XENT and pos == 1:
            return m
        return m * n
    if code == C_LN_FWD:
        return (m * n, n, n, m * n, m, m)[pos]
    if code == C_LN_BWD:
        return (m * n, m, m, n, m * n, m * n, 2 * n, n, n)[pos]
    if code == C_DROP_FWD or code == C_DROP_BWD:
        return 1 if pos == (4 if code == C_DROP_FWD else 3) else m
    if code in (C_CHECK_GRAD, C_SGD, C_REQUIRE, C_LABELS, C_ACT_FWD, C_ACT_BWD):
        return m
    if code == C_ADAM:
        return k + 1 if pos == 4 else m
    if code == C_MAXABS:
        return m if pos == 0 else k + 1
    if code == C_PROVE:
        return 2 * m
    if code == C_GRAD_W:
        return (k * m, k * n, m * n, m * n, m * n)[pos]
    return 0


# The dtype (numpy typenum) each slot of a record must have; the others are the program's.
cdef inline int slot_type(int code, int pos, int typenum):
    if (code == C_XENT and pos == 1) or (code == C_ADAM and pos == 4) or code == C_LABELS:
        return cnp.NPY_INT64
    if code == C_REQUIRE:
        return cnp.NPY_BOOL
    if (code == C_DROP_FWD and pos == 3) or (code == C_DROP_BWD and pos == 1):
        return cnp.NPY_UINT8
    if ((code == C_DROP_FWD and pos == 4) or (code == C_DROP_BWD and pos == 3)
            or (code == C_LN_BWD and pos == 6) or (code == C_MAXABS and pos == 1) or code == C_PROVE):
        return cnp.NPY_FLOAT64
    return typenum


cdef struct Op:
    int code
    int act
    int flag
    int index           # C_GRAD_W: the optimizer's index of its parameter
    int s[MAX_SLOTS_PER_OP]
    Py_ssize_t m, n, k
    double param
    double f[4]


cdef struct Outcome:
    int status
    Py_ssize_t index     # the optimizer index of a non-finite gradient/parameter
    double loss


cdef class Program:
    cdef Op* ops
    cdef int nops, cap
    cdef void** slots
    cdef list arrays             # the slot arrays (None for 0 and 1), kept alive here
    cdef list calls              # (a, b, out, a transposed, b transposed) of each OP_BLAS record
    cdef list pycalls            # the callables of OP_PYCALL records
    cdef object cur_x, cur_y     # the batch while a step runs (what OP_BLAS/OP_PYCALL read)
    cdef public object error     # the exception an OP_PYCALL record raised (status ST_PYERR)
    cdef readonly int typenum, ytype, status
    cdef readonly Py_ssize_t macs     # multiply-adds of the dense records (decides the GIL)
    cdef readonly Py_ssize_t status_index, steps_done
    cdef tuple xshape, yshape
    cdef int ynd
    cdef bint busy               # a step is running (in another thread, the GIL released)

    cdef Py_ssize_t _size(self, int s) except -1
    cdef int _type(self, int s)
    cdef bint _plain_inputs(self, object x, object y) noexcept
    cdef int _go(self, double lr, Outcome* res) noexcept
    cdef int _enter(self) except -1
    cdef int _run(self, cnp.ndarray xs, cnp.ndarray ys, double lr, cnp.ndarray losses, Py_ssize_t start,
                  Py_ssize_t kk) except -1
    cpdef object step(self, x, y, double lr)
