"""Indexing ops: ``Subtensor`` reads ``x[index]``; ``IncSubtensor`` makes a copy of ``x``
with ``x[index]`` set or incremented. Both cover basic and advanced (NumPy) indexing.

An index is described by a static, hashable *spec*, one entry per index item. Constants are
folded in as Python ints so static shapes stay known; ``SYM`` stands for a value taken
from the op's next index input. The entries are::

    ("int", k)            an integer (k an int or SYM)
    ("slice", a, b, c)    a:b:c, each an int, None or SYM
    ("newaxis",)          None
    ("ellipsis",)         ...
    ("array", SYM)        an integer array of rank >= 1 (advanced)
    ("mask", SYM)         a bool array of rank k, consuming k axes (advanced)

``perform`` rebuilds the NumPy index tuple from the spec and hands it to NumPy, so the
runtime semantics are NumPy's by construction; the spec is what lets static shapes,
gradients and later backends reason about the index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Constant, Op, Variable, as_tensor_variable, is_weak, make_constant
from symgrad.graph.errors import GraphTypeError, GraphValueError, IndexingError, ShapeError, build_error
from symgrad.graph.types import TensorType, broadcast_static_shapes, format_static_shape, is_float, is_int
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import dimshuffle
from symgrad.ops.elemwise import SumToShape, cast, zeros_like
from symgrad.ops.shape_of import ShapeI, shape_dims

SYM = "?"
ADVANCED = ("array", "mask")

Spec = tuple[tuple, ...]
Bound = list[tuple[str, list]]


# -- the spec --------------------------------------------------------------------------------


def bind(spec: Spec, values: Sequence[Any]) -> Bound:
    """Pair each entry's kind with its arguments, ``SYM`` replaced by the next of ``values``."""
    it = iter(values)
    return [(kind, [next(it) if a == SYM else a for a in args]) for kind, *args in spec]


def n_inputs(spec: Spec) -> int:
    return sum(1 for _, *args in spec for a in args if a == SYM)


def _width(kind: str, args: list) -> int | None:
    """How many axes of the indexed tensor an entry consumes (None: the ellipsis)."""
    if kind in ("int", "slice", "array"):
        return 1
    if kind == "mask":
        return args[0].ndim
    return 0 if kind == "newaxis" else None


def assign_axes(bound: Bound, ndim: int, op_name: str) -> list[range]:
    """The input axes each entry consumes; the ellipsis takes what the others leave."""
    widths = [_width(kind, args) for kind, args in bound]
    if widths.count(None) > 1:
        raise build_error(IndexingError, op_name, "an index can only have a single ellipsis (...)")
    used = sum(w for w in widths if w is not None)
    if used > ndim:
        raise build_error(
            IndexingError, op_name, f"too many indices: the index uses {used} axes of a {ndim}-d tensor"
        )
    axes, axis = [], 0
    for w in widths:
        w = ndim - used if w is None else w
        axes.append(range(axis, axis + w))
        axis += w
    return axes


def _is_advanced(bound: Bound) -> bool:
    return any(kind in ADVANCED for kind, _ in bound)


def advanced_rank(bound: Bound) -> int:
    ranks = [args[0].ndim if kind == "array" else 1 for kind, args in bound if kind in ADVANCED]
    return max(ranks, default=0)


def layout(bound: Bound, axes: list[range], ndim: int) -> list[tuple]:
    """Where each output axis comes from: ``("axis", a)`` (input axis ``a`` whole),
    ``("slice", a, args)``, ``("one",)`` (a new axis) or ``("adv", j)`` (axis ``j`` of the
    broadcast advanced indices). NumPy's rule: adjacent advanced indices put their axes
    where they stand, otherwise in front; integers count as advanced next to arrays."""
    advanced = _is_advanced(bound)
    pieces: list[list[tuple] | None] = []
    for (kind, args), rng in zip(bound, axes):
        if kind in ADVANCED or (advanced and kind == "int"):
            pieces.append(None)
        elif kind == "slice":
            pieces.append([("slice", rng.start, args)])
        elif kind == "newaxis":
            pieces.append([("one",)])
        else:  # the ellipsis keeps its axes; a basic int drops its one
            pieces.append([("axis", a) for a in rng] if kind == "ellipsis" else [])
    used = axes[-1].stop if axes else 0
    pieces.append([("axis", a) for a in range(used, ndim)])
    if advanced:
        pieces = _place_advanced(pieces, [("adv", j) for j in range(advanced_rank(bound))])
    return [d for piece in pieces for d in piece]


