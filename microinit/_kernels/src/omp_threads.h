/* OpenMP through a guard (declared for Cython in gemm.pxd).

   setup.py builds without OpenMP on macOS or with MICROINIT_NO_OPENMP=1, and a direct
   omp_* call would then leave an undefined symbol (the module would fail to import).
   Without OpenMP there is one thread. */
#ifndef MICROINIT_OMP_THREADS_H
#define MICROINIT_OMP_THREADS_H

#include "mi_compiler.h"

#ifdef _OPENMP
#include <omp.h>
static MI_MAYBE_UNUSED int mi_max_threads(void) { return omp_get_max_threads(); }
static MI_MAYBE_UNUSED int mi_thread_num(void) { return omp_get_thread_num(); }
static MI_MAYBE_UNUSED void mi_set_threads(int n) { omp_set_num_threads(n); }
#define MI_HAS_OPENMP 1
#else
static MI_MAYBE_UNUSED int mi_max_threads(void) { return 1; }
static MI_MAYBE_UNUSED int mi_thread_num(void) { return 0; }
static MI_MAYBE_UNUSED void mi_set_threads(int n) { (void)n; }
#define MI_HAS_OPENMP 0
#endif

#endif /* MICROINIT_OMP_THREADS_H */
