"""C kernels of the matrix products: ``MatMul`` and ``Gemm`` in float32/float64 through CBLAS,
integer and bool ``MatMul`` as C loops with NumPy's wrapping semantics, and ``EqualDims``
(tensordot's run-time length check).

Which CBLAS: NumPy's own OpenBLAS when NumPy has one (``blas_library()``). Two OpenBLAS
copies in one process means two thread pools whose idle threads spin while the other works:
the digits MLP step, which alternates NumPy and symgrad products, was about 2x slower that
way on 2 cores (docs/c_backend.md, "Matrix products"). Else the scipy-openblas32 wheel; without either, the float products stay on NumPy, with one
warning. ``SYMGRAD_BLAS`` (``auto``, ``numpy``, ``scipy-openblas32``) forces a choice.

The C is in ``csrc_templates/blas.c`` (layouts BLAS reads in place, GEMV/DOT for vector
products, splitting of lengths over 32-bit BLAS integers).
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from symgrad.codegen.kernels import FIRST_OP_ERROR, OpKernel, c_kernel, copy_helper, op_kernel
from symgrad.codegen.templates import render, section
from symgrad.config import BLAS_CHOICES, config  # noqa: F401  (BLAS_CHOICES: re-exported)
from symgrad.graph.basic import Apply
from symgrad.graph.errors import ShapeError
from symgrad.graph.types import C_TYPES, FLOAT_DTYPES, INT_DTYPES
from symgrad.ops.gemm import Gemm
from symgrad.ops.linalg import EqualDims, MatMul

TEMPLATE = "blas.c"
BLAS_ENV = "SYMGRAD_BLAS"
# With 32-bit BLAS integers, longer axes and leading dimensions are split into blocks of at
# most this many; None: the largest BLAS integer (the tests lower it to exercise the
# splitting on small arrays, with either library).
BLAS_MAX_DIM: int | None = None
CBLAS_FUNCTIONS = ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot")
# (prefix, suffix) of OpenBLAS symbol names: NumPy 2 wheels (scipy-openblas64) use
# scipy_cblas_dgemm64_, a plain OpenBLAS cblas_dgemm, an ILP64 distribution build cblas_dgemm64_.
OPENBLAS_NAMINGS = (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", ""))
MAX_NDIM = 64  # SG_MAXDIM of csrc_templates/scalar_math.h
META_SLOTS = 8  # SG_META_INFO: the output shapes' slots follow, so shapes may spill into them
ERR_ALIGN, ERR_BATCH = FIRST_OP_ERROR, FIRST_OP_ERROR + 1
NO_BLAS_WARNING = (
    "neither NumPy's OpenBLAS nor scipy-openblas32 can be used: mode 'c' runs float matrix "
    "products (MatMul, Gemm) through NumPy; `pip install scipy-openblas32` compiles them "
    "against OpenBLAS"
)


@dataclass(frozen=True)
class BlasLibrary:
    """The CBLAS the float products are linked against.

    ``source``: ``numpy`` (the OpenBLAS NumPy loaded) or ``scipy-openblas32``; ``path``: the
    shared library; symbols are ``{prefix}cblas_dgemm{suffix}``; ``ilp64``: 64-bit integers.
    """

    source: str
    path: str
    prefix: str
    suffix: str
    ilp64: bool
    config: str = ""
    corename: str = ""  # the kernels OpenBLAS runs on this CPU (openblas_get_corename)

    def symbol(self, function: str) -> str:
        return f"{self.prefix}cblas_{function}{self.suffix}"

    def describe(self) -> str:
        """One line for logs and benchmark records."""
        bits = 64 if self.ilp64 else 32
        return f"{self.source}: {self.path} ({self.symbol('dgemm')}, {bits}-bit integers)"

    @property
    def max_dim(self) -> int:
        """The largest length one BLAS call takes."""
        return 2**63 - 1 if self.ilp64 else 2**31 - 1

    @property
    def link_flags(self) -> tuple[str, ...]:
        """The library file itself and an rpath to its folder. Linking (rather than looking the
        functions up at load time) lets the C call CBLAS directly; the dynamic loader then binds
        to the copy NumPy already loaded (same soname), so there is one thread pool."""
        folder = str(Path(self.path).parent)
        return (self.path, f"-Wl,-rpath,{folder}")


def blas_setting() -> str:
    """``config.blas`` (``SYMGRAD_BLAS``; default ``auto``)."""
    return config.blas


def blas_library() -> BlasLibrary | None:
    """The CBLAS mode 'c' links float products against (per ``SYMGRAD_BLAS``), or None (with
    one warning) when there is none: those products then run through NumPy."""
    return _choose(blas_setting())


@functools.cache
def _choose(setting: str) -> BlasLibrary | None:
    if setting in ("auto", "numpy"):
        found, why = numpy_openblas()
        if found is not None:
            return found
        if setting == "numpy":
            warnings.warn(
                f"{BLAS_ENV}=numpy: NumPy's BLAS cannot be used ({why}); trying scipy-openblas32",
                stacklevel=3,
            )
    found = _scipy_openblas32()
    if found is None:
        warnings.warn(NO_BLAS_WARNING, stacklevel=3)
    return found


def scipy_openblas32_module() -> ModuleType | None:
    """The scipy_openblas32 package, imported only when it is the choice: importing it loads
    its OpenBLAS (and starts that library's threads) whether or not it is used."""
    try:
        return importlib.import_module("scipy_openblas32")
    except ImportError:
        return None


def _scipy_openblas32() -> BlasLibrary | None:
    module = scipy_openblas32_module()
    if module is None:
        return None
    folder = Path(module.get_lib_dir())
    stem = f"lib{module.get_library()}"
    files = sorted(f for f in folder.glob(f"{stem}.*") if f.suffix in (".so", ".dylib", ".dll"))
    if not files:
        return None
    try:
        corename = _corename(ctypes.CDLL(str(files[0])), "scipy_", "")
    except OSError:
        corename = ""
    return BlasLibrary("scipy-openblas32", str(files[0]), "scipy_", "", False, corename=corename)


def numpy_openblas() -> tuple[BlasLibrary | None, str]:
    """NumPy's own OpenBLAS, or None and why not. On Linux only: linking by file relies on
    ELF sonames to bind to the copy already loaded (a macOS wheel's ``.dylibs`` carry
    install names that a second link may not resolve; untested there, so scipy-openblas32).
    NumPy's build config must name OpenBLAS (not MKL, Accelerate or a reference BLAS), its
    wheel must carry the library in ``numpy.libs`` (a conda NumPy uses a system one: not
    found), the process must have loaded exactly that file, and it must export the CBLAS
    functions under one OpenBLAS naming, with ``openblas_get_config`` saying whether integers
    are 64-bit."""
    if not sys.platform.startswith("linux"):
        return None, f"NumPy's OpenBLAS is linked on Linux only, not on {sys.platform}"
    name = _numpy_blas_name()
    if "openblas" not in name.replace("-", "").replace("_", ""):
        return None, f"NumPy's build config names {name or 'no'} BLAS, not OpenBLAS"
    folder = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    files = sorted(f for f in folder.glob("*") if "openblas" in f.name.lower()) if folder.is_dir() else []
    if not files:
        return None, f"no OpenBLAS library in {folder}"
    for path in files:
        found = _probe(path)
        if found is not None:
            return found, ""
    return None, f"{', '.join(map(str, files))}: not loaded by NumPy, or no CBLAS symbols found"


def _numpy_blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")
        return str(config["Build Dependencies"]["blas"]["name"]).lower()
    except Exception:  # NumPy < 1.26 or a build without the record
        return ""


def _probe(path: Path) -> BlasLibrary | None:
    """The naming of ``path``'s CBLAS symbols, if NumPy already loaded it (RTLD_NOLOAD: never
    loads a second copy)."""
    if not hasattr(os, "RTLD_NOLOAD"):
        return None
    try:
        lib = ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)
    except OSError:
        return None
    for prefix, suffix in OPENBLAS_NAMINGS:
        try:
            get_config = getattr(lib, f"{prefix}openblas_get_config{suffix}")
            if not all(hasattr(lib, f"{prefix}cblas_{f}{suffix}") for f in CBLAS_FUNCTIONS):
                continue
        except AttributeError:
            continue
        get_config.restype = ctypes.c_char_p
        get_config.argtypes = []
        config = (get_config() or b"").decode(errors="replace").strip()
        ilp64 = "USE64BITINT" in config
        if suffix == "64_" and not ilp64:
            continue  # a 64_ suffix on 32-bit integers: not a naming we know
        return BlasLibrary("numpy", str(path), prefix, suffix, ilp64, config, _corename(lib, prefix, suffix))
    return None


