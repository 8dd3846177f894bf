"""Specialize: replace general ops by cheaper special cases.

``x ** n`` for small integer ``n`` becomes multiplications, ``x ** 0.5`` a square root,
``x ** -1`` a reciprocal; a matrix product followed by a scale and an add becomes one
``Gemm`` node; ``sum(x * y)`` over vectors becomes a dot product.

Values. Powers by multiplication round once per product (``pow`` rounds once): a few ulps
for floats, exact for integers (both wrap around). ``sqrt(-0.0)`` is ``-0.0`` where
``(-0.0) ** 0.5`` is ``+0.0``, and ``sqrt(-inf)`` is NaN where ``(-inf) ** 0.5`` is inf
(Theano makes the same trade). A dot product sums in BLAS's order, not NumPy's pairwise one.
Gemm computes exactly what the unfused graph computes.
"""

from __future__ import annotations

import numpy as np
import sympy

from symgrad.graph.basic import Variable, make_constant
from symgrad.graph.types import is_float
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import cast, second
from symgrad.ops.gemm import gemm
from symgrad.ops.linalg import MatMul
from symgrad.ops.reduce import Reduce
from symgrad.rewrite.canonicalize import AnyNode, cannot_extend, filled
from symgrad.rewrite.pattern import C, E, N, V
from symgrad.rewrite.registry import local_rewrite
from symgrad.rewrite.util import is_elemwise, scalar_constant_value
from symgrad.tensor.linalg import matmul

PHASE = "specialize"
MAX_POWER = 16


def power_by_squaring(x, n: int, mul):
    """``x ** n`` for ``n >= 1`` with about ``2 log2(n)`` products (``mul(a, b)``)."""
    result, square = None, x
    while n:
        if n & 1:
            result = square if result is None else mul(result, square)
        n >>= 1
        if n:
            square = mul(square, square)
    return result


def _power(base, n: int, mul, reciprocal):
    return power_by_squaring(base, n, mul) if n > 0 else reciprocal(power_by_squaring(base, -n, mul))


def _pow_proof(*_):
    t = sympy.Symbol("t", positive=True)
    ns = [n for n in range(-MAX_POWER, MAX_POWER + 1) if n]
    weights = sympy.symbols(f"w0:{len(ns) + 1}", real=True)
    lhs = sum(w * t**n for w, n in zip(weights, ns)) + weights[-1] * t ** sympy.Rational(1, 2)
    rhs = sum(w * _power(t, n, lambda a, b: a * b, lambda a: 1 / a) for w, n in zip(weights, ns))
    return lhs, rhs + weights[-1] * sympy.sqrt(t)


def _pow_base(xv: Variable, out: Variable, n: float) -> Variable | None:
    """``x`` in the result's dtype, as NumPy's power converts it; None where a power by
    products would not match (integer results with negative or fractional exponents)."""
    if is_float(out.dtype):
        return cast(xv, out.dtype)
    if xv.dtype == out.dtype and float(n).is_integer() and n >= 0:
        return xv
    return None


@local_rewrite("pow_specialize", PHASE, E.pow(V("x"), C("c")), proof=_pow_proof)
def pow_specialize(b):
    """``x ** 0 -> 1``, ``x ** 0.5 -> sqrt(x)``, ``x ** n`` for integer ``0 < |n| <= 16``
    by repeated squaring (``x ** -n`` as ``reciprocal(x ** n)`` for floats only)."""
    node, out = b["node"], b["out"]
    n = scalar_constant_value(b["c"])
    if n is None or isinstance(n, complex) or not np.isfinite(n):
        return None
    base = _pow_base(b["x"], out, n)
    if base is None:
        return None
    if n == 0:
        return filled(1, node)
    if n == 0.5:
        new = so.sqrt(base)
    elif float(n).is_integer() and 1 <= abs(n) <= MAX_POWER and (n > 0 or is_float(out.dtype)):
        new = _power(base, int(n), so.mul, so.reciprocal)
    else:
        return None
    return new if cannot_extend(b["c"], new) else second(b["c"], new)


# --- gemm ------------------------------------------------------------------------------


def _only_client(b, var: Variable) -> bool:
    """True unless the graph (when the engine passes it) shows other readers of ``var``."""
    fgraph = b.get("fgraph")
    return fgraph is None or len(fgraph.clients.get(var, ())) <= 1


def _scaled(var: Variable) -> tuple[Variable | None, Variable]:
    """``(s, v)`` when ``var`` is ``s * v`` with a scalar ``s``, else ``(None, var)``."""
    node = var.owner
    if is_elemwise(var, "mul") and len(node.inputs) == 2:
        s, v = node.inputs
        if s.ndim != 0 and v.ndim == 0:
            s, v = v, s
        if s.ndim == 0:
            return s, v
    return None, var


def _is_matrix_product(var: Variable) -> bool:
    node = var.owner
    return node is not None and isinstance(node.op, MatMul) and all(i.ndim == 2 for i in node.inputs)


def _signed(scale: Variable | None, negate: bool, dtype: str) -> Variable:
    """The scale (1 when missing), negated when the term is subtracted: ``-s`` exactly."""
    if scale is None:
        return make_constant(-1 if negate else 1, dtype=dtype)
    if not negate:
        return scale
    value = scalar_constant_value(scale)
    return so.neg(scale) if value is None else make_constant(-value, dtype=scale.dtype)


