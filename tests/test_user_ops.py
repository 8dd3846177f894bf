"""User-defined ops in Theano's shape take part in graphs, gradients and compiled calls."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from helpers import check_grad

import symgrad as sg

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)


class ScaledCube(sg.Op):
    """y = scale * x**3, with a gradient and a shape rule."""

    __props__ = ("scale",)

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        output_storage[0][0] = (self.scale * x**3).astype(x.dtype)

    def grad(self, inputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [g * 3 * self.scale * x * x]

    def infer_shape(self, node, input_shapes):
        return input_shapes


class SplitSigns(sg.Op):
    """Two outputs: the positive and the negative part."""

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        output_storage[0][0] = np.maximum(x, 0)
        output_storage[1][0] = np.minimum(x, 0)

    def grad(self, inputs, output_grads):
        (x,), (gp, gn) = inputs, output_grads
        return [sg.where(x > 0, gp, gn)]


class WrongDtype(sg.Op):
    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].astype(np.float32)


def test_props_define_equality_and_hash():
    assert ScaledCube(2.0) == ScaledCube(2.0)
    assert hash(ScaledCube(2.0)) == hash(ScaledCube(2.0))
    assert ScaledCube(2.0) != ScaledCube(3.0)
    assert "scale=2.0" in str(ScaledCube(2.0))


def test_user_op_in_a_compiled_graph():
    x = sg.vector("x")
    y = ScaledCube(2.0)(x) + 1
    f = sg.function([x], y)
    np.testing.assert_allclose(f([1.0, 2.0]), [3.0, 17.0])


def test_user_op_gradient_and_verify_grad():
    check_grad(lambda x: ScaledCube(0.5)(x), [np.linspace(-1, 1, 5)])


def test_multi_output_user_op():
    x = sg.vector("x")
    pos, negative = SplitSigns()(x)
    f = sg.function([x], [pos, negative, sg.grad((pos * 2 + negative * 3).sum(), x)])
    p, n, g = f([-1.0, 2.0])
    np.testing.assert_allclose(p, [0.0, 2.0])
    np.testing.assert_allclose(n, [-1.0, 0.0])
    np.testing.assert_allclose(g, [3.0, 2.0])


def test_multi_output_with_one_output_unused_in_cost():
    x = sg.vector("x")
    pos, _ = SplitSigns()(x)
    g = sg.grad(pos.sum(), x)
    np.testing.assert_allclose(sg.function([x], g)([-1.0, 2.0]), [0.0, 1.0])


def test_user_op_wrong_output_dtype_is_reported():
    x = sg.vector("x")
    f = sg.function([x], WrongDtype()(x))
    with pytest.raises(TypeError, match="WrongDtype.*float32.*declared float64.*test_user_ops.py"):
        f([1.0])


def test_user_op_without_grad_says_so():
    x = sg.vector("x")
    with pytest.raises(NotImplementedError, match="WrongDtype has no gradient"):
        sg.grad(WrongDtype()(x).sum(), x)


def test_user_op_graph_pickles():
    x = sg.vector("x")
    y = ScaledCube(2.0)(x)
    x2, y2 = pickle.loads(pickle.dumps((x, y)))
    np.testing.assert_allclose(sg.function([x2], y2)([1.0]), [2.0])