def _place_advanced(pieces: list, adv: list[tuple]) -> list:
    positions = [k for k, p in enumerate(pieces) if p is None]
    first = positions[0]
    if positions == list(range(first, positions[-1] + 1)):
        return [*pieces[:first], adv, *(p for p in pieces[first:] if p is not None)]
    return [adv, *(p for p in pieces if p is not None)]


def numpy_index(bound: Bound) -> tuple:
    """The NumPy index tuple, from a spec bound to runtime values."""
    out: list[Any] = []
    for kind, args in bound:
        if kind == "int":
            out.append(int(args[0]))
        elif kind == "slice":
            out.append(slice(*(None if a is None else int(a) for a in args)))
        elif kind == "newaxis":
            out.append(None)
        elif kind == "ellipsis":
            out.append(Ellipsis)
        else:
            out.append(args[0])
    return tuple(out)


def format_spec(spec: Spec) -> str:
    parts = []
    for kind, *args in spec:
        if kind == "slice":
            parts.append(_format_slice(args))
        elif kind in ("int", "array", "mask"):
            label = {"int": "{}", "array": "[{}]", "mask": "mask{}"}[kind]
            parts.append(label.format(args[0]))
        else:
            parts.append("None" if kind == "newaxis" else "...")
    return ", ".join(parts)


def _format_slice(args: Sequence[Any]) -> str:
    start, stop, step = ("" if a is None else str(a) for a in args)
    return f"{start}:{stop}" + (f":{step}" if step else "")


def format_index(index: tuple) -> str:
    """A runtime index for error messages: values of scalars, summaries of arrays."""
    parts = []
    for item in index:
        if isinstance(item, slice):
            parts.append(_format_slice((item.start, item.stop, item.step)))
        elif isinstance(item, np.ndarray):
            values = f" {item.tolist()}" if item.size <= 8 else ""
            parts.append(f"{item.dtype} array of shape {item.shape}{values}")
        else:
            parts.append("..." if item is Ellipsis else str(item))
    return f"[{', '.join(parts)}]"


# -- build-time checks and static shapes -----------------------------------------------------


def _check_inputs(bound: Bound, op_name: str) -> None:
    for kind, args in bound:
        for v in args:
            if not isinstance(v, Variable):
                continue
            if kind == "mask" and v.dtype != "bool":
                raise build_error(GraphTypeError, op_name, f"a mask must be bool, got {v.describe()}")
            if kind == "array" and (v.ndim == 0 or not is_int(v.dtype)):
                raise build_error(
                    GraphTypeError, op_name, f"an index array must be an integer array, got {v.describe()}"
                )
            if kind in ("int", "slice") and (v.ndim != 0 or not is_int(v.dtype)):
                raise build_error(
                    GraphTypeError, op_name, f"indices must be integer scalars, got {v.describe()}"
                )


def _check_int(k: Any, n: int | None, axis: int, op_name: str) -> None:
    if isinstance(k, int) and n is not None and not -n <= k < n:
        raise build_error(IndexingError, op_name, f"index {k} is out of bounds for axis {axis} with size {n}")


def _check_array(v: Variable, n: int | None, axis: int, op_name: str) -> None:
    if not isinstance(v, Constant) or n is None or v.data.size == 0:
        return
    lo, hi = int(v.data.min()), int(v.data.max())
    bad = lo if lo < -n else hi if hi >= n else None
    if bad is not None:
        raise build_error(
            IndexingError, op_name, f"index {bad} is out of bounds for axis {axis} with size {n}"
        )


def _check_mask(v: Variable, dims: list[int | None], axes: range, op_name: str) -> None:
    for a, m, n in zip(axes, v.static_shape, dims):
        if m not in (None, 0) and n is not None and m != n:  # NumPy lets empty mask axes pass
            raise build_error(
                IndexingError,
                op_name,
                f"boolean index did not match indexed array along axis {a}; "
                f"size of axis is {n} but size of corresponding boolean axis is {m}",
            )


