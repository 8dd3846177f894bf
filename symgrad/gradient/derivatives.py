"""Derivatives built on ``grad``: vector-Jacobian (Lop) and Jacobian-vector (Rop)
products, full Jacobians and Hessians (Theano's signatures and return structures)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.gradient.grad import grad
from symgrad.graph.basic import Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, GraphValueError
from symgrad.graph.source_info import user_location
from symgrad.graph.traversal import clone_replace
from symgrad.graph.types import TensorType, is_float
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.elemwise import cast, zeros_like
from symgrad.ops.map_op import FlatRow, MapRows
from symgrad.ops.shape_of import shape_dims
from symgrad.tensor.math import sum as tsum

# Jacobians of expressions with at most this many (static) elements are unrolled into
# plain graphs; longer or unknown lengths use a row map.
UNROLL_LIMIT = 16


def _as_list(x: Any) -> tuple[list, bool]:
    """``(items, was_single)`` for a variable or a list/tuple of them."""
    if isinstance(x, (list, tuple)):
        return list(x), False
    return [x], True


def _restructure(items: list, single: bool, like: Any = None) -> Any:
    if single:
        return items[0]
    return tuple(items) if isinstance(like, tuple) else items


def _here() -> str:
    return f"(at {user_location()})"


def _matching(name: str, vars_: list[Variable], points: list, what: str) -> list[Variable]:
    """``points`` as variables, one per variable of ``vars_`` with the same rank."""
    if len(points) != len(vars_):
        raise GraphValueError(f"{name}: got {len(points)} eval_points for {len(vars_)} {what} {_here()}")
    out = []
    for k, (v, p) in enumerate(zip(vars_, points)):
        p = as_tensor_variable(p)
        if p.ndim != v.ndim:
            raise GraphTypeError(
                f"{name}: eval_points[{k}] is {p.describe()}, but {what}[{k}] is {v.describe()} {_here()}"
            )
        out.append(cast(p, v.dtype) if is_float(v.dtype) and is_float(p.dtype) else p)
    return out


def Lop(
    f: Any,
    wrt: Any,
    eval_points: Any,
    consider_constant: Sequence[Variable] | None = None,
    disconnected_inputs: str = "raise",
) -> Any:
    """Vector-Jacobian product ``eval_points^T (df/dwrt)``, shaped like ``wrt``.

    ``f`` and ``eval_points`` are a variable each or matching lists (one point per output).
    """
    f_list, _ = _as_list(f)
    points, _ = _as_list(eval_points)
    f_list = [as_tensor_variable(v) for v in f_list]
    points = _matching("Lop", f_list, points, "outputs")
    known: dict = {}
    for v, p in zip(f_list, points):
        known[v] = p if v not in known else so.add(known[v], p)
    return grad(
        None,
        wrt,
        consider_constant=consider_constant,
        disconnected_inputs=disconnected_inputs,
        known_grads=known,
    )


def Rop(f: Any, wrt: Any, eval_points: Any) -> Any:
    """Jacobian-vector product ``(df/dwrt) eval_points``, shaped like ``f``.

    ``wrt`` and ``eval_points`` are a variable each or matching lists (their products
    are summed). Computed as the Lop of a Lop: ``J v = d(u^T J v)/du`` for a dummy ``u``,
    which is then replaced by zeros (the result does not depend on its value), so no
    extra input remains.
    """
    f_list, single = _as_list(f)
    f_list = [as_tensor_variable(v) for v in f_list]
    wrt_list, _ = _as_list(wrt)
    points = _matching("Rop", wrt_list, _as_list(eval_points)[0], "wrt")
    results = [None] * len(f_list)
    live = [k for k, v in enumerate(f_list) if is_float(v.dtype)]
    if live:
        dummies = [f_list[k].type("rop_dummy") for k in live]
        vjps = Lop([f_list[k] for k in live], wrt_list, dummies, disconnected_inputs="ignore")
        jvps = Lop(vjps, dummies, points, disconnected_inputs="ignore")
        jvps = clone_replace(jvps, {u: zeros_like(f_list[k]) for u, k in zip(dummies, live)})
        for k, jvp in zip(live, jvps):
            results[k] = jvp
    for k, v in enumerate(f_list):
        if results[k] is None:
            results[k] = zeros_like(v, dtype=np.result_type(*[p.dtype for p in points], np.float32).name)
    return _restructure(results, single, f)


def jacobian(
    expression: Any,
    wrt: Any,
    consider_constant: Sequence[Variable] | None = None,
    disconnected_inputs: str = "raise",
) -> Any:
    """``d expression / d wrt`` with shape ``expression.shape + wrt.shape`` (for each
    ``wrt`` if a list is given). A scalar expression gives its gradient."""
    expression = as_tensor_variable(expression)
    wrt_list, single = _as_list(wrt)
    if expression.ndim == 0:
        return grad(expression, wrt, consider_constant, disconnected_inputs)
    kwargs = dict(consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    n = _static_size(expression)
    if n is not None and 0 < n <= UNROLL_LIMIT:
        result = _unrolled_jacobian(expression, wrt_list, n, kwargs)
    else:
        result = _mapped_jacobian(expression, wrt_list, kwargs)
    return _restructure(result, single, wrt)


def hessian(
    cost: Any,
    wrt: Any,
    consider_constant: Sequence[Variable] | None = None,
    disconnected_inputs: str = "raise",
) -> Any:
    """``d2 cost / d wrt2`` with shape ``wrt.shape + wrt.shape`` (for each ``wrt``).

    ``disconnected_inputs`` applies to the cost; a gradient that does not depend on
    ``wrt`` (a linear cost) just has a zero Hessian.
    """
    wrt_list, single = _as_list(wrt)
    results = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant, disconnected_inputs)
        results.append(jacobian(g, w, consider_constant, disconnected_inputs="ignore"))
    return _restructure(results, single, wrt)


def _static_size(x: Variable) -> int | None:
    if any(s is None for s in x.static_shape):
        return None
    return math.prod(x.static_shape)


def _unrolled_jacobian(expression: Variable, wrt: list[Variable], n: int, kwargs: dict) -> list:
    rows = [grad(FlatRow(expression.ndim)(expression, k), wrt, **kwargs) for k in range(n)]
    return [_place_rows([r[j] for r in rows], expression.static_shape) for j in range(len(wrt))]


def _place_rows(rows: list[Variable], lead: tuple[int, ...]) -> Variable:
    """``out[unravel(k)] = rows[k]``, from ops that are all differentiable."""
    parts = []
    for k, row in enumerate(rows):
        mask = np.zeros(lead + (1,) * row.ndim, dtype=bool)
        mask.reshape(len(rows), -1)[k] = True
        placed = dimshuffle(row, *(["x"] * len(lead)), *range(row.ndim))
        parts.append(so.where(make_constant(mask), placed, 0))
    return parts[0] if len(parts) == 1 else so.add(*parts)


def _mapped_jacobian(expression: Variable, wrt: list[Variable], kwargs: dict) -> list:
    index = TensorType("int64", ())("jacobian_row")
    rows = grad(FlatRow(expression.ndim)(expression, index), wrt, **kwargs)
    return GradMap.build(index, rows, shape_dims(expression), [shape_dims(w) for w in wrt])


class GradMap(MapRows):
    """A row map with a gradient (another map, summed over the rows), so Jacobians and
    Hessians of any length can be differentiated again."""

    def L_op(self, inputs, outputs, output_grads):
        n_dims = self.n_dims()
        values = inputs[n_dims:]
        cot_vars = [g.type("map_cotangent") for g in output_grads]
        stack = self.reduce == "stack"
        terms = []
        for out, cot in zip(self.outputs, cot_vars):
            if is_float(out.dtype):
                row_cot = FlatRow(self.n_lead)(cot, self.index) if stack else cot
                terms.append(tsum(so.mul(out, row_cot)))
        wanted = [k for k, r in enumerate(self.roots) if is_float(r.dtype)]
        if not terms or not wanted:
            return [None] * len(inputs)
        cost = terms[0] if len(terms) == 1 else so.add(*terms)
        inner = grad(cost, [self.roots[k] for k in wanted], disconnected_inputs="ignore")
        outer = dict(zip(self.roots, values)) | dict(zip(cot_vars, output_grads))
        row_dims = [shape_dims(values[k]) for k in wanted]
        lead = inputs[: self.n_lead]
        sums = type(self).build(self.index, inner, lead, row_dims, outer=outer, reduce="sum")
        result: list = [None] * len(inputs)
        for k, g in zip(wanted, sums):
            result[n_dims + k] = g
        return result
