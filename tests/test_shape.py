"""Shape operations against NumPy: values, dtypes, static shapes, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg
from symgrad.ops.shape_of import ShapeI, shape_dims
from symgrad.ops.shape_ops import Split

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)

HERE = "test_shape.py"


def run(inputs, outputs, *values):
    return sg.function(inputs, outputs)(*values)


def infer(var, inputs, values):
    """Evaluate the op's infer_shape for ``var`` on real inputs."""
    node = var.owner
    shapes = node.op.infer_shape(node, [tuple(shape_dims(i)) for i in node.inputs])
    dims = list(shapes[var.index])
    if not dims:
        return ()
    f = sg.function(inputs, dims, on_unused_input="ignore")
    return tuple(int(d) for d in f(*values))


def sym(arr, static=False):
    """A symbolic input for ``arr`` (unknown lengths unless ``static``)."""
    shape = arr.shape if static else (None,) * arr.ndim
    return sg.tensor("x", arr.dtype, shape)


def dim(x, i):
    return ShapeI(i)(x)


NONCONTIGUOUS = [
    lambda a: a,
    lambda a: a[::2],
    lambda a: a.T,
    lambda a: a[::-1],
]


# --- reshape ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("view", NONCONTIGUOUS)
def test_reshape_matches_numpy(dtype, view):
    a = view(rng().normal(size=(6, 4)).astype(dtype))
    x = sym(a)
    for shape in [(2, -1), (-1,), (a.size,), (1, -1, 1), (a.shape[1], a.shape[0])]:
        y = sg.reshape(x, shape)
        out = run([x], y, a)
        np.testing.assert_array_equal(out, a.reshape(shape))
        assert out.dtype == a.dtype and y.dtype == dtype


def test_reshape_zero_size_and_scalar():
    a = np.zeros((0, 3), "float32")
    x = sym(a)
    np.testing.assert_array_equal(run([x], sg.reshape(x, (3, 0)), a), a.reshape(3, 0))
    np.testing.assert_array_equal(run([x], sg.reshape(x, (-1, 3)), a), a.reshape(-1, 3))
    s = sg.scalar("s")
    assert run([s], sg.reshape(s, (1, 1)), 2.0).shape == (1, 1)
    v = sg.tensor("v", "float64", (1,))
    out = run([v], sg.reshape(v, ()), np.array([3.0]))
    assert out.shape == () and out == 3.0


def test_reshape_static_shapes():
    x = sg.tensor("x", "float64", (2, 3, 4))
    assert sg.reshape(x, (6, -1)).type.shape == (6, 4)
    assert sg.reshape(x, (-1,)).type.shape == (24,)
    assert x.reshape(4, 6).type.shape == (4, 6)
    u = sg.tensor("u", "float64", (None, 3, 4))
    assert sg.reshape(u, (dim(u, 0), -1)).type.shape == (None, 12)
    assert sg.reshape(u, (-1, 6)).type.shape == (None, 6)
    assert sg.reshape(u, (-1,)).type.shape == (None,)
    n = sg.lscalar("n")
    assert sg.reshape(u, (n, 2, -1)).type.shape == (None, 2, None)
    assert sg.reshape(x, u.shape).type.shape == (None, 3, 4)


def test_reshape_symbolic_shape():
    a = rng().normal(size=(4, 6))
    x, t = sym(a), sg.tensor("t", "float64", (None, None, None))
    target = np.zeros((2, 3, 4))
    y = sg.reshape(x, t.shape)
    np.testing.assert_array_equal(run([x, t], y, a, target), a.reshape(2, 3, 4))
    n = sg.iscalar("n")  # int32 scalars are accepted and cast
    y = sg.reshape(x, (n, -1))
    np.testing.assert_array_equal(run([x, n], y, a, 3), a.reshape(3, -1))


def test_reshape_shape_vector_of_unknown_length():
    a = rng().normal(size=(4, 6))
    x, v = sym(a), sg.lvector("v")
    y = sg.reshape(x, v, ndim=2)
    assert y.ndim == 2
    np.testing.assert_array_equal(run([x, v], y, a, np.array([8, 3])), a.reshape(8, 3))
    with pytest.raises(sg.GraphValueError, match=f"reshape.*ndim.*{HERE}"):
        sg.reshape(x, v)


