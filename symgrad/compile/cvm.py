"""Mode 'c': a schedule of compiled C kernels, one library per function.

Every elementwise node (a plain scalar op or a fused ``Composite``) runs as a kernel from
symgrad/codegen/elemwise_c.py (``ElemwiseStep``); every other op of the library runs as an op
kernel (symgrad/codegen/kernels.py: ``_shape``, then ``_run`` into outputs allocated here;
``KernelStep``); ``DimShuffle`` and ``Reshape`` are NumPy views (``ViewStep``); only user ops
without C (and kernels that failed to compile) run their ``perform`` (``PerformStep``, listed
in ``vm.python_nodes``). All kernels of one function are compiled into ONE library through
the compile cache (symgrad/compile/cbuild.py), split into translation units that compile in
parallel when there are many.

The program is a flat list of steps; a step reads its input cells and writes its output cells
(``step.run(values)``). Design notes and measurements: docs/c_backend.md, "Mode 'c'".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import time
import warnings
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import cffi
import numpy as np

from symgrad.codegen.blas_c import blas_library, own_gemm_wanted
from symgrad.codegen.elemwise_c import CTYPES, ElemwiseKernel, render_elemwise
from symgrad.codegen.kernels import ERR_NOMEM, ERR_OVERFLOW, OpKernel, op_kernel_for
from symgrad.codegen.library import (
    Kernel,
    kernel_entries,
    library_flags,
    library_units,
    table_cdef,
    table_source,
)
from symgrad.compile import own_gemm, runner
from symgrad.compile.cbuild import CCompileError, LoadedLibrary, build_library, compiler_info
from symgrad.compile.program import Schedule, generate, reusable_steps
from symgrad.compile.vm import perform, schedule
from symgrad.config import config, prefer_sleeping_openmp_threads
from symgrad.graph.basic import Apply, Variable
from symgrad.graph.errors import GraphTypeError, ShapeError
from symgrad.ops.dimshuffle import DimShuffle
from symgrad.ops.elemwise import Elemwise
from symgrad.ops.gemm import Gemm
from symgrad.ops.linalg import MatMul
from symgrad.ops.shape_ops import Reshape

# Ops whose result is a view of their input (NumPy copies only when a layout needs it): they
# move no data, so they run as NumPy views in Python, which costs less than any C call would.
VIEW_OPS = (DimShuffle, Reshape)
MAX_KERNEL_NDIM = 64  # SG_MAXDIM of csrc_templates/scalar_math.h
RESOURCE_ERRORS = (ERR_NOMEM, ERR_OVERFLOW)  # raised as they are, without trying ``perform``
# gcc -O3's time grows faster than linearly with a kernel's body (800 steps: 0.6 s, 3200: 4.8 s,
# a 40,000-step chain: minutes). Fusion caps composites at 1000 steps; a bigger one (built by
# hand) runs through NumPy.
MAX_COMPOSITE_STEPS = 2000


class CVM:
    """Storage cells plus a flat program of steps (C kernels and ``perform`` calls)."""

    def __init__(
        self,
        roots: Sequence[Variable],
        outputs: Sequence[Variable],
        name: str | None = None,
        root_filters: Sequence[tuple[Callable[[Any], np.ndarray], bool] | None] | None = None,
    ) -> None:
        """``root_filters``: per root, (the caller's argument check, whether every value goes
        through it) or None; the program applies them (``sg.function``'s input checks)."""
        plan = schedule(roots, outputs)
        nodes = plan.nodes
        self.root_cells = plan.root_cells
        self.root_types = [(np.dtype(v.dtype), v.ndim) for v in roots]
        self.roots = list(roots)
        self.constants = [(c, _native(v.data, v)) for c, v in plan.constants]
        self.output_cells = plan.output_cells
        self.n_cells = plan.n_cells
        self._initial_constants = dict(self.constants)
        rendered: dict = {}  # equal elementwise nodes (a long chain's steps) render once
        kernels = {
            node: k
            for node in nodes
            if type(node.op) not in VIEW_OPS and (k := _kernel_for(node, rendered)) is not None
        }
        if config.runner == "c":
            runner.start_building()  # compiles beside this function's library, once per machine
        gemm_dtypes = _own_gemm_dtypes(kernels)
        own_gemm.start_building(gemm_dtypes)  # likewise, once per dtype
        self.libraries, funcs = _build(list(kernels.values()), name or "function", gemm_dtypes)
        # Whether symgrad's own GEMM computes this function's float products.
        self.own_gemm = bool(gemm_dtypes) and all(own_gemm.entry_point(d) is not None for d in gemm_dtypes)
        self.library = self.libraries[0] if self.libraries else None  # one unless a build failed
        self.compile_seconds = sum(lib.compile_seconds for lib in self.libraries)
        self.steps: list[Any] = []
        for node, ins, outs, frees in plan.program:
            compiled = funcs.get(kernels[node].name) if node in kernels else None
            if type(node.op) in VIEW_OPS:
                step = ViewStep(node, ins, outs)
            elif compiled is not None and isinstance(kernels[node], OpKernel):
                step = KernelStep(node, ins, outs, *compiled, kernels[node])
            elif compiled is not None:
                step = ElemwiseStep(node, ins, outs[0], *compiled, kernels[node], self._initial_constants)
            else:
                step = PerformStep(node, ins, outs)
            step.frees = tuple(frees)
            self.steps.append(step)
        self.nodes = nodes
        self.python_nodes = [s.node for s in self.steps if type(s) is PerformStep]
        self.view_nodes = [s.node for s in self.steps if type(s) is ViewStep]
        self.node_times = [0.0] * len(nodes)
        self.node_calls = 0
        self._initial: list = [None] * self.n_cells  # every call starts from a copy
        for c, data in self.constants:
            self._initial[c] = data
        # Outputs that are always fresh arrays nothing else refers to (made by a C kernel into
        # a new np.empty, each output once): the caller may take them without any check.
        producers = {
            c: step for step in self.steps for c in getattr(step, "outs", (getattr(step, "out", None),))
        }
        self.fresh_outputs = len(set(self.output_cells)) == len(self.output_cells) and all(
            _writes_fresh(producers.get(c)) for c in self.output_cells
        )
        filters = list(root_filters or ())
        filters += [None] * (len(self.root_cells) - len(filters))
        self._filters = {c: f[0] for c, f in zip(self.root_cells, filters) if f is not None}
        spec = Schedule(
            self.steps,
            self.n_cells,
            self.root_cells,
            self.root_types,
            self.constants,
            self.output_cells,
            self._checked_root,
            [f is not None and f[1] for f in filters],
        )
        module = runner.runner_module() if config.runner == "c" else None
        self.unwrapped = module is not None and self.fresh_outputs and len(self.output_cells) == 1
        if module is not None:
            pooled = reusable_steps(self.steps, self.output_cells) if config.reuse_buffers else set()
            self.call_program, self.source = runner.make_program(module, spec, pooled, self.unwrapped)
        else:
            self.call_program, self.source = generate(spec, reuse_buffers=config.reuse_buffers)

    def run(self, root_values: Sequence[np.ndarray], profile: bool = False) -> list[np.ndarray]:
        if not profile:
            results = self.call_program(root_values)
            return [results] if self.unwrapped else results
        profile_into = getattr(self.call_program, "profile_into", None)
        if profile_into is not None:  # the C runner times the very run an unprofiled call makes
            times = np.zeros(len(self.steps))
            profile_into(times)
            try:
                results = self.call_program(root_values)
            finally:
                profile_into(None)
            self.node_times = [total + t for total, t in zip(self.node_times, times.tolist())]
            self.node_calls += 1
            return [results] if self.unwrapped else results
        values = self._initial.copy()
        for c, v, (dtype, ndim) in zip(self.root_cells, root_values, self.root_types):
            if type(v) is not np.ndarray or v.dtype is not dtype or v.ndim != ndim or not v.flags.aligned:
                v = self._checked_root(c, v)
            values[c] = v
        self._run_profiled(values)
        return [values[c] for c in self.output_cells]

    def _checked_root(self, c: int, value: Any) -> np.ndarray:
        """A root value that is not an aligned array of the root's dtype: the caller's check
        (``root_filters``) first, if any; then, as compiled kernels read memory as the
        declared dtype, it is converted when that is lossless, else refused (what
        ``trust_input=True`` callers get)."""
        var = self.roots[self.root_cells.index(c)]
        check = self._filters.get(c)
        if check is not None:
            value = check(value)
        array = np.asarray(value)
        if array.ndim != var.ndim or not np.can_cast(array.dtype, var.dtype, "same_kind"):
            raise GraphTypeError(
                f"{var.describe()} got a {array.dtype} array of shape {array.shape} "
                "(trust_input=True skips the conversion mode 'c' needs)"
            )
        return _native(array, var)

    def _run_profiled(self, values: list) -> None:
        for k, step in enumerate(self.steps):
            start = time.perf_counter()
            step.run(values)
            self.node_times[k] += time.perf_counter() - start
            for c in step.frees:
                values[c] = None
        self.node_calls += 1


def _writes_fresh(step: Any) -> bool:
    """Does ``step`` always write its outputs into new arrays (never an input's memory)?"""
    return type(step) is KernelStep or (type(step) is ElemwiseStep and step.inplace is None)


def _native(array: Any, var: Variable) -> np.ndarray:
    """``array`` as an aligned ndarray of exactly ``var``'s dtype object (native byte order):
    kernels read memory through typed pointers, which C allows only at aligned addresses."""
    dtype = np.dtype(var.dtype)
    if type(array) is np.ndarray and array.dtype is dtype and array.flags.aligned:
        return array
    array = np.asarray(array).astype(dtype, copy=False)
    return array if array.flags.aligned else array.copy()


# --- building ----------------------------------------------------------------------------------
def _kernel_for(node: Apply, rendered: dict | None = None) -> Kernel | None:
    """The C kernel of a node, or None when it must run through ``perform``. ``rendered``
    remembers elementwise kernels by (scalar op, dtypes) within one build."""
    if rendered is not None and type(node.op) is Elemwise:
        key = (node.op.scalar_op, *(v.dtype for v in (*node.inputs, *node.outputs)), node.outputs[0].ndim)
        if key not in rendered:
            rendered[key] = _kernel_for(node)
        return rendered[key]
    if type(node.op) is not Elemwise:
        try:
            return op_kernel_for(node)
        except NotImplementedError:
            return None
    if len(node.outputs) != 1:
        return None
    dtypes = [v.dtype for v in (*node.inputs, *node.outputs)]
    if any(d not in CTYPES for d in dtypes) or node.outputs[0].ndim > MAX_KERNEL_NDIM:
        return None
    if len(getattr(node.op.scalar_op, "steps", ())) > MAX_COMPOSITE_STEPS:
        return None
    try:
        return render_elemwise(
            node.op.scalar_op, dtypes[:-1], dtypes[-1], vector_math=compiler_info().libmvec
        )
    except (NotImplementedError, KeyError, IndexError):
        return None  # a scalar op without C (a user's row without c_expr, say)


def _own_gemm_dtypes(kernels: dict[Apply, Kernel]) -> tuple[str, ...]:
    """The float dtypes of the function's products that go to symgrad's own GEMM
    (``blas_c.own_gemm_wanted``); empty when none do."""
    dtypes = {
        node.outputs[0].dtype
        for node in kernels
        if isinstance(node.op, (MatMul, Gemm)) and node.outputs[0].dtype in own_gemm.DTYPES
    }
    if not dtypes:
        return ()
    blas = blas_library()
    return tuple(sorted(dtypes)) if blas is not None and own_gemm_wanted(blas) else ()


def _build(
    kernels: list[Kernel], name: str, gemm: tuple[str, ...] = ()
) -> tuple[list[LoadedLibrary], dict[str, Any]]:
    """One library with every kernel; when it fails to compile (a user's ``c_expr``, say),
    each kernel alone, and the ones that still fail run through NumPy (with a warning).
    ``gemm``: the dtypes whose products go to symgrad's own GEMM. Returns the libraries and,
    per kernel name, its (function, library)."""
    if not kernels:
        return [], {}
    try:
        library = _load(kernels, name, gemm)
        return [library], _entries(library, kernels)
    except CCompileError as exc:
        if len(kernels) == 1:
            _warn_uncompiled(kernels, exc)
            return [], {}
    libraries, funcs = [], {}
    for kernel in {k.name: k for k in kernels}.values():
        try:
            library = _load([kernel], name, gemm)
        except CCompileError as exc:
            _warn_uncompiled([kernel], exc)
            continue
        libraries.append(library)
        funcs.update(_entries(library, [kernel]))
    if len(libraries) == len(funcs) == len({k.name for k in kernels}):
        warnings.warn(
            f"mode 'c': the kernels of {name!r} compile one by one but not together (two kernels "
            "define the same C name?); each was built as its own library",
            stacklevel=4,
        )
    return libraries, funcs


# One FFI for the function pointer types of every library, so that each type string is parsed
# once per process (cffi caches parsed types per FFI; the C types themselves are shared).
_POINTER_TYPES = cffi.FFI()


def _entries(library: LoadedLibrary, kernels: list[Kernel]) -> dict[str, tuple[tuple, LoadedLibrary]]:
    """Per kernel name, (its exported functions as cffi function pointers, the library), read
    from the library's table (``table_source``: two entries per kernel, in this order)."""
    table, cast = library.lib.sg_kernel_table, _POINTER_TYPES.cast
    found, index = {}, 0
    for kernel in {k.name: k for k in kernels}.values():
        funcs = []
        for _, signature in kernel_entries(kernel):
            funcs.append(cast(signature, table[index]))
            index += 1
        found[kernel.name] = (tuple(funcs), library)
    return found


def _load(kernels: list[Kernel], name: str, gemm: tuple[str, ...] = ()) -> LoadedLibrary:
    flags, link_flags = library_flags(kernels)
    if compiler_info().openmp:
        flags, link_flags = ("-fopenmp", *flags), ("-fopenmp", *link_flags)
        prefer_sleeping_openmp_threads()
        _pin_openmp_runtime()
    units = library_units(kernels, config.compile_jobs, vector_math=compiler_info().libmvec)
    units[0] += table_source(kernels)
    library = build_library(
        units,
        table_cdef(kernels),
        name_hint=name,
        extra_flags=flags,
        extra_link_flags=link_flags,
    )
    library.lib.sg_set_num_threads(config.num_threads)
    # symgrad's own GEMM per dtype, or NULL (CBLAS): set on every load, since a library from
    # the in-process cache may have been given the other choice by an earlier function.
    pointers = [own_gemm.entry_point(d) if d in gemm else None for d in ("float64", "float32")]
    library.lib.sg_set_own_gemm(*(library.ffi.cast("void *", p or 0) for p in pointers))
    return library


@functools.cache
def _pin_openmp_runtime() -> None:
    """Keep libgomp loaded until the process ends. Our libraries are its only users, and cffi
    unloads a library when it is collected (at the latest at interpreter exit): libgomp would
    then be unmapped under its own worker threads, which crashed the process at exit whenever
    they were still spinning (``OMP_WAIT_POLICY=ACTIVE``). ctypes never unloads what it opened."""
    name = ctypes.util.find_library("gomp")
    if name is not None:
        ctypes.CDLL(name, mode=os.RTLD_NOW | getattr(os, "RTLD_NODELETE", 0))


def _warn_uncompiled(kernels: list[Kernel], exc: CCompileError) -> None:
    names = ", ".join(k.name for k in kernels)
    warnings.warn(f"mode 'c': kernel {names} does not compile; it runs through NumPy:\n{exc}", stacklevel=4)


def _address(from_buffer: Any, cast: Any, a: np.ndarray) -> Any:
    """A C pointer to ``a``'s first element: ``from_buffer`` for a C-contiguous array (fast),
    else the address of its first element (a strided, transposed or reversed view)."""
    try:
        return from_buffer(a)
    except ValueError:
        return cast("char *", a.ctypes.data)


# --- steps ---------------------------------------------------------------------------------------
def _address_of(function: Any) -> int:
    """A cffi function pointer's address, for the C runner to call."""
    return int(_POINTER_TYPES.cast("intptr_t", function))


def _call_source(step: Any, k: int, args: list[str], outs: list[str]) -> tuple[list[str], dict]:
    """The program line of a step that returns a list of outputs from ``step.call``."""
    return [f"{', '.join(outs)}, = step_{k}.call({', '.join(args)})"], {f"step_{k}": step}


class PerformStep:
    """A node run by its NumPy ``perform``, checked exactly as mode 'py' does."""

    __slots__ = ("node", "ins", "outs", "frees")

    def __init__(self, node: Apply, ins: list[int], outs: list[int]) -> None:
        self.node, self.ins, self.outs = node, tuple(ins), tuple(outs)
        self.frees: tuple[int, ...] = ()

    # Steps whose outputs may be (views of) their inputs or kept by user code: a buffer the
    # program reuses across calls must never reach them (symgrad/compile/program.py).
    keeps_inputs = True

    def source(
        self, k: int, args: list[str], outs: list[str], inline: bool = True, pool: str | None = None
    ) -> tuple[list[str], dict]:
        return _call_source(self, k, args, outs)

    def record(self, slot: int, frees: tuple[int, ...]) -> tuple:
        """The step for the C runner (csrc_templates/runner.c): a Python call."""
        return (runner.STEP_CALL, self.call, self.ins, self.outs, False, frees)

    def call(self, *args: np.ndarray) -> list[np.ndarray]:
        results = perform(self.node, list(args))
        return [_native(out, var) for out, var in zip(results, self.node.outputs)]

    def run(self, values: list) -> None:
        for c, out in zip(self.outs, self.call(*[values[i] for i in self.ins])):
            values[c] = out


class ViewStep(PerformStep):
    """A view op (``VIEW_OPS``): NumPy's view through the op's checked ``perform``."""

    __slots__ = ()
    # Its output may be a view of its first input, and it keeps nothing: a reused array may
    # be viewed as long as the view dies within the call (program.reusable_steps).
    keeps_inputs = False
    views_input = True


class KernelStep:
    """A node run by its op kernel (csrc_templates/kernel.h): ``_shape`` checks the inputs and
    gives the output shapes, Python allocates the outputs (C-contiguous, owned by the caller),
    ``_run`` fills them. Every cell holds an ndarray of its declared dtype and rank."""

    __slots__ = (
        "node",
        "ins",
        "outs",
        "frees",
        "shape_fn",
        "run_fn",
        "kernel",
        "out_specs",
        "from_buffer",
        "cast",
        "library",
    )

    def __init__(
        self,
        node: Apply,
        ins: list[int],
        outs: list[int],
        funcs: tuple,
        library: LoadedLibrary,
        kernel: OpKernel,
    ) -> None:
        self.node, self.ins, self.outs, self.kernel = node, tuple(ins), tuple(outs), kernel
        self.frees: tuple[int, ...] = ()
        self.shape_fn, self.run_fn = funcs
        start, specs = 8, []
        for var, nd in zip(node.outputs, kernel.out_ndims):
            specs.append((start, start + nd, np.dtype(var.dtype)))
            start += nd
        self.out_specs = tuple(specs)
        self.from_buffer = library.ffi.from_buffer
        self.library = library  # keeps the .so mapped while its function pointers are in use
        self.cast = library.ffi.cast

    def _pointer(self, a: np.ndarray) -> Any:
        return _address(self.from_buffer, self.cast, a)

    def run(self, values: list) -> None:
        for c, out in zip(self.outs, self.call(*[values[i] for i in self.ins])):
            values[c] = out

    keeps_inputs = False
    poolable = True  # may write into the previous call's arrays (program.reusable_steps)

    def source(
        self, k: int, args: list[str], outs: list[str], inline: bool = True, pool: str | None = None
    ) -> tuple[list[str], dict]:
        """One call; with ``pool`` (a list of the previous call's outputs, when the program
        reuses buffers) the outputs go into those arrays when the shapes match."""
        if pool is None:
            return _call_source(self, k, args, outs)
        line = f"{', '.join(outs)}, = step_{k}.call_into({pool} if reuse else None, {', '.join(args)})"
        return [line], {f"step_{k}": self}

    def record(self, slot: int, frees: tuple[int, ...]) -> tuple:
        """The step for the C runner: its two entry points by address, and the outputs'
        shape ranges in ``meta`` (``slot``: the first pool slot of its outputs, or -1)."""
        if len(self.ins) + len(self.outs) > runner.MAX_OPERANDS:
            return (runner.STEP_CALL, self.call, self.ins, self.outs, False, frees)
        return (
            runner.STEP_KERNEL,
            self.call,
            self._fail,
            _address_of(self.shape_fn),
            _address_of(self.run_fn),
            self.ins,
            tuple(np.dtype(v.dtype) for v in self.node.inputs),
            self.outs,
            self.out_specs,
            self.kernel.meta_size,
            slot,
            frees,
        )

    def call(self, *args: np.ndarray) -> list[np.ndarray]:
        return self.call_into(None, *args)

    def call_into(self, pool: list | None, *args: np.ndarray) -> list[np.ndarray]:
        pointers = [self._pointer(a) for a in args]
        shapes: tuple = ()
        strides: tuple = ()
        for a in args:
            shapes += a.shape
            strides += a.strides
        meta = np.zeros(self.kernel.meta_size, np.int64)
        meta_ptr = self.from_buffer("int64_t[]", meta)
        code = self.shape_fn(pointers, shapes, strides, meta_ptr)
        if code:
            self._fail(args, code, meta)
        sizes = meta.tolist()
        if pool is None:
            outs = [np.empty(tuple(sizes[a:b]), dtype) for a, b, dtype in self.out_specs]
        else:  # the previous call's arrays where the shapes are the same
            outs = []
            for j, (a, b, dtype) in enumerate(self.out_specs):
                shape, kept = tuple(sizes[a:b]), pool[j]
                if kept is None or kept.shape != shape:
                    kept = pool[j] = np.empty(shape, dtype)
                outs.append(kept)
        for out in outs:
            pointers.append(self.from_buffer(out))
            shapes += out.shape
            strides += out.strides
        code = self.run_fn(pointers, shapes, strides, meta_ptr)
        if code:
            self._fail(args, code, meta)
        return outs

    def _fail(self, args: Sequence[np.ndarray], code: int, meta: np.ndarray) -> None:
        """The kernel refused the inputs before touching memory. The error raised is the one
        ``perform`` raises on the same inputs (mode 'py''s exact type and message); if
        ``perform`` accepts them, the kernel's own message (a limit of the C code). Memory
        and size-overflow errors are raised as they are: ``perform`` would try the work."""
        if code not in RESOURCE_ERRORS:
            perform(self.node, list(args))
        exc, problem = self.kernel.error(code, meta.tolist())
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in args)
        raise exc(f"{self.node.op} (created at {self.node.location}) failed on inputs [{shapes}]: {problem}")


