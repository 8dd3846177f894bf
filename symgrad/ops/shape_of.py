"""Symbolic shapes: ``x.shape`` (Shape), one dimension (ShapeI), and a vector of scalars
(MakeVector). Shape arguments everywhere in symgrad are lists of int64 scalar variables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Constant, Op, Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error
from symgrad.graph.types import TensorType, is_integer_like


class Shape(Op):
    """``x.shape`` as an int64 vector of static length ``x.ndim``."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0].shape, dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [(make_constant(node.inputs[0].ndim, dtype="int64"),)]

    def grad(self, inputs, output_grads):
        return [None]


class ShapeI(Op):
    """``x.shape[i]`` as an int64 scalar."""

    __props__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise build_error(GraphValueError, "shape", f"axis {self.i} is out of range for {x.ndim}-d input")
        return Apply(self, [x], [TensorType("int64", ())()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0].shape[self.i], dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [()]

    def grad(self, inputs, output_grads):
        return [None]


class MakeVector(Op):
    """A vector from scalars of one dtype."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str = "int64") -> None:
        self.dtype = dtype

    def make_node(self, *scalars: Any) -> Apply:
        scalars = [as_tensor_variable(s) for s in scalars]
        for s in scalars:
            if s.ndim != 0:
                raise build_error(
                    GraphTypeError, "MakeVector", f"elements must be scalars, got {s.describe()}"
                )
            if is_integer_like(self.dtype) and not is_integer_like(s.dtype):
                raise build_error(
                    GraphTypeError, "MakeVector", f"elements must be integers, got {s.describe()}"
                )
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars),))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array([np.asarray(v).item() for v in inputs], dtype=self.dtype)

    def infer_shape(self, node, input_shapes):
        return [(make_constant(len(node.inputs), dtype="int64"),)]

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)


shape = Shape()


def shape_dims(x: Variable) -> list[Variable]:
    """``x``'s shape as int64 scalars: constants where the static shape knows them."""
    return [
        make_constant(s, dtype="int64") if s is not None else ShapeI(i)(x)
        for i, s in enumerate(x.static_shape)
    ]


def as_shape_list(shp: Any, op_name: str = "shape") -> list[Variable]:
    """Normalize a user's shape argument (ints, symbolic scalars, ``x.shape``, a tuple of
    those) to a list of int64 scalar variables."""
    if isinstance(shp, Variable) and shp.ndim == 1:
        owner = shp.owner
        if owner is not None and isinstance(owner.op, Shape):
            return shape_dims(owner.inputs[0])
        if owner is not None and isinstance(owner.op, MakeVector):
            return list(owner.inputs)
        if isinstance(shp, Constant):
            return [make_constant(int(v), dtype="int64") for v in shp.data]
        length = shp.static_shape[0]
        if length is None:
            raise build_error(GraphValueError, op_name, "a shape vector must have a static length")
        return [vector_element(shp, i, length) for i in range(length)]
    if isinstance(shp, (int, np.integer, Variable)):
        shp = (shp,)
    if isinstance(shp, np.ndarray):
        shp = shp.tolist()
    out = []
    for entry in shp:
        v = as_tensor_variable(entry)
        if v.ndim != 0 or not is_integer_like(v.dtype):
            raise build_error(
                GraphTypeError, op_name, f"shape entries must be integer scalars, got {v.describe()}"
            )
        out.append(make_constant(int(v.data), dtype="int64") if isinstance(v, Constant) else v)
    return out


def static_value(v: Variable) -> int | None:
    """The Python int a scalar variable is known to hold at build time, else None."""
    if isinstance(v, Constant) and v.ndim == 0:
        return int(v.data)
    node = v.owner
    if node is not None and isinstance(node.op, ShapeI):
        return node.inputs[0].static_shape[node.op.i]
    return None


class VectorElement(Op):
    """Element ``i`` (a static index) of a vector; used to split a symbolic shape vector.

    With ``length`` set, the vector must have exactly that many entries at run time (so a
    shape vector that is longer than the caller assumed is an error, not ignored).
    """

    __props__ = ("i", "length")

    def __init__(self, i: int, length: int | None = None) -> None:
        self.i = i
        self.length = length

    def make_node(self, v: Any) -> Apply:
        v = as_tensor_variable(v)
        if v.ndim != 1:
            raise build_error(GraphTypeError, "vector_element", f"expects a vector, got {v.describe()}")
        return Apply(self, [v], [TensorType(v.dtype, ())()])

    def perform(self, node, inputs, output_storage):
        (v,) = inputs
        if (self.length is not None and len(v) != self.length) or not -len(v) <= self.i < len(v):
            expected = f"{self.length} entries" if self.length is not None else f"more than {self.i} entries"
            raise ShapeError(
                f"vector_element: a shape vector of length {len(v)} was given where {expected} "
                f"are needed (created at {node.location})"
            )
        output_storage[0][0] = np.array(v[self.i])

    def grad(self, inputs, output_grads):
        return [None]


def vector_element(v: Variable, i: int, length: int | None = None) -> Variable:
    return VectorElement(i, length)(v)


def make_vector(scalars: Sequence[Any], dtype: str = "int64") -> Variable:
    return MakeVector(dtype)(*scalars)