def test_reshape_build_errors():
    x = sg.tensor("x", "float64", (2, 3))
    with pytest.raises(sg.ShapeError, match=rf"reshape: cannot reshape .*\(4, 2\).*{HERE}"):
        sg.reshape(x, (4, 2))
    with pytest.raises(sg.ShapeError, match=f"reshape.*{HERE}"):
        sg.reshape(x, (4, -1))
    with pytest.raises(sg.GraphValueError, match=f"reshape.*one -1.*{HERE}"):
        sg.reshape(x, (-1, -1))
    with pytest.raises(sg.GraphValueError, match=f"reshape.*{HERE}"):
        sg.reshape(x, (-2, 3))
    with pytest.raises(sg.GraphTypeError, match=f"reshape.*integer.*{HERE}"):
        sg.reshape(x, (2.0, 3))
    with pytest.raises(sg.GraphValueError, match=f"reshape.*ndim=3.*{HERE}"):
        sg.reshape(x, (6,), ndim=3)


def test_reshape_runtime_errors():
    x, n = sg.matrix("x"), sg.lscalar("n")
    f = sg.function([x], sg.reshape(x, (4, -1)))
    with pytest.raises(sg.ShapeError, match=rf"reshape: .*\(2, 3\).*\(4, -1\).*{HERE}"):
        f(np.zeros((2, 3)))
    g = sg.function([x, n], sg.reshape(x, (n, -1)))
    with pytest.raises(sg.ShapeError, match=f"reshape: .*one -1.*{HERE}"):
        g(np.zeros((2, 3)), -1)
    with pytest.raises(sg.ShapeError, match=f"reshape: .*{HERE}"):
        g(np.zeros((2, 3)), -3)


def test_reshape_grad():
    check_grad(lambda x: sg.reshape(x, (3, -1)), [rng().normal(size=(2, 3, 2))])
    check_grad(lambda x: sg.reshape(x, (-1,)) ** 2, [rng().normal(size=(4, 3))])
    x = sg.matrix("x")
    assert sg.grad(sg.reshape(x, (-1,)).sum(), x).type.shape == (None, None)


def test_reshape_grad_of_grad():
    x = sg.vector("x")
    y = (sg.reshape(x, (2, -1)) ** 3).sum()
    (gx,) = [sg.grad(y, x)]
    hx = sg.grad(sg.reshape(gx, (-1, 1)).sum(), x)
    a = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(run([x], hx, a), 6 * a)


def test_reshape_infer_shape():
    a = rng().normal(size=(4, 6))
    x, n = sym(a), sg.lscalar("n")
    for shape in [(3, -1), (-1,), (n, 2, -1), (-1, n)]:
        y = sg.reshape(x, shape)
        inputs = [x, n] if any(s is n for s in shape) else [x]
        values = [a, 2] if len(inputs) == 2 else [a]
        assert infer(y, inputs, values) == run(inputs, y, *values).shape
    assert infer(sg.reshape(x, (n, 4)), [x, n], [a, -1]) == (6, 4)  # a symbolic -1
    assert infer(sg.reshape(x, (2, n, 3)), [x, n], [a, -1]) == (2, 4, 3)


# --- flatten, transpose, squeeze, expand_dims ------------------------------------------


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_flatten_matches_theano_meaning(ndim):
    a = rng().normal(size=(2, 3, 4)).astype("float32")
    x = sym(a)
    y = sg.flatten(x, ndim)
    expected = a.reshape(a.shape[: ndim - 1] + (-1,))
    np.testing.assert_array_equal(run([x], y, a), expected)
    assert y.type.shape == (None,) * ndim
    xs = sym(a, static=True)
    assert sg.flatten(xs, ndim).type.shape == expected.shape
    assert xs.flatten(ndim).type.shape == expected.shape


def test_flatten_zero_size_scalar_and_view():
    a = np.zeros((0, 3, 4))
    x = sym(a)
    assert run([x], sg.flatten(x, 2), a).shape == (0, 12)
    assert run([x], sg.flatten(x), a).shape == (0,)
    s = sg.scalar("s")
    assert sg.flatten(s).type.shape == (1,)
    np.testing.assert_array_equal(run([s], sg.flatten(s), 5.0), [5.0])
    b = rng().normal(size=(4, 6))[::-1, ::2]
    xb = sym(b)
    np.testing.assert_array_equal(run([xb], xb.flatten(), b), b.ravel())


