"""The NumPy reference VM (mode 'py'): runs each node's ``perform`` in topological order.

It is the executable specification every faster backend is tested against, so it favours
plain, checked code; it still precomputes its schedule so per-call overhead stays small.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from symgrad.graph.basic import Constant, Variable
from symgrad.graph.errors import GraphTypeError, GraphValueError, SymgradError
from symgrad.graph.traversal import toposort

_RETYPABLE = (ValueError, TypeError, IndexError, ZeroDivisionError)


@dataclass
class Schedule:
    """Where every value of a graph lives (cells) and the nodes in the order they run.

    ``program`` holds ``(node, input cells, output cells, cells to free after it)``; every VM
    starts from one.
    """

    nodes: list
    root_cells: list[int]
    constants: list[tuple[int, Constant]]
    program: list[tuple]
    output_cells: list[int]
    n_cells: int


def schedule(roots: Sequence[Variable], outputs: Sequence[Variable]) -> Schedule:
    nodes = toposort(outputs)
    cells: dict[int, int] = {}

    def cell(v: Variable) -> int:
        return cells.setdefault(id(v), len(cells))

    root_cells = [cell(v) for v in roots]
    constants = [v for n in nodes for v in n.inputs if isinstance(v, Constant)]
    constants += [v for v in outputs if isinstance(v, Constant)]
    constant_cells = [(cell(v), v) for v in constants]
    program = [(node, [cell(v) for v in node.inputs], [cell(v) for v in node.outputs]) for node in nodes]
    output_cells = [cell(v) for v in outputs]
    program = with_frees(program, set(output_cells) | set(root_cells))
    return Schedule(nodes, root_cells, constant_cells, program, output_cells, len(cells))


class PyVM:
    """Runs a ``Schedule`` with each node's ``perform``."""

    def __init__(self, roots: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        plan = schedule(roots, outputs)
        self.root_cells = plan.root_cells
        self.constants = [(c, v.data) for c, v in plan.constants]
        self.output_cells = plan.output_cells
        self.n_cells = plan.n_cells
        self.program = plan.program
        self.nodes = plan.nodes
        self.node_times = [0.0] * len(plan.nodes)
        self.node_calls = 0

    def run(self, root_values: Sequence[np.ndarray], profile: bool = False) -> list[np.ndarray]:
        values: list = [None] * self.n_cells
        for c, data in self.constants:
            values[c] = data
        for c, v in zip(self.root_cells, root_values):
            values[c] = v
        for k, (node, ins, outs, frees) in enumerate(self.program):
            start = time.perf_counter() if profile else 0.0
            results = perform(node, [values[i] for i in ins])
            if profile:
                self.node_times[k] += time.perf_counter() - start
            for out, c in zip(results, outs):
                values[c] = out
            for c in frees:
                values[c] = None
        if profile:
            self.node_calls += 1
        return [values[c] for c in self.output_cells]


def perform(node, args: list) -> list[np.ndarray]:
    """Run ``node``'s NumPy implementation: checked results, or the error with its context."""
    storage = [[None] for _ in node.outputs]
    try:
        node.op.perform(node, args, storage)
    except SymgradError:
        raise
    except Exception as exc:
        raise with_context(exc, node, args) from exc
    return [checked_output(out, var, node) for (out,), var in zip(storage, node.outputs)]


def with_frees(program: list, keep: set[int]) -> list:
    """Attach to each step the cells last read there, so intermediates are released early."""
    last_use: dict[int, int] = {}
    for step, (_, ins, _) in enumerate(program):
        for c in ins:
            last_use[c] = step
    frees: list[list[int]] = [[] for _ in program]
    for c, step in last_use.items():
        if c not in keep:
            frees[step].append(c)
    return [(node, ins, outs, frees[k]) for k, (node, ins, outs) in enumerate(program)]


def checked_output(out, var: Variable, node) -> np.ndarray:
    """A perform result must match the node's declared dtype and rank (user ops included)."""
    if type(out) is not np.ndarray:
        if out is None:
            raise GraphValueError(
                f"{node.op}: perform left output {var.index} unset (created at {node.location})"
            )
        out = np.asarray(out)
    if (out.dtype is not var.type.numpy_dtype and out.dtype.name != var.dtype) or out.ndim != var.ndim:
        raise GraphTypeError(
            f"{node.op}: perform returned a {out.dtype} array of shape {out.shape} for output "
            f"{var.index}, declared {var.type} (created at {node.location})"
        )
    return out


def with_context(exc: Exception, node, args: list) -> Exception:
    """The same kind of error, naming the op, the input shapes and the user's line."""
    shapes = ", ".join(f"{np.shape(a)} {getattr(a, 'dtype', type(a).__name__)}" for a in args)
    message = f"{node.op} (created at {node.location}) failed on inputs [{shapes}]: {exc}"
    if isinstance(exc, _RETYPABLE):
        base = next(cls for cls in _RETYPABLE if isinstance(exc, cls))
        try:
            return type(exc)(message)
        except Exception:
            return (GraphTypeError if base is TypeError else GraphValueError)(message)
    exc.add_note(message)
    return exc
