"""Random expression graphs: compiled values and gradients against NumPy and finite differences."""

from __future__ import annotations

import numpy as np
from helpers import numeric_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad as sg

SHAPES = [(), (3,), (2, 3), (1, 3), (2, 1)]
UNARY = {
    "sin": (sg.sin, np.sin),
    "tanh": (sg.tanh, np.tanh),
    "sigmoid": (sg.sigmoid, lambda v: 1 / (1 + np.exp(-v))),
    "square": (sg.square, np.square),
    "softplus": (sg.softplus, lambda v: np.logaddexp(0, v)),
    "exp_tanh": (lambda v: sg.exp(sg.tanh(v)), lambda v: np.exp(np.tanh(v))),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0)),
    "max": (sg.maximum, np.maximum),
}
REDUCE = {
    "sum": (lambda v: v.sum(axis=-1, keepdims=True), lambda v: v.sum(axis=-1, keepdims=True)),
    "mean": (lambda v: v.mean(axis=0, keepdims=True), lambda v: v.mean(axis=0, keepdims=True)),
    "lse": (lambda v: sg.logsumexp(v, axis=-1, keepdims=True), None),
}


def _np_lse(v):
    m = v.max(axis=-1, keepdims=True)
    return np.log(np.exp(v - m).sum(axis=-1, keepdims=True)) + m


@st.composite
def graphs(draw):
    """A random graph as (symbolic inputs, input values, symbolic output, NumPy output)."""
    n_inputs = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    inputs, values, pool = [], [], []
    for k in range(n_inputs):
        shape = draw(st.sampled_from(SHAPES))
        var = sg.tensor(f"x{k}", "float64", shape)
        val = rng.uniform(-1.5, 1.5, size=shape)
        inputs.append(var)
        values.append(val)
        pool.append((var, val))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce"]))
        a_sym, a_val = draw(st.sampled_from(pool))
        if kind == "unary":
            sym_fn, np_fn = UNARY[draw(st.sampled_from(sorted(UNARY)))]
            pool.append((sym_fn(a_sym), np_fn(a_val)))
        elif kind == "binary":
            b_sym, b_val = draw(st.sampled_from(pool))
            sym_fn, np_fn = BINARY[draw(st.sampled_from(sorted(BINARY)))]
            pool.append((sym_fn(a_sym, b_sym), np_fn(a_val, b_val)))
        elif a_sym.ndim > 0:
            name = draw(st.sampled_from(sorted(REDUCE)))
            sym_fn, np_fn = REDUCE[name]
            pool.append((sym_fn(a_sym), (np_fn or _np_lse)(a_val)))
    out_sym, out_val = pool[-1]
    return inputs, values, out_sym, np.asarray(out_val)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graph_values_match_numpy(case):
    inputs, values, out, expected = case
    f = sg.function(inputs, out, on_unused_input="ignore")
    result = f(*values)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graph_gradients_match_finite_differences(case):
    inputs, values, out, _ = case
    cost = (out * out).sum()
    f_cost = sg.function(inputs, cost, on_unused_input="ignore")
    grads = sg.grad(cost, inputs, disconnected_inputs="ignore")
    f_grad = sg.function(inputs, grads, on_unused_input="ignore")
    symbolic = f_grad(*values)
    numeric = numeric_grad(lambda *vs: float(f_cost(*vs)), values)
    for s, n in zip(symbolic, numeric):
        # maximum() has kinks; finite differences straddling a tie are not informative
        np.testing.assert_allclose(s, n, rtol=1e-4, atol=1e-5)
