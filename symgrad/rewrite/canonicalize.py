"""Canonicalize: put graphs in one normal form so later rewrites see fewer shapes.

Values. Every rewrite here returns NumPy's values bit for bit, except:
- the sign of a zero: ``x + 0 -> x`` and ``0 - x -> -x`` give ``-0.0`` where NumPy gives
  ``+0.0`` for ``x = -0.0`` (the values compare equal);
- flattening ``add``/``mul`` and merging ``sum(sum(x))`` may change the rounding order
  (Theano does both; fusion needs flat sums, and the error is a few ulps);
- shapes read from ``infer_shape`` skip the run-time shape checks of the node they no longer
  compute (Theano's shape feature does the same).
Identities that could hide a NaN or inf NumPy produces fire only where none can occur:
``x - x -> 0`` and ``0 * x -> 0`` only for integer and bool ``x`` (``inf - inf`` and
``0 * inf`` are NaN). ``x / x -> 1`` never fires: ``0 / 0`` is NaN even for integers.
"""

from __future__ import annotations

import numpy as np
import sympy

from symgrad.graph.basic import Constant, Variable, as_tensor_variable, make_constant
from symgrad.graph.traversal import variables_in
from symgrad.graph.types import is_float, is_integer_like
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import DimShuffle
from symgrad.ops.elemwise import cast, input_has_output_shape, second
from symgrad.ops.reduce import Reduce
from symgrad.ops.shape_of import MakeVector, Shape, ShapeI, shape_dims
from symgrad.ops.shape_ops import Alloc, Reshape
from symgrad.rewrite.pattern import E, N, Pattern, V, node_key
from symgrad.rewrite.registry import local_rewrite
from symgrad.rewrite.util import scalar_constant_value

PHASE = "canonicalize"
x, y = V("x"), V("y")
_a, _b, _c = sympy.symbols("a b c", real=True)


class AnyNode(Pattern):
    """Any node with index key ``key`` (an op class, or ``("elemwise", name)``), whatever
    its number of inputs (variadic add/mul, Reshape and Alloc with their lengths)."""

    def __init__(self, key) -> None:
        self.key = key

    def root_key(self):
        return self.key

    def match(self, var, bindings):
        node = var.owner
        return bindings if node is not None and node_key(node) == self.key else None


# --- helpers ---------------------------------------------------------------------------


def cannot_extend(other: Variable, new: Variable) -> bool:
    """True when broadcasting ``other`` with ``new`` surely leaves ``new``'s shape alone."""
    if other.ndim > new.ndim:
        return False
    tail = new.static_shape[new.ndim - other.ndim :]
    return all(o == 1 or (o is not None and o == t) for o, t in zip(other.static_shape, tail))


def without_inputs(node, drop: set[int]) -> Variable:
    """``node``'s variadic op on the inputs not in ``drop``, keeping the broadcast shape the
    dropped inputs gave (``second(dropped, new)`` where they could have widened it)."""
    kept = [v for k, v in enumerate(node.inputs) if k not in drop]
    new = kept[0] if len(kept) == 1 else node.op(*kept)
    for k in sorted(drop):
        if not cannot_extend(node.inputs[k], new):
            new = second(node.inputs[k], new)
    return new


def filled(value: float, node) -> Variable:
    """``value`` in the dtype and broadcast shape of ``node``'s output."""
    new = make_constant(np.asarray(value, dtype=node.outputs[0].dtype))
    for inp in node.inputs:
        if not cannot_extend(inp, new):
            new = second(inp, new)
    return new


def _constant_positions(node, value: float) -> set[int]:
    return {k for k, v in enumerate(node.inputs) if scalar_constant_value(v) == value}


def _same_width(*vs: Variable) -> bool:
    """Negation commutes with the op: all floats, or all one integer dtype (wrap-around)."""
    return all(is_float(v.dtype) for v in vs) or len({v.dtype for v in vs}) == 1


# --- neutral and absorbing elements ----------------------------------------------------


@local_rewrite(
    "mul_one",
    PHASE,
    AnyNode(("elemwise", "mul")),
    proof=lambda *_: (sympy.Mul(_a, 1, _b, 1), sympy.Mul(_a, _b)),
)
def mul_one(b):
    """``x * 1 -> x`` (any number of factors; the 1s' shape is kept)."""
    node = b["node"]
    ones = _constant_positions(node, 1)
    if not ones:
        return None
    if len(ones) == len(node.inputs):
        ones.discard(min(ones))
    return without_inputs(node, ones)


