"""Deep and wide graphs: every walk is iterative, so nothing depends on the recursion limit."""

from __future__ import annotations

import functools
import io
import sys

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.graph.traversal import (
    ancestors,
    clone_replace,
    graph_inputs,
    is_ancestor,
    toposort,
    variables_in,
)
from symgrad.printing import debugprint, to_dot

DEPTH = 20_000
MID = 10_000
RECURSION_LIMIT = sys.getrecursionlimit()


def step(y):
    return sg.sin(y) * 1.0001 + 0.1


def np_chain(start: float, steps: int) -> tuple[float, float]:
    """The chain's value and its derivative with respect to the start, in NumPy."""
    value, derivative = np.float64(start), np.float64(1.0)
    for _ in range(steps):
        derivative = derivative * np.cos(value) * 1.0001
        value = np.sin(value) * 1.0001 + 0.1
    return value, derivative


@pytest.fixture(scope="module")
def chain():
    """``y = sin(y) * 1.0001 + 0.1`` applied DEPTH times to ``x``; ``mid`` is step MID."""
    x = sg.dscalar("x")
    y = x
    mid = None
    for k in range(DEPTH):
        y = step(y)
        if k + 1 == MID:
            mid = y
    return x, mid, y


def non_constant_roots(outputs):
    return [v for v in graph_inputs(outputs) if not isinstance(v, sg.Constant)]


def test_recursion_limit_is_untouched():
    assert sys.getrecursionlimit() == RECURSION_LIMIT


# -- the 20,000-deep chain -------------------------------------------------------------------
def test_chain_compiles_and_runs(chain):
    x, _, y = chain
    got = sg.function([x], y)(0.3)
    np.testing.assert_allclose(got, np_chain(0.3, DEPTH)[0], rtol=1e-12)
    assert sys.getrecursionlimit() == RECURSION_LIMIT


def test_chain_gradient(chain):
    x, mid, y = chain
    last = y.owner.inputs[0].owner.inputs[0].owner.inputs[0]  # y = add(mul(sin(last), c), c)
    grads = sg.grad(y, [x, mid, last])
    value, d_x, d_mid, d_last = sg.function([x], [y, *grads])(0.3)
    np.testing.assert_allclose(value, np_chain(0.3, DEPTH)[0], rtol=1e-12)
    np.testing.assert_allclose(d_x, np_chain(0.3, DEPTH)[1], rtol=1e-9, atol=1e-300)
    mid_value = np_chain(0.3, MID)[0]
    np.testing.assert_allclose(d_mid, np_chain(mid_value, DEPTH - MID)[1], rtol=1e-9, atol=1e-300)
    # a gradient that does not vanish: through the last step only
    np.testing.assert_allclose(d_last, np.cos(np_chain(0.3, DEPTH - 1)[0]) * 1.0001, rtol=1e-12)


def test_chain_walks(chain):
    x, mid, y = chain
    nodes = toposort([y])
    assert len(nodes) == 3 * DEPTH
    assert nodes[0].inputs[0] is x and nodes[-1] is y.owner
    position = {id(n): k for k, n in enumerate(nodes)}
    assert all(position[id(i.owner)] < k for k, n in enumerate(nodes) for i in n.inputs if i.owner)
    assert non_constant_roots([y]) == [x]
    assert len(graph_inputs([y])) == 1 + 2 * DEPTH  # x and the two constants of each step
    assert len(ancestors([y])) == 1 + 2 * DEPTH + 3 * DEPTH
    assert len(variables_in([mid])) == 1 + 5 * MID
    assert is_ancestor(mid, [y]) and not is_ancestor(y, [mid])
    assert len(toposort([y], stop_at=lambda v: v is mid)) == 3 * (DEPTH - MID)


def test_chain_clone_replace_root(chain):
    x, _, y = chain
    x2 = sg.dscalar("x2")
    (y2,) = clone_replace([y], {x: x2})
    assert non_constant_roots([y2]) == [x2]
    assert non_constant_roots([y]) == [x]  # the original graph is untouched
    np.testing.assert_allclose(sg.function([x2], y2)(0.7), np_chain(0.7, DEPTH)[0], rtol=1e-12)


def test_chain_clone_replace_intermediate(chain):
    x, mid, y = chain
    z = sg.dscalar("z")
    (y2,) = clone_replace([y], {mid: z})
    assert non_constant_roots([y2]) == [z]
    assert len(toposort([y2])) == 3 * (DEPTH - MID)
    np.testing.assert_allclose(sg.function([z], y2)(0.7), np_chain(0.7, DEPTH - MID)[0], rtol=1e-12)
    assert len(toposort([y])) == 3 * DEPTH and is_ancestor(mid, [y])


def test_chain_debugprint(chain):
    _, _, y = chain
    text = debugprint(y, file=io.StringIO())
    lines = text.splitlines()
    assert len(lines) == 3 * DEPTH + 2 * DEPTH + 1
    assert max(len(line) for line in lines) < 130  # the bars stop at MAX_BARS levels
    assert lines[0].startswith("add [id A] float64()")
    (x_line,) = [line for line in lines if line.endswith("'x'")]
    assert x_line.startswith(f" [depth {3 * DEPTH}]|Input [id ")
    assert lines[-1].startswith(" |Constant{0.1} [id ")  # the top node's second input


