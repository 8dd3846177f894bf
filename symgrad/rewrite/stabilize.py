"""Numerical-stability rewrites (phase ``stabilize``).

Each rewrite replaces a formula that overflows, underflows or cancels with an equal one that
does not: ``log(1 + x) -> log1p(x)``, ``exp(x) - 1 -> expm1(x)``, ``log(1 + exp(x)) ->
softplus(x)``, ``log(sigmoid(x)) -> -softplus(-x)``, ``log(1 - sigmoid(x)) -> -softplus(x)``,
``log(softmax(x)) -> log_softmax(x)``, ``log(sum(exp(x))) -> logsumexp(x)`` (max subtracted)
and ``-log(softmax(z)[t]) -> crossentropy_softmax(z, t)``.

``sg.grad`` runs before any rewrite, so the gradients of the unstable forms are already in
the graph, e.g. ``g / sigmoid(x) * sigmoid(x) * (1 - sigmoid(x))`` for ``log(sigmoid(x))``:
0/0 = NaN once ``sigmoid(x)`` underflows. The gradient rewrites below recognise these shapes
and remove the NaN that the exact math does not have: ``stabilize_cancel`` cancels a
saturating factor against itself (and ``exp(x) / (1 + exp(x))`` into ``sigmoid(x)``),
``stabilize_logsumexp_grad`` and ``stabilize_log_softmax_grad`` give the softmax-weighted
gradients, ``stabilize_crossentropy_grad`` gives ``softmax(z) - onehot(t)``.
"""

from __future__ import annotations

import sympy

from symgrad.graph.basic import Apply, Constant, Variable, make_constant
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import DimShuffle, dimshuffle
from symgrad.ops.elemwise import Elemwise, cast, second
from symgrad.ops.nn_ops import (
    LogSoftmax,
    OneHot,
    PickClass,
    Softmax,
    SoftmaxGrad,
    crossentropy_softmax,
    like,
    log_softmax_grad,
)
from symgrad.ops.reduce import Reduce
from symgrad.rewrite.pattern import E, N, Pattern, V, node_key
from symgrad.rewrite.registry import local_rewrite
from symgrad.rewrite.util import is_elemwise, scalar_constant_value
from symgrad.tensor import math as tm

PHASE = "stabilize"
x, g, t = V("x"), V("g"), V("t")


def keep_shape(new: Variable, node: Apply) -> Variable:
    """``new`` broadcast to the shape of ``node``'s output (``exp(x) - ones((3, 3))`` is 3x3
    even when ``x`` is a vector). (``rewrite.util.keep_shape`` calls a missing
    ``so.second``; this one uses ``elemwise.second``.)"""
    leaves = [new]
    for other in node.inputs:
        if not _covered_leaf(other, leaves):
            new = second(other, new)
            leaves.append(other)
    return new


# --- forward formulas ------------------------------------------------------------------------


@local_rewrite("stabilize_log1p", PHASE, E.log(E.add(1, x, bind="sum")))
def log1p(b):
    """``log(1 + x) -> log1p(x)``: exact for tiny ``x`` (``log(1 + 1e-20)`` is 0)."""
    return keep_shape(so.log1p(b["x"]), b["sum"].owner)


@local_rewrite("stabilize_expm1", PHASE, E.sub(E.exp(x), 1))
def expm1(b):
    """``exp(x) - 1 -> expm1(x)``: exact for tiny ``x`` (``exp(1e-20) - 1`` is 0)."""
    return keep_shape(so.expm1(b["x"]), b["node"])


@local_rewrite("stabilize_expm1_add", PHASE, E.add(E.exp(x), -1))
def expm1_add(b):
    """``exp(x) + (-1) -> expm1(x)``."""
    return keep_shape(so.expm1(b["x"]), b["node"])


@local_rewrite("stabilize_softplus", PHASE, E.log(E.add(1, E.exp(x), bind="sum")))
def softplus(b):
    """``log(1 + exp(x)) -> softplus(x)``: ``x`` (not inf) for large ``x``."""
    return keep_shape(so.softplus(b["x"]), b["sum"].owner)


