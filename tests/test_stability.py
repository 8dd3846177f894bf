"""Stability through the graphs users naturally write: values and gradients stay finite and
correct where the textbook formula overflows, underflows or cancels."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad as sg
import symgrad.rewrite.stabilize  # noqa: F401 (registers the rewrites until passes.py imports them)
from symgrad.ops.nn_ops import pick_class

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)


def value_and_grad(build, value, ctor=sg.vector):
    x = ctor("x")
    out = build(x)
    f = sg.function([x], [out, sg.grad(out.sum(), x)])
    return f(np.asarray(value, dtype="float64"))


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_log_one_plus_exp_is_softplus():
    out, g = value_and_grad(lambda x: sg.log(1 + sg.exp(x)), [800.0, -800.0, 0.0])
    np.testing.assert_allclose(out, [800.0, 0.0, np.log(2)])
    np.testing.assert_allclose(g, [1.0, 0.0, 0.5])


def test_log_sigmoid():
    out, g = value_and_grad(lambda x: sg.log(sg.sigmoid(x)), [-800.0, 800.0, 0.0])
    np.testing.assert_allclose(out, [-800.0, 0.0, -np.log(2)])
    np.testing.assert_allclose(g, [1.0, 0.0, 0.5])


def test_log_one_minus_sigmoid():
    out, g = value_and_grad(lambda x: sg.log(1 - sg.sigmoid(x)), [800.0, -800.0])
    np.testing.assert_allclose(out, [-800.0, 0.0])
    np.testing.assert_allclose(g, [-1.0, 0.0])


def test_log1p_and_expm1_at_tiny_values():
    out, g = value_and_grad(lambda x: sg.log(1 + x), [1e-20])
    assert out[0] == 1e-20 and g[0] == 1.0
    out, g = value_and_grad(lambda x: sg.exp(x) - 1, [1e-20])
    assert out[0] == 1e-20 and g[0] == 1.0


def test_logsumexp_of_huge_values():
    x = sg.vector("x")
    out = sg.log(sg.sum(sg.exp(x)))
    f = sg.function([x], [out, sg.grad(out, x)])
    value, g = f(np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(value, 1000 + np.log(2))
    np.testing.assert_allclose(g, [0.5, 0.5])


def test_logsumexp_along_an_axis():
    x = sg.matrix("x")
    out = sg.log(sg.sum(sg.exp(x), axis=1))
    f = sg.function([x], [out, sg.grad(out.sum(), x)])
    xv = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -1001.0, -1000.0]])
    value, g = f(xv)
    m = xv.max(1)
    np.testing.assert_allclose(value, m + np.log(np.exp(xv - m[:, None]).sum(1)))
    np.testing.assert_allclose(g, np_softmax(xv))


LOGITS = np.array([[0.0, 1000.0, -1000.0], [1000.0, 1000.0, 0.0], [-2000.0, -1000.0, -3000.0]])
TARGETS = np.array([2, 2, 1])


@pytest.mark.parametrize("form", ["log_softmax", "log(softmax)"])
def test_log_softmax_of_logits_1000_apart(form):
    z = sg.matrix("z")
    out = sg.nn.log_softmax(z) if form == "log_softmax" else sg.log(sg.nn.softmax(z))
    w = np.arange(9.0).reshape(3, 3)
    f = sg.function([z], [out, sg.grad((out * w).sum(), z)])
    value, g = f(LOGITS)
    expected = LOGITS - LOGITS.max(1, keepdims=True)
    expected -= np.log(np.exp(expected).sum(1, keepdims=True))
    np.testing.assert_allclose(value, expected)
    np.testing.assert_allclose(g, w - np_softmax(LOGITS) * w.sum(1, keepdims=True), atol=1e-12)


@pytest.mark.parametrize("targets", ["int", "one_hot"])
def test_crossentropy_of_saturated_softmax(targets):
    z, y = sg.matrix("z"), sg.lvector("y")
    t = y if targets == "int" else sg.nn.one_hot(y, 3)
    cost = sg.nn.categorical_crossentropy(sg.nn.softmax(z), t)
    f = sg.function([z, y], [cost, sg.grad(cost.sum(), z)])
    value, g = f(LOGITS, TARGETS)
    lsm = LOGITS - LOGITS.max(1, keepdims=True)
    lsm -= np.log(np.exp(lsm).sum(1, keepdims=True))
    np.testing.assert_allclose(value, -lsm[np.arange(3), TARGETS])
    assert value[0] == 2000.0
    np.testing.assert_allclose(g, np_softmax(LOGITS) - np.eye(3)[TARGETS], atol=1e-12)


def test_crossentropy_built_from_pieces():
    z, y = sg.matrix("z"), sg.lvector("y")
    cost = -sg.log(pick_class(sg.nn.softmax(z), y))
    f = sg.function([z, y], [cost, sg.grad(cost.sum(), z)])
    value, g = f(LOGITS, TARGETS)
    assert np.isfinite(value).all() and value[0] == 2000.0
    np.testing.assert_allclose(g, np_softmax(LOGITS) - np.eye(3)[TARGETS], atol=1e-12)
    cost = -(sg.nn.one_hot(y, 3) * sg.log(sg.nn.softmax(z))).sum(-1)
    f = sg.function([z, y], [cost, sg.grad(cost.sum(), z)])
    value, g2 = f(LOGITS, TARGETS)
    assert value[0] == 2000.0
    np.testing.assert_allclose(g2, g, atol=1e-12)


def test_crossentropy_gradient_through_weights():
    x, w, y = sg.matrix("x"), sg.matrix("w"), sg.lvector("y")
    cost = sg.nn.categorical_crossentropy(sg.nn.softmax(x @ w), y).mean()
    f = sg.function([x, w, y], sg.grad(cost, w))
    xv, wv = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[500.0, -500.0, 0.0], [300.0, 0.0, -300.0]])
    gw = f(xv, wv, np.array([2, 1]))
    expected = xv.T @ (np_softmax(xv @ wv) - np.eye(3)[[2, 1]]) / 2
    np.testing.assert_allclose(gw, expected, atol=1e-12)


@pytest.mark.parametrize("form", ["nn", "natural"])
def test_sigmoid_crossentropy_saturated(form):
    t = np.array([1.0, 0.0, 1.0, 0.0])
    zv = np.array([-800.0, 800.0, 800.0, -800.0])

    def build(z):
        if form == "nn":
            return sg.nn.binary_crossentropy(sg.sigmoid(z), t)
        p = sg.sigmoid(z)
        return -(t * sg.log(p) + (1 - t) * sg.log(1 - p))

    out, g = value_and_grad(build, zv)
    np.testing.assert_allclose(out, [800.0, 800.0, 0.0, 0.0])
    np.testing.assert_allclose(g, [-1.0, 1.0, 0.0, 0.0])


def test_float32_stays_float32_and_finite():
    x = sg.vector("x", dtype="float32")
    out = sg.log(sg.sigmoid(x))
    f = sg.function([x], [out, sg.grad(out.sum(), x)])
    value, g = f(np.array([-200.0, 0.0], dtype="float32"))
    assert value.dtype == g.dtype == np.float32
    np.testing.assert_allclose(value, [-200.0, -np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(g, [1.0, 0.5], rtol=1e-6)
