"""Variables, constants, shared variables, apply nodes and the Op base class.

The graph is Theano-shaped and mutable only through a FunctionGraph (see
docs/architecture.md for why): a Variable is an edge, an Apply is a node that applies an Op
to input variables and owns its output variables.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.config import config
from symgrad.graph.errors import GraphTypeError, GraphValueError
from symgrad.graph.serialize import reduce_variable
from symgrad.graph.source_info import SourceLocation, user_location
from symgrad.graph.types import TensorType, format_static_shape, normalize_dtype

_ids = itertools.count()


class Variable:
    """A symbolic value: the ``index``-th output of ``owner`` (None for graph inputs)."""

    def __init__(
        self,
        type: TensorType,
        owner: Apply | None = None,
        index: int | None = None,
        name: str | None = None,
    ) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.id = next(_ids)

    dtype = property(lambda self: self.type.dtype)
    ndim = property(lambda self: self.type.ndim)
    broadcastable = property(lambda self: self.type.broadcastable)
    static_shape = property(lambda self: self.type.shape)

    def __repr__(self) -> str:
        return self.name or (f"{self.owner.op}.{self.index}" if self.owner is not None else f"<{self.type}>")

    __str__ = __repr__

    def describe(self) -> str:
        """Name (or op) plus type, for error messages."""
        label = self.name or (str(self.owner.op) if self.owner is not None else "variable")
        return f"{label} ({self.dtype}, shape {format_static_shape(self.static_shape)})"

    def __reduce__(self):
        return reduce_variable(self)

    def clone(self, name: str | None = None) -> Variable:
        """A new root variable of the same type (the owner is not copied)."""
        return type(self)(self.type, name=self.name if name is None else name)


class Constant(Variable):
    """A fixed value. ``weak`` marks a plain Python number, which adapts its dtype to the
    tensors it meets (NumPy 2's rule: ``float32_x * 2.0`` stays float32)."""

    def __init__(self, type: TensorType, data: np.ndarray, name: str | None = None, weak: bool = False):
        super().__init__(type, name=name)
        data = np.array(data, dtype=type.dtype, copy=True)
        data.setflags(write=False)
        self.data = data
        self.weak = weak

    def __repr__(self) -> str:
        if self.name:
            return self.name
        if self.data.size <= 4:
            return np.array2string(self.data, separator=",").replace("\n", "")
        return f"Constant{{{self.type}}}"

    __str__ = __repr__

    def signature(self) -> tuple:
        """Hashable identity of the value, for merging equal constants."""
        return (self.type, self.weak, self.data.tobytes())

    def __reduce__(self):
        return (_rebuild_constant, (type(self), self.type, self.data, self.name, self.weak))

    def clone(self, name: str | None = None) -> Constant:
        return type(self)(self.type, self.data, name=self.name if name is None else name, weak=self.weak)


def _rebuild_constant(cls, type_, data, name, weak):
    return cls(type_, data, name=name, weak=weak)


class SharedVariable(Variable):
    """A graph input that holds its own value across calls (``sg.shared``)."""

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None) -> None:
        super().__init__(type, name=name)
        self._value = type.filter(np.array(value, copy=True), name=self._label())

    def _label(self) -> str:
        return f"shared variable {self.name!r}" if self.name else "shared variable"

    def get_value(self, borrow: bool = False) -> np.ndarray:
        return self._value if borrow else self._value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        arr = self.type.filter(value, name=self._label())
        if not borrow and arr is value:
            arr = arr.copy()
        self._value = arr

    def __reduce__(self):
        return (_rebuild_shared, (type(self), self.type, self._value, self.name))

    def clone(self, name: str | None = None) -> Variable:
        raise GraphTypeError(f"{self._label()} cannot be cloned: its value is shared state")


def _rebuild_shared(cls, type_, value, name):
    return cls(type_, value, name=name)