def _check_entries(bound: Bound, axes: list[range], xshape: tuple, adv: tuple, op_name: str) -> None:
    # NumPy checks index arrays only when the advanced result is not empty
    adv_nonempty = all(d is not None and d > 0 for d in adv)
    for (kind, args), rng in zip(bound, axes):
        dims = [xshape[a] for a in rng]
        if kind == "int":
            _check_int(args[0], dims[0], rng.start, op_name)
        elif kind == "slice" and args[2] == 0:
            raise build_error(GraphValueError, op_name, "slice step cannot be zero")
        elif kind == "array" and adv_nonempty:
            _check_array(args[0], dims[0], rng.start, op_name)
        elif kind == "mask":
            _check_mask(args[0], dims, rng, op_name)


def _mask_count(v: Variable) -> int | None:
    return int(np.count_nonzero(v.data)) if isinstance(v, Constant) else None


def _advanced_static_shape(bound: Bound, op_name: str) -> tuple:
    shapes = []
    for kind, args in bound:
        if kind == "int":
            shapes.append(())
        elif kind == "array":
            shapes.append(args[0].static_shape)
        elif kind == "mask":
            shapes.append((_mask_count(args[0]),))
    try:
        return broadcast_static_shapes(shapes)
    except ShapeError:
        listed = ", ".join(format_static_shape(s) for s in shapes)
        raise build_error(
            IndexingError,
            op_name,
            f"shape mismatch: index arrays of shapes {listed} cannot be broadcast together",
        ) from None


def _static_slice_length(args: list, n: int | None) -> int | None:
    if n is None or any(isinstance(a, Variable) for a in args):
        return None
    return len(range(*slice(*args).indices(n)))


def static_region_shape(spec: Spec, x: Variable, index_inputs: Sequence[Variable], op_name: str) -> tuple:
    """Validate an index against ``x`` and return the static shape of ``x[index]``."""
    if n_inputs(spec) != len(index_inputs):
        raise build_error(
            GraphValueError, op_name, f"the index needs {n_inputs(spec)} inputs, got {len(index_inputs)}"
        )
    bound = bind(spec, index_inputs)
    _check_inputs(bound, op_name)
    axes = assign_axes(bound, x.ndim, op_name)
    adv = _advanced_static_shape(bound, op_name) if _is_advanced(bound) else ()
    _check_entries(bound, axes, x.static_shape, adv, op_name)
    shape = []
    for d in layout(bound, axes, x.ndim):
        if d[0] == "axis":
            shape.append(x.static_shape[d[1]])
        elif d[0] == "slice":
            shape.append(_static_slice_length(d[2], x.static_shape[d[1]]))
        else:
            shape.append(1 if d[0] == "one" else adv[d[1]])
    return tuple(shape)


# -- symbolic shapes (infer_shape) -----------------------------------------------------------


def _i64(v: Any) -> Variable:
    return make_constant(v, dtype="int64") if isinstance(v, int) else cast(v, "int64")


def _normalized_bound(v: Any, n: Variable, lo: Any, hi: Any) -> Variable:
    """A slice bound as ``slice.indices`` normalizes it: negatives count from the end, clipped."""
    v = _i64(v)
    return so.clip(so.where(so.lt(v, 0), so.add(v, n), v), _i64(lo), hi)


def _directed_length(start: Any, stop: Any, step: Any, n: Variable, forward: bool) -> Variable:
    if forward:
        start = _i64(0) if start is None else _normalized_bound(start, n, 0, n)
        stop = n if stop is None else _normalized_bound(stop, n, 0, n)
        span, stride = so.sub(stop, start), _i64(step)
    else:
        last = so.sub(n, _i64(1))
        start = last if start is None else _normalized_bound(start, n, -1, last)
        stop = _i64(-1) if stop is None else _normalized_bound(stop, n, -1, last)
        span, stride = so.sub(start, stop), so.neg(_i64(step))
    length = so.floor_divide(so.add(span, so.sub(stride, _i64(1))), stride)
    return so.maximum(length, _i64(0))


def symbolic_slice_length(args: list, n: Variable) -> Variable:
    """``len(range(*slice(start, stop, step).indices(n)))`` as an int64 graph."""
    start, stop, step = args
    step = 1 if step is None else step
    n = _i64(n)
    if isinstance(step, int):
        return _directed_length(start, stop, step, n, step > 0)
    forward = _directed_length(start, stop, step, n, True)
    backward = _directed_length(start, stop, step, n, False)
    return so.where(so.gt(_i64(step), 0), forward, backward)


