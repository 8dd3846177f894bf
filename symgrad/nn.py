"""Neural-network functions (``sg.nn``).

softmax and log_softmax are primitive ops (``ops/nn_ops.py``), stable for logits of any size,
whose gradients have shapes the stabilizer recognises (``log(softmax(x))`` becomes
``log_softmax(x)``, gradient included). The cross-entropies build their stable fused forms
directly when their ``probs`` argument is a softmax or sigmoid output, so the gradient the user
takes is finite however saturated the probabilities are; graphs built otherwise are
stabilized by the rewrites in ``symgrad/rewrite/stabilize.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import Variable, as_tensor_variable
from symgrad.graph.errors import GraphTypeError, ShapeError, build_error
from symgrad.graph.types import is_float, is_int
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import cast, elemwise_inputs_of
from symgrad.ops.nn_ops import Softmax, crossentropy_softmax, log_softmax_op, one_hot, pick_class, softmax_op
from symgrad.ops.reduce import normalize_axes
from symgrad.tensor import math as tm

sigmoid, softplus = so.sigmoid, so.softplus
__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "log_softmax",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
]


def _as_float(x: Any) -> Variable:
    """Integer and bool inputs are computed in float64, as NumPy's transcendental functions do."""
    x = as_tensor_variable(x)
    return x if is_float(x.dtype) else cast(x, "float64")


def relu(x: Any) -> Variable:
    """``maximum(x, 0)`` in ``x``'s own dtype."""
    x = as_tensor_variable(x)
    return so.maximum(x, cast(0, x.dtype))


def _axis(x: Variable, axis: Any, op_name: str) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise build_error(GraphTypeError, op_name, f"axis must be an int, got {axis!r}")
    return normalize_axes(axis, x.ndim, op_name)[0]


def softmax(x: Any, axis: int = -1) -> Variable:
    """``exp(x) / sum(exp(x))`` along ``axis``, finite for logits of any size."""
    x = _as_float(x)
    return softmax_op(x, _axis(x, axis, "softmax"))


def log_softmax(x: Any, axis: int = -1) -> Variable:
    """``x - logsumexp(x)`` along ``axis``, computed as ``s - log(sum(exp(s)))`` with the
    shifted ``s = x - max(x)``: finite where softmax underflows, and without the float32
    cancellation of subtracting two large numbers."""
    x = _as_float(x)
    return log_softmax_op(x, _axis(x, axis, "log_softmax"))


def categorical_crossentropy(probs: Any, targets: Any) -> Variable:
    """Cross-entropy of each row of ``probs`` (class probabilities along the last axis).

    ``targets`` is either an integer class index per row (``-log(probs[i, t_i])``) or a
    one-hot/probability array shaped like ``probs`` (``-sum(t * log(probs), axis=-1)``).
    When ``probs`` is ``softmax(z)`` over the last axis, the result is the fused
    ``crossentropy_softmax(z, targets)``: stable, with gradient ``softmax(z) - onehot``.
    """
    probs, targets = as_tensor_variable(probs), as_tensor_variable(targets)
    if probs.ndim == 0:
        raise build_error(
            ShapeError, "categorical_crossentropy", f"probs must have a class axis, got {probs.describe()}"
        )
    logits = _softmax_logits(probs)
    if logits is not None and targets.ndim in (probs.ndim - 1, probs.ndim):
        if targets.ndim == probs.ndim or is_int(targets.dtype):
            return crossentropy_softmax(logits, targets)
    if targets.ndim == probs.ndim - 1:
        if not is_int(targets.dtype):
            raise build_error(
                GraphTypeError,
                "categorical_crossentropy",
                f"class targets with one dim fewer than probs must be integers, got {targets.describe()}",
            )
        return so.neg(so.log(pick_class(probs, targets)))
    if targets.ndim == probs.ndim:
        return so.neg(tm.sum(so.mul(targets, so.log(probs)), axis=-1))
    raise build_error(
        ShapeError,
        "categorical_crossentropy",
        f"targets must be class indices ({probs.ndim - 1}-d) or shaped like probs ({probs.ndim}-d), "
        f"got {targets.describe()} for probs {probs.describe()}",
    )


def _softmax_logits(probs: Variable) -> Variable | None:
    """``z`` when ``probs`` is ``softmax(z)`` over the last axis, else None."""
    node = probs.owner
    if node is not None and isinstance(node.op, Softmax) and node.op.axis == probs.ndim - 1:
        return node.inputs[0]
    return None


def binary_crossentropy(probs: Any, targets: Any) -> Variable:
    """``-(t * log(p) + (1 - t) * log(1 - p))`` elementwise, with broadcasting.

    When ``p`` is ``sigmoid(z)`` it is computed as ``t * softplus(-z) + (1 - t) *
    softplus(z)``: the same value, finite for saturated ``z``, gradient included."""
    p, t = as_tensor_variable(probs), as_tensor_variable(targets)
    z = elemwise_inputs_of(p, "sigmoid")
    if z is not None:
        z = cast(z[0], p.dtype)
        return so.add(so.mul(t, so.softplus(so.neg(z))), so.mul(so.sub(1, t), so.softplus(z)))
    return so.neg(so.add(so.mul(t, so.log(p)), so.mul(so.sub(1, t), so.log(so.sub(1, p)))))
