"""``sg.elemwise_op``: a new elementwise function from a SymPy expression.

The NumPy implementation, the gradient (SymPy derivatives, themselves elementwise ops), the C
expression and the SymPy form all come from the one expression, so the op joins fusion and
every backend like a built-in row of the table.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import sympy

from symgrad.graph.errors import GraphValueError
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import SCALAR_OPS, ScalarOp


class SympyScalarOp(ScalarOp):
    """A scalar op defined by a SymPy expression; pickles by its expression."""

    def __reduce__(self):
        srepr, names = self.params
        return (_from_srepr, (self.name, srepr, names))


def _from_srepr(name: str, srepr: str, names: tuple[str, ...]) -> ScalarOp:
    symbols = [sympy.Symbol(n) for n in names]
    return _build(name, sympy.sympify(srepr), tuple(symbols))


def elemwise_op(name: str, sympy_expr: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> ScalarOp:
    """Make (and register) an elementwise op ``name(*symbols) = sympy_expr``.

    The result is callable on tensors with NumPy broadcasting and is differentiable to any
    order: ``sg.elemwise_op('gauss', sympy.exp(-x**2), [x])(v)``.
    """
    symbols = tuple(symbols)
    if not all(isinstance(s, sympy.Symbol) for s in symbols):
        raise GraphValueError(f"elemwise_op {name!r}: symbols must be sympy Symbols, got {symbols}")
    free = sympy.sympify(sympy_expr).free_symbols - set(symbols)
    if free:
        raise GraphValueError(
            f"elemwise_op {name!r}: the expression uses undeclared symbols {sorted(map(str, free))}"
        )
    op = _build(name, sympy.sympify(sympy_expr), symbols)
    existing = SCALAR_OPS.get(name)
    if existing is not None and existing != op:
        raise GraphValueError(
            f"elemwise_op: an elementwise op named {name!r} already exists with another definition"
        )
    SCALAR_OPS[name] = op
    return op


@functools.cache
def _build(name: str, expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> SympyScalarOp:
    compiled = sympy.lambdify(symbols, expr, modules="numpy")

    def impl(*xs):
        out = np.asarray(compiled(*xs))
        shape = np.broadcast_shapes(*(np.shape(x) for x in xs))
        dtype = np.result_type(*(np.asarray(x).dtype for x in xs), out.dtype)
        return np.broadcast_to(out, shape).astype(dtype)

    def grad(inputs, z, g):
        return [so.mul(g, _derivative(name, expr, symbols, k)(*inputs)) for k in range(len(symbols))]

    return SympyScalarOp(
        name,
        len(symbols),
        impl,
        grad=grad,
        c_expr=_c_expression(expr, symbols),
        sympy=lambda *args: expr.subs(dict(zip(symbols, args)), simultaneous=True),
        params=(sympy.srepr(expr), tuple(s.name for s in symbols)),
    )


def _derivative(name: str, expr: sympy.Expr, symbols: tuple, k: int) -> ScalarOp:
    return _build(f"{name}_d{symbols[k].name}", sympy.diff(expr, symbols[k]), symbols)


def _c_expression(expr: sympy.Expr, symbols: tuple) -> str:
    placeholders = [sympy.Symbol(f"__symgrad_in{k}") for k in range(len(symbols))]
    code = sympy.ccode(expr.subs(dict(zip(symbols, placeholders)), simultaneous=True))
    code = code.replace("{", "{{").replace("}", "}}")
    for k in range(len(symbols)):
        code = code.replace(f"__symgrad_in{k}", f"{{{k}}}")
    return f"({code})"
