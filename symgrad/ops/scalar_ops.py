"""The elementwise op table: one row per scalar function.

Each row gives the NumPy implementation (which also fixes the output dtype), the gradient
rule, the C expression and the SymPy form. Gradient rules see tensors: ``x``, ``y`` are
the inputs, ``z`` the output and ``g`` the output gradient, at the broadcast shape.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy

from symgrad.ops.elemwise import ScalarOp, register_scalar_op

LN2, LN10 = math.log(2.0), math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _zero_grad(inputs, z, g):
    return [None] * len(inputs)


def _float_result_dtype(x: np.ndarray) -> np.dtype:
    dtype = np.sin(np.zeros((0,), dtype=np.asarray(x).dtype)).dtype
    return np.dtype("float32") if dtype == np.float16 else dtype


def _sigmoid(x):
    x = np.asarray(x)
    dtype = _float_result_dtype(x)
    x = x.astype(dtype, copy=False)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype, copy=False)


def _softplus(x):
    x = np.asarray(x)
    dtype = _float_result_dtype(x)
    return np.logaddexp(np.zeros((), dtype), x.astype(dtype, copy=False))


_vector_erf = np.vectorize(math.erf, otypes=[np.float64])


def _erf(x):
    x = np.asarray(x)
    dtype = _float_result_dtype(x)
    if x.size == 0:
        return np.zeros(x.shape, dtype)
    return _vector_erf(x).astype(dtype, copy=False)


def _variadic(ufunc):
    def impl(*xs):
        return functools.reduce(ufunc, xs)

    return impl


def _mul_grad(inputs, z, g):
    grads = []
    for k in range(len(inputs)):
        others = [x for j, x in enumerate(inputs) if j != k]
        grads.append(mul(g, *others) if others else g)
    return grads


def _clip_grad(x, lo, hi, g):
    """NumPy's clip is ``minimum(maximum(x, lo), hi)``: exactly one input gets ``g``,
    ``hi`` when the bounds cross."""
    return [
        mul(g, logical_and(ge(x, lo), le(x, hi))),
        mul(g, logical_and(lt(x, lo), le(lo, hi))),
        mul(g, gt(maximum(x, lo), hi)),
    ]


def _log_base(x):
    """log(x) for d(x**y)/dy, with 0 at x == 0 (where x**y is flat in y for y > 0)."""
    return log(where(eq(x, 0), 1, x))


def _row(name, nin, impl, grad=None, c=None, sym=None, **kw) -> ScalarOp:
    return register_scalar_op(ScalarOp(name, nin, impl, grad=grad, c_expr=c, sympy=sym, **kw))


# --- arithmetic ------------------------------------------------------------------------
add = _row(
    "add",
    None,
    _variadic(np.add),
    lambda xs, z, g: [g] * len(xs),
    "({0} + {1})",
    lambda *xs: sympy.Add(*xs),
    commutative=True,
)
mul = _row(
    "mul",
    None,
    _variadic(np.multiply),
    _mul_grad,
    "({0} * {1})",
    lambda *xs: sympy.Mul(*xs),
    commutative=True,
)
sub = _row("sub", 2, np.subtract, lambda xs, z, g: [g, neg(g)], "({0} - {1})", lambda x, y: x - y)
true_divide = _row(
    "true_divide",
    2,
    np.true_divide,
    lambda xs, z, g: [true_divide(g, xs[1]), neg(mul(g, true_divide(z, xs[1])))],
    "({0} / {1})",
    lambda x, y: x / y,
)
floor_divide = _row(
    "floor_divide", 2, np.floor_divide, _zero_grad, "sg_floor_div({0}, {1})", lambda x, y: sympy.floor(x / y)
)
mod = _row(
    "mod",
    2,
    np.mod,
    lambda xs, z, g: [g, neg(mul(g, floor_divide(*xs)))],
    "sg_mod({0}, {1})",
    lambda x, y: sympy.Mod(x, y),
)
pow = _row(
    "pow",
    2,
    np.power,
    lambda xs, z, g: [mul(g, xs[1], pow(xs[0], sub(xs[1], 1))), mul(g, z, _log_base(xs[0]))],
    "pow({0}, {1})",
    lambda x, y: x**y,
)
neg = _row("neg", 1, np.negative, lambda xs, z, g: [neg(g)], "(-{0})", lambda x: -x)
abs = _row("abs", 1, np.absolute, lambda xs, z, g: [mul(g, sign(xs[0]))], "sg_abs({0})", sympy.Abs)
reciprocal = _row(
    "reciprocal", 1, np.reciprocal, lambda xs, z, g: [neg(mul(g, z, z))], "(1 / {0})", lambda x: 1 / x
)
square = _row("square", 1, np.square, lambda xs, z, g: [mul(g, 2.0, xs[0])], "({0} * {0})", lambda x: x**2)
maximum = _row(
    "maximum",
    2,
    np.maximum,
    lambda xs, z, g: [mul(g, ge(xs[0], xs[1])), mul(g, lt(xs[0], xs[1]))],
    "sg_max({0}, {1})",
    sympy.Max,
    commutative=True,
)
minimum = _row(
    "minimum",
    2,
    np.minimum,
    lambda xs, z, g: [mul(g, le(xs[0], xs[1])), mul(g, gt(xs[0], xs[1]))],
    "sg_min({0}, {1})",
    sympy.Min,
    commutative=True,
)
clip = _row(
    "clip",
    3,
    np.clip,
    lambda xs, z, g: _clip_grad(*xs, g),
    "sg_min(sg_max({0}, {1}), {2})",
    lambda x, lo, hi: sympy.Min(sympy.Max(x, lo), hi),
)
where = _row(
    "where",
    3,
    np.where,
    lambda xs, z, g: [None, where(xs[0], g, 0.0), where(xs[0], 0.0, g)],
    "({0} ? {1} : {2})",
    lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
    promote=(1, 2),
)
sign = _row("sign", 1, np.sign, _zero_grad, "sg_sign({0})", sympy.sign)
floor = _row("floor", 1, np.floor, _zero_grad, "floor({0})", sympy.floor)
ceil = _row("ceil", 1, np.ceil, _zero_grad, "ceil({0})", sympy.ceiling)
round = _row("round", 1, np.round, _zero_grad, "nearbyint({0})", None)
identity = _row("identity", 1, np.array, lambda xs, z, g: [g], "({0})", lambda x: x)
zero_grad = _row("zero_grad", 1, np.array, _zero_grad, "({0})", lambda x: x)

# --- transcendental ----------------------------------------------------------------------
exp = _row("exp", 1, np.exp, lambda xs, z, g: [mul(g, z)], "exp({0})", sympy.exp)
exp2 = _row("exp2", 1, np.exp2, lambda xs, z, g: [mul(g, z, LN2)], "exp2({0})", lambda x: 2**x)
expm1 = _row(
    "expm1", 1, np.expm1, lambda xs, z, g: [mul(g, add(z, 1.0))], "expm1({0})", lambda x: sympy.exp(x) - 1
)
log = _row("log", 1, np.log, lambda xs, z, g: [true_divide(g, xs[0])], "log({0})", sympy.log)
log2 = _row(
    "log2",
    1,
    np.log2,
    lambda xs, z, g: [true_divide(g, mul(xs[0], LN2))],
    "log2({0})",
    lambda x: sympy.log(x, 2),
)
log10 = _row(
    "log10",
    1,
    np.log10,
    lambda xs, z, g: [true_divide(g, mul(xs[0], LN10))],
    "log10({0})",
    lambda x: sympy.log(x, 10),
)
log1p = _row(
    "log1p",
    1,
    np.log1p,
    lambda xs, z, g: [true_divide(g, add(xs[0], 1.0))],
    "log1p({0})",
    lambda x: sympy.log(1 + x),
)
sqrt = _row("sqrt", 1, np.sqrt, lambda xs, z, g: [true_divide(mul(g, 0.5), z)], "sqrt({0})", sympy.sqrt)
sin = _row("sin", 1, np.sin, lambda xs, z, g: [mul(g, cos(xs[0]))], "sin({0})", sympy.sin)
cos = _row("cos", 1, np.cos, lambda xs, z, g: [neg(mul(g, sin(xs[0])))], "cos({0})", sympy.cos)
tan = _row("tan", 1, np.tan, lambda xs, z, g: [mul(g, add(1.0, mul(z, z)))], "tan({0})", sympy.tan)
arcsin = _row(
    "arcsin",
    1,
    np.arcsin,
    lambda xs, z, g: [true_divide(g, sqrt(sub(1.0, mul(xs[0], xs[0]))))],
    "asin({0})",
    sympy.asin,
)
arccos = _row(
    "arccos",
    1,
    np.arccos,
    lambda xs, z, g: [neg(true_divide(g, sqrt(sub(1.0, mul(xs[0], xs[0])))))],
    "acos({0})",
    sympy.acos,
)
arctan = _row(
    "arctan",
    1,
    np.arctan,
    lambda xs, z, g: [true_divide(g, add(1.0, mul(xs[0], xs[0])))],
    "atan({0})",
    sympy.atan,
)
arctan2 = _row(
    "arctan2",
    2,
    np.arctan2,
    lambda xs, z, g: [
        true_divide(mul(g, xs[1]), add(mul(xs[0], xs[0]), mul(xs[1], xs[1]))),
        neg(true_divide(mul(g, xs[0]), add(mul(xs[0], xs[0]), mul(xs[1], xs[1])))),
    ],
    "atan2({0}, {1})",
    sympy.atan2,
)
sinh = _row("sinh", 1, np.sinh, lambda xs, z, g: [mul(g, cosh(xs[0]))], "sinh({0})", sympy.sinh)
cosh = _row("cosh", 1, np.cosh, lambda xs, z, g: [mul(g, sinh(xs[0]))], "cosh({0})", sympy.cosh)
tanh = _row("tanh", 1, np.tanh, lambda xs, z, g: [mul(g, sub(1.0, mul(z, z)))], "tanh({0})", sympy.tanh)
sigmoid = _row(
    "sigmoid",
    1,
    _sigmoid,
    lambda xs, z, g: [mul(g, z, sub(1.0, z))],
    "sg_sigmoid({0})",
    lambda x: 1 / (1 + sympy.exp(-x)),
)
softplus = _row(
    "softplus",
    1,
    _softplus,
    lambda xs, z, g: [mul(g, sigmoid(xs[0]))],
    "sg_softplus({0})",
    lambda x: sympy.log(1 + sympy.exp(x)),
)
erf = _row(
    "erf",
    1,
    _erf,
    lambda xs, z, g: [mul(g, TWO_OVER_SQRT_PI, exp(neg(mul(xs[0], xs[0]))))],
    "erf({0})",
    sympy.erf,
)

# --- comparisons and logic (bool results, no gradient) --------------------------------------
eq = _row("eq", 2, np.equal, None, "({0} == {1})", sympy.Eq, commutative=True)
neq = _row("neq", 2, np.not_equal, None, "({0} != {1})", sympy.Ne, commutative=True)
lt = _row("lt", 2, np.less, None, "({0} < {1})", sympy.Lt)
le = _row("le", 2, np.less_equal, None, "({0} <= {1})", sympy.Le)
gt = _row("gt", 2, np.greater, None, "({0} > {1})", sympy.Gt)
ge = _row("ge", 2, np.greater_equal, None, "({0} >= {1})", sympy.Ge)
logical_and = _row("logical_and", 2, np.logical_and, None, "({0} && {1})", sympy.And, commutative=True)
logical_or = _row("logical_or", 2, np.logical_or, None, "({0} || {1})", sympy.Or, commutative=True)
logical_not = _row("logical_not", 1, np.logical_not, None, "(!{0})", sympy.Not)
isnan = _row("isnan", 1, np.isnan, None, "isnan({0})", None)
isinf = _row("isinf", 1, np.isinf, None, "isinf({0})", None)
