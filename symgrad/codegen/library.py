"""One C library per compiled function: the prelude once, then every kernel it needs.

Elementwise kernels (``ElemwiseKernel``) and op kernels (``OpKernel``) share the prelude
(``scalar_math.h``, the elementwise runtime, ``kernel.h``); op kernels may add helper snippets
(emitted once per library, in order of first use) and compiler or linker flags.
"""

from __future__ import annotations

from collections.abc import Sequence

from symgrad.codegen.elemwise_c import ElemwiseKernel, libmvec_available, prelude
from symgrad.codegen.kernels import OpKernel

Kernel = ElemwiseKernel | OpKernel
THREADS_CDEF = "int64_t sg_set_num_threads(int64_t n);"


def _unique(kernels: Sequence[Kernel]) -> list[Kernel]:
    return list({k.name: k for k in kernels}.values())


def library_source(kernels: Sequence[Kernel], *, vector_math: bool | None = None) -> str:
    """The C source of a library holding ``kernels`` (a kernel listed twice appears once)."""
    unique = _unique(kernels)
    if vector_math is None:
        vector_math = any("mvec" in getattr(k, "libraries", ()) for k in unique) or (
            not any(isinstance(k, ElemwiseKernel) for k in unique) and libmvec_available()
        )
    helpers = dict.fromkeys(h for k in unique for h in getattr(k, "helpers", ()))
    return "\n".join([prelude(vector_math), *helpers, *(k.code for k in unique)])


def library_cdef(kernels: Sequence[Kernel]) -> str:
    """The cffi declarations of every kernel, plus the thread-count setter."""
    return "\n".join(dict.fromkeys([THREADS_CDEF, *(k.cdef for k in kernels)]))


def library_flags(kernels: Sequence[Kernel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compile flags, link flags) the kernels ask for, each once, in order of first use."""
    flags = dict.fromkeys(f for k in kernels for f in getattr(k, "flags", ()))
    libs = dict.fromkeys(f"-l{lib}" for k in kernels for lib in getattr(k, "libraries", ()) if lib != "m")
    links = dict.fromkeys(f for k in kernels for f in getattr(k, "link_flags", ()))
    return tuple(flags), (*libs, *links)
