"""Each stabilizing rewrite fires on its pattern, not on a near miss, and keeps the values of
the unrewritten graph on moderate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import op_names, rng

import symgrad as sg
import symgrad.rewrite.stabilize  # noqa: F401 (registers the rewrites until passes.py imports them)
from symgrad.ops.nn_ops import LogSoftmax, pick_class
from symgrad.rewrite.registry import REWRITES


def compile_both(inputs, outputs):
    return sg.function(inputs, outputs), sg.function(inputs, outputs, exclude=["all"])


def check_same(f, plain, *values):
    got, expected = f(*values), plain(*values)
    for a, b in zip(
        got if isinstance(got, list) else [got], expected if isinstance(expected, list) else [expected]
    ):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


X = rng().uniform(-2, 2, size=5)
P = rng(1).uniform(0.1, 0.9, size=5)

FORWARD = [
    ("stabilize_log1p", lambda x: sg.log(1 + x), lambda x: sg.log(2 + x), P, "log1p"),
    ("stabilize_expm1", lambda x: sg.exp(x) - 1, lambda x: sg.exp(x) - 2, X, "expm1"),
    ("stabilize_expm1_add", lambda x: sg.exp(x) + (-1), lambda x: sg.exp(x) + 1, X, "expm1"),
    ("stabilize_softplus", lambda x: sg.log(1 + sg.exp(x)), lambda x: sg.log(2 + sg.exp(x)), X, "softplus"),
    (
        "stabilize_log_sigmoid",
        lambda x: sg.log(sg.sigmoid(x)),
        lambda x: sg.log(sg.tanh(x) + 2),
        X,
        "softplus",
    ),
    (
        "stabilize_log1m_sigmoid",
        lambda x: sg.log(1 - sg.sigmoid(x)),
        lambda x: sg.log(2 - sg.sigmoid(x)),
        X,
        "softplus",
    ),
]


@pytest.mark.parametrize("name, build, near_miss, value, op", FORWARD, ids=[c[0] for c in FORWARD])
def test_forward_rewrite_fires_and_keeps_values(name, build, near_miss, value, op):
    x = sg.vector("x")
    f, plain = compile_both([x], [build(x), sg.grad(build(x).sum(), x)])
    assert f.rewrites[name] > 0 or (name == "stabilize_softplus" and f.rewrites["stabilize_softplus_log1p"])
    assert op in op_names(f)
    check_same(f, plain, value)
    miss = sg.function([x], near_miss(x))
    assert op not in op_names(miss)
    assert not any(k.startswith("stabilize") for k in miss.rewrites)


def test_log1p_keeps_a_larger_broadcast_shape():
    x = sg.vector("x")
    f, plain = compile_both([x], sg.log(np.ones((2, 3)) + x))
    assert f.rewrites["stabilize_log1p"] == 1
    assert f(P[:3]).shape == (2, 3)
    check_same(f, plain, P[:3])


def test_expm1_float32():
    x = sg.vector("x", dtype="float32")
    f = sg.function([x], sg.exp(x) - 1)
    assert f(np.array([1e-10], dtype="float32"))[0] == np.float32(1e-10)


def test_log_softmax_rewrite():
    z = sg.matrix("z")
    zv = rng().normal(size=(3, 4))
    for axis in (0, 1):
        out = sg.log(sg.nn.softmax(z, axis))
        f, plain = compile_both([z], [out, sg.grad((out * zv).sum(), z)])
        assert f.rewrites["stabilize_log_softmax"] == 1 and f.rewrites["stabilize_log_softmax_grad"] == 1
        assert any(isinstance(n.op, LogSoftmax) for n in f.fgraph.toposort())
        check_same(f, plain, zv)
    miss = sg.function([z], sg.log(sg.nn.softmax(z) + 1))
    assert miss.rewrites["stabilize_log_softmax"] == 0


def test_logsumexp_rewrite():
    x = sg.matrix("x")
    xv = rng().normal(size=(3, 4))
    for axis in (None, 0, 1):
        out = sg.log(sg.sum(sg.exp(x), axis=axis))
        f, plain = compile_both([x], [out, sg.grad(out.sum(), x)])
        assert f.rewrites["stabilize_logsumexp"] == 1 and f.rewrites["stabilize_logsumexp_grad"] == 1
        check_same(f, plain, xv)
    miss = sg.function([x], sg.log(sg.sum(sg.exp(x) + 1)))
    assert miss.rewrites["stabilize_logsumexp"] == 0
    ready = sg.function([x], sg.logsumexp(x, axis=1))  # already shifted: left alone
    assert ready.rewrites["stabilize_logsumexp"] == 0


def test_softmax_written_out_becomes_one_softmax_op():
    x = sg.matrix("x")
    xv = rng().normal(size=(3, 4)) * 30
    for axis in (0, 1):
        shifted = sg.exp(x - sg.max(x, axis=axis, keepdims=True))
        plain_exp = sg.exp(x)
        outs = [
            shifted / sg.sum(shifted, axis=axis, keepdims=True),
            plain_exp / plain_exp.sum(axis=axis, keepdims=True),
        ]
        f, plain = compile_both([x], outs)
        assert f.rewrites["stabilize_softmax"] == 2
        assert op_names(f) == [f"softmax{{axis={axis}}}"]  # both the same op on x (merged): no max, no sub
        check_same(f, plain, xv)
    e = sg.exp(x)
    near = [
        e / sg.sum(e, axis=1),
        e / sg.sum(e + 1, axis=1, keepdims=True),
        e / sg.sum(e, axis=(0, 1), keepdims=True),
    ]
    miss = sg.function([x], near)
    assert miss.rewrites["stabilize_softmax"] == 0
    big = sg.function([x], [e / sg.sum(e, axis=1, keepdims=True)])
    assert np.isfinite(big(np.full((2, 3), 800.0))[0]).all()  # exp(800) overflows: the op shifts


def test_crossentropy_rewrites():
    z, y = sg.matrix("z"), sg.lvector("y")
    zv, yv = rng().normal(size=(4, 3)), np.array([0, 2, 1, 2])
    cost = -sg.log(pick_class(sg.nn.softmax(z), y))
    f, plain = compile_both([z, y], [cost, sg.grad(cost.sum(), z)])
    assert f.rewrites["stabilize_crossentropy_softmax"] == 1
    assert f.rewrites["stabilize_crossentropy_grad"] == 1
    assert "crossentropy_softmax" in op_names(f)
    check_same(f, plain, zv, yv)
    miss = sg.function([z, y], -sg.log(pick_class(sg.nn.softmax(z, axis=0), y)))
    assert miss.rewrites["stabilize_crossentropy_softmax"] == 0


def test_cancel_fires_only_on_saturating_factors():
    x = sg.vector("x")
    out = sg.log(sg.sigmoid(x))
    f, plain = compile_both([x], sg.grad(out.sum(), x))
    assert f.rewrites["stabilize_cancel"] == 1
    check_same(f, plain, X)
    y = sg.vector("y")
    miss = sg.function([y], y / sg.tanh(y) * sg.tanh(y))  # tanh is not cancelled
    assert miss.rewrites["stabilize_cancel"] == 0
    div = sg.function([y], y * sg.exp(y) / (1 + sg.exp(y)))
    assert div.rewrites["stabilize_cancel"] + div.rewrites["stabilize_cancel_div"] == 1
    np.testing.assert_allclose(div(np.array([800.0, 0.0])), [800.0, 0.0])


def test_sigmoid_crossentropy_gradient_distributes():
    z = sg.vector("z")
    t = np.array([1.0, 0.0, 1.0, 0.3, 0.0])
    p = sg.sigmoid(z)
    cost = -(t * sg.log(p) + (1 - t) * sg.log(1 - p))
    f, plain = compile_both([z], [cost, sg.grad(cost.sum(), z)])
    assert f.rewrites["stabilize_cancel"] >= 1
    check_same(f, plain, X)


def test_every_stabilize_rewrite_is_registered_in_the_phase():
    names = [n for n, r in REWRITES.items() if n.startswith("stabilize_")]
    assert len(names) >= 14
    assert all(REWRITES[n].phase == "stabilize" and REWRITES[n].proof for n in names)
