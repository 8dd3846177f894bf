"""matmul, dot, tensordot and outer against NumPy: values, dtypes, static shapes, gradients
and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg
from symgrad.ops.shape_of import shape_dims

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)


def var_like(value: np.ndarray, static: bool = False):
    shape = value.shape if static else (None,) * value.ndim
    return sg.tensor(None, value.dtype, shape)


def sample(shape, dtype="float64", seed=0):
    r = rng(seed)
    if dtype == "bool":
        return r.integers(0, 2, size=shape).astype(bool)
    if np.dtype(dtype).kind in "iu":
        return r.integers(0, 5, size=shape).astype(dtype)
    return r.normal(size=shape).astype(dtype)


def run(build, *values, static=False):
    variables = [var_like(v, static) for v in values]
    return sg.function(variables, build(*variables))(*values)


def assert_matches(got, expected, dtype=None):
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    tol = 1e-5 if got.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (4, 3, 5)),
    ((0, 3), (3, 2)),
    ((3, 0), (0, 2)),
    ((2, 0, 3), (3, 4)),
    ((0,), (0,)),
]


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES)
@pytest.mark.parametrize("static", [False, True])
def test_matmul_matches_numpy(shape_a, shape_b, static):
    a, b = sample(shape_a), sample(shape_b, seed=1)
    expected = np.matmul(a, b)
    assert_matches(run(sg.matmul, a, b, static=static), expected)
    out = sg.matmul(var_like(a, True), var_like(b, True))
    assert out.static_shape == expected.shape


@pytest.mark.parametrize(
    "dtype_a,dtype_b",
    [
        ("float32", "float32"),
        ("float64", "float64"),
        ("float32", "float64"),
        ("int32", "int32"),
        ("int64", "int64"),
        ("int8", "uint8"),
        ("int32", "float32"),
        ("bool", "bool"),
        ("bool", "float32"),
    ],
)
def test_matmul_dtypes(dtype_a, dtype_b):
    a, b = sample((2, 3, 4), dtype_a), sample((4, 2), dtype_b, seed=1)
    assert_matches(run(sg.matmul, a, b), np.matmul(a, b))
    assert sg.matmul(var_like(a), var_like(b)).dtype == np.matmul(a, b).dtype.name


def test_matmul_non_contiguous_inputs():
    base = sample((6, 5))
    for a in (base.T, base[::2], base[::-1, ::-1], base.T[::-1]):
        b = sample((a.shape[1], 3), seed=2)[::-1]
        assert_matches(run(sg.matmul, a, b), a @ b)


def test_matmul_operator_method_and_constants():
    x = sg.matrix("x")
    w = sample((3, 2), seed=3)
    xv = sample((4, 3))
    f = sg.function([x], [x @ w, sg.constant(w.T) @ x.T, x.dot(w)])
    got = f(xv)
    for g, e in zip(got, [xv @ w, w.T @ xv.T, xv.dot(w)]):
        assert_matches(g, e)


def test_matmul_outputs_do_not_alias_inputs():
    x = sg.matrix("x")
    eye = np.eye(3)
    out = sg.function([x], sg.matmul(x, np.eye(3)))(eye)
    assert not np.shares_memory(out, eye)


@pytest.mark.parametrize(
    "shape_a,shape_b",
    [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 4)),
        ((2, 3), (3, 4)),
        ((2, 1, 2, 3), (4, 3, 2)),
        ((3, 2), (1, 2, 2)),
    ],
)
def test_matmul_gradient(shape_a, shape_b):
    check_grad(sg.matmul, [sample(shape_a), sample(shape_b, seed=1)])


def test_matmul_gradient_with_static_broadcast_axes():
    a = sg.tensor("a", "float64", (1, 2, 3))
    b = sg.tensor("b", "float64", (4, 3, 2))
    av, bv = sample((1, 2, 3)), sample((4, 3, 2), seed=1)
    ga, gb = sg.function([a, b], sg.grad(sg.matmul(a, b).sum(), [a, b]))(av, bv)
    ones = np.ones((4, 2, 2))
    np.testing.assert_allclose(ga, (ones @ np.swapaxes(bv, -1, -2)).sum(0, keepdims=True))
    np.testing.assert_allclose(gb, np.swapaxes(av, -1, -2) @ ones)


def test_matmul_second_order_gradient():
    def hess_vec(a, b):
        return sg.grad((sg.matmul(a, b) ** 2).sum(), a)

    check_grad(hess_vec, [sample((2, 3)), sample((3, 2), seed=1)], rtol=1e-4)


def test_matmul_gradient_dtypes():
    a, b = sg.fmatrix("a"), sg.fmatrix("b")
    ga, gb = sg.grad(sg.matmul(a, b).sum(), [a, b])
    assert ga.dtype == gb.dtype == "float32"
    i, f = sg.imatrix("i"), sg.dmatrix("f")
    gf = sg.grad(sg.matmul(i, f).sum(), f)
    iv, fv = sample((2, 3), "int32"), sample((3, 4))
    np.testing.assert_allclose(sg.function([i, f], gf)(iv, fv), iv.T @ np.ones((2, 4)))


def test_matmul_infer_shape_broadcasts_batch_axes():
    a, b = sg.tensor3("a"), sg.tensor3("b")
    node = sg.matmul(a, b).owner
    dims = node.op.infer_shape(node, [tuple(shape_dims(v)) for v in node.inputs])[0]
    f = sg.function([a, b], list(dims), on_unused_input="ignore")
    assert [int(d) for d in f(np.ones((1, 2, 3)), np.ones((5, 3, 4)))] == [5, 2, 4]
    assert [int(d) for d in f(np.ones((6, 2, 3)), np.ones((1, 3, 4)))] == [6, 2, 4]
    assert [int(d) for d in f(np.ones((0, 2, 3)), np.ones((1, 3, 4)))] == [0, 2, 4]


def test_matmul_static_shape_mismatch_names_op_and_line():
    a, b = sg.matrix("a", shape=(2, 3)), sg.matrix("b", shape=(4, 2))
    with pytest.raises(sg.ShapeError, match=r"matmul.*\(2, 3\).*\(4, 2\).*test_linalg.py"):
        sg.matmul(a, b)
    with pytest.raises(ValueError, match="matmul.*batch.*test_linalg.py"):
        sg.tensor3("c", shape=(2, 3, 3)) @ sg.tensor3("d", shape=(4, 3, 3))


def test_matmul_runtime_shape_mismatch_names_op_and_line():
    a, b = sg.matrix("a"), sg.matrix("b")
    f = sg.function([a, b], a @ b)
    with pytest.raises(sg.ShapeError, match=r"matmul.*\(2, 3\) and \(4, 2\).*test_linalg.py"):
        f(np.ones((2, 3)), np.ones((4, 2)))
    c, d = sg.tensor3("c"), sg.tensor3("d")
    g = sg.function([c, d], c @ d)
    with pytest.raises(ValueError, match="matmul.*batch.*test_linalg.py"):
        g(np.ones((2, 3, 3)), np.ones((4, 3, 3)))


def test_matmul_rejects_scalars():
    with pytest.raises(ValueError, match="matmul.*test_linalg.py"):
        sg.matmul(sg.scalar("s"), sg.vector("v"))
    with pytest.raises(ValueError, match="matmul"):
        sg.vector("v") @ 2.0


DOT_SHAPES = [
    ((), ()),
    ((), (3,)),
    ((2, 3), ()),
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (5, 4, 2)),
    ((2, 0, 4), (4, 3)),
]


@pytest.mark.parametrize("shape_a,shape_b", DOT_SHAPES)
def test_dot_matches_numpy(shape_a, shape_b):
    a, b = sample(shape_a), sample(shape_b, seed=1)
    assert_matches(run(sg.dot, a, b), np.asarray(np.dot(a, b)))
    assert sg.dot(var_like(a, True), var_like(b, True)).static_shape == np.shape(np.dot(a, b))


@pytest.mark.parametrize("dtype", ["float32", "int64", "int32"])
def test_dot_dtypes(dtype):
    a, b = sample((2, 3, 4), dtype), sample((4, 3), dtype, seed=1)
    assert_matches(run(sg.dot, a, b), np.dot(a, b))


@pytest.mark.parametrize("shape_a,shape_b", [((), (3,)), ((3,), (3,)), ((2, 3, 2), (4, 2, 3))])
def test_dot_gradient(shape_a, shape_b):
    check_grad(sg.dot, [sample(shape_a), sample(shape_b, seed=1)])


TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
    ((2, 3, 4), (4, 3, 5), ([-1, -2], [0, 1])),
    ((3,), (3,), 1),
    ((2, 3), (4, 5), 0),
    ((), (2,), 0),
    ((2, 3), (3, 2), ([0, 1], [1, 0])),
    ((2, 0, 3), (0, 3, 4), 2),
    ((4, 5, 6), (6, 7), 1),
    ((4, 5), (3, 5), (1, 1)),
    ((2, 3, 4), (2, 3, 4), 3),
]


@pytest.mark.parametrize("shape_a,shape_b,axes", TENSORDOT_CASES)
def test_tensordot_matches_numpy(shape_a, shape_b, axes):
    a, b = sample(shape_a), sample(shape_b, seed=1)
    expected = np.asarray(np.tensordot(a, b, axes))
    assert_matches(run(lambda x, y: sg.tensordot(x, y, axes), a, b), expected)
    static = sg.tensordot(var_like(a, True), var_like(b, True), axes)
    assert static.ndim == expected.ndim


def test_tensordot_dtypes_and_non_contiguous():
    a = sample((4, 3, 2), "int32")[::-1]
    b = sample((2, 3, 5), "int32", seed=1).transpose(1, 0, 2)
    assert_matches(
        run(lambda x, y: sg.tensordot(x, y, ([1, 2], [0, 1])), a, b), np.tensordot(a, b, ([1, 2], [0, 1]))
    )
    c, d = sample((3, 4), "float32").T, sample((3, 2), "float32")
    assert_matches(run(lambda x, y: sg.tensordot(x, y, ([1], [0])), c, d), np.tensordot(c, d, ([1], [0])))


@pytest.mark.parametrize(
    "shape_a,shape_b,axes",
    [
        ((2, 3, 2), (3, 2, 2), 2),
        ((2, 3), (3, 2), ([0, 1], [1, 0])),
        ((2,), (3,), 0),
        ((2, 3), (4, 3), (1, 1)),
    ],
)
def test_tensordot_gradient(shape_a, shape_b, axes):
    check_grad(lambda x, y: sg.tensordot(x, y, axes), [sample(shape_a), sample(shape_b, seed=1)])


def test_tensordot_static_errors():
    a, b = sg.matrix("a", shape=(2, 3)), sg.matrix("b", shape=(2, 3))
    with pytest.raises(sg.ShapeError, match="tensordot.*shape-mismatch.*test_linalg.py"):
        sg.tensordot(a, b, ([0, 1], [1, 0]))
    with pytest.raises(ValueError, match="tensordot.*repeated.*test_linalg.py"):
        sg.tensordot(a, b, ([0, 0], [0, 1]))
    with pytest.raises(ValueError, match="tensordot.*out of range"):
        sg.tensordot(a, b, ([2], [0]))
    with pytest.raises(ValueError, match="tensordot"):
        sg.tensordot(a, b, 3)
    with pytest.raises(ValueError, match="tensordot.*shape-mismatch"):
        sg.tensordot(a, b, ([0, 1], [0]))


def test_tensordot_runtime_mismatch_of_several_summed_axes():
    """Merged lengths agree (2*3 == 3*2) yet the axes do not: this must not pass silently."""
    a, b = sg.matrix("a"), sg.matrix("b")
    f = sg.function([a, b], sg.tensordot(a, b, ([0, 1], [0, 1])))
    assert_matches(f(np.ones((2, 3)), np.ones((2, 3))), np.asarray(6.0))
    with pytest.raises(sg.ShapeError, match="tensordot.*length 2.*length 3.*test_linalg.py"):
        f(np.ones((2, 3)), np.ones((3, 2)))


def test_tensordot_runtime_mismatch_of_one_summed_axis():
    a, b = sg.tensor3("a"), sg.matrix("b")
    f = sg.function([a, b], sg.dot(a, b))
    with pytest.raises(sg.ShapeError, match="matmul.*test_linalg.py"):
        f(np.ones((2, 3, 4)), np.ones((5, 2)))


OUTER_SHAPES = [((3,), (4,)), ((), (2,)), ((2, 3), (2,)), ((2, 2), (3, 1, 2)), ((0,), (3,))]


@pytest.mark.parametrize("shape_a,shape_b", OUTER_SHAPES)
def test_outer_matches_numpy(shape_a, shape_b):
    a, b = sample(shape_a), sample(shape_b, seed=1)
    assert_matches(run(sg.outer, a, b), np.outer(a, b))


@pytest.mark.parametrize(
    "dtype_a,dtype_b", [("int32", "int32"), ("float32", "float32"), ("int64", "float32")]
)
def test_outer_dtypes(dtype_a, dtype_b):
    a, b = sample((3,), dtype_a), sample((2, 2), dtype_b, seed=1)
    assert_matches(run(sg.outer, a, b), np.outer(a, b))


def test_outer_gradient():
    check_grad(sg.outer, [sample((2, 2)), sample((3,), seed=1)])
