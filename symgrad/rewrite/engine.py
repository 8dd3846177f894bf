"""The engine that applies local rewrites to a fixed point.

Rewrites are indexed by the op at their pattern's root; a work queue holds the nodes to
visit, refilled from the graph's listener events (new nodes, nodes whose inputs changed), so
each change costs work proportional to what it touched, not to the graph's size.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from symgrad.graph.basic import Apply, Variable
from symgrad.graph.errors import GraphTypeError
from symgrad.graph.fgraph import FunctionGraph, check_replacement
from symgrad.ops.elemwise import cast
from symgrad.rewrite.pattern import node_key
from symgrad.rewrite.registry import LocalRewrite

log = logging.getLogger("symgrad.rewrite")


@dataclass
class RewriteContext:
    """What one rewriting run may do, and what it did."""

    exclude: frozenset[str] = frozenset()
    counts: collections.Counter = field(default_factory=collections.Counter)
    max_rewrites_per_node: int = 20
    constant_fold_limit: int = 10_000  # elements; larger results stay computed at run time

    def enabled(self, name: str) -> bool:
        return name not in self.exclude

    def fired(self, name: str, node: Apply | None = None, detail: str = "") -> None:
        self.counts[name] += 1
        if log.isEnabledFor(logging.DEBUG):
            where = f" at {node.location}" if node is not None else ""
            log.debug("rewrite %s%s%s", name, where, f": {detail}" if detail else "")


class _Queue:
    """Listener that queues nodes touched by a change."""

    def __init__(self, nodes: Sequence[Apply]) -> None:
        self.items = collections.deque(nodes)
        self.queued = set(nodes)

    def push(self, node: Apply) -> None:
        if node not in self.queued:
            self.queued.add(node)
            self.items.append(node)

    def pop(self) -> Apply:
        node = self.items.popleft()
        self.queued.discard(node)
        return node

    def on_import(self, fgraph, node):
        self.push(node)

    def on_prune(self, fgraph, node):
        pass

    def on_change_input(self, fgraph, node, i, old, new):
        if isinstance(node, Apply):
            self.push(node)


def apply_local_rewrites(fgraph: FunctionGraph, rewrites: Sequence[LocalRewrite], ctx: RewriteContext) -> int:
    """Apply ``rewrites`` until none fires (bounded); returns the number of changes."""
    index: dict = collections.defaultdict(list)
    wildcard = []
    for rw in rewrites:
        if not ctx.enabled(rw.name):
            continue
        key = rw.pattern.root_key() if rw.pattern is not None else None
        (wildcard if key is None else index[key]).append(rw)
    if not index and not wildcard:
        return 0
    queue = _Queue(fgraph.toposort())
    fgraph.attach(queue)
    budget = ctx.max_rewrites_per_node * (len(fgraph.apply_nodes) + 10)
    changes = 0
    try:
        while queue.items and changes < budget:
            node = queue.pop()
            if node not in fgraph.apply_nodes:
                continue
            for rw in (*index.get(node_key(node), ()), *wildcard):
                if _try(fgraph, node, rw, ctx):
                    changes += 1
                    break
    finally:
        fgraph.detach(queue)
    if changes >= budget:
        log.warning("rewriting stopped after %d changes without reaching a fixed point", changes)
    return changes


def _try(fgraph: FunctionGraph, node: Apply, rw: LocalRewrite, ctx: RewriteContext) -> bool:
    out = node.outputs[0]
    bindings = {"out": out, "node": node, "ctx": ctx, "fgraph": fgraph}
    if rw.pattern is not None:
        bindings = rw.pattern.match(out, bindings)
        if bindings is None:
            return False
    new = rw.build(bindings)
    if new is None or new is out:
        return False
    replacements = new if isinstance(new, dict) else {out: new}
    conformed = {}
    for old, value in replacements.items():
        value = _conform(value, old, rw.name)
        if value is None:
            return False
        conformed[old] = value
    for old, value in conformed.items():
        fgraph.replace(old, value, reason=rw.name)
    ctx.fired(rw.name, node)
    return True


def _conform(new: Variable, old: Variable, name: str) -> Variable | None:
    """Cast to the old dtype when safe; refuse replacements that change rank or shape."""
    if new.dtype != old.dtype:
        if not np.can_cast(new.dtype, old.dtype, "same_kind"):
            log.warning("rewrite %s produced %s for %s; skipped", name, new.type, old.type)
            return None
        new = cast(new, old.dtype)
    try:
        check_replacement(old, new, name)
    except GraphTypeError as exc:
        log.warning("%s; skipped", exc)
        return None
    for s, t in zip(old.static_shape, new.static_shape):
        if s is not None and s != 1 and t == 1:
            log.warning("rewrite %s would lose broadcasting (%s -> %s); skipped", name, old.type, new.type)
            return None
    return new
