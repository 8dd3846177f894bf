"""Fused elementwise code: ``Composite``, a scalar op whose body is a small DAG of scalar ops,
and ``FusedReduce``, a reduction of a composite in one pass.

The fusion passes (symgrad/rewrite/fusion.py) build them after gradients. The body keeps the
scalar-op composition, so every backend can generate one loop from it: NumPy evaluates it step
by step (``compute``, the reference), the C backend renders it with ``c_body``, proofs use
``sympy``.

Body description (``Composite.params``, hashable and picklable, so equal bodies merge):
``(input_dtypes, steps, literals, output)`` where each step is ``(scalar_op, refs, dtype)``
in evaluation order, a ref is ``("i", k)`` (composite input k), ``("s", k)`` (step k's
value) or ``("c", k)`` (literal k), each literal is ``(dtype, raw bytes)`` of a 0-d
constant, and ``output`` is the ref of the result. Each step's result has exactly its
recorded dtype, as the unfused ``Elemwise`` node had, so fused values are bit-identical.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import sympy

from symgrad.graph.basic import Apply, Op, Variable
from symgrad.graph.types import C_TYPES
from symgrad.ops.elemwise import SCALAR_OP_FACTORIES, ScalarOp, elemwise_of
from symgrad.ops.reduce import Reduce

Ref = tuple[str, int]
Step = tuple[ScalarOp, tuple[Ref, ...], str]

_INFIX = {"add": ("+", 1), "sub": ("-", 1), "mul": ("*", 2), "true_divide": ("/", 2), "pow": ("**", 4)}
_SHORT_NAMES = {"square": "sqr"}
_MAX_STR = 160  # characters of one rendered subexpression before it is abbreviated


class CBody(NamedTuple):
    """A composite's per-element C: statements, one result expression per output, and the
    C conditions that flag a NumPy error (the shape of symgrad/codegen's ``ScalarCode``)."""

    statements: tuple[str, ...]
    results: tuple[str, ...]
    errors: tuple[str, ...] = ()


def _unset(*args: Any) -> Any:
    raise AssertionError("Composite.impl is set in __post_init__")


def _no_grad(inputs, out, g):
    raise NotImplementedError(
        "a Composite (fused elementwise node) has no gradient: fusion runs after gradients "
        "are built, so differentiate the unfused graph"
    )


def _releases(steps: Sequence, output: Ref) -> tuple[tuple[int, ...], ...]:
    """For each step, the earlier steps last read there (the output step is never released)."""
    last_read: dict[int, int] = {}
    for k, (_, refs, _) in enumerate(steps):
        for kind, j in refs:
            if kind == "s":
                last_read[j] = k
    releases: list[list[int]] = [[] for _ in steps]
    for j, k in last_read.items():
        if not (output[0] == "s" and output[1] == j):
            releases[k].append(j)
    return tuple(tuple(r) for r in releases)


@dataclass(frozen=True, eq=False)
class Composite(ScalarOp):
    """Several scalar ops evaluated as one elementwise function (see the module docstring).

    Build with ``make_composite``; equality and hashing come from ``params`` (the body).
    """

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "impl", self._impl)
        setattr_(self, "grad", _no_grad)
        has_sympy = all(op.sympy is not None for op, _, _ in self.steps)
        setattr_(self, "sympy", self._sympy if has_sympy else None)
        setattr_(self, "literal_values", tuple(_literal_array(d, raw) for d, raw in self.literals))
        setattr_(self, "releases", _releases(self.steps, self.output))

    # -- the description ---------------------------------------------------------------------
    input_dtypes = property(lambda self: self.params[0])
    steps = property(lambda self: self.params[1])
    literals = property(lambda self: self.params[2])
    output = property(lambda self: self.params[3])

    @property
    def dtype(self) -> str:
        """The result's dtype (the last step's)."""
        return self.steps[self.output[1]][2]

    # -- NumPy (the reference) ----------------------------------------------------------------
    def compute(self, inputs: Sequence[np.ndarray], dtype: str, out: np.ndarray | None = None) -> np.ndarray:
        """Evaluate the body step by step; the result step writes into ``out`` when given."""
        values: list[np.ndarray] = []
        last = self.output[1]
        for k, (op, refs, step_dtype) in enumerate(self.steps):
            args = [self._fetch(r, inputs, values) for r in refs]
            target = out if k == last == len(self.steps) - 1 and step_dtype == dtype else None
            values.append(op.compute(args, step_dtype, target))
            for j in self.releases[k]:
                values[j] = None  # freed memory is reused by the next step: no fresh pages
        result = values[last]
        return result if result.dtype.name == dtype else result.astype(dtype)

    def _impl(self, *inputs: np.ndarray) -> np.ndarray:
        return self.compute(inputs, self.dtype)

    def _fetch(self, ref: Ref, inputs: Sequence[np.ndarray], values: list[np.ndarray]) -> np.ndarray:
        kind, k = ref
        if kind == "i":
            return inputs[k]
        if kind == "s":
            return values[k]
        return self.literal_values[k]

    # -- SymPy ----------------------------------------------------------------------------
    def _sympy(self, *symbols: Any) -> Any:
        values: list[Any] = []
        literals = [sympy.sympify(v.item()) for v in self.literal_values]
        pick = {"i": symbols, "s": values, "c": literals}
        for op, refs, _ in self.steps:
            values.append(op.sympy(*(pick[kind][k] for kind, k in refs)))
        return pick[self.output[0]][self.output[1]]

    # -- C ------------------------------------------------------------------------------------
    def c_body(
        self,
        names: Sequence[str],
        input_dtypes: Sequence[str],
        output_dtypes: Sequence[str],
        render: Callable[[ScalarOp, Sequence[str], Sequence[str], str], Any],
        ctype_of: Callable[[str], str] | None = None,
    ) -> CBody:
        """The per-element code for a compiled loop (symgrad/codegen calls it).

        ``names[k]``: the C value of input k's current element; ``render(op, args,
        arg_dtypes, out_dtype)``: the backend's C for one scalar op, an object with ``expr``
        and ``error`` (a C condition flagging a NumPy error, or None). Each step becomes
        ``const <ctype> sg_t<k> = (<ctype>)(<expr>);`` in the step's own dtype, so every
        intermediate rounds exactly as the unfused nodes did; the result is the output
        step's local. ``ctype_of`` maps dtypes to C types (default: ``C_TYPES``).
        """
        ctype = ctype_of or C_TYPES.__getitem__
        statements: list[str] = []
        errors: list[str] = []
        values = {"i": list(names), "s": [], "c": [_c_literal(v, ctype) for v in self.literal_values]}
        dtypes = {
            "i": list(input_dtypes),
            "s": [d for _, _, d in self.steps],
            "c": [d for d, _ in self.literals],
        }
        for k, (op, refs, dtype) in enumerate(self.steps):
            args = [values[kind][i] for kind, i in refs]
            arg_dtypes = [dtypes[kind][i] for kind, i in refs]
            code = render(op, args, arg_dtypes, dtype)
            statements.append(f"const {ctype(dtype)} sg_t{k} = ({ctype(dtype)})({code.expr});")
            if code.error:
                errors.append(code.error)
            values["s"].append(f"sg_t{k}")
        result = values[self.output[0]][self.output[1]]
        return CBody(tuple(statements), (result,), tuple(errors))

    # -- printing -----------------------------------------------------------------------------
    def __str__(self) -> str:
        return f"Composite{{{self.formula()}}}"

    __repr__ = __str__

    def formula(self) -> str:
        """The body as one readable expression over ``i0, i1, ...``."""
        texts: list[tuple[str, int]] = []
        literals = [(_literal_text(v), 5) for v in self.literal_values]
        inputs = [(f"i{k}", 5) for k in range(len(self.input_dtypes))]
        pick = {"i": inputs, "s": texts, "c": literals}
        for op, refs, _ in self.steps:
            texts.append(_render(op, [pick[kind][k] for kind, k in refs]))
        return pick[self.output[0]][self.output[1]][0]