@local_rewrite("stabilize_softplus_log1p", PHASE, E.log1p(E.exp(x)))
def softplus_log1p(b):
    """``log1p(exp(x)) -> softplus(x)`` (after ``log1p`` fired first)."""
    return so.softplus(b["x"])


@local_rewrite("stabilize_log_sigmoid", PHASE, E.log(E.sigmoid(x)))
def log_sigmoid(b):
    """``log(sigmoid(x)) -> -softplus(-x)``: ``x`` (not -inf) for very negative ``x``."""
    return so.neg(so.softplus(so.neg(b["x"])))


@local_rewrite("stabilize_log1m_sigmoid", PHASE, E.log(E.sub(1, E.sigmoid(x), bind="diff")))
def log1m_sigmoid(b):
    """``log(1 - sigmoid(x)) -> -softplus(x)``: ``-x`` (not -inf) for large ``x``."""
    return keep_shape(so.neg(so.softplus(b["x"])), b["diff"].owner)


def _softmax_proof():
    """Two classes: ``log(softmax(x))[0] == log_softmax(x)[0]``."""
    x0, x1 = sympy.symbols("x0 x1", real=True)
    total = sympy.exp(x0) + sympy.exp(x1)
    return sympy.log(sympy.exp(x0) / total), x0 - sympy.log(total)


@local_rewrite("stabilize_log_softmax", PHASE, E.log(N(Softmax, x, bind="sm")), proof=_softmax_proof)
def log_softmax(b):
    """``log(softmax(x)) -> log_softmax(x)``: finite where softmax underflows to 0."""
    return LogSoftmax(b["sm"].owner.op.axis)(b["x"])


def _peel_shift(v: Variable) -> Variable:
    """The max under a shift ``stop_gradient(where(isinf(m), 0, m))`` with dimshuffles."""
    while v.owner is not None:
        node = v.owner
        if isinstance(node.op, DimShuffle) or is_elemwise(v, "zero_grad") or is_elemwise(v, "cast"):
            v = node.inputs[0]
        elif is_elemwise(v, "where"):
            v = node.inputs[2]
        elif is_elemwise(v, "neg"):
            v = node.inputs[0]
        else:
            break
    return v


def _is_shifted(v: Variable) -> bool:
    """True for ``y - max(y)`` (any max-like reduction of ``y``): already stable."""
    if not (is_elemwise(v, "sub") or is_elemwise(v, "add")) or len(v.owner.inputs) != 2:
        return False
    y, m = v.owner.inputs
    m = _peel_shift(m)
    return m.owner is not None and isinstance(m.owner.op, Reduce) and m.owner.op.kind.startswith("max")


def _logsumexp_proof():
    """Two elements, any finite shift ``m``: ``log(e0 + e1) == log(exp(x0-m) + exp(x1-m)) + m``."""
    x0, x1, m = sympy.symbols("x0 x1 m", real=True)
    lhs = sympy.log(sympy.exp(x0) + sympy.exp(x1))
    return lhs, sympy.log(sympy.exp(x0 - m) + sympy.exp(x1 - m)) + m


@local_rewrite(
    "stabilize_logsumexp", PHASE, E.log(N(Reduce, E.exp(x), bind="total", kind="sum")), proof=_logsumexp_proof
)
def logsumexp(b):
    """``log(sum(exp(x))) -> logsumexp(x)`` with the max subtracted: ``logsumexp([1000,
    1000])`` is ``1000 + log 2``, not inf."""
    if _is_shifted(b["x"]) or b["x"].dtype not in ("float32", "float64"):
        return None
    return tm.logsumexp(b["x"], b["total"].owner.op.axis)


