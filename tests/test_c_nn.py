"""The C kernels of the nn ops (symgrad/codegen/nn_c.py, csrc_templates/nn.c) against mode
'py' (each op's NumPy perform): softmax and log_softmax along every axis, softmax_grad,
crossentropy_softmax (class indices and dense targets), pick_class and one_hot, on strided,
reversed, Fortran-ordered and empty inputs, saturated logits, infinities and NaN, gradients,
and the errors perform raises."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.compile.cbuild import compiler_available
from symgrad.ops.nn_ops import (
    ClassIndexError,
    CrossentropySoftmax,
    LogSoftmax,
    OneHot,
    PickClass,
    Softmax,
    SoftmaxGrad,
    crossentropy_softmax,
    one_hot,
    pick_class,
)

pytestmark = pytest.mark.skipif(not compiler_available(), reason="mode 'c' needs a C compiler")

NN_OPS = (Softmax, LogSoftmax, SoftmaxGrad, CrossentropySoftmax, PickClass, OneHot)
TOL = {"float32": 2e-6, "float64": 1e-12}


def both(inputs, outputs, **kwargs):
    """The same graph in mode 'py' and mode 'c'; every nn node of the latter runs in C."""
    fpy, fc = (sg.function(inputs, outputs, mode=m, on_unused_input="ignore", **kwargs) for m in ("py", "c"))
    assert any(isinstance(n.op, NN_OPS) for n in fc.fgraph.toposort())
    assert not [n for n in fc.vm.python_nodes if isinstance(n.op, NN_OPS)]
    return fpy, fc


def assert_close(got, want, dtype=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = TOL.get(dtype or str(want.dtype), 0)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


def check(fpy, fc, *values, dtype=None):
    for got, want in zip(fc(*values), fpy(*values), strict=True):
        assert_close(got, want, dtype)


def layouts(x: np.ndarray) -> list[np.ndarray]:
    """``x``'s values as C, Fortran, reversed and strided arrays (strided: every other
    element of a twice-as-big array)."""
    big = np.zeros(tuple(2 * n for n in x.shape), x.dtype)
    strided = big[tuple(slice(None, None, 2) for _ in x.shape)]
    strided[...] = x
    flipped = np.flip(x)
    reversed_ = np.flip(flipped.copy())  # same values, negative strides on every axis
    assert reversed_.strides[0] < 0
    return [x, np.asfortranarray(x), reversed_, strided]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_log_softmax_every_axis_and_layout(dtype):
    x = sg.tensor("x", dtype, (None, None, None))
    outs = [fn(x, axis) for fn in (sg.nn.softmax, sg.nn.log_softmax) for axis in (0, 1, 2)]
    fpy, fc = both([x], outs)
    value = (rng().normal(size=(5, 6, 7)) * 4).astype(dtype)
    for v in layouts(value):
        check(fpy, fc, v)
    for shape in [(0, 6, 7), (5, 0, 7), (5, 6, 0), (1, 1, 1)]:
        check(fpy, fc, np.ones(shape, dtype))
    # long rows and columns (vector bodies and remainders), enough work for threads
    value = (rng(1).normal(size=(3, 151, 97)) * 10).astype(dtype)
    for v in (value, value[:, ::-1], value.transpose(0, 2, 1).copy().transpose(0, 2, 1)):
        check(fpy, fc, v)


def test_softmax_rows_of_a_matrix_match_numpy_and_threads_agree():
    x = sg.matrix("x")
    outs = [sg.nn.softmax(x), sg.nn.log_softmax(x), sg.nn.softmax(x, 0)]
    with sg.config.override(num_threads=1):
        f1 = sg.function([x], outs, mode="c")
    value = rng().normal(size=(600, 257)) * 30  # past SG_PARALLEL_MIN_MATH: threads run
    one_thread = f1(value)
    with sg.config.override(num_threads=2):
        f2 = sg.function([x], outs, mode="c")
    for a, b in zip(one_thread, f2(value)):
        np.testing.assert_array_equal(a, b)  # a row is one thread's work: no reassociation
    e = np.exp(value - value.max(1, keepdims=True))
    np.testing.assert_allclose(one_thread[0], e / e.sum(1, keepdims=True), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(np.exp(one_thread[1]), one_thread[0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(one_thread[2].sum(0), 1.0, rtol=1e-13)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # perform's inf - inf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_infinities_and_nan(dtype):
    inf, nan = np.inf, np.nan
    value = np.array(
        [
            [0.0, 1000.0, -1000.0, 3.0],
            [1000.0, 1000.0, 0.0, -2000.0],
            [-inf, 1.0, -inf, 2.0],
            [-inf, -inf, -inf, -inf],
            [inf, 1.0, 2.0, 3.0],
            [inf, inf, -inf, 0.0],
            [1.0, nan, 2.0, 3.0],
            [nan, inf, -inf, 1.0],
            [-3e38, 3e38, 0.0, 1.0],
        ],
        dtype,
    )
    x, t, d = sg.tensor("x", dtype, (None, None)), sg.lvector("t"), sg.tensor("d", dtype, (None, None))
    outs = [
        sg.nn.softmax(x),
        sg.nn.log_softmax(x),
        sg.nn.softmax(x, 0),
        sg.nn.log_softmax(x, 0),
        crossentropy_softmax(x, t),
        crossentropy_softmax(x, d),
    ]
    fpy, fc = both([x, t, d], outs)
    targets = np.array([0, 1, 1, 2, 1, 3, 0, 3, 2])
    dense = rng().uniform(size=value.shape).astype(dtype)
    dense[:, 0] = 0  # t == 0 entries are skipped, also where log_softmax is -inf or NaN
    check(fpy, fc, value, targets, dense)
    check(fpy, fc, value.T.copy(), targets[:4], dense.T.copy())
    sm, lsm, *_, ce, ce_dense = fc(value, targets, dense)
    finite = slice(0, 3)
    assert np.isfinite(lsm[finite][np.isfinite(value[finite])]).all()
    assert np.isfinite(ce[finite]).all() and np.isfinite(ce_dense[:2]).all()
    assert np.isnan(sm[6]).all() and np.isnan(lsm[6]).all() and np.isnan(ce[6])
    assert np.isnan(sm[3]).all()  # a row of -inf is 0 / 0, as perform computes it


def test_crossentropy_of_saturated_logits_stays_finite_and_exact():
    z, t = sg.matrix("z"), sg.lvector("t")
    fpy, fc = both([z, t], crossentropy_softmax(z, t))
    logits = rng().normal(size=(64, 10)) * 1000  # entries about 1000 apart
    targets = rng(1).integers(0, 10, 64)
    got, want = fc(logits, targets), fpy(logits, targets)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    shifted = logits - logits.max(1, keepdims=True)
    exact = np.log(np.exp(shifted).sum(1)) - shifted[np.arange(64), targets]
    np.testing.assert_allclose(got, exact, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_crossentropy_softmax_class_indices(dtype):
    z = sg.tensor("z", dtype, (None, None, None))
    z1 = sg.tensor("z1", dtype, (None,))
    idx = {k: sg.tensor(f"t_{k}", k, (None, None)) for k in ("int8", "int32", "int64", "uint8")}
    t0 = sg.lscalar("t0")
    outs = [crossentropy_softmax(z, t) for t in idx.values()] + [crossentropy_softmax(z1, t0)]
    fpy, fc = both([z, z1, t0, *idx.values()], outs)
    value = (rng().normal(size=(3, 4, 5)) * 5).astype(dtype)
    targets = rng(1).integers(0, 5, (3, 4))
    for v, t in zip(layouts(value), layouts(targets)):
        check(fpy, fc, v, value[0, 0], np.int64(4), *(t.astype(k) for k in idx))
    empty = np.zeros((0, 4, 5), dtype)
    check(fpy, fc, empty, value[0, 0], np.int64(0), *(np.zeros((0, 4), k) for k in idx))
    zero_classes = np.zeros((0, 4, 0), dtype)  # no rows, no classes: nothing to check
    check(fpy, fc, zero_classes, value[0, 0], np.int64(0), *(np.zeros((0, 4), k) for k in idx))


def test_crossentropy_softmax_dense_targets_broadcast():
    z, t = sg.tensor3("z"), sg.tensor3("t")
    t32, ti, tb = (
        sg.tensor("t32", "float32", (None,) * 3),
        sg.tensor("ti", "int64", (None,) * 3),
        sg.tensor("tb", "bool", (None,) * 3),
    )
    z32 = sg.tensor("z32", "float32", (None,) * 3)
    outs = [
        crossentropy_softmax(z, t),
        crossentropy_softmax(z, t32),
        crossentropy_softmax(z32, t32),
        crossentropy_softmax(z32, ti),
        crossentropy_softmax(z, tb),
    ]
    fpy, fc = both([z, t, t32, ti, tb, z32], outs)
    assert [o.dtype for o in outs] == ["float64", "float64", "float32", "float64", "float64"]
    r = rng()
    zv, tv = r.normal(size=(2, 3, 5)) * 3, r.uniform(size=(2, 3, 5))
    tv[0, 0, 1] = 0

    def values(zv, tv):
        return (zv, tv, tv.astype("float32"), (tv * 3).astype("int64"), tv > 0.5, zv.astype("float32"))

    for zl, tl in zip(layouts(zv), layouts(tv)):
        check(fpy, fc, *values(zl, tl), dtype="float32")
    for zs, ts in [
        ((2, 1, 5), (1, 3, 5)),
        ((1, 3, 1), (2, 3, 5)),
        ((2, 3, 5), (2, 1, 1)),
        ((0, 3, 5), (1, 3, 5)),
    ]:
        check(fpy, fc, *values(r.normal(size=zs), r.uniform(size=ts)), dtype="float32")
    with pytest.raises(ValueError, match="crossentropy_softmax"):
        fc(*values(zv, r.uniform(size=(2, 3, 4))))


@pytest.mark.parametrize(
    "dy_dtype, sm_dtype", [("float64", "float64"), ("float32", "float32"), ("float32", "float64")]
)
def test_softmax_grad_every_axis_and_layout(dy_dtype, sm_dtype):
    dy, sm = sg.tensor("dy", dy_dtype, (None,) * 3), sg.tensor("sm", sm_dtype, (None,) * 3)
    fpy, fc = both([dy, sm], [SoftmaxGrad(axis)(dy, sm) for axis in (0, 1, 2)])
    r = rng()
    dv, sv = r.normal(size=(4, 5, 6)).astype(dy_dtype), r.uniform(size=(4, 5, 6)).astype(sm_dtype)
    dtype = "float32" if "float32" in (dy_dtype, sm_dtype) else "float64"
    for d in layouts(dv):
        for s in layouts(sv)[::3]:
            check(fpy, fc, d, s, dtype=dtype)
    check(fpy, fc, np.zeros((4, 0, 6), dy_dtype), np.zeros((4, 0, 6), sm_dtype))
    with pytest.raises(sg.ShapeError, match=r"softmax_grad.*\(4, 5, 6\).*\(4, 5, 7\).*test_c_nn.py"):
        fc(dv, np.ones((4, 5, 7), sm_dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "uint8", "bool"])
def test_pick_class_and_one_hot(dtype):
    x, t = sg.tensor("x", dtype, (None,) * 3), sg.tensor("t", "int32", (None, None))
    t8, depth = sg.tensor("t8", "uint8", (None,)), sg.iscalar("depth")
    outs = [pick_class(x, t), one_hot(t, 6, dtype), one_hot(t8, depth, dtype)]
    fpy, fc = both([x, t, t8, depth], outs)
    r = rng()
    xv = (r.normal(size=(3, 4, 5)) * 10).astype(dtype)
    tv = r.integers(0, 5, (3, 4)).astype("int32")
    t8v = np.array([0, 2, 2], "uint8")
    for xl, tl in zip(layouts(xv), layouts(tv)):
        for a, b in zip(fc(xl, tl, t8v, np.int32(3)), fpy(xl, tl, t8v, np.int32(3)), strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    for a, b in zip(fc(xv[:0], tv[:0], t8v[:0], np.int32(-2)), fpy(xv[:0], tv[:0], t8v[:0], np.int32(-2))):
        assert a.dtype == b.dtype and a.shape == b.shape
    with pytest.raises(
        ClassIndexError, match=r"pick_class.*class index 5 is out of range for 5 classes.*test_c_nn"
    ):
        fc(xv, np.where(tv == tv[1, 2], 5, tv).astype("int32"), t8v, np.int32(3))
    with pytest.raises(IndexError, match=r"one_hot.*class index 3 is out of range for 3 classes.*test_c_nn"):
        fc(xv, tv, np.array([1, 3, 4], "uint8"), np.int32(3))
    with pytest.raises(ValueError, match=r"pick_class.*\(3, 4, 5\).*\(3, 5\).*test_c_nn.py"):
        fc(xv, np.zeros((3, 5), "int32"), t8v, np.int32(3))


@pytest.mark.parametrize("bad", [-1, 3, 100, -128])
def test_class_index_errors_name_the_op_and_the_first_bad_index(bad):
    z, t = sg.matrix("z"), sg.bvector("t")
    fpy, fc = both([z, t], [crossentropy_softmax(z, t), pick_class(z, t), one_hot(t, 3)])
    targets = np.array([0, 2, bad, 1, -2 if bad > 0 else 7], "int8")
    for f in (fpy, fc):
        with pytest.raises(ClassIndexError, match=rf"class index {bad} is out of range for 3 classes"):
            f(np.zeros((5, 3)), targets)
    order = [type(n.op) for n in fc.vm.nodes]
    first = {CrossentropySoftmax: "crossentropy_softmax", PickClass: "pick_class", OneHot: "one_hot"}
    name = first[next(op for op in order if op in first)]
    with pytest.raises(ValueError, match=rf"{name}.*index {bad}.*3 classes.*test_c_nn.py"):
        fc(np.zeros((5, 3)), targets)


def test_gradients_through_the_nn_ops_run_in_c():
    x, d, t = sg.matrix("x"), sg.matrix("d"), sg.lvector("t")
    w = rng(2).normal(size=(4, 5))
    cost = (
        sg.nn.categorical_crossentropy(sg.nn.softmax(x), t).sum()
        + crossentropy_softmax(x, d).sum()
        + (sg.nn.softmax(x, 0) * w).sum()
        + (sg.log(sg.nn.softmax(x)) * w).sum()
        + (sg.nn.log_softmax(x, 0) * w).sum()
    )
    gx, gd = sg.grad(cost, [x, d])
    hess = sg.grad((gx * w).sum(), x)  # second order: the gradient of SoftmaxGrad
    fpy, fc = both([x, d, t], [cost, gx, gd, hess])
    ops = {type(n.op) for n in fc.fgraph.toposort()}
    assert {SoftmaxGrad, OneHot, CrossentropySoftmax, Softmax} <= ops
    r = rng()
    xv, dv, tv = r.normal(size=(4, 5)) * 3, r.uniform(size=(4, 5)), np.array([0, 4, 2, 2])
    check(fpy, fc, xv, dv, tv)
    check(fpy, fc, np.asfortranarray(xv * 300), dv[::-1], tv[::-1])
    values = fc(xv * 300, dv, tv)
    assert all(np.isfinite(v).all() for v in values[:3])  # the stable forms, first order
