"""The elementwise op table, tested from one declarative table (JAX lax_test style).

Each row names an op, its NumPy reference, the domain each input is drawn from and
whether it has a nonzero gradient. Forward values and dtypes against NumPy, broadcasting,
0-d / 0-size / strided inputs and finite-difference gradients are all generated from it.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import SCALAR_OPS
from symgrad.ops.shape_of import ShapeI

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)

DTYPES = ("bool", "int8", "uint8", "int32", "int64", "float32", "float64")
FLOATS = ("float32", "float64")


# --- input domains: (rng, shape, dtype) -> array ---------------------------------------------
def _domain(floats: Callable, int_range: tuple[int, int], bools: Callable | None = None) -> Callable:
    def draw(r: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
        if dtype == "bool":
            return (bools or (lambda r, s: r.integers(0, 2, s).astype(bool)))(r, shape)
        if np.dtype(dtype).kind == "f":
            return floats(r, shape).astype(dtype)
        info = np.iinfo(dtype)
        lo = max(int_range[0], info.min)
        hi = max(min(int_range[1], info.max), lo)
        return r.integers(lo, hi, size=shape, endpoint=True).astype(dtype)

    return draw


def _nonzero_ints(r, shape, dtype):
    magnitude = r.integers(1, 6, size=shape)
    sign = 1 if np.dtype(dtype).kind == "u" else r.choice([-1, 1], size=shape)
    return (magnitude * sign).astype(dtype)


def _special_floats(r, shape):
    values = r.normal(size=shape) * 2
    specials = r.choice([np.nan, np.inf, -np.inf, 1.0], size=shape)
    return np.where(r.random(shape) < 0.4, specials, values)


def _true(r, shape):
    return np.ones(shape, bool)


def _false(r, shape):
    return np.zeros(shape, bool)


DEFAULT = _domain(lambda r, s: r.normal(size=s) * 2, (-5, 5))
SMALL = _domain(lambda r, s: r.uniform(-1.2, 1.2, s), (-1, 1))
POSITIVE = _domain(lambda r, s: r.uniform(0.2, 3.0, s), (1, 9), _true)
UNIT = _domain(lambda r, s: r.uniform(-0.9, 0.9, s), (-1, 1))
EXPONENT = _domain(lambda r, s: r.uniform(-2, 2, s), (0, 3))
LOW = _domain(lambda r, s: r.uniform(-1.5, -0.5, s), (-3, -1), _false)
HIGH = _domain(lambda r, s: r.uniform(0.5, 1.5, s), (1, 3), _true)
SPECIAL = _domain(_special_floats, (-5, 5))


def _nonzero_floats(r, s):
    return r.uniform(0.5, 3.0, s) * r.choice([-1.0, 1.0], size=s)


def NONZERO(r, shape, dtype):
    if dtype == "bool":
        return np.ones(shape, bool)
    if np.dtype(dtype).kind == "f":
        return _nonzero_floats(r, shape).astype(dtype)
    return _nonzero_ints(r, shape, dtype)


def BOOL(r, shape, dtype):
    """A condition: always bool, whatever dtype the other inputs have."""
    return r.integers(0, 2, shape).astype(bool)


# --- NumPy references that are not plain ufuncs -------------------------------------------------
def _as_float(x):
    x = np.asarray(x)
    return x.astype(np.sin(x[()] if x.ndim == 0 else x[:0]).dtype)


def ref_sigmoid(x):
    x = _as_float(x)
    return 1 / (1 + np.exp(-x))


def ref_softplus(x):
    x = _as_float(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def ref_erf(x):
    x = _as_float(x)
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype) if x.size else x.copy()


def ref_second(a, b):
    return np.array(np.broadcast_to(b, np.broadcast_shapes(np.shape(a), np.shape(b))))


@dataclass(frozen=True)
class OpRecord:
    """One row: the op, its NumPy reference, one domain per input, its gradient kind.

    diff: True = checked against finite differences; False = its gradient is zero.
    build: how to apply the op to symbolic inputs (default ``sg.<name>``).
    """

    name: str
    ref: Callable
    domains: tuple
    diff: bool
    build: Callable | None = None
    grad_domains: tuple | None = None

    @property
    def nin(self) -> int:
        return len(self.domains)

    def apply(self, *xs):
        return (self.build or getattr(sg, self.name))(*xs)

    def __repr__(self) -> str:
        return self.name


R = OpRecord
D, P, N = DEFAULT, POSITIVE, NONZERO
TABLE = [
    R("add", np.add, (D, D), True),
    R("sub", np.subtract, (D, D), True),
    R("mul", np.multiply, (D, D), True),
    R("true_divide", np.true_divide, (D, N), True),
    R("floor_divide", np.floor_divide, (D, N), False),
    R("mod", np.mod, (D, N), True),
    R("pow", np.power, (P, EXPONENT), True),
    R("neg", np.negative, (D,), True),
    R("abs", np.absolute, (D,), True),
    R("reciprocal", np.reciprocal, (N,), True),
    R("square", np.square, (D,), True),
    R("exp", np.exp, (D,), True),
    R("exp2", np.exp2, (D,), True),
    R("expm1", np.expm1, (D,), True),
    R("log", np.log, (P,), True),
    R("log2", np.log2, (P,), True),
    R("log10", np.log10, (P,), True),
    R("log1p", np.log1p, (P,), True),
    R("sqrt", np.sqrt, (P,), True),
    R("sin", np.sin, (D,), True),
    R("cos", np.cos, (D,), True),
    R("tan", np.tan, (SMALL,), True),
    R("arcsin", np.arcsin, (UNIT,), True),
    R("arccos", np.arccos, (UNIT,), True),
    R("arctan", np.arctan, (D,), True),
    R("arctan2", np.arctan2, (D, N), True),
    R("sinh", np.sinh, (D,), True),
    R("cosh", np.cosh, (D,), True),
    R("tanh", np.tanh, (D,), True),
    R("sigmoid", ref_sigmoid, (D,), True),
    R("softplus", ref_softplus, (D,), True),
    R("erf", ref_erf, (D,), True),
    R("sign", np.sign, (D,), False),
    R("floor", np.floor, (D,), False),
    R("ceil", np.ceil, (D,), False),
    R("round", np.round, (D,), False),
    R("maximum", np.maximum, (D, D), True),
    R("minimum", np.minimum, (D, D), True),
    R("where", np.where, (BOOL, D, D), True),
    R("clip", np.clip, (D, LOW, HIGH), True),
    R("eq", np.equal, (SMALL, SMALL), False),
    R("neq", np.not_equal, (SMALL, SMALL), False),
    R("lt", np.less, (SMALL, SMALL), False),
    R("le", np.less_equal, (SMALL, SMALL), False),
    R("gt", np.greater, (SMALL, SMALL), False),
    R("ge", np.greater_equal, (SMALL, SMALL), False),
    R("logical_and", np.logical_and, (SMALL, SMALL), False),
    R("logical_or", np.logical_or, (SMALL, SMALL), False),
    R("logical_not", np.logical_not, (SMALL,), False),
    R("isnan", np.isnan, (SPECIAL,), False),
    R("isinf", np.isinf, (SPECIAL,), False),
    R("cast", lambda x: np.asarray(x).astype("float32"), (D,), True, lambda x: sg.cast(x, "float32")),
    R("second", ref_second, (D, D), True, lambda a, b: sg.full_like(a, 0) + b),
    R("identity", np.array, (D,), True, so.identity),
    R("zero_grad", np.array, (D,), False, sg.stop_gradient),
]
RECORDS = {rec.name: rec for rec in TABLE}
DIFFERENTIABLE = [rec for rec in TABLE if rec.diff and rec.name != "cast"]


# --- helpers -----------------------------------------------------------------------------------
def expected_dtype(result: np.ndarray) -> str:
    """NumPy's dtype, except float16, which symgrad computes in float32."""
    return "float32" if result.dtype == np.float16 else result.dtype.name


