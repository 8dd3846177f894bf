"""Elementwise fusion (Composite) and reduction fusion (FusedReduce)."""

from __future__ import annotations

import pickle
import types

import numpy as np
import pytest
import sympy
from helpers import rng

import symgrad as sg
from symgrad.graph.fgraph import FunctionGraph
from symgrad.ops.composite import Composite, FusedReduce, make_composite
from symgrad.ops.elemwise import Elemwise
from symgrad.ops.shape_of import shape_dims
from symgrad.rewrite import fusion, memory, passes
from symgrad.rewrite.engine import RewriteContext

FUSION = ["elemwise_fusion", "reduce_fusion"]


@pytest.fixture(autouse=True)
def with_fusion_passes(monkeypatch):
    """Run the fusion and memory passes in the pipeline (until passes.py lists them)."""
    pipeline = []
    for phase, steps in passes.PIPELINE:
        wanted = {"fuse": FUSION, "memory": ["inplace"]}.get(phase, [])
        pipeline.append((phase, list(steps) + [s for s in wanted if s not in steps]))
    monkeypatch.setattr(passes, "PIPELINE", pipeline)
    assert memory.inplace and fusion.elemwise_fusion


def ops_of(f) -> list:
    return [node.op for node in f.fgraph.toposort()]


def composites(f) -> list[Composite]:
    return [
        op.scalar_op for op in ops_of(f) if isinstance(op, Elemwise) and isinstance(op.scalar_op, Composite)
    ]


def assert_same_as_unrewritten(inputs, outputs, *values):
    fused = sg.function(inputs, outputs)
    plain = sg.function(inputs, outputs, exclude=["all"])
    fused.fgraph.check_integrity()
    got, want = fused(*values), plain(*values)
    for g, w in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want]):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    return fused


def test_chain_becomes_one_node():
    x = sg.vector("x")
    y = sg.exp(-(x**2)) * sg.sin(x) + sg.tanh(0.5 * x)
    f = assert_same_as_unrewritten([x], y, rng().normal(size=11))
    (op,) = ops_of(f)
    assert str(op) == "Composite{exp(-(i0*i0))*sin(i0)+tanh(0.5*i0)}"
    assert f.rewrites["elemwise_fusion"] == 1


def test_dag_with_shared_subexpression_fuses():
    x, y = sg.matrix("x"), sg.matrix("y")
    s = x * y - 1.0
    out = sg.exp(s) + sg.sin(s) * s
    f = assert_same_as_unrewritten([x, y], out, rng().normal(size=(3, 4)), rng(1).normal(size=(3, 4)))
    (op,) = ops_of(f)
    assert op.scalar_op.nin == 2
    assert sum(1 for step in op.scalar_op.steps if step[0].name == "sub") == 1  # computed once


def test_near_miss_value_read_outside_the_cluster():
    x = sg.vector("x")
    a = sg.exp(x) * 2.0
    out = sg.sin(a) + 1.0
    f = assert_same_as_unrewritten([x], [out, sg.sum(a)], rng().normal(size=5))
    fused = composites(f)
    assert [c.formula() for c in fused] == ["exp(i0)*2.0", "sin(i0)+1.0"]
    assert not any(isinstance(op, FusedReduce) for op in ops_of(f))  # a has two readers


def test_near_miss_graph_output_inside():
    x = sg.vector("x")
    a = sg.exp(x) * 2.0
    f = assert_same_as_unrewritten([x], [a, sg.sin(a) + 1.0], rng().normal(size=5))
    assert len(composites(f)) == 2


