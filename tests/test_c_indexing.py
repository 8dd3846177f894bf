"""The C kernels of indexing and of the data-moving shape ops (symgrad/codegen/indexing_c.py)
against mode 'py' (NumPy's perform): every index pattern, dtypes, memory layouts, 0-size
arrays, repeated indices, errors, gradients, and that the covered nodes really run in C.

Many graphs share one ``sg.function`` (one C library each) to keep compile time down.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.ops.shape_of import MakeVector, Shape, ShapeI, VectorElement, make_vector
from symgrad.ops.shape_ops import Alloc, ARange, Reshape, Split
from symgrad.ops.subtensor import IncSubtensor, LastWriteMask, Subtensor

DTYPES = ["float64", "float32", "int64", "int32", "bool"]
C_OPS = (
    Subtensor,
    IncSubtensor,
    LastWriteMask,
    Reshape,
    Split,
    Alloc,
    ARange,
    MakeVector,
)  # Reshape: a view step
C_OPS += (VectorElement, Shape, ShapeI)


def both(inputs, outputs, **kwargs):
    """The graph compiled in mode 'py' and in mode 'c'."""
    fpy = sg.function(inputs, outputs, mode="py", **kwargs)
    fc = sg.function(inputs, outputs, mode="c", **kwargs)
    return fpy, fc


def python_ops(f) -> list[str]:
    """The op types still running through NumPy (and the function's kernels built together,
    in one library: a kernel that breaks the shared build would be built alone, silently)."""
    assert len(f.vm.libraries) == 1
    return [type(n.op).__name__ for n in f.vm.python_nodes]


def assert_runs_in_c(f):
    """No node of the families covered here runs through NumPy."""
    assert len(f.vm.libraries) == 1
    left = [n for n in f.vm.python_nodes if isinstance(n.op, C_OPS)]
    assert not left, f"ran through Python: {left}"


def assert_same(fpy, fc, *args):
    want, got = fpy(*args), fc(*args)
    if not isinstance(want, list):
        want, got = [want], [got]
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
    return got


def values(shape, dtype, seed=0):
    r = rng(seed)
    if dtype == "bool":
        return r.random(shape) > 0.5
    return (r.normal(size=shape) * 10).astype(dtype)


def layouts(a):
    """The same values C-ordered, Fortran-ordered, reversed on every axis and strided."""
    rev = tuple(slice(None, None, -1) for _ in a.shape)
    wide = np.zeros(tuple(2 * n + 1 for n in a.shape), a.dtype)
    every_other = tuple(slice(1, None, 2) for _ in a.shape)
    wide[every_other] = a
    return [a, np.asfortranarray(a), np.ascontiguousarray(a[rev])[rev], wide[every_other]]


# --- Subtensor / IncSubtensor: every kind of index entry -------------------------------------------


def index_graph(dtype):
    """One function's worth of indexing graphs on a (4, 5, 6) tensor."""
    x = sg.tensor("x", dtype, (None, None, None))
    i, j = sg.lvector("i"), sg.ivector("j")  # int64 and int32 index arrays
    k, s = sg.lscalar("k"), sg.iscalar("s")
    im = sg.lmatrix("im")
    m = sg.tensor("m", "bool", (None, None))
    reads = [
        x[1],
        x[-1, 2],
        x[k],
        x[1:3, ::-1, ::2],
        x[k:, :s:-1],
        x[::s],
        x[5:],
        x[-100:100, 3:1],
        x[None, ..., None, 1],
        x[..., k],
        x[0, 0, 0],
        x[i],
        x[:, j],
        x[:, :, i],
        x[i, :, j],
        x[1, j],
        x[1, :, j],
        x[i, j, 1],
        x[im],
        x[:, im[::-1], k],
        x[m],
        x[k, m[0]],
        x[[0, -1, 0]],
        x[i, 1:4],
        x[..., i[::-1], None],
    ]
    updates = [
        sg.set_subtensor(x[i], x[i[::-1]]),
        sg.inc_subtensor(x[i], x[0]),
        sg.inc_subtensor(x[:, j], x[:, 0:3]),
        sg.set_subtensor(x[1:3, ::-1], x[0]),
        sg.inc_subtensor(x[m], x[0, 0, 0]),
        sg.set_subtensor(x[i, :, j], x[0, :, 0]),
        sg.inc_subtensor(x[k, 1:, ::s], x[0, 0, 0]),
        sg.inc_subtensor(x[im], x[1]),
        sg.set_subtensor(x[:, [1, 1, 3]], x[:, 0:3]),
    ]
    return [x, i, j, k, s, im, m], reads + updates


