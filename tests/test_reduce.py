"""Reductions against NumPy from one table: values, dtypes, axes, keepdims, empty inputs,
finite-difference gradients and error cases."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)

DTYPES = ("bool", "int8", "uint8", "int32", "int64", "float32", "float64")


def ref_logsumexp(x, axis=None, keepdims=False):
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype("float64")
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@dataclass(frozen=True)
class Reduction:
    """One row: the symgrad function, its NumPy reference and its gradient kind.

    identity: True when it is defined over an empty axis (sum, prod, ...).
    single_axis: argmax/argmin take None or one int, not a tuple.
    """

    name: str
    ref: Callable
    diff: bool
    identity: bool = True
    single_axis: bool = False

    def apply(self, x, axis, keepdims):
        return getattr(sg, self.name)(x, axis=axis, keepdims=keepdims)

    def method(self, x, axis, keepdims):
        return getattr(x, self.name)(axis=axis, keepdims=keepdims)

    def __repr__(self) -> str:
        return self.name


TABLE = [
    Reduction("sum", np.sum, True),
    Reduction("mean", np.mean, True),
    Reduction("prod", np.prod, True),
    Reduction("max", np.max, True, identity=False),
    Reduction("min", np.min, True, identity=False),
    Reduction("argmax", np.argmax, False, identity=False, single_axis=True),
    Reduction("argmin", np.argmin, False, identity=False, single_axis=True),
    Reduction("var", np.var, True),
    Reduction("std", np.std, True),
    Reduction("logsumexp", ref_logsumexp, True),
    Reduction("all", np.all, False),
    Reduction("any", np.any, False),
]
BY_NAME = {r.name: r for r in TABLE}
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), ()]


def expected_dtype(value: np.ndarray) -> str:
    """NumPy's dtype; symgrad has no uint64 (sums of uint8 are int64) nor float16."""
    return {"uint64": "int64", "float16": "float32"}.get(value.dtype.name, value.dtype.name)


def draw(shape: tuple, dtype: str, seed: int = 0) -> np.ndarray:
    r = rng(seed)
    if dtype == "bool":
        return r.random(shape) < 0.7
    if dtype.startswith("float"):
        return r.normal(size=shape).astype(dtype)
    lo = 0 if dtype == "uint8" else -4
    return r.integers(lo, 5, size=shape).astype(dtype)


def reference(rec: Reduction, x: np.ndarray, axis, keepdims: bool) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(rec.ref(x, axis=axis, keepdims=keepdims))


def run(rec: Reduction, x: np.ndarray, axis, keepdims: bool, static: bool = False, method=False):
    v = sg.tensor("x", x.dtype.name, x.shape if static else (None,) * x.ndim)
    out = (rec.method if method else rec.apply)(v, axis, keepdims)
    return out, sg.function([v], out)(x)


def check(rec: Reduction, x: np.ndarray, axis, keepdims: bool, static: bool = False, method=False):
    expected = reference(rec, x, axis, keepdims)
    dtype = expected_dtype(expected)
    out, actual = run(rec, x, axis, keepdims, static, method)
    assert out.dtype == dtype, f"{rec.name}: declared {out.dtype}, NumPy gives {dtype}"
    assert actual.dtype.name == dtype
    assert actual.shape == expected.shape
    assert out.ndim == expected.ndim
    if static:
        assert out.type.shape == expected.shape
    if dtype.startswith("float"):
        rtol = 2e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(actual, expected.astype(dtype))


def _axes_for(rec: Reduction) -> list:
    return [a for a in AXES if not (rec.single_axis and isinstance(a, tuple))]


# --- forward -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_forward_matches_numpy(rec, dtype):
    x = draw((2, 3, 4), dtype)
    for axis in _axes_for(rec):
        for keepdims in (False, True):
            check(rec, x, axis, keepdims)


