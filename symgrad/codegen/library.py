"""One C library per compiled function: the prelude once, then every kernel it needs.

Elementwise kernels (``ElemwiseKernel``) and op kernels (``OpKernel``) share the prelude
(``scalar_math.h``, the elementwise runtime, ``kernel.h``); op kernels may add helper snippets
(emitted once per library, in order of first use) and compiler or linker flags.

A big library is split into several translation units (``library_units``) that the compiler
builds in parallel, one per core: gcc -O3 spends 0.05-0.3 s per kernel, and a training step has
dozens. Each unit repeats the prelude (about 0.03 s of parsing) and the helpers its kernels use.
"""

from __future__ import annotations

from collections.abc import Sequence

from symgrad.codegen.elemwise_c import ElemwiseKernel, libmvec_available, prelude
from symgrad.codegen.kernels import OpKernel

Kernel = ElemwiseKernel | OpKernel
THREADS_CDEF = "int64_t sg_set_num_threads(int64_t n);\nvoid sg_set_own_gemm(void *dgemm, void *sgemm);"
SECONDARY_UNIT = "#define SG_SECONDARY_UNIT 1\n"  # see kernel.h: the thread count lives in unit 0
# Characters of kernel and helper C per extra translation unit: a unit's own fixed cost (the
# prelude, the elementwise driver) is about what gcc spends on this much kernel code.
UNIT_MIN_CHARS = 12_000


def _unique(kernels: Sequence[Kernel]) -> list[Kernel]:
    return list({k.name: k for k in kernels}.values())


def _wants_vector_math(kernels: Sequence[Kernel]) -> bool:
    """libmvec's declarations in the prelude: when an elementwise kernel links it, or (op
    kernels only) when it is available."""
    return any("mvec" in getattr(k, "libraries", ()) for k in kernels) or (
        not any(isinstance(k, ElemwiseKernel) for k in kernels) and libmvec_available()
    )


def library_source(kernels: Sequence[Kernel], *, vector_math: bool | None = None) -> str:
    """The C source of a library holding ``kernels`` (a kernel listed twice appears once)."""
    unique = _unique(kernels)
    if vector_math is None:
        vector_math = _wants_vector_math(unique)
    helpers = dict.fromkeys(h for k in unique for h in getattr(k, "helpers", ()))
    return "\n".join([prelude(vector_math), *helpers, *(k.code for k in unique)])


def library_units(kernels: Sequence[Kernel], jobs: int, *, vector_math: bool | None = None) -> list[str]:
    """The library's source as up to ``jobs`` translation units of about equal compile cost
    (longest kernels first, each to the unit that is lightest with it; a helper counts once
    per unit).
    One unit, exactly ``library_source``, when the kernels are few or small."""
    unique = _unique(kernels)
    cost = {k.name: len(k.code) for k in unique}
    helper_cost = {h: len(h) for k in unique for h in getattr(k, "helpers", ())}
    total = sum(cost.values()) + sum(helper_cost.values())
    count = max(1, min(jobs, len(unique), total // UNIT_MIN_CHARS))
    if count == 1:
        return [library_source(unique, vector_math=vector_math)]
    if vector_math is None:  # decided once for the whole library, not per unit
        vector_math = _wants_vector_math(unique)
    units: list[list[Kernel]] = [[] for _ in range(count)]
    unit_helpers: list[set[str]] = [set() for _ in range(count)]
    loads = [0] * count
    for kernel in sorted(unique, key=lambda k: -cost[k.name]):
        # The unit that ends up lightest with this kernel: one that already has its helpers
        # (the reduction engine, say) pays only for the kernel's own code.
        def load_with(u: int, kernel: Kernel = kernel) -> int:
            helpers = getattr(kernel, "helpers", ())
            return (
                loads[u]
                + cost[kernel.name]
                + sum(helper_cost[h] for h in helpers if h not in unit_helpers[u])
            )

        u = min(range(count), key=load_with)
        loads[u] = load_with(u)
        unit_helpers[u].update(getattr(kernel, "helpers", ()))
        units[u].append(kernel)
    sources = [library_source(unit, vector_math=vector_math) for unit in units if unit]
    return [sources[0], *(SECONDARY_UNIT + source for source in sources[1:])]


# What mode 'c' declares to cffi: the thread setter and one table of every exported function.
# Parsing a cdef with cffi costs about 2 ms per declared function (pycparser), 0.15 s for a
# training step's kernels; the table's few pointer types are parsed once per process.
TABLE_NAME = "sg_kernel_table"
ELEMWISE_SIGNATURE = "int64_t(*)(int64_t, const int64_t *, char *const *, const int64_t *)"
OP_SIGNATURE = "int64_t(*)(char *const *, const int64_t *, const int64_t *, int64_t *)"


def kernel_entries(kernel: Kernel) -> list[tuple[str, str]]:
    """(C name, cffi function pointer type) of each function ``kernel`` exports."""
    if isinstance(kernel, OpKernel):
        return [(kernel.name + "_shape", OP_SIGNATURE), (kernel.name + "_run", OP_SIGNATURE)]
    nops = len(kernel.input_dtypes) + len(kernel.output_dtypes)
    flat = f"int64_t(*)(int64_t, int64_t{', char *' * nops})"
    return [(kernel.name, ELEMWISE_SIGNATURE), (kernel.name + "_flat", flat)]


def table_source(kernels: Sequence[Kernel]) -> str:
    """C that defines the table (prototypes first: it may sit in another translation unit
    than the kernels), in the order of ``_unique(kernels)``, two entries per kernel."""
    unique = _unique(kernels)
    names = [name for k in unique for name, _ in kernel_entries(k)]
    entries = ", ".join(f"(void *){name}" for name in names) or "0"
    return "\n".join([*(k.cdef for k in unique), f"void *const {TABLE_NAME}[] = {{ {entries} }};", ""])


def table_cdef(kernels: Sequence[Kernel]) -> str:
    """The cffi declarations that go with ``table_source``."""
    count = max(1, sum(len(kernel_entries(k)) for k in _unique(kernels)))
    return f"{THREADS_CDEF}\nextern void *const {TABLE_NAME}[{count}];"


def library_cdef(kernels: Sequence[Kernel]) -> str:
    """The cffi declarations of every kernel, plus the thread-count setter."""
    return "\n".join(dict.fromkeys([THREADS_CDEF, *(k.cdef for k in kernels)]))


def library_flags(kernels: Sequence[Kernel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compile flags, link flags) the kernels ask for, each once, in order of first use."""
    flags = dict.fromkeys(f for k in kernels for f in getattr(k, "flags", ()))
    libs = dict.fromkeys(f"-l{lib}" for k in kernels for lib in getattr(k, "libraries", ()) if lib != "m")
    links = dict.fromkeys(f for k in kernels for f in getattr(k, "link_flags", ()))
    return tuple(flags), (*libs, *links)
