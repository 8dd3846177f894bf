"""The C kernels of the reductions (symgrad/codegen/reduce_c.py) against mode 'py' (NumPy):
Reduce of every kind, dtype and axis set over many memory layouts, Argmax, FusedReduce,
SumToShape, empty inputs and errors, NumPy's float sums to the bit, float32 accuracy, and
results that do not depend on the thread count.

Many graphs share one ``sg.function`` (one C library each) to keep compiler time down.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.compile.cbuild import compiler_available
from symgrad.graph.errors import GraphValueError, ShapeError
from symgrad.ops.composite import FusedReduce
from symgrad.ops.elemwise import SumToShape
from symgrad.ops.reduce import Argmax, Reduce

pytestmark = pytest.mark.skipif(not compiler_available(), reason="mode 'c' needs a C compiler")

DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64", "float32", "float64")
KINDS = ("sum", "prod", "max", "min", "all", "any")
AXES = [None, 0, 1, 2, -1, (0, 2), (1, 2), (0, 1)]
EXACT_KINDS = ("max", "min", "all", "any", "max_or_neg_inf")


def draw(shape, dtype, seed=0, low=-3, high=4):
    r = rng(seed)
    if dtype == "bool":
        return r.random(shape) < 0.6
    if dtype.startswith("float"):
        return r.normal(size=shape).astype(dtype)
    return r.integers(0 if dtype == "uint8" else low, high, size=shape).astype(dtype)


def layouts(x: np.ndarray) -> list[np.ndarray]:
    """The same kind of value in many memory layouts (all 3-d, same dtype)."""
    big = np.concatenate([x, x[::-1]], axis=1)
    return [
        x,
        np.asfortranarray(x),
        x[::-1, :, ::-1],  # negative strides
        big[:, ::2],  # a strided view
        np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0),  # transposed memory
        np.broadcast_to(x[:1], x.shape),  # stride 0
    ]


def compile_both(inputs, outputs, **kwargs):
    fc = sg.function(inputs, outputs, mode="c", **kwargs)
    fpy = sg.function(inputs, outputs, mode="py", **kwargs)
    assert fc.vm.python_nodes == [], [str(n.op) for n in fc.vm.python_nodes]
    return fc, fpy


def assert_matches(got, want, kind="", exact=False, rtol=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (kind, got.dtype, want.dtype, got.shape)
    if exact or want.dtype.kind != "f" or kind in EXACT_KINDS:
        np.testing.assert_array_equal(got, want, err_msg=kind)
    else:
        eps = np.finfo(want.dtype).eps
        tol = rtol if rtol is not None else 64 * eps
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=kind)


def reduce_of(kind, x, axis, keepdims=False):
    if kind == "max_or_neg_inf":
        axes = (
            tuple(range(x.ndim)) if axis is None else tuple(sorted(a % x.ndim for a in np.atleast_1d(axis)))
        )
        return Reduce(kind, axes)(x)
    return getattr(sg, kind)(x, axis=axis, keepdims=keepdims)


# --- Reduce ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kind_and_axis_set_over_layouts(dtype):
    x = sg.tensor("x", dtype, (None, None, None))
    kinds = KINDS + (("max_or_neg_inf",) if dtype.startswith("float") else ())
    cases = [(k, a, False) for k in kinds for a in AXES] + [(k, (0, 2), True) for k in ("sum", "max")]
    fc, fpy = compile_both([x], [reduce_of(k, x, a, kd) for k, a, kd in cases])
    assert sum(isinstance(n.op, Reduce) for n in fc.fgraph.toposort()) >= 7 * len(kinds)  # 2 == -1
    for value in layouts(draw((4, 5, 6), dtype)):
        for (kind, axis, _), got, want in zip(cases, fc(value), fpy(value)):
            assert_matches(got, want, f"{kind} axis={axis} strides={value.strides}")


def test_zero_d_and_no_axes():
    x = sg.tensor("x", "float64", ())
    v = sg.tensor("v", "int8", (None,))
    outs = [sg.sum(x), sg.max(x), sg.prod(x), sg.all(x), Reduce("sum", ())(v), Reduce("max", ())(v)]
    fc, fpy = compile_both([x, v], outs)
    args = (np.array(-0.0), np.array([3, -4, 120], "int8"))
    for got, want in zip(fc(*args), fpy(*args)):
        assert_matches(got, want, exact=True)
        assert np.signbit(got).tolist() == np.signbit(want).tolist()  # sum(-0.0) is +0.0


def test_integer_sums_and_products_wrap_like_numpy():
    x = sg.tensor("x", "int64", (None, None))
    b = sg.tensor("b", "uint8", (None,))
    fc, fpy = compile_both([x, b], [sg.sum(x, axis=0), sg.prod(x, axis=1), sg.sum(b), sg.prod(b)])
    big = np.array([[2**62, 3**39], [2**62, 3**39], [-(2**62), 5]], "int64")
    args = (big, np.full(300, 255, "uint8"))
    for got, want in zip(fc(*args), fpy(*args)):
        assert_matches(got, want, exact=True)


def test_large_layouts_take_every_path_and_ignore_the_thread_count():
    """Column mode with several chunks and blocks (in parallel over chunks, or over blocks),
    row mode with long lines cut into pieces and with groups of lines (in parallel over
    outputs, or over pieces), the parallel pairwise sum: equal bits with 1, 2 and 3 threads."""
    x = sg.tensor("x", "float64", (None, None))
    y = sg.tensor("y", "float64", (None, None))
    i = sg.tensor("i", "int32", (None, None))
    f = sg.tensor("f", "float32", (None, None, None))
    w = sg.tensor("w", "float64", (None,))
    s = sg.tensor("s", "float64", (None, None))
    outs = [
        sg.sum(sg.exp(w) * 0.5),  # a fused line: its windows of exp values stay in place
        sg.max(sg.exp(w) - w),
        sg.sum(x, axis=0),  # (1100, 2300): 2 chunks of columns, 2 blocks of rows
        sg.prod(x * 0 + 1.0001, axis=0),
        sg.max(x, axis=0),
        sg.sum(x),  # one line of 2.5e6: the top of the pairwise recursion in parallel
        sg.sum(y, axis=0),  # (30000, 20): one chunk, blocks in parallel
        sg.min(y, axis=0),
        sg.sum(i, axis=1),  # (2, 300000): pieces of one line in parallel
        sg.max(i, axis=1),
        sg.prod(i % 3 - 1, axis=1),
        sg.sum(f, axis=(0, 2)),  # (30000, 2, 10) view: groups of lines in parallel
        sg.min(f, axis=(0, 2)),
        sg.sum(f, axis=(0, 1)),  # column mode over blocks
        sg.argmax(x, axis=0),
        sg.argmin(i, axis=1),
        sg.argmax(f),  # pieces across lines
        sg.argmax(s, axis=0),  # (300, 2300) strided: column mode gathers rows wider than a window
        sg.sum(s, axis=0),
        sg.max(s * 2.0, axis=1),  # fused values of a strided line
        sg.min(s * 2.0, axis=0),
    ]
    fc, fpy = compile_both([w, x, y, i, f, s], outs)
    args = (
        draw((600001,), "float64", 5),
        draw((1100, 2300), "float64", 1),
        draw((30000, 20), "float64", 2),
        draw((2, 300000), "int32", 3, -1000, 1000),
        draw((30000, 4, 30), "float32", 4)[:, ::2, ::3],
        draw((300, 4600), "float64", 6)[:, ::2],
    )
    want = fpy(*args)
    results = []
    for threads in (1, 2, 3):
        for lib in fc.vm.libraries:
            lib.lib.sg_set_num_threads(threads)
        results.append(fc(*args))
    for got in results[1:]:
        for a, b in zip(got, results[0]):
            np.testing.assert_array_equal(a, b)
    for k, (got, ref) in enumerate(zip(results[0], want)):  # float32 sums of 30000: cancellation
        assert_matches(got, ref, f"output {k}", rtol=2e-3 if ref.dtype == np.float32 else 1e-10)


# --- float accuracy --------------------------------------------------------------------------------
def test_float_sums_are_numpys_to_the_bit():
    """Where NumPy sums along a line (pairwise) or down columns (one row after the other, up
    to 1024 rows here), the kernels do the same operations in the same order."""
    outs, vs = [], []
    for dtype in ("float32", "float64"):
        m = sg.tensor(f"m{dtype}", dtype, (None, None))
        v = sg.tensor(f"v{dtype}", dtype, (None,))
        vs += [m, v]
        outs += [sg.sum(m, axis=1), sg.sum(m, axis=0), sg.sum(m), sg.sum(v), sg.mean(v)]
    fc, fpy = compile_both(vs, outs)
    for n in (8, 100, 1000, 12345):
        for layout in ("C", "F", "reversed"):
            args = []
            for dtype in ("float32", "float64"):
                m = draw((9, n), dtype, n)
                m[0, :3] = [0.1, 1e8, -1e8]
                m = {"C": m, "F": np.asfortranarray(m), "reversed": m[:, ::-1]}[layout]
                args += [m, draw((3 * n,), dtype, n + 1)[::3]]  # a strided vector
            for k, (got, want) in enumerate(zip(fc(*args), fpy(*args))):
                # Fortran rows: down the columns, in blocks of 1024 (NumPy: one by one);
                # a reversed matrix is not one line for its total
                close = (layout == "F" and k % 5 == 0 and n > 1024) or (layout == "reversed" and k % 5 == 2)
                tol = 64 * np.finfo(want.dtype).eps * 1e8  # reassociated around the 1e8 - 1e8
                assert_matches(got, want, f"{layout} n={n} output {k}", exact=not close, rtol=tol)
    x = np.full(10000, 0.1, "float32")
    assert fc(args[0], x, *args[2:])[3] == np.sum(x)


def test_float32_accuracy_of_long_sums():
    v = sg.fvector("v")
    m = sg.fmatrix("m")
    fc = sg.function([v, m], [sg.sum(v), sg.sum(m, axis=0)], mode="c")
    values = rng(4).random(1_000_000).astype("float32") + 1.0
    exact = np.sum(values.astype("float64"))
    total, cols = fc(values, values.reshape(-1, 16))
    assert total == np.sum(values)  # pairwise, as NumPy
    eps = np.finfo("float32").eps
    assert abs(total - exact) <= 4 * np.log2(values.size) * eps * exact
    # down the columns NumPy adds 62500 rows one by one; blocks of 1024 stay more accurate
    exact_cols = values.reshape(-1, 16).astype("float64").sum(axis=0)
    numpy_err = np.abs(values.reshape(-1, 16).sum(axis=0) - exact_cols).max()
    err = np.abs(cols - exact_cols).max()
    assert err <= numpy_err / 8  # here about 1 ulp of the sum against NumPy's 48
    assert err <= 8 * eps * exact_cols.max() <= (1024 + values.size / 16 / 1024) * eps * exact_cols.max()


# --- NaN, inf, ties ------------------------------------------------------------------------------------
def test_nan_inf_and_ties():
    x = sg.dmatrix("x")
    outs = [
        sg.max(x, axis=1),
        sg.min(x, axis=1),
        sg.max(x, axis=0),
        sg.min(x, axis=0),
        sg.argmax(x, axis=1),
        sg.argmin(x, axis=1),
        sg.argmax(x, axis=0),
        sg.argmin(x, axis=0),
        sg.argmax(x),
        sg.argmin(x),
        Reduce("max_or_neg_inf", (1,))(x),
        sg.all(x, axis=1),
        sg.any(x, axis=0),
    ]
    fc, fpy = compile_both([x], outs)
    value = draw((12, 700), "float64", 5)
    value[1, 5] = value[1, 600] = np.nan
    value[2, 0] = np.nan
    value[3, -1] = np.nan
    value[4, :] = -np.inf
    value[5, ::7] = np.inf
    value[6, :] = 2.0  # ties: the first index
    value[7, 10] = value[7, 300] = 9.0
    value[8, 100:] = np.nan
    value[9, :] = 0.0
    value[10, 31] = value[10, 32] = 50.0  # the first one in a later lane of the vector loop
    value[11, 63] = value[11, 64] = np.nan
    short = value[:, :12]  # rows shorter than the vector lanes: one accumulator
    for v in (value, np.asfortranarray(value), value[::-1, ::-1], np.ascontiguousarray(value.T).T, short):
        for k, (got, want) in enumerate(zip(fc(v), fpy(v))):
            assert_matches(got, want, f"output {k}", exact=True)
    first = fc(value)[4]
    assert first[1] == 5 and first[8] == 100 and first[6] == 0 and first[10] == 31 and first[11] == 63


# --- Argmax ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_argmax_argmin_every_dtype_axis_and_layout(dtype):
    x = sg.tensor("x", dtype, (None, None, None))
    cases = [(k, a, kd) for k in ("argmax", "argmin") for a in (None, 0, 1, 2, -1) for kd in (False, True)]
    fc, fpy = compile_both([x], [getattr(sg, k)(x, axis=a, keepdims=kd) for k, a, kd in cases])
    assert any(isinstance(n.op, Argmax) for n in fc.fgraph.toposort())
    values = layouts(draw((4, 9, 6), dtype, 6, -2, 3)) + layouts(draw((3, 4, 150), dtype, 7, -2, 3))
    for value in values:  # many ties; long lines go through the vector lanes
        for case, got, want in zip(cases, fc(value), fpy(value)):
            assert_matches(got, want, str(case), exact=True)


# --- empty inputs and errors -------------------------------------------------------------------------
def test_empty_inputs():
    x = sg.tensor("x", "float64", (None, None))
    n = sg.tensor("n", "int32", (None, None))
    outs = [
        sg.sum(x, axis=0),
        sg.prod(x, axis=1),
        sg.all(x),
        sg.any(n, axis=0),
        sg.sum(n),
        sg.max(x, axis=1),
        sg.argmax(x, axis=1),
        Reduce("max_or_neg_inf", (0,))(x),
        sg.sum(sg.exp(x) * 2.0, axis=0),
    ]
    fc, fpy = compile_both([x, n], outs)
    args = (np.zeros((0, 3)), np.zeros((0, 3), "int32"))
    for got, want in zip(fc(*args), fpy(*args)):
        assert_matches(got, want, exact=True)


@pytest.mark.parametrize(
    ("build", "shape", "pattern"),
    [
        (
            lambda x: sg.max(x, axis=1),
            (3, 0),
            r"max: cannot reduce over an empty axis \(axis 1 of shape \(3, 0\)",
        ),
        (lambda x: sg.min(x), (0, 2), r"min: .*empty.*axis \(0, 1\) of shape \(0, 2\)"),
        (lambda x: sg.argmax(x, axis=0), (0, 4), r"argmax: .*empty.*axis 0 of shape \(0, 4\)"),
        (lambda x: sg.argmin(x), (2, 0), r"argmin: .*empty.*the flattened input of shape \(2, 0\)"),
        (lambda x: sg.max(sg.exp(x) + x, axis=0), (0, 2), r"max: .*empty.*axis 0 of shape \(0, 2\)"),
    ],
)
def test_reductions_without_identity_refuse_empty_axes(build, shape, pattern):
    x = sg.dmatrix("x")
    fc = sg.function([x], build(x), mode="c")
    assert fc.vm.python_nodes == []
    with pytest.raises(GraphValueError, match=pattern + r".*test_c_reduce\.py"):
        fc(np.zeros(shape))
    fpy = sg.function([x], build(x), mode="py")
    with pytest.raises(GraphValueError, match=pattern + r".*test_c_reduce\.py"):
        fpy(np.zeros(shape))


def test_empty_axis_of_a_4d_input():
    x = sg.tensor("x", "float32", (None,) * 4)
    fc = sg.function([x], sg.max(x, axis=2), mode="c")
    with pytest.raises(
        GraphValueError, match=r"max: .*empty axis \(axis 2 of (shape \(1, 2, 0, 3\)|the 4-d)"
    ):
        fc(np.zeros((1, 2, 0, 3), "float32"))


# --- FusedReduce ------------------------------------------------------------------------------------
def test_fused_reductions_compute_without_a_temporary():
    x, y = sg.dmatrix("x"), sg.dmatrix("y")
    r, c = sg.dvector("r"), sg.dscalar("c")
    i, j = sg.imatrix("i"), sg.imatrix("j")
    fs = sg.fmatrix("fs")
    outs = [
        sg.sum(sg.exp(x) * y, axis=1),
        sg.sum(sg.exp(x) * r, axis=0),  # a row broadcast down the columns
        sg.sum(sg.exp(x - sg.max(x, axis=1, keepdims=True)), axis=1),  # a column broadcast
        sg.max(x * c + r, axis=0),
        sg.min(sg.abs(x - y), axis=None),
        sg.sum(i * j + 3, axis=1),
        sg.prod(i % 3 + 1, axis=0),
        sg.any(x > y, axis=1),
        sg.all(i >= -2, axis=0),
        sg.sum(sg.tanh(fs) * 2.0, axis=1),
        sg.logsumexp(x, axis=1),
        sg.mean(sg.square(x - y)),
    ]
    fc, fpy = compile_both([x, y, r, c, i, j, fs], outs)
    fused = [n for n in fc.fgraph.toposort() if isinstance(n.op, FusedReduce)]
    assert len(fused) >= 10
    base = draw((40, 300), "float64", 7)
    for xv in (base, base.T.copy().T, base[::-1, ::-1]):
        args = (
            xv,
            draw((40, 300), "float64", 8),
            draw((300,), "float64", 9),
            np.array(0.5),
            draw((40, 300), "int32", 10),
            draw((40, 300), "int32", 11)[:, ::-1],
            draw((40, 300), "float32", 12),
        )
        for k, (got, want) in enumerate(zip(fc(*args), fpy(*args))):
            assert_matches(got, want, f"output {k}", rtol=1e-5 if want.dtype == np.float32 else 1e-13)


def test_fused_sums_add_the_unfused_values_as_numpy_does():
    """A fused value is the elementwise kernel's to the bit (the same vector loop, whatever its
    position), and a fused float sum adds the values in NumPy's pairwise order: so it equals
    np.sum of the unfused kernel's values exactly, for short rows, rows longer than a window
    of values, and a line long enough to be split into pieces."""
    x, f, v = sg.dmatrix("x"), sg.fmatrix("f"), sg.dvector("v")
    exprs = [sg.exp(x) * 0.5, sg.tanh(f) + 1.0, sg.exp(v) - v]
    outs = [sg.sum(exprs[0], axis=1), sg.sum(exprs[1], axis=1), sg.sum(exprs[2])]
    fused = sg.function([x, f, v], outs, mode="c")
    elem = sg.function([x, f, v], exprs, mode="c")
    assert not fused.vm.python_nodes and not elem.vm.python_nodes
    assert sum(isinstance(n.op, FusedReduce) for n in fused.fgraph.toposort()) == 3
    assert not any(isinstance(n.op, FusedReduce) for n in elem.fgraph.toposort())
    for rows, cols, n in ((7, 5, 9), (5, 1000, 1030), (3, 5003, 300007)):
        args = (draw((rows, cols), "float64", 1), draw((rows, cols), "float32", 2), draw((n,), "float64", 3))
        values = elem(*args)
        for got, want in zip(
            fused(*args), (np.sum(values[0], axis=1), np.sum(values[1], axis=1), np.sum(values[2]))
        ):
            assert_matches(got, want, f"{rows}x{cols}", exact=True)


def test_fused_reductions_of_many_inputs():
    """More inputs mean smaller windows of values computed at once (512, 256, 128)."""
    xs = [sg.dmatrix(f"x{k}") for k in range(26)]
    outs = []
    for count in (9, 26):
        for scale, reduce in ((0.5, lambda t: sg.sum(t, axis=1)), (0.25, lambda t: sg.max(t, axis=0))):
            total = xs[0] * xs[1]
            for v in xs[2:count]:
                total = total + sg.exp(v) * scale
            outs.append(reduce(total))
    fc, fpy = compile_both(xs, outs)
    assert sum(isinstance(n.op, FusedReduce) for n in fc.fgraph.toposort()) == 4
    args = [draw((7, 1500), "float64", k) for k in range(26)]
    args[3] = args[3][:, ::-1]
    args[20] = np.broadcast_to(args[20][:, :1], (7, 1500))
    for got, want in zip(fc(*args), fpy(*args)):
        assert_matches(got, want, rtol=1e-13)


def test_fused_reduction_errors():
    a, b = sg.ivector("a"), sg.ivector("b")
    x, y = sg.dvector("x"), sg.dvector("y")
    fc = sg.function([a, b], sg.sum(a**b), mode="c")
    assert any(isinstance(n.op, FusedReduce) for n in fc.fgraph.toposort()) and not fc.vm.python_nodes
    assert fc(np.array([2, 3], "int32"), np.array([3, 2], "int32")) == 17
    with pytest.raises(ValueError, match="Integers to negative integer powers"):
        fc(np.array([2, 3], "int32"), np.array([3, -2], "int32"))
    fshape = sg.function([x, y], sg.sum(sg.exp(x) * y), mode="c")
    assert not fshape.vm.python_nodes
    with pytest.raises(ValueError, match=r"(?s)test_c_reduce\.py.*\(3,\).*\(4,\).*broadcast"):
        fshape(np.ones(3), np.ones(4))


# --- SumToShape ------------------------------------------------------------------------------------
def test_sum_to_shape_of_broadcast_gradients():
    x, m = sg.dmatrix("x"), sg.dmatrix("m")
    b, s = sg.dvector("b"), sg.dscalar("s")
    row = sg.tensor("row", "float64", (1, None))
    col = sg.tensor("col", "float64", (None, 1))
    outs = [sg.grad(sg.sum((x + v) ** 2), v) for v in (b, s, row, col, m)]
    fc, fpy = compile_both([x, b, s, row, col, m], outs)
    assert sum(isinstance(n.op, SumToShape) for n in fc.fgraph.toposort()) >= 4
    for xv in (draw((30, 9), "float64", 13), draw((9, 30), "float64", 13).T):
        args = (xv, draw((9,), "float64"), np.array(0.25), draw((1, 9), "float64"), draw((30, 1), "float64"))
        for got, want in zip(fc(*args, xv * 0.5), fpy(*args, xv * 0.5)):
            assert_matches(got, want, rtol=1e-13)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "float32"])
def test_sum_to_shape_dtypes_copies_and_errors(dtype):
    g3 = sg.tensor("g3", dtype, (None, None, None))
    g2 = sg.tensor("g2", dtype, (None, None))
    d0, d1 = (sg.tensor(f"d{k}", "int64", ()) for k in range(2))
    fc, fpy = compile_both([g3, g2, d0, d1], [SumToShape()(g3, d0, d1), SumToShape()(g2, d0, d1)])
    value = draw((5, 4, 3), dtype, 14, -100, 120)
    if dtype == "float32":
        value[:, 0, 0] = -0.0
    for target in ((4, 3), (1, 3), (4, 1), (1, 1)):
        for v in (value, value[::-1, :, ::-1], np.asfortranarray(value)):
            for got, want in zip(fc(v, v[0], *target), fpy(v, v[0], *target)):
                assert_matches(got, want, str(target), exact=dtype != "float32", rtol=1e-6)
    copied = fc(value, value[0], 4, 3)[1]  # nothing summed: the value itself, -0.0 included
    np.testing.assert_array_equal(np.signbit(copied), np.signbit(value[0]))
    with pytest.raises(ShapeError, match=r"sum_to: .*(shape \(4, 3\)|axis 1 has length 3) cannot be summed"):
        fc(value, value[0], 4, 2)


# --- the library ------------------------------------------------------------------------------------
def test_kernels_share_their_engines_in_one_library():
    x, b = sg.dmatrix("x"), sg.dvector("b")
    outs = [sg.sum(x, axis=0), sg.sum(x, axis=1), sg.sum(x), sg.argmax(x, axis=0), sg.argmax(x, axis=1)]
    outs.append(sg.grad(sg.sum((x + b) ** 2), b))  # SumToShape: the same sum loops
    fc = sg.function([x, b], outs, mode="c")
    assert len(fc.vm.libraries) == 1 and not fc.vm.python_nodes
    source = open(fc.vm.library.source_path).read()
    # a library may be split into translation units compiled in parallel: each unit holds the
    # plan helpers, the engines and each table of typed loops at most once
    units = [u for u in re.split(r"/\* ==== translation unit .*? \*/", source) if u.strip()]
    for text in (
        "typedef struct {\n    int64_t nin;",  # the plan
        "int64_t sg_reduce_run(const sg_rkernel *K",  # one engine for every reduction
        "int64_t sg_argmax_run(const sg_rargops *A",
        "static const sg_rops sg_rops_sum_float64_float64 =",  # Reduce and SumToShape share it
    ):
        counts = [u.count(text) for u in units]
        assert max(counts) == 1, (text, counts)