@functools.cache
def make_composite(
    input_dtypes: tuple[str, ...], steps: tuple[Step, ...], literals: tuple, output: Ref
) -> Composite:
    """The composite with this body (cached: equal bodies give the same object)."""
    if output[0] != "s":
        raise ValueError("a composite's output must be one of its steps")
    return Composite(
        "composite",
        len(input_dtypes),
        _unset,
        params=(tuple(input_dtypes), tuple(steps), tuple(literals), output),
        promote=(),  # each step promotes its own inputs, exactly as the unfused nodes did
    )


SCALAR_OP_FACTORIES["composite"] = make_composite  # pickling rebuilds from the description


def _literal_array(dtype: str, raw: bytes) -> np.ndarray:
    value = np.frombuffer(raw, dtype=dtype).reshape(()).copy()
    value.setflags(write=False)
    return value


def _literal_text(value: np.ndarray) -> str:
    item = value.item()
    return repr(item) if not isinstance(item, float) or math.isfinite(item) else str(item)


def _render(op: ScalarOp, args: list[tuple[str, int]]) -> tuple[str, int]:
    """Infix text (with precedence) for arithmetic, ``name(args)`` otherwise."""
    if op.name in _INFIX and len(args) >= 2:
        symbol, prec = _INFIX[op.name]
        parts = [args[0][0] if args[0][1] >= prec else f"({args[0][0]})"]
        for text, p in args[1:]:
            tight = p > prec or (p == prec and op.name in ("add", "mul"))
            parts.append(text if tight else f"({text})")
        return _abbreviate(symbol.join(parts)), prec
    if op.name == "neg":
        text, p = args[0]
        return _abbreviate("-" + (text if p >= 3 else f"({text})")), 3
    name = _SHORT_NAMES.get(op.name, str(op))
    return _abbreviate(f"{name}({','.join(t for t, _ in args)})"), 5


