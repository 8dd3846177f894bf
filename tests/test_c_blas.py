"""Mode 'c' matrix products (symgrad/codegen/blas_c.py, csrc_templates/blas.c) against mode
'py': MatMul in every rank combination, dtype and layout, Gemm from the specialize rewrite and
its gradient, EqualDims, error messages, the splitting of lengths over 32-bit BLAS integers
and the NumPy fallback without scipy-openblas32.

Many graphs share one ``sg.function`` (one C library each) to keep the compiler time down.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.codegen import blas_c
from symgrad.compile.cbuild import compiler_available
from symgrad.ops.gemm import Gemm, gemm
from symgrad.ops.linalg import EqualDims, MatMul

pytestmark = pytest.mark.skipif(not compiler_available(), reason="mode 'c' needs a C compiler")
OUR_OPS = (MatMul, Gemm, EqualDims)

# (shape of a, shape of b): every rank combination, batch broadcasting, empty operands.
SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (4, 3, 5)),
    ((3, 1, 4, 2), (1, 2, 2, 5)),
    ((0, 3), (3, 2)),
    ((3, 0), (0, 2)),
    ((2, 0, 3), (3, 4)),
    ((0,), (0,)),
    ((2, 3), (1, 3, 0)),
]


def sample(shape, dtype, seed=0, low=-5, high=5):
    r = rng(seed)
    if dtype == "bool":
        return r.integers(0, 2, size=shape).astype(bool)
    if np.dtype(dtype).kind in "iu":
        return r.integers(max(low, np.iinfo(dtype).min), high, size=shape).astype(dtype)
    return r.normal(size=shape).astype(dtype)


def var(shape, dtype, name="v"):
    return sg.tensor(name, dtype, (None,) * len(shape))


def both(inputs, outputs, **kwargs):
    return sg.function(inputs, outputs, mode="py", **kwargs), sg.function(inputs, outputs, mode="c", **kwargs)


def assert_agrees(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if got.dtype.kind == "f":
        tol = 2e-5 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


def assert_compiled(f):
    """None of our ops runs through NumPy (other families' ops may, for now)."""
    left = [n for n in f.vm.python_nodes if isinstance(n.op, OUR_OPS)]
    assert not left, left


def check(inputs, outputs, values, **kwargs):
    fpy, fc = both(inputs, outputs, **kwargs)
    assert_compiled(fc)
    for got, want in zip(fc(*values), fpy(*values)):
        assert_agrees(got, want)
    return fc


# --- MatMul: ranks, dtypes, layouts --------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype_a,dtype_b",
    [
        ("float64", "float64"),
        ("float32", "float32"),
        ("int32", "int32"),
        ("int64", "int64"),
        ("bool", "bool"),
        ("int8", "uint8"),
        ("int32", "float32"),
        ("bool", "float32"),
        ("float32", "float64"),
        ("uint8", "bool"),
    ],
)
def test_matmul_every_rank_combination(dtype_a, dtype_b):
    inputs, outputs, values = [], [], []
    for k, (sa, sb) in enumerate(SHAPES):
        a, b = var(sa, dtype_a, f"a{k}"), var(sb, dtype_b, f"b{k}")
        inputs += [a, b]
        outputs.append(sg.matmul(a, b))
        values += [sample(sa, dtype_a, seed=k), sample(sb, dtype_b, seed=100 + k)]
    fc = check(inputs, outputs, values)
    for k, got in enumerate(fc(*values)):  # NumPy itself, too
        assert_agrees(got, np.matmul(values[2 * k], values[2 * k + 1]))


def layouts(base):
    """Views of a matrix: BLAS reads the first four in place, the others are copied."""
    m, k = base.shape
    yield base
    yield np.asfortranarray(base)  # read transposed
    yield np.pad(base, ((0, 1), (0, 2)))[:m, :k]  # a leading dimension longer than the rows
    yield np.pad(base.T, ((0, 2), (0, 1))).T[:m, :k]  # transposed, longer leading dimension
    yield np.repeat(np.repeat(base, 2, 0), 3, 1)[::2, ::3]  # no unit stride
    yield base[::-1]
    yield base[:, ::-1]
    yield np.broadcast_to(base[:1], base.shape)
    yield np.broadcast_to(base[:, :1], base.shape)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
