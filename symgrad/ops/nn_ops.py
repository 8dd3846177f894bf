"""Ops for ``sg.nn``: PickClass (``x[..., t]`` along the last axis, one class per row, the
core of categorical cross-entropy), OneHot (its gradient's scatter pattern), and the stable
softmax family: Softmax, LogSoftmax, SoftmaxGrad and CrossentropySoftmax (the fused, stable
``-log(softmax(z)[t])`` whose gradient is ``softmax(z) - onehot(t)``).

Softmax is a primitive (as in Theano) so that its gradient has a recognisable shape:
``log(softmax(x))``'s gradient is ``SoftmaxGrad(g / softmax(x), softmax(x))``, which the
stabilizer rewrites to the log-softmax gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Op, Variable, as_tensor_variable
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
from symgrad.ops.elemwise import cast, second, sum_to_input
from symgrad.ops.reduce import Reduce, expand_reduced
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


# --- the softmax family ---------------------------------------------------------------------


def _np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """``x - max - log(sum(exp(x - max)))``: finite for logits of any size."""
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isinf(m), 0, m)  # rows of +-inf: shift by 0, not inf
    s = x - m
    with np.errstate(divide="ignore"):
        return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(x - np.where(np.isinf(m), 0, m))
    with np.errstate(invalid="ignore"):
        return e / np.sum(e, axis=axis, keepdims=True)


def sum_keepdims(x: Variable, axis: int) -> Variable:
    """``sum(x, axis, keepdims=True)`` from ops-level pieces."""
    return expand_reduced(Reduce("sum", (axis,))(x), (axis,), x.ndim)


def _check_float_axis(x: Variable, axis: int, op_name: str) -> None:
    if not is_float(x.dtype):
        raise build_error(GraphTypeError, op_name, f"needs a float input, got {x.describe()}")
    if not 0 <= axis < x.ndim:
        raise build_error(GraphValueError, op_name, f"axis {axis} is out of bounds for {x.describe()}")


def like(g: Variable, ref: Variable) -> Variable:
    """``g`` broadcast to ``ref``'s shape when the static shapes do not prove it already is."""
    if g.static_shape == ref.static_shape:
        return g  # equal unknown lengths too: gradients arrive shaped like their output
    return second(ref, g)


class _AxisOp(Op):
    """A unary op along one (non-negative) axis whose output is shaped like its input."""

    __props__ = ("axis",)
    op_name = ""

    def __init__(self, axis: int) -> None:
        self.axis = int(axis)

    def __str__(self) -> str:
        return f"{self.op_name}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        _check_float_axis(x, self.axis, self.op_name)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, input_shapes):
        return [tuple(input_shapes[0])]