class ElemwiseStep:
    """An elementwise node run by its compiled kernel.

    Per call: the broadcast output shape from the actual input shapes, a fresh C-ordered
    output (or the input buffer the memory pass marked, when it fits), byte strides with 0 on
    broadcast axes, then one call. Contiguous arrays are passed by ``ffi.from_buffer`` (fast);
    strided views by their first element's address. Shapes, pointers and strides go as tuples,
    which cffi turns into temporary C arrays: no buffer is shared between concurrent calls.
    Every cell holds an ndarray of its declared dtype and rank (``CVM`` checks the roots,
    constants and ``perform`` results), so the kernel may read the memory as that dtype.
    """

    __slots__ = (
        "node",
        "ins",
        "out",
        "frees",
        "fetch",
        "func",
        "kernel",
        "ndim",
        "lead",
        "full",
        "zeros",
        "general",
        "out_dtype",
        "inplace",
        "from_buffer",
        "cast",
        "library",
        "fixed",
        "flat",
        "scalars",
    )

    def __init__(
        self,
        node: Apply,
        ins: list[int],
        out: int,
        funcs: tuple,
        library: LoadedLibrary,
        kernel: ElemwiseKernel,
        constants: dict[int, np.ndarray] | None = None,
    ) -> None:
        self.node, self.ins, self.out, self.kernel = node, tuple(ins), out, kernel
        # The general entry point (shape, pointer and stride arrays) and the scalar-argument
        # one for C-contiguous operands: bit j of ``scalars`` = input j is 0-d.
        self.func, self.flat = funcs
        self.frees: tuple[int, ...] = ()
        # itemgetter returns a bare value for one index: wrap it so ``args`` is always a tuple.
        self.fetch = itemgetter(*ins) if len(ins) > 1 else lambda values, i=ins[0]: (values[i],)
        ndim = self.ndim = node.outputs[0].ndim
        ndims = [v.ndim for v in node.inputs]
        # Fast path: inputs of the output's rank (``full``) all of one shape, and 0-d inputs.
        self.full = tuple(d == ndim for d in ndims)
        self.lead = self.full.index(True)
        self.zeros = (0,) * ndim
        self.general = any(0 < d < ndim for d in ndims)
        self.out_dtype = np.dtype(node.outputs[0].dtype)
        self.inplace = node.tag.get("inplace")
        self.from_buffer = library.ffi.from_buffer
        self.library = library  # keeps the .so mapped while its function pointers are in use
        self.cast = library.ffi.cast
        self.scalars = sum(1 << j for j, full in enumerate(self.full) if not full)
        # 0-d constants: their pointer is taken once (the CVM keeps the arrays alive).
        constants = constants or {}
        self.fixed = tuple(
            self._pointer(constants[c]) if c in constants and constants[c].ndim == 0 else None for c in ins
        )

    def run(self, values: list) -> None:
        values[self.out] = self.call(*self.fetch(values))

    keeps_inputs = False
    poolable = True

    def source(
        self, k: int, args: list[str], outs: list[str], inline: bool = True, pool: str | None = None
    ) -> tuple[list[str], dict]:
        """The fast path of ``call`` inlined: inputs of one shape (and 0-d ones), a fresh
        output (or, with ``pool``, the previous call's output array when the shape is the
        same), every operand C-contiguous, so one call of the kernel's scalar-argument entry
        point ``_flat``. Anything else (a non-contiguous operand: ``from_buffer`` refuses it)
        goes through ``call``."""
        out, step = outs[0], f"step_{k}"
        fallback = f"{out} = {step}.call({', '.join(args)})"
        names: dict[str, Any] = {step: self}
        if not inline or self.general or self.inplace is not None or self.scalars >= 1 << 63:
            return [fallback], names
        lead = args[self.lead]
        pointers, same = [], []
        for j, (a, full, fixed) in enumerate(zip(args, self.full, self.fixed)):
            if fixed is not None:
                names[f"fixed{j}_{k}"] = fixed
                pointers.append(f"fixed{j}_{k}")
                continue
            pointers.append(f"from_buffer_{k}({a})")
            if full and a != lead:
                same.append(f"{a}.shape == shape")
        names.update({f"from_buffer_{k}": self.from_buffer, f"flat_{k}": self.flat})
        names.update({f"dtype_{k}": self.out_dtype, "empty": np.empty})
        lines = [f"shape = {lead}.shape"]
        if same:
            lines.append(f"if {' and '.join(same)}:")
        if pool is None:
            allocate = [f"{out} = empty(shape, dtype_{k})"]
        else:
            allocate = [
                f"{out} = {pool}[0]",
                f"if not reuse or {out} is None or {out}.shape != shape:",
                f"    {out} = empty(shape, dtype_{k})",
                "    if reuse:",
                f"        {pool}[0] = {out}",
            ]
        body = [
            *allocate,
            "try:",
            f"    code = flat_{k}({out}.size, {self.scalars}, {', '.join(pointers)}, from_buffer_{k}({out}))",
            "except ValueError:  # a non-contiguous operand",
            f"    {fallback}",
            "else:",
            "    if code:",
            f"        {step}.fail(({', '.join(args)},), code)",
        ]
        indent = "    " if same else ""
        lines += [indent + line for line in body]
        if same:
            lines += ["else:", f"    {fallback}"]
        return lines, names

    def record(self, slot: int, frees: tuple[int, ...]) -> tuple:
        """The step for the C runner: the general entry point by address, called there on
        the broadcast shape with every operand's own strides (``slot``: its pool slot, or -1)."""
        if len(self.ins) + 1 > runner.MAX_OPERANDS:
            return (runner.STEP_CALL, self.call, self.ins, (self.out,), True, frees)
        return (
            runner.STEP_ELEMWISE,
            self.call,
            self.fail,
            _address_of(self.func),
            self.ins,
            tuple(np.dtype(v.dtype) for v in self.node.inputs),
            self.out,
            self.out_dtype,
            self.ndim,
            -1 if self.inplace is None else self.inplace,
            slot,
            frees,
        )

    def call(self, *args: np.ndarray) -> np.ndarray:
        if self.general:
            return self._run_broadcast(args)
        shape = args[self.lead].shape
        strides = ()
        pointers = []
        from_buffer = self.from_buffer
        for a, full, fixed in zip(args, self.full, self.fixed):
            if fixed is not None:
                pointers.append(fixed)
                strides += self.zeros
                continue
            if full:
                if a.shape != shape:
                    return self._run_broadcast(args)
                strides += a.strides
            else:
                strides += self.zeros
            try:
                pointers.append(from_buffer(a))
            except ValueError:  # not C-contiguous: a strided, transposed or reversed view
                pointers.append(self.cast("char *", a.ctypes.data))
        if self.inplace is None:
            out = np.empty(shape, self.out_dtype)
            pointers.append(from_buffer(out))
        else:
            out = self._output(args, shape)
            pointers.append(self._pointer(out))
        code = self.func(self.ndim, shape, pointers, strides + out.strides)
        if code:
            self.fail(args, code)
        return out

    def _run_broadcast(self, args: Sequence[np.ndarray]) -> np.ndarray:
        shape, strides = self._broadcast(args)
        pointers = [self._pointer(a) for a in args]
        out = self._output(args, shape)
        pointers.append(self._pointer(out))
        code = self.func(self.ndim, shape, pointers, strides + out.strides)
        if code:
            self.fail(args, code)
        return out

    def fail(self, args: Sequence[np.ndarray], code: int) -> None:
        raise ValueError(self._describe(args, self.kernel.error_message(code)))

    def _pointer(self, a: np.ndarray) -> Any:
        return _address(self.from_buffer, self.cast, a)

    def _output(self, args: Sequence[np.ndarray], shape: tuple) -> np.ndarray:
        """A new array, or the marked input's buffer when its dtype and shape fit (the checks
        of ``Elemwise.perform``): the kernel may write where it reads, element for element."""
        k = self.inplace
        if k is not None:
            buf = args[k]
            if buf.dtype is self.out_dtype and buf.shape == shape and buf.flags.writeable:
                return buf
        return np.empty(shape, self.out_dtype)

    def _broadcast(self, args: Sequence[np.ndarray]) -> tuple[tuple, tuple]:
        """NumPy broadcasting of the actual shapes, and every input's strides at that shape."""
        ndim = self.ndim
        shape = [1] * ndim
        for a in args:
            offset = ndim - a.ndim
            for d, n in enumerate(a.shape):
                have = shape[offset + d]
                if n != have:
                    if have != 1 and n != 1:
                        raise ShapeError(self._describe(args, "shapes cannot be broadcast together"))
                    if have == 1:
                        shape[offset + d] = n
        strides: list[int] = []
        for a in args:
            strides += [0] * (ndim - a.ndim)
            strides += [0 if n == 1 else s for n, s in zip(a.shape, a.strides)]
        return tuple(shape), tuple(strides)

    def _describe(self, args: Sequence[np.ndarray], problem: str) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in args)
        return f"{self.node.op} (created at {self.node.location}) failed on inputs [{shapes}]: {problem}"