def test_matmul_layouts(dtype):
    """In place, transposed (CblasTrans), copied (negative or zero strides) operands, for GEMM,
    GEMV (one row or column), DOT (one element) and empty products."""
    a, b = sg.matrix("a", dtype=dtype), sg.matrix("b", dtype=dtype)
    t, v = var((1, 1, 1), dtype, "t"), var((1,), dtype, "v")
    fpy, fc = both([a, b, t, v], [a @ b, b.T @ a.T, t @ b, a @ v, v @ b])
    assert_compiled(fc)
    for m, k, n in [(5, 4, 3), (1, 4, 3), (5, 4, 1), (1, 4, 1), (1, 1, 1), (3, 0, 2), (0, 4, 3), (2, 3, 0)]:
        for x in layouts(sample((m, k), dtype, seed=m)):
            for y in layouts(sample((k, n), dtype, seed=n + 10)):
                stacked = np.stack([x, x[::-1]])[:, :, ::-1]
                column = y[:, 0] if n else np.arange(k).astype(dtype)
                values = (x, y, stacked, column)
                for got, want in zip(fc(*values), fpy(*values)):
                    assert_agrees(got, want)


def batch_layouts(base):
    yield base
    yield np.asfortranarray(base)
    yield base[::-1]
    yield np.swapaxes(np.swapaxes(base, -1, -2).copy(), -1, -2)
    yield np.broadcast_to(base[:1], base.shape)
    yield np.moveaxis(np.moveaxis(base, 0, -1).copy(), -1, 0)[..., ::-1, :]


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_matmul_batched_layouts(dtype):
    a, b = var((1, 1, 1), dtype, "a"), var((1, 1, 1, 1), dtype, "b")
    fpy, fc = both([a, b], [a @ b, sg.matmul(b, sg.transpose(b, (0, 1, 3, 2)))])
    assert_compiled(fc)
    for x in batch_layouts(sample((3, 4, 5), dtype)):
        for y in batch_layouts(sample((2, 3, 5, 6), dtype, seed=1)):
            for got, want in zip(fc(x, y), fpy(x, y)):
                assert_agrees(got, want)
    for x, y in [
        (np.ones((1, 4, 5), dtype), np.ones((2, 0, 5, 3), dtype)),
        (np.ones((0, 4, 0), dtype), np.ones((2, 1, 0, 3), dtype)),
    ]:
        for got, want in zip(fc(x, y), fpy(x, y)):
            assert_agrees(got, want)


def test_matmul_unaligned_operands():
    raw = np.zeros(8 * 30 + 1, np.uint8)
    x = np.frombuffer(raw.data, np.float64, count=30, offset=1).reshape(5, 6)
    x[...] = sample((5, 6), "float64")
    assert not x.flags.aligned
    a, b = sg.matrix("a"), sg.matrix("b")
    check([a, b], [a @ b, a @ a.T, a.T @ b.T, b @ a], [x, x.T])


def test_integer_products_wrap_like_numpy():
    ins, outs, values = [], [], []
    for k, dtype in enumerate(["int8", "int16", "int32", "int64", "uint8"]):
        info = np.iinfo(dtype)
        a, b = sg.matrix(f"a{k}", dtype=dtype), sg.matrix(f"b{k}", dtype=dtype)
        ins += [a, b]
        outs.append(a @ b)
        values += [
            sample((6, 7), dtype, k, info.min, info.max),
            sample((7, 3), dtype, k + 9, info.min, info.max),
        ]
    check(ins, outs, values)


def test_outputs_are_fresh_arrays():
    a = sg.matrix("a")
    eye = np.eye(3)
    fc = sg.function([a], [a @ np.eye(3), sg.matmul(a, a)], mode="c")
    for out in fc(eye):
        assert not np.shares_memory(out, eye)


