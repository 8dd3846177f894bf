"""The rewrite pipeline: the one place that says which rewrites run, and in which order.

Each phase is a list of steps: the name of a whole-graph pass, or ``LOCAL`` for all the
phase's local rewrites, applied together to a fixed point.
"""

from __future__ import annotations

from collections.abc import Iterable

from symgrad.graph.fgraph import FunctionGraph
from symgrad.graph.gcpause import gc_paused
from symgrad.rewrite import basic, canonicalize, fusion, memory, specialize, stabilize  # noqa: F401 (registers rewrites)
from symgrad.rewrite.engine import RewriteContext, apply_local_rewrites
from symgrad.rewrite.registry import PHASES, REWRITES, GlobalRewrite, LocalRewrite

LOCAL = "<local rewrites>"

PIPELINE: list[tuple[str, list[str]]] = [
    ("canonicalize", ["merge", LOCAL, "merge"]),
    ("stabilize", [LOCAL]),
    ("specialize", [LOCAL, "merge"]),
    ("fuse", [LOCAL, "elemwise_fusion", "reduce_fusion"]),
    ("memory", [LOCAL, "inplace"]),
]
assert [phase for phase, _ in PIPELINE] == list(PHASES)


def rewrite_graph(fgraph: FunctionGraph, exclude: Iterable[str] = ()) -> RewriteContext:
    """Run the whole pipeline on ``fgraph`` in place; returns what fired."""
    exclude = frozenset(exclude)
    unknown = exclude - set(REWRITES) - {"all"}
    if unknown:
        raise ValueError(f"exclude names unknown rewrites: {sorted(unknown)}; see docs/rewrites.md")
    ctx = RewriteContext(exclude=exclude)
    if "all" in exclude:
        return ctx
    with gc_paused():
        for phase, steps in PIPELINE:
            local = [r for r in REWRITES.values() if isinstance(r, LocalRewrite) and r.phase == phase]
            for step in steps:
                if step == LOCAL:
                    apply_local_rewrites(fgraph, local, ctx)
                    continue
                rewrite = REWRITES[step]
                assert isinstance(rewrite, GlobalRewrite) and rewrite.phase in (phase, PHASES[0])
                if ctx.enabled(step):
                    rewrite.apply(fgraph, ctx)
    return ctx
