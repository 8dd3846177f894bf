"""Elementwise functions and reductions, NumPy-style (the names users call)."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, build_error
from symgrad.graph.types import is_float
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.elemwise import cast, full_like, ones_like, zeros_like  # noqa: F401 (re-exported)
from symgrad.ops.reduce import Argmax, Reduce, expand_reduced, normalize_axes
from symgrad.ops.shape_of import shape_dims

# Elementwise functions are the scalar ops themselves: calling one on tensors applies it.
add, sub, mul, true_divide, floor_divide, mod, pow = (
    so.add,
    so.sub,
    so.mul,
    so.true_divide,
    so.floor_divide,
    so.mod,
    so.pow,
)
neg, abs, exp, exp2, expm1 = so.neg, so.abs, so.exp, so.exp2, so.expm1
log, log2, log10, log1p, sqrt, square = so.log, so.log2, so.log10, so.log1p, so.sqrt, so.square
sin, cos, tan, arcsin, arccos, arctan, arctan2 = (
    so.sin,
    so.cos,
    so.tan,
    so.arcsin,
    so.arccos,
    so.arctan,
    so.arctan2,
)
sinh, cosh, tanh, sigmoid, softplus, erf = so.sinh, so.cosh, so.tanh, so.sigmoid, so.softplus, so.erf
sign, floor, ceil, round, reciprocal = so.sign, so.floor, so.ceil, so.round, so.reciprocal
maximum, minimum, where = so.maximum, so.minimum, so.where
eq, neq, lt, le, gt, ge = so.eq, so.neq, so.lt, so.le, so.gt, so.ge
logical_and, logical_or, logical_not, isnan, isinf = (
    so.logical_and,
    so.logical_or,
    so.logical_not,
    so.isnan,
    so.isinf,
)
divide = true_divide


def clip(x: Any, lo: Any, hi: Any) -> Variable:
    """NumPy's ``clip``: ``minimum(maximum(x, lo), hi)``."""
    return so.clip(x, lo, hi)


def stop_gradient(x: Any) -> Variable:
    """Identity in the forward pass whose gradient is zero (JAX's ``stop_gradient``)."""
    return so.zero_grad(x)


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool) -> Variable:
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, kind)
    out = Reduce(kind, axes)(x)  # no axes still applies NumPy's dtype rule (int8 sum -> int64)
    return expand_reduced(out, axes, x.ndim) if keepdims else out


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("sum", x, axis, keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("prod", x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("min", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("all", x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _reduce("any", x, axis, keepdims)


def _count(x: Variable, axes: tuple[int, ...], dtype: str) -> Variable:
    """Number of elements reduced over ``axes``, as a scalar of ``dtype``."""
    dims = shape_dims(x)
    n = make_constant(1, dtype="int64")
    for a in axes:
        n = so.mul(n, dims[a])
    return cast(n, dtype)


def _mean_dtype(x: Variable) -> str:
    return x.dtype if is_float(x.dtype) else "float64"


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    dtype = _mean_dtype(x)
    total = sum(cast(x, dtype), axes, keepdims)
    return so.true_divide(total, _count(x, axes, dtype))


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Population variance (ddof=0), as NumPy's ``var``."""
    return _var(x, axis, keepdims, "var")


def std(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Population standard deviation (ddof=0), as NumPy's ``std``."""
    return so.sqrt(_var(x, axis, keepdims, "std"))


def _var(x: Any, axis: Any, keepdims: bool, op_name: str) -> Variable:
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, op_name)
    centered = so.sub(cast(x, _mean_dtype(x)), mean(x, axes, keepdims=True))
    return mean(so.mul(centered, centered), axes, keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """``log(sum(exp(x)))`` computed stably (the max is subtracted first); ``-inf`` over
    an empty axis, as ``log(0)``. Integer inputs give float64, as ``mean`` does."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    x = cast(x, _mean_dtype(x))
    m = expand_reduced(Reduce("max_or_neg_inf", axes)(x), axes, x.ndim)
    m = stop_gradient(so.where(so.isinf(m), 0.0, m))  # rows of +-inf: shift by 0, not inf
    out = so.add(so.log(sum(so.exp(so.sub(x, m)), axes, keepdims=True)), m)
    if keepdims:
        return out
    return _drop_axes(out, axes)


def _drop_axes(x: Variable, axes: tuple[int, ...]) -> Variable:
    return dimshuffle(x, *[a for a in range(x.ndim) if a not in axes])


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _arg("argmax", x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return _arg("argmin", x, axis, keepdims)


def _arg(kind: str, x: Any, axis: Any, keepdims: bool) -> Variable:
    x = as_tensor_variable(x)
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, (int, np.integer))):
        raise build_error(GraphTypeError, kind, f"axis must be None or an int, got {axis!r}")
    ax = None if axis is None else normalize_axes(axis, x.ndim, kind)[0]
    out = Argmax(kind, ax)(x)
    if keepdims:
        return expand_reduced(out, tuple(range(x.ndim)) if ax is None else (ax,), x.ndim)
    return out
