"""``verify_grad``: check a symbolic gradient against central finite differences
(Theano's semantics: a random projection makes the output a scalar cost)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgrad.gradient.grad import grad
from symgrad.graph.basic import Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError
from symgrad.graph.types import TensorType, is_float
from symgrad.ops import scalar_ops as so
from symgrad.tensor.math import sum as tsum

# Step and tolerances by dtype: float32 needs a larger step to rise above rounding noise.
DEFAULT_EPS = {"float32": 1e-3, "float64": 1e-7}
DEFAULT_ABS_TOL = {"float32": 1e-2, "float64": 1e-4}
DEFAULT_REL_TOL = {"float32": 1e-2, "float64": 1e-4}


def verify_grad(
    fn: Callable[..., Any],
    pt: Sequence[Any],
    rng: np.random.Generator | int | None = None,
    eps: float | None = None,
    abs_tol: float | None = None,
    rel_tol: float | None = None,
) -> None:
    """Raise ``AssertionError`` unless ``sg.grad`` of ``sum(fn(*inputs) * projection)``
    matches central finite differences at ``pt`` (a list of float arrays).

    An element fails when both its absolute and relative errors exceed the tolerances
    (defaults follow the least precise input dtype; ``rng`` defaults to a fixed seed).
    """
    point = _checked_point(pt)
    rng = np.random.default_rng(0 if rng is None else rng)
    inputs = [
        TensorType(p.dtype, [1 if n == 1 else None for n in p.shape])(f"input{k}")
        for k, p in enumerate(point)
    ]
    result = fn(*inputs)
    if isinstance(result, (list, tuple)):
        raise GraphTypeError("verify_grad: fn must return one variable, not a list (check each separately)")
    out = as_tensor_variable(result)
    if not isinstance(out, Variable) or not is_float(out.dtype):
        raise GraphTypeError(f"verify_grad: fn must return a float variable, got {out!r}")
    given = dict(zip(inputs, point))
    projection = rng.random(np.shape(out.eval(given))) + 0.5
    cost = tsum(so.mul(out, make_constant(projection.astype(out.dtype))))
    symbolic = [g.eval(given) for g in grad(cost, inputs, disconnected_inputs="ignore")]
    dtype = _least_precise([out.dtype, *(p.dtype.name for p in point)])
    eps = DEFAULT_EPS[dtype] if eps is None else eps
    abs_tol = DEFAULT_ABS_TOL[dtype] if abs_tol is None else abs_tol
    rel_tol = DEFAULT_REL_TOL[dtype] if rel_tol is None else rel_tol
    for k in range(len(point)):
        numeric = _central_differences(cost, inputs, point, k, eps)
        _compare(k, symbolic[k], numeric, abs_tol, rel_tol)


def _checked_point(pt: Sequence[Any]) -> list[np.ndarray]:
    if not isinstance(pt, (list, tuple)):
        raise GraphTypeError("verify_grad: pt must be a list of arrays, one per argument of fn")
    point = [np.array(p) for p in pt]
    for k, p in enumerate(point):
        if p.dtype.name not in ("float32", "float64"):
            raise GraphTypeError(
                f"verify_grad: pt[{k}] has dtype {p.dtype}; gradients are checked at float32 "
                "or float64 points only"
            )
    return point


def _least_precise(dtypes: list[str]) -> str:
    return "float32" if "float32" in dtypes else "float64"


def _central_differences(
    cost: Variable, inputs: list[Variable], point: list[np.ndarray], k: int, eps: float
) -> np.ndarray:
    """d cost / d point[k], one element at a time: (f(x + h) - f(x - h)) / (2h), with
    ``2h`` measured after rounding ``x +- h`` to the input's dtype."""
    values = [p.copy() for p in point]
    x = values[k].reshape(-1)  # a view: editing it moves values[k]
    result = np.zeros(x.shape, dtype=np.float64)
    given = dict(zip(inputs, values))
    for j in range(x.size):
        old = x[j]
        x[j] = old + eps
        hi, hi_x = float(cost.eval(given)), float(x[j])
        x[j] = old - eps
        lo, lo_x = float(cost.eval(given)), float(x[j])
        x[j] = old
        result[j] = (hi - lo) / (hi_x - lo_x)
    return result.reshape(point[k].shape)


def _compare(k: int, symbolic: np.ndarray, numeric: np.ndarray, abs_tol: float, rel_tol: float) -> None:
    symbolic = np.asarray(symbolic, dtype=np.float64)
    abs_err = np.abs(symbolic - numeric)
    scale = np.abs(symbolic) + np.abs(numeric)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_err = np.where(scale > 0, abs_err / scale, 0.0)
    bad = (abs_err > abs_tol) & (rel_err > rel_tol) | ~np.isfinite(abs_err)
    if not bad.any():
        return
    worst = np.unravel_index(int(np.argmax(np.where(bad, abs_err, -1.0))), bad.shape) if bad.ndim else ()
    raise AssertionError(
        f"verify_grad: the gradient of input {k} (shape {numeric.shape}) does not match finite "
        f"differences at {int(bad.sum())} of {bad.size} elements; max abs error "
        f"{np.max(abs_err):.3g}, max rel error {np.max(rel_err):.3g} (abs_tol={abs_tol:g}, "
        f"rel_tol={rel_tol:g}); worst at index {tuple(int(i) for i in worst)}: symbolic "
        f"{symbolic[worst]:.6g}, numeric {numeric[worst]:.6g}"
    )