def test_flatten_errors_and_grad():
    with pytest.raises(sg.GraphValueError, match=f"flatten.*{HERE}"):
        sg.flatten(sg.matrix("x"), 3)
    with pytest.raises(sg.GraphValueError, match=f"flatten.*{HERE}"):
        sg.flatten(sg.matrix("x"), 0)
    check_grad(lambda x: sg.flatten(x, 2), [rng().normal(size=(2, 3, 2))])


@pytest.mark.parametrize("view", NONCONTIGUOUS)
def test_transpose_matches_numpy(view):
    a = view(rng().normal(size=(4, 6)))
    x = sym(a)
    np.testing.assert_array_equal(run([x], sg.transpose(x), a), a.T)
    np.testing.assert_array_equal(run([x], x.T, a), a.T)
    b = rng().integers(0, 9, size=(2, 3, 4)).astype("int16")
    t = sym(b, static=True)
    for axes in [(1, 0, 2), (-1, 0, 1), (2, 1, 0)]:
        y = sg.transpose(t, axes)
        np.testing.assert_array_equal(run([t], y, b), np.transpose(b, axes))
        assert y.type.shape == np.transpose(b, axes).shape and y.dtype == "int16"
    np.testing.assert_array_equal(run([t], t.transpose(2, 0, 1), b), b.transpose(2, 0, 1))
    s = sg.scalar("s")
    assert sg.transpose(s) is s


def test_transpose_errors_and_grad():
    x = sg.tensor3("x")
    with pytest.raises(sg.GraphValueError, match=f"transpose.*{HERE}"):
        sg.transpose(x, (0, 1))
    with pytest.raises(sg.GraphValueError, match=f"transpose.*repeated.*{HERE}"):
        sg.transpose(x, (0, 1, -2))
    with pytest.raises(sg.GraphValueError, match=f"transpose.*out of bounds.*{HERE}"):
        sg.transpose(x, (0, 1, 3))
    check_grad(lambda v: sg.transpose(v, (2, 0, 1)), [rng().normal(size=(2, 3, 4))])


def test_squeeze():
    a = rng().normal(size=(1, 3, 1))
    x = sg.tensor("x", "float64", (1, None, 1))
    y = sg.squeeze(x)
    assert y.type.shape == (None,)
    np.testing.assert_array_equal(run([x], y, a), a.squeeze())
    assert x.squeeze(-1).type.shape == (1, None)
    u = sg.tensor3("u")
    assert sg.squeeze(u) is u  # nothing is statically known to be 1
    y = sg.squeeze(u, (0, 2))
    np.testing.assert_array_equal(run([u], y, a), a.squeeze((0, 2)))
    f = sg.function([u], sg.squeeze(u, 1))
    with pytest.raises(sg.ShapeError, match=f"length 1.*{HERE}"):
        f(a)


def test_squeeze_errors_and_grad():
    x = sg.tensor("x", "float64", (1, 3))
    with pytest.raises(sg.ShapeError, match=f"squeeze: cannot squeeze axis 1.*{HERE}"):
        sg.squeeze(x, 1)
    with pytest.raises(sg.GraphValueError, match=f"squeeze.*out of bounds.*{HERE}"):
        sg.squeeze(x, 2)
    check_grad(lambda v: sg.squeeze(v, 1) * 2, [rng().normal(size=(3, 1, 2))])


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), (-1, 0), (1, -2)])
def test_expand_dims_matches_numpy(axis):
    a = rng().normal(size=(2, 3))[:, ::-1]
    x = sym(a, static=True)
    y = sg.expand_dims(x, axis)
    expected = np.expand_dims(a, axis)
    np.testing.assert_array_equal(run([x], y, a), expected)
    assert y.type.shape == expected.shape


def test_expand_dims_scalar_errors_and_grad():
    s = sg.scalar("s")
    assert sg.expand_dims(s, (0, 1)).type.shape == (1, 1)
    x = sg.matrix("x")
    with pytest.raises(sg.GraphValueError, match=f"expand_dims.*out of bounds.*{HERE}"):
        sg.expand_dims(x, 3)
    with pytest.raises(sg.GraphValueError, match=f"expand_dims.*repeated.*{HERE}"):
        sg.expand_dims(x, (1, 1))
    check_grad(lambda v: sg.expand_dims(v, (0, -1)), [rng().normal(size=(2, 3))])


# --- concatenate, split, stack ---------------------------------------------------------


