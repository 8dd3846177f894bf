"""The in-place memory pass: which buffers may be overwritten, and identical results."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.examples import digits
from symgrad.graph.fgraph import FunctionGraph
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import Elemwise
from symgrad.rewrite import fusion, memory, passes
from symgrad.rewrite.engine import RewriteContext

PASSES = ["elemwise_fusion", "reduce_fusion", "inplace"]


@pytest.fixture(autouse=True)
def with_memory_passes(monkeypatch):
    """Run the fusion and memory passes in the pipeline (until passes.py lists them)."""
    pipeline = []
    for phase, steps in passes.PIPELINE:
        wanted = {"fuse": PASSES[:2], "memory": PASSES[2:]}.get(phase, [])
        pipeline.append((phase, list(steps) + [s for s in wanted if s not in steps]))
    monkeypatch.setattr(passes, "PIPELINE", pipeline)
    assert fusion.elemwise_fusion


def marks(f) -> list[tuple[str, int | None]]:
    return [(str(n.op), n.tag.get("inplace")) for n in f.fgraph.toposort() if isinstance(n.op, Elemwise)]


def run_both(inputs, outputs, *values, updates=None):
    """Results with the memory pass and without it (and without any rewrite): all equal."""
    f = sg.function(inputs, outputs, updates=updates, exclude=["gemm"])  # keep MatMul results to reuse
    plain = sg.function(inputs, outputs, exclude=["inplace", "gemm"])
    bare = sg.function(inputs, outputs, exclude=["all"])
    copies = [v.copy() for v in values]
    got = f(*values)
    for v, c in zip(values, copies):
        np.testing.assert_array_equal(v, c)  # inputs are never written
    for other in (plain, bare):
        want = other(*values)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
    return f, got


def test_marks_an_intermediate_matmul_result():
    x = sg.matrix("x")
    W = sg.shared(rng().normal(size=(3, 4)), "W")
    b = sg.shared(rng(1).normal(size=4), "b")
    w_before = W.get_value()
    f, _ = run_both([x], [sg.tanh(x @ W + b) * 2.0], rng(2).normal(size=(5, 3)))
    assert marks(f) == [("Composite{tanh(i0+i1)*2.0}", 0)]
    assert f.rewrites["inplace"] == 1
    np.testing.assert_array_equal(W.get_value(), w_before)


def test_chain_of_marks_across_reductions():
    x = sg.matrix("x")
    y = sg.exp(x) * 2.0  # fused; reads the input x: no mark
    z = sg.sum(y, axis=1)  # FusedReduce: a fresh array
    out = sg.sqrt(sg.abs(z)) + 1.0
    f, _ = run_both([x], [out], rng().normal(size=(4, 3)))
    assert marks(f) == [("Composite{sqrt(abs(i0))+1.0}", 0)]


def test_never_an_input_a_shared_value_or_a_constant():
    x = sg.matrix("x")
    W = sg.shared(rng().normal(size=(3, 3)), "W")
    f, _ = run_both([x], [sg.exp(x) * 2.0 + W + np.ones((3, 3))], rng(1).normal(size=(3, 3)))
    assert [k for _, k in marks(f)] == [None]


def test_never_a_graph_output():
    x = sg.matrix("x")
    W = sg.shared(rng().normal(size=(3, 3)), "W")
    a = x @ W
    f, (got_a, got_out) = run_both([x], [a, sg.tanh(a + 1.0)], rng(1).normal(size=(2, 3)))
    assert [k for _, k in marks(f)] == [None]
    assert not np.shares_memory(got_a, got_out)


def test_never_a_buffer_something_else_reads():
    x = sg.matrix("x")
    W = sg.shared(rng().normal(size=(3, 3)), "W")
    a = x @ W
    f, _ = run_both([x], [sg.tanh(a + 1.0), sg.sum(a)], rng(1).normal(size=(2, 3)))
    assert [k for _, k in marks(f)] == [None]
    f, _ = run_both([x], [sg.maximum(a, a)], rng(1).normal(size=(2, 3)))  # read twice by one node
    assert [k for _, k in marks(f)] == [None]


def test_never_a_view():
    x = sg.matrix("x")
    W = sg.shared(rng().normal(size=(3, 3)), "W")
    f, _ = run_both([x], [sg.exp((x @ W).T) * 2.0], rng(1).normal(size=(3, 3)))
    assert [k for _, k in marks(f)] == [None]


def test_never_a_buffer_broadcasting_grows():
    x = sg.matrix("x")
    col = sg.constant(np.ones((3, 1)))
    W = sg.shared(rng().normal(size=(3, 4)), "W")
    small = x @ col  # static (?, 1): broadcast against the (?, ?) product
    f, _ = run_both([x], [sg.tanh(small + x @ W)], rng(1).normal(size=(2, 3)))
    assert [k for _, k in marks(f)] == [1]


def test_unknown_lengths_are_checked_at_run_time():
    x, y = sg.matrix("x"), sg.matrix("y")
    A, B = sg.shared(np.ones((3, 1)), "A"), sg.shared(np.ones((3, 4)), "B")
    out = sg.tanh(x @ A + y @ B)  # both (?, ?) statically; (2, 1) + (2, 4) at run time
    f, (got,) = run_both([x, y], [out], rng().normal(size=(2, 3)), rng(1).normal(size=(2, 3)))
    assert [k for _, k in marks(f)] == [0]
    assert got.shape == (2, 4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_identical_for_many_ops(dtype):
    x = sg.matrix("x", dtype=dtype)
    W = sg.shared(rng().normal(size=(4, 4)).astype(dtype), "W")
    h = x @ W
    outs = [sg.exp(h), sg.sigmoid(h) - 0.5, sg.maximum(h, 0.0), h / 3.0, sg.cast(h > 0, dtype) * h]
    fs = [run_both([x], [o], rng(1).normal(size=(3, 4)).astype(dtype))[0] for o in outs]
    assert all(marks(f) and marks(f)[0][1] == 0 for f in fs)


def test_updates_and_shared_values_are_safe():
    values = rng(1).normal(size=(3, 3))
    runs = []
    for exclude in (None, ["all"]):
        W = sg.shared(rng().normal(size=(3, 3)), "W")
        x = sg.matrix("x")
        h = x @ W
        f = sg.function([x], sg.sum(h), updates=[(W, W - sg.tanh(h) * 0.1)], exclude=exclude)
        runs.append(([f(values) for _ in range(3)], W.get_value()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_perform_checks_the_buffer_at_run_time():
    x = sg.vector("x")
    node = Elemwise(so.exp).make_node(x)
    node.tag["inplace"] = 0
    frozen = np.linspace(0, 1, 4)
    frozen.setflags(write=False)
    storage = [[None]]
    node.op.perform(node, [frozen], storage)
    assert storage[0][0] is not frozen
    np.testing.assert_array_equal(storage[0][0], np.exp(np.linspace(0, 1, 4)))
    buffer = np.linspace(0, 1, 4)
    node.op.perform(node, [buffer], storage)
    assert storage[0][0] is buffer
    np.testing.assert_array_equal(buffer, np.exp(np.linspace(0, 1, 4)))


def test_stale_marks_are_cleared():
    x = sg.matrix("x")
    W = sg.shared(np.eye(2), "W")
    g = FunctionGraph([x], [sg.exp(x @ W) * 2.0])
    ctx = RewriteContext()
    fusion.elemwise_fusion(g, ctx)
    memory.inplace(g, ctx)
    (node,) = [n for n in g.toposort() if isinstance(n.op, Elemwise)]
    assert node.tag["inplace"] == 0
    g2 = FunctionGraph([x], [g.outputs[0], g.outputs[0].owner.inputs[0]])  # the product is now an output
    memory.inplace(g2, ctx)
    assert all("inplace" not in n.tag for n in g2.toposort())


def test_digits_mlp_trains_identically():
    """A few momentum-SGD steps of the digits MLP: fused + in-place vs no rewrites at all."""
    data = rng(5)
    images = data.random((24, 64)).astype(sg.config.floatX)
    labels = data.integers(0, 10, 24)
    runs = []
    for exclude in (None, PASSES, ["all"]):
        params = digits.init_params(np.random.default_rng(0), (64, 32, 16, 10))
        x, y = sg.matrix("x"), sg.lvector("y")
        loss = sg.mean(sg.nn.categorical_crossentropy(digits.forward(x, params), y))
        train = sg.function(
            [x, y], loss, updates=digits.momentum_updates(loss, params, 0.05, 0.9), exclude=exclude
        )
        if exclude is None:
            assert train.rewrites["elemwise_fusion"] > 0 and train.rewrites["inplace"] > 0
        losses = [float(train(images[k::3], labels[k::3])) for k in range(3)]
        runs.append((losses, [p.get_value() for p in params]))
    for losses, values in runs[1:]:
        assert losses == runs[0][0]
        for a, b in zip(values, runs[0][1]):
            np.testing.assert_array_equal(a, b)