def _corename(lib: ctypes.CDLL, prefix: str, suffix: str) -> str:
    try:
        get = getattr(lib, f"{prefix}openblas_get_corename{suffix}")
    except AttributeError:
        return ""
    get.restype = ctypes.c_char_p
    get.argtypes = []
    return (get() or b"").decode(errors="replace").strip()


# OpenBLAS cores whose GEMM kernels use AVX-512: where OpenBLAS runs one, it keeps the products.
AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")


@functools.cache
def cpu_has_avx512() -> bool:
    """Whether this CPU has AVX-512F (Linux: /proc/cpuinfo's flags)."""
    try:
        with open("/proc/cpuinfo") as info:
            return any(line.startswith("flags") and " avx512f" in line for line in info)
    except OSError:
        return False


def own_gemm_wanted(blas: BlasLibrary) -> bool:
    """Whether float products use symgrad's own GEMM (csrc_templates/gemm.c, built once per
    machine by symgrad/compile/own_gemm.py) instead of the CBLAS call. ``config.own_gemm``
    (``SYMGRAD_OWN_GEMM``): ``on``, ``off``, or ``auto``: on an AVX-512 CPU whose OpenBLAS
    runs narrower kernels (``OPENBLAS_CORETYPE=Haswell``, an old OpenBLAS), where ours is
    about twice as fast (docs/c_backend.md, "Matrix products"). The kernel exists only where
    the compiler targets AVX-512 (``-march=native``); elsewhere CBLAS runs."""
    setting = config.own_gemm
    if setting != "auto":
        return setting == "on"
    return cpu_has_avx512() and blas.corename.lower() not in AVX512_CORES


