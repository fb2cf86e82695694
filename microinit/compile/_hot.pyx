# cython: language_level=3
"""The per-call path of ``CompiledStep`` in C: one program call and the bookkeeping
the eager optimizer does, without a Python frame.

A tiny network's whole step computes in ~4 us; the same few lines in Python (read the
learning rate, run the program, advance ``step_count``, bump each parameter's
version, point each ``.grad`` at its buffer) cost another ~1 us. ``StepCore`` is the
base class of ``CompiledStep`` (microinit/compile/step.py), which sets its fields and
supplies ``_slow`` for every call the program does not take.
"""


cdef class StepCore:
    """``__call__(x, y)``: run the current program, or ``self._slow(x, y)``."""

    cdef public object _fast              # the Program used last (None before a capture)
    cdef public object _opt               # the optimizer (its lr is read per call)
    cdef public list _params              # model parameters, in model order
    cdef public list _grads               # their gradient buffers (of the current program)
    cdef public list _updated             # the optimizer's parameters (their versions bump)
    cdef public object _eager_out         # the model output of the last step if it ran eagerly

    def __call__(self, x, y):
        P = self._fast
        if P is not None:
            loss = P.step(x, y, self._opt.lr)
            if loss is not None:
                self._eager_out = None
                self._account(1)
                return loss
        return self._slow(x, y)

    cpdef _account(self, Py_ssize_t nsteps):
        """What the eager optimizer's step records besides the arithmetic: the step
        count, each updated parameter's version (its data changed in place), and each
        parameter's ``.grad`` pointing at this step's gradient."""
        cdef Py_ssize_t i
        opt = self._opt
        opt.step_count = opt.step_count + nsteps
        for p in self._updated:
            p._version = p._version + nsteps
        for i in range(len(self._params)):
            p = self._params[i]
            g = self._grads[i]
            if p.grad is not g:
                p.grad = g
