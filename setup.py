"""Build the Cython kernels in microinit/_kernels/.

Everything else about the package is in pyproject.toml; this file only says what
pyproject cannot: which extensions to compile and how.

Environment switches (read at build time):
  MICROINIT_DEBUG=1     turn bounds checking and wraparound back on, -O0 -g
  MICROINIT_PORTABLE=1  do not compile with -march=native (for wheels you ship); the GEMM
                        kernels still pick AVX-512/AVX2 at run time (docs/building.md)
  MICROINIT_NO_OPENMP=1 build without OpenMP (kernels then run on one thread)
  MICROINIT_BUILD_JOBS=N compile N extensions at a time (default: one per CPU)
  MICROINIT_NO_BUILD_CACHE=1 always compile (do not reuse build/ext-cache)
  MICROINIT_ASAN=1      compile and link with AddressSanitizer (-fsanitize=address
                        -fno-omit-frame-pointer); run with libasan preloaded, see
                        docs/reliability.md, "Fuzzing and sanitizers"

Set-up time (the README's first command builds everything): the extensions compile
in parallel, largest first, and every compiled extension is kept in build/ext-cache
under a hash of everything that goes into it (its C source, the .pxd/.h files, the
flags, compiler, Python and numpy). pip builds an editable install in a new temporary
directory each time, so without the cache `pip install -e ".[test]"` after
`pip install -e .` compiled everything again; with it, only what changed compiles.
"""
import hashlib
import os
import re
import platform
import shutil
import sys
import sysconfig
from glob import glob

import Cython
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

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

# -g0: Python's own CFLAGS ask for debug info (-g), which costs compile time and does
# not change the generated code; MICROINIT_DEBUG keeps it.
compile_args = ["-O0", "-g"] if DEBUG else ["-O3", "-ffp-contract=fast", "-g0"]
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
# Every .pxd and C header: a change to any of them changes every extension's cache key
# (coarse, but never stale).
DEPENDS = sorted(glob(os.path.join("microinit", "**", "*.pxd"), recursive=True)
                 + glob(os.path.join(C_SOURCES, "*.h")))
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
            depends=DEPENDS,
            **extra,
        )
    )

JOBS = int(os.environ.get("MICROINIT_BUILD_JOBS") or 0) or os.cpu_count() or 1
CACHE_DIR = os.path.join(HERE, "build", "ext-cache")
CACHE = os.environ.get("MICROINIT_NO_BUILD_CACHE") != "1"
CACHE_KEEP = 3  # cached C files and builds kept per extension (the newest)


def _machine():
    """What -march=native compiles for: the CPU's model and flags."""
    if PORTABLE or DEBUG or not os.path.exists("/proc/cpuinfo"):
        return platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        lines = [ln for ln in f.read().split("\n\n")[0].splitlines() if ln.startswith(("model name", "flags"))]
    return platform.machine() + "\n".join(lines)


def _hash(facts, paths):
    h = hashlib.sha256()
    for fact in facts:
        h.update(repr(fact).encode() + b"\0")
    for path in paths:
        with open(path, "rb") as f:
            h.update(path.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:24]


def source_key(ext):
    """A hash of what Cython turns into the extension's C file: its .pyx, every .pxd
    and header, the directives, Cython's version. (Not the C file itself: Cython writes
    the temporary path of pip's build environment into it.)"""
    return _hash((ext.name, Cython.__version__, sorted(directives.items())), list(ext.sources) + DEPENDS)


def compile_key(ext):
    """A hash of everything that goes into a compiled extension: its C source (by
    ``source_key``) and how it is compiled and linked."""
    facts = (SOURCE_KEYS[ext.name], sys.version, sysconfig.get_platform(), np.__version__, _machine(),
             ext.extra_compile_args, ext.extra_link_args, ext.define_macros, ext.libraries,
             sysconfig.get_config_var("CC"), sysconfig.get_config_var("CFLAGS"),
             os.environ.get("CC"), os.environ.get("CFLAGS"), os.environ.get("LDFLAGS"))
    return _hash(facts, [])