def _softmax_shift_proof():
    """Two classes, any finite shift ``m``: ``exp(x0-m) / (exp(x0-m) + exp(x1-m))`` is
    ``softmax(x)[0]``."""
    x0, x1, m = sympy.symbols("x0 x1 m", real=True)
    shifted = sympy.exp(x0 - m) / (sympy.exp(x0 - m) + sympy.exp(x1 - m))
    return shifted, sympy.exp(x0) / (sympy.exp(x0) + sympy.exp(x1))


def _kept_axis_sum(total: Variable, e: Variable) -> int | None:
    """The axis ``a`` when ``total`` is ``sum(e, axis=a, keepdims=True)`` (a dimshuffle putting
    the summed axis back in place), else None."""
    if total.owner is None or not isinstance(total.owner.op, DimShuffle):
        return None
    reduced = total.owner.inputs[0]
    node = reduced.owner
    if node is None or not isinstance(node.op, Reduce) or node.op.kind != "sum" or node.inputs[0] is not e:
        return None
    if len(node.op.axis) != 1:
        return None
    (axis,) = node.op.axis
    expected = tuple("x" if a == axis else a - (a > axis) for a in range(e.ndim))
    return axis if tuple(total.owner.op.new_order) == expected else None


def _unshifted(z: Variable, axis: int) -> Variable:
    """``y`` for ``z = y - max(y, axis)`` (any dimshuffle of the max), else ``z``."""
    if not _is_shifted(z):
        return z
    y, m = z.owner.inputs
    m = _peel_shift(m)
    return y if m.owner.inputs[0] is y and tuple(m.owner.op.axis) == (axis,) and is_elemwise(z, "sub") else z


@local_rewrite(
    "stabilize_softmax", PHASE, E.true_divide(E.exp(x, bind="e"), V("total")), proof=_softmax_shift_proof
)
def softmax_from_exp(b):
    """``exp(z) / sum(exp(z), axis, keepdims=True) -> softmax(z, axis)``, and the same with
    ``z = y - max(y)`` written out: one op that subtracts the max itself (stable) and reads its
    input twice instead of four passes over memory."""
    e, z = b["e"], b["x"]
    axis = _kept_axis_sum(b["total"], e)
    if axis is None or e.dtype not in ("float32", "float64") or z.dtype != e.dtype:
        return None
    return Softmax(axis)(_unshifted(z, axis))


def _crossentropy_proof():
    """Two classes, target 0: ``-log(softmax(z)[0]) == -log_softmax(z)[0]``."""
    lhs, rhs = _softmax_proof()
    return -lhs, -rhs


@local_rewrite(
    "stabilize_crossentropy_softmax",
    PHASE,
    E.neg(E.log(N(PickClass, N(Softmax, x, bind="sm"), t))),
    proof=_crossentropy_proof,
)
def fuse_crossentropy_softmax(b):
    """``-log(softmax(z)[..., t]) -> crossentropy_softmax(z, t)`` (one stable op)."""
    if b["sm"].owner.op.axis != b["x"].ndim - 1:
        return None
    return crossentropy_softmax(b["x"], b["t"])


# --- gradient graphs -------------------------------------------------------------------------

_LEAF_LIMIT = 64


def _float_node(v: Variable) -> bool:
    return v.dtype in ("float32", "float64") and all(
        i.dtype in ("float32", "float64") for i in v.owner.inputs
    )


def _factors(v: Variable) -> tuple[int, list[Variable], list[Variable]] | None:
    """``v`` as ``sign * prod(num) / prod(den)`` through mul, true_divide and neg."""
    sign, num, den = 1, [], []
    stack = [(v, False)]
    while stack:
        var, inverted = stack.pop()
        if len(num) + len(den) > _LEAF_LIMIT:
            return None
        if is_elemwise(var, "mul") and _float_node(var):
            stack.extend((i, inverted) for i in var.owner.inputs)
        elif is_elemwise(var, "true_divide") and _float_node(var):
            a, d = var.owner.inputs
            stack.extend([(a, inverted), (d, not inverted)])
        elif is_elemwise(var, "neg") and _float_node(var):
            sign = -sign
            stack.append((var.owner.inputs[0], inverted))
        else:
            (den if inverted else num).append(var)
    return sign, num, den


