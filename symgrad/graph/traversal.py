"""Graph walks. All of them are iterative, so graphs of any depth work."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any


def toposort(outputs: Iterable[Any], stop_at: Callable[[Any], bool] | None = None) -> list:
    """Apply nodes that compute ``outputs``, each after the nodes it reads from.

    ``stop_at(variable)`` may cut the walk (its owner is treated as outside the graph).
    """
    order: list = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = []
    for out in outputs:
        if out.owner is not None and not (stop_at and stop_at(out)):
            stack.append((out.owner, False))
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for inp in reversed(node.inputs):
            parent = inp.owner
            if parent is not None and id(parent) not in seen and not (stop_at and stop_at(inp)):
                stack.append((parent, False))
    return order


def variables_in(outputs: Sequence[Any], stop_at: Callable[[Any], bool] | None = None) -> list:
    """Every variable of the graph of ``outputs``: inputs of nodes, then their outputs."""
    seen: dict[int, Any] = {}
    for node in toposort(outputs, stop_at):
        for v in (*node.inputs, *node.outputs):
            seen.setdefault(id(v), v)
    for v in outputs:
        seen.setdefault(id(v), v)
    return list(seen.values())


def graph_inputs(outputs: Sequence[Any], stop_at: Callable[[Any], bool] | None = None) -> list:
    """Root variables (no owner, or cut by ``stop_at``) that ``outputs`` depend on, in order."""
    roots: dict[int, Any] = {}
    for v in outputs:
        if v.owner is None or (stop_at and stop_at(v)):
            roots.setdefault(id(v), v)
    for node in toposort(outputs, stop_at):
        for inp in node.inputs:
            if inp.owner is None or (stop_at and stop_at(inp)):
                roots.setdefault(id(inp), inp)
    return list(roots.values())


def ancestors(outputs: Sequence[Any]) -> list:
    """All variables that ``outputs`` depend on, ``outputs`` included."""
    return variables_in(outputs)


def clone_replace(
    outputs: Sequence[Any],
    replace: dict | None = None,
    rebuild: bool = True,
) -> list:
    """Copies of ``outputs`` with variables substituted as ``replace`` says.

    Nodes that depend on nothing replaced are shared with the original graph, not copied;
    with ``rebuild`` the affected nodes are re-made through ``op.make_node`` so their types
    follow the new inputs.
    """
    replace = dict(replace or {})
    mapping: dict[int, Any] = {id(k): v for k, v in replace.items()}
    for node in toposort(outputs, stop_at=lambda v: id(v) in mapping):
        new_inputs = [mapping.get(id(i), i) for i in node.inputs]
        if all(n is o for n, o in zip(new_inputs, node.inputs)):
            continue
        new_node = node.rebuild(new_inputs) if rebuild else _copy_node(node, new_inputs)
        for old, new in zip(node.outputs, new_node.outputs):
            if old.name and not new.name:
                new.name = old.name
            mapping[id(old)] = new
    return [mapping.get(id(o), o) for o in outputs]


def _copy_node(node: Any, new_inputs: list) -> Any:
    """The same op on new inputs with the old output types (no type inference)."""
    outputs = [type(o)(o.type, name=o.name) for o in node.outputs]
    return type(node)(node.op, new_inputs, outputs, node.location)


def is_ancestor(candidate: Any, outputs: Sequence[Any]) -> bool:
    return any(v is candidate for v in variables_in(outputs))
