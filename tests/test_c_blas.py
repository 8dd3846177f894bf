"""Mode 'c' matrix products (symgrad/codegen/blas_c.py, csrc_templates/blas.c) against mode
'py': MatMul in every rank combination, dtype and layout, Gemm from the specialize rewrite and
its gradient, EqualDims, error messages, the splitting of lengths over 32-bit BLAS integers,
the choice of BLAS (NumPy's own OpenBLAS, scipy-openblas32, forced by ``SYMGRAD_BLAS``) and
the NumPy fallback without either.

Many graphs share one ``sg.function`` (one C library each) to keep the compiler time down.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.codegen import blas_c
from symgrad.compile.cbuild import compiler_available
from symgrad.config import Config
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


# --- which BLAS: NumPy's OpenBLAS or scipy-openblas32 ---------------------------------------------
BLAS_CHOICES = ["numpy", "scipy-openblas32"]


@pytest.fixture(params=BLAS_CHOICES)
def blas_choice(request, monkeypatch):
    """Each BLAS in turn (``SYMGRAD_BLAS``); skipped where this NumPy has no usable OpenBLAS."""
    if request.param == "numpy" and blas_c.numpy_openblas()[0] is None:
        pytest.skip(f"NumPy's BLAS is not usable here: {blas_c.numpy_openblas()[1]}")
    monkeypatch.setattr(sg.config, "blas", request.param)
    blas = blas_c.blas_library()
    assert blas is not None and blas.source == request.param
    return blas


def test_numpy_openblas_is_the_default_where_numpy_has_one(monkeypatch):
    monkeypatch.setattr(sg.config, "blas", "auto")
    found, why = blas_c.numpy_openblas()
    if found is None:
        assert "OpenBLAS" in why or "openblas" in why.lower()
        pytest.skip(why)
    assert blas_c.blas_library() == found
    assert found.ilp64 == ("USE64BITINT" in found.config)
    assert found.max_dim == (2**63 - 1 if found.ilp64 else 2**31 - 1)
    assert "openblas" in found.path.lower() and found.link_flags[0] == found.path
    assert found.describe().startswith(f"numpy: {found.path} (") and found.symbol("dgemm") in found.describe()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_both_blas_libraries_agree_with_numpy(blas_choice, dtype):
    """GEMM, GEMV and DOT, batched and broadcast, transposed, strided, reversed and 0-size
    operands, mixed dtypes and Gemm, compiled against each BLAS; the library calls that BLAS."""
    a, b = sg.matrix("a", dtype=dtype), sg.matrix("b", dtype=dtype)
    t, v = var((1, 1, 1), dtype, "t"), var((1,), dtype, "v")
    i = sg.matrix("i", dtype="int32")
    half, two = np.asarray(0.5, dtype), np.asarray(2.0, dtype)
    outputs = [a @ b, b.T @ a.T, t @ b, a @ v, v @ b, v @ v, gemm(a, b, a @ b, half, two), i @ b]
    fpy, fc = both([a, b, t, v, i], outputs)
    assert_compiled(fc)
    source = fc.vm.library.source_path.read_text()
    assert f" {blas_choice.symbol('dgemm')}(" in source and f" {blas_choice.symbol('sgemm')}(" in source
    assert f"int{64 if blas_choice.ilp64 else 32}_t sg_blasint" in source
    for m, k, n in [(6, 5, 4), (1, 5, 4), (6, 5, 1), (1, 1, 1), (3, 0, 2), (0, 4, 3)]:
        for x in [
            sample((m, k), dtype, m),
            np.asfortranarray(sample((m, k), dtype, 1)),
            sample((m, 2 * k), dtype)[::-1, ::2],
        ]:
            y = sample((n, k), dtype, n).T
            values = [
                x,
                y,
                np.stack([x, x[::-1]]),
                y[:, 0] if n else np.ones(k, dtype),
                sample((m, k), "int32"),
            ]
            for got, want in zip(fc(*values), fpy(*values)):
                assert_agrees(got, want)
            assert_agrees(fc(*values)[0], x @ y)


def test_the_blas_enters_the_cache_key(monkeypatch):
    a, b = sg.matrix("a"), sg.matrix("b")
    keys = set()
    for choice in BLAS_CHOICES:
        monkeypatch.setattr(sg.config, "blas", choice)
        if blas_c.blas_library().source != choice:
            pytest.skip(f"{choice} is not usable here")
        keys.add(sg.function([a, b], a @ b, mode="c").vm.library.key)
    assert len(keys) == 2


def test_one_openblas_in_the_process_with_numpy_openblas(tmp_path):
    """The point of linking NumPy's OpenBLAS: after compiling and running float products, the
    process has mapped one OpenBLAS library (one thread pool), NumPy's."""
    if not Path("/proc/self/maps").exists():
        pytest.skip("needs /proc/self/maps")
    if blas_c.numpy_openblas()[0] is None:
        pytest.skip(blas_c.numpy_openblas()[1])
    script = textwrap.dedent(
        """
        import numpy as np, symgrad as sg
        a, b = sg.matrix("a"), sg.matrix("b")
        f = sg.function([a, b], [a @ b, 2.0 * (a @ b) + a], mode="c")
        x = np.ones((64, 64))
        assert not f.vm.python_nodes and np.allclose(f(x, x)[0], x @ x)
        print(sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l.lower()}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(sg.__file__).resolve().parents[1])}
    env.pop(blas_c.BLAS_ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    mapped = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert [os.path.realpath(p) for p in mapped] == [os.path.realpath(blas_c.numpy_openblas()[0].path)]


def test_forced_numpy_blas_that_is_unusable_falls_back_with_a_warning(monkeypatch):
    monkeypatch.setattr(blas_c, "numpy_openblas", lambda: (None, "a test says no"))
    blas_c._choose.cache_clear()
    try:
        monkeypatch.setattr(sg.config, "blas", "auto")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert blas_c.blas_library().source == "scipy-openblas32"
        monkeypatch.setattr(sg.config, "blas", "numpy")
        with pytest.warns(
            UserWarning, match="SYMGRAD_BLAS=numpy: NumPy's BLAS cannot be used .a test says no"
        ):
            assert blas_c.blas_library().source == "scipy-openblas32"
    finally:
        blas_c._choose.cache_clear()


def test_numpy_blas_is_refused_unless_it_is_openblas_numpy_loaded(monkeypatch, tmp_path):
    monkeypatch.setattr(blas_c, "_numpy_blas_name", lambda: "mkl")
    found, why = blas_c.numpy_openblas()
    assert found is None and "mkl" in why and "not OpenBLAS" in why
    monkeypatch.setattr(sys, "platform", "darwin")
    found, why = blas_c.numpy_openblas()
    assert found is None and "Linux only, not on darwin" in why
    monkeypatch.undo()
    fake = tmp_path / "libopenblas_fake.so"  # not loaded: RTLD_NOLOAD refuses it
    fake.write_bytes(b"not a library")
    assert blas_c._probe(fake) is None
    assert blas_c._probe(Path(np.__file__)) is None  # a file that is no shared library


def test_an_unknown_blas_setting_is_an_error():
    with pytest.raises(ValueError, match="symgrad.config.blas cannot be 'mkl'"):
        Config({"SYMGRAD_BLAS": "mkl"})
    with pytest.raises(ValueError, match="blas"):
        sg.config.blas = "mkl"
    assert Config({"SYMGRAD_BLAS": " Scipy-OpenBLAS32 "}).blas == "scipy-openblas32"


def test_lengths_over_the_blas_limit_are_split(blas_choice, monkeypatch):
    """With the limit lowered to 3, every length and leading dimension over it is cut into
    blocks (K blocks accumulate): results must not change, with either BLAS."""
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


def test_without_any_blas_float_products_use_numpy_with_one_warning(monkeypatch):
    monkeypatch.setattr(blas_c, "numpy_openblas", lambda: (None, "none in this test"))
    monkeypatch.setattr(blas_c, "scipy_openblas32_module", lambda: None)
    monkeypatch.setattr(sg.config, "blas", "auto")
    blas_c._choose.cache_clear()
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
        blas_c._choose.cache_clear()


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
