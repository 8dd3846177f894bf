"""C kernels of the matrix products: ``MatMul`` and ``Gemm`` in float32/float64 through CBLAS
(the scipy-openblas32 wheel), integer and bool ``MatMul`` as C loops with NumPy's wrapping
semantics, and ``EqualDims`` (tensordot's run-time length check).

The C is in ``csrc_templates/blas.c`` (layouts BLAS reads in place, GEMV/DOT for vector
products, splitting of lengths over 32-bit BLAS integers). Without scipy-openblas32 the float
products stay on NumPy, with one warning.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from symgrad.codegen.kernels import FIRST_OP_ERROR, OpKernel, c_kernel, copy_helper, op_kernel
from symgrad.codegen.templates import render, section
from symgrad.graph.basic import Apply
from symgrad.graph.errors import ShapeError
from symgrad.graph.types import C_TYPES, FLOAT_DTYPES, INT_DTYPES
from symgrad.ops.gemm import Gemm
from symgrad.ops.linalg import EqualDims, MatMul

try:
    import scipy_openblas32
except ImportError:  # the float products then run through NumPy
    scipy_openblas32 = None

TEMPLATE = "blas.c"
CBLAS_PREFIX = "scipy_"  # scipy-openblas32 prefixes every symbol (scipy_cblas_dgemm)
# BLAS integers are 32-bit: longer axes and leading dimensions are split into blocks of at
# most this many (the tests lower it to exercise the splitting on small arrays).
BLAS_MAX_DIM = 2**31 - 1
MAX_NDIM = 64  # SG_MAXDIM of csrc_templates/scalar_math.h
META_SLOTS = 8  # SG_META_INFO: the output shapes' slots follow, so shapes may spill into them
ERR_ALIGN, ERR_BATCH = FIRST_OP_ERROR, FIRST_OP_ERROR + 1
NO_BLAS_WARNING = (
    "scipy-openblas32 is not installed: mode 'c' runs float matrix products (MatMul, Gemm) "
    "through NumPy; `pip install scipy-openblas32` compiles them against OpenBLAS"
)

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


@functools.cache
def blas_flags() -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(compile flags, link flags) for CBLAS, or None (with one warning) without the wheel."""
    if scipy_openblas32 is None:
        warnings.warn(NO_BLAS_WARNING, stacklevel=2)
        return None
    include, libdir = scipy_openblas32.get_include_dir(), scipy_openblas32.get_lib_dir()
    library = scipy_openblas32.get_library()
    return (f"-I{include}",), (f"-L{libdir}", f"-l{library}", f"-Wl,-rpath,{libdir}")


def _common() -> str:
    return render(section(TEMPLATE, "common"))


def _blas() -> str:
    return render(section(TEMPLATE, "blas"), {"PREFIX": CBLAS_PREFIX})


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
    flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    if out.dtype in FLOAT_DTYPES:
        found = blas_flags()
        if found is None:
            return None
        flags, link_flags = found
        copy, copy_name = copy_helper(out.dtype, out.dtype)
        helpers = [_common(), copy, _blas()]
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
                "MAX": str(BLAS_MAX_DIM),
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
        flags=flags,
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
    found = blas_flags()
    if found is None:
        return None
    copy, copy_name = copy_helper(dtype, dtype)
    shape_body = _body("gemm_shape", {"ERR_ALIGN": str(ERR_ALIGN), "ERR_BROADCAST": str(ERR_BATCH)})
    run_body = _body(
        "gemm_run",
        {"T": C_TYPES[dtype], "COPY": copy_name, "PRODUCT": _product_name(dtype), "MAX": str(BLAS_MAX_DIM)},
    )
    kernel = op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_common(), copy, _blas()],
        flags=found[0],
        link_flags=found[1],
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
