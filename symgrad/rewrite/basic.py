"""Rewrites every graph gets: merging equal subgraphs (CSE, constants included) and constant
folding. Dead code needs no pass: the FunctionGraph prunes nodes nothing reads."""

from __future__ import annotations

import numpy as np

from symgrad.graph.basic import Constant, make_constant
from symgrad.graph.fgraph import FunctionGraph
from symgrad.rewrite.registry import PHASES, global_rewrite, local_rewrite

# Ops whose value must not be computed at compile time (side effects, randomness, or they
# already represent a large constant cheaply).
NOT_FOLDABLE: set[type] = set()


def _constant_key(c: Constant) -> tuple:
    return ("constant", *c.signature())


@global_rewrite(
    "merge", PHASES[0], proof="structural: equal ops on identical inputs compute identical values"
)
def merge(fgraph: FunctionGraph, ctx) -> int:
    """Merge equal constants and nodes applying equal ops to the same inputs (CSE)."""
    changes = 0
    constants: dict[tuple, Constant] = {}
    for var in [v for v in fgraph.clients if isinstance(v, Constant)]:
        first = constants.setdefault(_constant_key(var), var)
        if first is not var and fgraph.clients.get(var):
            fgraph.replace(var, first, reason="merge")
            changes += 1
    seen: dict[tuple, object] = {}
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes or not getattr(node.op, "mergeable", True):
            continue
        key = (node.op, tuple(id(i) for i in node.inputs))
        other = seen.setdefault(key, node)
        if other is node:
            continue
        for old, new in zip(node.outputs, other.outputs):
            if fgraph.clients.get(old):
                fgraph.replace(old, new, reason="merge")
        changes += 1
    if changes:
        ctx.fired("merge", detail=f"{changes} merged")
    return changes


@local_rewrite(
    "constant_fold",
    PHASES[0],
    None,
    proof="structural: evaluates the op's own NumPy implementation on constant inputs",
)
def constant_fold(b):
    """A node whose inputs are all constants becomes a constant (up to a size limit)."""
    node = b["node"]
    if type(node.op) in NOT_FOLDABLE or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if len(node.outputs) != 1:
        return None
    storage = [[None]]
    with np.errstate(all="ignore"):
        try:
            node.op.perform(node, [i.data for i in node.inputs], storage)
        except Exception:  # the error belongs to run time, where it names the call
            return None
    value = storage[0][0]
    if value is None or np.asarray(value).size > b["ctx"].constant_fold_limit:
        return None
    return make_constant(np.asarray(value), dtype=node.outputs[0].dtype)