def test_different_loop_shapes_do_not_fuse():
    v, m = sg.vector("v"), sg.matrix("m")
    f = assert_same_as_unrewritten(
        [v, m], sg.exp(v) * 3.0 + m, rng().normal(size=4), rng().normal(size=(3, 4))
    )
    assert [c.formula() for c in composites(f)] == ["exp(i0)*3.0"]  # 1-d loop; the add is 2-d
    assert len(ops_of(f)) == 2
    col = sg.matrix("col", shape=(3, 1))
    out = sg.exp(col) * 2.0 + m
    f = assert_same_as_unrewritten([col, m], out, rng().normal(size=(3, 1)), rng().normal(size=(3, 4)))
    formulas = sorted(c.formula() for c in composites(f))
    assert formulas == ["exp(i0)*2.0"]  # the (3, 1) part stays out of the (3, 4) loop


def test_broadcast_inputs_join_the_loop():
    v, m = sg.vector("v"), sg.matrix("m")
    out = sg.tanh(m * v + 1.0) * 2.0
    f = assert_same_as_unrewritten([v, m], out, rng().normal(size=4), rng().normal(size=(3, 4)))
    (op,) = ops_of(f)
    assert op.scalar_op.nin == 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shapes",
    [((5,), (5,)), ((3, 1), (1, 4)), ((), ()), ((0,), (0,)), ((2, 0), (1, 0)), ((), (3, 2))],
)
def test_values_equal_unfused(dtype, shapes):
    a = sg.tensor("a", dtype=dtype, shape=(None,) * len(shapes[0]))
    b = sg.tensor("b", dtype=dtype, shape=(None,) * len(shapes[1]))
    t = a * b - 0.5
    out = sg.where(t > 0, sg.sqrt(sg.abs(t)), sg.log1p(t * t)) / (1.0 + sg.exp(-b)) + sg.maximum(a, b) ** 2
    values = [rng(k).normal(size=s).astype(dtype) for k, s in enumerate(shapes)]
    f = assert_same_as_unrewritten([a, b], out, *values)
    assert len(ops_of(f)) == 1