def _abbreviate(text: str) -> str:
    return text if len(text) <= _MAX_STR else text[: _MAX_STR - 3] + "..."


def _c_literal(value: np.ndarray, ctype: Callable[[str], str]) -> str:
    item = value.item()
    if isinstance(item, float):
        if math.isnan(item):
            text = "NAN"
        elif math.isinf(item):
            text = "INFINITY" if item > 0 else "(-INFINITY)"
        else:
            text = repr(item)
    else:
        text = str(int(item))
    return f"(({ctype(value.dtype.name)}){text})"


class FusedReduce(Op):
    """``Reduce(kind, axis)`` of an elementwise ``scalar_op`` (usually a Composite) in one
    node: ``sum(exp(x - m))`` without the intermediate array in compiled backends. Mode 'py'
    evaluates the elementwise part, then reduces with ``Reduce``'s own rules and errors."""

    __props__ = ("scalar_op", "kind", "axis")

    def __init__(self, scalar_op: ScalarOp, kind: str, axis: tuple[int, ...]) -> None:
        self.scalar_op = scalar_op
        self.kind = kind
        self.axis = tuple(axis)
        self.reduce = Reduce(kind, self.axis)

    def __str__(self) -> str:
        return f"{self.reduce}({self.scalar_op})"

    def make_node(self, *inputs: Any) -> Apply:
        elem = elemwise_of(self.scalar_op).make_node(*inputs)
        reduced = self.reduce.make_node(elem.outputs[0])
        return Apply(self, elem.inputs, [reduced.outputs[0].type()])

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list[list]) -> None:
        dtype = self.scalar_op.output_dtype(tuple(v.dtype for v in node.inputs))
        values = self.scalar_op.compute(inputs, dtype)
        self.reduce.perform(node, [values], output_storage)

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        elem = elemwise_of(self.scalar_op).make_node(*node.inputs)
        (shape,) = elem.op.infer_shape(elem, input_shapes)
        return [tuple(s for a, s in enumerate(shape) if a not in self.axis)]

    def L_op(self, inputs: list[Variable], outputs, output_grads):
        raise NotImplementedError(
            f"{self} has no gradient: fusion runs after gradients are built, so differentiate "
            "the unfused graph"
        )