# --- Gemm -----------------------------------------------------------------------------------------
def has_op(f, cls):
    return any(isinstance(n.op, cls) for n in f.fgraph.toposort())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gemm_from_the_specialize_rewrite(dtype):
    s = sg.scalar("s", dtype=dtype)
    cs = [sg.tensor(f"c{k}", dtype, (None,) * k) for k in range(3)]
    forms = [
        lambda p: p + cs[0],
        lambda p: p + cs[1],
        lambda p: p + cs[2],
        lambda p: 2.0 * p + 3.0 * cs[2],
        lambda p: p * s + cs[1] * s,
        lambda p: cs[2] + p,
    ]
    pairs = [(sg.matrix(f"a{k}", dtype=dtype), sg.matrix(f"b{k}", dtype=dtype)) for k in range(len(forms))]
    outputs = [form(a @ b) for (a, b), form in zip(pairs, forms)]
    fpy, fc = both([*(v for pair in pairs for v in pair), s, *cs], outputs)
    assert [type(n.op) for n in fc.fgraph.toposort()] == [Gemm] * len(forms)
    assert fc.vm.python_nodes == []
    for m, k, n in [(4, 3, 5), (1, 3, 5), (4, 3, 1), (1, 3, 1), (4, 0, 5), (0, 3, 5), (3, 2, 0)]:
        for x in layouts(sample((m, k), dtype, seed=m)):
            for y in [
                sample((k, n), dtype, seed=n),
                sample((n, k), dtype, seed=k).T,
                sample((k, n), dtype)[::-1],
            ]:
                for s_value in [1.5, 0.0, 1.0]:
                    values = [x, y] * len(forms) + [np.asarray(s_value, dtype)]
                    values += [sample((m, n)[2 - r :], dtype, r) for r in range(3)]
                    for got, want in zip(fc(*values), fpy(*values)):
                        assert_agrees(got, want)


def test_gemm_broadcasts_the_product_and_keeps_nan():
    """C larger than the product (a (1, k) @ (k, n) row added to (m, n)), and alpha or beta 0,
    inf or NaN, where BLAS would skip a term but NumPy's 0 * inf is NaN."""
    a, b, c, s, t = sg.matrix("a"), sg.matrix("b"), sg.matrix("c"), sg.scalar("s"), sg.scalar("t")
    fpy, fc = both([a, b, c, s, t], gemm(a, b, c, s, t))
    assert fc.vm.python_nodes == []
    x, y, z = sample((1, 3), "float64"), sample((3, 4), "float64", 1), sample((5, 4), "float64", 2)
    y[0, 0] = np.inf
    z[1, 1] = -np.inf
    cases = [
        (x, y, z),
        (x.T[:, :1].T, y[:, :1], sample((5, 7), "float64")),
        (x, y, z[:1]),
        (x.T, y[:1], z[:3]),
        (x.T, y[:1], z[:1]),
    ]
    for xv, yv, zv in cases:
        for alpha in [0.0, np.inf, np.nan, 2.0, 1.0]:
            for beta in [0.0, 1.0, -0.5]:
                values = [xv, yv, zv, np.asarray(alpha), np.asarray(beta)]
                with np.errstate(invalid="ignore"):
                    assert_agrees(fc(*values), fpy(*values))


def test_gemm_gradient_graph():
    x = sg.matrix("x")
    w = sg.shared(sample((3, 5), "float64"), "W")
    b = sg.shared(sample((5,), "float64", 1), "b")
    h = sg.tanh(x @ w + b)
    cost = sg.sum(h**2)
    outputs = [h, *sg.grad(cost, [x, w, b])]
    fpy, fc = both([x], outputs)
    assert has_op(fc, Gemm)
    assert_compiled(fc)
    for xv in [sample((4, 3), "float64", 2), sample((1, 3), "float64", 3), sample((3, 4), "float64", 4).T]:
        for got, want in zip(fc(xv), fpy(xv)):
            assert_agrees(got, want)