def index_args(a, seed=0):
    r = rng(seed)
    i = np.array([0, -4, 2])  # rows 0 and -4 are the same: repeated indices
    j = np.array([4, 0, -5], dtype="int32")
    im = np.array([[0, 1], [3, -4]])
    return [a, i, j, -2, -2, im, r.random((4, 5)) > 0.4]


@pytest.mark.parametrize("dtype", DTYPES)
def test_index_patterns_match_py(dtype):
    inputs, outputs = index_graph(dtype)
    fpy, fc = both(inputs, outputs)
    assert python_ops(fc) == []
    for a in layouts(values((4, 5, 6), dtype)):
        before = a.copy()
        assert_same(fpy, fc, *index_args(a))
        np.testing.assert_array_equal(a, before)  # updates never write into their input


def test_index_arrays_of_every_integer_dtype_and_layout():
    x = sg.matrix("x")
    idx = [sg.tensor(f"i{d}", d, (None,)) for d in ("int8", "int16", "int32", "int64", "uint8")]
    mat = sg.tensor("im", "int16", (None, None))
    outs = [x[v] for v in idx] + [x[:, v] for v in idx] + [x[mat], sg.inc_subtensor(x[:, mat], 1.0)]
    fpy, fc = both([x, *idx, mat], outs)
    assert python_ops(fc) == []
    a = values((5, 7), "float64")
    base = np.array([[4, 0, -1], [2, 2, -5]])
    for im in layouts(base):
        vecs = [np.array([1, -2, 4, 4], d) for d in ("int8", "int16", "int32", "int64")]
        assert_same(fpy, fc, a, *vecs, np.array([3, 0, 3], "uint8"), im.astype("int16"))


def test_zero_size_arrays():
    x = sg.matrix("x")
    i, r, m = sg.lvector("i"), sg.lvector("r"), sg.tensor("m", "bool", (None, None))
    y = sg.vector("y")
    outs = [x[1:], x[:, i], x[r], x[m], x[::-1, ::2], sg.inc_subtensor(x[:, i], 1.0)]
    outs += [sg.set_subtensor(x[m], y), sg.reshape(x, (-1,)), sg.broadcast_to(y, (x.shape[0], 2, 0))]
    fpy, fc = both([x, i, r, m, y], outs)
    assert python_ops(fc) == []
    none = np.zeros(0, "int64")
    assert_same(fpy, fc, np.zeros((0, 5)), [1, 4, 1], none, np.zeros((0, 5), bool), np.zeros(0))
    assert_same(fpy, fc, np.zeros((3, 0)), none, [2, 0], np.zeros((3, 0), bool), np.zeros(0))
    # empty mask axes pass (NumPy's rule)
    assert_same(fpy, fc, np.zeros((3, 5)), none, none, np.zeros((0, 5), bool), np.zeros(0))


def last_write_mask(region):
    """LastWriteMask of a Subtensor's region (the op the gradient of set_subtensor uses)."""
    x, *index = region.owner.inputs
    return LastWriteMask(region.owner.op.spec)(x, *index)