@local_rewrite(
    "add_zero",
    PHASE,
    AnyNode(("elemwise", "add")),
    proof=lambda *_: (sympy.Add(_a, 0, _b, 0), sympy.Add(_a, _b)),
)
def add_zero(b):
    """``x + 0 -> x`` (any number of terms; ``-0.0 + 0`` becomes ``-0.0``)."""
    node = b["node"]
    zeros = _constant_positions(node, 0)
    if not zeros:
        return None
    if len(zeros) == len(node.inputs):
        zeros.discard(min(zeros))
    return without_inputs(node, zeros)


@local_rewrite("sub_zero", PHASE, E.sub(x, 0))
def sub_zero(b):
    """``x - 0 -> x``."""
    return without_inputs(b["node"], {1})


@local_rewrite("zero_sub", PHASE, E.sub(0, x))
def zero_sub(b):
    """``0 - x -> -x`` (bool has no negation)."""
    if b["x"].dtype == "bool":
        return None
    return _keep(so.neg(b["x"]), b["node"], 0)


def _keep(new: Variable, node, dropped: int) -> Variable:
    """``new`` with the broadcast shape input ``dropped`` of ``node`` gave."""
    other = node.inputs[dropped]
    return new if cannot_extend(other, new) else second(other, new)


@local_rewrite("div_one", PHASE, E.true_divide(x, 1))
def div_one(b):
    """``x / 1 -> x`` (integers become the float result by a cast, as NumPy does)."""
    return _keep(b["x"], b["node"], 1)


@local_rewrite("pow_one", PHASE, E.pow(x, 1))
def pow_one(b):
    """``x ** 1 -> x``."""
    return _keep(b["x"], b["node"], 1)


@local_rewrite(
    "mul_zero_int",
    PHASE,
    AnyNode(("elemwise", "mul")),
    proof=lambda *_: (sympy.Mul(_a, 0, _b), sympy.Integer(0)),
)
def mul_zero_int(b):
    """``0 * x -> 0`` for integer and bool ``x`` only: for floats ``0 * inf`` is NaN."""
    node = b["node"]
    if not _constant_positions(node, 0) or not all(is_integer_like(v.dtype) for v in node.inputs):
        return None
    return filled(0, node)


@local_rewrite("sub_self_int", PHASE, E.sub(x, x))
def sub_self_int(b):
    """``x - x -> 0`` for integer ``x`` only: for floats ``inf - inf`` is NaN."""
    if not is_integer_like(b["x"].dtype):
        return None
    return filled(0, b["node"])


# --- negation normal forms -------------------------------------------------------------


@local_rewrite("neg_neg", PHASE, E.neg(E.neg(x)))
def neg_neg(b):
    """``-(-x) -> x``."""
    return b["x"]


@local_rewrite("sub_neg", PHASE, E.sub(x, E.neg(y)))
def sub_neg(b):
    """``x - (-y) -> x + y`` (exact: negation is, and wraps the same way for integers)."""
    return so.add(b["x"], b["y"])


@local_rewrite("add_neg", PHASE, E.add(x, E.neg(y)))
def add_neg(b):
    """``x + (-y) -> x - y``."""
    if b["x"].dtype == "bool":
        return None
    return so.sub(b["x"], b["y"])


@local_rewrite("mul_neg_neg", PHASE, E.mul(E.neg(x), E.neg(y)))
def mul_neg_neg(b):
    """``(-x) * (-y) -> x * y`` (integers: only in one dtype, where wrap-around agrees)."""
    if not _same_width(b["x"], b["y"], b["out"]):
        return None
    return so.mul(b["x"], b["y"])


@local_rewrite("div_neg_neg", PHASE, E.true_divide(E.neg(x), E.neg(y)))
def div_neg_neg(b):
    """``(-x) / (-y) -> x / y`` for floats (an integer's negation may wrap)."""
    if not (is_float(b["x"].dtype) and is_float(b["y"].dtype)):
        return None
    return so.true_divide(b["x"], b["y"])


@local_rewrite("mul_minus_one", PHASE, E.mul(x, -1))
def mul_minus_one(b):
    """``x * -1 -> -x`` (exact; integers only when the product keeps ``x``'s dtype)."""
    xv, out = b["x"], b["out"]
    if xv.dtype == "bool" or not (xv.dtype == out.dtype or (is_float(xv.dtype) and is_float(out.dtype))):
        return None
    k = 1 if b["node"].inputs[0] is xv else 0
    return _keep(so.neg(xv), b["node"], k)


# --- flattening variadic add and mul ---------------------------------------------------


MAX_FLAT_INPUTS = 32  # a longer chain (a 20,000-step gradient) is flattened in pieces


