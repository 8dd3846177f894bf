"""FunctionGraph: the mutable working surface of the rewriter.

It owns a private copy of a graph (the user's graph is never mutated), tracks every
variable's clients, and offers a type-checked ``replace``. Nodes that stop feeding an output
are pruned. Listeners hear about imports, prunes and input changes, which is how the rewrite
engine keeps its work queue current.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from symgrad.graph.basic import Apply, Variable
from symgrad.graph.errors import GraphTypeError
from symgrad.graph.traversal import toposort
from symgrad.graph.types import format_static_shape

OUTPUT = "output"  # the client marker for "this variable is graph output number i"


class Listener(Protocol):
    def on_import(self, fgraph: FunctionGraph, node: Apply) -> None: ...
    def on_prune(self, fgraph: FunctionGraph, node: Apply) -> None: ...
    def on_change_input(
        self, fgraph: FunctionGraph, node: Apply | str, i: int, old: Variable, new: Variable
    ) -> None: ...


def clone_graph(
    inputs: Sequence[Variable], outputs: Sequence[Variable]
) -> tuple[list[Variable], dict[int, Variable]]:
    """Copies of ``outputs`` whose apply nodes are fresh; root variables are kept as they are.

    Returns the new outputs and the mapping from old variable ids to new variables.
    """
    mapping: dict[int, Variable] = {}
    for node in toposort(outputs):
        new_inputs = [mapping.get(id(v), v) for v in node.inputs]
        new_outputs = [type(o)(o.type, name=o.name) for o in node.outputs]
        new_node = Apply(node.op, new_inputs, new_outputs, node.location)
        new_node.tag.update(node.tag)
        new_node.tag.pop("inplace", None)  # a buffer-reuse mark proves nothing in another graph
        for old, new in zip(node.outputs, new_node.outputs):
            mapping[id(old)] = new
    return [mapping.get(id(o), o) for o in outputs], mapping


class FunctionGraph:
    """A graph from ``inputs`` to ``outputs`` that rewrites may change in place."""

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], clone: bool = True) -> None:
        self.inputs = list(inputs)
        if clone:
            outputs, _ = clone_graph(self.inputs, outputs)
        self.outputs: list[Variable] = list(outputs)
        # Each variable's readers as an insertion-ordered dict of (node or OUTPUT, input index):
        # removing one is O(1) even for a constant read by thousands of nodes.
        self.clients: dict[Variable, dict[tuple[Apply | str, int], None]] = {}
        self.apply_nodes: set[Apply] = set()
        self.listeners: list[Listener] = []
        for v in self.inputs:
            self.clients.setdefault(v, {})
        for node in toposort(self.outputs):
            self._import(node)
        for i, out in enumerate(self.outputs):
            self.clients.setdefault(out, {})[(OUTPUT, i)] = None

    # -- queries ---------------------------------------------------------------------------
    def toposort(self) -> list[Apply]:
        return toposort(self.outputs)

    def client_nodes(self, var: Variable) -> list[Apply]:
        return [c for c, _ in self.clients.get(var, ()) if c != OUTPUT]

    def is_output(self, var: Variable) -> bool:
        return any(c == OUTPUT for c, _ in self.clients.get(var, ()))

    # -- changes ---------------------------------------------------------------------------
    def attach(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def detach(self, listener: Listener) -> None:
        self.listeners.remove(listener)

    def replace(self, old: Variable, new: Variable, reason: str = "") -> None:
        """Make every client of ``old`` read ``new`` instead (types must agree)."""
        if old is new:
            return
        check_replacement(old, new, reason)
        clients = list(self.clients.get(old, ()))  # before importing ``new``, which may read ``old``
        self._import_graph(new)
        for client, i in clients:
            self._change_input(client, i, old, new)
        self._prune_if_unused(old)

    def replace_all(self, pairs: Iterable[tuple[Variable, Variable]], reason: str = "") -> None:
        for old, new in pairs:
            self.replace(old, new, reason)

    def _change_input(self, client: Apply | str, i: int, old: Variable, new: Variable) -> None:
        if client == OUTPUT:
            self.outputs[i] = new
        else:
            client.inputs[i] = new
        del self.clients[old][(client, i)]
        self.clients.setdefault(new, {})[(client, i)] = None
        for listener in list(self.listeners):
            listener.on_change_input(self, client, i, old, new)

    def _import_graph(self, var: Variable) -> None:
        if var.owner is None or var.owner in self.apply_nodes:
            return
        for node in toposort([var], stop_at=lambda v: v.owner in self.apply_nodes):
            self._import(node)

    def _import(self, node: Apply) -> None:
        if node in self.apply_nodes:
            return
        self.apply_nodes.add(node)
        for i, inp in enumerate(node.inputs):
            self.clients.setdefault(inp, {})[(node, i)] = None
        for out in node.outputs:
            self.clients.setdefault(out, {})
        for listener in list(self.listeners):
            listener.on_import(self, node)

    def _prune_if_unused(self, var: Variable) -> None:
        """Remove the nodes that only fed ``var`` (iteratively, up the graph)."""
        stack = [var]
        while stack:
            v = stack.pop()
            node = v.owner
            if node is None or node not in self.apply_nodes:
                continue
            if any(self.clients.get(o) for o in node.outputs):
                continue
            self.apply_nodes.discard(node)
            for o in node.outputs:
                self.clients.pop(o, None)
            for i, inp in enumerate(node.inputs):
                del self.clients[inp][(node, i)]
                if not self.clients[inp]:
                    stack.append(inp)
            for listener in list(self.listeners):
                listener.on_prune(self, node)

    def check_integrity(self) -> None:
        """Assert the client lists describe the graph exactly (for tests and debugging)."""
        nodes = set(self.toposort())
        assert nodes == self.apply_nodes, "apply_nodes out of date"
        expected: dict[Variable, list] = {}
        for node in nodes:
            for i, inp in enumerate(node.inputs):
                expected.setdefault(inp, []).append((node, i))
        for i, out in enumerate(self.outputs):
            expected.setdefault(out, []).append((OUTPUT, i))
        for var, clients in self.clients.items():
            assert sorted(map(_client_key, clients)) == sorted(map(_client_key, expected.get(var, []))), (
                f"clients of {var} out of date"
            )

    def __repr__(self) -> str:
        return f"FunctionGraph({len(self.inputs)} inputs, {len(self.outputs)} outputs, {len(self.apply_nodes)} nodes)"


def _client_key(client: tuple[Any, int]) -> tuple[int, int]:
    node, i = client
    return (id(node), i)


def check_replacement(old: Variable, new: Variable, reason: str = "") -> None:
    """A replacement must keep dtype and rank, and must not contradict a static length."""
    why = f" (rewrite {reason})" if reason else ""
    if old.dtype != new.dtype or old.ndim != new.ndim:
        raise GraphTypeError(
            f"cannot replace {old.describe()} by {new.describe()}{why}: dtype or rank differ"
        )
    for a, (s, t) in enumerate(zip(old.static_shape, new.static_shape)):
        if s is not None and t is not None and s != t:
            raise GraphTypeError(
                f"cannot replace {old.describe()} by {new.describe()}{why}: static shapes "
                f"{format_static_shape(old.static_shape)} and {format_static_shape(new.static_shape)} differ on axis {a}"
            )