# --- errors ---------------------------------------------------------------------------------------
def test_shape_errors_name_the_op_shapes_and_line():
    a, b, e, f = (sg.matrix(name) for name in "abef")
    c, d = sg.tensor3("c"), sg.tensor4("d")
    v = sg.vector("v")
    fc = sg.function([a, b, c, d, e, f, v], [a @ b, c @ d, gemm(e, f, v, 1.0, 1.0)], mode="c")
    assert_compiled(fc)
    ok = [np.ones((2, 3)), np.ones((3, 2)), np.ones((2, 3, 3)), np.ones((5, 2, 3, 3))]
    ok += [np.ones((4, 3)), np.ones((3, 5)), np.ones(5)]
    fc(*ok)
    failures = [
        (1, (4, 2), r"matmul: shapes \(2, 3\) and \(4, 2\) are not aligned.*length 3.*length 4"),
        (3, (5, 4, 3, 3), r"matmul: the batch axes of shapes \(2, 3, 3\) and \(5, 4, 3, 3\) cannot"),
        (2, (2, 3, 4), r"matmul: shapes \(2, 3, 4\) and \(5, 2, 3, 3\) are not aligned"),
        (5, (2, 5), r"gemm: shapes \(4, 3\) and \(2, 5\) are not aligned"),
        (6, (3,), r"gemm: the product of shape \(4, 5\) and the addend of shape \(3,\) cannot"),
    ]
    for k, shape, pattern in failures:
        values = list(ok)
        values[k] = np.ones(shape)
        with pytest.raises(sg.ShapeError, match=pattern + r".*test_c_blas\.py"):
            fc(*values)


def test_tensordot_length_check_runs_in_c():
    a, b = sg.matrix("a"), sg.matrix("b")
    fc = check([a, b], [sg.tensordot(a, b, ([0, 1], [0, 1]))], [np.ones((2, 3)), sample((2, 3), "float64")])
    assert has_op(fc, EqualDims)
    with pytest.raises(sg.ShapeError, match=r"tensordot: shape-mismatch.*length 2.*length 3.*test_c_blas.py"):
        fc(np.ones((2, 3)), np.ones((3, 2)))


# --- 32-bit BLAS integers, no BLAS ----------------------------------------------------------------
def test_lengths_over_the_blas_limit_are_split(monkeypatch):
    """With the limit lowered to 3, every length and leading dimension over it is cut into
    blocks (K blocks accumulate): results must not change."""
    monkeypatch.setattr(blas_c, "BLAS_MAX_DIM", 3)
    a, b, c = sg.matrix("a"), sg.matrix("b"), sg.vector("c")
    t = sg.tensor3("t")
    fpy, fc = both([a, b, c, t], [a @ b, a @ b + c, t @ b, sg.matmul(a, b[:, 0]), sg.matmul(a[0], b)])
    assert_compiled(fc)
    for m, k, n in [(7, 8, 5), (1, 9, 7), (7, 9, 1), (2, 2, 2), (4, 3, 4)]:
        for x in layouts(sample((m, k), "float64", m)):
            for y in [sample((k, n), "float64", n), sample((n, k), "float64", k).T]:
                values = [x, y, sample((n,), "float64"), np.stack([x, 2 * x])]
                for got, want in zip(fc(*values), fpy(*values)):
                    assert_agrees(got, want)


def test_without_scipy_openblas32_float_products_use_numpy_with_one_warning(monkeypatch):
    monkeypatch.setattr(blas_c, "scipy_openblas32", None)
    blas_c.blas_flags.cache_clear()
    try:
        a, b = sg.matrix("a"), sg.matrix("b")
        i, j = sg.matrix("i", dtype="int32"), sg.matrix("j", dtype="int32")
        with pytest.warns(UserWarning, match="pip install scipy-openblas32"):
            fc = sg.function([a, b, i, j], [a @ b, gemm(a, b, a, 1.0, 1.0), i @ j], mode="c")
        assert {type(n.op) for n in fc.vm.python_nodes} == {MatMul, Gemm}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sg.function([a, b], 2.0 * (a @ b), mode="c")
        values = [np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2), "int32"), np.ones((2, 2), "int32")]
        for got, want in zip(fc(*values), [np.full((2, 2), 2.0), np.full((2, 2), 3.0), np.full((2, 2), 2)]):
            assert_agrees(got, want.astype(got.dtype))
    finally:
        blas_c.blas_flags.cache_clear()


def test_a_copy_too_large_for_memory_raises_memory_error():
    """A zero-strided operand BLAS cannot read is copied: 2**48 bytes cannot be allocated."""
    a, b = sg.matrix("a"), sg.matrix("b")
    fc = sg.function([a, b], a @ b, mode="c")
    assert_compiled(fc)
    huge = np.broadcast_to(np.ones((1, 1)), (2**23, 2**22))
    with pytest.raises(
        MemoryError, match=r"MatMul.*test_c_blas\.py.*out of memory \(allocating 281474976710656 bytes\)"
    ):
        fc(huge, np.ones((2**22, 1)))
