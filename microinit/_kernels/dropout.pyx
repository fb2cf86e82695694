"""Inverted dropout, forward and backward, each one pass over the elements.

Given uniform draws u in [0, 1) (one per element, from a numpy Generator: the op
draws them, so seeding is numpy's) and the drop probability p::

    keep = u >= p                       (probability 1 - p)
    y    = x * (keep ? scale : 0)       scale = 1 / (1 - p), rounded once to x's dtype
    dx   = dy * (keep ? scale : 0)

A dropped element is multiplied by 0, not overwritten, so a NaN/inf input stays
NaN (as in PyTorch, whose mask is multiplied in). p = 1 keeps nothing (scale 0, all
zeros as in PyTorch); p = 0 keeps everything (scale 1). ``keep`` is returned as a
uint8 mask for backward.

The entry points are the fast lane of ``microinit/ops/normalization.py``: they return
None unless the arguments are exact C-contiguous, native-order ndarrays (x and u of
one float dtype and one shape, the mask uint8 of that shape); the op then converts
them through the boundary (``ops/_boundary.py``) and calls again. Numpy twins:
``reference.dropout_forward``/``dropout_backward``.

    >>> import numpy as np
    >>> y, keep = dropout_forward(np.ones(4), np.array([0.1, 0.7, 0.4, 0.9]), 0.5)
    >>> y.tolist(), keep.tolist()
    ([0.0, 2.0, 0.0, 2.0], [0, 1, 0, 1])
    >>> dropout_backward(np.ones(4), keep, 0.5).tolist()
    [0.0, 2.0, 0.0, 2.0]
"""
from cython cimport floating
cimport numpy as cnp

from microinit._kernels.dropout_core cimport dropout_backward_core, dropout_forward_core, dropout_scale
from microinit._kernels.fastpath cimport plain_float_type, plain_of, same_shape

cnp.import_array()


def dropout_forward(x, u, double p):
    """``(y, keep)`` for plain ``x`` and uniforms ``u`` of x's shape and dtype, or None.

    ``p`` must lie in [0, 1] (the op checks it; anything else returns None).
    """
    cdef int t = plain_float_type(x, -1)
    if t < 0 or not (0.0 <= p <= 1.0):
        return None
    cdef cnp.ndarray X = <cnp.ndarray> x
    cdef int nd = cnp.PyArray_NDIM(X)
    if not plain_of(u, t, nd) or not same_shape(X, <cnp.ndarray> u):
        return None
    cdef cnp.ndarray y = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(X), t, 0)
    cdef cnp.ndarray keep = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(X), cnp.NPY_UINT8, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(X)
    cdef double scale = dropout_scale(p)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pu = cnp.PyArray_DATA(<cnp.ndarray> u)
    cdef void* py = cnp.PyArray_DATA(y)
    cdef cnp.uint8_t* pk = <cnp.uint8_t*> cnp.PyArray_DATA(keep)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dropout_forward_core(<const float*> px, <const float*> pu, <float> p, <float> scale, <float*> py, pk, n)
        else:
            dropout_forward_core(<const double*> px, <const double*> pu, p, scale, <double*> py, pk, n)
    return y, keep


def dropout_backward(dy, keep, double p):
    """``dx = dy * (keep ? scale : 0)`` for plain ``dy`` and a uint8 ``keep`` of its
    shape, or None."""
    cdef int t = plain_float_type(dy, -1)
    if t < 0 or not (0.0 <= p <= 1.0):
        return None
    cdef cnp.ndarray G = <cnp.ndarray> dy
    cdef int nd = cnp.PyArray_NDIM(G)
    if not plain_of(keep, cnp.NPY_UINT8, nd) or not same_shape(G, <cnp.ndarray> keep):
        return None
    cdef cnp.ndarray dx = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(G), t, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(G)
    cdef double scale = dropout_scale(p)
    cdef void* pg = cnp.PyArray_DATA(G)
    cdef const cnp.uint8_t* pk = <const cnp.uint8_t*> cnp.PyArray_DATA(<cnp.ndarray> keep)
    cdef void* pdx = cnp.PyArray_DATA(dx)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dropout_backward_core(<const float*> pg, pk, <float> scale, <float*> pdx, n)
        else:
            dropout_backward_core(<const double*> pg, pk, scale, <double*> pdx, n)
    return dx
