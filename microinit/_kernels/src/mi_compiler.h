/* Compiler portability macros shared by the kernel headers in this folder. */
#ifndef MICROINIT_MI_COMPILER_H
#define MICROINIT_MI_COMPILER_H

/* Static helpers a given extension module may not call: no unused-function warning. */
#if defined(__GNUC__)
#define MI_MAYBE_UNUSED __attribute__((unused))
#else
#define MI_MAYBE_UNUSED
#endif

#endif /* MICROINIT_MI_COMPILER_H */