def test_integer_steps_keep_their_dtypes():
    i, j = sg.lvector("i"), sg.lvector("j")
    x = sg.vector("x", dtype="float32")
    out = (i // j + i % 3) * x - (i > j)
    vi, vj = np.array([7, -8, 9, 10, 2**40]), np.array([2, 3, 0, -4, 7])
    f = assert_same_as_unrewritten([i, j, x], out, vi, vj, rng().normal(size=5).astype("float32"))
    assert len(ops_of(f)) == 1 and f.fgraph.outputs[0].dtype == "float64"


def test_non_contiguous_and_reversed_inputs():
    x = sg.matrix("x")
    out = sg.sin(x) * sg.cos(x.T.T) + x
    data = rng().normal(size=(6, 8))
    for view in (data[::2], data.T, data[::-1, ::-2]):
        assert_same_as_unrewritten([x], out, view)


def test_array_constants_stay_inputs_and_scalars_become_literals():
    x = sg.vector("x")
    out = sg.exp(x * np.arange(3.0)) + 2.0
    f = assert_same_as_unrewritten([x], out, rng().normal(size=3))
    (c,) = composites(f)
    assert c.nin == 2 and len(c.literals) == 1


def test_existing_composites_are_inlined():
    x = sg.vector("x")
    out = sg.exp(sg.sin(x) * 2.0)
    g = FunctionGraph([x], [out])
    ctx = RewriteContext()
    fusion.elemwise_fusion(g, ctx)
    (inner,) = g.toposort()
    extended = sg.tanh(g.outputs[0]) + 1.0
    g2 = FunctionGraph([x], [extended], clone=False)
    fusion.elemwise_fusion(g2, ctx)
    (node,) = g2.toposort()
    assert node.op.scalar_op.formula() == "tanh(exp(sin(i0)*2.0))+1.0"


def test_input_limit_is_respected(monkeypatch):
    monkeypatch.setattr(fusion, "MAX_INPUTS", 3)
    xs = [sg.vector(f"x{k}") for k in range(6)]
    out = xs[0]
    for x in xs[1:]:
        out = sg.sin(out) + x
    f = assert_same_as_unrewritten(xs, out, *(rng(k).normal(size=2) for k in range(6)))
    assert all(c.nin <= 3 for c in composites(f)) and len(ops_of(f)) > 1


def test_composite_equality_pickle_and_merge():
    x = sg.vector("x")
    f1 = sg.function([x], sg.exp(x) * 2.0)
    f2 = sg.function([x], sg.exp(x) * 2.0)
    (c1,), (c2,) = composites(f1), composites(f2)
    assert c1 == c2 and hash(c1) == hash(c2)
    assert pickle.loads(pickle.dumps(c1)) == c1
    both = sg.function([x], [sg.exp(x) * 2.0 + 1.0, sg.exp(x) * 2.0 + 1.0])
    assert len(ops_of(both)) == 1
    g = pickle.loads(pickle.dumps(f1))
    np.testing.assert_array_equal(g(np.arange(3.0)), f1(np.arange(3.0)))


def test_literal_sign_of_zero_is_kept():
    x = sg.vector("x")
    pos = composites(sg.function([x], sg.exp(x) * 0.0 + x))[0]
    neg = composites(sg.function([x], sg.exp(x) * -0.0 + x))[0]
    assert pos != neg


def simple_render(op, args, arg_dtypes, out_dtype):
    """A stand-in for the C backend's renderer: the row's generic C expression."""
    template = op.c_expr.replace("{ctype:float32}", "float")
    if op.nin is None:
        expr = args[0]
        for arg in args[1:]:
            expr = template.format(expr, arg)
    else:
        expr = template.format(*args)
    return types.SimpleNamespace(expr=expr, error=None)


def test_sympy_form_and_c_body():
    x, y = sg.vector("x"), sg.lvector("y")
    (c,) = composites(sg.function([x, y], sg.exp(x - y) * 0.5))
    a, b = sympy.symbols("a b")
    assert sympy.simplify(c.sympy(a, b) - sympy.exp(a - b) * sympy.Rational(1, 2)) == 0
    body = c.c_body(["v0", "v1"], ["float64", "int64"], ["float64"], simple_render)
    assert body.statements == (
        "const double sg_t0 = (double)((v0 - v1));",
        "const double sg_t1 = (double)(exp(sg_t0));",
        "const double sg_t2 = (double)((sg_t1 * ((double)0.5)));",
    )
    assert body.results == ("sg_t2",) and body.errors == ()


def test_c_body_with_the_c_backend_renderer():
    elemwise_c = pytest.importorskip("symgrad.codegen.elemwise_c")
    x, i = sg.vector("x", dtype="float32"), sg.lvector("i")
    out = sg.maximum(sg.exp(x) + x, 0.0) * (i // 3) + sg.cast(i, "float32")
    (c,) = composites(sg.function([x, i], out))
    code = elemwise_c.scalar_body(c, ["v0", "v1"], ["float32", "int64"], [c.dtype])
    assert len(code.statements) == len(c.steps) and code.results == (f"sg_t{len(c.steps) - 1}",)
    assert all(line.startswith("const ") for line in code.statements)


def test_variadic_steps():
    x = sg.vector("x")
    add = sg.function([x], x + x).fgraph.toposort()[0].op.scalar_op
    three = make_composite(
        ("float64",) * 3, ((add, (("i", 0), ("i", 1), ("i", 2)), "float64"),), (), ("s", 0)
    )
    body = three.c_body(["a", "b", "c"], ["float64"] * 3, ["float64"], simple_render)
    assert body.statements == ("const double sg_t0 = (double)(((a + b) + c));",)
    np.testing.assert_array_equal(three.impl(np.ones(2), np.ones(2), np.ones(2)), np.full(2, 3.0))


def test_composite_has_no_gradient():
    x = sg.vector("x")
    (node,) = sg.function([x], sg.exp(x) * 2.0).fgraph.toposort()
    with pytest.raises(NotImplementedError, match="differentiate the unfused graph"):
        sg.grad(sg.sum(node.op(x)), x)


def test_make_composite_rejects_input_output():
    with pytest.raises(ValueError, match="must be one of its steps"):
        make_composite(("float64",), (), (), ("i", 0))


# -- reduction fusion ---------------------------------------------------------------------------
def test_logsumexp_sum_is_one_fused_reduce():
    m = sg.matrix("m")
    z = sg.sum(sg.exp(m - sg.max(m, axis=1, keepdims=True)), axis=1)
    f = assert_same_as_unrewritten([m], z, rng().normal(size=(4, 5)))
    fused = [op for op in ops_of(f) if isinstance(op, FusedReduce)]
    assert len(fused) == 1 and f.rewrites["reduce_fusion"] == 1
    assert str(fused[0]) == "sum{axis=(1,)}(Composite{exp(i0-i1)})"


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "uint8", "int64"])
def test_fused_reduce_kinds_and_dtypes(kind, dtype):
    x = sg.matrix("x", dtype=dtype)
    reduce = getattr(sg, kind)
    out = reduce(x * x + x, axis=0)
    values = rng().integers(-5, 6, size=(4, 3)).astype(dtype)
    f = assert_same_as_unrewritten([x], out, values)
    assert any(isinstance(op, FusedReduce) for op in ops_of(f))
    assert_same_as_unrewritten([x], reduce(sg.exp(x * 0.5), axis=None), values)