def _flatten(b, name: str):
    """Splice same-op, same-dtype inputs into ``node`` where they stand (order kept).

    Inner nodes with a constant input stay (``2 * x`` keeps the shape of a scaled term, and
    a long chain through one shared constant would make every splice pay for that
    constant's long client list in the FunctionGraph)."""
    node, out = b["node"], b["out"]
    inputs, changed = [], False
    room = MAX_FLAT_INPUTS - len(node.inputs)
    for v in node.inputs:
        inner = v.owner
        if (
            inner is not None
            and node_key(inner) == ("elemwise", name)
            and v.dtype == out.dtype
            and len(inner.inputs) - 1 <= room
            and not any(isinstance(i, Constant) for i in inner.inputs)
        ):
            room -= len(inner.inputs) - 1
            inputs.extend(inner.inputs)
            changed = True
        else:
            inputs.append(v)
    return node.op(*inputs) if changed else None


@local_rewrite(
    "add_flatten",
    PHASE,
    AnyNode(("elemwise", "add")),
    proof=lambda *_: (sympy.Add(sympy.Add(_a, _b, evaluate=False), _c), sympy.Add(_a, _b, _c)),
)
def add_flatten(b):
    """``add(add(a, b), c) -> add(a, b, c)``; the inner terms keep their place, so only an
    inner sum that is not the first term changes the rounding order."""
    return _flatten(b, "add")


@local_rewrite(
    "mul_flatten",
    PHASE,
    AnyNode(("elemwise", "mul")),
    proof=lambda *_: (sympy.Mul(sympy.Mul(_a, _b, evaluate=False), _c), sympy.Mul(_a, _b, _c)),
)
def mul_flatten(b):
    """``mul(mul(a, b), c) -> mul(a, b, c)`` (same dtype only: integer wrap-around)."""
    return _flatten(b, "mul")


# --- casts and broadcasts --------------------------------------------------------------


@local_rewrite("cast_same_dtype", PHASE, E.cast(x), proof="structural: a cast to the dtype it has copies")
def cast_same_dtype(b):
    """``cast(x, x.dtype) -> x``."""
    return b["x"] if b["x"].dtype == b["out"].dtype else None


@local_rewrite(
    "cast_cast",
    PHASE,
    E.cast(E.cast(x, bind="mid")),
    proof="structural: a cast that loses nothing followed by another is the second cast alone",
)
def cast_cast(b):
    """``cast(cast(x, wider), d) -> cast(x, d)`` when the first cast is lossless
    (so ``cast(cast(x, wider), x.dtype) -> x``)."""
    if not np.can_cast(b["x"].dtype, b["mid"].dtype, "safe"):
        return None
    return cast(b["x"], b["out"].dtype)


@local_rewrite("second_useless", PHASE, E.second(x, y))
def second_useless(b):
    """``second(x, y) -> y`` when ``y`` already has the output's shape."""
    node = b["node"]
    if node.inputs[1] is not b["y"] or not input_has_output_shape(node.inputs, 1, b["out"]):
        return None
    return b["y"]


def _is_length_of(dim: Variable, var: Variable, axis: int) -> bool:
    """True when ``dim`` is surely ``var.shape[axis]``."""
    static = var.static_shape[axis]
    if static is not None and scalar_constant_value(dim) == static and isinstance(dim, Constant):
        return True
    owner = dim.owner
    return (
        owner is not None and isinstance(owner.op, ShapeI) and owner.op.i == axis and owner.inputs[0] is var
    )


@local_rewrite(
    "alloc_useless", PHASE, AnyNode(Alloc), proof="structural: broadcasting to the shape it has copies"
)
def alloc_useless(b):
    """``broadcast_to(y, shape) -> y`` when ``y`` already has that shape."""
    node = b["node"]
    value, dims = node.inputs[0], node.inputs[1:]
    if value.ndim != len(dims) or not all(_is_length_of(d, value, k) for k, d in enumerate(dims)):
        return None
    return value


# --- reshape and dimshuffle chains -----------------------------------------------------


@local_rewrite(
    "reshape_reshape", PHASE, AnyNode(Reshape), proof="structural: a reshape only reads its input's elements"
)
def reshape_reshape(b):
    """``reshape(reshape(x, s1), s2) -> reshape(x, s2)``."""
    node = b["node"]
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, Reshape):
        return None
    return Reshape()(inner.inputs[0], *node.inputs[1:])


@local_rewrite(
    "reshape_same", PHASE, AnyNode(Reshape), proof="structural: a reshape to the shape it has copies"
)
def reshape_same(b):
    """``reshape(x, x.shape) -> x`` (lengths known equal statically or read from ``x``)."""
    node = b["node"]
    value, dims = node.inputs[0], node.inputs[1:]
    if value.ndim != len(dims):
        return None
    out_static = b["out"].static_shape
    for k, d in enumerate(dims):
        if not (out_static[k] is not None and out_static[k] == value.static_shape[k]) and not _is_length_of(
            d, value, k
        ):
            return None
    return value