def same(a: Variable, b: Variable, limit: int = 32) -> bool:
    """Structural equality: equal ops on structurally equal inputs, equal constants."""
    stack = [(a, b)]
    while stack:
        limit -= 1
        if limit < 0:
            return False
        u, v = stack.pop()
        if u is v:
            continue
        if isinstance(u, Constant) and isinstance(v, Constant):
            if u.data.shape != v.data.shape or not (u.data == v.data).all():
                return False
            continue
        nu, nv = u.owner, v.owner
        if nu is None or nv is None or nu.op != nv.op or len(nu.inputs) != len(nv.inputs):
            return False
        if nu.outputs.index(u) != nv.outputs.index(v):
            return False
        stack.extend(zip(nu.inputs, nv.inputs))
    return True


def _saturates(v: Variable) -> bool:
    """True for values that under/overflow to 0 or inf: sigmoid, exp, softmax, and
    ``c - s``, ``c + s``, ``-s`` or a picked/dimshuffled ``s`` of those."""
    for _ in range(8):
        node = v.owner
        if node is None:
            return False
        if is_elemwise(v, "sigmoid") or is_elemwise(v, "exp") or isinstance(node.op, Softmax):
            return True
        if isinstance(node.op, (PickClass, DimShuffle)) or is_elemwise(v, "neg"):
            v = node.inputs[0]
        elif (is_elemwise(v, "sub") or is_elemwise(v, "add")) and len(node.inputs) == 2:
            consts = [i for i in node.inputs if isinstance(i, Constant)]
            if len(consts) != 1:
                return False
            v = node.inputs[1] if consts[0] is node.inputs[0] else node.inputs[0]
        else:
            return False
    return False


def _one_plus_exp_of(d: Variable, e: Variable) -> bool:
    """True when ``d`` is ``1 + e`` (either order) and ``e`` is ``exp(...)``."""
    if not is_elemwise(e, "exp") or not is_elemwise(d, "add") or len(d.owner.inputs) != 2:
        return False
    a, c = d.owner.inputs
    if scalar_constant_value(a) != 1:
        a, c = c, a
    return scalar_constant_value(a) == 1 and same(c, e)


def _cancel(num: list[Variable], den: list[Variable]) -> list[Variable] | None:
    """Cancel one saturating factor against the denominator; returns the removed leaves."""
    for i, n in enumerate(num):
        for j, d in enumerate(den):
            if _saturates(n) and same(n, d):
                removed = [num.pop(i), den.pop(j)]
                return removed
            if _one_plus_exp_of(d, n):
                num[i] = so.sigmoid(n.owner.inputs[0])
                return [n, den.pop(j)]
    return None


def _cancel_all(num: list[Variable], den: list[Variable]) -> list[Variable]:
    removed: list[Variable] = []
    while (r := _cancel(num, den)) is not None:
        removed.extend(r)
    return removed


def _covered(r: Variable, leaves: list[Variable]) -> bool:
    """True when some remaining leaf surely has at least ``r``'s shape."""
    for leaf in leaves:
        if leaf is r or (
            leaf.owner is not None and isinstance(leaf.owner.op, Elemwise) and r in leaf.owner.inputs
        ):
            return True
        if leaf.ndim >= r.ndim and all(
            rs == 1 or (rs is not None and rs == ls)
            for rs, ls in zip(r.static_shape, leaf.static_shape[leaf.ndim - r.ndim :])
        ):
            return True
    return False


def _covered_leaf(r: Variable, leaves: list[Variable]) -> bool:
    if _covered(r, leaves):
        return True
    node = r.owner
    return (
        node is not None
        and isinstance(node.op, Elemwise)
        and all(_covered(i, leaves) or (isinstance(i, Constant) and i.ndim == 0) for i in node.inputs)
    )