MetaMessage = Callable[[list[int]], str]


@dataclass(frozen=True)
class MetaMessageKernel(OpKernel):
    """An op kernel whose shape errors quote the input shapes, as ``perform`` does: for the
    codes in ``meta_messages`` the C writes the shapes end to end into meta (its info slots,
    then the output-shape slots), and ``meta_messages[code] = (exception, words(meta))``."""

    meta_messages: Mapping[int, tuple[type[Exception], MetaMessage]] = field(default_factory=dict)

    def error(self, code: int, meta: list[int]) -> tuple[type[Exception], str]:
        if code not in self.meta_messages:
            return super().error(code, meta)
        exc, words = self.meta_messages[code]
        return exc, words(list(meta))


def _with_meta_messages(
    kernel: OpKernel, messages: Mapping[int, tuple[type[Exception], MetaMessage]]
) -> MetaMessageKernel:
    base = {f.name: getattr(kernel, f.name) for f in dataclasses.fields(OpKernel)}
    return MetaMessageKernel(**base, meta_messages=messages)


def _split(meta: list[int], *ranks: int) -> list[tuple[int, ...]]:
    """Shapes of the given ranks, laid end to end at the start of meta."""
    shapes, start = [], 0
    for rank in ranks:
        shapes.append(tuple(meta[start : start + rank]))
        start += rank
    return shapes