def test_repeated_indices_accumulate_and_last_write_wins():
    x, y = sg.vector("x"), sg.vector("y")
    i = sg.lvector("i")
    m = sg.matrix("m")
    cols = sg.lvector("c")
    outs = [sg.inc_subtensor(x[i], y), sg.set_subtensor(x[i], y), sg.inc_subtensor(m[:, cols], 1.0)]
    outs += [sg.inc_subtensor(m[cols[:2], cols[1:3]], 2.0), last_write_mask(x[i])]
    outs += [last_write_mask(m[::-1, cols]), last_write_mask(m[cols[:2], 1:])]
    fpy, fc = both([x, y, i, m, cols], outs)
    assert python_ops(fc) == []
    a, b = np.zeros(3), np.array([1.0, 2.0, 3.0, 4.0])
    got = assert_same(fpy, fc, a, b, [1, 1, 1, -1], np.zeros((2, 3)), [0, 0, 2])
    np.testing.assert_array_equal(got[5], [[False, True, True]] * 2)
    np.testing.assert_array_equal(got[0], [0.0, 6.0, 4.0])
    np.testing.assert_array_equal(got[1], [0.0, 3.0, 4.0])
    np.testing.assert_array_equal(got[2], [[2.0, 0.0, 1.0]] * 2)
    np.testing.assert_array_equal(got[4], [False, False, True, True])


def test_large_arrays_on_threads_match_numpy():
    """Big enough for the parallel loops; rows with repeated columns stay in one thread."""
    x, y = sg.matrix("x"), sg.matrix("y")
    i, j = sg.lvector("i"), sg.lvector("j")
    outs = [
        x[i],
        x[:, j],
        x[::-1, 1::3],
        sg.inc_subtensor(x[:, j], y),
        sg.set_subtensor(x[i], x[: i.shape[0]]),
    ]
    outs += [sg.reshape(x.T, (-1,)), sg.broadcast_to(x[0], (4, x.shape[0], x.shape[1]))[:, 0]]
    a = values((1200, 500), "float64")  # past SG_PARALLEL_MIN (2**19 elements touched)
    iv = rng(1).integers(-1200, 1200, 1100)
    jv = rng(2).integers(0, 20, 500)  # many repeats
    yv = values((1200, 500), "float64", seed=3)
    results = []
    for threads in (1, 2):
        with sg.config.override(num_threads=threads):
            fpy, fc = both([x, y, i, j], outs)
            results.append(assert_same(fpy, fc, np.asfortranarray(a), yv, iv, jv))
    for got1, got2 in zip(*results):
        np.testing.assert_array_equal(got1, got2)
    expected = a.copy()
    np.add.at(expected, (slice(None), jv), yv)
    np.testing.assert_allclose(results[0][3], expected, rtol=1e-12, atol=1e-12)


def random_index(r, shape):
    """A random NumPy index for ``shape`` mixing every kind of entry, or None."""
    items, axis = [], 0
    for _ in range(r.integers(1, 4)):
        n = shape[axis] if axis < len(shape) else 0
        kind = r.integers(0, 7)
        if kind == 0 and n:
            items.append(int(r.integers(-n, n)))
        elif kind == 1 and axis < len(shape):
            bounds = [None, *range(-n - 2, n + 2)]
            steps = [None, 1, 2, -1, -3]
            items.append(slice(r.choice(bounds), r.choice(bounds), r.choice(steps)))
        elif kind == 2:
            items.append(None)
            continue
        elif kind == 3 and n:
            items.append(r.integers(-n, n, size=tuple(r.integers(1, 3, size=r.integers(1, 3)))))
        elif kind == 4 and axis < len(shape):
            items.append(r.random(n) > 0.5)
        elif kind == 5 and Ellipsis not in [i for i in items if i is Ellipsis]:
            items.append(Ellipsis)
            continue
        else:
            continue
        axis += 1
    if axis > len(shape):
        return None
    return tuple(items)


def symbolic(r, item, inputs, vals):
    """Replace parts of an index entry by symbolic inputs, at random."""

    def maybe(value, make):
        if r.random() < 0.5:
            return value
        inputs.append(make())
        vals.append(value)
        return inputs[-1]

    if isinstance(item, int):
        return maybe(item, sg.lscalar)
    if isinstance(item, slice):
        return slice(
            *(None if p is None else maybe(int(p), sg.iscalar) for p in (item.start, item.stop, item.step))
        )
    if isinstance(item, np.ndarray):
        return maybe(item, lambda: sg.tensor(None, item.dtype.name, (None,) * item.ndim))
    return item


