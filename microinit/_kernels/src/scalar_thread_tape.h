/* The recording tape of the calling thread, for microinit/scalar/_graph.pyx.
 *
 * Each thread records the Values it creates on a tape of its own, so that threads
 * which each train their own model never share a tape, and a backward() in one
 * thread never seals the tape another thread is recording on (which would change
 * how that thread's gradients are summed: docs/reliability.md row 59).
 *
 * The pointer kept here is borrowed. The reference is owned by the thread state's
 * dict, which Python clears when the thread ends, so a finished thread's tape is
 * freed with its last node instead of leaking.
 */
#ifndef MICROINIT_SCALAR_THREAD_TAPE_H
#define MICROINIT_SCALAR_THREAD_TAPE_H

#include <Python.h>

static _Thread_local PyObject *mi_thread_tape = NULL;

static inline PyObject *mi_get_thread_tape(void) { return mi_thread_tape; }

/* Make `tape` (or NULL: none) the calling thread's recording tape, owned under
 * `key` in the thread state's dict. Returns -1 with an exception set on failure. */
static int mi_set_thread_tape(PyObject *key, PyObject *tape) {
    PyObject *d = PyThreadState_GetDict();  /* borrowed */
    if (d == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scalar tape: this thread has no state dict");
        return -1;
    }
    mi_thread_tape = NULL;
    if (tape == NULL) {
        if (PyDict_DelItem(d, key) < 0) {
            PyErr_Clear();  /* there was no tape: nothing to drop */
        }
        return 0;
    }
    if (PyDict_SetItem(d, key, tape) < 0) {
        return -1;
    }
    mi_thread_tape = tape;
    return 0;
}

#endif /* MICROINIT_SCALAR_THREAD_TAPE_H */