def _rebuild(sign: int, num: list[Variable], den: list[Variable], removed: list[Variable]) -> Variable:
    out = so.mul(*num) if len(num) > 1 else num[0] if num else make_constant(1.0)
    if den:
        out = so.true_divide(out, so.mul(*den) if len(den) > 1 else den[0])
    if sign < 0:
        out = so.neg(out)
    leaves = num + den
    for r in removed:
        if not _covered_leaf(r, leaves):
            out = second(r, out)
            leaves.append(r)
    return out


def _distribute(num: list[Variable], den: list[Variable]) -> Variable | None:
    """``(a/s + b/(1-s)) * s * (1-s)``: distribute a sum factor when that lets its terms
    cancel (the gradient of a cross-entropy of a sigmoid adds both logs' gradients)."""
    for k, n in enumerate(num):
        if not (is_elemwise(n, "add") or is_elemwise(n, "sub")) or not _float_node(n):
            continue
        rest = num[:k] + num[k + 1 :]
        terms, fired = [], False
        for idx, term in enumerate(n.owner.inputs):
            factors = _factors(term)
            if factors is None:
                return None
            sign, tnum, tden = factors
            if is_elemwise(n, "sub") and idx == 1:
                sign = -sign
            tnum, tden = tnum + rest, tden + den
            removed = _cancel_all(tnum, tden)
            fired = fired or bool(removed)
            terms.append(_rebuild(sign, tnum, tden, removed + [n]))
        if fired:
            return so.add(*terms)
    return None


def _cancel_build(b):
    factors = _factors(b["out"])
    if factors is None:
        return None
    sign, num, den = factors
    removed = _cancel_all(num, den)
    if removed:
        return _rebuild(sign, num, den, removed)
    return _distribute(num, den)


def _cancel_proof():
    """Representative cancellations: ``g / s * s * (1 - s)`` and ``g / (1 + e) * e``."""
    g_, s_, e_ = sympy.symbols("g s e", positive=True)
    return g_ / s_ * s_ * (1 - s_) + g_ / (1 + e_) * e_, g_ * (1 - s_) + g_ * e_ / (1 + e_)


class _AnyElemwise(Pattern):
    """Any node of one elementwise op, whatever its number of inputs (variadic mul)."""

    def __init__(self, name: str) -> None:
        self.key = ("elemwise", name)

    def root_key(self):
        return self.key

    def match(self, var, bindings):
        return bindings if var.owner is not None and node_key(var.owner) == self.key else None


@local_rewrite("stabilize_cancel", PHASE, _AnyElemwise("mul"), proof=_cancel_proof)
def cancel_mul(b):
    """Stabilization: cancels a saturating factor (sigmoid, exp, softmax, 1 - sigmoid) against
    itself in a product, and ``exp(x) / (1 + exp(x))`` to ``sigmoid(x)``. It removes the 0/0
    and inf/inf NaN of gradient graphs (``g / s * s * (1 - s)`` for ``log(sigmoid(x))``), a
    NaN the exact math does not have."""
    return _cancel_build(b)


@local_rewrite("stabilize_cancel_div", PHASE, _AnyElemwise("true_divide"), proof=_cancel_proof)
def cancel_div(b):
    """``stabilize_cancel`` for a quotient at the root: ``(g * e) / (1 + e) -> g * sigmoid``."""
    return _cancel_build(b)


def _logsumexp_grad_proof():
    """Two elements, any finite shift ``m``: ``g / (e0 + e1) * e0`` is ``g`` times the
    softmax weight ``exp(x0 - lse)`` with ``lse = log(sum(exp(x - m))) + m``."""
    g_, x0, x1, m = sympy.symbols("g x0 x1 m", real=True)
    total = sympy.exp(x0) + sympy.exp(x1)
    lse = sympy.log(sympy.exp(x0 - m) + sympy.exp(x1 - m)) + m
    return g_ / total * sympy.exp(x0), g_ * sympy.exp(x0 - lse)


