"""Row maps: an op that evaluates a small inner graph once per row index and stacks (or
sums) the results, plus the row-access ops its inner graphs use.

``jacobian`` needs one gradient per element of an expression whose length may be unknown
until call time, so it cannot unroll in Python: it builds the gradient of row ``i`` once,
as an inner graph of a symbolic index, and ``MapRows`` runs that graph for every ``i``.
The inner graph is run by a tiny interpreter (each node's ``perform`` in topological
order), because compiling is a later stage than ops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Constant, Op, Variable, as_tensor_variable
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error
from symgrad.graph.traversal import clone_replace, toposort
from symgrad.graph.types import TensorType, is_integer_like
from symgrad.ops.shape_of import shape_dims, static_value


def _check_index(i: Variable, op_name: str) -> Variable:
    if i.ndim != 0 or not is_integer_like(i.dtype) or i.dtype == "bool":
        raise build_error(
            GraphTypeError, op_name, f"the row index must be an integer scalar, got {i.describe()}"
        )
    return i


class FlatRow(Op):
    """Row ``i`` of ``x`` with its first ``n_axes`` axes flattened (C order): for
    ``n_axes == x.ndim`` that is the scalar ``x.flat[i]``."""

    __props__ = ("n_axes",)

    def __init__(self, n_axes: int) -> None:
        self.n_axes = n_axes

    def make_node(self, x: Any, i: Any) -> Apply:
        x, i = as_tensor_variable(x), _check_index(as_tensor_variable(i), "flat_row")
        if x.ndim < self.n_axes:
            raise build_error(GraphValueError, "flat_row", f"needs {self.n_axes} axes, got {x.describe()}")
        return Apply(self, [x, i], [TensorType(x.dtype, x.static_shape[self.n_axes :])()])

    def perform(self, node, inputs, output_storage):
        x, i = inputs
        lead = x.shape[: self.n_axes]
        n = math.prod(lead)
        if not 0 <= int(i) < n:
            raise IndexError(
                f"flat_row: row {int(i)} is out of range for {n} rows of an array of shape {x.shape} "
                f"(created at {node.location})"
            )
        output_storage[0][0] = np.array(x[np.unravel_index(int(i), lead)], dtype=x.dtype)

    def infer_shape(self, node, input_shapes):
        return [tuple(input_shapes[0][self.n_axes :])]

    def grad(self, inputs, output_grads):
        x, i = inputs
        return [ScatterFlatRow(self.n_axes)(output_grads[0], i, *shape_dims(x)), None]


class ScatterFlatRow(Op):
    """Zeros of shape ``dims`` whose flat row ``i`` (over the first ``n_axes`` axes) is
    ``g``: the adjoint of ``FlatRow``."""

    __props__ = ("n_axes",)

    def __init__(self, n_axes: int) -> None:
        self.n_axes = n_axes

    def make_node(self, g: Any, i: Any, *dims: Any) -> Apply:
        g, i = as_tensor_variable(g), _check_index(as_tensor_variable(i), "scatter_flat_row")
        dims = [as_tensor_variable(d) for d in dims]
        if len(dims) != self.n_axes + g.ndim:
            raise build_error(
                GraphValueError, "scatter_flat_row", f"needs {self.n_axes + g.ndim} dims, got {len(dims)}"
            )
        shape = [static_value(d) for d in dims]
        return Apply(self, [g, i, *dims], [TensorType(g.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        g, i, *dims = inputs
        shape = tuple(int(d) for d in dims)
        if g.shape != shape[self.n_axes :]:
            raise ShapeError(
                f"scatter_flat_row: a row of shape {g.shape} does not fit shape {shape} "
                f"(created at {node.location})"
            )
        out = np.zeros(shape, dtype=g.dtype)
        out[np.unravel_index(int(i), shape[: self.n_axes])] = g
        output_storage[0][0] = out

    def infer_shape(self, node, input_shapes):
        return [tuple(node.inputs[2:])]

    def grad(self, inputs, output_grads):
        g, i, *dims = inputs
        return [FlatRow(self.n_axes)(output_grads[0], i), None, *([None] * len(dims))]


class GraphProgram:
    """A closed graph (leaves: ``inputs`` and constants) run with each node's ``perform``."""

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.nodes = toposort(self.outputs)

    def __call__(self, values: Sequence[np.ndarray]) -> list[np.ndarray]:
        env: dict[int, Any] = {id(v): val for v, val in zip(self.inputs, values)}
        for node in self.nodes:
            args = [_value_of(v, env) for v in node.inputs]
            storage = [[None] for _ in node.outputs]
            node.op.perform(node, args, storage)
            for var, (value,) in zip(node.outputs, storage):
                env[id(var)] = np.asarray(value, dtype=var.dtype)
        return [_value_of(v, env) for v in self.outputs]


def _value_of(v: Variable, env: dict) -> np.ndarray:
    if id(v) in env:
        return env[id(v)]
    if isinstance(v, Constant):
        return v.data
    raise GraphValueError(f"map: the inner graph needs {v.describe()}, which is not one of its inputs")