def reference(rec: OpRecord, args: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = np.asarray(rec.ref(*args))
        if out.dtype == np.float16:  # compute in float32, as symgrad does
            out = np.asarray(rec.ref(*[a.astype("float32") if a.dtype.kind in "biu" else a for a in args]))
    return out


def assert_matches(actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert isinstance(actual, np.ndarray)
    assert actual.dtype.name == dtype, f"dtype {actual.dtype}, NumPy gives {dtype}"
    assert actual.shape == expected.shape
    if dtype in FLOATS:
        rtol, atol = (2e-6, 1e-6) if dtype == "float32" else (1e-12, 1e-14)
        np.testing.assert_allclose(actual, expected.astype(dtype), rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(actual, expected)


def symbolic_inputs(args: list[np.ndarray], static: bool = False) -> list[sg.Variable]:
    return [
        sg.tensor(f"x{k}", a.dtype.name, a.shape if static else (None,) * a.ndim) for k, a in enumerate(args)
    ]


def draw(rec: OpRecord, shapes: list[tuple], dtype: str, seed: int = 0) -> list[np.ndarray]:
    r = rng(seed)
    return [dom(r, shape, dtype) for dom, shape in zip(rec.domains, shapes)]


def numpy_rejects(rec: OpRecord, args: list[np.ndarray]) -> bool:
    try:
        reference(rec, args)
    except TypeError:
        return True
    return False


def run_op(rec: OpRecord, args: list[np.ndarray], static: bool = False) -> tuple[sg.Variable, np.ndarray]:
    xs = symbolic_inputs(args, static)
    out = rec.apply(*xs)
    return out, sg.function(xs, out)(*args)


def check_forward(rec: OpRecord, args: list[np.ndarray], static: bool = False) -> None:
    expected = reference(rec, args)
    dtype = expected_dtype(expected)
    out, actual = run_op(rec, args, static)
    assert out.dtype == dtype, f"{rec.name}: declared {out.dtype}, NumPy gives {dtype}"
    assert out.type.shape == (expected.shape if static else (None,) * expected.ndim)
    assert_matches(actual, expected, dtype)


# --- the registry walk -------------------------------------------------------------------------
def _builtin_scalar_ops() -> set[str]:
    """The ops registered by importing symgrad (a fresh process: other tests register their own)."""
    code = "import symgrad; from symgrad.ops.elemwise import SCALAR_OPS; print(' '.join(SCALAR_OPS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_every_scalar_op_has_a_table_row():
    builtin = _builtin_scalar_ops()
    assert {"add", "exp", "where"} <= builtin <= set(SCALAR_OPS)
    missing = sorted(builtin - set(RECORDS))
    assert not missing, f"scalar ops without a row in tests/test_elemwise.py TABLE: {missing}"


def test_every_api_elementwise_name_has_a_row():
    api = (
        "add sub mul true_divide floor_divide mod pow neg abs exp exp2 expm1 log log2 log10 log1p "
        "sqrt square sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh sigmoid softplus erf "
        "sign floor ceil round maximum minimum where clip eq neq lt le gt ge logical_and "
        "logical_or logical_not isnan isinf cast reciprocal"
    ).split()
    assert not set(api) - set(RECORDS)
    for name in api:
        assert callable(getattr(sg, name)), name


def test_table_differentiability_matches_the_ops():
    for rec in TABLE:
        sop = SCALAR_OPS.get(rec.name)
        if sop is not None and rec.diff:
            assert sop.grad is not None, rec.name


# --- forward vs NumPy --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_forward_matches_numpy(rec, dtype):
    args = draw(rec, [(2, 3)] * rec.nin, dtype)
    if numpy_rejects(rec, args):
        with pytest.raises(TypeError, match=rf"{rec.name}.*test_elemwise\.py"):
            rec.apply(*symbolic_inputs(args))
        return
    check_forward(rec, args)


UNARY_SHAPES = [(), (0,), (0, 3), (4,)]
BROADCAST_SHAPES = [[(3, 1), (4,)], [(), (2, 3)], [(2, 3), ()], [(0, 3), (1, 3)], [(1, 3), (0, 1)]]


def _shape_combos(nin: int) -> list[list[tuple]]:
    if nin == 1:
        return [[s] for s in UNARY_SHAPES]
    return [combo + [combo[k % 2]] * (nin - 2) for k, combo in enumerate(BROADCAST_SHAPES)]


@pytest.mark.parametrize("dtype", ["float64", "int32"])
@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_broadcasting_0d_and_0size(rec, dtype):
    for shapes in _shape_combos(rec.nin):
        args = draw(rec, shapes, dtype)
        if numpy_rejects(rec, args):
            continue
        check_forward(rec, args)
        check_forward(rec, args, static=True)


@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_static_output_shape(rec):
    shapes = _shape_combos(rec.nin)[0]
    args = draw(rec, shapes, "float64")
    out, value = run_op(rec, args, static=True)
    assert out.type.shape == value.shape
    loose, _ = run_op(rec, args)
    assert loose.type.shape == (None,) * value.ndim


@pytest.mark.parametrize("rec", TABLE, ids=repr)
def test_strided_inputs(rec):
    base = draw(rec, [(6, 4)] * rec.nin, "float64")
    for view in (lambda a: a[::2], lambda a: a[::-1], lambda a: a[::-2, ::-1], lambda a: a.T[:, :3]):
        args = [view(a) for a in base]
        assert not args[0].flags.c_contiguous
        check_forward(rec, args)
    original = [a.copy() for a in base]
    run_op(rec, [a[::-1] for a in base])
    for a, b in zip(base, original):
        np.testing.assert_array_equal(a, b)  # inputs are never written


@pytest.mark.parametrize(
    "pair",
    [
        ("int8", "uint8"),
        ("int8", "float32"),
        ("int32", "float32"),
        ("int64", "uint8"),
        ("bool", "int8"),
        ("uint8", "float64"),
        ("float32", "float64"),
        ("int16", "int32"),
    ],
)
@pytest.mark.parametrize("name", ["add", "mul", "true_divide", "maximum", "arctan2", "lt", "pow", "mod"])
def test_mixed_dtype_promotion(name, pair):
    rec = RECORDS[name]
    r = rng(1)
    args = [dom(r, (3,), dt) for dom, dt in zip(rec.domains, pair)]
    if numpy_rejects(rec, args):
        with pytest.raises(TypeError, match=name):
            rec.apply(*symbolic_inputs(args))
        return
    check_forward(rec, args)


# --- gradients ---------------------------------------------------------------------------------
def _grad_case(rec: OpRecord, shapes: list[tuple], seed: int = 0):
    """Float64 values for the differentiable inputs, plus a build that fixes bool ones."""
    args = draw(rec, shapes, "float64", seed)
    fixed = {k: a.astype(bool) for k, (dom, a) in enumerate(zip(rec.domains, args)) if dom is BOOL}
    values = [a for k, a in enumerate(args) if k not in fixed]

    def build(*variables):
        it = iter(variables)
        return rec.apply(*[sg.constant(fixed[k]) if k in fixed else next(it) for k in range(rec.nin)])

    return build, values


@pytest.mark.parametrize("rec", DIFFERENTIABLE, ids=repr)
def test_gradient_matches_finite_differences(rec):
    build, values = _grad_case(rec, [(2, 3)] * rec.nin)
    check_grad(build, values)


@pytest.mark.parametrize("rec", [r for r in DIFFERENTIABLE if r.nin > 1], ids=repr)
def test_gradient_with_broadcasting(rec):
    for shapes in ([(3, 1), (4,), (3, 4)], [(), (2, 3), ()], [(2, 3), (1, 3), (2, 1)]):
        build, values = _grad_case(rec, shapes[: rec.nin], seed=2)
        check_grad(build, values)


@pytest.mark.parametrize("rec", [r for r in TABLE if not r.diff], ids=repr)
def test_zero_gradient_ops(rec):
    args = draw(rec, [(2, 3)] * rec.nin, "float64")
    xs = symbolic_inputs(args)
    cost = sg.sum(sg.cast(rec.apply(*xs), "float64") * 1.5)
    grads = sg.function(xs, sg.grad(cost, xs, disconnected_inputs="ignore"))(*args)
    for g, a in zip(grads, args):
        np.testing.assert_array_equal(g, np.zeros_like(a))


def test_gradient_dtype_follows_the_input():
    x = sg.fvector("x")
    g = sg.grad(sg.sum(sg.exp(x) * 2.0), x)
    assert g.dtype == "float32"
    value = sg.function([x], g)(np.array([0.0, 1.0], "float32"))
    np.testing.assert_allclose(value, 2 * np.exp([0.0, 1.0]), rtol=1e-6)
    assert value.dtype == np.float32


def test_gradient_of_cast():
    x = sg.dvector("x")
    w = np.array([1.5, -2.0, 3.0])
    g = sg.grad(sg.sum(sg.cast(x, "float32") * w.astype("float32")), x)
    assert g.dtype == "float64"
    np.testing.assert_allclose(sg.function([x], g)(np.zeros(3)), w)
    gi = sg.grad(sg.sum(sg.cast(sg.cast(x, "int32"), "float64")), x, disconnected_inputs="ignore")
    np.testing.assert_array_equal(sg.function([x], gi)(np.ones(3)), np.zeros(3))


def test_gradient_of_clip_when_bounds_cross():
    """lo > hi: NumPy returns hi, so the gradient goes to hi only."""
    x, lo, hi = sg.dscalar("x"), sg.dscalar("lo"), sg.dscalar("hi")
    grads = sg.function([x, lo, hi], sg.grad(sg.clip(x, lo, hi), [x, lo, hi]))
    np.testing.assert_array_equal(grads(0.0, 2.0, 1.0), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(grads(5.0, 2.0, 1.0), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(grads(1.5, 1.0, 2.0), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads(0.5, 1.0, 2.0), [0.0, 1.0, 0.0])


def test_gradient_of_pow_at_zero_base():
    x = sg.dvector("x")
    g = sg.function([x], sg.grad(sg.sum(x**2.0), x))(np.array([0.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 6.0])
    y = sg.dvector("y")
    gy = sg.function([x, y], sg.grad(sg.sum(x**y), y))(np.array([0.0, 2.0]), np.array([2.0, 3.0]))
    np.testing.assert_allclose(gy, [0.0, 8 * np.log(2.0)])


@pytest.mark.parametrize("rec", [r for r in DIFFERENTIABLE if r.nin > 1], ids=repr)
def test_gradient_with_static_broadcastable_shapes(rec):
    """Static length-1 axes take the build-time path of the gradient's sum-to-shape."""
    build, values = _grad_case(rec, [(3, 1), (1, 4), (3, 4)][: rec.nin], seed=4)
    results = []
    for static in (False, True):
        xs = symbolic_inputs(values, static)
        cost = sg.sum(build(*xs) * np.arange(12.0).reshape(3, 4))
        results.append(sg.function(xs, sg.grad(cost, xs))(*values))
    for dynamic, static in zip(*results):
        assert dynamic.shape == static.shape
        np.testing.assert_allclose(dynamic, static, rtol=1e-12)


def test_second_order_gradient():
    x = sg.dvector("x")
    gx = sg.grad(sg.sum(sg.sigmoid(x) * sg.tanh(x)), x)
    check_grad(lambda v: sg.grad(sg.sum(sg.sigmoid(v) * sg.tanh(v)), v), [np.array([0.3, -1.2, 2.0])])
    assert gx.ndim == 1


# --- NumPy semantics at the edges --------------------------------------------------------------
def _eval1(fn, value: np.ndarray) -> np.ndarray:
    x = sg.tensor("x", value.dtype.name, (None,) * value.ndim)
    return sg.function([x], fn(x))(value)


def _eval2(fn, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = sg.tensor("x", a.dtype.name, (None,) * a.ndim)
    y = sg.tensor("y", b.dtype.name, (None,) * b.ndim)
    return sg.function([x, y], fn(x, y))(a, b)


def test_round_is_half_to_even():
    halves = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, 3.51])
    np.testing.assert_array_equal(_eval1(sg.round, halves), [0, 2, 2, -0, -2, -2, 3, 4])
    np.testing.assert_array_equal(_eval1(sg.round, halves.astype("float32")), np.round(np.float32(halves)))


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "float32", "float64"])
def test_mod_and_floor_divide_with_negative_operands(dtype):
    a = np.array([7, -7, 7, -7, 0, 3], dtype)
    b = np.array([2, 2, -2, -2, -3, -5], dtype)
    for name, fn in (("mod", np.mod), ("floor_divide", np.floor_divide)):
        got = _eval2(getattr(sg, name), a, b)
        assert got.dtype.name == dtype
        np.testing.assert_array_equal(got, fn(a, b))
    np.testing.assert_array_equal(_eval2(lambda x, y: x % y, a, b), [1, 1, -1, -1, 0, -2])
    np.testing.assert_array_equal(_eval2(lambda x, y: x // y, a, b), [3, -4, -4, 3, 0, -1])


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64"])
def test_integer_division_by_zero_gives_numpy_result(dtype):
    a = np.array([5, 0, 3], dtype)
    b = np.zeros(3, dtype)
    with np.errstate(all="ignore"):
        expected = {n: getattr(np, n)(a, b) for n in ("floor_divide", "remainder", "true_divide")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(_eval2(sg.floor_divide, a, b), expected["floor_divide"])
        np.testing.assert_array_equal(_eval2(sg.mod, a, b), expected["remainder"])
        np.testing.assert_array_equal(_eval2(sg.true_divide, a, b), expected["true_divide"])
        np.testing.assert_array_equal(_eval1(sg.reciprocal, b), _recip(b))


def _recip(b):
    with np.errstate(all="ignore"):
        return np.reciprocal(b)


def test_float_overflow_and_invalid_give_inf_and_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(_eval1(sg.exp, np.array([1000.0, -1000.0])), [np.inf, 0.0])
        big = np.array([3e38, -3e38], "float32")
        out = _eval1(lambda x: x * 10.0, big)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, [np.inf, -np.inf])
        np.testing.assert_array_equal(_eval1(sg.log, np.array([0.0])), [-np.inf])
        assert np.isnan(_eval1(sg.sqrt, np.array([-1.0]))[0])
        np.testing.assert_array_equal(
            _eval2(sg.true_divide, np.array([1.0, -1.0]), np.zeros(2)), [np.inf, -np.inf]
        )


def test_integer_pow_with_negative_exponent_raises_like_numpy():
    with pytest.raises(ValueError, match=r"pow.*test_elemwise\.py"):
        _eval2(sg.pow, np.array([2], "int32"), np.array([-1], "int32"))


def test_stable_sigmoid_and_softplus_at_extremes():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(_eval1(sg.sigmoid, x), [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-12)
        sp = _eval1(sg.softplus, x)
    np.testing.assert_allclose(sp, [0.0, np.exp(-50.0), np.log(2.0), 50.0, 1000.0], rtol=1e-12)
    np.testing.assert_allclose(_eval1(sg.softplus, x.astype("float32")), sp.astype("float32"), rtol=1e-6)


# --- operators ---------------------------------------------------------------------------------
def _scalar_op_name(v: sg.Variable) -> str:
    return v.owner.op.scalar_op.name


def test_operators_map_to_ops():
    x, y = sg.dvector("x"), sg.dvector("y")
    cases = {
        "add": x + y,
        "sub": x - y,
        "mul": x * y,
        "true_divide": x / y,
        "floor_divide": x // y,
        "mod": x % y,
        "pow": x**y,
        "neg": -x,
        "abs": abs(x),
        "lt": x < y,
        "le": x <= y,
        "gt": x > y,
        "ge": x >= y,
    }
    for name, v in cases.items():
        assert _scalar_op_name(v) == name
    p, q = sg.tensor("p", "bool", (None,)), sg.tensor("q", "bool", (None,))
    assert _scalar_op_name(p & q) == "logical_and"
    assert _scalar_op_name(p | q) == "logical_or"
    assert _scalar_op_name(~p) == "logical_not"
    assert +x is x


def test_reflected_operators_compute_numpy_values():
    x = sg.dvector("x")
    a = np.array([1.5, -2.0, 4.0])
    exprs = [2 - x, 2 / x, 2 // x, 7 % x, 2**x, 3 + x, 3 * x, 1 < x, 1 >= x]
    expected = [2 - a, 2 / a, 2 // a, 7 % a, 2**a, 3 + a, 3 * a, 1 < a, 1 >= a]
    outs = sg.function([x], exprs)(a)
    for got, want in zip(outs, expected):
        np.testing.assert_allclose(got, want)
        assert got.dtype == want.dtype


def test_equality_keeps_identity_semantics():
    x, y = sg.dvector("x"), sg.dvector("y")
    assert (x == x) is True
    assert (x == y) is False
    assert (x != y) is True
    assert len({x, y, x}) == 2
    assert _scalar_op_name(sg.eq(x, y)) == "eq"
    assert _scalar_op_name(sg.neq(x, y)) == "neq"


def test_invert_of_non_bool_is_an_error():
    with pytest.raises(TypeError, match="bool"):
        _ = ~sg.ivector("i")


# --- build-time and run-time errors --------------------------------------------------------------
def test_static_shape_mismatch_is_a_build_time_error():
    a = sg.tensor("a", shape=(3,))
    b = sg.tensor("b", shape=(4,))
    with pytest.raises(ValueError, match=r"mul.*\(3,\).*\(4,\).*test_elemwise\.py"):
        sg.mul(a, b)


def test_runtime_shape_mismatch_names_op_and_line():
    x, y = sg.dvector("x"), sg.dvector("y")
    f = sg.function([x, y], sg.arctan2(x, y))
    with pytest.raises(ValueError, match=r"arctan2.*test_elemwise\.py.*\(3,\)"):
        f(np.zeros(3), np.zeros(4))


def test_wrong_number_of_inputs():
    with pytest.raises(TypeError, match=r"sub.*takes 2.*test_elemwise\.py"):
        sg.sub(sg.dvector(), sg.dvector(), sg.dvector())


def test_variadic_add_and_mul():
    xs = [sg.dvector(f"x{k}") for k in range(3)]
    vals = [np.array([1.0, 2.0]) * (k + 1) for k in range(3)]
    f = sg.function(xs, [sg.add(*xs), sg.mul(*xs)])
    s, p = f(*vals)
    np.testing.assert_allclose(s, vals[0] + vals[1] + vals[2])
    np.testing.assert_allclose(p, vals[0] * vals[1] * vals[2])
    check_grad(lambda a, b, c: sg.mul(a, b, c), vals)


def test_infer_shape_with_runtime_broadcast():
    """Lengths unknown at build time may still broadcast (1 against n, 1 against 0)."""
    x, y = sg.dvector("x"), sg.dvector("y")
    z = x + y
    (dims,) = z.owner.op.infer_shape(z.owner, [(ShapeI(0)(x),), (ShapeI(0)(y),)])
    f = sg.function([x, y], dims[0])
    assert int(f(np.zeros(1), np.zeros(5))) == 5
    assert int(f(np.zeros(5), np.zeros(1))) == 5
    assert int(f(np.zeros(0), np.zeros(1))) == 0
