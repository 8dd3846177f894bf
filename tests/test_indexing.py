"""Indexing, set_subtensor / inc_subtensor and take, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg
from symgrad.ops.shape_of import ShapeI
from symgrad.ops.subtensor import IncSubtensor, IndexingError, Subtensor

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)

MASK34 = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
MASK4 = np.array([True, False, True, True])

# (input shape, index function, extra integer scalars passed as symbolic lscalars)
GETITEM_CASES = [
    ((5,), lambda a: a[2], ()),
    ((5,), lambda a: a[-1], ()),
    ((5,), lambda a: a[1:4], ()),
    ((5,), lambda a: a[::-1], ()),
    ((5,), lambda a: a[-2:0:-2], ()),
    ((5,), lambda a: a[7:], ()),
    ((5,), lambda a: a[None], ()),
    ((5,), lambda a: a[...], ()),
    ((5,), lambda a: a[()], ()),
    ((5,), lambda a, i: a[i], (-2,)),
    ((5,), lambda a, i, j: a[i:j], (1, -1)),
    ((5,), lambda a, i, j, k: a[i:j:k], (4, 0, -2)),
    ((5,), lambda a, k: a[::k], (-1,)),
    ((5,), lambda a, k: a[1::k], (2,)),
    ((5,), lambda a: a[[0, 4, 4, -1]], ()),
    ((5,), lambda a: a[np.array([[0, 1], [2, 3]])], ()),
    ((5,), lambda a: a[[]], ()),
    ((5,), lambda a: a[a > 2], ()),
    ((5,), lambda a, i: a[[i, 0, i]], (3,)),
    ((0,), lambda a: a[1:], ()),
    ((0,), lambda a: a[[]], ()),
    ((3, 4), lambda a: a[1], ()),
    ((3, 4), lambda a: a[1, -1], ()),
    ((3, 4), lambda a: a[:, 2], ()),
    ((3, 4), lambda a: a[..., 0], ()),
    ((3, 4), lambda a: a[::2, ::-1], ()),
    ((3, 4), lambda a: a[None, :, None, 1], ()),
    ((3, 4), lambda a: a[1:, None], ()),
    ((3, 4), lambda a: a[[0, 2, 0]], ()),
    ((3, 4), lambda a: a[:, [3, 0]], ()),
    ((3, 4), lambda a: a[[0, 1, 2], [3, 2, 1]], ()),
    ((3, 4), lambda a: a[[[0], [2]], [1, 3]], ()),
    ((3, 4), lambda a: a[1, [0, 2]], ()),
    ((3, 4), lambda a: a[[2, 0], 1:3], ()),
    ((3, 4), lambda a: a[MASK34], ()),
    ((3, 4), lambda a: a[:, MASK4], ()),
    ((3, 4), lambda a: a[MASK4[:3], 1], ()),
    ((3, 4), lambda a: a[True], ()),
    ((3, 4), lambda a: a[a > 5], ()),
    ((3, 4), lambda a, i: a[i, 1:], (2,)),
    ((3, 4), lambda a, i: a[:, [i, 0]], (-1,)),
    ((3, 4), lambda a, i, j: a[i:, :j], (-2, 3)),
    ((0, 4), lambda a: a[:, [1, 2]], ()),
    ((3, 0), lambda a: a[[0, 2]], ()),
    ((2, 3, 4), lambda a: a[[0, 1], :, [2, 3]], ()),
    ((2, 3, 4), lambda a: a[:, [0, 2], [1, 3]], ()),
    ((2, 3, 4), lambda a: a[:, 1, [1, 3]], ()),
    ((2, 3, 4), lambda a: a[1, :, [1, 3]], ()),
    ((2, 3, 4), lambda a: a[[1], ..., [0, 3]], ()),
    ((2, 3, 4), lambda a: a[[1, 0], None, [0, 2]], ()),
    ((2, 3, 4), lambda a: a[:, None, [0, 2], 1], ()),
    ((2, 3, 4), lambda a: a[..., None, ::-2], ()),
    ((2, 3, 4), lambda a: a[MASK34[:2, :3]], ()),
    ((2, 3, 4), lambda a: a[:, MASK34], ()),
    ((2, 3, 4), lambda a: a[np.array([[1, 0, 1]]), :, np.array([[0], [3]])], ()),
    ((2, 3, 4), lambda a, i: a[i, ..., i], (1,)),
]

DTYPES = ["float64", "float32", "int32"]


def _layouts(shape, dtype):
    """Contiguous, negatively strided and non-contiguous arrays of ``shape``."""
    base = rng(1).normal(size=shape) * 10
    base = base.astype(dtype)
    wide = np.zeros(tuple(2 * n for n in shape), dtype=dtype)
    wide[tuple(slice(None, None, 2) for _ in shape)] = base
    strided = wide[tuple(slice(None, None, 2) for _ in shape)]
    flipped = np.ascontiguousarray(base[tuple(slice(None, None, -1) for _ in shape)])
    return [base, strided, flipped[tuple(slice(None, None, -1) for _ in shape)]]


def _build(shape, dtype, fn, extra, static=False):
    x = sg.tensor("x", dtype, shape if static else (None,) * len(shape))
    scalars = [sg.lscalar(f"i{k}") for k in range(len(extra))]
    return x, scalars, fn(x, *scalars)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(GETITEM_CASES)))
def test_getitem_matches_numpy(case, dtype):
    shape, fn, extra = GETITEM_CASES[case]
    x, scalars, out = _build(shape, dtype, fn, extra)
    f = sg.function([x, *scalars], out)
    for a in _layouts(shape, dtype):
        expected = fn(a, *extra)
        got = f(a, *extra)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("case", range(len(GETITEM_CASES)))
def test_static_and_inferred_shapes(case):
    shape, fn, extra = GETITEM_CASES[case]
    a = _layouts(shape, "float64")[0]
    expected = np.shape(fn(a, *extra))
    x, scalars, out = _build(shape, "float64", fn, extra, static=True)
    assert out.ndim == len(expected)
    for s, e in zip(out.static_shape, expected):
        assert s is None or s == e
    if isinstance(out.owner.op, Subtensor):
        node = out.owner
        input_shapes = [tuple(ShapeI(k)(v) for k in range(v.ndim)) for v in node.inputs]
        (inferred,) = node.op.infer_shape(node, input_shapes)
        got = sg.function([x, *scalars], list(inferred), on_unused_input="ignore")(a, *extra)
        assert tuple(int(g) for g in got) == expected


def test_static_shapes_of_common_cases():
    x = sg.tensor("x", "float64", (5, 3))
    assert x[1:4].static_shape == (3, 3)
    assert x[::-1].static_shape == (5, 3)
    assert x[sg.tensor("i", "int64", (7,))].static_shape == (7, 3)
    assert x[None, 1].static_shape == (1, 3)
    assert x[[0, 1], [2, 0]].static_shape == (2,)
    assert x[np.ones((5, 3), bool)].static_shape == (15,)
    assert x[sg.tensor("m", "bool", (5, 3))].static_shape == (None,)
    assert x[sg.lscalar("i") :].static_shape == (None, 3)
    assert sg.matrix("y")[:, 0].static_shape == (None,)


def test_symbolic_slice_lengths_agree_with_python():
    x = sg.vector("x")
    a, b, c = sg.lscalar("a"), sg.lscalar("b"), sg.lscalar("c")
    out = x[a:b:c]
    node = out.owner
    (inferred,) = node.op.infer_shape(node, [(ShapeI(0)(x),), (), (), ()])
    f = sg.function([x, a, b, c], [out, inferred[0]])
    values = [-7, -3, -1, 0, 1, 2, 6]
    for n in (0, 1, 4):
        arr = np.arange(n, dtype="float64")
        for start in values:
            for stop in values:
                for step in (-3, -1, 1, 2):
                    got, length = f(arr, start, stop, step)
                    np.testing.assert_array_equal(got, arr[start:stop:step])
                    assert int(length) == len(arr[start:stop:step])


def test_symbolic_index_dtypes():
    x = sg.vector("x")
    for maker in (sg.bscalar, sg.iscalar, sg.lscalar):
        i = maker("i")
        assert sg.function([x, i], x[i])(np.arange(4.0), -1) == 3.0
    iv = sg.ivector("iv")
    np.testing.assert_array_equal(sg.function([x, iv], x[iv])(np.arange(4.0), [3, 3]), [3.0, 3.0])


def test_shape_indexing_stays_static():
    x = sg.tensor("x", "float64", (None, 3))
    n = x.shape[0]
    assert isinstance(n.owner.op, ShapeI)
    last = x.shape[-1]
    assert isinstance(last, sg.Constant) and int(last.data) == 3
    tail = x.shape[1:]
    assert tail.eval().tolist() == [3]
    assert sg.function([x], x.shape[::-1])(np.zeros((2, 3))).tolist() == [3, 2]
    assert sg.function([x], n)(np.zeros((4, 3))) == 4
    i = sg.lscalar("i")
    assert sg.function([x, i], x.shape[i])(np.zeros((4, 3)), 0) == 4


def test_constant_and_shared_inputs():
    a = np.arange(12.0).reshape(3, 4)
    s = sg.shared(a)
    np.testing.assert_array_equal(sg.function([], s[1:, [0, 0]])(), a[1:, [0, 0]])
    np.testing.assert_array_equal(sg.constant(a)[..., 2].eval(), a[..., 2])


def _random_item(r, n):
    """One random index item for an axis of length ``n``, and the axes it consumes."""
    kind = r.integers(0, 8)
    if kind == 0 and n:
        return int(r.integers(-n, n)), 1
    if kind == 1:
        bounds = [None, *range(-n - 1, n + 2)]
        return slice(r.choice(bounds), r.choice(bounds), r.choice([None, 1, 2, -1, -2, 3])), 1
    if kind == 2:
        return None, 0
    if kind == 3 and n:
        return r.integers(-n, n, size=r.integers(0, 3)).tolist(), 1
    if kind == 4 and n:
        return r.integers(-n, n, size=tuple(r.integers(1, 3, size=2))), 1
    if kind == 5:
        return r.random(n) > 0.5, 1
    return (Ellipsis, 0) if kind == 6 else (slice(None), 1)


def _random_index(r, shape):
    items, used = [], 0
    for _ in range(r.integers(0, 4)):
        item, width = _random_item(r, shape[used] if used < len(shape) else 0)
        if used + width <= len(shape) and not (item is Ellipsis and any(i is Ellipsis for i in items)):
            items.append(item)
            used += width
    return tuple(items)


def _symbolize(r, item, inputs, values):
    """Replace parts of an index item by symbolic inputs, at random."""

    def maybe(value, make):
        if r.random() < 0.5:
            return value
        inputs.append(make())
        values.append(value)
        return inputs[-1]

    if isinstance(item, int):
        return maybe(item, sg.lscalar)
    if isinstance(item, slice):
        parts = (item.start, item.stop, item.step)
        return slice(*(None if p is None else maybe(int(p), sg.iscalar) for p in parts))
    if isinstance(item, list):
        return maybe(np.array(item, dtype="int64"), sg.lvector)
    if isinstance(item, np.ndarray):
        return maybe(item, lambda: sg.tensor(None, item.dtype.name, (None,) * item.ndim))
    return item


def test_random_mixed_indices_match_numpy():
    """150 random indices, ten to a compiled function (a mode 'c' library per function costs
    more than its kernels: batching cut this test's cold time by half)."""
    r = rng(11)
    cases = []
    while len(cases) < 150:
        shape = tuple(int(n) for n in r.integers(0, 4, size=r.integers(0, 4)))
        a = r.normal(size=shape)
        index = _random_index(r, shape)
        try:
            expected = a[index]
        except (IndexError, ValueError):
            continue
        static_out = sg.tensor("s", "float64", shape)[index]
        assert all(s is None or s == e for s, e in zip(static_out.static_shape, expected.shape))
        inputs, values = [], []
        sym_index = tuple(_symbolize(r, item, inputs, values) for item in index)
        x, y = (
            sg.tensor("x", "float64", (None,) * len(shape)),
            sg.tensor("y", "float64", (None,) * expected.ndim),
        )
        region = x[sym_index]
        outputs = [region, sg.set_subtensor(region, y), sg.inc_subtensor(region, y)]
        cases.append(
            (index, a, expected, [x, y, *inputs], [a, r.normal(size=expected.shape), *values], outputs)
        )
    for start in range(0, len(cases), 10):
        batch = cases[start : start + 10]
        f = sg.function([v for case in batch for v in case[3]], [o for case in batch for o in case[5]])
        results = f(*[v for case in batch for v in case[4]])
        for k, (index, a, expected, _, values, _) in enumerate(batch):
            got, set_, inc = results[3 * k : 3 * k + 3]
            yv = values[1]
            np.testing.assert_array_equal(got, expected, err_msg=str(index))
            expected_set, expected_inc = a.copy(), a.copy()
            expected_set[index] = yv
            np.add.at(expected_inc, index, yv)
            np.testing.assert_array_equal(set_, expected_set, err_msg=str(index))
            np.testing.assert_allclose(inc, expected_inc, err_msg=str(index))


# -- set_subtensor / inc_subtensor ----------------------------------------------------------

# (x shape, index function, value shape)
UPDATE_CASES = [
    ((5,), lambda a: a[1:4], (3,)),
    ((5,), lambda a: a[::-2], ()),
    ((5,), lambda a: a[2], ()),
    ((5,), lambda a: a[[0, 2, 0, 0]], (4,)),
    ((5,), lambda a: a[[4, 4]], ()),
    ((5,), lambda a: a[MASK4.tolist() + [True]], (4,)),
    ((3, 4), lambda a: a[1], (4,)),
    ((3, 4), lambda a: a[:, 1:3], (1, 2)),
    ((3, 4), lambda a: a[[0, 0, 2], [1, 1, 3]], (3,)),
    ((3, 4), lambda a: a[[2, 2, 0]], (3, 1)),
    ((3, 4), lambda a: a[:, [3, 3]], (3, 2)),
    ((3, 4), lambda a: a[MASK34], ()),
    ((3, 4), lambda a: a[None, 1:], (1, 1, 2, 4)),
    ((2, 3, 4), lambda a: a[[0, 1, 0], :, [2, 2, 2]], (3, 3)),
    ((2, 3, 4), lambda a: a[..., [0, 0]], (2,)),
    ((0, 4), lambda a: a[:, [1, 1]], (2,)),
]


class _Recorder:
    """Records the index a case applies, so NumPy can update at the same index."""

    def __getitem__(self, index):
        return index


def _numpy_update(a, fn, y, set_):
    index = fn(_Recorder())
    out = a.copy()
    extra = y.ndim - out[index].ndim
    y = y.reshape(y.shape[extra:]) if extra > 0 else y  # NumPy drops leading length-1 axes
    if set_:
        out[index] = y
    else:
        np.add.at(out, index, y)
    return out


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(UPDATE_CASES)))
def test_updates_match_numpy(case, dtype, set_):
    shape, fn, yshape = UPDATE_CASES[case]
    x = sg.tensor("x", dtype, (None,) * len(shape))
    y = sg.tensor("y", dtype, (None,) * len(yshape))
    update = sg.set_subtensor if set_ else sg.inc_subtensor
    out = update(fn(x), y)
    assert out.type == x.type
    f = sg.function([x, y], out)
    yv = (rng(2).normal(size=yshape) * 10).astype(dtype)
    for a in _layouts(shape, dtype):
        before = a.copy()
        np.testing.assert_array_equal(f(a, yv), _numpy_update(a, fn, yv, set_))
        np.testing.assert_array_equal(a, before)


