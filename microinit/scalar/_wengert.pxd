# cython: language_level=3
"""A Wengert list in growable C arrays, and the one chain-rule loop that runs over it.

See ``_wengert.pyx``. Both the recording tape (``_graph.pyx``) and the ``Tape``
snapshot (``_snapshot.pyx``) keep their entries in an ``Arrays`` and run backward
with ``chain_rule``: the engine has one backward mechanism.
"""

# Entry i: node i = op[i](x0[i], x1[i]; param[i]). A node's `data` and `grad` are
# adjacent doubles, so one pointer reaches both: p[0] is data, p[1] is grad.
cdef struct Arrays:
    Py_ssize_t cap
    int* op            # op code (_ops.pxd), OP_DEAD once the node is freed
    char* reached      # this pass: does the output depend on the entry?
    double* param      # saved constant
    double* buf        # this pass: d output / d entry
    double** out       # &node.data
    double** x0        # &input0.data, NULL for an entry without inputs (a leaf)
    double** x1        # &input1.data, NULL for a unary op
    Py_ssize_t* s0     # slot of input0 in this list; -1: a leaf not in the list
    Py_ssize_t* s1     # (<= -2: a foreign input, see ``chain_rule``)

cdef int regrow(void** p, Py_ssize_t cap, size_t size) except -1
cdef int grow_arrays(Arrays* a, Py_ssize_t cap) except -1
cdef void free_arrays(Arrays* a) noexcept nogil
cdef void chain_rule(Arrays* a, Py_ssize_t hi, double* ext, char* ext_reached) noexcept nogil
