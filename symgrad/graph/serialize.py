"""Pickling graphs without recursion, keeping shared nodes shared.

Python's pickler recurses through ``owner -> inputs -> owner``, which fails a few hundred
nodes deep. Instead, a variable with an owner is pickled as the list of its graph's node
records in topological order, then a pointer into the last one. A node record refers to
its inputs' records, which the pickler has already written by then, so every reference is a
memo lookup and the pickler never descends more than one level.

Each apply node keeps one record object (in ``node.tag``), so everything pickled together
(a model's inputs, hidden layers, loss and compiled functions) shares the same records and
unpickles into one connected graph: intermediate variables keep their identity too. Root
variables (inputs, shared variables, constants) are pickled as themselves.
"""

from __future__ import annotations

from typing import Any

from symgrad.graph.source_info import SourceLocation
from symgrad.graph.traversal import toposort

_RECORD_KEY = "_pickle_record"


class NodeRecord:
    """Stands in for an apply node in a pickle; one per node, so the pickler memoizes it."""

    __slots__ = ("node",)

    def __init__(self, node: Any) -> None:
        self.node = node

    def __reduce__(self):
        node = self.node
        refs = [_input_ref(inp) for inp in node.inputs]
        outs = [(type(o), o.type, o.name) for o in node.outputs]
        return (_rebuild_node, (type(node), node.op, refs, outs, tuple(node.location)))


def record_of(node: Any) -> NodeRecord:
    """The node's record, made once (a copied tag pointing at another node is replaced)."""
    record = node.tag.get(_RECORD_KEY)
    if record is None or record.node is not node:
        record = node.tag[_RECORD_KEY] = NodeRecord(node)
    return record


def _input_ref(var: Any) -> Any:
    return var if var.owner is None else (record_of(var.owner), var.index)


def reduce_variable(var: Any) -> tuple:
    if var.owner is None:
        return (_rebuild_root, (type(var), var.type, var.name))
    records = [record_of(node) for node in toposort([var])]
    return (_output_of, (records, record_of(var.owner), var.index))


def _rebuild_root(cls, type_, name):
    return cls(type_, name=name)


def _rebuild_node(apply_cls, op, refs: list, outs: list, location: tuple) -> Any:
    inputs = [r[0].outputs[r[1]] if isinstance(r, tuple) else r for r in refs]
    outputs = [cls(type_, name=name) for cls, type_, name in outs]
    return apply_cls(op, inputs, outputs, SourceLocation(*location))


def _output_of(_earlier_nodes: list, node: Any, index: int) -> Any:
    """``_earlier_nodes`` only made the unpickler build the graph in order."""
    if isinstance(node, NodeRecord):  # copy.copy passes the arguments through unpickled
        node = node.node
    return node.outputs[index]
