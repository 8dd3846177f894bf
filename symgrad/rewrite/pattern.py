"""A small declarative pattern language for local rewrites.

    x, y = V("x"), V("y")
    E.log(E.add(1, x))            # log(1 + x), either argument order (add is commutative)
    N(Reduce, E.exp(x), kind="sum")   # a Reduce node with kind == "sum" whose input is exp(x)

``V`` binds any variable (a name used twice must bind the same variable), a Python number
matches a constant whose every element equals it, ``C(name)`` binds any constant. ``E.<op>``
matches an elementwise node of that scalar op; ``N(OpClass, ...)`` matches any other op,
optionally with required ``__props__`` values. ``bind=`` names the matched output too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.graph.basic import Constant, Variable
from symgrad.ops.elemwise import Elemwise

Bindings = dict[str, Any]


class Pattern:
    """Matches a variable, extending ``bindings``; returns the new bindings or None."""

    def match(self, var: Variable, bindings: Bindings) -> Bindings | None:
        raise NotImplementedError

    def root_key(self) -> Any:
        """The index key of the node this pattern's root must be (None: any node)."""
        return None

    def __repr__(self) -> str:
        return type(self).__name__


class V(Pattern):
    """Any variable, bound to ``name``; ``guard(var)`` may restrict it."""

    def __init__(self, name: str, guard: Callable[[Variable], bool] | None = None) -> None:
        self.name, self.guard = name, guard

    def match(self, var, bindings):
        if self.name in bindings:
            return bindings if bindings[self.name] is var else None
        if self.guard is not None and not self.guard(var):
            return None
        return {**bindings, self.name: var}

    def __repr__(self) -> str:
        return self.name


class C(Pattern):
    """A constant, bound to ``name``; with ``value``, every element must equal it."""

    def __init__(self, name: str | None = None, value: float | None = None) -> None:
        self.name, self.value = name, value

    def match(self, var, bindings):
        if not isinstance(var, Constant):
            return None
        if self.value is not None and not constant_equals(var, self.value):
            return None
        if self.name is None:
            return bindings
        if self.name in bindings:
            return bindings if bindings[self.name] is var else None
        return {**bindings, self.name: var}

    def __repr__(self) -> str:
        return repr(self.value) if self.value is not None else f"C({self.name})"


def constant_equals(var: Constant, value: float) -> bool:
    data = var.data
    if data.size == 0:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(data == value))


class OpPattern(Pattern):
    """A node whose op matches ``key`` (and ``props``), with argument patterns."""

    def __init__(
        self,
        key: Any,
        args: tuple,
        props: dict | None = None,
        bind: str | None = None,
        commutative: bool = False,
    ) -> None:
        self.key = key
        self.args = tuple(as_pattern(a) for a in args)
        self.props = props or {}
        self.bind = bind
        self.commutative = commutative

    def root_key(self):
        return self.key

    def match(self, var, bindings):
        node = var.owner
        if node is None or node_key(node) != self.key or len(node.inputs) != len(self.args):
            return None
        if any(getattr(node.op, k, _MISSING) != v for k, v in self.props.items()):
            return None
        if self.bind is not None:
            bindings = {**bindings, self.bind: var}
        orders = itertools.permutations(node.inputs) if self.commutative else (node.inputs,)
        for inputs in orders:
            result = _match_all(self.args, inputs, bindings)
            if result is not None:
                return result
        return None

    def __repr__(self) -> str:
        name = self.key[1] if isinstance(self.key, tuple) else getattr(self.key, "__name__", self.key)
        return f"{name}({', '.join(map(repr, self.args))})"


_MISSING = object()


def _match_all(patterns: tuple, inputs, bindings: Bindings) -> Bindings | None:
    for p, v in zip(patterns, inputs):
        bindings = p.match(v, bindings)
        if bindings is None:
            return None
    return bindings


def as_pattern(x: Any) -> Pattern:
    if isinstance(x, Pattern):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return C(value=x)
    raise TypeError(f"cannot use {x!r} in a pattern")


def node_key(node) -> Any:
    """Index key of a node: ('elemwise', scalar op name) or the op's class."""
    if isinstance(node.op, Elemwise):
        return ("elemwise", node.op.scalar_op.name)
    return type(node.op)


class _ElemwiseNamespace:
    """``E.exp(x)``: a pattern for the elementwise op ``exp``."""

    _COMMUTATIVE = {"add", "mul", "maximum", "minimum", "eq", "neq", "logical_and", "logical_or"}

    def __getattr__(self, name: str) -> Callable[..., OpPattern]:
        def make(*args: Any, bind: str | None = None) -> OpPattern:
            return OpPattern(("elemwise", name), args, bind=bind, commutative=name in self._COMMUTATIVE)

        return make


E = _ElemwiseNamespace()


def N(op_class: type, *args: Any, bind: str | None = None, **props: Any) -> OpPattern:
    """A pattern for a non-elementwise op class with required property values."""
    return OpPattern(op_class, args, props=props, bind=bind)
