"""The memory pass: let an elementwise node write its result into an input's buffer.

The mark is ``node.tag["inplace"] = k``: the node may overwrite input ``k``'s array with its
output (``Elemwise.perform`` honours it in mode 'py', checking the buffer at run time;
compiled backends may reuse the buffer the same way). Input ``k`` qualifies only when
overwriting it cannot be observed:

- it has the output's dtype and static shape (or static shapes prove it is not broadcast):
  an input that broadcasting grows has too small a buffer. Unknown lengths may still differ
  at run time, so whoever honours the mark checks that the buffer's shape is the result's
  and computes into a new array otherwise (``Elemwise.perform`` does);
- it is computed by a node whose outputs are always fresh arrays (never a view of another
  value), so it is not a graph input, a shared variable's value, a constant, or an alias of
  one of them;
- this node is its only reader (it appears once among this node's inputs), and it is not a
  graph output (the VM hands outputs to the caller).
"""

from __future__ import annotations

from symgrad.graph.basic import Apply
from symgrad.graph.fgraph import FunctionGraph
from symgrad.ops import scalar_ops
from symgrad.ops.composite import Composite, FusedReduce
from symgrad.ops.elemwise import Elemwise, ScalarOp, cast_scalar_op, input_has_output_shape, second
from symgrad.ops.linalg import MatMul
from symgrad.ops.reduce import Reduce
from symgrad.rewrite.registry import global_rewrite

INPLACE_TAG = "inplace"

# The built-in rows return new arrays; a user's scalar op might return its argument itself.
_FRESH_SCALAR_OPS = frozenset([second, *(v for v in vars(scalar_ops).values() if isinstance(v, ScalarOp))])


@global_rewrite(
    "inplace",
    "memory",
    proof="structural: only marks which buffer a node may write its result into; no formula changes",
)
def inplace(fgraph: FunctionGraph, ctx) -> int:
    """Mark each elementwise node that can overwrite a dead intermediate input."""
    changes = 0
    for node in fgraph.toposort():
        node.tag.pop(INPLACE_TAG, None)  # a mark copied from another graph proves nothing here
        if not isinstance(node.op, Elemwise):
            continue
        k = reusable_input(fgraph, node)
        if k is not None:
            node.tag[INPLACE_TAG] = k
            ctx.fired("inplace", node, f"{node.op} writes into input {k}")
            changes += 1
    return changes


def reusable_input(fgraph: FunctionGraph, node: Apply) -> int | None:
    """The first input whose buffer ``node`` may overwrite, or None."""
    out = node.outputs[0]
    for k, v in enumerate(node.inputs):
        if (
            (v.type == out.type or (v.dtype == out.dtype and input_has_output_shape(node.inputs, k, out)))
            and _fresh(v.owner)
            and list(fgraph.clients.get(v, ())) == [(node, k)]
        ):
            return k
    return None


def _fresh(producer: Apply | None) -> bool:
    """True when ``producer``'s output is always a new array (not a view, not an input)."""
    if producer is None:
        return False
    op = producer.op
    if isinstance(op, Elemwise):
        return _fresh_scalar_op(op.scalar_op)
    if isinstance(op, Reduce):
        return bool(op.axis)
    return isinstance(op, (FusedReduce, MatMul))


def _fresh_scalar_op(sop: ScalarOp) -> bool:
    if isinstance(sop, Composite):
        op, _, _ = sop.steps[sop.output[1]]
        return _fresh_scalar_op(op)
    if sop.name == "cast":
        return sop is cast_scalar_op(sop.params[0])
    return sop in _FRESH_SCALAR_OPS
