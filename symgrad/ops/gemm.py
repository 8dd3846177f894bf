"""Gemm: ``alpha * (A @ B) + beta * C`` in one node (BLAS's GEMM), made by the specialize
rewrites from a matrix product followed by a scale and an add.

``A`` and ``B`` are matrices, ``alpha`` and ``beta`` scalars, and ``C`` anything that
broadcasts with ``A @ B`` as NumPy's ``+`` would (a bias row ``b`` of shape ``(n,)`` in
``x @ W + b`` is the common case). All operands share one float dtype, so the result is
exactly what the unfused graph computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Op, Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error
from symgrad.graph.types import TensorType, broadcast_static_shapes, format_static_shape, is_float
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import sum_to_input
from symgrad.ops.linalg import matmul_op, swap_last_axes
from symgrad.ops.reduce import Reduce


class Gemm(Op):
    """Inputs ``(A, B, C, alpha, beta)``; output ``alpha * (A @ B) + beta * C``."""

    def make_node(self, a: Any, b: Any, c: Any, alpha: Any, beta: Any) -> Apply:
        a, b, c, alpha, beta = (as_tensor_variable(v) for v in (a, b, c, alpha, beta))
        _check_operands(a, b, c, alpha, beta)
        core = (a.static_shape[0], b.static_shape[1])
        shape = broadcast_static_shapes([core, c.static_shape], "gemm")
        return Apply(self, [a, b, c, alpha, beta], [TensorType(a.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        a, b, c, alpha, beta = inputs
        if a.shape[1] != b.shape[0]:
            raise ShapeError(
                f"gemm: shapes {a.shape} and {b.shape} are not aligned (created at {node.location})"
            )
        z = np.matmul(a, b)
        if alpha != 1:  # skipping the product by one keeps the unfused graph's values
            z = alpha * z
        if beta != 1:
            c = beta * c
        try:
            out = np.add(z, c)
        except ValueError:
            raise ShapeError(
                f"gemm: the product of shape {z.shape} and the addend of shape {c.shape} cannot be "
                f"broadcast together (created at {node.location})"
            ) from None
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        sa, sb, sc = input_shapes[:3]
        core = (sa[0], sb[1])
        c_static = (1,) * (2 - len(sc)) + node.inputs[2].static_shape
        sc = (None,) * (2 - len(sc)) + tuple(sc)
        dims = []
        for axis, static in enumerate(node.outputs[0].static_shape):
            if static is not None:
                dims.append(make_constant(static, dtype="int64"))
            elif c_static[axis] == 1:
                dims.append(core[axis])
            else:  # either length may turn out to be 1 at run time
                dims.append(so.where(so.eq(core[axis], 1), sc[axis], core[axis]))
        return [tuple(dims)]

    def L_op(self, inputs, outputs, output_grads):
        (a, b, c, alpha, beta), (out,), (g,) = inputs, outputs, output_grads
        ab = matmul_op(a, b)
        g_ab = sum_to_input(so.mul(alpha, g), [ab, c], 0, out)
        return [
            matmul_op(g_ab, swap_last_axes(b)),
            matmul_op(swap_last_axes(a), g_ab),
            sum_to_input(so.mul(beta, g), [ab, c], 1, out),
            Reduce("sum", tuple(range(out.ndim)))(so.mul(g, ab)),
            Reduce("sum", tuple(range(out.ndim)))(so.mul(g, c)),
        ]


def _check_operands(a: Variable, b: Variable, c: Variable, alpha: Variable, beta: Variable) -> None:
    dtypes = {v.dtype for v in (a, b, c, alpha, beta)}
    if len(dtypes) != 1 or not is_float(a.dtype):
        shown = ", ".join(v.describe() for v in (a, b, c, alpha, beta))
        raise build_error(GraphTypeError, "gemm", f"operands must share one float dtype, got {shown}")
    if a.ndim != 2 or b.ndim != 2 or c.ndim > 2 or alpha.ndim != 0 or beta.ndim != 0:
        raise build_error(
            GraphValueError,
            "gemm",
            f"needs matrices A, B, C of at most 2 dims and scalar alpha, beta; got {a.describe()}, "
            f"{b.describe()}, {c.describe()}, {alpha.describe()}, {beta.describe()}",
        )
    k_a, k_b = a.static_shape[1], b.static_shape[0]
    if k_a is not None and k_b is not None and k_a != k_b:
        raise build_error(
            ShapeError,
            "gemm",
            f"shapes {format_static_shape(a.static_shape)} and {format_static_shape(b.static_shape)} "
            "are not aligned",
        )


gemm = Gemm()
