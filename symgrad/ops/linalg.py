"""MatMul: NumPy's ``matmul`` for inputs of two or more dims (leading batch axes broadcast),
and EqualDims, a run-time check that summed axes of ``tensordot`` agree in length.

Vectors, ``dot`` and ``tensordot`` are compositions on top (symgrad/tensor/linalg.py).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Op, Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error
from symgrad.graph.types import (
    TensorType,
    broadcast_static_shapes,
    format_static_shape,
    is_float,
    is_int,
    normalize_dtype,
)
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.elemwise import SumToShape, cast
from symgrad.ops.shape_of import shape_dims


@functools.cache
def matmul_dtype(a_dtype: str, b_dtype: str) -> str:
    """NumPy's result dtype for ``a @ b`` (int @ int stays int, bool @ bool is bool)."""
    sample = np.matmul(np.zeros((0, 0), a_dtype), np.zeros((0, 0), b_dtype))
    return normalize_dtype(sample.dtype)


def swap_last_axes(x: Variable) -> Variable:
    """``x`` with its last two axes exchanged (``np.swapaxes(x, -1, -2)``)."""
    order = [*range(x.ndim - 2), x.ndim - 1, x.ndim - 2]
    return dimshuffle(x, *order)


class MatMul(Op):
    """``np.matmul(a, b)`` for ``a.ndim >= 2`` and ``b.ndim >= 2``."""

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        for v in (a, b):
            if v.ndim < 2:
                raise build_error(
                    GraphValueError, "matmul", f"the MatMul op needs 2 or more dims, got {v.describe()}"
                )
        dtype = matmul_dtype(a.dtype, b.dtype)
        _check_static_core(a, b)
        batch = _static_batch(a, b)
        shape = (*batch, a.static_shape[-2], b.static_shape[-1])
        return Apply(self, [a, b], [TensorType(dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        a, b = inputs
        _check_runtime_shapes(a.shape, b.shape, node)
        out = np.matmul(a, b)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        sa, sb = input_shapes
        batch = _batch_dims(node, sa[:-2], sb[:-2])
        return [(*batch, sa[-2], sb[-1])]

    def L_op(self, inputs, outputs, output_grads):
        (a, b), (out,), (g,) = inputs, outputs, output_grads
        if not is_float(out.dtype):
            return [None, None]
        ga = matmul_op(g, swap_last_axes(b)) if is_float(a.dtype) else None
        gb = matmul_op(swap_last_axes(a), g) if is_float(b.dtype) else None
        return [
            None if ga is None else _reduce_to_input(cast(ga, a.dtype), a, b, out),
            None if gb is None else _reduce_to_input(cast(gb, b.dtype), b, a, out),
        ]


matmul_op = MatMul()


def _shapes_text(a: Variable, b: Variable) -> str:
    return f"{format_static_shape(a.static_shape)} and {format_static_shape(b.static_shape)}"


def _check_static_core(a: Variable, b: Variable) -> None:
    k_a, k_b = a.static_shape[-1], b.static_shape[-2]
    if k_a is not None and k_b is not None and k_a != k_b:
        raise build_error(
            ShapeError,
            "matmul",
            f"shapes {_shapes_text(a, b)} are not aligned: the last axis of the first has "
            f"length {k_a}, the second-to-last of the second has length {k_b}",
        )


def _static_batch(a: Variable, b: Variable) -> tuple:
    try:
        return broadcast_static_shapes([a.static_shape[:-2], b.static_shape[:-2]], "matmul")
    except ShapeError:
        raise build_error(
            ShapeError,
            "matmul",
            f"the batch axes of shapes {_shapes_text(a, b)} cannot be broadcast together",
        ) from None


def _check_runtime_shapes(sa: tuple, sb: tuple, node: Apply) -> None:
    if sa[-1] != sb[-2]:
        raise ShapeError(
            f"matmul: shapes {sa} and {sb} are not aligned: the last axis of the first has length "
            f"{sa[-1]}, the second-to-last of the second has length {sb[-2]} (created at {node.location})"
        )
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ShapeError(
            f"matmul: the batch axes of shapes {sa} and {sb} cannot be broadcast together "
            f"(created at {node.location})"
        ) from None


def _batch_dims(node: Apply, da: tuple, db: tuple) -> list[Variable]:
    """Broadcast batch lengths as int64 scalars (static where known)."""
    out = node.outputs[0]
    nb = out.ndim - 2
    da = (None,) * (nb - len(da)) + tuple(da)
    db = (None,) * (nb - len(db)) + tuple(db)
    a_static = (None,) * (nb - node.inputs[0].ndim + 2) + node.inputs[0].static_shape[:-2]
    b_static = (None,) * (nb - node.inputs[1].ndim + 2) + node.inputs[1].static_shape[:-2]
    dims = []
    for k in range(nb):
        if out.static_shape[k] is not None:
            dims.append(make_constant(out.static_shape[k], dtype="int64"))
        elif da[k] is None or a_static[k] == 1:
            dims.append(db[k])
        elif db[k] is None or b_static[k] == 1:
            dims.append(da[k])
        else:
            dims.append(so.where(so.eq(da[k], 1), db[k], da[k]))
    return dims


def _reduce_to_input(g: Variable, x: Variable, other: Variable, out: Variable) -> Variable:
    """Sum ``g`` (shaped like ``out``) down to ``x``'s shape where batch axes were broadcast."""
    lead = out.ndim - x.ndim
    needed = lead > 0
    other_batch = (1,) * (out.ndim - other.ndim) + other.static_shape[:-2]
    for k, xs in enumerate(x.static_shape[:-2]):
        if xs == 1 and out.static_shape[lead + k] != 1:
            needed = True
        elif xs is None and other_batch[lead + k] != 1:
            needed = True  # ``x`` may have length 1 here while ``other`` does not
    if not needed:
        return g
    return SumToShape()(g, *shape_dims(x))


class EqualDims(Op):
    """Returns the int64 scalar ``da`` after checking at run time that it equals ``db``.

    ``tensordot`` merges its summed axes into one; this keeps a mismatch of two of them
    from passing unnoticed when the merged lengths happen to agree.
    """

    __props__ = ("op_name", "axis_a", "axis_b")

    def __init__(self, op_name: str, axis_a: int, axis_b: int) -> None:
        self.op_name, self.axis_a, self.axis_b = op_name, axis_a, axis_b

    def make_node(self, da: Any, db: Any) -> Apply:
        da, db = as_tensor_variable(da), as_tensor_variable(db)
        for d in (da, db):
            if d.ndim != 0 or not is_int(d.dtype):
                raise build_error(
                    GraphTypeError, self.op_name, f"lengths must be int scalars, got {d.describe()}"
                )
        return Apply(self, [da, db], [TensorType("int64", ())()])

    def perform(self, node, inputs, output_storage):
        da, db = (int(v) for v in inputs)
        if da != db:
            raise ShapeError(
                f"{self.op_name}: shape-mismatch for sum: axis {self.axis_a} of the first input has "
                f"length {da}, axis {self.axis_b} of the second has length {db} (created at {node.location})"
            )
        output_storage[0][0] = np.array(da, dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [()]

    def grad(self, inputs, output_grads):
        return [None, None]
