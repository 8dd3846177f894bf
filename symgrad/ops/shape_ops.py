"""Ops that move or make data without arithmetic: Reshape, Concatenate and its adjoint
Split, Alloc (``broadcast_to``, ``zeros``, ``full``) and ARange.

Shapes travel as int64 scalar inputs, so any length may be symbolic; the static output
shape keeps every length the inputs make known at build time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Constant, Op, Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error
from symgrad.graph.types import (
    TensorType,
    format_static_shape,
    is_float,
    is_integer_like,
    normalize_dtype,
)
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import SumToShape, cast, zeros_like
from symgrad.ops.reduce import Reduce
from symgrad.ops.shape_of import ShapeI, shape_dims, static_value


def int_scalars(values: Sequence[Any], op_name: str) -> list[Variable]:
    """Shape arguments as int64 scalar variables (integer scalars only)."""
    out = []
    for value in values:
        v = as_tensor_variable(value)
        if v.ndim != 0 or not is_integer_like(v.dtype):
            raise build_error(GraphTypeError, op_name, f"lengths must be integer scalars, got {v.describe()}")
        out.append(cast(v, "int64"))
    return out


def int64(n: int) -> Variable:
    return make_constant(n, dtype="int64")


def product(dims: Sequence[Variable]) -> Variable:
    """The product of int64 scalars; a constant when every factor is known."""
    known = [static_value(d) for d in dims]
    if all(k is not None for k in known):
        return int64(math.prod(known))
    total = int64(1)
    for d in dims:
        total = so.mul(total, d)
    return total


def dims_with_static(static_shape: Sequence[int | None], dims: Sequence[Variable]) -> tuple:
    """``dims`` with constants wherever the static shape knows the length."""
    return tuple(d if s is None else int64(s) for s, d in zip(static_shape, dims))


def _where(node: Apply) -> str:
    return f"(created at {node.location})"


# --- reshape ---------------------------------------------------------------------------


class Reshape(Op):
    """``x`` with the lengths given by the scalar inputs (NumPy's rules; one may be -1)."""

    def make_node(self, x: Any, *dims: Any) -> Apply:
        x = as_tensor_variable(x)
        dims = int_scalars(dims, "reshape")
        shape = _static_reshape(x, dims)
        return Apply(self, [x, *dims], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        x, *dims = inputs
        shape = tuple(int(d) for d in dims)
        if shape.count(-1) > 1 or any(d < -1 for d in shape):
            raise ShapeError(
                f"reshape: shape {shape} may hold one -1 and otherwise lengths >= 0 {_where(node)}"
            )
        try:
            out = x.reshape(shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) into shape "
                f"{shape} {_where(node)}"
            ) from None
        output_storage[0][0] = out

    def infer_shape(self, node, input_shapes):
        x_shape, dims = input_shapes[0], node.inputs[1:]
        out_static = node.outputs[0].static_shape
        if all(s is not None for s in out_static):
            return [tuple(int64(s) for s in out_static)]
        # With a -1 among the dims the product is minus the product of the others.
        signed = product(dims)
        missing = so.floor_divide(product(x_shape), so.maximum(so.neg(signed), 1))
        out = []
        for s, d in zip(out_static, dims):
            value = static_value(d)
            if s is not None:
                out.append(int64(s))
            elif value == -1:
                out.append(missing)
            elif value is not None:
                out.append(d)
            else:
                out.append(so.where(so.eq(d, -1), missing, d))
        return [tuple(out)]

    def grad(self, inputs, output_grads):
        x, *dims = inputs
        if not is_float(x.dtype):
            return [None] * len(inputs)
        return [Reshape()(output_grads[0], *shape_dims(x)), *([None] * len(dims))]


def _static_reshape(x: Variable, dims: Sequence[Variable]) -> list[int | None]:
    """The output's static shape; build errors where NumPy would certainly fail."""
    target = [static_value(d) for d in dims]
    if any(t is not None and t < -1 for t in target) or target.count(-1) > 1:
        shown = tuple("?" if t is None else t for t in target)
        raise build_error(
            GraphValueError, "reshape", f"shape {shown} may hold one -1 and otherwise lengths >= 0"
        )
    rest_x, rest_target = _cancel_common_dims(x, dims, target)
    if None in rest_x or None in rest_target:
        return [None if t == -1 else t for t in target]
    size, known = math.prod(rest_x), math.prod(t for t in rest_target if t != -1)
    if -1 not in target:
        if len(rest_x) == x.ndim and size != known:
            raise build_error(
                ShapeError,
                "reshape",
                f"cannot reshape {x.describe()} (size {size}) into shape {tuple(target)}",
            )
        return target
    if known == 0 or size % known:
        if len(rest_x) == x.ndim:
            raise build_error(
                ShapeError,
                "reshape",
                f"cannot reshape {x.describe()} (size {size}) into shape {tuple(target)}",
            )
        return [None if t == -1 else t for t in target]
    return [size // known if t == -1 else t for t in target]


def _cancel_common_dims(x: Variable, dims: Sequence[Variable], target: list) -> tuple[list, list]:
    """Drop unknown lengths of ``x`` that the target reuses as ``x.shape[i]`` (they cancel
    in the size computation, as in ``reshape(x, (x.shape[0], -1))``)."""
    rest_x = list(x.static_shape)
    rest_target = []
    for d, t in zip(dims, target):
        node = d.owner
        if (
            t is None
            and node is not None
            and isinstance(node.op, ShapeI)
            and node.inputs[0] is x
            and rest_x[node.op.i] is None
        ):
            rest_x[node.op.i] = "cancelled"
        else:
            rest_target.append(t)
    return [s for s in rest_x if s != "cancelled"], rest_target


# --- concatenate and split -------------------------------------------------------------


class Concatenate(Op):
    """Joins tensors of equal rank along ``axis`` (NumPy's dtype promotion)."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def make_node(self, *xs: Any) -> Apply:
        xs = [as_tensor_variable(x) for x in xs]
        _check_concat_ranks(xs, self.axis)
        dtype = normalize_dtype(np.result_type(*[x.dtype for x in xs]))
        shape = []
        for a in range(xs[0].ndim):
            lengths = [x.static_shape[a] for x in xs]
            if a == self.axis:
                shape.append(None if None in lengths else sum(lengths))
                continue
            known = {n for n in lengths if n is not None}
            if len(known) > 1:
                shapes = ", ".join(format_static_shape(x.static_shape) for x in xs)
                raise build_error(
                    ShapeError,
                    "concatenate",
                    f"shapes {shapes} differ along axis {a} (joining axis {self.axis})",
                )
            shape.append(known.pop() if known else None)
        return Apply(self, xs, [TensorType(dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        first = inputs[0].shape
        for x in inputs:
            if x.shape[: self.axis] + x.shape[self.axis + 1 :] != first[: self.axis] + first[self.axis + 1 :]:
                shapes = ", ".join(str(x.shape) for x in inputs)
                raise ShapeError(
                    f"concatenate: input shapes {shapes} must match except along axis {self.axis} "
                    f"{_where(node)}"
                )
        out = np.concatenate(inputs, axis=self.axis)
        output_storage[0][0] = out.astype(node.outputs[0].dtype, copy=False)

    def infer_shape(self, node, input_shapes):
        out_static = node.outputs[0].static_shape
        dims = list(input_shapes[0])
        joined = input_shapes[0][self.axis]
        for shp in input_shapes[1:]:
            joined = so.add(joined, shp[self.axis])
        dims[self.axis] = joined
        return [dims_with_static(out_static, dims)]

    def grad(self, inputs, output_grads):
        lengths = [shape_dims(x)[self.axis] for x in inputs]
        pieces = Split(self.axis).make_node(output_grads[0], *lengths).outputs
        return [cast(p, x.dtype) if is_float(x.dtype) else None for p, x in zip(pieces, inputs)]


def _check_concat_ranks(xs: list[Variable], axis: int) -> None:
    if not xs:
        raise build_error(GraphValueError, "concatenate", "needs at least one tensor")
    ndim = xs[0].ndim
    if ndim == 0:
        raise build_error(GraphValueError, "concatenate", "zero-dimensional tensors cannot be concatenated")
    if any(x.ndim != ndim for x in xs):
        ranks = ", ".join(x.describe() for x in xs)
        raise build_error(GraphValueError, "concatenate", f"all inputs must have the same rank, got {ranks}")
    if not 0 <= axis < ndim:
        raise build_error(GraphValueError, "concatenate", f"axis {axis} is out of bounds for {ndim}-d inputs")


class Split(Op):
    """Cuts ``x`` along ``axis`` into pieces of the given lengths (Concatenate's adjoint)."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def make_node(self, x: Any, *lengths: Any) -> Apply:
        x = as_tensor_variable(x)
        lengths = int_scalars(lengths, "split")
        if not 0 <= self.axis < x.ndim:
            raise build_error(
                GraphValueError, "split", f"axis {self.axis} is out of bounds for {x.describe()}"
            )
        if not lengths:
            raise build_error(GraphValueError, "split", "needs at least one length")
        outputs = []
        for n in lengths:
            shape = list(x.static_shape)
            shape[self.axis] = static_value(n)
            outputs.append(TensorType(x.dtype, shape)())
        return Apply(self, [x, *lengths], outputs)

    def perform(self, node, inputs, output_storage):
        x, *lengths = inputs
        lengths = [int(n) for n in lengths]
        if any(n < 0 for n in lengths) or sum(lengths) != x.shape[self.axis]:
            raise ShapeError(
                f"split: lengths {tuple(lengths)} do not add up to axis {self.axis} of an array of "
                f"shape {x.shape} {_where(node)}"
            )
        pieces = np.split(x, np.cumsum(lengths)[:-1], axis=self.axis)
        for storage, piece in zip(output_storage, pieces):
            storage[0] = piece

    def infer_shape(self, node, input_shapes):
        x_shape, lengths = input_shapes[0], node.inputs[1:]
        out = []
        for n, var in zip(lengths, node.outputs):
            dims = list(x_shape)
            dims[self.axis] = n
            out.append(dims_with_static(var.static_shape, dims))
        return out

    def grad(self, inputs, output_grads):
        return [Concatenate(self.axis)(*output_grads), *([None] * (len(inputs) - 1))]


# --- alloc (broadcast_to) --------------------------------------------------------------


class Alloc(Op):
    """A new array of the given shape holding ``value`` broadcast (NumPy's broadcast_to)."""

    def make_node(self, value: Any, *dims: Any) -> Apply:
        value = as_tensor_variable(value)
        dims = int_scalars(dims, "broadcast_to")
        target = [static_value(d) for d in dims]
        if any(t is not None and t < 0 for t in target):
            raise build_error(GraphValueError, "broadcast_to", f"lengths must be >= 0, got {tuple(target)}")
        if len(dims) < value.ndim:
            raise build_error(
                ShapeError, "broadcast_to", f"cannot broadcast {value.describe()} to {len(dims)} dims"
            )
        lead = len(dims) - value.ndim
        shape = target[:lead]
        for s, t in zip(value.static_shape, target[lead:]):
            if s not in (None, 1) and t is not None and s != t:
                shown = format_static_shape(tuple(target))
                raise build_error(
                    ShapeError, "broadcast_to", f"cannot broadcast {value.describe()} to {shown}"
                )
            shape.append(t if t is not None or s in (None, 1) else s)
        return Apply(self, [value, *dims], [TensorType(value.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        value, *dims = inputs
        shape = tuple(int(d) for d in dims)
        try:
            out = np.broadcast_to(value, shape)
        except ValueError:
            raise ShapeError(
                f"broadcast_to: cannot broadcast a value of shape {value.shape} to shape {shape} {_where(node)}"
            ) from None
        output_storage[0][0] = np.array(out)

    def infer_shape(self, node, input_shapes):
        return [dims_with_static(node.outputs[0].static_shape, node.inputs[1:])]

    def grad(self, inputs, output_grads):
        value, *dims = inputs
        if not is_float(value.dtype):
            return [None] * len(inputs)
        return [SumToShape()(output_grads[0], *shape_dims(value)), *([None] * len(dims))]


# --- arange ----------------------------------------------------------------------------


class ARange(Op):
    """``np.arange(start, stop, step, dtype)`` from three scalars."""

    __props__ = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = normalize_dtype(dtype)

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        args = [as_tensor_variable(v) for v in (start, stop, step)]
        for v in args:
            if v.ndim != 0 or not (is_integer_like(v.dtype) or is_float(v.dtype)):
                raise build_error(
                    GraphTypeError, "arange", f"arguments must be numeric scalars, got {v.describe()}"
                )
        length = None
        if all(isinstance(v, Constant) for v in args):
            length = arange_length(*(v.data.item() for v in args))
        return Apply(self, args, [TensorType(self.dtype, (length,))()])

    def perform(self, node, inputs, output_storage):
        start, stop, step = (v.item() for v in inputs)
        if step == 0:
            raise GraphValueError(f"arange: step must not be zero {_where(node)}")
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def infer_shape(self, node, input_shapes):
        static = node.outputs[0].static_shape[0]
        if static is not None:
            return [(int64(static),)]
        start, stop, step = (cast(v, "float64") for v in node.inputs)
        steps = so.ceil(so.true_divide(so.sub(stop, start), step))
        return [(cast(so.maximum(steps, 0.0), "int64"),)]

    def L_op(self, inputs, outputs, output_grads):
        (out,), (g,) = outputs, output_grads
        if not is_float(self.dtype):
            return [None, None, None]
        start, stop, step = inputs
        index = ARange(self.dtype)(int64(0), ShapeI(0)(out), int64(1))
        d_start = Reduce("sum", (0,))(g)
        d_step = Reduce("sum", (0,))(so.mul(g, index))
        return [
            cast(d_start, start.dtype) if is_float(start.dtype) else None,
            zeros_like(stop) if is_float(stop.dtype) else None,
            cast(d_step, step.dtype) if is_float(step.dtype) else None,
        ]


def arange_length(start: float, stop: float, step: float) -> int:
    """NumPy's length rule: ``ceil((stop - start) / step)``, at least 0."""
    if step == 0:
        raise build_error(GraphValueError, "arange", "step must not be zero")
    return max(math.ceil((stop - start) / step), 0)