@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_static_shapes_methods_and_strided_inputs(rec):
    base = draw((4, 6, 4), "float64", seed=1)
    for x in (base[::2, ::-2], base.transpose(2, 0, 1)[:, ::-1], base[1::2, :3, ::3]):
        assert not x.flags.c_contiguous
        for axis in _axes_for(rec):
            check(rec, x, axis, False, static=True)
            check(rec, x, axis, True, method=rec.name not in ("logsumexp",))


@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_0d_input(rec):
    for dtype in ("float64", "int32", "bool"):
        x = draw((), dtype)
        check(rec, x, None, False)
        check(rec, x, None, True)


EMPTY_CASES = [((0,), None), ((0, 3), None), ((0, 3), 0), ((0, 3), 1), ((3, 0), 0), ((3, 0), -1)]


@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_empty_inputs(rec):
    for shape, axis in EMPTY_CASES:
        x = np.zeros(shape, "float64")
        empty_axis = any(shape[a] == 0 for a in range(len(shape)) if axis is None or a == axis % len(shape))
        if rec.identity or not empty_axis:
            check(rec, x, axis, False)
            check(rec, x, axis, True, static=True)
            continue
        with pytest.raises(ValueError, match=rf"{rec.name}.*empty.*test_reduce\.py"):
            rec.apply(sg.tensor("x", "float64", shape), axis, False)  # static shape: build time
        v = sg.tensor("x", "float64", (None,) * len(shape))
        out = rec.apply(v, axis, False)
        f = sg.function([v], out)
        with pytest.raises(
            ValueError, match=rf"{rec.name}: .*empty.*shape {re.escape(str(shape))}.*test_reduce\.py"
        ):
            f(x)  # unknown shape: call time