def _store(path, cached):
    """Copy ``path`` into the cache atomically (a concurrent build never reads half a file)."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    tmp = f"{cached}.{os.getpid()}.tmp"
    shutil.copyfile(path, tmp)
    os.replace(tmp, cached)
    name, suffix = os.path.basename(cached).split(".", 1)[0], os.path.splitext(cached)[1]
    old = sorted(glob(os.path.join(CACHE_DIR, f"{name}.*{suffix}")), key=os.path.getmtime, reverse=True)
    for stale in old[CACHE_KEEP:]:
        os.remove(stale)


def _reuse(cached, path):
    """Copy a cached file to ``path`` (with a new mtime, so it counts as up to date)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    shutil.copyfile(cached, path)
    os.utime(cached)  # recently used: kept by _store's pruning
    print(f"{path}: unchanged, reused {os.path.relpath(cached, HERE)}")


SOURCE_KEYS = {ext.name: source_key(ext) for ext in extensions}


def cythonize_cached(exts):
    """cythonize, reusing the C file of every extension whose sources did not change.

    pip builds in a new environment each time, whose numpy headers are newer than any
    C file, so Cython alone would regenerate them all."""
    c_files = {ext.name: os.path.splitext(ext.sources[0])[0] + ".c" for ext in exts}
    cached = {name: os.path.join(CACHE_DIR, f"{name.replace('.', '_')}.{SOURCE_KEYS[name]}.c") for name in c_files}
    if CACHE:
        for name, c in c_files.items():
            if os.path.exists(cached[name]):
                _reuse(cached[name], c)
    modules = cythonize(exts, compiler_directives=directives, quiet=True, nthreads=JOBS)
    if CACHE:
        for name, c in c_files.items():
            if not os.path.exists(cached[name]) and os.path.exists(c):
                _store(c, cached[name])
    return modules


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def compile_cost(path, depth=0):
    """About how long ``path`` takes to compile: its bytes, plus four times the bytes of
    every header of microinit/_kernels/src it includes, counted once per inclusion. The
    GEMM's headers are included once per instruction set and are all optimised loops
    (matmul.c: 1.2 MB of its own, 0.37 MB of headers, 11.6 s of gcc; xent.c: 1.8 MB of
    mostly Cython glue, 5.2 s). Sorting by file size alone started matmul midway and
    left one core compiling it alone at the end."""
    with open(path, errors="replace") as f:
        text = f.read()
    total = len(text) * (4 if depth else 1)
    for name in INCLUDE.findall(text):
        header = os.path.join(HERE, "microinit", "_kernels", "src", name)
        if os.path.exists(header):
            total += compile_cost(header, depth + 1)
    return total


class ParallelCachedBuildExt(build_ext):
    """build_ext that compiles ``JOBS`` extensions at a time, largest first, and reuses
    a compiled extension from CACHE_DIR when nothing that goes into it changed."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = JOBS

    def build_extensions(self):
        # the longest compiles first, so no core idles at the end
        self.extensions.sort(key=lambda e: -sum(compile_cost(s) for s in e.sources if os.path.exists(s)))
        super().build_extensions()

    def build_extension(self, ext):
        if not CACHE:
            return super().build_extension(ext)
        target = self.get_ext_fullpath(ext.name)
        cached = os.path.join(CACHE_DIR, f"{ext.name.replace('.', '_')}.{compile_key(ext)}"
                                         f"{os.path.splitext(target)[1]}")
        if not self.force and os.path.exists(cached):
            _reuse(cached, target)
            return None
        super().build_extension(ext)
        _store(target, cached)
        return None


setup(
    ext_modules=cythonize_cached(extensions),
    cmdclass={"build_ext": ParallelCachedBuildExt},
)
