"""SymPy proofs of rewrites: the pattern and its replacement as SymPy expressions.

For ``proof="auto"`` the pattern is instantiated on scalar variables, the rewrite is run,
and both graphs are translated to SymPy through each elementwise op's ``sympy`` form.
"""

from __future__ import annotations

from typing import Any

import sympy

from symgrad.graph.basic import Constant, Variable, make_constant
from symgrad.graph.traversal import toposort
from symgrad.graph.types import TensorType
from symgrad.ops.elemwise import SCALAR_OPS, Elemwise
from symgrad.rewrite.engine import RewriteContext
from symgrad.rewrite.pattern import C, OpPattern, Pattern, V
from symgrad.rewrite.registry import LocalRewrite


class NotProvable(Exception):
    """The rewrite cannot be proven automatically (it needs an explicit proof)."""


def proof_expressions(rw: LocalRewrite) -> tuple[sympy.Expr, sympy.Expr]:
    """(lhs, rhs) SymPy expressions whose equality proves ``rw``."""
    if callable(rw.proof):
        return rw.proof()
    if rw.proof != "auto" or rw.pattern is None:
        raise NotProvable(f"{rw.name}: proof is {rw.proof!r}")
    last_error: Exception | None = None
    for dtype in ("float64", "int64"):
        try:
            return _auto(rw, dtype)
        except NotProvable as exc:
            last_error = exc
    raise NotProvable(str(last_error))


def is_proven(rw: LocalRewrite) -> bool:
    lhs, rhs = proof_expressions(rw)
    difference = sympy.simplify(lhs - rhs)
    if difference == 0:
        return True
    return sympy.simplify(sympy.expand_log(sympy.logcombine(difference, force=True), force=True)) == 0


def _auto(rw: LocalRewrite, dtype: str) -> tuple[sympy.Expr, sympy.Expr]:
    inputs: dict[str, Variable] = {}
    out = _instantiate(rw.pattern, inputs, rw.proof_bindings, dtype)
    bindings = rw.pattern.match(out, {"out": out, "node": out.owner, "ctx": RewriteContext()})
    if bindings is None:
        raise NotProvable(f"{rw.name}: the pattern does not match its own instance")
    new = rw.build(bindings)
    if new is None:
        raise NotProvable(f"{rw.name}: declined its own pattern for {dtype} inputs")
    if isinstance(new, dict):
        new = new[out]
    symbols = {id(v): _symbol(name, rw.proof_bindings) for name, v in inputs.items()}
    return to_sympy(out, symbols), to_sympy(new, symbols)


def _symbol(name: str, given: dict) -> sympy.Expr:
    value = given.get(name)
    if isinstance(value, sympy.Basic):
        return value
    return sympy.Symbol(name, real=True)


def _instantiate(p: Pattern, inputs: dict, given: dict, dtype: str) -> Variable:
    if isinstance(p, V):
        if p.name not in inputs:
            inputs[p.name] = TensorType(dtype, ())(p.name)
        return inputs[p.name]
    if isinstance(p, C):
        value = p.value if p.value is not None else given.get(p.name)
        if value is None or isinstance(value, sympy.Basic):
            raise NotProvable(f"constant {p.name!r} needs a numeric value in proof_bindings")
        return make_constant(value, dtype=dtype if isinstance(value, int) else "float64")
    if isinstance(p, OpPattern) and isinstance(p.key, tuple) and p.key[0] == "elemwise":
        from_table = _scalar_op(p.key[1])
        return from_table(*[_instantiate(a, inputs, given, dtype) for a in p.args])
    raise NotProvable(f"pattern {p!r} is not elementwise; give an explicit proof")


def _scalar_op(name: str):
    return SCALAR_OPS[name]


def to_sympy(var: Variable, symbols: dict[int, sympy.Expr]) -> sympy.Expr:
    """Translate an elementwise graph over the proof's inputs to SymPy."""
    values = dict(symbols)
    for node in toposort([var], stop_at=lambda v: id(v) in symbols):
        if not isinstance(node.op, Elemwise) or node.op.scalar_op.sympy is None:
            raise NotProvable(f"{node.op} has no SymPy form")
        args = [_leaf(i, values) for i in node.inputs]
        values[id(node.outputs[0])] = node.op.scalar_op.sympy(*args)
    return _leaf(var, values)


def _leaf(v: Variable, values: dict) -> Any:
    if id(v) in values:
        return values[id(v)]
    if isinstance(v, Constant) and v.data.size == 1:
        return sympy.nsimplify(v.data.item())
    raise NotProvable(f"{v} is not a scalar input of the proof")