class Apply:
    """One application of ``op`` to ``inputs``; records the user's file:line."""

    __slots__ = ("op", "inputs", "outputs", "location", "tag")

    def __init__(
        self,
        op: Op,
        inputs: Sequence[Variable],
        outputs: Sequence[Variable],
        location: SourceLocation | None = None,
    ) -> None:
        for v in inputs:
            if not isinstance(v, Variable):
                raise GraphTypeError(f"{op}: Apply inputs must be Variables, got {type(v).__name__}")
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.location = location or user_location()
        self.tag: dict[str, Any] = {}
        for i, out in enumerate(self.outputs):
            if out.owner is not None and out.owner is not self:
                raise GraphValueError(f"{op}: output {i} already belongs to another node")
            out.owner, out.index = self, i

    @property
    def out(self) -> Variable:
        (only,) = self.outputs
        return only

    @property
    def nin(self) -> int:
        return len(self.inputs)

    def rebuild(self, new_inputs: Sequence[Variable]) -> Apply:
        """The same op applied to new inputs, keeping this node's source location."""
        node = self.op.make_node(*new_inputs)
        node.location = self.location
        return node

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(map(str, self.inputs))})"


class Op:
    """Base class of every operation, built-in or user-defined (Theano's shape).

    ``__props__`` names the attributes that define equality and hashing. Subclasses
    implement ``make_node`` (type rule and input validation), ``perform`` (NumPy), and
    optionally ``grad``/``L_op`` (symbolic gradient) and ``infer_shape``.

    Optional C for mode 'c' (docs/custom_ops.md; none defined here, so an op without them runs
    its ``perform``): ``c_code(node, name, inputs, outputs, sub)`` with ``c_shape_code(node,
    name, inputs, output_shapes, sub)`` or ``c_same_shape = True``, plus ``c_support_code(node,
    name)``, ``c_headers()``, ``c_header_dirs()``, ``c_compile_args()``, ``c_libraries()``,
    ``c_lib_dirs()``, ``c_code_cache_version()``; or ``c_template`` (a file with sections
    ``support``, ``shape``, ``run``) and ``c_template_vars(node, name)``.
    """

    __props__: tuple[str, ...] = ()

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._props() == other._props()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        name = type(self).__name__
        if not self.__props__:
            return name
        return f"{name}{{{', '.join(f'{p}={getattr(self, p)!r}' for p in self.__props__)}}}"

    __repr__ = __str__

    def __call__(self, *inputs: Any, **kwargs: Any):
        node = self.make_node(*inputs, **kwargs)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError(f"{type(self).__name__} must implement make_node")

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list[list]) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no NumPy implementation (perform)")

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError(f"{self} has no gradient")

    def L_op(self, inputs, outputs, output_grads) -> list[Variable | None]:
        """Gradient with access to the forward outputs; defaults to ``grad``."""
        return self.grad(inputs, output_grads)

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple] | None:
        """Output shapes from input shapes (tuples of symbolic scalars); None if unknown."""
        return None


# The variable classes made by the tensor layer (which adds operators); defaults are plain.
VARIABLE_CLASSES: dict[str, type] = {
    "variable": Variable,
    "constant": Constant,
    "shared": SharedVariable,
}
TensorType.variable_class = Variable


def install_variable_classes(variable: type, constant: type, shared: type) -> None:
    """Called once by the tensor layer to make graph variables carry NumPy-style operators."""
    VARIABLE_CLASSES.update(variable=variable, constant=constant, shared=shared)
    TensorType.variable_class = variable


def make_constant(value: Any, dtype: Any = None, name: str | None = None, weak: bool = False) -> Constant:
    if dtype is None:
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and isinstance(value, (float, list, tuple)):
            dtype = config.floatX
        elif arr.dtype.kind == "f":
            dtype = arr.dtype
        elif arr.dtype.kind in "iub":
            dtype = arr.dtype
        else:
            raise GraphTypeError(f"cannot make a constant from {type(value).__name__} {value!r}")
    dtype = normalize_dtype(dtype)
    arr = np.asarray(value)
    if arr.dtype == object:
        raise GraphTypeError(f"cannot make a constant from {type(value).__name__} {value!r}")
    return VARIABLE_CLASSES["constant"](TensorType(dtype, arr.shape), arr, name=name, weak=weak)


def as_tensor_variable(x: Any, name: str | None = None) -> Variable:
    """A Variable for ``x``: itself, or a constant for numbers, arrays and nested lists."""
    if isinstance(x, Variable):
        return x
    if type(x) in (bool, int, float):  # Python numbers are weak; NumPy scalars are not
        if type(x) is int and not -(2**63) <= x < 2**63:
            raise GraphValueError(f"the integer {x} does not fit in int64")
        return make_constant(x, name=name, weak=True)
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        return make_constant(x, name=name)
    raise GraphTypeError(f"cannot use a {type(x).__name__} ({x!r}) as a tensor")


def is_weak(v: Variable) -> bool:
    return isinstance(v, Constant) and v.weak
