"""Pickling variables, shared variables, graphs, compiled functions and models holding them."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.graph.basic import Apply, Op
from symgrad.graph.traversal import ancestors, graph_inputs, is_ancestor, toposort

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def roundtrip(obj, protocol=pickle.HIGHEST_PROTOCOL):
    return pickle.loads(pickle.dumps(obj, protocol=protocol))


def non_constant_roots(var):
    return [v for v in graph_inputs([var]) if not isinstance(v, sg.Constant)]


class TwoOutputs(Op):
    """Module-level (so picklable) op with two outputs: x + 1 and x * 2."""

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return Apply(self, [x], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] + 1
        output_storage[1][0] = inputs[0] * 2


# -- variables and graphs --------------------------------------------------------------------
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_root_variable(protocol):
    x = sg.tensor("x", "float32", (None, 3))
    x2 = roundtrip(x, protocol)
    assert x2 is not x
    assert type(x2) is type(x) and x2.type == x.type and x2.name == "x"
    assert x2.owner is None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_owned_variable_alone(protocol):
    x = sg.dmatrix("x")
    y = (sg.exp(x) * 2.0).sum(axis=1)
    y.name = "y"
    y2 = roundtrip(y, protocol)
    assert y2.name == "y" and y2.type == y.type and type(y2) is type(y)
    assert [str(n.op) for n in toposort([y2])] == [str(n.op) for n in toposort([y])]
    (x2,) = non_constant_roots(y2)
    assert x2.name == "x" and x2 is not x
    value = rng().normal(size=(3, 4))
    np.testing.assert_allclose(sg.function([x2], y2)(value), sg.function([x], y)(value))


def test_source_locations_survive():
    x = sg.dvector("x")
    y = sg.sin(x)
    (node,) = toposort([roundtrip(y)])
    assert node.location == y.owner.location
    assert str(node.location).startswith("test_pickle.py:")


def test_list_keeps_graph_connected_to_its_inputs():
    x = sg.dvector("x")
    w = sg.shared(rng().normal(size=3), name="w")
    h = sg.tanh(x * w)
    loss = (h**2).sum()
    x2, w2, h2, loss2 = roundtrip([x, w, h, loss])
    assert {id(v) for v in non_constant_roots(loss2)} == {id(x2), id(w2)}
    assert is_ancestor(h2, [loss2])  # intermediates keep their identity too
    assert len(toposort([loss2])) == len(toposort([loss]))
    value = rng(1).normal(size=3)
    np.testing.assert_allclose(sg.function([x2], loss2)(value), sg.function([x], loss)(value))


def test_two_outputs_of_one_node_share_it():
    x = sg.dvector("x")
    a, b = TwoOutputs()(x)
    a2, b2 = roundtrip([a, b])
    assert a2.owner is b2.owner and (a2.index, b2.index) == (0, 1)
    b3, s3 = roundtrip([b, a + b])
    assert is_ancestor(b3, [s3])
    assert sg.function(non_constant_roots(s3), s3)(np.array([1.0, 2.0])).tolist() == [4.0, 7.0]


def test_graphs_pickled_separately_are_separate():
    x = sg.dvector("x")
    y = sg.exp(x)
    y2, y3 = roundtrip(y), roundtrip(y)
    assert y2.owner is not y3.owner


def test_pickling_twice_gives_the_same_bytes():
    x = sg.dvector("x")
    y = sg.exp(x) + 1.0
    assert pickle.dumps(y) == pickle.dumps(y)


def test_constant_value_dtype_and_weak_flag():
    c = sg.constant(np.arange(6, dtype="int16").reshape(2, 3), name="c")
    c2 = roundtrip(c)
    assert c2.dtype == "int16" and c2.name == "c" and c2.type == c.type
    np.testing.assert_array_equal(c2.data, c.data)
    x = sg.fvector("x")
    y2 = roundtrip(x * 2.0)
    weak = [v for v in graph_inputs([y2]) if isinstance(v, sg.Constant)]
    assert weak[0].weak and y2.dtype == "float32"


def test_deepcopy_and_copy():
    x = sg.dvector("x")
    y = sg.exp(x)
    x2, y2 = copy.deepcopy([x, y])
    assert x2 is not x and non_constant_roots(y2) == [x2]
    assert copy.copy(y) is y  # a computed variable is immutable; copying gives itself


# -- shared variables ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
def test_shared_value_and_dtype(dtype):
    value = (rng().normal(size=(2, 3)) * 5).astype(dtype)
    w = sg.shared(value, name="w")
    w2 = roundtrip(w)
    assert isinstance(w2, sg.SharedVariable) and w2.name == "w"
    assert w2.dtype == dtype and w2.type == w.type
    got = w2.get_value()
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, value)
    w2.set_value(np.zeros_like(value))
    np.testing.assert_array_equal(w.get_value(), value)  # independent copies


def test_shared_static_shape_and_odd_layouts():
    base = rng().normal(size=(4, 6))
    for value in (base[::2], base.T, base[::-1, ::-2], np.zeros((0, 3)), np.float64(2.5)):
        w = sg.shared(value)
        w2 = roundtrip(w)
        np.testing.assert_array_equal(w2.get_value(), value)
    w = sg.shared(np.ones(3), shape=(3,))
    assert roundtrip(w).type.shape == (3,)


def test_shared_value_at_pickling_time_is_kept():
    w = sg.shared(np.zeros(2))
    w.set_value(np.array([1.0, 2.0]))
    data = pickle.dumps(w)
    w.set_value(np.array([5.0, 5.0]))
    assert pickle.loads(data).get_value().tolist() == [1.0, 2.0]


# -- compiled functions ----------------------------------------------------------------------
def test_function_same_results():
    x = sg.dmatrix("x")
    y = sg.dvector("y")
    out = [sg.tanh(x @ y), (x * 2).sum(axis=0)]
    f = sg.function([x, y], out, name="f")
    f2 = roundtrip(f)
    assert isinstance(f2, sg.Function) and f2.name == "f"
    a, b = rng().normal(size=(3, 4)), rng(1).normal(size=4)
    for got, want in zip(f2(a, b), f(a, b)):
        np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(f2(y=b, x=a)[0], f(a, b)[0])  # keyword names survive


def test_function_single_output_and_int_dtypes():
    i = sg.ivector("i")
    f2 = roundtrip(sg.function([i], i * 3 + 1))
    got = f2(np.array([1, 2, 3], dtype="int32"))
    assert got.dtype == np.int32 and got.tolist() == [4, 7, 10]


def test_function_updates_the_unpickled_shared_variable():
    w = sg.shared(np.zeros(3), name="w")
    x = sg.dvector("x")
    f = sg.function([x], w.sum(), updates=[(w, w + x)])
    w2, f2 = roundtrip((w, f))
    f2(np.ones(3))
    f2(np.ones(3))
    assert w2.get_value().tolist() == [2.0, 2.0, 2.0]
    assert w.get_value().tolist() == [0.0, 0.0, 0.0]  # the original is untouched
    assert f2(np.ones(3)) == 6.0


def test_function_with_givens_on_an_intermediate():
    x = sg.dscalar("x")
    z = sg.dscalar("z")
    h = x * 2.0
    f = sg.function([x, z], h + 1.0, givens={h: z}, on_unused_input="ignore")
    assert f(1.0, 10.0) == 11.0
    assert roundtrip(f)(1.0, 10.0) == 11.0


class Model:
    """A small linear regression: shared weights and compiled training/prediction functions."""

    def __init__(self, n_in: int, lr: float = 0.1) -> None:
        self.w = sg.shared(np.zeros(n_in), name="w")
        self.b = sg.shared(np.float64(0.0), name="b")
        x, y = sg.dmatrix("x"), sg.dvector("y")
        pred = x @ self.w + self.b
        loss = ((pred - y) ** 2).mean()
        gw, gb = sg.grad(loss, [self.w, self.b])
        self.train = sg.function(
            [x, y], loss, updates=[(self.w, self.w - lr * gw), (self.b, self.b - lr * gb)]
        )
        self.predict = sg.function([x], pred)


def test_model_object_roundtrip():
    data_x = rng().normal(size=(20, 3))
    data_y = data_x @ np.array([1.0, -2.0, 0.5]) + 0.3
    model = Model(3)
    for _ in range(5):
        model.train(data_x, data_y)
    clone = roundtrip(model)
    np.testing.assert_array_equal(clone.w.get_value(), model.w.get_value())
    np.testing.assert_allclose(clone.predict(data_x), model.predict(data_x))
    for _ in range(20):
        loss_a = model.train(data_x, data_y)
        loss_b = clone.train(data_x, data_y)
        np.testing.assert_allclose(loss_a, loss_b)
    np.testing.assert_allclose(clone.w.get_value(), model.w.get_value())
    np.testing.assert_allclose(clone.predict(data_x), model.predict(data_x))
    before = model.w.get_value()
    clone.train(data_x, data_y)
    np.testing.assert_array_equal(model.w.get_value(), before)  # no state shared with the copy


def test_function_of_a_deep_graph():
    x = sg.dscalar("x")
    y = x
    for _ in range(1000):
        y = sg.sin(y) * 1.0001 + 0.1
    f = sg.function([x], [y, sg.grad(y, x)])
    f2 = roundtrip(f)
    assert len(f2.nodes) == len(f.nodes)  # the output and its gradient still share the chain
    for got, want in zip(f2(0.5), f(0.5)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_pickle_20000_deep_graph():
    x = sg.dscalar("x")
    y = x
    for _ in range(20000):
        y = sg.cos(y)
    x2, y2 = roundtrip([x, y])
    assert len(toposort([y2])) == 20000
    assert any(v is x2 for v in ancestors([y2]))
    want = 0.3
    for _ in range(20000):
        want = np.cos(want)
    np.testing.assert_allclose(sg.function([x2], y2)(0.3), want, rtol=1e-12)
