# cython: language_level=3
"""Argument checks for the def entry points of the kernel modules (header-only).

Kernels run nogil loops over raw data pointers with bounds checking off, so a direct
call with a short output, a mismatched length, a byte-swapped dtype or a strided view
would read or write memory the arrays do not own. The boundary in front of the
kernels already guarantees all of this; these checks make the entry points safe on
their own too, at the cost of a few C-level comparisons per array: the wrong kind of
object or dtype raises TypeError, a bad shape, layout or code ValueError, each message
naming the entry point, the argument and what it got.
"""
cimport numpy as cnp


cdef inline int float_typenum(str op, str name, object a) except -1:
    """The numpy type number of a, which must be a float32/float64 ndarray in native
    byte order."""
    cdef int t
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, got {type(a).__name__}")
    t = cnp.PyArray_TYPE(<cnp.ndarray> a)
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> a):
        raise TypeError(f"{op}: {name} has dtype {a.dtype}; kernels take float32 or float64 "
                        f"in native byte order")
    return t


cdef inline int check_array(str op, str name, object a, int typenum, int ndim,
                            bint writeable, str what="") except -1:
    """Raise unless a is an aligned, C-contiguous ndarray of typenum (native byte order)
    with ndim dimensions, writeable if asked. Messages call it ``what + name``."""
    cdef cnp.ndarray arr
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{op}: {what}{name} must be a numpy array, got {type(a).__name__}")
    arr = <cnp.ndarray> a
    if cnp.PyArray_TYPE(arr) != typenum or not cnp.PyArray_ISNOTSWAPPED(arr):
        raise TypeError(f"{op}: {what}{name} has dtype {a.dtype}, expected "
                        f"{'float32' if typenum == cnp.NPY_FLOAT32 else 'float64'} in native "
                        f"byte order (all arguments alike)")
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{op}: {what}{name} must be {ndim}-D, got shape {a.shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not cnp.PyArray_ISALIGNED(arr):
        raise ValueError(f"{op}: {what}{name} must be C-contiguous and aligned, got shape {a.shape} "
                         f"with strides {a.strides}")
    if writeable and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{op}: {what}{name} is read-only")
    return 0


cdef inline int check_vector(str op, str name, object a, int typenum, Py_ssize_t n,
                             bint writeable) except -1:
    """check_array for a 1-D array, which must also hold exactly n elements."""
    check_array(op, name, a, typenum, 1, writeable)
    if cnp.PyArray_DIMS(<cnp.ndarray> a)[0] != n:
        raise ValueError(f"{op}: {name} has length {a.shape[0]}, expected {n}")
    return 0


# --- argument checks for the def entry points -----------------------------------
# Kernel entry points take ndarrays and read their data pointers: a def function with
# fused typed-memoryview arguments costs ~2.4 us per call to acquire three buffers,
# an ndarray argument ~0.1 us (measured here, Cython 3.3), and the tiny networks this
# library targets run a whole layer in about that time. ops/linalg.py validates
# shapes and dtypes with clear messages before calling; these checks only guarantee
# that a direct, wrong call raises instead of touching memory it does not own.

cdef inline int mi_check(cnp.ndarray a, int typenum, int ndim, bint writeable,
                         Py_ssize_t d0, Py_ssize_t d1, str name, str op="kernel") except -1:
    """check_array, then the shape: (d0,) or (d0, d1); op names the entry point."""
    cdef object o = a
    check_array(op, name, a, typenum, ndim, writeable, "argument ")
    if cnp.PyArray_DIMS(a)[0] != d0 or (ndim == 2 and cnp.PyArray_DIMS(a)[1] != d1):
        want = (<object> d0,) if ndim == 1 else (<object> d0, <object> d1)
        raise ValueError(f"{op}: argument {name}: expected shape {want}, got {o.shape}")
    return 0


cdef inline int mi_float_type(cnp.ndarray out, str op="kernel") except -1:
    """float_typenum of the output array, which sets the dtype of every argument."""
    return float_typenum(op, "out", out)
