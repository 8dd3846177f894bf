"""The gradient API: grad's options, Lop/Rop, jacobian/hessian and verify_grad."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg
from symgrad.gradient.derivatives import GradMap, Lop, Rop, hessian, jacobian
from symgrad.gradient.verify import verify_grad
from symgrad.graph.traversal import toposort
from symgrad.ops.map_op import FlatRow, MapRows, ScatterFlatRow

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)


def numeric_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of array-valued ``f`` at ``x``: shape f(x).shape + x.shape."""
    x = np.array(x, dtype=np.float64)
    cols = []
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = eps
        hi = f(x + step.reshape(x.shape))
        lo = f(x - step.reshape(x.shape))
        cols.append((np.asarray(hi) - np.asarray(lo)) / (2 * eps))
    out_shape = np.shape(f(x))
    return np.stack(cols, axis=-1).reshape(out_shape + x.shape)


def uses_map(outputs) -> bool:
    return any(isinstance(n.op, MapRows) for n in toposort(outputs))


# --- grad options ---------------------------------------------------------------------------


def test_consider_constant_blocks_the_path_through_a_variable():
    x = sg.vector("x")
    y = 2 * x
    cost = (x * y).sum()
    g_full, g_cut = sg.grad(cost, x), sg.grad(cost, x, consider_constant=[y])
    xv = rng().normal(size=4)
    np.testing.assert_allclose(sg.function([x], g_full)(xv), 4 * xv)
    np.testing.assert_allclose(sg.function([x], g_cut)(xv), 2 * xv)


def test_known_grads_without_cost():
    x = sg.vector("x")
    h = x**2
    g = sg.vector("g")
    dx = sg.grad(None, x, known_grads={h: g})
    xv, gv = rng(1).normal(size=(2, 5))
    np.testing.assert_allclose(sg.function([x, g], dx)(xv, gv), 2 * xv * gv)


def test_known_grads_add_to_the_cost_gradient():
    x = sg.vector("x")
    h = sg.exp(x)
    g = sg.vector("g")
    dx = sg.grad(h.sum(), x, known_grads={h: g})
    xv, gv = rng(2).normal(size=(2, 3))
    np.testing.assert_allclose(sg.function([x, g], dx)(xv, gv), np.exp(xv) * (1 + gv))


def test_known_grads_rank_mismatch_is_a_type_error():
    x = sg.vector("x")
    with pytest.raises(TypeError, match="test_gradient.py"):
        sg.grad(None, x, known_grads={x * 2: sg.matrix("g")})


def test_cost_none_without_known_grads_raises():
    with pytest.raises(ValueError, match="known_grads"):
        sg.grad(None, sg.vector("x"))


def test_disconnected_input_raises_with_name_and_location():
    x, z = sg.vector("x"), sg.vector("zed")
    with pytest.raises(sg.DisconnectedInputError, match=r"zed.*test_gradient\.py") as info:
        sg.grad(x.sum(), [x, z])
    assert isinstance(info.value, ValueError)


