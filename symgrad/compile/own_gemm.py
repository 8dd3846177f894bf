"""symgrad's own GEMM (csrc_templates/gemm.c): one small library per machine in the compile
cache, whose two entry points every kernel library receives by address (``sg_set_own_gemm``
in csrc_templates/kernel.h) where ``blas_c.own_gemm_wanted`` says so.

Built once rather than into each function's library: its AVX-512 kernels take gcc about
0.4 s, which would have pushed the digits step's cold compile past 1 s. The build starts in
a thread when the first function that may use it is compiled, beside that function's own
library, and the library's load waits for it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from symgrad.codegen.templates import render, section
from symgrad.compile.cbuild import CCompileError, LoadedLibrary, build_library, compiler_info

SOURCE_FILE = "gemm.c"
CDEF = """
int sg_gemm_available(void);
int64_t sg_gemm_float64(int64_t, int64_t, int64_t, double, const double *, int, int64_t, const double *,
                        int, int64_t, double, double *, int64_t, int);
int64_t sg_gemm_float32(int64_t, int64_t, int64_t, float, const float *, int, int64_t, const float *,
                        int, int64_t, float, float *, int64_t, int);
"""

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _build() -> LoadedLibrary:
    openmp = ("-fopenmp",) if compiler_info().openmp else ()
    return build_library(
        render(section(SOURCE_FILE, "gemm")),
        CDEF,
        name_hint="symgrad GEMM",
        extra_flags=(*openmp, "-O2"),  # after the base -O3: see gemm.c, SG_GEMM_PACK_OPT
        extra_link_flags=openmp,
    )


def start_building() -> None:
    """Begin building (or loading) the library in a thread, once per process."""
    with _lock:
        if "future" in _state:
            return
        future: Future = Future()
        _state["future"] = future

    def work() -> None:
        try:
            future.set_result(_build())
        except (CCompileError, OSError) as exc:
            future.set_result(exc)

    threading.Thread(target=work, name="symgrad-gemm-build", daemon=True).start()


def entry_points() -> tuple[int, int] | None:
    """The addresses of ``sg_gemm_float64`` and ``sg_gemm_float32``, or None when the library
    did not build or was built without AVX-512 (then CBLAS does every product)."""
    start_building()
    library = _state["future"].result()
    if not isinstance(library, LoadedLibrary) or not library.lib.sg_gemm_available():
        return None
    _state["library"] = library  # keeps it loaded while kernel libraries hold its addresses
    cast = library.ffi.cast
    return (
        int(cast("intptr_t", library.lib.sg_gemm_float64)),
        int(cast("intptr_t", library.lib.sg_gemm_float32)),
    )
