"""Ops for ``sg.nn``: PickClass (``x[..., t]`` along the last axis, one class per row, the
core of categorical cross-entropy) and OneHot (its gradient's scatter pattern)."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Op, Variable, as_tensor_variable
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error
from symgrad.graph.types import TensorType, format_static_shape, is_float, is_int, normalize_dtype
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.elemwise import cast
from symgrad.ops.shape_of import shape_dims, static_value


class ClassIndexError(GraphValueError, IndexError):
    """A class index outside ``[0, number of classes)``; both a ValueError and an IndexError."""


def _check_indices(idx: Variable, op_name: str) -> None:
    if not is_int(idx.dtype):
        raise build_error(GraphTypeError, op_name, f"class indices must be integers, got {idx.describe()}")


def _check_range(idx: np.ndarray, n: int, op_name: str, node: Apply) -> None:
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise ClassIndexError(
            f"{op_name}: class index {idx[bad].flat[0]} is out of range for {n} classes "
            f"(indices shape {idx.shape}) (created at {node.location})"
        )


class PickClass(Op):
    """``out[...] = x[..., idx[...]]``: one entry of the last axis of ``x`` per index."""

    def __str__(self) -> str:
        return "pick_class"

    def make_node(self, x: Any, idx: Any) -> Apply:
        x, idx = as_tensor_variable(x), as_tensor_variable(idx)
        _check_indices(idx, "pick_class")
        if x.ndim != idx.ndim + 1:
            raise build_error(
                ShapeError,
                "pick_class",
                f"indices {idx.describe()} need a {idx.ndim + 1}-d input, got {x.describe()}",
            )
        shape = []
        for sx, si in zip(x.static_shape[:-1], idx.static_shape):
            if sx is not None and si is not None and sx != si:
                raise build_error(ShapeError, "pick_class", _mismatch(x.static_shape, idx.static_shape))
            shape.append(si if sx is None else sx)
        return Apply(self, [x, idx], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        x, idx = inputs
        if x.shape[:-1] != idx.shape:
            raise ShapeError(f"pick_class: {_mismatch(x.shape, idx.shape)} (created at {node.location})")
        _check_range(idx, x.shape[-1], "pick_class", node)
        out = np.take_along_axis(x, idx[..., None].astype(np.intp), axis=-1)[..., 0]
        output_storage[0][0] = np.array(out, dtype=x.dtype)

    def infer_shape(self, node, input_shapes):
        return [tuple(input_shapes[1])]

    def grad(self, inputs, output_grads):
        (x, idx), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None, None]
        hot = one_hot(idx, shape_dims(x)[-1], x.dtype)
        return [so.mul(hot, cast(dimshuffle(g, *range(g.ndim), "x"), x.dtype)), None]


def _mismatch(x_shape: tuple, idx_shape: tuple) -> str:
    return (
        f"values of shape {format_static_shape(x_shape)} need indices of shape "
        f"{format_static_shape(x_shape[:-1])}, got {format_static_shape(idx_shape)}"
    )


class OneHot(Op):
    """``out[..., c] = (idx[...] == c)`` for ``c < depth``, in ``dtype``."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = normalize_dtype(dtype)

    def __str__(self) -> str:
        return f"one_hot{{{self.dtype}}}"

    def make_node(self, idx: Any, depth: Any) -> Apply:
        idx, depth = as_tensor_variable(idx), as_tensor_variable(depth)
        _check_indices(idx, "one_hot")
        if depth.ndim != 0 or not is_int(depth.dtype):
            raise build_error(
                GraphTypeError, "one_hot", f"depth must be an int scalar, got {depth.describe()}"
            )
        shape = (*idx.static_shape, static_value(depth))
        return Apply(self, [idx, depth], [TensorType(self.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        idx, depth = inputs[0], int(inputs[1])
        _check_range(idx, depth, "one_hot", node)
        output_storage[0][0] = (idx[..., None] == np.arange(depth)).astype(self.dtype)

    def infer_shape(self, node, input_shapes):
        return [(*input_shapes[0], node.inputs[1])]

    def grad(self, inputs, output_grads):
        return [None, None]


def one_hot(idx: Any, depth: Any, dtype: Any = None) -> Variable:
    """Rows of the identity matrix of size ``depth`` picked by integer ``idx``."""
    return OneHot(normalize_dtype(dtype))(idx, depth)


def pick_class(x: Any, idx: Any) -> Variable:
    """``x[..., idx]`` with one class index per leading position."""
    return PickClass()(x, idx)