def _gemm_from(b, term_ab: Variable, term_c: Variable, negate_ab=False, negate_c=False) -> Variable | None:
    """``±alpha * (A @ B) ± beta * C`` as one Gemm (a subtracted term's scale negated)."""
    out = b["out"]
    alpha, ab = _scaled(term_ab)
    if not _is_matrix_product(ab) or not (_only_client(b, ab) and _only_client(b, term_ab)):
        return None
    beta, c = _scaled(term_c)
    a, bm = ab.owner.inputs
    operands = (a, bm, c, ab, term_ab, term_c) + tuple(s for s in (alpha, beta) if s is not None)
    if not is_float(out.dtype) or any(v.dtype != out.dtype for v in operands) or c.ndim > 2:
        return None
    alpha, beta = _signed(alpha, negate_ab, out.dtype), _signed(beta, negate_c, out.dtype)
    return gemm(a, bm, c, alpha, beta)


def _gemm_proof(*_):
    def mat(name, rows, cols):
        return sympy.Matrix(rows, cols, sympy.symbols(f"{name}0:{rows * cols}", real=True))

    a, bm, c = mat("a", 2, 3), mat("b", 3, 2), mat("c", 1, 2)
    alpha, beta = sympy.symbols("alpha beta", real=True)
    c_rows = sympy.Matrix.vstack(c, c)  # the bias row broadcast over the rows
    lhs = alpha * (a * bm) + beta * c_rows
    rhs = sympy.Matrix(2, 2, lambda i, j: alpha * sum(a[i, k] * bm[k, j] for k in range(3)) + beta * c[0, j])
    weights = mat("w", 2, 2)
    return sum(weights[k] * lhs[k] for k in range(4)), sum(weights[k] * rhs[k] for k in range(4))


@local_rewrite("gemm", PHASE, AnyNode(("elemwise", "add")), proof=_gemm_proof)
def gemm_from_add(b):
    """``alpha * (A @ B) + beta * C -> Gemm`` (either scale may be missing) for 2-d float
    ``A``, ``B`` and a ``C`` that broadcasts, such as the bias row of ``x @ W + b``."""
    node = b["node"]
    if len(node.inputs) != 2:
        return None
    p, q = node.inputs
    new = _gemm_from(b, p, q)
    return new if new is not None else _gemm_from(b, q, p)


def _gemm_sub_proof(*_):
    a, bm = (
        sympy.Matrix(2, 3, sympy.symbols("a0:6", real=True)),
        sympy.Matrix(3, 2, sympy.symbols("b0:6", real=True)),
    )
    c = sympy.Matrix(2, 2, sympy.symbols("c0:4", real=True))
    alpha, beta = sympy.symbols("alpha beta", real=True)
    w, v = sympy.symbols("w0:4", real=True), sympy.symbols("v0:4", real=True)  # one set per form

    def weighted(first, second):
        return sum(x * y for x, y in zip(w, first)) + sum(x * y for x, y in zip(v, second))

    lhs = weighted(beta * c - alpha * (a * bm), alpha * (a * bm) - beta * c)
    rhs = weighted((-alpha) * (a * bm) + beta * c, alpha * (a * bm) + (-beta) * c)
    return lhs, rhs


@local_rewrite("gemm_sub", PHASE, AnyNode(("elemwise", "sub")), proof=_gemm_sub_proof)
def gemm_from_sub(b):
    """``beta * C - alpha * (A @ B)`` and ``alpha * (A @ B) - beta * C -> Gemm`` with the
    subtracted scale negated (exact in floating point): the SGD update ``W - lr * (X.T @ G)``."""
    node = b["node"]
    if len(node.inputs) != 2:
        return None
    p, q = node.inputs
    new = _gemm_from(b, q, p, negate_ab=True)
    return new if new is not None else _gemm_from(b, p, q, negate_c=True)


# --- sum of products -> dot ------------------------------------------------------------


def _dot_proof(*_):
    xs, ys = sympy.symbols("x0:4", real=True), sympy.symbols("y0:4", real=True)
    return sum(xi * yi for xi, yi in zip(xs, ys)), sympy.Matrix([xs]).dot(sympy.Matrix([ys]))


def _same_length(xv: Variable, yv: Variable) -> bool:
    """Lengths surely equal (a length-1 vector broadcast by ``*`` is no dot product)."""
    n, m = xv.static_shape[0], yv.static_shape[0]
    return xv is yv or (n is not None and n == m)


@local_rewrite(
    "sum_mul_to_dot",
    PHASE,
    N(Reduce, E.mul(V("x"), V("y"), bind="prod"), kind="sum", axis=(0,)),
    proof=_dot_proof,
)
def sum_mul_to_dot(b):
    """``sum(x * y) -> dot(x, y)`` for float vectors of one dtype and equal lengths."""
    xv, yv, out = b["x"], b["y"], b["out"]
    if xv.ndim != 1 or yv.ndim != 1 or not _same_length(xv, yv) or not _only_client(b, b["prod"]):
        return None
    if not is_float(out.dtype) or not xv.dtype == yv.dtype == out.dtype:
        return None
    return matmul(xv, yv)