@local_rewrite(
    "stabilize_logsumexp_grad",
    PHASE,
    E.mul(
        E.second(
            V("e_shape"),
            N(DimShuffle, E.true_divide(g, N(Reduce, V("e_sum"), bind="total", kind="sum")), bind="ds"),
        ),
        E.exp(x, bind="e"),
    ),
    proof=_logsumexp_grad_proof,
)
def logsumexp_grad(b):
    """The gradient of ``log(sum(exp(x)))``, ``g / sum(exp(x)) * exp(x)`` (inf/inf for large
    ``x``), becomes ``g * exp(x - logsumexp(x))``: the softmax weights, computed stably."""
    e, total, ds = b["e"], b["total"], b["ds"]
    if b["e_shape"] is not e or b["e_sum"] is not e or e.dtype not in ("float32", "float64"):
        return None
    axes = total.owner.op.axis
    lse = tm.logsumexp(b["x"], axes, keepdims=True)
    weights = so.exp(so.sub(b["x"], lse))
    g_full = b["g"] if b["g"].static_shape == total.static_shape else second(total, b["g"])
    return so.mul(second(e, ds.owner.op(g_full)), weights)


def _log_softmax_grad_proof():
    """Two classes, component 0: ``softmax_grad(g / sm, sm) == g - sm * sum(g)``."""
    g0, g1, x0, x1 = sympy.symbols("g0 g1 x0 x1", real=True)
    total = sympy.exp(x0) + sympy.exp(x1)
    sm0, sm1 = sympy.exp(x0) / total, sympy.exp(x1) / total
    dy0, dy1 = g0 / sm0, g1 / sm1
    return sm0 * (dy0 - (dy0 * sm0 + dy1 * sm1)), g0 - sm0 * (g0 + g1)


@local_rewrite(
    "stabilize_log_softmax_grad",
    PHASE,
    N(SoftmaxGrad, E.true_divide(g, V("sm_den")), N(Softmax, x, bind="sm")),
    proof=_log_softmax_grad_proof,
)
def log_softmax_grad_rewrite(b):
    """The gradient of ``log(softmax(x))``, ``softmax_grad(g / sm, sm)`` (0 * inf where sm
    underflows), becomes the log-softmax gradient ``g - sm * sum(g)``."""
    sm = b["sm"]
    if b["sm_den"] is not sm:
        return None
    return log_softmax_grad(like(b["g"], sm), sm, b["node"].op.axis)


def _crossentropy_grad_proof():
    """Two classes, target 0, component 0 and 1 summed with weights: the gradient of
    ``-log(softmax(z)[0])`` through softmax_grad is ``softmax(z) - onehot``."""
    g_, x0, x1 = sympy.symbols("g x0 x1", real=True)
    total = sympy.exp(x0) + sympy.exp(x1)
    sm0, sm1 = sympy.exp(x0) / total, sympy.exp(x1) / total
    dy0, dy1 = g_ / sm0, 0  # onehot * g / sm[t]
    s = dy0 * sm0 + dy1 * sm1
    lhs = sm0 * (dy0 - s) + 2 * sm1 * (dy1 - s)
    return lhs, g_ * (1 - sm0) + 2 * g_ * (0 - sm1)


@local_rewrite(
    "stabilize_crossentropy_grad",
    PHASE,
    N(
        SoftmaxGrad,
        E.mul(
            N(OneHot, t, V("depth"), bind="hot"),
            N(DimShuffle, E.true_divide(g, N(PickClass, V("sm_pick"), t))),
        ),
        N(Softmax, x, bind="sm"),
    ),
    proof=_crossentropy_grad_proof,
)
def crossentropy_grad(b):
    """The gradient of ``log(softmax(z)[t])``, ``softmax_grad(onehot * g / sm[t], sm)``
    (0 * inf where sm[t] underflows), becomes ``g * (onehot - sm)``."""
    sm, hot = b["sm"], b["hot"]
    if b["sm_pick"] is not sm or b["node"].op.axis != sm.ndim - 1:
        return None
    gd = dimshuffle(b["g"], *range(b["g"].ndim), "x")
    return so.mul(gd, so.sub(cast(hot, sm.dtype), sm))