@pytest.mark.parametrize(
    "dtypes",
    [
        ("float32", "float32"),
        ("float32", "float64"),
        ("int8", "uint8"),
        ("bool", "int8"),
        ("int32", "float32"),
        ("int64", "float64", "bool"),
    ],
)
def test_concatenate_dtypes(dtypes):
    arrays = [(rng(k).normal(size=(2, k + 1)) * 5).astype(d) for k, d in enumerate(dtypes)]
    xs = [sym(a) for a in arrays]
    y = sg.concatenate(xs, axis=1)
    expected = np.concatenate(arrays, axis=1)
    out = run(xs, y, *arrays)
    assert y.dtype == expected.dtype.name and out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_concatenate_axes_views_and_static_shape(axis):
    base = rng().normal(size=(4, 6, 2))
    arrays = [base[::2], base[1::2][::-1], base[:2]]
    arrays = [np.moveaxis(a, 0, axis) for a in arrays]
    xs = [sym(a, static=True) for a in arrays]
    y = sg.concatenate(xs, axis)
    expected = np.concatenate(arrays, axis)
    assert y.type.shape == expected.shape
    np.testing.assert_array_equal(run(xs, y, *arrays), expected)


def test_concatenate_partial_static_shapes_and_empty_pieces():
    x = sg.tensor("x", "float64", (2, None))
    z = sg.tensor("z", "float64", (None, 3))
    y = sg.concatenate([x, z], axis=0)
    assert y.type.shape == (None, 3)
    assert sg.concatenate([x, z], axis=1).type.shape == (2, None)
    a, b = np.zeros((2, 3)), np.zeros((0, 3))
    assert run([x, z], y, a, b).shape == (2, 3)
    v = sg.vector("v")
    assert run([v], sg.concatenate([v, v]), np.zeros(0)).shape == (0,)


def test_concatenate_axis_none_flattens():
    a, b = rng().normal(size=(2, 3)), rng(1).normal(size=(4,))
    x, z = sym(a), sym(b)
    np.testing.assert_array_equal(
        run([x, z], sg.concatenate([x, z], None), a, b), np.concatenate([a, b], None)
    )


def test_concatenate_build_errors():
    m, v = sg.matrix("m"), sg.vector("v")
    with pytest.raises(sg.GraphValueError, match=f"concatenate: all inputs must have the same rank.*{HERE}"):
        sg.concatenate([m, v])
    with pytest.raises(sg.GraphValueError, match=f"concatenate: zero-dimensional.*{HERE}"):
        sg.concatenate([sg.scalar("s")])
    with pytest.raises(sg.GraphValueError, match=f"concatenate: needs at least one.*{HERE}"):
        sg.concatenate([])
    with pytest.raises(sg.GraphTypeError, match=f"concatenate: expects a list.*{HERE}"):
        sg.concatenate(m)
    with pytest.raises(sg.GraphValueError, match=f"concatenate.*out of bounds.*{HERE}"):
        sg.concatenate([m, m], axis=2)
    a = sg.tensor("a", "float64", (2, 3))
    b = sg.tensor("b", "float64", (2, 4))
    with pytest.raises(
        sg.ShapeError, match=rf"concatenate: shapes \(2, 3\), \(2, 4\) differ along axis 1.*{HERE}"
    ):
        sg.concatenate([a, b])


def test_concatenate_runtime_error():
    x, z = sg.matrix("x"), sg.matrix("z")
    f = sg.function([x, z], sg.concatenate([x, z]))
    with pytest.raises(sg.ShapeError, match=rf"concatenate: input shapes \(2, 3\), \(2, 4\).*{HERE}"):
        f(np.zeros((2, 3)), np.zeros((2, 4)))


def test_concatenate_grad():
    r = rng()
    check_grad(lambda x, z: sg.concatenate([x, z, x], axis=1), [r.normal(size=(2, 3)), r.normal(size=(2, 1))])
    check_grad(lambda x, z: sg.concatenate([x, z]) ** 2, [r.normal(size=(2,)), r.normal(size=(0,))])


def test_concatenate_grad_dtypes():
    x, z, i = sg.fvector("x"), sg.dvector("z"), sg.lvector("i")
    cost = (sg.concatenate([x, z, sg.cast(i, "float64")]) * 2).sum()
    gx, gz = sg.grad(cost, [x, z])
    assert gx.dtype == "float32" and gz.dtype == "float64"
    out = run([x, z, i], [gx, gz], np.ones(2, "float32"), np.ones(3), np.arange(2))
    np.testing.assert_array_equal(out[0], [2, 2])
    np.testing.assert_array_equal(out[1], [2, 2, 2])
    cost = sg.concatenate([z, sg.cast(i, "float64")]).sum()
    assert sg.grad(cost, i, disconnected_inputs="ignore") is not None