def loop_invariants(index: Variable, outputs: Sequence[Variable]) -> list[Variable]:
    """The variables the index-dependent part of ``outputs`` reads from outside it (plus
    outputs that do not depend on ``index``): computed once, outside the loop."""
    dependent = {id(index)}
    invariants: dict[int, Variable] = {}
    for node in toposort(outputs, stop_at=lambda v: v is index):
        if any(id(i) in dependent for i in node.inputs):
            dependent.update(id(o) for o in node.outputs)
            for inp in node.inputs:
                if id(inp) not in dependent and not isinstance(inp, Constant):
                    invariants.setdefault(id(inp), inp)
    for out in outputs:
        if id(out) not in dependent and not isinstance(out, Constant):
            invariants.setdefault(id(out), out)
    return list(invariants.values())


class MapRows(Op):
    """Evaluates ``outputs``, a closed inner graph of the int64 scalar ``index`` and of the
    placeholders ``roots``, for ``index = 0 .. n-1`` and stacks (``reduce='stack'``) or sums
    (``'sum'``) the rows. Build it with ``MapRows.build``.

    Inputs: ``n_lead`` lead dims (their product is ``n``; stacked outputs have shape
    ``lead + row``), then the row dims of every output, then one value per root. Giving
    the row shapes as inputs keeps ``n == 0`` well defined.
    """

    __props__ = ("index", "roots", "outputs", "n_lead", "reduce")

    def __init__(
        self,
        index: Variable,
        roots: Sequence[Variable],
        outputs: Sequence[Variable],
        n_lead: int,
        reduce: str = "stack",
    ) -> None:
        if reduce not in ("stack", "sum"):
            raise GraphValueError(f"map: reduce must be 'stack' or 'sum', got {reduce!r}")
        self.index, self.roots, self.outputs = index, tuple(roots), tuple(outputs)
        self.n_lead, self.reduce = n_lead, reduce
        self._program: GraphProgram | None = None

    @classmethod
    def build(
        cls,
        index: Variable,
        outputs: Sequence[Variable],
        lead_dims: Sequence[Variable],
        row_dims: Sequence[Sequence[Variable]],
        outer: dict | None = None,
        reduce: str = "stack",
    ) -> list[Variable]:
        """Map ``outputs`` (a graph of ``index``) over the rows of ``lead_dims``.

        Loop-invariant parts are hoisted out and become the op's inputs; ``outer`` maps
        inner leaves (other than ``index``) to the outer variables they stand for.
        """
        invariants = loop_invariants(index, outputs)
        values = clone_replace(invariants, outer) if outer else invariants
        roots = [v.type(v.name) for v in invariants]
        closed = clone_replace(list(outputs), dict(zip(invariants, roots)))
        op = cls(index, roots, closed, len(lead_dims), reduce)
        flat_rows = [d for dims in row_dims for d in dims]
        node = op.make_node(*lead_dims, *flat_rows, *values)
        return list(node.outputs)

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{self.reduce}, {len(self.outputs)} outputs}}"

    __repr__ = __str__

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_program": None}

    def n_dims(self) -> int:
        return self.n_lead + sum(o.ndim for o in self.outputs)

    def make_node(self, *inputs: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in inputs]
        if len(inputs) != self.n_dims() + len(self.roots):
            raise build_error(
                GraphValueError, "map", f"expects {self.n_dims() + len(self.roots)} inputs, got {len(inputs)}"
            )
        dims, values = inputs[: self.n_dims()], inputs[self.n_dims() :]
        for root, value in zip(self.roots, values):
            if value.ndim != root.ndim or value.dtype != root.dtype:
                raise build_error(
                    GraphTypeError, "map", f"{value.describe()} cannot stand for {root.describe()}"
                )
        static = [static_value(d) for d in dims]
        lead = static[: self.n_lead] if self.reduce == "stack" else []
        outs = [TensorType(o.dtype, [*lead, *row])() for o, row in zip(self.outputs, self._rows(static))]
        return Apply(self, [*dims, *values], outs)

    def _rows(self, dims: Sequence[Any]) -> list[list]:
        rows, start = [], self.n_lead
        for out in self.outputs:
            rows.append(list(dims[start : start + out.ndim]))
            start += out.ndim
        return rows

    def perform(self, node, inputs, output_storage):
        dims = [int(d) for d in inputs[: self.n_dims()]]
        values = list(inputs[self.n_dims() :])
        lead, rows = tuple(dims[: self.n_lead]), [tuple(r) for r in self._rows(dims)]
        n = math.prod(lead)
        stack = self.reduce == "stack"
        results = [np.zeros((n if stack else 1, *r), dtype=o.dtype) for o, r in zip(self.outputs, rows)]
        program = self._compiled()
        for i in range(n):
            for k, value in enumerate(program([np.array(i, dtype=self.index.dtype), *values])):
                _check_row(value, rows[k], node)
                results[k][i if stack else 0] += value
        for k, (res, row) in enumerate(zip(results, rows)):
            output_storage[k][0] = res.reshape(lead + row) if stack else res[0]

    def _compiled(self) -> GraphProgram:
        if self._program is None:
            self._program = GraphProgram([self.index, *self.roots], self.outputs)
        return self._program

    def infer_shape(self, node, input_shapes):
        dims = node.inputs[: self.n_dims()]
        lead = list(dims[: self.n_lead]) if self.reduce == "stack" else []
        return [tuple(lead + row) for row in self._rows(dims)]

    def L_op(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            f"{self}: this map has no gradient rule (sg.jacobian builds a differentiable one)"
        )


def _check_row(value: np.ndarray, row: tuple, node: Apply) -> None:
    if value.shape != row:
        raise ShapeError(
            f"map: a row of shape {value.shape} was computed where shape {row} was expected "
            f"(created at {node.location})"
        )