def _common() -> str:
    return render(section(TEMPLATE, "common"))


def _blas(blas: BlasLibrary) -> str:
    names = {f.upper(): blas.symbol(f) for f in CBLAS_FUNCTIONS}
    library = f"{blas.source} ({Path(blas.path).name})"
    bits = "64" if blas.ilp64 else "32"
    return render(
        section(TEMPLATE, "blas"),
        {**names, "LIBRARY": library, "INT_BITS": bits, "BLASINT": f"int{bits}_t"},
    )


def _max_dim(blas: BlasLibrary) -> str:
    return str(blas.max_dim if BLAS_MAX_DIM is None else min(BLAS_MAX_DIM, blas.max_dim))


def _body(name: str, subs: Mapping[str, str] | None = None) -> str:
    return render(section(TEMPLATE, name), dict(subs or {}))


def _product_name(dtype: str) -> str:
    return "sg_blas_sproduct" if dtype == "float32" else "sg_blas_dproduct"


# --- MatMul ----------------------------------------------------------------------------------
@c_kernel(MatMul)
def matmul_kernel(node: Apply) -> OpKernel | None:
    """Float products through BLAS (inputs of another dtype converted first), integer and
    bool ones as loops; errors worded as ``MatMul.perform`` words them."""
    a, b = node.inputs
    out = node.outputs[0]
    nd = out.ndim
    if any(v.dtype not in C_TYPES for v in (a, b, out)) or nd > MAX_NDIM:
        return None
    if a.ndim + b.ndim > META_SLOTS + nd:  # the shapes of an error would not fit in meta
        return None
    shape_body = _body(
        "matmul_shape", {"NDIM": str(nd), "ERR_ALIGN": str(ERR_ALIGN), "ERR_BATCH": str(ERR_BATCH)}
    )
    setup = _body("matmul_setup")
    helpers: list[str] = []
    link_flags: tuple[str, ...] = ()
    if out.dtype in FLOAT_DTYPES:
        blas = blas_library()
        if blas is None:
            return None
        link_flags = blas.link_flags
        copy, copy_name = copy_helper(out.dtype, out.dtype)
        helpers = [_common(), copy, _blas(blas)]
        converts = []
        for v in (a, b):
            if v.dtype == out.dtype:
                converts.append("NULL")
            else:
                convert, convert_name = copy_helper(v.dtype, out.dtype)
                helpers.insert(0, convert)
                converts.append(convert_name)
        run_body = setup + _body(
            "matmul_blas",
            {
                "T": C_TYPES[out.dtype],
                "CONVERT_A": converts[0],
                "CONVERT_B": converts[1],
                "COPY": copy_name,
                "PRODUCT": _product_name(out.dtype),
                "MAX": _max_dim(blas),
            },
        )
    else:
        helpers = [_common()]
        run_body = setup + _body("matmul_loop", _loop_subs(a.dtype, b.dtype, out.dtype))
    kernel = op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=helpers,
        link_flags=link_flags,
    )
    where = f"(created at {node.location})"
    ranks = (a.ndim, b.ndim)

    def not_aligned(meta: list[int]) -> str:
        sa, sb = _split(meta, *ranks)
        return (
            f"matmul: shapes {sa} and {sb} are not aligned: the last axis of the first has length "
            f"{sa[-1]}, the second-to-last of the second has length {sb[-2]} {where}"
        )

    def batch_mismatch(meta: list[int]) -> str:
        sa, sb = _split(meta, *ranks)
        return f"matmul: the batch axes of shapes {sa} and {sb} cannot be broadcast together {where}"

    return _with_meta_messages(
        kernel, {ERR_ALIGN: (ShapeError, not_aligned), ERR_BATCH: (ShapeError, batch_mismatch)}
    )