def test_random_mixed_indices_match_py():
    r = rng(5)
    shape = (3, 4, 5)
    a = values(shape, "float64")
    x = sg.tensor("x", "float64", (None, None, None))
    inputs, vals, outs, cases = [x], [a], [], 0
    while cases < 25:
        index = random_index(r, shape)
        try:
            region = a[index]
        except (IndexError, ValueError):
            continue
        cases += 1
        sym = tuple(symbolic(r, item, inputs, vals) for item in index)
        y = sg.tensor(None, "float64", (None,) * region.ndim)
        inputs.append(y)
        vals.append(values(region.shape, "float64", seed=cases))
        outs += [x[sym], sg.set_subtensor(x[sym], y), sg.inc_subtensor(x[sym], y)]
    fpy, fc = both(inputs, outs)
    assert python_ops(fc) == []
    for layout in layouts(a):
        assert_same(fpy, fc, layout, *vals[1:])


# --- errors ------------------------------------------------------------------------------------------
# Messages are matched on the words that the kernel's message and perform's share (NumPy's), so
# the checks hold whether the caller reports the kernel's code or reruns perform for its text.


def test_index_errors_name_the_op_and_say_what_numpy_says():
    x = sg.tensor("x", "float64", (None, None, None))
    k, s, i, j = sg.lscalar("k"), sg.iscalar("s"), sg.lvector("i"), sg.ivector("j")
    m, y = sg.tensor("m", "bool", (None, None)), sg.vector("y")
    e, c = sg.lvector("e"), sg.lvector("c")
    outs = [x[k], x[:, i], x[::s], x[m], x[i, j], sg.set_subtensor(x[k, 0], y), x[k, e], x[e, c]]
    outs += [sg.inc_subtensor(x[:, i], 1.0)]
    f = sg.function([x, k, s, i, j, m, y, e, c], outs, mode="c")
    assert_runs_in_c(f)
    a = np.zeros((4, 5, 6))
    good = dict(k=1, s=1, i=[0, 1], j=[1, 2], m=np.ones((4, 5), bool), y=np.ones(6), e=[3], c=[0])

    def call(**bad):
        args = {**good, **bad}
        return f(a, *(args[n] for n in ("k", "s", "i", "j", "m", "y", "e", "c")))

    call()
    for k_bad, shown in [(4, 4), (-5, -5)]:
        with pytest.raises(
            IndexError, match=rf"Subtensor.*index {shown} is out of bounds for axis 0 with size 4"
        ):
            call(k=k_bad)
    with pytest.raises(IndexError, match=r"Subtensor.*index 9 is out of bounds for axis 1 with size 5"):
        call(i=[0, 9])
    with pytest.raises(IndexError, match=r"Subtensor.*index -6 is out of bounds for axis 1 with size 5"):
        call(i=[-6])
    with pytest.raises(ValueError, match="Subtensor.*slice step cannot be zero"):
        call(s=0)
    with pytest.raises(IndexError, match="Subtensor.*boolean index did not match indexed array along axis 0"):
        call(m=np.ones((3, 5), bool))
    with pytest.raises(IndexError, match="Subtensor.*shape mismatch: indexing arrays could not be broadcast"):
        call(j=[1, 2, 3])
    with pytest.raises(ValueError, match="SetSubtensor.*broadcast"):
        call(y=np.ones(5))
    # NumPy checks index arrays only when the advanced result is not empty; integers always
    out = call(e=np.zeros(0, "int64"), c=[9])  # x[e, c]: broadcast (0,) -> no check
    assert out[7].shape == (0, 6)
    with pytest.raises(IndexError, match="Subtensor.*index 4 is out of bounds for axis 0"):
        call(k=4, e=np.zeros(0, "int64"))


