"""Specialize rewrites (powers, Gemm, sum of products -> dot) and the Gemm op."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_grad, op_names, rng

import symgrad as sg
from symgrad.graph.errors import ShapeError
from symgrad.ops.gemm import Gemm, gemm
from symgrad.ops.linalg import MatMul
from symgrad.rewrite import specialize  # noqa: F401 (registers the rewrites)

R = rng(1)


def compile_and_compare(name, inputs, out, arrays, fires=True, rtol=1e-6):
    f = sg.function(inputs, out)
    f0 = sg.function(inputs, out, exclude=["all"])
    assert (f.rewrites[name] > 0) == fires, dict(f.rewrites)
    got, want = f(*arrays), f0(*arrays)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol)
    return f


def has_op(f, cls):
    return any(isinstance(n.op, cls) for n in f.fgraph.toposort())


# --- powers ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "n, expect",
    [(2, "mul"), (3, "mul"), (16, "mul"), (-1, "reciprocal"), (-3, "reciprocal"), (0.5, "sqrt"), (0, None)],
)
def test_float_powers(dtype, n, expect):
    x = sg.vector("x", dtype=dtype)
    data = R.uniform(0.5, 1.5, size=6).astype(dtype)
    f = compile_and_compare("pow_specialize", [x], x**n, [data], rtol=1e-5)
    names = op_names(f)
    assert "pow" not in names
    assert expect is None or expect in names


@pytest.mark.parametrize("n", [2, 3, 7, 16])
def test_int_powers_exact(n):
    x = sg.vector("x", dtype="int32")
    data = R.integers(-9, 9, size=6).astype("int32")
    f = compile_and_compare("pow_specialize", [x], x**n, [data])
    np.testing.assert_array_equal(f(data), data**n)  # wrap-around as NumPy


@pytest.mark.parametrize("n", [2.5, 17, -17])
def test_non_small_integer_powers_stay(n):
    x = sg.vector("x")
    f = compile_and_compare("pow_specialize", [x], x**n, [R.uniform(0.5, 1.5, size=4)], fires=False)
    assert "pow" in op_names(f)


def test_int_negative_power_stays():
    x = sg.vector("x", dtype="int32")
    f = sg.function([x], x ** np.int32(-1))
    assert f.rewrites["pow_specialize"] == 0


def test_int_sqrt_is_float64():
    x = sg.vector("x", dtype="int32")
    f = compile_and_compare("pow_specialize", [x], x**0.5, [np.array([0, 4, 9], "int32")])
    assert f(np.array([4], "int32")).dtype == np.float64


def test_power_keeps_the_exponent_shape():
    x = sg.vector("x")
    f = compile_and_compare("pow_specialize", [x], x ** np.full((2, 3), 2.0), [np.array([3.0])])
    assert f(np.array([3.0])).shape == (2, 3)


# --- gemm ------------------------------------------------------------------------------


def _mats(dtype="float64"):
    return (R.normal(size=(4, 3)).astype(dtype), R.normal(size=(3, 5)).astype(dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c_shape", [(4, 5), (5,), (1, 5), (4, 1), ()])
def test_gemm_from_matmul_plus(dtype, c_shape):
    a, b = sg.matrix("a", dtype=dtype), sg.matrix("b", dtype=dtype)
    c = sg.tensor("c", dtype, (None,) * len(c_shape))
    data = [*_mats(dtype), R.normal(size=c_shape).astype(dtype)]
    f = compile_and_compare("gemm", [a, b, c], a @ b + c, data, rtol=1e-5)
    assert has_op(f, Gemm) and not has_op(f, MatMul)
    compile_and_compare("gemm", [a, b, c], c + a @ b, data, rtol=1e-5)


def test_gemm_with_scales():
    a, b, c = sg.matrix("a"), sg.matrix("b"), sg.matrix("c")
    s = sg.scalar("s")
    data = [*_mats(), R.normal(size=(4, 5))]
    f = compile_and_compare("gemm", [a, b, c], 2.0 * (a @ b) + 3.0 * c, data)
    assert op_names(f) == ["Gemm"]
    f = compile_and_compare("gemm", [a, b, c, s], (a @ b) * s + c * s, [*data, np.array(0.5)])
    assert op_names(f) == ["Gemm"]


def test_gemm_near_misses():
    ai, bi = sg.matrix("a", dtype="int32"), sg.matrix("b", dtype="int32")
    ints = [R.integers(-5, 5, size=(4, 3)).astype("int32"), R.integers(-5, 5, size=(3, 5)).astype("int32")]
    compile_and_compare("gemm", [ai, bi], ai @ bi + 1, ints, fires=False)
    a, b = sg.matrix("a", dtype="float32"), sg.matrix("b", dtype="float32")
    c = sg.matrix("c")  # float64: the sum is float64, the product float32
    compile_and_compare("gemm", [a, b, c], a @ b + c, [*_mats("float32"), np.ones((4, 5))], fires=False)
    t, m = sg.tensor3("t"), sg.matrix("m")
    data = [R.normal(size=(2, 4, 3)), R.normal(size=(3, 5))]
    compile_and_compare("gemm", [t, m], t @ m + 1.0, data, fires=False)
    v = sg.vector("v")
    compile_and_compare("gemm", [v, m], v @ m + 1.0, [R.normal(size=3), data[1]], fires=False)


def test_gemm_from_a_difference():
    a, b, c = sg.matrix("a"), sg.matrix("b"), sg.matrix("c")
    s = sg.scalar("s")
    data = [*_mats(), R.normal(size=(4, 5))]
    for expr in (c - a @ b, c - 0.1 * (a @ b), (a @ b) * 2.0 - c, 3.0 * c - (a @ b) * 2.0):
        f = compile_and_compare("gemm_sub", [a, b, c], expr, data)
        assert op_names(f) == ["Gemm"]
    f = compile_and_compare("gemm_sub", [a, b, c, s], c - s * (a @ b), [*data, np.array(0.25)])
    assert has_op(f, Gemm) and not has_op(f, MatMul)
    v = sg.vector("v")  # a bias row subtracted
    compile_and_compare("gemm_sub", [a, b, v], a @ b - v, [*data[:2], R.normal(size=5)])


def test_gemm_from_a_difference_near_misses():
    a, b, c = sg.matrix("a"), sg.matrix("b"), sg.matrix("c")
    data = [*_mats(), R.normal(size=(4, 5))]
    product = a @ b
    compile_and_compare("gemm_sub", [a, b, c], (c - product) * product.sum(), data, fires=False)  # read twice
    ai, bi = sg.matrix("a", dtype="int32"), sg.matrix("b", dtype="int32")
    ints = [R.integers(-5, 5, size=(4, 3)).astype("int32"), R.integers(-5, 5, size=(3, 5)).astype("int32")]
    compile_and_compare("gemm_sub", [ai, bi], 1 - ai @ bi, ints, fires=False)
    t = sg.tensor3("t")
    compile_and_compare("gemm_sub", [t, b], t @ b - 1.0, [R.normal(size=(2, 4, 3)), data[1]], fires=False)


def test_mlp_layer_gets_gemm():
    x = sg.matrix("x", dtype=sg.config.floatX)
    w = sg.shared(R.normal(size=(3, 5)).astype(sg.config.floatX), "W")
    b = sg.shared(np.zeros(5, sg.config.floatX), "b")
    h = sg.tanh(x @ w + b)
    cost = sg.mean(h**2)
    gw, gb = sg.grad(cost, [w, b])
    f = compile_and_compare("gemm", [x], h, [R.normal(size=(4, 3)).astype(sg.config.floatX)], rtol=1e-5)
    assert op_names(f) == ["Gemm", "tanh"]
    train = sg.function([x], [cost, gw, gb])
    reference = sg.function([x], [cost, gw, gb], exclude=["all"])
    data = R.normal(size=(4, 3)).astype(sg.config.floatX)
    assert train.rewrites["gemm"] > 0
    for got, want in zip(train(data), reference(data)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_gemm_op_grad():
    check_grad(lambda a, b, c, s, t: gemm(a, b, c, s, t), [*_mats(), R.normal(size=5), 0.7, -1.3])
    check_grad(lambda a, b, c, s, t: gemm(a, b, c, s, t), [*_mats(), R.normal(size=(4, 5)), 2.0, 0.5])
    check_grad(
        lambda a, b, c, s, t: gemm(a, b, c, s, t),
        [R.normal(size=(1, 3)), R.normal(size=(3, 5)), R.normal(size=(4, 1)), 1.0, 1.0],
    )


def test_gemm_op_shape_and_errors():
    a, b, c = sg.matrix("a"), sg.matrix("b"), sg.vector("c")
    out = gemm(a, b, c, 1.0, 1.0)
    f = sg.function([a, b, c], out.shape)
    assert list(f(*_mats(), np.ones(5))) == [4, 5]
    with pytest.raises(ShapeError, match="gemm.*test_rewrite_specialize.py"):
        sg.function([a, b, c], out)(np.ones((4, 3)), np.ones((2, 5)), np.ones(5))
    with pytest.raises(ShapeError, match="gemm.*test_rewrite_specialize.py"):
        gemm(sg.matrix("a", shape=(4, 3)), sg.matrix("b", shape=(2, 5)), c, 1.0, 1.0)
    with pytest.raises(TypeError, match="gemm.*test_rewrite_specialize.py"):
        gemm(a, sg.matrix("b", dtype="float32"), c, 1.0, 1.0)


# --- sum of products -> dot ------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sum_mul_to_dot(dtype):
    x, y = sg.vector("x", dtype=dtype, shape=(6,)), sg.vector("y", dtype=dtype, shape=(6,))
    data = [R.normal(size=6).astype(dtype), R.normal(size=12).astype(dtype)[::2]]
    f = compile_and_compare("sum_mul_to_dot", [x, y], sg.sum(x * y), data, rtol=1e-5)
    assert has_op(f, MatMul) and "mul" not in op_names(f)
    v = sg.vector("v", dtype=dtype)
    compile_and_compare("sum_mul_to_dot", [v], sg.sum(v * v), [data[0]], rtol=1e-5)


def test_sum_mul_near_misses():
    x, y = sg.vector("x"), sg.vector("y")
    # a length-1 vector broadcasts under *, which a dot product would reject
    compile_and_compare("sum_mul_to_dot", [x, y], sg.sum(x * y), [np.ones(1), np.arange(4.0)], fires=False)
    xi, yi = sg.vector("x", dtype="int32", shape=(3,)), sg.vector("y", dtype="int32", shape=(3,))
    ints = [np.array([1, 2, 3], "int32")] * 2
    compile_and_compare("sum_mul_to_dot", [xi, yi], sg.sum(xi * yi), ints, fires=False)
    m = sg.matrix("m")
    compile_and_compare("sum_mul_to_dot", [m], sg.sum(m * m, axis=0), [np.ones((2, 3))], fires=False)
