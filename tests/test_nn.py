"""sg.nn: activations, softmax/log_softmax (stable for huge logits), cross-entropies, one_hot."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)


def np_log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_softmax(x, axis=-1):
    return np.exp(np_log_softmax(x, axis))


def compute(build, *values):
    variables = [sg.tensor(None, np.asarray(v).dtype, (None,) * np.ndim(v)) for v in values]
    return sg.function(variables, build(*variables))(*values)


def test_activations_are_reexported():
    assert sg.nn.sigmoid is sg.sigmoid
    assert sg.nn.softplus is sg.softplus


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int8"])
def test_relu_values_and_dtype(dtype):
    x = (rng().normal(size=(3, 4)) * 5).astype(dtype)
    got = compute(sg.nn.relu, x)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, np.maximum(x, np.zeros((), dtype)))


def test_relu_gradient():
    check_grad(sg.nn.relu, [np.array([[-1.5, 0.3], [2.0, -0.2]])])


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_log_softmax_match_numpy(axis, dtype):
    x = rng().normal(size=(3, 4, 2)).astype(dtype) * 3
    sm = compute(lambda v: sg.nn.softmax(v, axis), x)
    lsm = compute(lambda v: sg.nn.log_softmax(v, axis), x)
    assert sm.dtype == lsm.dtype == x.dtype
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(sm, np_softmax(x, axis), rtol=tol, atol=tol)
    np.testing.assert_allclose(lsm, np_log_softmax(x, axis), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_is_stable_for_logits_1000_apart(dtype):
    x = np.array([[0.0, 1000.0, -1000.0], [1000.0, 1000.0, 0.0], [-2000.0, -1000.0, -3000.0]], dtype)
    sm = compute(sg.nn.softmax, x)
    lsm = compute(sg.nn.log_softmax, x)
    assert np.isfinite(sm).all() and np.isfinite(lsm).all()
    np.testing.assert_allclose(sm, np_softmax(x), atol=1e-7)
    np.testing.assert_allclose(lsm, np_log_softmax(x), rtol=1e-6)
    np.testing.assert_allclose(sm.sum(axis=-1), 1.0, rtol=1e-6)


def test_softmax_gradients_are_finite_for_huge_logits():
    x = sg.matrix("x")
    xv = np.array([[0.0, 1000.0, -1000.0]])
    for fn in (sg.nn.softmax, sg.nn.log_softmax):
        cost = (fn(x) * np.array([[1.0, 2.0, 3.0]])).sum()
        g = sg.function([x], sg.grad(cost, x))(xv)
        assert np.isfinite(g).all()
    g = sg.function([x], sg.grad(sg.nn.log_softmax(x).sum(), x))(xv)
    np.testing.assert_allclose(g, 1 - 3 * np_softmax(xv), atol=1e-12)


def test_softmax_of_integers_is_float64():
    out = compute(sg.nn.softmax, np.array([[1, 2, 3]], dtype="int32"))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np_softmax([[1.0, 2.0, 3.0]]))


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_gradients(axis):
    x = rng().normal(size=(3, 4))
    check_grad(lambda v: sg.nn.softmax(v, axis), [x])
    check_grad(lambda v: sg.nn.log_softmax(v, axis), [x])


def test_softmax_structure_is_recognisable():
    out = sg.nn.softmax(sg.matrix("x"))
    assert str(out.owner.op) == "softmax{axis=1}"
    lsm = sg.nn.log_softmax(sg.matrix("x"), axis=0)
    assert str(lsm.owner.op) == "log_softmax{axis=0}"


PROBS = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1], [0.25, 0.25, 0.5]])
TARGETS = np.array([1, 2, 0, 2])


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_categorical_crossentropy_int_targets(dtype):
    got = compute(sg.nn.categorical_crossentropy, PROBS, TARGETS.astype(dtype))
    np.testing.assert_allclose(got, -np.log(PROBS[np.arange(4), TARGETS]))


def test_categorical_crossentropy_int_targets_float32_and_3d():
    probs = PROBS.astype("float32")
    got = compute(sg.nn.categorical_crossentropy, probs, TARGETS)
    assert got.dtype == np.float32
    stacked = np.stack([PROBS, PROBS[::-1]])
    targets = np.stack([TARGETS, TARGETS])
    got = compute(sg.nn.categorical_crossentropy, stacked, targets)
    expected = -np.log(np.take_along_axis(stacked, targets[..., None], -1)[..., 0])
    np.testing.assert_allclose(got, expected)


def test_categorical_crossentropy_one_hot_targets():
    one_hot = np.eye(3)[TARGETS]
    got = compute(sg.nn.categorical_crossentropy, PROBS, one_hot)
    np.testing.assert_allclose(got, -np.log(PROBS[np.arange(4), TARGETS]))
    soft = np.full((4, 3), 1 / 3)
    got = compute(sg.nn.categorical_crossentropy, PROBS, soft)
    np.testing.assert_allclose(got, -(soft * np.log(PROBS)).sum(-1))


def test_categorical_crossentropy_gradients():
    check_grad(lambda p: sg.nn.categorical_crossentropy(p, sg.constant(TARGETS)), [PROBS])
    check_grad(lambda p: sg.nn.categorical_crossentropy(p, sg.constant(TARGETS[::-1].copy())), [PROBS[::-1]])
    check_grad(sg.nn.categorical_crossentropy, [PROBS, np.eye(3)[TARGETS]])


def test_crossentropy_of_softmax_gradient_is_softmax_minus_one_hot():
    x, t = sg.matrix("x"), sg.lvector("t")
    cost = sg.nn.categorical_crossentropy(sg.nn.softmax(x), t).sum()
    xv = rng().normal(size=(4, 3))
    g = sg.function([x, t], sg.grad(cost, x))(xv, TARGETS)
    np.testing.assert_allclose(g, np_softmax(xv) - np.eye(3)[TARGETS], atol=1e-12)
    check_grad(lambda v: sg.grad(sg.nn.categorical_crossentropy(sg.nn.softmax(v), TARGETS).sum(), v), [xv])


@pytest.mark.parametrize("bad", [3, -1])
def test_categorical_crossentropy_out_of_range_class(bad):
    p, t = sg.matrix("p"), sg.lvector("t")
    f = sg.function([p, t], sg.nn.categorical_crossentropy(p, t))
    targets = np.array([0, bad, 1, 2])
    with pytest.raises(IndexError, match=f"pick_class.*index {bad}.*3 classes.*test_nn.py"):
        f(PROBS, targets)
    with pytest.raises(ValueError, match="pick_class"):
        f(PROBS, targets)


def test_categorical_crossentropy_errors():
    p = sg.matrix("p")
    with pytest.raises(TypeError, match="categorical_crossentropy.*integers.*test_nn.py"):
        sg.nn.categorical_crossentropy(p, sg.vector("t"))
    with pytest.raises(ValueError, match="categorical_crossentropy.*test_nn.py"):
        sg.nn.categorical_crossentropy(p, sg.tensor3("t"))
    with pytest.raises(sg.ShapeError, match="pick_class.*test_nn.py"):
        sg.nn.categorical_crossentropy(sg.matrix("q", shape=(4, 3)), sg.lvector("t", shape=(5,)))
    f = sg.function([p, t := sg.lvector("t")], sg.nn.categorical_crossentropy(p, t))
    with pytest.raises(sg.ShapeError, match=r"pick_class.*\(4, 3\).*\(5,\).*test_nn.py"):
        f(PROBS, np.zeros(5, dtype="int64"))


def test_binary_crossentropy_values_and_gradients():
    p = rng().uniform(0.05, 0.95, size=(3, 4))
    t = rng(1).integers(0, 2, size=(3, 4)).astype("float64")
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(compute(sg.nn.binary_crossentropy, p, t), expected)
    check_grad(sg.nn.binary_crossentropy, [p, t])
    got32 = compute(sg.nn.binary_crossentropy, p.astype("float32"), t.astype("float32"))
    assert got32.dtype == np.float32


def test_binary_crossentropy_broadcasts_and_accepts_int_targets():
    p = rng().uniform(0.05, 0.95, size=(3, 4))
    t = np.array([1, 0, 1, 1], dtype="int8")
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(compute(sg.nn.binary_crossentropy, p, t), expected)


def test_one_hot():
    idx = sg.lvector("i")
    f = sg.function([idx], sg.nn.one_hot(idx, 4, "float32"))
    got = f(np.array([0, 3, 1]))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.eye(4, dtype="float32")[[0, 3, 1]])
    with pytest.raises(IndexError, match="one_hot.*index 4.*test_nn.py"):
        f(np.array([4]))
    assert sg.nn.one_hot(sg.lvector("j", shape=(5,)), 4).static_shape == (5, 4)


def test_softmax_bad_axis():
    with pytest.raises(ValueError, match="softmax.*axis 2.*test_nn.py"):
        sg.nn.softmax(sg.matrix("x"), axis=2)
    with pytest.raises(TypeError, match="log_softmax.*axis"):
        sg.nn.log_softmax(sg.matrix("x"), axis=(0, 1))