def test_repeated_indices_accumulate_for_inc_and_last_wins_for_set():
    x = sg.vector("x")
    i = sg.lvector("i")
    y = sg.vector("y")
    f = sg.function([x, i, y], [sg.inc_subtensor(x[i], y), sg.set_subtensor(x[i], y)])
    inc, set_ = f(np.zeros(3), [1, 1, 1, 2], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(inc, [0.0, 6.0, 4.0])
    np.testing.assert_array_equal(set_, [0.0, 3.0, 4.0])


def test_set_with_repeated_indices_gives_gradient_to_the_last_write_only():
    x = sg.vector("x")
    y = sg.vector("y")
    w = sg.vector("w")
    out = sg.set_subtensor(x[[1, 1, 2, 1]], y)
    gx, gy = sg.grad((out * w).sum(), [x, y])
    got_x, got_y = sg.function([x, y, w], [gx, gy])(np.zeros(3), np.ones(4), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(got_x, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(got_y, [0.0, 0.0, 3.0, 2.0])
    check_grad(lambda v: sg.set_subtensor(v[[[0, 0], [1, 0]]], v[1:3] ** 2), [rng(8).normal(size=(3,))])


def test_update_value_casting():
    x = sg.fvector("x")
    out = sg.set_subtensor(x[0], sg.dscalar("d"))
    assert out.dtype == "float32"
    xi = sg.ivector("xi")
    assert sg.inc_subtensor(xi[1:], 2).dtype == "int32"
    np.testing.assert_array_equal(sg.set_subtensor(xi[1:], 7).eval({xi: np.zeros(3, "int32")}), [0, 7, 7])
    with pytest.raises(sg.GraphTypeError, match="SetSubtensor.*same_kind.*test_indexing.py"):
        sg.set_subtensor(xi[0], sg.dscalar())
    with pytest.raises(sg.GraphTypeError, match="IncSubtensor.*test_indexing.py"):
        sg.inc_subtensor(xi[0], 1.5)
    with pytest.raises(sg.GraphTypeError, match="out of bounds.*test_indexing.py"):
        sg.set_subtensor(sg.bvector()[0], 300)


def test_updates_do_not_change_x_and_accept_broadcast_values():
    x = sg.matrix("x")
    out = sg.inc_subtensor(x[:, 0], 1.0)
    a = np.zeros((2, 2))
    np.testing.assert_array_equal(sg.function([x], out)(a), [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(a, 0)


# -- take ------------------------------------------------------------------------------------


def test_take_matches_numpy():
    a = rng(3).normal(size=(3, 4))
    x = sg.matrix("x")
    i = sg.lvector("i")
    for axis in (0, 1, -1):
        got = sg.function([x, i], sg.take(x, i, axis=axis))(a, [0, 2, 2])
        np.testing.assert_array_equal(got, np.take(a, [0, 2, 2], axis=axis))
    np.testing.assert_array_equal(sg.take(x, [[1], [0]], axis=0).eval({x: a}), np.take(a, [[1], [0]], axis=0))
    v = sg.vector("v")
    np.testing.assert_array_equal(sg.take(v, 1).eval({v: a[0]}), np.take(a[0], 1))
    with pytest.raises(sg.GraphTypeError, match="take.*test_indexing.py"):
        sg.take(v, [0.5])


def test_take_flattened():
    a = rng(3).normal(size=(3, 4))
    x = sg.matrix("x")
    try:
        out = sg.take(x, [5, -1, 0])
    except NotImplementedError:
        pytest.skip("flatten is not written yet")
    np.testing.assert_array_equal(out.eval({x: a}), np.take(a, [5, -1, 0]))


# -- gradients -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda v: v[1:3, ::-1],
        lambda v: v[-1],
        lambda v: v[None, :, 2],
        lambda v: v[[0, 2, 2, 0]],
        lambda v: v[[1, 1, 2], [0, 0, 3]],
        lambda v: v[:, [3, 3, 1]],
        lambda v: v[MASK34],
        lambda v: v[v > 0.0],
        lambda v: v[[2, 0], 1:],
    ],
)
def test_getitem_grad(fn):
    check_grad(fn, [rng(4).normal(size=(3, 4))])


def test_getitem_grad_symbolic_indices():
    a = rng(4).normal(size=(3, 4))
    i = sg.lvector("i")
    k = sg.lscalar("k")
    x = sg.matrix("x")
    cost = (x[i, k:] ** 2).sum()
    g = sg.function([x, i, k], sg.grad(cost, x))(a, [0, 0, 2], 1)
    expected = np.zeros_like(a)
    np.add.at(expected, (np.array([0, 0, 2]), slice(1, None)), 2 * a[[0, 0, 2], 1:])
    np.testing.assert_allclose(g, expected)


@pytest.mark.parametrize(
    "fn, yshape",
    [
        (lambda v: v[1:3], (2, 4)),
        (lambda v: v[:, [0, 2]], (1, 2)),
        (lambda v: v[[1, 1, 0]], (4,)),
        (lambda v: v[[0, 2], [3, 1]], ()),
        (lambda v: v[MASK34], (6,)),
    ],
)
@pytest.mark.parametrize("update", [sg.set_subtensor, sg.inc_subtensor], ids=["set", "inc"])
def test_update_grad(fn, yshape, update):
    def build(x, y):
        return update(fn(x), y) * 1.0

    xs = rng(5).normal(size=(3, 4))
    ys = rng(6).normal(size=yshape)
    check_grad(build, [xs, ys])


def test_grad_of_grad():
    def second_order(x):
        inner = (x[[0, 0, 2]] ** 3).sum() + (sg.set_subtensor(x[1:], x[:-1] ** 2) ** 2).sum()
        return sg.grad(inner, x)

    check_grad(second_order, [rng(7).normal(size=(4,))])


def test_grad_float32_and_int_inputs():
    x = sg.fvector("x")
    g = sg.grad(sg.inc_subtensor(x[[0, 0]], 2.0).sum() + x[1:].sum(), x)
    assert g.dtype == "float32"
    np.testing.assert_allclose(g.eval({x: np.zeros(3, "float32")}), [1.0, 2.0, 2.0])


def test_ops_compare_by_spec():
    x = sg.matrix("x")
    assert x[1:].owner.op == x[1:].owner.op
    assert x[1:].owner.op != x[2:].owner.op
    assert hash(IncSubtensor(((("int", 1),)), True)) == hash(IncSubtensor(((("int", 1),)), True))
    assert "1:" in str(x[1:].owner.op)


# -- errors ----------------------------------------------------------------------------------


def test_build_errors():
    x = sg.tensor("x", "float64", (3, 4))
    with pytest.raises(sg.GraphTypeError, match="Subtensor.*test_indexing.py"):
        x[1.0]
    with pytest.raises(sg.GraphTypeError, match="Subtensor.*test_indexing.py"):
        x[sg.scalar("f")]
    with pytest.raises(sg.GraphTypeError, match="Subtensor.*test_indexing.py"):
        x[[0.5, 1.5]]
    with pytest.raises(sg.GraphTypeError, match="Subtensor.*test_indexing.py"):
        x[: sg.scalar("f")]
    with pytest.raises(sg.GraphTypeError, match="Subtensor.*test_indexing.py"):
        x["a"]
    with pytest.raises(IndexError, match="Subtensor.*out of bounds.*test_indexing.py"):
        x[3]
    with pytest.raises(IndexError, match="Subtensor.*out of bounds.*test_indexing.py"):
        x[:, [0, -5]]
    with pytest.raises(IndexError, match="Subtensor.*too many.*test_indexing.py"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="Subtensor.*single ellipsis.*test_indexing.py"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match="Subtensor.*boolean index.*test_indexing.py"):
        x[MASK4]
    with pytest.raises(IndexError, match="Subtensor.*broadcast.*test_indexing.py"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(ValueError, match="Subtensor.*step.*test_indexing.py"):
        x[::0]
    with pytest.raises(IndexError, match="Subtensor.*test_indexing.py"):
        x.shape[2]


def test_update_build_errors():
    x = sg.tensor("x", "float64", (3, 4))
    with pytest.raises(sg.GraphTypeError, match="set_subtensor.*indexing result.*test_indexing.py"):
        sg.set_subtensor(x, 1.0)
    with pytest.raises(sg.GraphTypeError, match="inc_subtensor.*indexing result.*test_indexing.py"):
        sg.inc_subtensor(x + 1, 1.0)
    with pytest.raises(sg.ShapeError, match="SetSubtensor.*broadcast.*test_indexing.py"):
        sg.set_subtensor(x[0], np.ones(3))
    with pytest.raises(sg.ShapeError, match="IncSubtensor.*broadcast.*test_indexing.py"):
        sg.inc_subtensor(x[0], np.ones((2, 4)))


def test_runtime_errors():
    x = sg.matrix("x")
    i = sg.lscalar("i")
    v = sg.lvector("v")
    a = np.zeros((3, 4))
    with pytest.raises(IndexError, match=r"Subtensor.*out of bounds.*\(3, 4\).*test_indexing.py"):
        sg.function([x, i], x[i])(a, 5)
    with pytest.raises(IndexError, match=r"Subtensor.*index.*\[0, 9\].*test_indexing.py"):
        sg.function([x, v], x[:, v])(a, [0, 9])
    with pytest.raises(ValueError, match="Subtensor.*step.*test_indexing.py"):
        sg.function([x, i], x[::i])(a, 0)
    m = sg.tensor("m", "bool", (None, None))
    with pytest.raises(IndexError, match="Subtensor.*boolean.*test_indexing.py"):
        sg.function([x, m], x[m])(a, np.ones((2, 4), bool))
    y = sg.vector("y")
    with pytest.raises(IndexError, match="IncSubtensor.*out of bounds.*test_indexing.py"):
        sg.function([x, v, y], sg.inc_subtensor(x[v], y))(a, [3], np.ones(4))
    with pytest.raises(ValueError, match=r"SetSubtensor.*value shape \(3,\).*test_indexing.py"):
        sg.function([x, y], sg.set_subtensor(x[1], y))(a, np.ones(3))


def test_indexing_error_is_a_symgrad_index_error():
    assert issubclass(IndexingError, IndexError) and issubclass(IndexingError, sg.SymgradError)