def test_split_forward_grad_and_errors():
    a = rng().normal(size=(3, 5))
    x = sym(a)
    n = sg.lscalar("n")
    pieces = Split(1).make_node(x, 2, n).outputs
    assert [p.type.shape for p in pieces] == [(None, 2), (None, None)]
    out = run([x, n], pieces, a, 3)
    np.testing.assert_array_equal(out[0], a[:, :2])
    np.testing.assert_array_equal(out[1], a[:, 2:])
    assert infer(pieces[1], [x, n], [a, 3]) == (3, 3)
    f = sg.function([x, n], pieces)
    with pytest.raises(sg.ShapeError, match=rf"split: lengths \(2, 4\).*\(3, 5\).*{HERE}"):
        f(a, 4)
    check_grad(lambda v: Split(0).make_node(v, 1, 2).outputs[1] * 3, [a])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_matches_numpy(axis):
    arrays = [rng(k).normal(size=(2, 3)).astype("float32") for k in range(3)]
    arrays[1] = arrays[1][::-1]
    xs = [sym(a, static=True) for a in arrays]
    y = sg.stack(xs, axis)
    expected = np.stack(arrays, axis)
    assert y.type.shape == expected.shape and y.dtype == "float32"
    np.testing.assert_array_equal(run(xs, y, *arrays), expected)


def test_stack_scalars_errors_and_grad():
    s, t = sg.scalar("s"), sg.lscalar("t")
    y = sg.stack([s, t])
    assert y.type.shape == (2,) and y.dtype == "float64"
    np.testing.assert_array_equal(run([s, t], y, 1.5, 2), [1.5, 2.0])
    with pytest.raises(sg.ShapeError, match=f"stack: all inputs must have the same shape.*{HERE}"):
        sg.stack([sg.vector("v"), sg.matrix("m")])
    a = sg.tensor("a", "float64", (2,))
    b = sg.tensor("b", "float64", (3,))
    with pytest.raises(sg.ShapeError, match=f"concatenate.*{HERE}"):
        sg.stack([a, b])
    with pytest.raises(sg.GraphValueError, match=f"stack: needs at least one.*{HERE}"):
        sg.stack([])
    r = rng()
    check_grad(lambda x, z: sg.stack([x, z], axis=1), [r.normal(size=(2, 3)), r.normal(size=(2, 3))])


# --- broadcast_to, zeros, ones, full ---------------------------------------------------


@pytest.mark.parametrize(
    ("src", "shape"),
    [((3,), (2, 3)), ((1, 3), (4, 3)), ((), (2, 2)), ((2, 1), (3, 2, 5)), ((0,), (2, 0)), ((1,), (0,))],
)
def test_broadcast_to_matches_numpy(src, shape):
    a = rng().normal(size=src).astype("float32")
    x = sym(a, static=True)
    y = sg.broadcast_to(x, shape)
    out = run([x], y, a)
    np.testing.assert_array_equal(out, np.broadcast_to(a, shape))
    assert y.type.shape == shape and out.dtype == np.float32
    assert out.flags.writeable


def test_broadcast_to_symbolic_shape_and_static_inference():
    a = rng().integers(0, 5, size=(1, 3)).astype("int32")
    x, z = sym(a), sg.matrix("z")
    y = sg.broadcast_to(x, (dim(z, 0), 3))
    assert y.type.shape == (None, 3) and y.dtype == "int32"
    np.testing.assert_array_equal(run([x, z], y, a, np.zeros((4, 1))), np.broadcast_to(a, (4, 3)))
    w = sg.tensor("w", "float64", (5,))
    assert sg.broadcast_to(w, (2, dim(z, 1))).type.shape == (2, 5)  # w fixes the length
    y = sg.broadcast_to(x, z.shape)
    np.testing.assert_array_equal(run([x, z], y, a, np.zeros((2, 3))), np.broadcast_to(a, (2, 3)))
    assert infer(y, [x, z], [a, np.zeros((2, 3))]) == (2, 3)