@local_rewrite(
    "dimshuffle_identity",
    PHASE,
    N(DimShuffle, x),
    proof="structural: the identity permutation moves nothing",
)
def dimshuffle_identity(b):
    """``dimshuffle(x, 0, 1, ..., n-1) -> x``."""
    op = b["node"].op
    return b["x"] if op.new_order == tuple(range(op.input_ndim)) else None


@local_rewrite(
    "dimshuffle_dimshuffle",
    PHASE,
    N(DimShuffle, N(DimShuffle, x, bind="mid")),
    proof="structural: two axis shuffles compose into one",
)
def dimshuffle_dimshuffle(b):
    """Two DimShuffles (``x.T.T``, expand then squeeze, ...) become one, or none."""
    outer, inner = b["node"].op, b["mid"].owner.op
    order = tuple("x" if a == "x" else inner.new_order[a] for a in outer.new_order)
    if order == tuple(range(b["x"].ndim)):
        return b["x"]
    return DimShuffle(b["x"].ndim, order)(b["x"])


# --- reductions ------------------------------------------------------------------------


def _sum_of_sum_proof(*_):
    xs = sympy.Matrix(2, 3, sympy.symbols("x0:6", real=True))
    inner = [sum(xs[i, j] for i in range(2)) for j in range(3)]  # sum over axis 0
    return sum(inner), sum(xs)


@local_rewrite("reduce_of_reduce", PHASE, N(Reduce, N(Reduce, x, bind="mid")), proof=_sum_of_sum_proof)
def reduce_of_reduce(b):
    """``sum(sum(x, a), b) -> sum(x, a + b)`` (also max, min, prod, all, any: one kind, one
    dtype). Sums may round differently (NumPy sums pairwise along the merged axes)."""
    outer, inner = b["node"].op, b["mid"].owner.op
    if outer.kind != inner.kind or b["mid"].dtype != b["out"].dtype:
        return None
    remaining = [a for a in range(b["x"].ndim) if a not in inner.axis]
    merged = tuple(sorted({*inner.axis, *(remaining[a] for a in outer.axis)}))
    return Reduce(outer.kind, merged)(b["x"])


@local_rewrite("reduce_no_axes", PHASE, N(Reduce, x), proof="structural: reducing over no axis copies")
def reduce_no_axes(b):
    """A reduction over no axes (``sum(x, axis=())``) is ``x`` when it keeps the dtype."""
    op = b["node"].op
    return b["x"] if not op.axis and b["x"].dtype == b["out"].dtype else None


# --- shapes without computing the node -------------------------------------------------


def inferred_shape(var: Variable) -> list[Variable] | None:
    """``var``'s shape from its node's ``infer_shape`` on the inputs' shapes, or None when
    the op gives none or its answer reads ``var`` itself."""
    node = var.owner
    if node is None:
        return None
    try:
        shapes = node.op.infer_shape(node, [tuple(shape_dims(i)) for i in node.inputs])
    except NotImplementedError:
        return None
    if shapes is None or shapes[var.index] is None or len(shapes[var.index]) != var.ndim:
        return None
    dims = [cast(as_tensor_variable(d), "int64") for d in shapes[var.index]]
    inputs = {id(i) for i in node.inputs}  # the walk stops there: they cannot read ``var``
    if any(v is var for v in variables_in(dims, stop_at=lambda v: id(v) in inputs)):
        return None
    return dims


@local_rewrite(
    "shape_i_of_node",
    PHASE,
    N(ShapeI, x),
    proof="structural: the op's infer_shape gives the length its perform produces",
)
def shape_i_of_node(b):
    """``x.shape[i]``: the static length, or the node's ``infer_shape`` entry, so the
    length is computed from the inputs' shapes without computing ``x``."""
    i, xv = b["node"].op.i, b["x"]
    if xv.static_shape[i] is not None:
        return make_constant(xv.static_shape[i], dtype="int64")
    dims = inferred_shape(xv)
    return None if dims is None else dims[i]


@local_rewrite(
    "shape_of_node",
    PHASE,
    N(Shape, x),
    proof="structural: the op's infer_shape gives the shape its perform produces",
)
def shape_of_node(b):
    """``x.shape``: a constant when static, else a MakeVector of the inferred lengths."""
    xv = b["x"]
    if None not in xv.static_shape:
        return make_constant(np.array(xv.static_shape, dtype="int64"))
    dims = inferred_shape(xv)
    return None if dims is None else MakeVector("int64")(*dims)