def _loop_subs(a_dtype: str, b_dtype: str, out_dtype: str) -> dict[str, str]:
    """Types and element expressions of the integer/bool product loop."""
    wide = "uint64_t" if out_dtype == "int64" else "uint32_t"

    def load(dtype: str, var: str) -> str:  # an input element as U (bool: 0 or 1)
        return f"(U)({var} != 0)" if dtype == "bool" else f"(U)(T){var}"

    if out_dtype == "bool":
        accumulate = "crow[j] |= (T)(bv_ != 0)"
    else:
        accumulate = f"crow[j] = (T)((U)crow[j] + av * {load(b_dtype, 'bv_')})"
    return {
        "T": "uint8_t" if out_dtype == "bool" else C_TYPES[out_dtype],
        "U": "uint32_t" if out_dtype == "bool" else wide,
        "TA": "uint8_t" if a_dtype == "bool" else C_TYPES[a_dtype],
        "TB": "uint8_t" if b_dtype == "bool" else C_TYPES[b_dtype],
        "LOAD_A": load(a_dtype, "av_"),
        "ACCUMULATE": accumulate,
    }


# --- Gemm ------------------------------------------------------------------------------------
@c_kernel(Gemm)
def gemm_kernel(node: Apply) -> OpKernel | None:
    """``alpha * (A @ B) + beta * C`` with one BLAS call into the scaled ``C``."""
    c = node.inputs[2]
    dtype = node.outputs[0].dtype
    if dtype not in FLOAT_DTYPES or any(v.dtype != dtype for v in node.inputs):
        return None
    blas = blas_library()
    if blas is None:
        return None
    copy, copy_name = copy_helper(dtype, dtype)
    shape_body = _body("gemm_shape", {"ERR_ALIGN": str(ERR_ALIGN), "ERR_BROADCAST": str(ERR_BATCH)})
    run_body = _body(
        "gemm_run",
        {
            "T": C_TYPES[dtype],
            "COPY": copy_name,
            "PRODUCT": _product_name(dtype),
            "MAX": _max_dim(blas),
            "OWN": "sg_own_sgemm" if dtype == "float32" else "sg_own_dgemm",
        },
    )
    kernel = op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_common(), copy, _blas(blas)],
        link_flags=blas.link_flags,
    )
    where = f"(created at {node.location})"

    def not_aligned(meta: list[int]) -> str:
        sa, sb = _split(meta, 2, 2)
        return f"gemm: shapes {sa} and {sb} are not aligned {where}"

    def not_broadcast(meta: list[int]) -> str:
        sz, sc = _split(meta, 2, c.ndim)  # the C writes the product's shape, then C's
        return (
            f"gemm: the product of shape {sz} and the addend of shape {sc} cannot be broadcast "
            f"together {where}"
        )

    return _with_meta_messages(
        kernel, {ERR_ALIGN: (ShapeError, not_aligned), ERR_BATCH: (ShapeError, not_broadcast)}
    )


# --- EqualDims ---------------------------------------------------------------------------------
@c_kernel(EqualDims)
def equal_dims_kernel(node: Apply) -> OpKernel | None:
    """A comparison of two int scalars: cheap in C, and keeps tensordot graphs off Python."""
    da, db = node.inputs
    if da.dtype not in INT_DTYPES or db.dtype not in INT_DTYPES:
        return None
    op = node.op
    types = {"TA": C_TYPES[da.dtype], "TB": C_TYPES[db.dtype]}
    message = (
        f"{op.op_name}: shape-mismatch for sum: axis {op.axis_a} of the first input has length {{0}}, "
        f"axis {op.axis_b} of the second has length {{1}} (created at {node.location})"
    )
    return op_kernel(
        node,
        shape_body=_body("equal_dims_shape", {**types, "ERR_MISMATCH": str(FIRST_OP_ERROR)}),
        run_body=_body("equal_dims_run", {"TA": types["TA"]}),
        errors={FIRST_OP_ERROR: (ShapeError, message)},
    )