def test_empty_identities():
    x = sg.dmatrix("x")
    f = sg.function([x], [sg.sum(x), sg.prod(x), sg.any(x), sg.all(x), sg.sum(x, axis=0)])
    total, product, anything, everything, cols = f(np.zeros((0, 3)))
    assert total == 0 and product == 1 and not anything and everything
    np.testing.assert_array_equal(cols, np.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(sg.function([x], sg.mean(x))(np.zeros((0, 3))))


@pytest.mark.parametrize(
    ("name", "dtype", "expected"),
    [
        ("sum", "int8", "int64"),
        ("sum", "bool", "int64"),
        ("sum", "uint8", "int64"),
        ("sum", "int32", "int64"),
        ("sum", "float32", "float32"),
        ("prod", "int8", "int64"),
        ("mean", "int32", "float64"),
        ("mean", "bool", "float64"),
        ("mean", "float32", "float32"),
        ("var", "int8", "float64"),
        ("std", "float32", "float32"),
        ("max", "int8", "int8"),
        ("max", "bool", "bool"),
        ("argmax", "float32", "int64"),
        ("all", "float64", "bool"),
        ("logsumexp", "float32", "float32"),
        ("logsumexp", "int32", "float64"),
    ],
)
def test_result_dtypes(name, dtype, expected):
    x = sg.tensor("x", dtype, (None, None))
    assert getattr(sg, name)(x, axis=0).dtype == expected
    assert getattr(sg, name)(x).dtype == expected


def test_float32_sums_accumulate_like_numpy():
    x = np.full(10000, 0.1, "float32")
    v = sg.fvector("v")
    out = sg.function([v], [sg.sum(v), sg.mean(v)])(x)
    assert out[0] == np.sum(x) and out[1] == np.mean(x)


# --- logsumexp stability -------------------------------------------------------------------------
def test_logsumexp_is_stable():
    x = sg.dmatrix("x")
    f = sg.function([x], sg.logsumexp(x, axis=1))
    big = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, -np.inf], [np.inf, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = f(big)
    np.testing.assert_allclose(out[:2], [1000 + np.log(2), -1000 + np.log(2)], rtol=1e-15)
    assert out[2] == -np.inf and out[3] == np.inf
    assert float(sg.logsumexp(np.array([1000.0, 1000.0])).eval()) == pytest.approx(1000 + np.log(2))


def test_logsumexp_gradient_is_softmax_even_for_large_and_neg_inf_inputs():
    x = sg.dvector("x")
    g = sg.function([x], sg.grad(sg.logsumexp(x), x))
    np.testing.assert_allclose(g(np.array([1000.0, 1000.0])), [0.5, 0.5])
    np.testing.assert_allclose(g(np.array([-np.inf, 0.0])), [0.0, 1.0])


# --- gradients ---------------------------------------------------------------------------------
GRAD_AXES = [None, 0, -1, (0, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("rec", [r for r in TABLE if r.diff], ids=repr)
def test_gradient_matches_finite_differences(rec, keepdims):
    x = draw((2, 3, 2), "float64", seed=5)
    for axis in GRAD_AXES:
        check_grad(lambda v, a=axis: rec.apply(v, a, keepdims), [x])


def test_prod_gradient_with_zeros():
    for zeros in ([(0, 1)], [(0, 1), (1, 2)], [(0, 1), (0, 2)]):
        x = draw((2, 3), "float64", seed=6)
        for ij in zeros:
            x[ij] = 0.0
        for axis in (None, 0, 1):
            check_grad(lambda v, a=axis: sg.prod(v, axis=a), [x])
    v = sg.dvector("v")
    g = sg.function([v], sg.grad(sg.prod(v), v))
    np.testing.assert_allclose(g(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_allclose(g(np.array([0.0, 0.0, 3.0])), [0.0, 0.0, 0.0])


def test_max_and_min_ties_share_the_gradient():
    x = sg.dmatrix("x")
    value = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    gmax = sg.function([x], sg.grad(sg.sum(sg.max(x, axis=1) * np.array([1.0, 3.0])), x))(value)
    np.testing.assert_allclose(gmax, [[0, 0.5, 0.5], [1, 1, 1]])
    gmin = sg.function([x], sg.grad(sg.min(x), x))(value)
    np.testing.assert_allclose(gmin, [[1, 0, 0], [0, 0, 0]])


def test_var_std_and_mean_gradients_in_float32():
    x = sg.fmatrix("x")
    value = draw((3, 4), "float32", seed=7)
    for fn in (sg.var, sg.std, sg.mean, sg.logsumexp):
        g = sg.grad(sg.sum(fn(x, axis=1)), x)
        assert g.dtype == "float32"
        out = sg.function([x], g)(value)
        x64 = sg.dmatrix("x64")
        want = sg.function([x64], sg.grad(sg.sum(fn(x64, axis=1)), x64))(value.astype("float64"))
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)


def test_integer_and_bool_reductions_have_no_gradient():
    x = sg.dvector("x")
    cost = sg.sum(sg.cast(sg.argmax(x), "float64") + sg.cast(sg.any(x > 0), "float64"))
    g = sg.grad(cost + sg.sum(x) * 0.0, x)
    np.testing.assert_array_equal(sg.function([x], g)(np.array([1.0, 2.0])), [0.0, 0.0])


def test_second_derivative_of_reductions():
    x = draw((2, 3), "float64", seed=8) + 3.0
    for fn in (sg.prod, sg.logsumexp, sg.var, sg.max):
        check_grad(lambda v, fn=fn: sg.grad(sg.sum(fn(v, axis=1) ** 2.0), v), [x])


# --- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_bad_axis_is_a_build_time_error(rec):
    x = sg.dmatrix("x")
    for axis in (2, -3, 1.0, "0"):
        with pytest.raises((ValueError, TypeError), match=rf"{rec.name}.*test_reduce\.py"):
            rec.apply(x, axis, False)
    if not rec.single_axis:
        with pytest.raises(ValueError, match=rf"{rec.name}.*repeated.*test_reduce\.py"):
            rec.apply(x, (0, -2), False)
    else:
        with pytest.raises(TypeError, match=rf"{rec.name}.*test_reduce\.py"):
            rec.apply(x, (0, 1), False)
    with pytest.raises((ValueError, TypeError), match=rf"{rec.name}.*test_reduce\.py"):
        rec.apply(sg.dscalar("s"), 0, False)
