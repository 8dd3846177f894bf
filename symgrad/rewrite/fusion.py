"""Elementwise fusion: connected elementwise nodes become one ``Elemwise(Composite)`` node
(one loop, no intermediate arrays), and an elementwise input of a reduction fuses into it
(``FusedReduce``: ``sum(exp(x - m))`` in one pass).

A cluster grows upwards from its output node over elementwise producers (a DAG, not only a
chain). A producer joins when it has the output's rank and is not statically broadcast into
the loop (an input of smaller shape is fine: it stays a composite input), and when every
reader of its value is already in the cluster and the value is not a graph output. Nodes
that something outside also reads are not duplicated (recomputing them would cost more
than the intermediate array saves); they end their own cluster instead.
"""

from __future__ import annotations

import heapq

from symgrad.graph.basic import Apply, Constant, Variable
from symgrad.graph.fgraph import FunctionGraph
from symgrad.ops.composite import Composite, FusedReduce, make_composite
from symgrad.ops.elemwise import Elemwise, elemwise_of
from symgrad.ops.reduce import Reduce
from symgrad.rewrite.registry import global_rewrite

MAX_INPUTS = 64  # distinct array inputs of one composite (the py VM has no operand limit)
# Scalar steps of one composite: a longer chain is split into several. gcc -O3's time grows
# faster than linearly with a kernel's body (800 steps: 0.6 s; 3200: 4.8 s), and the fused
# loop gains nothing measurable from more than a few hundred steps per element.
MAX_STEPS = 1000


@global_rewrite(
    "elemwise_fusion",
    "fuse",
    proof="structural: the composite evaluates the same scalar ops in the same order and "
    "dtypes on the same inputs, only without materialising intermediates",
)
def elemwise_fusion(fgraph: FunctionGraph, ctx) -> int:
    """Replace each maximal fusable cluster of elementwise nodes by one composite node."""
    changes = 0
    for members in find_clusters(fgraph):
        root = members[-1]
        composite, inputs = compose(members)
        new = elemwise_of(composite).make_node(*inputs)
        if not _replace(fgraph, root.outputs[0], new, "elemwise_fusion"):
            continue
        ctx.fired("elemwise_fusion", root, f"{len(members)} nodes -> {composite}")
        changes += 1
    return changes


@global_rewrite(
    "reduce_fusion",
    "fuse",
    proof="structural: the reduction reads the same elementwise values, computed by the same "
    "scalar ops, without storing them first",
)
def reduce_fusion(fgraph: FunctionGraph, ctx) -> int:
    """``Reduce(Elemwise(...))`` whose elementwise value nothing else reads -> ``FusedReduce``."""
    changes = 0
    for node in fgraph.toposort():
        if not isinstance(node.op, Reduce) or node not in fgraph.apply_nodes:
            continue
        (value,) = node.inputs
        producer = value.owner
        if not _fusable(producer) or fgraph.is_output(value) or fgraph.client_nodes(value) != [node]:
            continue
        composite, inputs = compose([producer])
        new = FusedReduce(composite, node.op.kind, node.op.axis).make_node(*inputs)
        if not _replace(fgraph, node.outputs[0], new, "reduce_fusion"):
            continue
        ctx.fired("reduce_fusion", node, str(new.op))
        changes += 1
    return changes


def _replace(fgraph: FunctionGraph, old: Variable, new_node: Apply, reason: str) -> bool:
    new_node.location = old.owner.location
    new = new_node.outputs[0]
    if new.type != old.type:  # cannot happen for a well-formed cluster; never risk a wrong type
        return False
    fgraph.replace(old, new, reason=reason)
    return True


# -- finding clusters --------------------------------------------------------------------------
def _fusable(node: Apply | None) -> bool:
    """A single-output elementwise node whose scalar op every backend can put in a loop."""
    if node is None or not isinstance(node.op, Elemwise) or len(node.outputs) != 1:
        return False
    sop = node.op.scalar_op
    return isinstance(sop, Composite) or sop.c_expr is not None


def _same_loop(node: Apply, root: Apply) -> bool:
    """``node``'s value is computed over the root's loop: same rank, not broadcast statically."""
    shape, loop = node.outputs[0].static_shape, root.outputs[0].static_shape
    return len(shape) == len(loop) and not any(s == 1 and t != 1 for s, t in zip(shape, loop))


def _is_literal(v: Variable) -> bool:
    return isinstance(v, Constant) and v.ndim == 0


