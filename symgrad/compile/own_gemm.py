"""symgrad's own GEMM (csrc_templates/gemm.c): small libraries in the compile cache, one per
float dtype, built once per machine; every kernel library receives their entry points by
address (``sg_set_own_gemm`` in csrc_templates/kernel.h) where ``blas_c.own_gemm_wanted``
says so.

Built apart from the functions' libraries: its AVX-512 kernels take gcc about 0.1 s per dtype
on top of the headers, which compiled into each library had pushed the digits step's cold
compile past 1 s. A build starts in a thread when the first function with a product of that
dtype is compiled, beside the function's own library, and the library's load waits for it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from symgrad.codegen.templates import render, section
from symgrad.compile.cbuild import LoadedLibrary, build_in_background, build_library, compiler_info

SOURCE_FILE = "gemm.c"
DTYPES = ("float64", "float32")
C_TYPES = {"float64": "double", "float32": "float"}


def _cdef(dtype: str) -> str:
    t = C_TYPES[dtype]
    return (
        "int sg_gemm_available(void);\n"
        f"int64_t sg_gemm_{dtype}(int64_t, int64_t, int64_t, {t}, const {t} *, int, int64_t, "
        f"const {t} *, int, int64_t, {t}, {t} *, int64_t, int, const {t} *, int64_t, int64_t);"
    )


_kept: dict[str, LoadedLibrary] = {}  # loaded while kernel libraries hold their addresses


def _build(dtype: str) -> LoadedLibrary:
    openmp = ("-fopenmp",) if compiler_info().openmp else ()
    return build_library(
        render(section(SOURCE_FILE, "gemm")) + render(section(SOURCE_FILE, f"gemm_{dtype}")),
        _cdef(dtype),
        name_hint=f"symgrad GEMM {dtype}",
        extra_flags=(*openmp, "-O2"),  # after the base -O3: see gemm.c, SG_GEMM_PACK_OPT
        extra_link_flags=openmp,
    )


def start_building(dtypes: Iterable[str]) -> None:
    """Begin building (or loading) each dtype's library in a thread, once per process."""
    for dtype in dtypes:
        build_in_background(f"GEMM {dtype}", functools.partial(_build, dtype))


def entry_point(dtype: str) -> int | None:
    """The address of ``sg_gemm_<dtype>``, or None when its library did not build or was
    built without AVX-512 (then CBLAS does those products)."""
    library: Any = build_in_background(f"GEMM {dtype}", functools.partial(_build, dtype)).result()
    if not isinstance(library, LoadedLibrary) or not library.lib.sg_gemm_available():
        return None
    _kept[dtype] = library
    return int(library.ffi.cast("intptr_t", getattr(library.lib, f"sg_gemm_{dtype}")))
