"""Graph basics: types, constructors, source locations, build-time errors, traversal."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad as sg
from symgrad.graph.traversal import ancestors, clone_replace, graph_inputs, toposort


def test_constructors_and_types():
    assert sg.scalar().ndim == 0 and sg.tensor4().ndim == 4
    assert sg.fmatrix().dtype == "float32" and sg.ivector().dtype == "int32"
    assert sg.bscalar().dtype == "int8" and sg.wvector().dtype == "int16"
    assert sg.ltensor3().dtype == "int64" and sg.dtensor4().dtype == "float64"
    x = sg.tensor("x", "float32", (None, 3))
    assert x.type.shape == (None, 3) and x.broadcastable == (False, False)
    assert sg.tensor(shape=(1, None)).broadcastable == (True, False)
    assert sg.matrix("m", dtype="int8").dtype == "int8"
    with pytest.raises(TypeError):
        sg.fvector(dtype="float64")
    with pytest.raises(TypeError, match="not supported"):
        sg.vector(dtype="complex128")


def test_static_shapes_broadcast_at_build_time():
    a = sg.tensor("a", shape=(None, 3))
    b = sg.tensor("b", shape=(1, 3))
    c = sg.tensor("c", shape=(4, 1))
    assert (a + b).type.shape == (None, 3)
    assert (b + c).type.shape == (4, 3)
    assert (sg.scalar() * b).type.shape == (1, 3)


def test_incompatible_static_shapes_fail_at_build_time_with_user_line():
    a = sg.tensor("a", shape=(2, 3))
    b = sg.tensor("b", shape=(4, 3))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 3\).*test_graph.py:\d+"):
        _ = a + b


def test_bool_arithmetic_where_numpy_refuses():
    p, q = sg.tensor("p", "bool", (None,)), sg.tensor("q", "bool", (None,))
    with pytest.raises(TypeError, match="sub.*bool.*test_graph.py"):
        _ = p - q
    with pytest.raises(TypeError, match="neg.*bool"):
        _ = -p
    assert (p + q).dtype == "bool"  # NumPy: logical or
    assert (p & q).dtype == "bool" and (~p).dtype == "bool"


def test_bad_axis_fails_at_build_time():
    m = sg.matrix("m")
    with pytest.raises(ValueError, match="sum: axis 2 is out of bounds.*test_graph.py"):
        m.sum(axis=2)
    with pytest.raises(ValueError, match="repeated"):
        m.sum(axis=(0, -2))


def test_apply_nodes_record_the_user_line():
    x = sg.vector("x")
    y = sg.exp(x)  # this line
    assert y.owner.location.filename.endswith("test_graph.py")
    import inspect

    assert y.owner.location.lineno == inspect.currentframe().f_lineno - 4


def test_truth_value_and_len_are_errors():
    x = sg.vector("x")
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)
    with pytest.raises(TypeError, match="len"):
        len(x)
    assert len(sg.tensor(shape=(3,))) == 3


def test_equality_is_identity():
    x, y = sg.vector("x"), sg.vector("y")
    assert (x == x) is True and (x == y) is False
    assert {x: 1}[x] == 1


def test_python_numbers_become_weak_constants():
    x = sg.fvector("x")
    assert (x * 2.0).dtype == "float32"
    assert (2 * x).dtype == "float32"
    assert (x + np.float64(2)).dtype == "float64"  # NumPy scalars are not weak
    assert (sg.ivector() * 0.5).dtype == "float64"
    assert (sg.bvector() + 3).dtype == "int8"
    with pytest.raises(TypeError, match="out of bounds for int8"):
        _ = sg.bvector() + 300


def test_traversal_helpers():
    x, y = sg.vector("x"), sg.vector("y")
    z = sg.exp(x) * y
    w = z + x
    nodes = toposort([w])
    assert [n.op.scalar_op.name for n in nodes] == ["exp", "mul", "add"]
    assert graph_inputs([w]) == [x, y]
    assert x in ancestors([w]) and z in ancestors([w])
    (w2,) = clone_replace([w], {y: x * 2})
    f = sg.function([x], w2)
    np.testing.assert_allclose(f([0.0]), [0.0])
    np.testing.assert_allclose(f([1.0]), [np.e * 2 + 1])
    assert w.owner.inputs[0] is z  # original untouched


def test_constant_values_are_read_only():
    c = sg.constant(np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        c.data[0] = 5
