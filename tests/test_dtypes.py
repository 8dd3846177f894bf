"""dtypes: NumPy 2's promotion rules (Python numbers are weak), casts, float32 for the
math NumPy would do in float16, and config.floatX."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.graph.types import DTYPES as SUPPORTED

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)

DTYPES = ("bool", "int8", "uint8", "int32", "int64", "float32", "float64")
ALL = ("bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64")
assert set(ALL) == set(SUPPORTED)


def symgrad_dtype(numpy_dtype: np.dtype) -> str:
    """symgrad computes NumPy's float16 results in float32."""
    return "float32" if numpy_dtype == np.float16 else numpy_dtype.name


def _eval(fn, value: np.ndarray) -> np.ndarray:
    x = sg.tensor("x", value.dtype.name, (None,) * value.ndim)
    return sg.function([x], fn(x))(value)


def _draw_0_to_100(dtype: str) -> np.ndarray:
    values = rng(3).uniform(0, 100, 5)
    return values.astype(dtype) if dtype != "bool" else values > 50


# --- tensor with tensor: NumPy's table -----------------------------------------------------------
BINARY = ["add", "sub", "mul", "true_divide", "floor_divide", "mod", "pow", "maximum", "arctan2", "lt"]
NUMPY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "true_divide": np.true_divide,
    "floor_divide": np.floor_divide,
    "mod": np.mod,
    "pow": np.power,
    "maximum": np.maximum,
    "arctan2": np.arctan2,
    "lt": np.less,
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_promotion_table(name):
    """Every pair of supported dtypes: symgrad's declared and computed dtype is NumPy's. The
    pairs share one compiled function (one per pair cost a cold run 10 s per op in mode 'c')."""
    xs = {a: sg.tensor(f"x_{a}", a, (None,)) for a in ALL}
    ys = {b: sg.tensor(f"y_{b}", b, (None,)) for b in ALL}
    pairs, outs = [], []
    for a in ALL:
        for b in ALL:
            x, y = np.ones(2, a), np.ones(2, b)
            try:
                with np.errstate(all="ignore"):
                    want = symgrad_dtype(NUMPY[name](x, y).dtype)
            except TypeError:
                with pytest.raises(TypeError, match=name):
                    getattr(sg, name)(xs[a], ys[b])
                continue
            out = getattr(sg, name)(xs[a], ys[b])
            assert out.dtype == want, (name, a, b)
            pairs.append((a, b, want))
            outs.append(out)
    f = sg.function([*xs.values(), *ys.values()], outs, on_unused_input="ignore")
    values = f(*[np.ones(2, a) for a in ALL], *[np.ones(2, b) for b in ALL])
    assert len(values) == len(pairs)
    for (a, b, want), value in zip(pairs, values):
        assert value.dtype.name == want, (name, a, b)


@pytest.mark.parametrize("name", ["exp", "sin", "sqrt", "log1p", "sigmoid", "softplus", "erf", "tanh"])
def test_float_math_of_integers(name):
    """int8/uint8/bool/int16 give float32 (NumPy: float16 for the 8-bit ones), wider ints float64."""
    expected = {"bool": "float32", "int8": "float32", "uint8": "float32", "int16": "float32"}
    for dtype in ALL:
        out = getattr(sg, name)(sg.tensor("x", dtype, (None,)))
        assert out.dtype == expected.get(dtype, "float64" if dtype != "float32" else "float32"), dtype


# --- Python scalars (weak typing, NumPy 2's rule) ----------------------------------------------
def test_python_float_keeps_float32():
    x = sg.fvector("x")
    for y in (x * 2.0, 2.0 * x, x + 0.1, x / 3, x - 1, x**2, sg.maximum(x, 0.5), sg.where(x > 0, x, 0.0)):
        assert y.dtype == "float32"
    value = sg.function([x], x * 0.1)(np.array([1.0, 2.0], "float32"))
    assert value.dtype == np.float32
    np.testing.assert_allclose(value, np.float32([1, 2]) * 0.1)


def test_python_int_keeps_small_int_dtypes():
    b = sg.bvector("b")
    assert (b + 3).dtype == "int8"
    assert (3 * b).dtype == "int8"
    assert sg.function([b], b + 3)(np.array([1, 2], "int8")).dtype == np.int8
    assert (b + True).dtype == "int8"


def test_python_int_out_of_range_is_a_build_time_error():
    b = sg.bvector("b")
    with pytest.raises(TypeError, match=r"add.*300.*int8.*test_dtypes\.py"):
        _ = b + 300
    u = sg.tensor("u", "uint8", (None,))
    with pytest.raises(TypeError, match=r"sub.*-1.*uint8.*test_dtypes\.py"):
        _ = u - (-1)


def test_int_tensor_times_python_float_is_float64():
    i = sg.ivector("i")
    assert (i * 0.5).dtype == "float64"
    value = sg.function([i], i * 0.5)(np.array([1, 3], "int32"))
    np.testing.assert_array_equal(value, [0.5, 1.5])
    assert (sg.bvector() / 2).dtype == "float64"


def test_comparison_with_out_of_range_python_int():
    lv = sg.lvector("l")
    f = sg.function([lv], lv < 2**40)
    np.testing.assert_array_equal(f(np.array([1, 2**41])), [True, False])
    b = sg.bvector("b")
    np.testing.assert_array_equal(sg.function([b], b < 300)(np.array([1, -5], "int8")), [True, True])
    np.testing.assert_array_equal(sg.function([b], sg.eq(b, 1000))(np.array([1], "int8")), [False])


def test_python_number_with_python_number():
    assert sg.add(2, 3).dtype == "int64"
    assert float(sg.mul(2.0, 3.0).eval()) == 6.0


def test_int8_math_is_computed_in_float32_not_float16():
    x = np.array([12, -3, 50], "int8")  # exp(12) overflows float16
    out = _eval(sg.exp, x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.exp(x.astype("float32")), rtol=1e-6)
    np.testing.assert_allclose(_eval(sg.sqrt, np.array([3], "uint8")), np.sqrt(np.float32(3)), rtol=1e-7)


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES + ("int16",))
def test_cast_all_pairs(src, dst):
    value = _draw_0_to_100(src)
    x = sg.tensor("x", src, (None,))
    y = sg.cast(x, dst)
    assert y.dtype == dst and (y is x) == (src == dst)
    out = sg.function([x], y)(value)
    assert out.dtype.name == dst
    np.testing.assert_array_equal(out, value.astype(dst))


def test_astype_and_cast_of_constants():
    assert sg.constant(np.array([1.7, -2.2])).astype("int32").dtype == "int32"
    np.testing.assert_array_equal(sg.cast(np.array([1.7, -2.2]), "int32").eval(), [1, -2])
    with pytest.raises(TypeError, match="complex"):
        sg.cast(sg.dvector(), "complex128")


def test_float_x_setting():
    with sg.config.override(floatX="float32"):
        assert sg.vector().dtype == "float32"
        assert sg.constant(0.5).dtype == "float32"
        assert (sg.vector() * 0.5).dtype == "float32"
        assert (sg.dvector() * 0.5).dtype == "float64"
        assert (sg.ivector() * 0.5).dtype == "float64"  # NumPy's rule, whatever floatX says
    assert sg.vector().dtype == "float64"
