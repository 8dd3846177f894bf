"""Pickling graphs without recursion.

Python's pickler recurses through ``owner -> inputs -> owner``, which fails a few hundred
nodes deep. A variable with an owner is pickled as a flat list of node records in
topological order; root variables (inputs, shared variables, constants) are pickled as
themselves, so their identity is kept across everything in one pickle.
"""

from __future__ import annotations

from typing import Any

from symgrad.graph.source_info import SourceLocation
from symgrad.graph.traversal import toposort


def reduce_variable(var: Any) -> tuple:
    if var.owner is None:
        return (_rebuild_root, (type(var), var.type, var.name))
    nodes = toposort([var])
    position = {id(out): (n, i) for n, node in enumerate(nodes) for i, out in enumerate(node.outputs)}
    records = []
    for node in nodes:
        refs = [position.get(id(inp), inp) for inp in node.inputs]
        outs = [(type(o), o.type, o.name) for o in node.outputs]
        records.append((type(node), node.op, refs, outs, tuple(node.location)))
    return (_rebuild_owned, (records, position[id(var)]))


def _rebuild_root(cls, type_, name):
    return cls(type_, name=name)


def _rebuild_owned(records: list, target: tuple[int, int]) -> Any:
    built: list = []
    for apply_cls, op, refs, outs, location in records:
        inputs = [built[r[0]].outputs[r[1]] if isinstance(r, tuple) else r for r in refs]
        outputs = [cls(type_, name=name) for cls, type_, name in outs]
        built.append(apply_cls(op, inputs, outputs, SourceLocation(*location)))
    node_index, out_index = target
    return built[node_index].outputs[out_index]
