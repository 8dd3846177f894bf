"""Shape functions users call: reshape, flatten, transpose, squeeze, expand_dims,
concatenate, stack, broadcast_to, zeros/ones/full, arange (NumPy's semantics).

Every shape argument may mix ints and symbolic integer scalars, or be a whole ``x.shape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.graph.basic import Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error
from symgrad.graph.types import format_static_shape, normalize_dtype
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.elemwise import cast, full_like, ones_like, zeros_like  # noqa: F401 (re-exported)
from symgrad.ops.reduce import normalize_axes
from symgrad.ops.shape_of import as_shape_list, shape_dims, vector_element
from symgrad.ops.shape_ops import Alloc, ARange, Concatenate, Reshape, product

__all__ = [
    "arange",
    "broadcast_to",
    "concatenate",
    "dimshuffle",
    "expand_dims",
    "flatten",
    "full",
    "full_like",
    "ones",
    "ones_like",
    "reshape",
    "squeeze",
    "stack",
    "transpose",
    "zeros",
    "zeros_like",
]


def reshape(x: Any, shape: Any, ndim: int | None = None) -> Variable:
    """``x`` with a new shape (one entry may be -1). ``ndim`` gives the length of a shape
    vector whose length is not known statically (Theano's argument)."""
    x = as_tensor_variable(x)
    dims = _shape_entries(shape, ndim)
    return Reshape()(x, *dims)


def _shape_entries(shape: Any, ndim: int | None) -> list[Variable]:
    if isinstance(shape, Variable) and shape.ndim == 1 and shape.static_shape[0] is None:
        if ndim is None:
            raise build_error(
                GraphValueError, "reshape", "a shape vector of unknown length needs ndim=<its length>"
            )
        return [vector_element(shape, i, ndim) for i in range(ndim)]
    dims = as_shape_list(shape, "reshape")
    if ndim is not None and ndim != len(dims):
        raise build_error(GraphValueError, "reshape", f"ndim={ndim} but the shape has {len(dims)} entries")
    return dims


def flatten(x: Any, ndim: int = 1) -> Variable:
    """Keep the first ``ndim - 1`` axes and flatten the rest into one (Theano's meaning)."""
    x = as_tensor_variable(x)
    valid = isinstance(ndim, (int, np.integer)) and not isinstance(ndim, bool)
    if not valid or ndim < 1 or (ndim > 1 and ndim > x.ndim):
        raise build_error(GraphValueError, "flatten", f"ndim must be in 1..{max(x.ndim, 1)}, got {ndim!r}")
    dims = shape_dims(x)
    return Reshape()(x, *dims[: ndim - 1], product(dims[ndim - 1 :]))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Variable:
    """Permute the axes (reverse them by default); negative axes count from the end."""
    x = as_tensor_variable(x)
    if axes is None:
        return dimshuffle(x, *reversed(range(x.ndim)))
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    if len(axes) != x.ndim:
        raise build_error(GraphValueError, "transpose", f"axes {tuple(axes)} don't match {x.describe()}")
    normalize_axes(axes, x.ndim, "transpose")  # rejects bad and repeated axes
    return dimshuffle(x, *[int(a) % x.ndim for a in axes])


def squeeze(x: Any, axis: Any = None) -> Variable:
    """Drop length-1 axes: those statically known to be 1 (``axis=None``), or the given
    ones (checked at run time when their length is unknown)."""
    x = as_tensor_variable(x)
    if axis is None:
        drop = [a for a, s in enumerate(x.static_shape) if s == 1]
    else:
        drop = normalize_axes(axis, x.ndim, "squeeze")
        for a in drop:
            if x.static_shape[a] not in (1, None):
                raise build_error(
                    ShapeError,
                    "squeeze",
                    f"cannot squeeze axis {a} of {x.describe()}: its length is not 1",
                )
    return dimshuffle(x, *[a for a in range(x.ndim) if a not in drop])


def expand_dims(x: Any, axis: Any) -> Variable:
    """Insert length-1 axes at the positions ``axis`` (int or tuple) of the result."""
    x = as_tensor_variable(x)
    if axis is None:
        raise build_error(GraphValueError, "expand_dims", "axis must be an int or a tuple of ints")
    count = 1 if isinstance(axis, (int, np.integer)) else len(tuple(axis))
    new_axes = normalize_axes(axis, x.ndim + count, "expand_dims")
    pattern: list[int | str] = []
    k = 0
    for a in range(x.ndim + count):
        if a in new_axes:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return dimshuffle(x, *pattern)


def concatenate(xs: Sequence[Any], axis: int | None = 0) -> Variable:
    """Join tensors along an existing axis (``axis=None`` flattens them first)."""
    xs = _tensor_list(xs, "concatenate")
    if axis is None:
        return Concatenate(0)(*[flatten(x) for x in xs])
    ndim = xs[0].ndim
    if ndim == 0:
        raise build_error(GraphValueError, "concatenate", "zero-dimensional tensors cannot be concatenated")
    (axis,) = normalize_axes(axis, ndim, "concatenate")
    return Concatenate(axis)(*xs)


def stack(xs: Sequence[Any], axis: int = 0) -> Variable:
    """Join tensors of one shape along a new axis."""
    xs = _tensor_list(xs, "stack")
    (axis,) = normalize_axes(axis, xs[0].ndim + 1, "stack")
    if len({x.ndim for x in xs}) > 1:
        shown = ", ".join(format_static_shape(x.static_shape) for x in xs)
        raise build_error(ShapeError, "stack", f"all inputs must have the same shape, got {shown}")
    return Concatenate(axis)(*[expand_dims(x, axis) for x in xs])


def _tensor_list(xs: Any, op_name: str) -> list[Variable]:
    if not isinstance(xs, (list, tuple)):
        raise build_error(
            GraphTypeError, op_name, f"expects a list or tuple of tensors, got {type(xs).__name__}"
        )
    if not xs:
        raise build_error(GraphValueError, op_name, "needs at least one tensor")
    return [as_tensor_variable(x) for x in xs]


def broadcast_to(x: Any, shape: Any) -> Variable:
    """``x`` broadcast to ``shape`` (a new array, NumPy's broadcasting rules)."""
    return Alloc()(x, *as_shape_list(shape, "broadcast_to"))


def full(shape: Any, value: Any, dtype: Any = None) -> Variable:
    """An array of ``shape`` filled with ``value`` (dtype of ``value`` unless given)."""
    value = as_tensor_variable(value)
    dtype = value.dtype if dtype is None else normalize_dtype(dtype)
    return broadcast_to(cast(value, dtype), shape)


def zeros(shape: Any, dtype: Any = None) -> Variable:
    """An array of zeros (``floatX`` unless ``dtype`` says)."""
    return full(shape, make_constant(0, dtype=normalize_dtype(dtype)))


def ones(shape: Any, dtype: Any = None) -> Variable:
    """An array of ones (``floatX`` unless ``dtype`` says)."""
    return full(shape, make_constant(1, dtype=normalize_dtype(dtype)))


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Variable:
    """``np.arange``: symbolic scalars allowed; int64 for integers, float64 if any float."""
    if stop is None:
        start, stop = 0, start
    args = [_arange_arg(v) for v in (start, stop, step)]
    if dtype is None:
        dtype = "float64" if any(np.dtype(v.dtype).kind == "f" for v in args) else "int64"
    return ARange(dtype)(*args)


def _arange_arg(value: Any) -> Variable:
    """Python numbers keep NumPy's precision (a float is float64 even when floatX is not)."""
    if isinstance(value, (bool, int, float, np.generic)):
        return make_constant(value, dtype=np.asarray(value).dtype)
    return as_tensor_variable(value)
