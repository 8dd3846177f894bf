"""Helpers shared by rewrites."""

from __future__ import annotations

from symgrad.graph.basic import Apply, Constant, Variable
from symgrad.ops.elemwise import Elemwise, input_has_output_shape, second


def keep_shape(new: Variable, node: Apply) -> Variable:
    """``new`` broadcast to the shape of ``node``'s output, without reading values it drops.

    ``x * 1 -> x`` is only right when ``x`` already has the product's shape; otherwise the
    other inputs' shapes are kept with ``second(other, x)``.
    """
    out = node.outputs[0]
    if new.ndim == out.ndim and any(
        v is new and input_has_output_shape(node.inputs, k, out) for k, v in enumerate(node.inputs)
    ):
        return new
    if new.static_shape == out.static_shape and None not in out.static_shape:
        return new
    for other in node.inputs:
        if other is not new and not _cannot_extend(other, new):
            new = second(other, new)
    return new


def _cannot_extend(other: Variable, new: Variable) -> bool:
    """True when broadcasting ``other`` with ``new`` surely leaves ``new``'s shape alone."""
    if other.ndim > new.ndim:
        return False
    tail = new.static_shape[new.ndim - other.ndim :]
    return all(o == 1 or (o is not None and o == t) for o, t in zip(other.static_shape, tail))


def is_elemwise(var: Variable, name: str | None = None) -> bool:
    node = var.owner
    return (
        node is not None
        and isinstance(node.op, Elemwise)
        and (name is None or node.op.scalar_op.name == name)
    )


def scalar_constant_value(var: Variable) -> float | None:
    """The single value of a constant whose elements are all equal, else None."""
    if not isinstance(var, Constant) or var.data.size == 0:
        return None
    first = var.data.flat[0]
    return first.item() if (var.data == first).all() else None
