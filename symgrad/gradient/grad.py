"""The reverse-mode driver: walk the graph backwards once, apply each op's rule, sum the
contributions. Broadcasting and dtype adjustments live in the op rules' shared helpers,
not in every rule. Iterative and linear in graph size."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from symgrad.config import config
from symgrad.graph.basic import Variable, as_tensor_variable
from symgrad.graph.errors import DisconnectedInputError, GraphTypeError, GraphValueError
from symgrad.graph.gcpause import gc_paused
from symgrad.graph.source_info import user_location
from symgrad.graph.traversal import toposort, variables_in
from symgrad.graph.types import is_float
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import cast, ones_like, zeros_like

_DISCONNECTED_CHOICES = ("raise", "warn", "ignore")


def grad(
    cost: Any,
    wrt: Variable | Sequence[Variable],
    consider_constant: Sequence[Variable] | None = None,
    disconnected_inputs: str = "raise",
    known_grads: dict | None = None,
) -> Any:
    """Symbolic gradient of scalar ``cost`` with respect to ``wrt`` (Theano's semantics)."""
    if disconnected_inputs not in _DISCONNECTED_CHOICES:
        raise GraphValueError(f"grad: disconnected_inputs must be one of {_DISCONNECTED_CHOICES}")
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise GraphTypeError(f"grad: wrt must hold symbolic variables, got {type(w).__name__}")
    seeds = _seeds(cost, known_grads or {})
    with gc_paused():
        grads = backprop(seeds, wrt_list, consider_constant or ())
    used: set[int] | None = None
    results = []
    for k, w in enumerate(wrt_list):
        g = grads.get(id(w))
        if g is None:
            used = _used_ids(seeds, consider_constant or ()) if used is None else used
            if id(w) in used:  # Theano: connected only through non-differentiable ops -> zeros
                g = zeros_like(w, dtype=w.dtype if is_float(w.dtype) else config.floatX)
        if g is None:
            g = _disconnected(w, k, disconnected_inputs)
        results.append(g)
    if single:
        return results[0]
    return tuple(results) if isinstance(wrt, tuple) else results


def _seeds(cost: Any, known_grads: dict) -> dict:
    seeds: dict[int, tuple[Variable, Variable]] = {}
    if cost is None and not known_grads:
        raise GraphValueError("grad: cost is None and no known_grads were given")
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise GraphTypeError(
                f"grad: cost must be a scalar, got {cost.describe()} {_here()}; "
                "sum or mean it first, or use sg.jacobian / sg.Lop"
            )
        if not is_float(cost.dtype):
            raise GraphTypeError(f"grad: cost must be a float scalar, got {cost.describe()} {_here()}")
        seeds[id(cost)] = (cost, ones_like(cost))
    for var, g in known_grads.items():
        if not isinstance(var, Variable):
            raise GraphTypeError(f"grad: known_grads keys must be variables, got {type(var).__name__}")
        g = as_tensor_variable(g)
        if g.ndim != var.ndim:
            raise GraphTypeError(
                f"grad: known gradient for {var.describe()} has {g.ndim} dims, expected {var.ndim} {_here()}"
            )
        if is_float(var.dtype) and is_float(g.dtype):
            g = cast(g, var.dtype)
        seeds[id(var)] = (var, g if id(var) not in seeds else so.add(seeds[id(var)][1], g))
    return seeds


def backprop(seeds: dict, wrt: Sequence[Variable], consider_constant: Sequence[Variable]) -> dict:
    """Gradients (by variable id) of every ``wrt`` reached from the seeded variables."""
    constant_ids = {id(v) for v in consider_constant}
    outputs = [v for v, _ in seeds.values()]
    nodes = toposort(outputs, stop_at=lambda v: id(v) in constant_ids)
    reaches = {id(w) for w in wrt if id(w) not in constant_ids}
    for node in nodes:
        if any(id(i) in reaches and id(i) not in constant_ids for i in node.inputs):
            reaches.update(id(o) for o in node.outputs)
    contributions: dict[int, list[Variable]] = {key: [g] for key, (_, g) in seeds.items()}
    for node in reversed(nodes):
        if not any(id(o) in contributions for o in node.outputs):
            continue
        if not any(id(i) in reaches and id(i) not in constant_ids for i in node.inputs):
            continue
        out_grads = [_total(contributions.get(id(o))) for o in node.outputs]
        out_grads = [zeros_like(o) if g is None else g for o, g in zip(node.outputs, out_grads)]
        in_grads = node.op.L_op(node.inputs, node.outputs, out_grads)
        if len(in_grads) != len(node.inputs):
            raise GraphValueError(
                f"{node.op}: grad returned {len(in_grads)} gradients for {len(node.inputs)} inputs "
                f"(created at {node.location})"
            )
        for inp, g in zip(node.inputs, in_grads):
            if g is None or id(inp) not in reaches or id(inp) in constant_ids:
                continue
            g = as_tensor_variable(g)
            if g.ndim != inp.ndim:
                raise GraphValueError(
                    f"{node.op}: gradient for input {inp.describe()} has {g.ndim} dims "
                    f"(created at {node.location})"
                )
            contributions.setdefault(id(inp), []).append(g)
    return {
        id(w): _as_wrt_dtype(_total(contributions.get(id(w))), w) for w in wrt if contributions.get(id(w))
    }


def _total(parts: list[Variable] | None) -> Variable | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else so.add(*parts)


def _as_wrt_dtype(g: Variable, w: Variable) -> Variable:
    return cast(g, w.dtype) if is_float(w.dtype) and g.dtype != w.dtype else g


def _used_ids(seeds: dict, consider_constant: Sequence[Variable]) -> set[int]:
    """Ids of the variables the seeded outputs depend on (not through constants)."""
    constant_ids = {id(v) for v in consider_constant}
    outputs = [v for v, _ in seeds.values()]
    return {id(v) for v in variables_in(outputs, stop_at=lambda v: id(v) in constant_ids)}


def _disconnected(w: Variable, k: int, policy: str) -> Variable:
    message = (
        f"grad: the cost does not depend on wrt[{k}], {w.describe()} {_here()}. "
        "Pass disconnected_inputs='ignore' (zeros) or 'warn' if this is expected"
    )
    if policy == "raise":
        raise DisconnectedInputError(message)
    if policy == "warn":
        warnings.warn(message, stacklevel=3)
    return zeros_like(w, dtype=w.dtype if is_float(w.dtype) else config.floatX)


def _here() -> str:
    return f"(at {user_location()})"