def test_disconnected_input_warn_and_ignore_give_zeros():
    x, z = sg.vector("x"), sg.fmatrix("z")
    with pytest.warns(UserWarning, match="z"):
        _, gz_warn = sg.grad(x.sum(), [x, z], disconnected_inputs="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, gz = sg.grad(x.sum(), [x, z], disconnected_inputs="ignore")
    zv = np.ones((2, 3), dtype="float32")
    for g in (gz, gz_warn):
        out = sg.function([z], g)(zv)
        assert out.dtype == np.float32 and out.shape == (2, 3) and not out.any()


def test_bad_disconnected_policy():
    x = sg.vector("x")
    with pytest.raises(ValueError, match="disconnected_inputs"):
        sg.grad(x.sum(), x, disconnected_inputs="maybe")


@pytest.mark.parametrize("cost_of", [lambda x: x, lambda x: x * 2.0, lambda x: sg.sum(x, axis=0)])
def test_non_scalar_cost_is_a_type_error(cost_of):
    x = sg.matrix("x")
    with pytest.raises(TypeError, match=r"scalar.*test_gradient\.py"):
        sg.grad(cost_of(x), x)


def test_integer_cost_is_a_type_error():
    x = sg.ivector("x")
    with pytest.raises(TypeError, match="float"):
        sg.grad(x.sum(), x)


def test_connected_integer_input_has_float_zero_gradient():
    x, k = sg.vector("x"), sg.ivector("k")
    g = sg.grad((x * k).sum(), k)
    assert g.dtype == sg.config.floatX
    out = sg.function([k], g)(np.arange(3, dtype="int32"))
    np.testing.assert_array_equal(out, np.zeros(3))


def test_wrt_structure_is_kept():
    x, y = sg.vector("x"), sg.vector("y")
    cost = (x * y).sum()
    assert isinstance(sg.grad(cost, [x, y]), list)
    assert isinstance(sg.grad(cost, (x, y)), tuple)
    assert isinstance(sg.grad(cost, x), sg.Variable)


def test_wrt_must_be_variables():
    x = sg.vector("x")
    with pytest.raises(TypeError, match="wrt"):
        sg.grad(x.sum(), [x, np.ones(3)])


# --- what grad differentiates ----------------------------------------------------------------


def test_second_derivative_of_sin():
    x = sg.vector("x")
    d1 = sg.grad(sg.sin(x).sum(), x)
    d2 = sg.grad(d1.sum(), x)
    d3 = sg.grad(d2.sum(), x)
    xv = rng(3).normal(size=6)
    f = sg.function([x], [d1, d2, d3])
    for got, want in zip(f(xv), (np.cos(xv), -np.sin(xv), -np.cos(xv))):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_stop_gradient():
    x = sg.vector("x")
    g = sg.grad((sg.stop_gradient(x) * x).sum(), x)
    xv = rng(4).normal(size=3)
    np.testing.assert_allclose(sg.function([x], g)(xv), xv)
    np.testing.assert_allclose(sg.function([x], sg.stop_gradient(x) * 1.0)(xv), xv)


def test_grad_through_shared_variables():
    w = sg.shared(np.array([1.0, -2.0, 0.5]), name="w")
    b = sg.shared(np.array(0.3), name="b")
    x = sg.vector("x")
    cost = sg.tanh((w * x).sum() + b)
    gw, gb = sg.grad(cost, [w, b])
    xv = np.array([0.2, 0.1, -0.4])
    dt = 1 - np.tanh(w.get_value() @ xv + 0.3) ** 2
    f = sg.function([x], [gw, gb])
    np.testing.assert_allclose(f(xv)[0], dt * xv)
    np.testing.assert_allclose(f(xv)[1], dt)
    w.set_value(np.zeros(3))
    np.testing.assert_allclose(f(xv)[1], 1 - np.tanh(0.3) ** 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_dtype_follows_wrt(dtype):
    x = sg.tensor("x", dtype, (None,))
    g = sg.grad((x * 2.0).sum() + (x.astype("float64") ** 2).sum(), x)
    assert g.dtype == dtype
    out = sg.function([x], g)(np.array([1.0, 2.0], dtype=dtype))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, [4.0, 6.0])


def test_grad_with_respect_to_an_intermediate_variable():
    x = sg.vector("x")
    h = sg.exp(x)
    cost = (h**2).sum() + x.sum()
    gh, gx = sg.grad(cost, [h, x])
    xv = rng(5).normal(size=4)
    f = sg.function([x], [gh, gx])
    np.testing.assert_allclose(f(xv)[0], 2 * np.exp(xv))
    np.testing.assert_allclose(f(xv)[1], 2 * np.exp(2 * xv) + 1)


def test_variable_used_many_times_accumulates():
    x = sg.vector("x")
    cost = (x * x * x).sum() + (x + x).sum() + sg.sin(x).sum() * x.sum()
    xv = rng(6).normal(size=4)
    want = 3 * xv**2 + 2 + np.cos(xv) * xv.sum() + np.sin(xv).sum()
    np.testing.assert_allclose(sg.function([x], sg.grad(cost, x))(xv), want)


def test_grad_of_broadcast_and_reduced_graph_matches_finite_differences():
    check_grad(
        lambda a, b: sg.tanh(a * b).sum(axis=0) * sg.exp(b).mean(),
        [
            rng(7).normal(size=(3, 4)),
            rng(8).normal(size=(1, 4)),
        ],
    )


# --- Lop and Rop -------------------------------------------------------------------------------


def _vector_function(x):
    return sg.exp(x) * x.sum() + sg.sin(x * 2.0)


def _vector_function_np(xv):
    return np.exp(xv) * xv.sum() + np.sin(2 * xv)


def test_lop_and_rop_match_the_jacobian():
    x, u, v = sg.vector("x"), sg.vector("u"), sg.vector("v")
    y = _vector_function(x)
    f = sg.function([x, u, v], [Lop(y, x, u), Rop(y, x, v)])
    xv, uv, vv = rng(9).normal(size=(3, 5))
    jac = numeric_jacobian(_vector_function_np, xv)
    lop, rop = f(xv, uv, vv)
    np.testing.assert_allclose(lop, uv @ jac, rtol=1e-6)
    np.testing.assert_allclose(rop, jac @ vv, rtol=1e-6)


def test_rop_leaves_no_dummy_input_and_handles_lists():
    x, w = sg.vector("x"), sg.matrix("w")
    vx, vw = sg.vector("vx"), sg.matrix("vw")
    y1 = sg.tanh(w * x).sum(axis=1)
    y2 = (x**2).sum()
    r1, r2 = Rop([y1, y2], [x, w], [vx, vw])
    assert r1.ndim == 1 and r2.ndim == 0
    f = sg.function([x, w, vx, vw], [r1, r2])
    g = rng(10)
    xv, vxv = g.normal(size=(2, 3))
    wv, vwv = g.normal(size=(2, 2, 3))
    eps = 1e-6

    def both(s):
        xs, ws = xv + s * vxv, wv + s * vwv
        return np.tanh(ws * xs).sum(axis=1), (xs**2).sum()

    hi, lo = both(eps), both(-eps)
    out = f(xv, wv, vxv, vwv)
    np.testing.assert_allclose(out[0], (hi[0] - lo[0]) / (2 * eps), rtol=1e-6)
    np.testing.assert_allclose(out[1], (hi[1] - lo[1]) / (2 * eps), rtol=1e-6)


def test_lop_with_lists_sums_over_outputs():
    x = sg.vector("x")
    a, b = sg.exp(x), x * 3.0
    ua, ub = sg.vector("ua"), sg.vector("ub")
    g = Lop([a, b], [x], [ua, ub])
    assert isinstance(g, list) and len(g) == 1
    xv, uav, ubv = rng(11).normal(size=(3, 4))
    out = sg.function([x, ua, ub], g[0])(xv, uav, ubv)
    np.testing.assert_allclose(out, np.exp(xv) * uav + 3 * ubv)


def test_rop_can_be_differentiated_again():
    x, v = sg.vector("x"), sg.vector("v")
    hvp = Rop(sg.grad((x**3).sum(), x), x, v)  # Hessian-vector product: 6 x v
    g = sg.grad((hvp * x).sum(), x)  # d/dx sum(6 x^2 v) = 12 x v
    xv, vv = rng(12).normal(size=(2, 4))
    f = sg.function([x, v], [hvp, g])
    np.testing.assert_allclose(f(xv, vv)[0], 6 * xv * vv)
    np.testing.assert_allclose(f(xv, vv)[1], 12 * xv * vv)


def test_rop_of_an_integer_output_is_zero():
    x, v = sg.vector("x"), sg.vector("v")
    r = Rop(sg.argmax(x), x, v)
    assert r.ndim == 0 and r.dtype == "float64"
    assert sg.function([x, v], r, on_unused_input="ignore")(np.ones(2), np.ones(2)) == 0


def test_eval_points_must_match():
    x = sg.vector("x")
    with pytest.raises(ValueError, match=r"eval_points.*test_gradient\.py"):
        Rop(x * 2.0, [x], [sg.vector("a"), sg.vector("b")])
    with pytest.raises(TypeError, match=r"eval_points\[0\].*test_gradient\.py"):
        Lop(x * 2.0, x, sg.matrix("m"))


# --- jacobian and hessian --------------------------------------------------------------------


@pytest.mark.parametrize("static", [True, False], ids=["unrolled", "mapped"])
def test_jacobian_of_a_vector_function(static):
    x = sg.vector("x", shape=(5,) if static else None)
    jac = jacobian(_vector_function(x), x)
    assert uses_map([jac]) is not static
    assert jac.static_shape == ((5, 5) if static else (None, None))
    xv = rng(13).normal(size=5)
    np.testing.assert_allclose(
        sg.function([x], jac)(xv), numeric_jacobian(_vector_function_np, xv), rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("static", [True, False], ids=["unrolled", "mapped"])
def test_jacobian_of_a_matrix_with_respect_to_a_list(static):
    a = sg.matrix("a", shape=(2, 3) if static else None)
    b = sg.vector("b")
    y = sg.tanh(a * b)
    ja, jb = jacobian(y, [a, b])
    av = rng(14).normal(size=(2, 3))
    bv = rng(15).normal(size=3)
    got_a, got_b = sg.function([a, b], [ja, jb])(av, bv)
    assert got_a.shape == (2, 3, 2, 3) and got_b.shape == (2, 3, 3)
    np.testing.assert_allclose(got_a, numeric_jacobian(lambda t: np.tanh(t * bv), av), atol=1e-8)
    np.testing.assert_allclose(got_b, numeric_jacobian(lambda t: np.tanh(av * t), bv), atol=1e-8)


def test_jacobian_of_a_scalar_is_the_gradient():
    x = sg.vector("x")
    g = jacobian((x**2).sum(), x)
    np.testing.assert_allclose(sg.function([x], g)(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_jacobian_of_an_empty_expression():
    x, w = sg.vector("x"), sg.vector("w")
    jac = jacobian(x * w.sum(), w)
    out = sg.function([x, w], jac)(np.zeros(0), np.ones(4))
    assert out.shape == (0, 4)


def test_jacobian_on_non_contiguous_inputs():
    x = sg.vector("x")
    jac = jacobian(sg.exp(x) * x.sum(), x)
    base = rng(16).normal(size=10)
    for xv in (base[::2], base[::-2]):
        want = numeric_jacobian(lambda t: np.exp(t) * t.sum(), np.array(xv))
        np.testing.assert_allclose(sg.function([x], jac)(xv), want, rtol=1e-6, atol=1e-9)


def test_jacobian_float32():
    x = sg.fvector("x")
    jac = jacobian(sg.exp(x) * 2.0, x)
    out = sg.function([x], jac)(np.array([0.0, 1.0], dtype="float32"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.diag(2 * np.exp([0.0, 1.0])), rtol=1e-6)


def test_jacobian_disconnected():
    x, z = sg.vector("x"), sg.vector("z")
    with pytest.raises(sg.DisconnectedInputError, match="test_gradient.py"):
        jacobian(sg.exp(x), z)
    jz = jacobian(sg.exp(x), z, disconnected_inputs="ignore")
    out = sg.function([x, z], jz)(np.ones(2), np.ones(3))
    assert out.shape == (2, 3) and not out.any()


def _logistic_loss(X, y, w, lam):
    p = sg.sigmoid((X * w).sum(axis=1))
    nll = -(y * sg.log(p) + (1.0 - y) * sg.log(1.0 - p)).sum()
    return nll + lam * (w**2).sum(), p


@pytest.mark.parametrize("static", [True, False], ids=["unrolled", "mapped"])
def test_hessian_of_logistic_regression(static):
    X, y = sg.matrix("X"), sg.vector("y")
    w = sg.vector("w", shape=(4,) if static else None)
    loss, p = _logistic_loss(X, y, w, 0.1)
    H = hessian(loss, w)
    g = rng(17)
    Xv, wv = g.normal(size=(20, 4)), g.normal(size=4)
    yv = (g.random(20) < 0.5).astype(float)
    got, pv = sg.function([X, y, w], [H, p])(Xv, yv, wv)
    want = Xv.T @ np.diag(pv * (1 - pv)) @ Xv + 0.2 * np.eye(4)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_hessian_list_and_cross_terms_are_separate():
    a, b = sg.vector("a"), sg.vector("b")
    cost = (a**2 * b).sum()
    ha, hb = hessian(cost, [a, b])
    av, bv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    got_a, got_b = sg.function([a, b], [ha, hb])(av, bv)
    np.testing.assert_allclose(got_a, np.diag(2 * bv))
    np.testing.assert_allclose(got_b, np.zeros((2, 2)))


@pytest.mark.parametrize("static", [True, False], ids=["unrolled", "mapped"])
def test_grad_through_a_jacobian(static):
    def build(x):
        jac = jacobian(sg.sin(x) * (x**2).sum(), x)
        return (jac * jac).sum(axis=0)

    if static:
        x = sg.vector("x", shape=(3,))
        cost = (build(x) * np.array([0.3, -1.0, 2.0])).sum()
        xv = rng(18).normal(size=3)
        got = sg.function([x], sg.grad(cost, x))(xv)

        def np_cost(t):
            jac = numeric_jacobian(lambda s: np.sin(s) * (s**2).sum(), t, eps=1e-5)
            return float(((jac * jac).sum(axis=0) * np.array([0.3, -1.0, 2.0])).sum())

        want = numeric_jacobian(np_cost, xv, eps=1e-4)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    else:
        check_grad(build, [rng(18).normal(size=3)])


def test_third_derivative_through_a_mapped_hessian():
    x = sg.vector("x")
    H = hessian((x**4).sum() + x.sum() * (x**2).sum(), x)
    assert uses_map([H])
    t = sg.grad((H * H).sum(), x)
    xv = rng(19).normal(size=3)

    def np_h(s):
        return np.diag(12 * s**2 + 2 * s.sum()) + 2 * s[:, None] + 2 * s[None, :]

    want = numeric_jacobian(lambda s: (np_h(s) ** 2).sum(), xv)
    np.testing.assert_allclose(sg.function([x], t)(xv), want, rtol=1e-6)


def test_map_hoists_loop_invariants():
    x = sg.vector("x")
    jac = jacobian(sg.exp(sg.sin(x)) * 2.0, x)
    (node,) = [n for n in toposort([jac]) if isinstance(n.op, MapRows)]
    inner_ops = {str(n.op) for n in toposort(node.op.outputs)}
    assert not inner_ops & {"exp", "sin", "cos"}, inner_ops
    assert isinstance(node.op, GradMap)


def test_mapped_jacobian_function_pickles():
    x = sg.vector("x")
    f = sg.function([x], jacobian(sg.exp(x), x))
    g = pickle.loads(pickle.dumps(f))
    xv = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(g(xv), np.diag(np.exp(xv)))


def test_flat_row_ops():
    x, i = sg.tensor3("x"), sg.lscalar("i")
    xv = rng(22).normal(size=(2, 3, 4))[:, ::-1]
    rows = sg.function([x, i], [FlatRow(2)(x, i), FlatRow(3)(x, i), FlatRow(1)(x, i)])
    for k in range(2):
        got = rows(xv, k)
        np.testing.assert_array_equal(got[0], xv.reshape(6, 4)[k])
        assert got[1] == xv.reshape(-1)[k] and got[1].shape == ()
        np.testing.assert_array_equal(got[2], xv[k])
    put = ScatterFlatRow(2)(sg.vector("g"), i, 2, 3, 4)
    assert put.static_shape == (2, 3, 4)
    out = sg.function([put.owner.inputs[0], i], put)(np.arange(4.0), 4)
    want = np.zeros((6, 4))
    want[4] = np.arange(4.0)
    np.testing.assert_array_equal(out, want.reshape(2, 3, 4))
    check_grad(lambda t: FlatRow(2)(t, 3) * FlatRow(1)(t, 1).sum(axis=0), [xv])


def test_flat_row_errors():
    x = sg.matrix("x")
    with pytest.raises(TypeError, match=r"flat_row.*test_gradient\.py"):
        FlatRow(1)(x, sg.vector("f"))
    with pytest.raises(ValueError, match=r"flat_row.*test_gradient\.py"):
        FlatRow(3)(x, 0)
    with pytest.raises(IndexError, match=r"flat_row.*test_gradient\.py"):
        sg.function([x], FlatRow(2)(x, 6))(np.ones((2, 3)))


# --- verify_grad ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_verify_grad_passes_on_correct_gradients(dtype):
    g = rng(20)
    a, b = g.normal(size=(3, 4)).astype(dtype), g.normal(size=4).astype(dtype)
    verify_grad(lambda x, y: sg.tanh(x * y) + sg.exp(y), [a, b])
    verify_grad(lambda x, y: sg.log(x * x + 1.0).sum(axis=1), [a, b], rng=3)
    verify_grad(lambda x: sg.softplus(x).max(), [a], rng=np.random.default_rng(1))


def test_verify_grad_on_zero_d_and_empty_points():
    verify_grad(lambda x: sg.sin(x) * x, [np.array(0.7)])
    verify_grad(lambda x: sg.exp(x), [np.zeros((0, 3))])


class _Cube(sg.Op):
    """x**3 with a gradient scaled by ``factor`` (3 is right)."""

    __props__ = ("factor",)

    def __init__(self, factor):
        self.factor = factor

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 3

    def grad(self, inputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [self.factor * x * x * g]


def test_verify_grad_on_user_ops():
    point = [rng(21).normal(size=(2, 3))]
    verify_grad(_Cube(3.0), point)
    with pytest.raises(AssertionError, match=r"input 0.*max abs error.*max rel error"):
        verify_grad(_Cube(2.0), point)


def test_verify_grad_tolerances_and_eps():
    x = [np.array([1.0, 2.0])]
    wrong = _Cube(2.9)
    with pytest.raises(AssertionError):
        verify_grad(wrong, x)
    verify_grad(wrong, x, abs_tol=1.0, rel_tol=1.0)
    verify_grad(_Cube(3.0), x, eps=1e-5)


def test_verify_grad_rejects_integer_points_and_outputs():
    with pytest.raises(TypeError, match="float"):
        verify_grad(lambda x: x * 2, [np.arange(3)])
    with pytest.raises(TypeError, match="float"):
        verify_grad(lambda x: sg.argmax(x), [np.ones(3)])


@pytest.mark.parametrize("static", [True, False], ids=["unrolled", "mapped"])
def test_hessian_of_a_linear_cost_is_zero(static):
    x, w = sg.vector("x"), sg.vector("w", shape=(3,) if static else None)
    H = hessian((w * x).sum(), w)
    out = sg.function([x, w], H)(np.ones(3), np.ones(3))
    np.testing.assert_array_equal(out, np.zeros((3, 3)))
    with pytest.raises(sg.DisconnectedInputError, match="test_gradient.py"):
        hessian(x.sum(), w)


def test_jacobian_of_a_hessian_is_the_third_derivative():
    x = sg.vector("x")
    T = jacobian(hessian((x**4).sum() + x.sum() * (x**2).sum(), x), x)
    xv = np.array([0.3, -0.2, 0.5])

    def np_h(s):
        return np.diag(12 * s**2 + 2 * s.sum()) + 2 * s[:, None] + 2 * s[None, :]

    np.testing.assert_allclose(sg.function([x], T)(xv), numeric_jacobian(np_h, xv), atol=1e-8)


def test_long_static_jacobian_is_mapped_with_static_shape():
    x = sg.vector("x", shape=(20,))
    J = jacobian(sg.exp(x), x)
    assert uses_map([J]) and J.static_shape == (20, 20)
    np.testing.assert_allclose(sg.function([x], J)(np.zeros(20)), np.eye(20))


def test_jacobian_with_respect_to_a_shared_variable_and_consider_constant():
    x = sg.vector("x")
    w = sg.shared(np.array([1.0, 2.0, 3.0]), name="w")
    y = x * 2.0
    Jw = jacobian(sg.exp(w * x), w)
    Jx = jacobian(y * x, x, consider_constant=[y])
    xv = np.array([0.3, -0.2, 0.5])
    got_w, got_x = sg.function([x], [Jw, Jx])(xv)
    np.testing.assert_allclose(got_w, np.diag(xv * np.exp(w.get_value() * xv)))
    np.testing.assert_allclose(got_x, np.diag(2 * xv))


def test_verify_grad_rejects_several_outputs():
    with pytest.raises(TypeError, match="one variable"):
        verify_grad(lambda x: [x * 2.0, x], [np.ones(3)])


def test_connected_only_through_non_differentiable_ops_gives_zeros():
    """Theano's rule: a path through comparisons, casts to int or argmax is a zero gradient,
    not a disconnected input; an input with no path at all is still disconnected."""
    x, y = sg.vector("x"), sg.vector("y")
    cost = sg.cast(x > 0, "float64").sum() + sg.cast(sg.argmax(x), "float64")
    g = sg.grad(cost, x)
    np.testing.assert_array_equal(sg.function([x], g)([1.0, -2.0]), [0.0, 0.0])
    assert g.dtype == "float64"
    with pytest.raises(sg.DisconnectedInputError, match="test_gradient.py"):
        sg.grad(cost, y)