def test_fused_reduce_all_any():
    x = sg.matrix("x")
    f = assert_same_as_unrewritten(
        [x], [sg.any(x > 0.5, axis=1), sg.all(sg.abs(x) < 2, axis=0)], rng().normal(size=(3, 4))
    )
    assert sum(isinstance(op, FusedReduce) for op in ops_of(f)) == 2


def test_fused_reduce_empty_axis_error_names_the_user_line():
    x = sg.matrix("x")
    f = sg.function([x], sg.max(sg.exp(x), axis=0))
    assert any(isinstance(op, FusedReduce) for op in ops_of(f))
    with pytest.raises(ValueError, match=r"max.*empty axis.*test_rewrite_fusion.py"):
        f(np.zeros((0, 3)))
    np.testing.assert_array_equal(sg.function([x], sg.sum(sg.exp(x), axis=0))(np.zeros((0, 3))), np.zeros(3))


def test_reduce_fusion_near_miss_other_reader():
    x = sg.vector("x")
    e = sg.exp(x)
    f = assert_same_as_unrewritten([x], [sg.sum(e), e * 2.0], rng().normal(size=3))
    assert not any(isinstance(op, FusedReduce) for op in ops_of(f))


def test_fused_reduce_infer_shape_and_grad():
    x, v = sg.matrix("x"), sg.vector("v")
    f = sg.function([x, v], sg.sum(sg.exp(x + v), axis=0))
    node = next(n for n in f.fgraph.toposort() if isinstance(n.op, FusedReduce))
    shapes = [tuple(shape_dims(i)) for i in node.inputs]
    (shape,) = node.op.infer_shape(node, shapes)
    fshape = sg.function([x, v], list(shape))
    assert [int(s) for s in fshape(np.zeros((2, 5)), np.zeros(5))] == [5]
    with pytest.raises(NotImplementedError, match="differentiate the unfused graph"):
        sg.grad(sg.sum(node.op(x, v)), x)
    assert pickle.loads(pickle.dumps(node.op)) == node.op


def test_a_long_chain_is_split_into_composites_of_bounded_length():
    x = sg.vector("x")
    y = x
    for _ in range(700):  # 3 scalar steps per link: 2100 in all
        y = sg.sin(y) * 1.0001 + 0.1
    f = sg.function([x], y, mode="py")
    sizes = [len(c.steps) for c in composites(f)]
    assert len(sizes) >= 3 and max(sizes) <= fusion.MAX_STEPS
    a = np.linspace(-1, 1, 5)
    want = a
    for _ in range(700):
        want = np.sin(want) * 1.0001 + 0.1
    np.testing.assert_allclose(f(a), want, rtol=1e-12)
