"""Scalar ops and the one broadcasting ``Elemwise`` op that lifts them to tensors.

A ``ScalarOp`` is a row of the elementwise table: its NumPy implementation (which also
decides the output dtype, so NumPy's promotion rules hold by construction), its gradient
rule, its C expression and its SymPy form. Fusion later composes scalar ops into one loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Constant, Op, Variable, as_tensor_variable, is_weak, make_constant
from symgrad.graph.errors import GraphTypeError, ShapeError, build_error
from symgrad.graph.types import (
    TensorType,
    broadcast_static_shapes,
    is_float,
    normalize_dtype,
)
from symgrad.ops.shape_of import shape_dims, static_value

GradRule = Callable[[list[Variable], Variable, Variable], list[Variable | None]]

SCALAR_OPS: dict[str, ScalarOp] = {}
SCALAR_OP_FACTORIES: dict[str, Callable[..., ScalarOp]] = {}


@dataclass(frozen=True, eq=False)
class ScalarOp:
    """One elementwise function.

    impl: NumPy function over broadcastable arrays; its result dtype is the op's dtype rule.
    grad: ``(inputs, output, output_grad) -> input grads`` at the broadcast shape (None =
        zero gradient); Elemwise reduces them to each input's shape and dtype.
    c_expr: C expression with ``{0}``, ``{1}``, ... for the inputs (for compiled backends).
    sympy: ``(*sympy_symbols) -> sympy expression`` (proofs, ``elemwise_op``).
    promote: indices of inputs that take part in dtype promotion (None: all).
    """

    name: str
    nin: int
    impl: Callable[..., Any]
    grad: GradRule | None = None
    c_expr: str | None = None
    sympy: Callable[..., Any] | None = None
    promote: tuple[int, ...] | None = None
    params: tuple = ()
    commutative: bool = False
    differentiable: bool = True
    extra: dict = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.name, self.params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScalarOp) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __str__(self) -> str:
        return self.name if not self.params else f"{self.name}{{{','.join(map(str, self.params))}}}"

    __repr__ = __str__

    def __reduce__(self):
        return (lookup_scalar_op, (self.name, self.params))

    def __call__(self, *inputs: Any) -> Variable:
        """Apply elementwise to tensors: ``exp(x)``."""
        return elemwise_of(self)(*inputs)

    def compute(self, inputs: Sequence[np.ndarray], dtype: str, out: np.ndarray | None = None) -> np.ndarray:
        """The result as exactly ``dtype`` (integer inputs of a float result cast first).

        ``out``: a buffer of the result's dtype and shape to write into (in-place reuse);
        a ufunc writes there directly when every input already has that dtype (the same
        loop NumPy would pick anyway), otherwise the result is computed and copied in.
        """
        if is_float(dtype):
            inputs = _ints_as_float(self, list(inputs), dtype)
        with np.errstate(all="ignore"):  # inf/nan and integer division by zero: NumPy's values
            if out is None:
                return np.asarray(self.impl(*inputs), dtype=dtype)
            if isinstance(self.impl, np.ufunc) and all(np.asarray(i).dtype == out.dtype for i in inputs):
                self.impl(*inputs, out=out)
            else:
                np.copyto(out, self.impl(*inputs), casting="unsafe")
        return out

    @functools.cache  # noqa: B019 (scalar ops are few and live forever)
    def output_dtype(self, input_dtypes: tuple) -> str:
        samples = [d if not isinstance(d, str) else np.zeros((0,), dtype=d) for d in input_dtypes]
        with np.errstate(all="ignore"):
            result = self.impl(*samples)
        return normalize_dtype(np.asarray(result).dtype)


def register_scalar_op(op: ScalarOp) -> ScalarOp:
    if op.name in SCALAR_OPS and SCALAR_OPS[op.name] is not op:
        raise ValueError(f"a scalar op named {op.name!r} is already registered")
    SCALAR_OPS[op.name] = op
    return op


def lookup_scalar_op(name: str, params: tuple = ()) -> ScalarOp:
    if params:
        return SCALAR_OP_FACTORIES[name](*params)
    return SCALAR_OPS[name]


_PY_SAMPLE = {"b": False, "i": 0, "u": 0, "f": 0.0}


class Elemwise(Op):
    """Applies a scalar op elementwise with NumPy broadcasting."""

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op: ScalarOp) -> None:
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return str(self.scalar_op)

    def make_node(self, *inputs: Any) -> Apply:
        sop = self.scalar_op
        if len(inputs) != sop.nin and not (sop.nin is None and inputs):
            expected = "at least 1" if sop.nin is None else sop.nin
            raise build_error(GraphTypeError, sop.name, f"takes {expected} inputs, got {len(inputs)}")
        inputs = [as_tensor_variable(i) for i in inputs]
        inputs = _adapt_weak_constants(sop, inputs)
        try:
            out_dtype = sop.output_dtype(tuple(v.dtype for v in inputs))
        except (TypeError, ValueError) as exc:
            raise build_error(
                GraphTypeError,
                sop.name,
                f"not defined for dtypes {', '.join(v.dtype for v in inputs)} (NumPy: {exc})",
            ) from None
        shape = broadcast_static_shapes([v.static_shape for v in inputs], sop.name)
        return Apply(self, inputs, [TensorType(out_dtype, shape)()])

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list[list]) -> None:
        dtype = node.outputs[0].dtype
        output_storage[0][0] = self.scalar_op.compute(inputs, dtype, _inplace_buffer(node, inputs))

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        out = node.outputs[0]
        padded = [(None,) * (out.ndim - len(s)) + tuple(s) for s in input_shapes]
        dims = []
        for axis, static in enumerate(out.static_shape):
            if static is not None:
                dims.append(make_constant(static, dtype="int64"))
                continue
            unknown = [
                shp[axis]
                for v, shp in zip(node.inputs, padded)
                if shp[axis] is not None and v.static_shape[axis - (out.ndim - v.ndim)] != 1
            ]
            dims.append(_broadcast_length(unknown))
        return [tuple(dims)]

    def L_op(self, inputs, outputs, output_grads):
        sop, (out,), (gout,) = self.scalar_op, outputs, output_grads
        if not is_float(out.dtype) or sop.grad is None:
            if not sop.differentiable or not is_float(out.dtype):
                return [zeros_like(i) if is_float(i.dtype) else None for i in inputs]
            raise NotImplementedError(f"the elementwise op {sop} has no gradient rule")
        grads = sop.grad(list(inputs), out, gout)
        result: list[Variable | None] = []
        for k, (inp, g) in enumerate(zip(inputs, grads)):
            if not is_float(inp.dtype):
                result.append(None)
            elif g is None:
                result.append(zeros_like(inp))
            else:
                result.append(sum_to_input(cast(g, inp.dtype), inputs, k, out))
        return result


def _inplace_buffer(node: Apply, inputs: list[np.ndarray]) -> np.ndarray | None:
    """The input buffer the memory pass allowed this node to overwrite (``node.tag["inplace"]``
    = input index, see symgrad/rewrite/memory.py), if it fits the result at run time."""
    k = node.tag.get("inplace")
    if k is None:
        return None
    buf = inputs[k]
    if type(buf) is not np.ndarray or buf.dtype.name != node.outputs[0].dtype or not buf.flags.writeable:
        return None
    try:
        shape = np.broadcast_shapes(*(np.shape(i) for i in inputs))
    except ValueError:
        return None  # the scalar op reports the mismatch itself
    return buf if buf.shape == shape else None


def _broadcast_length(lengths: list[Variable]) -> Variable:
    """The broadcast of lengths unknown until run time: any of them may turn out to be 1."""
    where, eq = elemwise_of(SCALAR_OPS["where"]), elemwise_of(SCALAR_OPS["eq"])
    result = lengths[0]
    for length in lengths[1:]:
        result = where(eq(result, 1), length, result)
    return result


def _ints_as_float(sop: ScalarOp, inputs: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    """Integer inputs of a float result, cast first: NumPy would compute int8 math in
    float16, which symgrad does not have, so the float32 result must be computed in float32."""
    positions = range(len(inputs)) if sop.promote is None else sop.promote
    inputs = list(inputs)
    for k in positions:
        if inputs[k].dtype.kind in "biu":
            inputs[k] = inputs[k].astype(dtype)
    return inputs


def _adapt_weak_constants(sop: ScalarOp, inputs: list[Variable]) -> list[Variable]:
    """Cast Python-number constants to the dtype NumPy 2 would give them here."""
    positions = range(len(inputs)) if sop.promote is None else sop.promote
    weak = [k for k in positions if is_weak(inputs[k])]
    strong = [inputs[k].dtype for k in positions if not is_weak(inputs[k])]
    if not weak or not strong:
        return inputs
    samples = [_PY_SAMPLE[np.dtype(inputs[k].dtype).kind] for k in weak]
    common = normalize_dtype(np.result_type(*strong, *samples))
    inputs = list(inputs)
    for k in weak:
        const = inputs[k]
        if const.dtype == common:
            continue
        with np.errstate(all="ignore"):
            data = const.data.astype(common)
        if _changed_beyond_rounding(const.data, data):
            if sop.output_dtype(tuple(v.dtype for v in inputs)) == "bool":
                continue  # comparisons with an out-of-range number: NumPy compares exactly
            raise build_error(
                GraphTypeError,
                sop.name,
                f"the Python number {const.data.item()!r} is out of bounds for {common}",
            )
        inputs[k] = make_constant(data, dtype=common, weak=True)
    return inputs


def _changed_beyond_rounding(before: np.ndarray, after: np.ndarray) -> bool:
    """Integers must survive exactly; floats may round, or overflow to inf as in NumPy."""
    if after.dtype.kind == "f":
        return False
    return not np.array_equal(after.astype(before.dtype), before, equal_nan=True)


@functools.cache
def elemwise_of(scalar_op: ScalarOp) -> Elemwise:
    return Elemwise(scalar_op)


def _cast_impl(dtype: str) -> Callable:
    return lambda x: np.asarray(x).astype(dtype)


@functools.cache
def cast_scalar_op(dtype: str) -> ScalarOp:
    dtype = normalize_dtype(dtype)
    return ScalarOp(
        "cast",
        1,
        _cast_impl(dtype),
        grad=lambda inputs, out, g: [g],
        c_expr=f"(({{ctype:{dtype}}})({{0}}))",
        sympy=lambda x: x,
        params=(dtype,),
        differentiable=True,
    )


SCALAR_OP_FACTORIES["cast"] = cast_scalar_op


def cast(x: Any, dtype: Any) -> Variable:
    """``x`` converted to ``dtype`` (NumPy's ``astype``); a no-op when it already is."""
    x = as_tensor_variable(x)
    dtype = normalize_dtype(dtype)
    if x.dtype == dtype:
        return x
    if isinstance(x, Constant):
        return make_constant(x.data.astype(dtype), dtype=dtype, weak=x.weak)
    return cast_scalar_op(dtype)(x)


def _second_impl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    return np.array(np.broadcast_to(b, shape))


second = register_scalar_op(
    ScalarOp(
        "second",
        2,
        _second_impl,
        grad=lambda inputs, out, g: [None, g],
        c_expr="({1})",
        sympy=lambda a, b: b,
        promote=(),
    )
)


def full_like(x: Any, value: Any, dtype: Any = None) -> Variable:
    """An array shaped like ``x`` filled with ``value`` (dtype of ``x`` unless given)."""
    x = as_tensor_variable(x)
    dtype = x.dtype if dtype is None else normalize_dtype(dtype)
    return second(x, cast(value, dtype))


def zeros_like(x: Any, dtype: Any = None) -> Variable:
    return full_like(x, 0, dtype)


def ones_like(x: Any, dtype: Any = None) -> Variable:
    return full_like(x, 1, dtype)


def elemwise_inputs_of(var: Variable, scalar_op_name: str) -> Sequence[Variable] | None:
    """The inputs if ``var`` is an elementwise ``scalar_op_name`` node, else None."""
    node = var.owner
    if node is not None and isinstance(node.op, Elemwise) and node.op.scalar_op.name == scalar_op_name:
        return node.inputs
    return None


class SumToShape(Op):
    """Sums ``g`` down to a shape it was broadcast from (the adjoint of broadcasting).

    Inputs: ``g`` and the target's dimensions as int64 scalars. Leading axes are summed
    away, and axes where the target has length 1 are summed with keepdims.
    """

    def make_node(self, g: Any, *dims: Any) -> Apply:
        g = as_tensor_variable(g)
        dims = [as_tensor_variable(d) for d in dims]
        if len(dims) > g.ndim:
            raise build_error(ShapeError, "sum_to", f"cannot sum a {g.ndim}-d value to {len(dims)} dims")
        shape = [static_value(d) for d in dims]
        return Apply(self, [g, *dims], [TensorType(g.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        g, *dims = inputs
        target = tuple(int(d) for d in dims)
        lead = g.ndim - len(target)
        axes = list(range(lead))
        for a, n in enumerate(target):
            if n == 1 and g.shape[lead + a] != 1:
                axes.append(lead + a)
            elif n != g.shape[lead + a]:
                raise ShapeError(
                    f"sum_to: a value of shape {g.shape} cannot be summed to shape {target} "
                    f"(created at {node.location})"
                )
        out = np.sum(g, axis=tuple(axes), keepdims=True) if axes else g
        output_storage[0][0] = np.asarray(out.reshape(target), dtype=g.dtype)

    def infer_shape(self, node, input_shapes):
        return [tuple(node.inputs[1:])]

    def grad(self, inputs, output_grads):
        g, *dims = inputs
        return [second(g, output_grads[0]), *([None] * len(dims))]


def input_has_output_shape(inputs: Sequence[Variable], k: int, out: Variable) -> bool:
    """True when the static shapes prove that input ``k`` is not broadcast to give ``out``."""
    x = inputs[k]
    lead = out.ndim - x.ndim
    if lead > 0:
        return False
    for a, xs in enumerate(x.static_shape):
        if xs == 1 and out.static_shape[a] != 1:
            return False
        if xs is None:
            for j, other in enumerate(inputs):
                oaxis = a - (out.ndim - other.ndim)
                if j != k and oaxis >= 0 and other.static_shape[oaxis] != 1:
                    return False  # ``x`` may be broadcast along this axis at run time
    return True


def sum_to_input(g: Variable, inputs: Sequence[Variable], k: int, out: Variable) -> Variable:
    """Reduce an elementwise node's gradient ``g`` to the shape of its input ``k``."""
    if input_has_output_shape(inputs, k, out):
        return g
    return SumToShape()(g, *shape_dims(inputs[k]))
