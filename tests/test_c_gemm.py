"""symgrad's own AVX-512 GEMM (csrc_templates/gemm.c) against NumPy, and the CBLAS path it
replaces, on shapes that cover its tile edges (8 x 24 tiles, 8 x 48 in float32), several K
blocks (beta accumulating), several N blocks, transposed operands, one and two threads, and
a C full of NaN that beta = 0 must not read."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.codegen import blas_c
from symgrad.compile.cbuild import compiler_available, compiler_info

pytestmark = pytest.mark.skipif(not compiler_available(), reason="mode 'c' needs a C compiler")

# (m, k, n): one tile and less, ragged edges, K over KC (256 / 384), N over NC (3072 / 4608).
SHAPES = [
    (2, 1, 2),
    (7, 5, 3),
    (8, 8, 24),
    (9, 257, 25),
    (33, 300, 47),
    (64, 800, 10),
    (5, 3, 4700),
    (130, 40, 130),
]


def _own_gemm_compiled(f) -> bool:
    return f.vm.own_gemm


@pytest.fixture(params=["on", "off"])
def own_gemm(request):
    with sg.config.override(own_gemm=request.param):
        yield request.param


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("threads", [1, 2])
def test_products_agree_with_numpy(own_gemm, dtype, threads):
    a, b, c, d, e, h = (sg.matrix(name, dtype=dtype) for name in "abcdeh")
    with sg.config.override(num_threads=threads):
        f = sg.function([a, b, c, d, e, h], [sg.dot(a, b), sg.dot(c.T, d.T), sg.dot(e, h.T)], mode="c")
    if own_gemm == "off":
        assert not _own_gemm_compiled(f)
    tol = 2e-5 if dtype == "float32" else 1e-12
    for k, (m, kk, n) in enumerate(SHAPES):
        x = rng(k).normal(size=(m, kk)).astype(dtype)
        y = rng(k + 50).normal(size=(kk, n)).astype(dtype)
        xt, yt = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)
        got = f(x, y, xt, yt, x, yt)  # every output is x @ y, from other layouts
        want = x.astype(np.float64) @ y.astype(np.float64)
        for value in got:
            assert value.dtype == dtype and value.shape == (m, n)
            np.testing.assert_allclose(value, want, rtol=tol, atol=np.sqrt(kk) * tol)


def test_gemm_with_beta_accumulates_over_k_blocks_and_skips_nan_when_beta_is_zero(own_gemm):
    w, x, g = sg.matrix("w"), sg.matrix("x"), sg.matrix("g")
    f = sg.function([w, x, g], w - 0.1 * sg.dot(x.T, g), mode="c")  # one Gemm: beta 1, alpha -0.1
    assert [type(n.op).__name__ for n in f.nodes] == ["DimShuffle", "Gemm"]
    xv, gv = rng(1).normal(size=(700, 40)), rng(2).normal(size=(700, 30))
    wv = rng(3).normal(size=(40, 30))
    np.testing.assert_allclose(f(wv, xv, gv), wv - 0.1 * (xv.T @ gv), rtol=1e-12, atol=1e-12)
    zero = sg.function([x, g], sg.dot(x.T, g), mode="c")
    for _ in range(3):  # outputs start as whatever memory np.empty hands out, NaN included
        np.testing.assert_allclose(zero(xv, gv), xv.T @ gv, rtol=1e-12, atol=1e-12)


def test_own_gemm_is_used_where_the_cblas_runs_narrower_kernels(monkeypatch):
    haswell = blas_c.BlasLibrary("numpy", "/x/libopenblas.so", "", "", True, corename="Haswell")
    skylake = blas_c.BlasLibrary("numpy", "/x/libopenblas.so", "", "", True, corename="SkylakeX")
    monkeypatch.setattr(blas_c, "cpu_has_avx512", lambda: True)
    assert blas_c.own_gemm_wanted(haswell) and not blas_c.own_gemm_wanted(skylake)
    monkeypatch.setattr(blas_c, "cpu_has_avx512", lambda: False)
    assert not blas_c.own_gemm_wanted(haswell)
    with sg.config.override(own_gemm="on"):
        assert blas_c.own_gemm_wanted(skylake)
    with sg.config.override(own_gemm="off"):
        assert not blas_c.own_gemm_wanted(haswell)
    with pytest.raises(ValueError):
        sg.config.own_gemm = "maybe"


@pytest.mark.skipif(
    not blas_c.cpu_has_avx512() or "-march=native" not in compiler_info().flags,
    reason="the kernel is compiled only for AVX-512 targets",
)
def test_functions_get_the_kernel_when_on_and_cblas_when_off():
    a, b = sg.matrix("a"), sg.matrix("b")
    x, y = rng(8).normal(size=(40, 30)), rng(9).normal(size=(30, 50))
    with sg.config.override(own_gemm="on"):
        on = sg.function([a, b], sg.dot(a, b), mode="c")
    with sg.config.override(own_gemm="off"):
        off = sg.function([a, b], sg.dot(a, b), mode="c")  # the same library, given NULL
    assert on.vm.own_gemm and not off.vm.own_gemm and on.vm.library is off.vm.library
    np.testing.assert_allclose(off(x, y), x @ y, rtol=1e-12)
    assert not sg.function([a], a * 2.0, mode="c").vm.own_gemm  # no product, nothing to hand over


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gemm_reads_c_where_it_is_broadcast_strided_or_full(own_gemm, dtype):
    """Gemm's C goes into the first K block's write-back (no pass of its own) when our GEMM
    runs: a bias row, a column, a full matrix, a transposed one; beta 0 keeps 0 * NaN."""
    from symgrad.ops.gemm import gemm

    a, b = sg.matrix("a", dtype=dtype), sg.matrix("b", dtype=dtype)
    row, col = sg.vector("r", dtype=dtype), sg.matrix("c", dtype=dtype)
    full, flipped = sg.matrix("f", dtype=dtype), sg.matrix("t", dtype=dtype)
    alpha, beta = sg.scalar("alpha", dtype=dtype), sg.scalar("beta", dtype=dtype)
    outs = [gemm(a, b, c, alpha, beta) for c in (row, col, full, flipped.T)]
    f = sg.function([a, b, row, col, full, flipped, alpha, beta], outs, mode="c")
    tol = 2e-5 if dtype == "float32" else 1e-12
    for k, (m, kk, n) in enumerate([(9, 257, 25), (33, 600, 47), (40, 3, 40)]):
        gen = rng(20 + k)
        x, y = gen.normal(size=(m, kk)).astype(dtype), gen.normal(size=(kk, n)).astype(dtype)
        r, c = gen.normal(size=n).astype(dtype), gen.normal(size=(m, 1)).astype(dtype)
        full_c = gen.normal(size=(m, n)).astype(dtype)
        for al, be in [(1.0, 1.0), (-0.1, 2.5), (0.5, 0.0)]:
            scalars = np.array(al, dtype), np.array(be, dtype)
            got = f(x, y, r, c, full_c, np.ascontiguousarray(full_c.T), *scalars)
            product = al * (x.astype(np.float64) @ y.astype(np.float64))
            wants = [product + be * r, product + be * c, product + be * full_c, product + be * full_c]
            for value, want in zip(got, wants):
                assert value.dtype == dtype
                np.testing.assert_allclose(value, want, rtol=tol, atol=np.sqrt(kk) * tol * 4)
    x, y = rng(30).normal(size=(6, 4)).astype(dtype), rng(31).normal(size=(4, 5)).astype(dtype)
    nan_row, ones = np.full(5, np.nan, dtype), np.ones((6, 5), dtype)
    got = f(x, y, nan_row, ones[:, :1].copy(), ones, ones.T.copy(), np.array(1, dtype), np.array(0, dtype))
    assert np.isnan(got[0]).all()  # 0 * NaN


@pytest.mark.skipif(
    not blas_c.cpu_has_avx512() or "-march=native" not in compiler_info().flags,
    reason="the kernel is compiled only for AVX-512 targets",
)
@pytest.mark.parametrize("m, k, n", [(256, 1797, 256), (64, 900, 30), (1797, 256, 256), (40, 300, 600)])
def test_our_gemm_gives_the_same_bits_on_one_and_two_threads(m, k, n):
    """Deep products are split into K halves, others along C's longer side: either way the
    choice and the order of the sums depend on the shape only."""
    a, b = sg.matrix("a"), sg.matrix("b")
    x, y = rng(40).normal(size=(k, m)), rng(41).normal(size=(k, n))
    results = []
    for threads in (1, 2):
        with sg.config.override(own_gemm="on", num_threads=threads):
            f = sg.function([a, b], sg.dot(a.T, b), mode="c")
        results.append(f(x, y))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], x.T @ y, rtol=1e-12, atol=1e-11 * np.sqrt(k))
