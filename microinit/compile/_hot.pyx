# cython: language_level=3
"""The per-call path of ``CompiledStep`` in C: one program call and the bookkeeping
the eager optimizer does, without a Python frame.

A tiny network's whole step computes in ~4 us; the same few lines in Python (read the
learning rate, check that each parameter still holds its captured array, run the
program, advance ``step_count``, bump each parameter's version, point each ``.grad``
at its buffer) cost another ~1 us. ``StepCore`` is the base class of ``CompiledStep``
(microinit/compile/step.py), which sets its fields through ``_bind`` and supplies
``_slow`` for every call the program does not take.

Tensor keeps ``data``, ``grad`` and ``_version`` in ``__slots__``; the slots' offsets
are read once from their member descriptors, and a parameter whose type resolves
those names to other descriptors is handled through ordinary attribute access.
"""
from cpython.long cimport PyLong_AsSsize_t, PyLong_FromSsize_t
from cpython.object cimport PyTypeObject
from cpython.ref cimport PyObject, Py_XDECREF, Py_XINCREF

from microinit._kernels.omp cimport mi_max_threads
from microinit._kernels.program cimport Program
from microinit.autograd.mode import grad_mode


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    PyTypeObject PyMemberDescr_Type


cdef inline PyObject** _slot(object obj, Py_ssize_t offset) noexcept:
    return <PyObject**> ((<char*> <PyObject*> obj) + offset)


cdef Py_ssize_t _offset(type cls, str name) except -2:
    """The __slots__ offset of ``name`` on ``cls``, or -1 when it is not a plain slot."""
    descr = None
    for klass in cls.__mro__:
        if name in klass.__dict__:
            descr = klass.__dict__[name]
            break
    kind = type(descr)
    if descr is None or <PyObject*> kind != <PyObject*> &PyMemberDescr_Type:
        return -1
    return (<PyMemberDescrObject*> <PyObject*> descr).d_member.offset


cdef class StepCore:
    """``__call__(x, y)``: run the current program, or ``self._slow(x, y)``."""

    cdef public object _fast              # the Program used last (None before a capture)
    cdef public object _opt               # the optimizer (its lr is read per call)
    cdef public object _eager_out         # the model output of the last step if it ran eagerly
    cdef list params                      # model parameters, in model order
    cdef list datas                       # the arrays they held at capture
    cdef list grads                       # their gradient buffers (of the current program)
    cdef list updated                     # the optimizer's parameters (their versions bump)
    cdef Py_ssize_t off_data, off_grad, off_version   # slot offsets, -1: use getattr
    cdef object hyper_seen                # the optimizer's hyper_version at _bind
    cdef public int _threads              # the kernels' thread count _fast was built for

    def _bind(self, list params, list datas, list grads, list updated):
        """Set the parameters, their captured arrays, their gradient buffers and the
        parameters the optimizer updates (lists the fast path reads)."""
        if len(params) != len(datas) or len(params) != len(grads):
            raise ValueError("StepCore._bind: params, datas and grads differ in length")
        self.params, self.datas, self.grads, self.updated = list(params), list(datas), list(grads), list(updated)
        self.hyper_seen = self._opt.hyper_version
        kinds = {type(p) for p in self.params + self.updated}
        self.off_data = self.off_grad = self.off_version = -1
        if len(kinds) == 1:
            cls = kinds.pop()
            self.off_data = _offset(cls, "data")
            self.off_grad = _offset(cls, "grad")
            self.off_version = _offset(cls, "_version")

    cdef bint _intact(self) noexcept:
        """Every parameter still holds the array captured (else the program would
        update arrays the model no longer uses)."""
        cdef Py_ssize_t i
        cdef PyObject* d
        for i in range(len(self.params)):
            if self.off_data >= 0:
                d = _slot(self.params[i], self.off_data)[0]
                if d != <PyObject*> self.datas[i]:
                    return False
            else:
                try:
                    if getattr(self.params[i], "data") is not self.datas[i]:
                        return False
                except BaseException:
                    return False
        return True

    def __call__(self, x, y):
        # The program is taken only when nothing it was built from changed: a
        # hyper-parameter other than lr assigned (hyper_version), the thread count
        # (which products go to BLAS), a parameter array replaced (_intact). Under
        # no_grad() the eager step runs, and refuses as it does.
        P = self._fast
        opt = self._opt
        if (P is not None and opt.hyper_version is self.hyper_seen and grad_mode.enabled
                and mi_max_threads() == self._threads and self._intact()):
            loss = (<Program?> P).step(x, y, opt.lr)
            if loss is not None:
                self._eager_out = None
                self._account(1)
                return loss
        return self._slow(x, y)

    def _params_intact(self):
        """Python's view of the check the fast path makes before each call."""
        return self._intact()

    cpdef _account(self, Py_ssize_t nsteps):
        """What the eager optimizer's step records besides the arithmetic: the step
        count, each updated parameter's version (its data changed in place), and each
        parameter's ``.grad`` pointing at this step's gradient."""
        cdef Py_ssize_t i
        cdef PyObject** s
        cdef PyObject* old
        # into __dict__ as Optimizer.step does: step_count is no hyper-parameter, and
        # Optimizer.__setattr__'s Python frame was a tenth of the tiny MLP's step
        counts = self._opt.__dict__
        counts["step_count"] = counts["step_count"] + nsteps
        for p in self.updated:
            if self.off_version >= 0:
                s = _slot(p, self.off_version)
                if s[0] != NULL:
                    new = PyLong_FromSsize_t(PyLong_AsSsize_t(<object> s[0]) + nsteps)
                    Py_XINCREF(<PyObject*> new)
                    old = s[0]
                    s[0] = <PyObject*> new
                    Py_XDECREF(old)
                    continue
            p._version = p._version + nsteps
        for i in range(len(self.params)):
            p = self.params[i]
            g = self.grads[i]
            if self.off_grad >= 0:
                s = _slot(p, self.off_grad)
                if s[0] != <PyObject*> g:
                    Py_XINCREF(<PyObject*> g)
                    old = s[0]
                    s[0] = <PyObject*> g
                    Py_XDECREF(old)
            elif p.grad is not g:
                p.grad = g
