"""Canonicalize rewrites: each fires where it must, declines on a near miss, and keeps the
values and dtypes of the unrewritten graph (``exclude=["all"]``)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.ops import scalar_ops as so
from symgrad.ops.dimshuffle import DimShuffle
from symgrad.ops.elemwise import cast_scalar_op, second
from symgrad.ops.reduce import Reduce
from symgrad.ops.shape_of import MakeVector, Shape, ShapeI
from symgrad.ops.shape_ops import Alloc, Reshape
from symgrad.rewrite import canonicalize  # noqa: F401 (registers the rewrites)


def compile_and_compare(name, inputs, out, arrays, fires=True, exact=True):
    """Compile with and without rewrites; check ``name`` fired (or not) and values agree."""
    f = sg.function(inputs, out)
    f0 = sg.function(inputs, out, exclude=["all"])
    assert (f.rewrites[name] > 0) == fires, dict(f.rewrites)
    got, want = f(*arrays), f0(*arrays)
    assert got.dtype == want.dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-6)
    return f


def ops_of(f):
    return [n.op for n in f.fgraph.toposort()]


def fvec(name="x", dtype="float64", shape=(None,)):
    return sg.vector(name, dtype=dtype, shape=shape)


R = rng(0)
F64 = R.normal(size=5)
F32 = R.normal(size=5).astype("float32")
I32 = R.integers(-50, 50, size=5).astype("int32")
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.5])


# --- neutral elements ------------------------------------------------------------------


@pytest.mark.parametrize("dtype, data", [("float32", F32), ("int32", I32), ("float64", SPECIAL)])
def test_mul_one_and_add_zero(dtype, data):
    x = fvec(dtype=dtype)
    f = compile_and_compare("mul_one", [x], x * 1, [data])
    assert ops_of(f) == []
    compile_and_compare("add_zero", [x], 0 + x, [data])
    compile_and_compare("mul_one", [x], x * 2, [data], fires=False)
    compile_and_compare("add_zero", [x], x + 1, [data], fires=False)


def test_mul_one_variadic_keeps_other_factors():
    x, y = fvec("x"), fvec("y")
    f = compile_and_compare("mul_one", [x, y], so.mul(x, 1.0, y), [F64, F64[::-1]])
    assert sum(isinstance(op, sg.Op) for op in ops_of(f)) == 1


def test_mul_one_of_larger_shape_keeps_the_shape():
    x = fvec()
    out = x * np.ones((2, 3))
    f = compile_and_compare("mul_one", [x], out, [np.array([7.0])])
    assert f(np.array([7.0])).shape == (2, 3)
    compile_and_compare("mul_one", [x], out, [np.arange(3.0)])


def test_add_zero_int_to_float_result_casts():
    x = fvec(dtype="int32")
    compile_and_compare("add_zero", [x], x + np.float32(0), [I32])


@pytest.mark.parametrize(
    "name, build, miss",
    [
        ("sub_zero", lambda x: x - 0, lambda x: x - 0.5),
        ("zero_sub", lambda x: 0 - x, lambda x: 1 - x),
        ("div_one", lambda x: x / 1, lambda x: x / 2),
        ("pow_one", lambda x: x**1, lambda x: x**1.5),
        ("neg_neg", lambda x: so.neg(so.neg(x)), lambda x: -x),
        ("mul_minus_one", lambda x: x * -1, lambda x: x * -2),
    ],
)
@pytest.mark.parametrize("dtype, data", [("float64", SPECIAL), ("float32", F32), ("int32", I32)])
def test_unary_identities(name, build, miss, dtype, data):
    x = fvec(dtype=dtype)
    if name == "pow_one" and dtype == "int32":
        data = np.abs(data)
    compile_and_compare(name, [x], build(x), [data])
    compile_and_compare(name, [x], miss(x), [data], fires=False)


def test_div_one_of_int_is_float():
    x = fvec(dtype="int32")
    f = compile_and_compare("div_one", [x], x / 1, [I32])
    assert f(I32).dtype == np.float64


def test_mul_minus_one_declines_for_bool():
    x = fvec(dtype="bool")
    compile_and_compare("mul_minus_one", [x], x * -1, [I32 > 0], fires=False)


# --- absorbing elements: only where no NaN/inf can hide --------------------------------


def test_zero_times_int_is_zero():
    x = fvec(dtype="int32")
    f = compile_and_compare("mul_zero_int", [x], 0 * x, [I32])
    assert not any(isinstance(op, sg.Op) and str(op) == "mul" for op in ops_of(f))
    b = fvec(dtype="bool")
    compile_and_compare("mul_zero_int", [b], b * 0, [I32 > 0])


def test_zero_times_float_keeps_nan():
    x = fvec()
    f = compile_and_compare("mul_zero_int", [x], 0 * x, [SPECIAL], fires=False)
    assert np.isnan(f(SPECIAL)[2:5]).all()


def test_x_minus_x():
    x = fvec(dtype="int32")
    compile_and_compare("sub_self_int", [x], x - x, [I32])
    xf = fvec()
    f = compile_and_compare("sub_self_int", [xf], xf - xf, [SPECIAL], fires=False)
    assert np.isnan(f(SPECIAL)[2:5]).all()


def test_x_over_x_never_simplified():
    """``0 / 0`` is NaN for integers too, so ``x / x`` stays."""
    x = fvec(dtype="int32")
    f = sg.function([x], x / x)
    assert np.isnan(f(np.array([0, 3], "int32"))[0])


# --- negation normal forms -------------------------------------------------------------


@pytest.mark.parametrize("dtype, data", [("float64", F64), ("float32", F32), ("int32", I32)])
def test_binary_negations(dtype, data):
    x, y = fvec("x", dtype), fvec("y", dtype)
    args = [data, data[::-1]]
    compile_and_compare("sub_neg", [x, y], x - (-y), args)
    compile_and_compare("sub_neg", [x, y], x - y, args, fires=False)
    compile_and_compare("add_neg", [x, y], x + (-y), args)
    compile_and_compare("add_neg", [x, y], (-y) + x, args)
    compile_and_compare("mul_neg_neg", [x, y], (-x) * (-y), args)
    compile_and_compare("mul_neg_neg", [x, y], (-x) * y, args, fires=False)


def test_div_neg_neg():
    x, y = fvec("x"), fvec("y")
    compile_and_compare("div_neg_neg", [x, y], (-x) / (-y), [SPECIAL, SPECIAL[::-1]])
    xi, yi = fvec("x", "int8"), fvec("y", "int8")
    data = np.array([-128, 3, 5], "int8")
    compile_and_compare("div_neg_neg", [xi, yi], (-xi) / (-yi), [data, data[::-1]], fires=False)


def test_mul_neg_neg_declines_across_int_widths():
    x, y = fvec("x", "int8"), fvec("y", "int16")
    data = np.array([-128, 3, 5], "int8")
    compile_and_compare("mul_neg_neg", [x, y], (-x) * (-y), [data, data.astype("int16")], fires=False)


# --- flattening ------------------------------------------------------------------------


def test_add_and_mul_flatten():
    a, b, c = fvec("a"), fvec("b"), fvec("c")
    args = [F64, F64[::-1], F64 * 2]
    f = compile_and_compare("add_flatten", [a, b, c], (a + b) + c, args)
    assert len(ops_of(f)) == 1 and len(f.fgraph.toposort()[0].inputs) == 3
    compile_and_compare("add_flatten", [a, b, c], c + (a + b), args, exact=False)
    f = compile_and_compare("mul_flatten", [a, b, c], a * (b * c), args, exact=False)
    assert len(ops_of(f)) == 1


def test_flatten_declines_across_dtypes():
    a, b, c = fvec("a", "int8"), fvec("b", "int8"), fvec("c")
    data = np.array([100, 100, 100], "int8")
    f = compile_and_compare("add_flatten", [a, b, c], (a + b) + c, [data, data, np.zeros(3)], fires=False)
    assert f(data, data, np.zeros(3))[0] == -56  # int8 wrap-around kept


# --- casts and broadcasts --------------------------------------------------------------


def test_cast_round_trip():
    x = fvec(dtype="float32")
    f = compile_and_compare("cast_cast", [x], sg.cast(sg.cast(x, "float64"), "float32"), [F32])
    assert ops_of(f) == []
    xd = fvec()
    data = np.array([1.0 + 1e-12, 1e300])
    compile_and_compare("cast_cast", [xd], sg.cast(sg.cast(xd, "float32"), "float64"), [data], fires=False)


def test_cast_same_dtype_node():
    x = fvec(dtype="float32")
    f = compile_and_compare("cast_same_dtype", [x], cast_scalar_op("float32")(x), [F32])
    assert ops_of(f) == []


def test_second_useless():
    x, y = fvec("x", shape=(3,)), fvec("y", shape=(3,))
    f = compile_and_compare("second_useless", [x, y], second(x, y), [F64[:3], F64[2:]])
    assert ops_of(f) == []
    m, v = sg.matrix("m"), fvec("v")
    compile_and_compare("second_useless", [m, v], second(m, v), [np.ones((2, 3)), F64[:3]], fires=False)


def test_alloc_useless():
    x = sg.matrix("x")
    f = compile_and_compare("alloc_useless", [x], sg.broadcast_to(x, x.shape), [np.ones((2, 3))])
    assert not any(isinstance(op, Alloc) for op in ops_of(f))
    v = fvec()
    out = sg.broadcast_to(v, (2, v.shape[0]))
    compile_and_compare("alloc_useless", [v], out, [F64], fires=False)


# --- reshape and dimshuffle chains -----------------------------------------------------


def test_reshape_of_reshape():
    x = sg.matrix("x")
    data = np.arange(6.0).reshape(2, 3)
    f = compile_and_compare("reshape_reshape", [x], sg.reshape(sg.reshape(x, (6,)), (3, 2)), [data])
    assert sum(isinstance(op, Reshape) for op in ops_of(f)) == 1
    f = compile_and_compare("reshape_reshape", [x], sg.reshape(x, (3, 2)), [data], fires=False)


def test_reshape_to_same_shape():
    x = sg.matrix("x")
    data = np.arange(6.0).reshape(2, 3)
    f = compile_and_compare("reshape_same", [x], sg.reshape(x, x.shape), [data])
    assert ops_of(f) == []
    s = sg.matrix("s", shape=(2, 3))
    compile_and_compare("reshape_same", [s], sg.reshape(s, (2, 3)), [data])
    compile_and_compare("reshape_same", [s], sg.reshape(s, (3, 2)), [data], fires=False)


def test_dimshuffle_chains():
    x = sg.matrix("x")
    data = np.arange(6.0).reshape(2, 3)[:, ::-1]
    f = compile_and_compare("dimshuffle_dimshuffle", [x], x.T.T, [data])
    assert ops_of(f) == []
    f = compile_and_compare("dimshuffle_dimshuffle", [x], sg.expand_dims(x, 0).T, [data])
    assert sum(isinstance(op, DimShuffle) for op in ops_of(f)) == 1
    compile_and_compare("dimshuffle_dimshuffle", [x], x.T, [data], fires=False)
    f = compile_and_compare("dimshuffle_identity", [x], DimShuffle(2, (0, 1))(x), [data])
    assert ops_of(f) == []


# --- reductions ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "int8"])
def test_sum_of_sum(dtype):
    x = sg.tensor3("x", dtype=dtype)
    data = (R.normal(size=(2, 3, 4)) * 10).astype(dtype)
    f = compile_and_compare("reduce_of_reduce", [x], sg.sum(sg.sum(x, axis=1), axis=1), [data], exact=False)
    (node,) = f.fgraph.toposort()
    assert isinstance(node.op, Reduce) and node.op.axis == (1, 2)
    compile_and_compare("reduce_of_reduce", [x], sg.max(sg.sum(x, axis=0)), [data], fires=False)


def test_reduce_over_no_axes():
    x = fvec()
    f = compile_and_compare("reduce_no_axes", [x], Reduce("sum", ())(x), [F64])
    assert ops_of(f) == []


# --- shapes without computing the node -------------------------------------------------


def test_shape_i_without_computing_node():
    x = sg.matrix("x")
    out = sg.exp(sg.tanh(x)).shape[1]
    f = compile_and_compare("shape_i_of_node", [x], out, [np.ones((2, 5))])
    assert all(isinstance(op, ShapeI) for op in ops_of(f))


def test_shape_of_node_is_make_vector():
    x = sg.matrix("x")
    f = compile_and_compare("shape_of_node", [x], sg.exp(x).shape, [np.ones((2, 5))])
    kinds = {type(op) for op in ops_of(f)}
    assert MakeVector in kinds and Shape not in kinds and not any(str(op) == "exp" for op in ops_of(f))
    s = sg.matrix("s", shape=(2, 5))
    f = compile_and_compare("shape_of_node", [s], sg.exp(s).shape, [np.ones((2, 5))])
    assert ops_of(f) == []


def test_shape_of_root_input_stays():
    x = sg.matrix("x")
    compile_and_compare("shape_of_node", [x], x.shape, [np.ones((2, 5))], fires=False)
