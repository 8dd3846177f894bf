"""The rewrite registry: every rewrite is named, belongs to one phase, and says how it is
proven (``proof``): ``"auto"`` (an elementwise identity SymPy checks from the pattern and the
replacement), a callable returning a (lhs, rhs) pair of SymPy expressions, or a sentence
starting with ``"structural:"`` for rewrites that do not change any value's formula (merging,
fusion, in-place marks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from symgrad.rewrite.pattern import Bindings, Pattern

PHASES = ("canonicalize", "stabilize", "specialize", "fuse", "memory")


@dataclass(eq=False)
class LocalRewrite:
    """``pattern`` (or any node when None) -> ``build(bindings)``; None declines."""

    name: str
    phase: str
    pattern: Pattern | None
    build: Callable[[Bindings], Any]
    proof: Any = "auto"
    doc: str = ""
    # Example values for the pattern's variables used by the SymPy proof (name -> sympy expr).
    proof_bindings: dict = field(default_factory=dict)


@dataclass(eq=False)
class GlobalRewrite:
    """A pass over the whole graph: ``apply(fgraph, context) -> number of changes``."""

    name: str
    phase: str
    apply: Callable[..., int]
    proof: Any = "structural"
    doc: str = ""


REWRITES: dict[str, LocalRewrite | GlobalRewrite] = {}


def register(rewrite: LocalRewrite | GlobalRewrite) -> LocalRewrite | GlobalRewrite:
    if rewrite.phase not in PHASES:
        raise ValueError(f"rewrite {rewrite.name!r}: unknown phase {rewrite.phase!r}")
    if rewrite.name in REWRITES:
        raise ValueError(f"a rewrite named {rewrite.name!r} is already registered")
    REWRITES[rewrite.name] = rewrite
    return rewrite


def local_rewrite(name: str, phase: str, pattern: Pattern | None, *, proof: Any = "auto", **kw: Any):
    """Decorator: register ``build(bindings) -> Variable | None`` as a local rewrite."""

    def decorate(build: Callable[[Bindings], Any]) -> Callable[[Bindings], Any]:
        register(
            LocalRewrite(name, phase, pattern, build, proof=proof, doc=(build.__doc__ or "").strip(), **kw)
        )
        return build

    return decorate


def global_rewrite(name: str, phase: str, *, proof: str = "structural"):
    """Decorator: register ``apply(fgraph, context) -> int`` as a whole-graph pass."""

    def decorate(apply: Callable[..., int]) -> Callable[..., int]:
        register(GlobalRewrite(name, phase, apply, proof=proof, doc=(apply.__doc__ or "").strip()))
        return apply

    return decorate