def _array_inputs(node: Apply) -> set[Variable]:
    return {v for v in node.inputs if not _is_literal(v)}


def _steps(node: Apply) -> int:
    """Scalar steps the node adds to a composite (a fused node brings all of its own)."""
    return max(1, len(getattr(node.op.scalar_op, "steps", ())))


def find_clusters(fgraph: FunctionGraph) -> list[list[Apply]]:
    """Disjoint clusters of two or more nodes, each in topological order, output node last."""
    order = fgraph.toposort()
    index = {node: k for k, node in enumerate(order)}
    assigned: set[Apply] = set()
    clusters = []
    for root in reversed(order):
        if root in assigned or not _fusable(root):
            continue
        members = _grow(fgraph, root, order, index, assigned)
        if len(members) >= 2:
            assigned |= members
            clusters.append(sorted(members, key=index.__getitem__))
    return clusters


def _grow(fgraph: FunctionGraph, root: Apply, order: list[Apply], index: dict, assigned: set) -> set[Apply]:
    """Add producers in decreasing topological order, so that when a producer is considered
    every node that could read it has already been decided."""
    members = {root}
    externals = _array_inputs(root)
    steps = _steps(root)
    heap: list[int] = []
    pushed: set[Apply] = set()

    def push_producers(node: Apply) -> None:
        for v in node.inputs:
            p = v.owner
            if p is not None and p in index and p not in pushed:
                pushed.add(p)
                heapq.heappush(heap, -index[p])

    push_producers(root)
    while heap:
        p = order[-heapq.heappop(heap)]
        if p in assigned or not _fusable(p) or not _same_loop(p, root):
            continue
        value = p.outputs[0]
        if fgraph.is_output(value) or any(c not in members for c in fgraph.client_nodes(value)):
            continue
        grown = (externals - {value}) | _array_inputs(p)
        if len(grown) > MAX_INPUTS or steps + _steps(p) > MAX_STEPS:
            continue
        members.add(p)
        externals = grown
        steps += _steps(p)
        push_producers(p)
    return members


# -- building the composite ----------------------------------------------------------------------
class _Builder:
    """Collects a composite's inputs, literals and steps from nodes in topological order."""

    def __init__(self) -> None:
        self.inputs: list[Variable] = []
        self.input_refs: dict[Variable, tuple[str, int]] = {}
        self.literals: list[tuple[str, bytes]] = []
        self.literal_refs: dict[tuple[str, bytes], tuple[str, int]] = {}
        self.steps: list = []
        self.values: dict[Variable, tuple[str, int]] = {}

    def ref(self, v: Variable) -> tuple[str, int]:
        if v in self.values:
            return self.values[v]
        if _is_literal(v):
            return self.literal((v.dtype, v.data.tobytes()))
        if v not in self.input_refs:
            self.input_refs[v] = ("i", len(self.inputs))
            self.inputs.append(v)
        return self.input_refs[v]

    def literal(self, key: tuple[str, bytes]) -> tuple[str, int]:
        if key not in self.literal_refs:
            self.literal_refs[key] = ("c", len(self.literals))
            self.literals.append(key)
        return self.literal_refs[key]

    def step(self, op, refs: tuple, dtype: str) -> tuple[str, int]:
        self.steps.append((op, refs, dtype))
        return ("s", len(self.steps) - 1)

    def add(self, node: Apply) -> None:
        refs = tuple(self.ref(v) for v in node.inputs)
        sop = node.op.scalar_op
        out = node.outputs[0]
        if not isinstance(sop, Composite):
            self.values[out] = self.step(sop, refs, out.dtype)
            return
        inner: dict[tuple[str, int], tuple[str, int]] = {("i", k): r for k, r in enumerate(refs)}
        for k, key in enumerate(sop.literals):
            inner[("c", k)] = self.literal(key)
        for k, (op, step_refs, dtype) in enumerate(sop.steps):
            inner[("s", k)] = self.step(op, tuple(inner[r] for r in step_refs), dtype)
        self.values[out] = inner[sop.output]


def compose(members: list[Apply]) -> tuple[Composite, list[Variable]]:
    """The composite computing the last member from the others, and its input variables."""
    builder = _Builder()
    for node in members:
        builder.add(node)
    output = builder.values[members[-1].outputs[0]]
    dtypes = tuple(v.dtype for v in builder.inputs)
    composite = make_composite(dtypes, tuple(builder.steps), tuple(builder.literals), output)
    return composite, builder.inputs