def _sole_index_array(bound: Bound) -> Variable | None:
    """The index array that alone sets the advanced shape (the others are integers)."""
    arrays = [args[0] for kind, args in bound if kind in ADVANCED]
    if len(arrays) == 1 and any(kind == "array" for kind, _ in bound):
        return arrays[0]
    return None


# -- the ops ---------------------------------------------------------------------------------


class Subtensor(Op):
    """``x[index]`` for any NumPy index; inputs are ``x`` and the spec's symbolic values."""

    __props__ = ("spec",)

    def __init__(self, spec: Spec) -> None:
        self.spec = tuple(tuple(entry) for entry in spec)

    def __str__(self) -> str:
        return f"Subtensor{{{format_spec(self.spec)}}}"

    __repr__ = __str__

    def make_node(self, x: Any, *index_inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        index_inputs = [as_tensor_variable(v) for v in index_inputs]
        shape = static_region_shape(self.spec, x, index_inputs, "Subtensor")
        return Apply(self, [x, *index_inputs], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        index = numpy_index(bind(self.spec, values))
        with _runtime_errors(node, "Subtensor", x, index):
            out = x[index]
        output_storage[0][0] = np.asarray(out)

    def infer_shape(self, node, input_shapes):
        x, *index_inputs = node.inputs
        bound = bind(self.spec, index_inputs)
        dims = layout(bound, assign_axes(bound, x.ndim, "Subtensor"), x.ndim)
        shapes_of = {id(v): s for v, s in zip(index_inputs, input_shapes[1:])}
        sole = _sole_index_array(bound)
        out = node.outputs[0]
        result = []
        for k, (d, static) in enumerate(zip(dims, out.static_shape)):
            if static is not None:
                result.append(_i64(static))
            elif d[0] == "axis":
                result.append(input_shapes[0][d[1]])
            elif d[0] == "slice":
                result.append(symbolic_slice_length(d[2], input_shapes[0][d[1]]))
            elif d[0] == "adv" and sole is not None:
                result.append(shapes_of[id(sole)][d[1]])
            else:  # a mask count or a broadcast of several index arrays: ask the output
                result.append(ShapeI(k)(out))
        return [tuple(result)]

    def L_op(self, inputs, outputs, output_grads):
        x, *index_inputs = inputs
        none = [None] * len(index_inputs)
        if not is_float(x.dtype):
            return [None, *none]
        gx = IncSubtensor(self.spec, False)(zeros_like(x), output_grads[0], *index_inputs)
        return [gx, *none]


class IncSubtensor(Op):
    """A copy of ``x`` with ``x[index]`` set to (or incremented by) ``y``, broadcast.

    Increments accumulate over repeated advanced indices, as ``np.add.at`` does; with
    ``set_instead_of_inc`` the last of repeated writes wins, as in NumPy.
    """

    __props__ = ("spec", "set_instead_of_inc")

    def __init__(self, spec: Spec, set_instead_of_inc: bool = False) -> None:
        self.spec = tuple(tuple(entry) for entry in spec)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.accumulate = not self.set_instead_of_inc and any(e[0] == "array" for e in self.spec)

    @property
    def name(self) -> str:
        return "SetSubtensor" if self.set_instead_of_inc else "IncSubtensor"

    def __str__(self) -> str:
        return f"{self.name}{{{format_spec(self.spec)}}}"

    __repr__ = __str__

    def make_node(self, x: Any, y: Any, *index_inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        index_inputs = [as_tensor_variable(v) for v in index_inputs]
        region = static_region_shape(self.spec, x, index_inputs, self.name)
        y = conform_value(y, x.dtype, region, self.name)
        return Apply(self, [x, y, *index_inputs], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, y, *values = inputs
        index = numpy_index(bind(self.spec, values))
        out = x.copy()
        with _runtime_errors(node, self.name, x, index, y):
            if self.set_instead_of_inc:
                out[index] = y
            elif self.accumulate:  # repeated integer indices must all count
                np.add.at(out, index, y)
            else:
                out[index] += y
        output_storage[0][0] = out

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        x, y, *index_inputs = inputs
        (g,) = output_grads
        none = [None] * len(index_inputs)
        if not is_float(x.dtype):
            return [None, None, *none]
        if self.set_instead_of_inc:
            gx = IncSubtensor(self.spec, True)(g, make_constant(0, dtype=g.dtype), *index_inputs)
        else:
            gx = g
        gy = Subtensor(self.spec)(g, *index_inputs)
        if self.set_instead_of_inc and any(e[0] == "array" for e in self.spec):
            gy = so.mul(gy, LastWriteMask(self.spec)(x, *index_inputs))  # overwritten writes
        return [gx, sum_to_value(gy, y), *none]


class LastWriteMask(Op):
    """Which elements of ``x[index]`` survive ``x[index] = y``: with repeated advanced
    indices only the last write to a place counts (NumPy's order), so only it gets a gradient.
    """

    __props__ = ("spec",)

    def __init__(self, spec: Spec) -> None:
        self.spec = tuple(tuple(entry) for entry in spec)

    def make_node(self, x: Any, *index_inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        index_inputs = [as_tensor_variable(v) for v in index_inputs]
        shape = static_region_shape(self.spec, x, index_inputs, "LastWriteMask")
        return Apply(self, [x, *index_inputs], [TensorType("bool", shape)()])

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        index = numpy_index(bind(self.spec, values))
        with _runtime_errors(node, "LastWriteMask", x, index):
            region_shape = np.shape(x[index])
            ids = np.arange(int(np.prod(region_shape)), dtype="int64").reshape(region_shape)
            writer = np.full(x.shape, -1, dtype="int64")
            writer[index] = ids
            output_storage[0][0] = np.asarray(writer[index] == ids)

    def infer_shape(self, node, input_shapes):
        return Subtensor.infer_shape(self, node, input_shapes)  # the same region

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)


@contextmanager
def _runtime_errors(node: Apply, op_name: str, x: np.ndarray, index: tuple, y: Any = None) -> Iterator[None]:
    """Re-raise NumPy's indexing errors naming the op, the shapes, the index and the line."""
    try:
        yield
    except (IndexError, ValueError) as exc:
        value = "" if y is None else f", value shape {np.shape(y)}"
        message = (
            f"{op_name}: {exc}; tensor shape {x.shape}{value}, index {format_index(index)} "
            f"(created at {node.location})"
        )
        if isinstance(exc, IndexError):
            raise IndexingError(message) from exc
        raise (ShapeError if "broadcast" in str(exc) else GraphValueError)(message) from exc


# -- values written into a region ------------------------------------------------------------


def conform_value(y: Any, dtype: str, region: tuple, op_name: str) -> Variable:
    """``y`` cast to ``dtype`` (same_kind casting) and checked to broadcast to ``region``."""
    y = _cast_value(as_tensor_variable(y), dtype, op_name)
    extra = y.ndim - len(region)
    if extra > 0:  # NumPy drops leading length-1 axes of the value
        if any(s not in (1, None) for s in y.static_shape[:extra]):
            raise build_error(
                ShapeError,
                op_name,
                f"cannot broadcast {y.describe()} into a region of shape {format_static_shape(region)}",
            )
        y = dimshuffle(y, *range(extra, y.ndim))
    for ys, rs in zip(reversed(y.static_shape), reversed(region)):
        if ys not in (None, 1) and rs is not None and ys != rs:
            raise build_error(
                ShapeError,
                op_name,
                f"cannot broadcast {y.describe()} into a region of shape {format_static_shape(region)}",
            )
    return y


def _cast_value(y: Variable, dtype: str, op_name: str) -> Variable:
    if y.dtype == dtype:
        return y
    if not np.can_cast(y.dtype, dtype, "same_kind"):
        raise build_error(
            GraphTypeError,
            op_name,
            f"cannot write {y.describe()} into a {dtype} tensor "
            f"(NumPy's same_kind casting does not allow {y.dtype} -> {dtype}; use .astype)",
        )
    if is_weak(y) and np.dtype(dtype).kind in "iu":
        with np.errstate(all="ignore"):
            unchanged = np.array_equal(y.data.astype(dtype).astype(y.dtype), y.data)
        if not unchanged:
            raise build_error(
                GraphTypeError, op_name, f"the Python number {y.data.item()!r} is out of bounds for {dtype}"
            )
    return cast(y, dtype)


def sum_to_value(g: Variable, y: Variable) -> Variable:
    """Reduce the gradient of a region to the shape of the value ``y`` broadcast into it."""
    lead = g.ndim - y.ndim
    same = all(ys is not None and ys == gs for ys, gs in zip(y.static_shape, g.static_shape[lead:]))
    if lead == 0 and same:
        return g
    return SumToShape()(g, *shape_dims(y))
