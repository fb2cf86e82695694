"""Build the Cython kernels in microinit/_kernels/.

Everything else about the package is in pyproject.toml; this file only says what
pyproject cannot: which extensions to compile and how.

Environment switches (read at build time):
  MICROINIT_DEBUG=1     turn bounds checking and wraparound back on, -O0 -g
  MICROINIT_PORTABLE=1  do not compile with -march=native (for wheels you ship)
  MICROINIT_NO_OPENMP=1 build without OpenMP (kernels then run on one thread)
  MICROINIT_ASAN=1      compile and link with AddressSanitizer (-fsanitize=address
                        -fno-omit-frame-pointer); run with libasan preloaded, see
                        docs/reliability.md, "Fuzzing and sanitizers"
"""
import os
import sys
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("MICROINIT_DEBUG") == "1"
PORTABLE = os.environ.get("MICROINIT_PORTABLE") == "1"
OPENMP = os.environ.get("MICROINIT_NO_OPENMP") != "1" and sys.platform != "darwin"
ASAN = os.environ.get("MICROINIT_ASAN") == "1"

# Directives are set once, here. Kernels may only rely on boundscheck=False because
# every array reaches them through microinit/ops/_boundary.py, which fixes dtype, byte
# order, contiguity and shapes (docs/design.md).
directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "nonecheck": False,
    "embedsignature": True,
}

compile_args = ["-O0", "-g"] if DEBUG else ["-O3", "-ffp-contract=fast"]
if not PORTABLE and not DEBUG:
    compile_args.append("-march=native")
link_args = []
if OPENMP:
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")
if ASAN:
    # every out-of-bounds read or write in a kernel aborts with a report instead of
    # corrupting memory quietly (the Python interpreter itself is not instrumented)
    compile_args += ["-fsanitize=address", "-fno-omit-frame-pointer"]
    link_args += ["-fsanitize=address"]

# Kernels that draw random numbers use numpy's C bit-generator interface, whose
# distribution functions live in numpy's static npyrandom library.
NPYRANDOM = {
    "library_dirs": [os.path.join(np.get_include(), "..", "..", "random", "lib")],
    "libraries": ["npyrandom"],
}
NEEDS_NPYRANDOM = {"sampling"}

# Every .pyx under microinit/ is an extension named after its path
# (microinit/_kernels/dense.pyx -> microinit._kernels.dense); plain C lives in
# microinit/_kernels/src/*.h and is found through the include path.
C_SOURCES = os.path.join("microinit", "_kernels", "src")
extensions = []
for pyx in sorted(glob(os.path.join("microinit", "**", "*.pyx"), recursive=True)):
    module = os.path.splitext(pyx)[0].replace(os.sep, ".")
    name = module.rsplit(".", 1)[1]
    extra = NPYRANDOM if name in NEEDS_NPYRANDOM else {}
    extensions.append(
        Extension(
            module,
            [pyx],
            include_dirs=[np.get_include(), C_SOURCES],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            **extra,
        )
    )

setup(ext_modules=cythonize(extensions, compiler_directives=directives, quiet=True))