class Softmax(_AxisOp):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed with the max subtracted."""

    op_name = "softmax"

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(_np_softmax(inputs[0], self.axis), dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        return [SoftmaxGrad(self.axis)(like(output_grads[0], outputs[0]), outputs[0])]


class LogSoftmax(_AxisOp):
    """``x - logsumexp(x)`` along ``axis``: finite where softmax underflows."""

    op_name = "log_softmax"

    def perform(self, node, inputs, output_storage):
        out = _np_log_softmax(inputs[0], self.axis)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        g = like(output_grads[0], outputs[0])
        return [log_softmax_grad(g, so.exp(outputs[0]), self.axis)]


def log_softmax_grad(g: Variable, sm: Variable, axis: int) -> Variable:
    """The gradient of ``log_softmax`` given ``sm = softmax(x)``: ``g - sm * sum(g)``."""
    return so.sub(g, so.mul(sm, sum_keepdims(g, axis)))


class SoftmaxGrad(Op):
    """``sm * (dy - sum(dy * sm))`` along ``axis``: the gradient of softmax (output ``sm``)
    for the output gradient ``dy`` (shaped like ``sm``)."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = int(axis)

    def __str__(self) -> str:
        return f"softmax_grad{{axis={self.axis}}}"

    def make_node(self, dy: Any, sm: Any) -> Apply:
        dy, sm = as_tensor_variable(dy), as_tensor_variable(sm)
        _check_float_axis(sm, self.axis, "softmax_grad")
        if not is_float(dy.dtype) or dy.ndim != sm.ndim:
            raise build_error(
                GraphTypeError, "softmax_grad", f"dy {dy.describe()} must be a float like sm {sm.describe()}"
            )
        shape = broadcast_static_shapes([dy.static_shape, sm.static_shape], "softmax_grad")
        dtype = normalize_dtype(np.result_type(dy.dtype, sm.dtype))
        return Apply(self, [dy, sm], [TensorType(dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        dy, sm = inputs
        if dy.shape != sm.shape:
            raise ShapeError(
                f"softmax_grad: dy of shape {dy.shape} does not match sm of shape {sm.shape} "
                f"(created at {node.location})"
            )
        dx = sm * (dy - np.sum(dy * sm, axis=self.axis, keepdims=True))
        output_storage[0][0] = np.asarray(dx, dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return [tuple(input_shapes[1])]

    def L_op(self, inputs, outputs, output_grads):
        (dy, sm), g = inputs, like(output_grads[0], outputs[0])
        s = sum_keepdims(so.mul(dy, sm), self.axis)
        g_sm = so.sub(so.mul(g, so.sub(dy, s)), so.mul(dy, sum_keepdims(so.mul(g, sm), self.axis)))
        return [cast(SoftmaxGrad(self.axis)(g, sm), dy.dtype), cast(g_sm, sm.dtype)]


def softmax_op(x: Any, axis: int) -> Variable:
    return Softmax(axis)(x)


def log_softmax_op(x: Any, axis: int) -> Variable:
    return LogSoftmax(axis)(x)


class CrossentropySoftmax(Op):
    """``-log(softmax(z))`` picked at integer class ``t`` (one per row), or summed against
    dense targets ``t`` shaped like ``z``, along the last axis, in one stable op.

    Its gradient with respect to ``z`` is ``softmax(z) * sum(t) - t`` (``softmax(z) -
    onehot(t)`` for class indices): finite however saturated the softmax is."""

    def __str__(self) -> str:
        return "crossentropy_softmax"

    def make_node(self, z: Any, t: Any) -> Apply:
        z, t = as_tensor_variable(z), as_tensor_variable(t)
        if z.ndim == 0:
            raise build_error(ShapeError, "crossentropy_softmax", f"z needs a class axis, got {z.describe()}")
        _check_float_axis(z, z.ndim - 1, "crossentropy_softmax")
        if t.ndim == z.ndim - 1:
            _check_indices(t, "crossentropy_softmax")
            zt = PickClass().make_node(z, t).outputs[0]  # validates the shapes
            return Apply(self, [z, t], [TensorType(z.dtype, zt.static_shape)()])
        if t.ndim != z.ndim:
            raise build_error(
                ShapeError, "crossentropy_softmax", f"targets {t.describe()} do not fit {z.describe()}"
            )
        shape = broadcast_static_shapes([z.static_shape, t.static_shape], "crossentropy_softmax")
        dtype = normalize_dtype(np.result_type(z.dtype, t.dtype))
        return Apply(self, [z, t], [TensorType(dtype, shape[:-1])()])

    def perform(self, node, inputs, output_storage):
        z, t = inputs
        lsm = _np_log_softmax(z, -1)
        if t.ndim == z.ndim - 1:
            if z.shape[:-1] != t.shape:
                raise ShapeError(
                    f"crossentropy_softmax: {_mismatch(z.shape, t.shape)} (created at {node.location})"
                )
            _check_range(t, z.shape[-1], "crossentropy_softmax", node)
            out = -np.take_along_axis(lsm, t[..., None].astype(np.intp), axis=-1)[..., 0]
        else:
            with np.errstate(invalid="ignore"):
                out = -np.sum(np.where(t != 0, t * lsm, 0), axis=-1)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        z, t = node.inputs
        if t.ndim == z.ndim - 1:
            return [tuple(input_shapes[1])]
        return None

    def L_op(self, inputs, outputs, output_grads):
        (z, t), (out,), (g,) = inputs, outputs, output_grads
        g = dimshuffle(like(g, out), *range(out.ndim), "x")
        sm = Softmax(z.ndim - 1)(z)
        if t.ndim == z.ndim - 1:
            hot = one_hot(t, shape_dims(z)[-1], z.dtype)
            return [cast(so.mul(g, so.sub(sm, hot)), z.dtype), None]
        gz = so.mul(g, so.sub(so.mul(sm, sum_keepdims(t, t.ndim - 1)), t))
        bshape = TensorType(out.dtype, broadcast_static_shapes([z.static_shape, t.static_shape], "ce"))()
        grads = [sum_to_input(cast(gz, z.dtype), [z, t], 0, bshape)]
        if is_float(t.dtype):
            gt = so.neg(so.mul(g, LogSoftmax(z.ndim - 1)(z)))
            grads.append(sum_to_input(cast(gt, t.dtype), [z, t], 1, bshape))
        else:
            grads.append(None)
        return grads


def crossentropy_softmax(z: Any, t: Any) -> Variable:
    """``-sum(t * log_softmax(z), -1)`` (or ``-log_softmax(z)[..., t]`` for class indices)."""
    return CrossentropySoftmax()(z, t)