def test_shape_op_errors():
    x, v = sg.matrix("x"), sg.vector("v")
    n, p, q, b, s = (sg.lscalar(name) for name in "npqbs")
    sv = sg.lvector("sv")
    pieces = Split(1).make_node(x, 2, q).outputs
    outs = [sg.reshape(x, (n, -1)), sg.reshape(x, (p, 2)), *pieces, sg.broadcast_to(v, (b, 3))]
    outs += [sg.arange(0, 5, s), sg.reshape(x, sv, ndim=2)]
    f = sg.function([x, v, n, p, q, b, s, sv], outs, mode="c")
    assert_runs_in_c(f)
    a = np.zeros((2, 3))
    good = dict(v=np.zeros(3), n=1, p=3, q=1, b=2, s=1, sv=np.array([3, 2]))

    def call(**bad):
        args = {**good, **bad}
        return f(a, *(args[name] for name in ("v", "n", "p", "q", "b", "s", "sv")))

    call()
    for bad in (dict(n=4), dict(n=-1), dict(n=-3), dict(p=2), dict(p=-2)):
        with pytest.raises(ValueError, match="reshape"):
            call(**bad)
    for bad in (2, -1):
        with pytest.raises(ValueError, match="split"):
            call(q=bad)
    with pytest.raises(ValueError, match="broadcast_to"):
        call(v=np.zeros(2))
    with pytest.raises(ValueError, match="broadcast_to"):
        call(b=-1)
    with pytest.raises(ValueError, match="arange: step must not be zero"):
        call(s=0)
    with pytest.raises(ValueError, match="vector_element.*length 3"):
        call(sv=np.array([3, 2, 1]))


# --- the shape ops -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_shape_ops_match_py(dtype):
    x = sg.tensor("x", dtype, (None, None, None))
    v = sg.tensor("v", dtype, (None,))
    n, p = sg.lscalar("n"), sg.iscalar("p")
    sv = sg.lvector("sv")
    pieces = Split(2).make_node(x, 1, x.shape[2] - 1, 0).outputs
    outs = [
        sg.reshape(x, (-1,)),
        sg.reshape(x, (x.shape[2], -1)),
        sg.reshape(x, (n, p, -1)),
        sg.reshape(x, sv, ndim=2),
        *pieces,
        *Split(0).make_node(v, 1, v.shape[0] - 1).outputs,
        sg.broadcast_to(v, (n, 2, v.shape[0])),
        sg.broadcast_to(x[:, :1], (x.shape[0], 3, x.shape[2])),
        sg.full((n, p), v[0]),
        sg.zeros((p, n), dtype=dtype),
        x.shape,
        x.shape[1],
        make_vector([n, p, x.shape[0]]),
    ]
    fpy, fc = both([x, v, n, p, sv], outs)
    assert python_ops(fc) == []
    for a in layouts(values((2, 3, 6), dtype)):
        assert_same(fpy, fc, a, values((4,), dtype, seed=1)[::-1], 3, 2, np.array([4, 9]))


def test_make_vector_and_vector_element_dtypes():
    b, i8, u8 = sg.tensor("b", "bool", ()), sg.tensor("i8", "int8", ()), sg.tensor("u8", "uint8", ())
    i32, i64 = sg.iscalar("i32"), sg.lscalar("i64")
    f32, f64 = sg.fscalar("f32"), sg.dscalar("f64")
    ints = [b, i8, u8, i32, i64]
    vec = sg.dvector("vec")
    outs = [make_vector(ints, "int64"), make_vector(ints, "bool"), make_vector(ints[:4], "int32")]
    outs += [make_vector(ints[:3], "int16")]
    outs += [make_vector([*ints, f32, f64], d) for d in ("float64", "float32")]
    outs += [VectorElement(1, 3)(vec), VectorElement(-1)(vec), VectorElement(0)(vec)]
    fpy, fc = both([*ints, f32, f64, vec], outs)
    assert python_ops(fc) == []
    for b_, i8_, u8_, i32_, i64_, f32_, f64_ in [
        (True, -7, 250, -70000, 2**40 + 1, 0.1, np.nan),
        (False, 0, 0, 1, 16777217, -0.0, 1e30),
    ]:
        args = [np.bool_(b_), np.int8(i8_), np.uint8(u8_), np.int32(i32_), i64_, np.float32(f32_), f64_]
        assert_same(fpy, fc, *args, [1.5, 2.5, 3.5])
    small = sg.function([i64], make_vector([i64], "int8"), mode="c")
    assert small(-128) == [-128]
    with pytest.raises(OverflowError, match="out of bounds for int8"):
        small(128)


