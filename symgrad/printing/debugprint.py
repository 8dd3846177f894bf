"""``sg.debugprint``: a graph as an indented text tree, one variable a line (Theano's shape).

Each line shows what computes the variable (its op with props, or Input / Shared / Constant
for roots), a short id, the type and the name. A node reached a second time is shown by its
id with ``...`` and not expanded again, so shared subgraphs print once. The walk uses an
explicit stack: graphs tens of thousands of nodes deep print without recursion.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from symgrad.compile.function import Function
from symgrad.graph.basic import Constant, SharedVariable, Variable
from symgrad.graph.errors import GraphTypeError

# Deeper than this, the ``|`` bars are replaced by the depth number so lines stay short.
MAX_BARS = 40


def debugprint(obj: Any, file: TextIO | None = None) -> str:
    """Print the graph of a variable, a list of them or a compiled function; return the text."""
    text = "\n".join(TreePrinter().lines(obj))
    print(text, file=sys.stdout if file is None else file)
    return text


def graph_parts(obj: Any) -> tuple[list[Variable], list[tuple[Variable, Variable]]]:
    """The variables to show for ``obj`` and the (shared, update expression) pairs."""
    if isinstance(obj, Function):
        n_out = len(obj.outputs)
        computed = obj.maker_outputs
        return list(computed[:n_out]), [(s, e) for (s, _), e in zip(obj.updates, computed[n_out:])]
    if isinstance(obj, Variable):
        return [obj], []
    if isinstance(obj, (list, tuple)):
        outputs: list[Variable] = []
        updates: list[tuple[Variable, Variable]] = []
        for item in obj:
            more_outputs, more_updates = graph_parts(item)
            outputs += more_outputs
            updates += more_updates
        return outputs, updates
    raise GraphTypeError(
        f"expected a symbolic variable, a list of them or a compiled function, got {type(obj).__name__}"
    )


def short_id(k: int) -> str:
    """A, B, ..., Z, AA, AB, ...: Theano's ids, short enough to read and search for."""
    letters = ""
    k += 1
    while k:
        k, rest = divmod(k - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def constant_text(data: np.ndarray) -> str:
    if data.size <= 4:
        return repr(data.tolist())
    return f"array of shape {data.shape}"


def head_of(var: Variable) -> str:
    """What makes the variable: its op (``op.k`` for one of several outputs) or its kind."""
    if var.owner is not None:
        suffix = f".{var.index}" if len(var.owner.outputs) > 1 else ""
        return f"{var.owner.op}{suffix}"
    if isinstance(var, Constant):
        return f"Constant{{{constant_text(var.data)}}}"
    if isinstance(var, SharedVariable):
        return "Shared"
    return "Input"


def indent(depth: int) -> str:
    if depth <= MAX_BARS:
        return " |" * depth
    return f" [depth {depth}]|"


class TreePrinter:
    """Prints trees that share one id table, so a node seen in an earlier tree is not repeated."""

    def __init__(self) -> None:
        self.ids: dict[int, str] = {}
        self.python_nodes: set[int] = set()  # mode 'c': nodes that run their NumPy perform
        self.view_nodes: set[int] = set()  # mode 'c': view ops, run as NumPy views

    def ident(self, var: Variable) -> tuple[str, bool]:
        """The id of the variable's node (or of the root variable) and whether it is new."""
        key = id(var.owner) if var.owner is not None else id(var)
        known = key in self.ids
        if not known:
            self.ids[key] = short_id(len(self.ids))
        return self.ids[key], not known

    def describe(self, var: Variable) -> tuple[str, bool]:
        ident, new = self.ident(var)
        name = f" {var.name!r}" if var.name else ""
        mark = ""
        if var.owner is not None:
            mark = (
                " [python]"
                if id(var.owner) in self.python_nodes
                else " [view]"
                if id(var.owner) in self.view_nodes
                else ""
            )
        return f"{head_of(var)} [id {ident}] {var.type}{name}{mark}", new

    def lines(self, obj: Any) -> list[str]:
        outputs, updates = graph_parts(obj)
        if not isinstance(obj, Function):
            return self.trees(outputs) + self.update_trees(updates)
        if obj.mode == "c":
            self.python_nodes |= {id(node) for node in getattr(obj.vm, "python_nodes", ())}
            self.view_nodes |= {id(node) for node in getattr(obj.vm, "view_nodes", ())}
        header = [f"{_function_label(obj)} (inputs: {', '.join(map(_input_label, obj.inputs))})", "outputs:"]
        if updates:
            return header + self.trees(outputs) + ["updates:"] + self.update_trees(updates)
        return header + self.trees(outputs)

    def trees(self, outputs: list[Variable]) -> list[str]:
        lines: list[str] = []
        for var in outputs:
            self.tree(var, lines)
        return lines

    def update_trees(self, updates: list[tuple[Variable, Variable]]) -> list[str]:
        lines: list[str] = []
        for shared, expr in updates:
            self.tree(expr, lines, first_prefix=self.describe(shared)[0] + " <- ")
        return lines

    def tree(self, root: Variable, lines: list[str], first_prefix: str = "") -> None:
        stack: list[tuple[Variable, int]] = [(root, 0)]
        while stack:
            var, depth = stack.pop()
            text, new = self.describe(var)
            expand = new and var.owner is not None
            repeat = " ..." if var.owner is not None and not new else ""
            prefix = first_prefix if depth == 0 else indent(depth)
            lines.append(f"{prefix}{text}{repeat}")
            if expand:
                stack.extend((inp, depth + 1) for inp in reversed(var.owner.inputs))


def _function_label(fn: Function) -> str:
    return f"function {fn.name!r}" if fn.name else "function"


def _input_label(var: Variable) -> str:
    return var.name or str(var.type)