def test_broadcast_to_errors():
    x = sg.tensor("x", "float64", (3,))
    with pytest.raises(sg.ShapeError, match=rf"broadcast_to: cannot broadcast .*\(2, 4\).*{HERE}"):
        sg.broadcast_to(x, (2, 4))
    with pytest.raises(sg.ShapeError, match=f"broadcast_to.*1 dims.*{HERE}"):
        sg.broadcast_to(sg.matrix("m"), (3,))
    with pytest.raises(sg.GraphValueError, match=f"broadcast_to.*>= 0.*{HERE}"):
        sg.broadcast_to(x, (-1, 3))
    v, n = sg.vector("v"), sg.lscalar("n")
    f = sg.function([v, n], sg.broadcast_to(v, (n, 3)))
    with pytest.raises(sg.ShapeError, match=rf"broadcast_to: .*\(2,\) to shape \(2, 3\).*{HERE}"):
        f(np.zeros(2), 2)


def test_broadcast_to_grad():
    r = rng()
    check_grad(lambda x: sg.broadcast_to(x, (2, 4, 3)), [r.normal(size=(4, 1))])
    check_grad(lambda x: sg.broadcast_to(x, (3, 2)), [r.normal(size=(2,))])
    check_grad(lambda x: sg.broadcast_to(x, (3,)) ** 2, [r.normal(size=())])


def test_zeros_ones_full_dtypes():
    assert sg.zeros((2, 3)).dtype == "float64"
    assert sg.ones(4, dtype="int8").dtype == "int8"
    with sg.config.override(floatX="float32"):
        assert sg.zeros((2,)).dtype == "float32"
        assert sg.ones(()).dtype == "float32"
        assert sg.full((2,), 1.5).dtype == "float32"  # a Python float follows floatX
    assert sg.full((2,), 3).dtype == "int64"
    assert sg.full((2,), True).dtype == "bool"
    assert sg.full((2,), np.float32(1.5)).dtype == "float32"
    assert sg.full((2,), 1.5, dtype="int32").dtype == "int32"
    np.testing.assert_array_equal(sg.zeros((2, 3)).eval(), np.zeros((2, 3)))
    np.testing.assert_array_equal(sg.ones((3,), "uint8").eval(), np.ones(3, "uint8"))
    np.testing.assert_array_equal(sg.full((2, 2), 7.5).eval(), np.full((2, 2), 7.5))
    assert sg.zeros((0, 3)).eval().shape == (0, 3)
    assert sg.ones(()).eval().shape == ()


def test_zeros_symbolic_shape():
    x = sg.matrix("x")
    y = sg.zeros((dim(x, 0), 3))
    assert y.type.shape == (None, 3)
    np.testing.assert_array_equal(run([x], y, np.ones((4, 2))), np.zeros((4, 3)))
    y = sg.ones(x.shape, dtype="int32")
    np.testing.assert_array_equal(run([x], y, np.ones((4, 2))), np.ones((4, 2), "int32"))
    v = sg.vector("v")
    f = sg.function([v], sg.full((2, dim(v, 0)), v))
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [[1, 2], [1, 2]])
    check_grad(lambda w: sg.full((3, dim(w, 0)), w), [rng().normal(size=(2,))])


def test_like_functions_accept_dtype():
    x = sg.fmatrix("x")
    a = np.ones((2, 3), "float32")
    assert run([x], sg.zeros_like(x), a).dtype == np.float32
    out = run([x], sg.ones_like(x, dtype="int16"), a)
    assert out.dtype == np.int16 and (out == 1).all()
    out = run([x], sg.full_like(x, 3, dtype="float64"), a)
    np.testing.assert_array_equal(out, np.full((2, 3), 3.0))


# --- arange ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(5,), (2, 7), (7, 2, -2), (0, 1, 0.25), (2.5,), (3, 3), (5, 1), (-1.5, 2.2, 0.7), (0,)],
)
def test_arange_constants_match_numpy(args):
    y = sg.arange(*args)
    expected = np.arange(*args)
    assert y.dtype == expected.dtype.name
    assert y.type.shape == expected.shape
    np.testing.assert_allclose(y.eval(), expected)


