"""``sg.to_dot`` and ``sg.render_graph``: the graph as a Graphviz picture.

Apply nodes are boxes labelled with their op; variables are ellipses labelled with their
name and type (inputs green, shared variables blue, constants grey, outputs orange). An edge
into a box is labelled with the input position; an update is a dashed edge from the new
value to the shared variable. Only the text is made here; drawing needs Graphviz's ``dot``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from symgrad.graph.basic import Constant, SharedVariable, Variable
from symgrad.graph.errors import GraphValueError
from symgrad.graph.traversal import toposort
from symgrad.printing.debugprint import constant_text, graph_parts

RENDER_FORMATS = ("svg", "png", "pdf")
_FILL = {"input": "palegreen", "shared": "lightblue", "constant": "lightgrey", "output": "orange"}


def to_dot(obj: Any) -> str:
    """Graphviz DOT text for a variable, a list of variables or a compiled function."""
    outputs, updates = graph_parts(obj)
    writer = _DotWriter({id(v) for v in outputs})
    for node in toposort(outputs + [expr for _, expr in updates]):
        writer.add_node(node)
    for var in outputs:
        writer.variable(var)
    for shared, expr in updates:
        writer.lines.append(
            f'  {writer.variable(expr)} -> {writer.variable(shared)} [label="update", style=dashed];'
        )
    return "\n".join(["digraph symgrad {", '  node [fontname="Helvetica"];', *writer.lines, "}"]) + "\n"


def render_graph(obj: Any, path: str | os.PathLike, format: str | None = None) -> str:
    """Draw the graph into ``path`` (SVG, PNG or PDF, from the extension unless ``format``)."""
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt not in RENDER_FORMATS:
        raise GraphValueError(f"render_graph: cannot write {fmt!r} files; use one of {RENDER_FORMATS}")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "render_graph needs Graphviz, which is missing (no `dot` executable on PATH). Install it "
            "(e.g. `apt install graphviz`, `brew install graphviz` or `conda install graphviz`), or "
            "save sg.to_dot(...) to a .dot file and render it elsewhere"
        )
    done = subprocess.run([dot, f"-T{fmt}", "-o", path], input=to_dot(obj), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz `dot` failed (exit {done.returncode}): {done.stderr.strip()}")
    return path


class _DotWriter:
    """Numbers the nodes and variables as they are met and writes one DOT line per item."""

    def __init__(self, output_ids: set[int]) -> None:
        self.output_ids = output_ids
        self.names: dict[int, str] = {}
        self.lines: list[str] = []

    def variable(self, var: Variable) -> str:
        name = self.names.get(id(var))
        if name is None:
            name = self.names[id(var)] = f"v{len(self.names)}"
            role = _role(var, id(var) in self.output_ids)
            fill = f', style=filled, fillcolor="{_FILL[role]}"' if role in _FILL else ""
            self.lines.append(f'  {name} [shape=ellipse, label="{_escape(_variable_label(var))}"{fill}];')
        return name

    def add_node(self, node: Any) -> None:
        name = f"n{len(self.names)}"
        self.names[id(node)] = name
        self.lines.append(f'  {name} [shape=box, label="{_escape(str(node.op))}"];')
        for position, inp in enumerate(node.inputs):
            self.lines.append(f'  {self.variable(inp)} -> {name} [label="{position}"];')
        several = len(node.outputs) > 1
        for index, out in enumerate(node.outputs):
            label = f' [label="{index}"]' if several else ""
            self.lines.append(f"  {name} -> {self.variable(out)}{label};")


def _role(var: Variable, is_output: bool) -> str:
    if is_output:
        return "output"
    if isinstance(var, Constant):
        return "constant"
    if isinstance(var, SharedVariable):
        return "shared"
    return "input" if var.owner is None else "intermediate"


def _variable_label(var: Variable) -> str:
    parts = [var.name] if var.name else []
    if isinstance(var, Constant) and not var.name:
        parts.append(constant_text(var.data))
    parts.append(str(var.type))
    return "\n".join(parts)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
