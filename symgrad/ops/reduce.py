"""Reductions over a static set of axes (sum, prod, max, min, all, any) and argmax/argmin."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Op, Variable, as_tensor_variable
from symgrad.graph.errors import GraphValueError, build_error
from symgrad.graph.types import TensorType, format_static_shape, normalize_dtype
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.elemwise import cast, second

_NUMPY_REDUCTIONS = {
    "sum": np.sum,
    "prod": np.prod,
    "max": np.max,
    "min": np.min,
    "all": np.all,
    "any": np.any,
    # The shift of a stable logsumexp: like max, but -inf (not an error) over an empty axis.
    "max_or_neg_inf": functools.partial(np.max, initial=-np.inf),
}
_NO_IDENTITY = ("max", "min")
_MAX_LIKE = ("max", "min", "max_or_neg_inf")
# NumPy sums and multiplies uint8 in uint64, which symgrad does not have.
_RESULT_DTYPES = {"uint64": "int64"}


def normalize_axes(axis: Any, ndim: int, op_name: str) -> tuple[int, ...]:
    """``axis`` (None, int or sequence; negative allowed) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = list(axis) if isinstance(axis, (tuple, list)) else [axis]
    out = set()
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise build_error(GraphValueError, op_name, f"axis must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < ndim:
            raise build_error(GraphValueError, op_name, f"axis {a} is out of bounds for a {ndim}-d input")
        a = int(a) % ndim
        if a in out:
            raise build_error(GraphValueError, op_name, f"axis {a} is repeated")
        out.add(a)
    return tuple(sorted(out))


def expand_reduced(g: Variable, axes: Sequence[int], ndim: int) -> Variable:
    """Insert length-1 axes where ``axes`` were reduced (keepdims after the fact)."""
    pattern: list[int | str] = []
    k = 0
    for a in range(ndim):
        if a in axes:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return dimshuffle(g, *pattern)


class Reduce(Op):
    """``kind`` in sum/prod/max/min/all/any over ``axis`` (a sorted tuple), no keepdims."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: tuple[int, ...]) -> None:
        self.kind = kind
        self.axis = tuple(axis)

    def __str__(self) -> str:
        return f"{self.kind}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if any(a >= x.ndim for a in self.axis):
            raise build_error(
                GraphValueError, self.kind, f"axis {self.axis} is out of bounds for {x.describe()}"
            )
        if self.kind in _NO_IDENTITY and any(x.static_shape[a] == 0 for a in self.axis):
            raise build_error(GraphValueError, self.kind, _empty_message(x.static_shape, self.axis))
        if self.kind == "max_or_neg_inf" and x.dtype not in ("float32", "float64"):
            raise build_error(GraphValueError, self.kind, f"needs a float input, got {x.describe()}")
        shape = [s for a, s in enumerate(x.static_shape) if a not in self.axis]
        return Apply(self, [x], [TensorType(_result_dtype(self.kind, x.dtype), shape)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if self.kind in _NO_IDENTITY and any(x.shape[a] == 0 for a in self.axis):
            raise GraphValueError(
                f"{self.kind}: {_empty_message(x.shape, self.axis)} (created at {node.location})"
            )
        result = _NUMPY_REDUCTIONS[self.kind](x, axis=self.axis)
        output_storage[0][0] = np.asarray(result, dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return [tuple(s for a, s in enumerate(input_shapes[0]) if a not in self.axis)]

    def L_op(self, inputs, outputs, output_grads):
        (x,), (z,), (g,) = inputs, outputs, output_grads
        if self.kind in ("all", "any") or x.dtype not in ("float32", "float64"):
            return [None]
        g = expand_reduced(g, self.axis, x.ndim)
        z = expand_reduced(z, self.axis, x.ndim)
        if self.kind == "sum":
            return [cast(second(x, g), x.dtype)]
        if self.kind in _MAX_LIKE:  # ties share the gradient equally
            hit = cast(so.eq(x, z), x.dtype)
            count = expand_reduced(Reduce("sum", self.axis)(hit), self.axis, x.ndim)
            return [so.mul(g, so.true_divide(hit, count))]
        return [so.mul(g, _prod_of_others(x, z, self.axis))]


def _result_dtype(kind: str, dtype: str) -> str:
    """NumPy's result dtype for this reduction (int8 sums are int64, ...)."""
    sample = _NUMPY_REDUCTIONS[kind](np.zeros((1,), dtype=dtype))
    name = np.asarray(sample).dtype.name
    return normalize_dtype(_RESULT_DTYPES.get(name, name))


def _empty_message(shape: Sequence[int | None], axes: tuple[int, ...] | None) -> str:
    where = "the flattened input" if axes is None else f"axis {axes[0] if len(axes) == 1 else axes}"
    return (
        f"cannot reduce over an empty axis ({where} of shape {format_static_shape(tuple(shape))} "
        "has no elements, and this reduction has no identity)"
    )


def _prod_of_others(x: Variable, z: Variable, axes: tuple[int, ...]) -> Variable:
    """d prod / d x_i = product of the other elements, exact when x holds zeros."""
    is_zero = so.eq(x, 0.0)
    zeros = expand_reduced(Reduce("sum", axes)(cast(is_zero, "int64")), axes, x.ndim)
    nonzero_prod = expand_reduced(Reduce("prod", axes)(so.where(is_zero, 1.0, x)), axes, x.ndim)
    no_zero = so.true_divide(z, so.where(is_zero, 1.0, x))
    one_zero = so.where(is_zero, nonzero_prod, 0.0)
    return so.where(so.eq(zeros, 0), no_zero, so.where(so.eq(zeros, 1), one_zero, 0.0))


class Argmax(Op):
    """Index of the max (``kind='argmax'``) or min along one axis, or of the flattened array."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: int | None) -> None:
        self.kind = kind
        self.axis = axis

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise build_error(
                GraphValueError, self.kind, f"axis {self.axis} is out of bounds for {x.describe()}"
            )
        if self._is_empty(x.static_shape):
            raise build_error(GraphValueError, self.kind, _empty_message(x.static_shape, self._axes()))
        shape = [] if self.axis is None else [s for a, s in enumerate(x.static_shape) if a != self.axis]
        return Apply(self, [x], [TensorType("int64", shape)()])

    def _axes(self) -> tuple[int, ...] | None:
        return None if self.axis is None else (self.axis,)

    def _is_empty(self, shape: Sequence[int | None]) -> bool:
        lengths = shape if self.axis is None else [shape[self.axis]]
        return any(n == 0 for n in lengths)

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if self._is_empty(x.shape):
            raise GraphValueError(
                f"{self.kind}: {_empty_message(x.shape, self._axes())} (created at {node.location})"
            )
        fn = np.argmax if self.kind == "argmax" else np.argmin
        output_storage[0][0] = np.asarray(fn(x, axis=self.axis), dtype="int64")

    def infer_shape(self, node, input_shapes):
        if self.axis is None:
            return [()]
        return [tuple(s for a, s in enumerate(input_shapes[0]) if a != self.axis)]

    def grad(self, inputs, output_grads):
        return [None]