def test_arange_dtypes():
    assert sg.arange(4, dtype="float32").eval().dtype == np.float32
    np.testing.assert_array_equal(sg.arange(0.5, 3, dtype="int64").eval(), np.arange(0.5, 3, dtype="int64"))
    with sg.config.override(floatX="float32"):
        y = sg.arange(0.0, 1.0, 0.1)
    assert y.dtype == "float64"
    np.testing.assert_array_equal(y.eval(), np.arange(0.0, 1.0, 0.1))
    i = sg.bscalar("i")
    assert sg.arange(i).dtype == "int64"
    f32 = sg.fscalar("f")
    assert sg.arange(f32).dtype == "float64"  # as np.arange(np.float32(3))


def test_arange_symbolic():
    n, start, step = sg.lscalar("n"), sg.scalar("start"), sg.scalar("step")
    y = sg.arange(n)
    assert y.type.shape == (None,)
    np.testing.assert_array_equal(run([n], y, 4), np.arange(4))
    y = sg.arange(start, n, step)
    for values in [(0.5, 4, 0.5), (3.0, 0, -1.0), (1.0, 0, 1.0)]:
        out = run([start, n, step], y, *values)
        np.testing.assert_allclose(out, np.arange(*values))
        assert infer(y, [start, n, step], values) == out.shape
    x = sg.matrix("x")
    np.testing.assert_array_equal(run([x], sg.arange(dim(x, 1)), np.zeros((2, 3))), [0, 1, 2])


def test_arange_zero_step_errors():
    with pytest.raises(sg.GraphValueError, match=f"arange: step must not be zero.*{HERE}"):
        sg.arange(0, 5, 0)
    s = sg.lscalar("s")
    f = sg.function([s], sg.arange(0, 5, s))
    with pytest.raises(sg.GraphValueError, match=f"arange: step must not be zero.*{HERE}"):
        f(0)
    with pytest.raises(sg.GraphTypeError, match=f"arange: arguments must be numeric scalars.*{HERE}"):
        sg.arange(sg.vector("v"))


def test_arange_grad():
    start, step = sg.scalar("start"), sg.scalar("step")
    y = sg.arange(start, 10.0, step)
    w = np.arange(1, 6, dtype="float64")
    cost = (y * sg.constant(w)).sum()
    gs, gd = sg.grad(cost, [start, step])
    out = run([start, step], [gs, gd], 0.0, 2.0)
    np.testing.assert_allclose(out, [w.sum(), (w * np.arange(5)).sum()])
    n = sg.lscalar("n")
    g = sg.grad(sg.arange(n, dtype="float64").sum(), n, disconnected_inputs="ignore")
    assert run([n], g, 3) == 0  # integer arguments get no gradient


# --- x.shape[0] once indexing exists ---------------------------------------------------


def test_shape_index_entries():
    x = sg.tensor("x", "float64", (None, 2))
    y = sg.zeros((x.shape[0], 3))
    assert y.type.shape == (None, 3)
    np.testing.assert_array_equal(run([x], y, np.ones((4, 2))), np.zeros((4, 3)))
    assert sg.zeros((x.shape[1], x.shape[0])).type.shape == (2, None)
    t = sg.tensor("t", "float64", (None, 3, 4))
    assert sg.reshape(t, (t.shape[0], -1)).type.shape == (None, 12)
    y = sg.reshape(x, (x.shape[1], -1))
    np.testing.assert_array_equal(run([x], y, np.arange(8.0).reshape(4, 2)), np.arange(8.0).reshape(2, 4))
    np.testing.assert_array_equal(run([x], sg.arange(x.shape[0]), np.ones((3, 2))), [0, 1, 2])


def test_second_derivatives_through_shape_ops():
    x = sg.vector("x")
    y = sg.concatenate([sg.reshape(x, (1, -1)), sg.broadcast_to(sg.expand_dims(x, 0), (1, 4))])
    cost = (sg.stack([y, y]) ** 3).sum()
    gx = sg.grad(cost, x)
    hx = sg.grad(sg.flatten(gx).sum(), x)
    a = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(run([x], gx, a), 2 * 3 * a**2 * 2)
    np.testing.assert_allclose(run([x], hx, a), 2 * 6 * a * 2)


def test_reshape_by_vector_of_unknown_length_checks_its_length():
    x, v = sg.vector("x"), sg.lvector("v")
    f = sg.function([x, v], sg.reshape(x, v, ndim=2))
    assert f(np.arange(6.0), [2, 3]).shape == (2, 3)
    with pytest.raises(ValueError, match="length 3.*2 entries.*test_shape.py"):
        f(np.arange(6.0), [2, 3, 1])