def test_arange_matches_numpy_exactly():
    start, stop, step = sg.dscalar("start"), sg.dscalar("stop"), sg.dscalar("step")
    i0, i1, i2 = sg.lscalar("i0"), sg.lscalar("i1"), sg.lscalar("i2")
    f32 = sg.fscalar("f32")
    outs = [
        sg.arange(start, stop, step),
        ARange("float32")(start, stop, step),
        sg.arange(i0, i1, i2),
        ARange("float64")(i0, i1, i2),
        ARange("float32")(f32, i1, step),
        ARange("int32")(i0, i1, i2),
        ARange("uint8")(i0, i1, i2),  # NumPy's fill wraps past 255
        sg.arange(i0, stop, i2),
    ]
    fpy, fc = both([start, stop, step, i0, i1, i2, f32], outs)
    assert python_ops(fc) == []
    r = rng(9)
    for _ in range(150):
        s, n = float(r.normal() * 50), int(r.integers(0, 4000))
        d = float(r.choice([-1, 1]) * r.exponential(2.0)) or 1.0
        a, c = int(r.integers(0, 200)), int(r.choice([-7, -3, -1, 1, 2, 5]))
        b = int(r.integers(-300, 2000))
        assert_same(fpy, fc, s, s + d * n + float(r.normal()), d, a, b, c, np.float32(s))
    assert_same(fpy, fc, 0.0, 1.0, 0.1, 0, 0, 1, np.float32(0.0))  # empty
    int8 = sg.function([i0, i1, i2], ARange("int8")(i0, i1, i2), mode="c")
    np.testing.assert_array_equal(int8(120, 140, 3), np.arange(120, 140, 3, dtype="int8"))  # wraps
    with pytest.raises(OverflowError, match="130 out of bounds for int8"):
        int8(127, 140, 3)
    floats = sg.function([start, stop, step], outs[0], mode="c")
    with pytest.raises(ValueError, match="arange: cannot compute length"):
        floats(0.0, np.nan, 1.0)
    for stop in (np.inf, -np.inf):  # NumPy: too long either way
        with pytest.raises(ValueError, match="Maximum allowed size exceeded"):
            floats(0.0, stop, 1.0)


# --- gradients ---------------------------------------------------------------------------------------------


def test_gradients_of_indexing_graphs_run_in_c():
    x = sg.matrix("x")
    i, k = sg.lvector("i"), sg.lscalar("k")
    y = sg.vector("y")
    grads = [
        sg.grad(sg.sum(x[i] ** 2), x),
        sg.grad(sg.sum(x[:, i] * 3.0), x),
        sg.grad(sg.sum(x[k:, ::-1] ** 3), x),
        sg.grad(sg.sum(x[x > 0.0]), x),
        sg.grad(sg.sum(sg.set_subtensor(x[i, 0], y) ** 2), [x, y]),
    ]
    outs = [grads[0], grads[1], grads[2], grads[3], *grads[4]]
    fpy, fc = both([x, i, k, y], outs)
    node_ops = {type(n.op) for n in fc.vm.nodes}
    assert IncSubtensor in node_ops
    assert_runs_in_c(fc)
    a = values((4, 3), "float64")
    iv = np.array([0, 2, 2, -1])
    got = assert_same(fpy, fc, a, iv, 1, np.arange(4.0))
    expected = np.zeros_like(a)
    np.add.at(expected, iv, 2 * a[iv])
    np.testing.assert_allclose(got[0], expected, rtol=1e-14)
