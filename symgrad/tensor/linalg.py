"""Linear algebra with NumPy's semantics: ``matmul``, ``dot``, ``tensordot``, ``outer``.

Everything is built from one MatMul op plus axis shuffles and reshapes, so gradients and
later rewrites only ever see MatMul.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.graph.basic import Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphValueError, ShapeError, build_error
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.linalg import EqualDims, matmul_op
from symgrad.ops.shape_of import shape_dims, static_value
from symgrad.tensor import shape as tshape


def matmul(a: Any, b: Any) -> Variable:
    """``a @ b`` as ``np.matmul``: a 1-d operand gains an axis that is removed again."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    for v in (a, b):
        if v.ndim == 0:
            raise build_error(
                GraphValueError, "matmul", f"operands must have 1 or more dims, got {v.describe()}"
            )
    a2 = dimshuffle(a, "x", 0) if a.ndim == 1 else a
    b2 = dimshuffle(b, 0, "x") if b.ndim == 1 else b
    out = matmul_op(a2, b2)
    drop = ([out.ndim - 2] if a.ndim == 1 else []) + ([out.ndim - 1] if b.ndim == 1 else [])
    if not drop:
        return out
    return dimshuffle(out, *[k for k in range(out.ndim) if k not in drop])


def dot(a: Any, b: Any) -> Variable:
    """``np.dot``: a product for scalars, ``matmul`` up to 2-d, else a sum over the last axis
    of ``a`` and the second-to-last of ``b``."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return so.mul(a, b)
    if (a.ndim <= 2 and b.ndim <= 2) or a.ndim == 1 or b.ndim == 1:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


def outer(a: Any, b: Any) -> Variable:
    """``np.outer``: the inputs are flattened first."""
    a, b = _flat(as_tensor_variable(a)), _flat(as_tensor_variable(b))
    return so.mul(dimshuffle(a, 0, "x"), dimshuffle(b, "x", 0))


def _flat(x: Variable) -> Variable:
    if x.ndim == 1:
        return x
    if x.ndim == 0:
        return dimshuffle(x, "x")
    return tshape.reshape(x, [_product(shape_dims(x))])


def tensordot(a: Any, b: Any, axes: Any = 2) -> Variable:
    """``np.tensordot``: sum over ``axes`` (an int n, the last n of ``a`` with the first n of
    ``b``, or a pair of axis sequences); free axes of ``a`` come first in the result."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    axes_a, axes_b = _normalize_tensordot_axes(a, b, axes)
    free_a = [k for k in range(a.ndim) if k not in axes_a]
    free_b = [k for k in range(b.ndim) if k not in axes_b]
    dims_a, dims_b = shape_dims(a), shape_dims(b)
    summed = _checked_summed_dims(dims_a, dims_b, axes_a, axes_b)
    a2 = _group(dimshuffle(a, *free_a, *axes_a), [[dims_a[k] for k in free_a], summed])
    b2 = _group(dimshuffle(b, *axes_b, *free_b), [[dims_b[k] for k in axes_b], [dims_b[k] for k in free_b]])
    out = matmul_op(a2, b2)
    return _ungroup(out, [dims_a[k] for k in free_a], [dims_b[k] for k in free_b])


def _normalize_tensordot_axes(a: Variable, b: Variable, axes: Any) -> tuple[list[int], list[int]]:
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        n = int(axes)
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise build_error(
                GraphValueError, "tensordot", f"axes={n} needs 0 <= axes <= {min(a.ndim, b.ndim)} here"
            )
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    try:
        xa, xb = axes
    except (TypeError, ValueError):
        raise build_error(
            GraphValueError, "tensordot", f"axes must be an int or a pair of axis sequences, got {axes!r}"
        ) from None
    axes_a, axes_b = _axis_list(xa, a, "first"), _axis_list(xb, b, "second")
    if len(axes_a) != len(axes_b):
        raise build_error(
            ShapeError, "tensordot", f"shape-mismatch for sum: {len(axes_a)} axes vs {len(axes_b)} axes"
        )
    return axes_a, axes_b


def _axis_list(axes: Any, x: Variable, which: str) -> list[int]:
    items = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = []
    for ax in items:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)) or not -x.ndim <= ax < x.ndim:
            raise build_error(
                GraphValueError,
                "tensordot",
                f"axis {ax!r} is out of range for the {which} input, {x.describe()}",
            )
        out.append(int(ax) % x.ndim)
    if len(set(out)) != len(out):
        raise build_error(GraphValueError, "tensordot", f"repeated axis in {items} for the {which} input")
    return out


def _checked_summed_dims(dims_a: list, dims_b: list, axes_a: list[int], axes_b: list[int]) -> list[Variable]:
    """Lengths of the summed axes, each checked against its partner (statically when known)."""
    out = []
    for ka, kb in zip(axes_a, axes_b):
        sa, sb = static_value(dims_a[ka]), static_value(dims_b[kb])
        if sa is not None and sb is not None:
            if sa != sb:
                raise build_error(
                    ShapeError,
                    "tensordot",
                    f"shape-mismatch for sum: axis {ka} of the first input has length {sa}, "
                    f"axis {kb} of the second has length {sb}",
                )
            out.append(dims_a[ka])
        elif len(axes_a) == 1:
            out.append(dims_a[ka])  # one summed axis: MatMul checks it at run time
        else:
            out.append(EqualDims("tensordot", ka, kb)(dims_a[ka], dims_b[kb]))
    return out


def _product(dims: Sequence[Variable]) -> Variable:
    """The product of int64 scalars; a constant when every length is static."""
    values = [static_value(d) for d in dims]
    if all(v is not None for v in values):
        return make_constant(math.prod(values), dtype="int64")
    result = dims[0]
    for d in dims[1:]:
        result = so.mul(result, d)
    return result


def _group(x: Variable, groups: list[list[Variable]]) -> Variable:
    """``x`` as a matrix whose two axes merge the consecutive axes of each group."""
    if all(len(g) == 1 for g in groups):
        return x
    if all(len(g) <= 1 for g in groups):
        pattern, k = [], 0
        for g in groups:
            pattern.append(k if g else "x")
            k += len(g)
        return dimshuffle(x, *pattern)
    return tshape.reshape(x, [_product(g) if g else make_constant(1, dtype="int64") for g in groups])


def _ungroup(out: Variable, dims_a: list[Variable], dims_b: list[Variable]) -> Variable:
    """Split the matrix product back into the free axes of both inputs."""
    if len(dims_a) == 1 and len(dims_b) == 1:
        return out
    if len(dims_a) <= 1 and len(dims_b) <= 1:
        return dimshuffle(out, *[k for k, d in enumerate((dims_a, dims_b)) if d])
    return tshape.reshape(out, [*dims_a, *dims_b])