def test_chain_to_dot(chain):
    _, _, y = chain
    text = to_dot(y)
    assert text.count("shape=box") == 3 * DEPTH
    assert text.count("shape=ellipse") == 1 + 2 * DEPTH + 3 * DEPTH


def test_gradient_size_is_linear_in_chain_length():
    counts = {}
    for n in (250, 500, 1000):
        x = sg.dscalar("x")
        y = x
        for _ in range(n):
            y = step(y)
        counts[n] = len(toposort([sg.grad(y, x)]))
    assert counts[1000] - counts[500] == 2 * (counts[500] - counts[250])
    assert counts[1000] <= 10 * 3 * 1000


# -- wide graphs -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_add_of_40_inputs(dtype):
    values = [(rng(k).normal(size=5) * 10).astype(dtype) for k in range(40)]
    xs = [sg.tensor(f"x{k}", dtype, (None,)) for k in range(40)]
    out = sg.add(*xs)
    assert len(out.owner.inputs) == 40 and out.dtype == dtype
    got = sg.function(xs, out)(*values)
    want = functools.reduce(np.add, values)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_add_of_40_inputs_broadcasting_and_gradient():
    shapes = [(3, 4), (4,), (), (3, 1), (1, 4)] * 8
    values = [rng(k).normal(size=s) for k, s in enumerate(shapes)]
    xs = [sg.tensor(f"x{k}", "float64", (None,) * len(s)) for k, s in enumerate(shapes)]
    values[1] = values[1][::-1]  # negatively strided
    values[0] = np.asfortranarray(values[0])
    out = sg.add(*xs)
    got = sg.function(xs, out)(*values)
    np.testing.assert_allclose(got, functools.reduce(np.add, values))
    grads = sg.function(xs, sg.grad(out.sum(), xs))(*values)
    for g, v in zip(grads, values):
        assert g.shape == v.shape
        np.testing.assert_allclose(g, np.full(v.shape, 12.0 / max(v.size, 1)))


def test_python_sum_of_40_terms():
    xs = [sg.dvector(f"x{k}") for k in range(40)]
    values = [rng(k).normal(size=(0,) if k < 0 else 6) for k in range(40)]
    total = sum(xs)
    np.testing.assert_allclose(sg.function(xs, total)(*values), sum(values))
    np.testing.assert_allclose(sg.function(xs, total.sum())(*values), np.sum(values))
    empty = sg.function(xs, total)(*[np.zeros(0)] * 40)
    assert empty.shape == (0,)


# -- clone_replace semantics -----------------------------------------------------------------
def test_clone_replace_root_leaves_original_alone():
    x, w = sg.dvector("x"), sg.dvector("w")
    left, right = sg.exp(x), sg.tanh(w)
    y = left * right
    y.name = "y"
    x2 = sg.dvector("x2")
    (y2,) = clone_replace([y], {x: x2})
    assert y2 is not y and y2.name == "y"
    assert y2.owner.inputs[1] is right  # the part not depending on x is shared, not copied
    assert y2.owner.inputs[0] is not left
    assert y.owner.inputs[0] is left and left.owner.inputs[0] is x
    a, b = rng().normal(size=3), rng(1).normal(size=3)
    np.testing.assert_allclose(sg.function([x2, w], y2)(a, b), np.exp(a) * np.tanh(b))
    np.testing.assert_allclose(sg.function([x, w], y)(a, b), np.exp(a) * np.tanh(b))


def test_clone_replace_intermediate():
    x = sg.dvector("x")
    h = sg.sin(x)
    y = h * 2.0 + x
    z = sg.dvector("z")
    (y2,) = clone_replace([y], {h: z})
    assert {id(v) for v in non_constant_roots([y2])} == {id(x), id(z)}
    assert all(str(n.op) != "sin" for n in toposort([y2]))
    assert any(str(n.op) == "sin" for n in toposort([y]))
    a, b = rng().normal(size=4), rng(1).normal(size=4)
    np.testing.assert_allclose(sg.function([x, z], y2)(a, b), b * 2 + a)


def test_clone_replace_substitutes_once_like_givens():
    x = sg.dscalar("x")
    y = x + 1.0
    (y2,) = clone_replace([y], {x: x * 10.0})  # the x inside the replacement is kept
    assert sg.function([x], y2)(2.0) == 21.0
    assert sg.function([x], y)(2.0) == 3.0


def test_clone_replace_outputs_and_nothing_to_replace():
    x, w = sg.dvector("x"), sg.dvector("w")
    y = sg.exp(x)
    assert clone_replace([y, w]) == [y, w]
    w2 = sg.dvector("w2")
    assert clone_replace([y, w], {w: w2}) == [y, w2]
    assert clone_replace([y], {y: w}) == [w]


def test_clone_replace_rebuild_follows_new_types():
    x = sg.fvector("x")
    y = sg.exp(x) * 2.0
    x64 = sg.dvector("x64")
    (rebuilt,) = clone_replace([y], {x: x64})
    assert rebuilt.dtype == "float64"
    (copied,) = clone_replace([y], {x: x64}, rebuild=False)
    assert copied.type == y.type and copied is not y
    assert copied.owner.op == y.owner.op and non_constant_roots([copied]) == [x64]


def test_clone_replace_rebuild_checks_shapes():
    x = sg.tensor("x", "float64", (3,))
    y = x + sg.constant(np.ones(3))
    with pytest.raises(sg.ShapeError, match="cannot be broadcast"):
        clone_replace([y], {x: sg.tensor("x4", "float64", (4,))})
