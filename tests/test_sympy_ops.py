"""sg.elemwise_op: NumPy implementation, gradients, C expression, pickling from SymPy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import sympy
from helpers import check_grad

import symgrad as sg

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)

a, b = sympy.symbols("a b")
gauss = sg.elemwise_op("gauss_test", sympy.exp(-(a**2)) * b, [a, b])


def test_forward_with_broadcasting_and_dtypes():
    x = sg.matrix("x")
    y = sg.vector("y")
    xv = np.linspace(-1, 1, 6).reshape(2, 3)
    yv = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(sg.function([x, y], gauss(x, y))(xv, yv), np.exp(-(xv**2)) * yv)
    xf = sg.fvector("xf")
    assert gauss(xf, 2.0).dtype == "float32"


def test_gradients_to_second_order():
    check_grad(lambda x, y: gauss(x, y), [np.linspace(-1, 1, 4), np.linspace(0.5, 2, 4)])
    x = sg.scalar("x")
    d2 = sg.grad(sg.grad(gauss(x, 1.0), x), x)
    expected = float(sympy.diff(sympy.exp(-(a**2)), a, 2).subs(a, 0.3))
    np.testing.assert_allclose(sg.function([x], d2)(0.3), expected)


def test_c_expression_and_sympy_form():
    assert gauss.c_expr.format("x", "y") == "(y*exp(-pow(x, 2)))"
    assert sympy.simplify(gauss.sympy(a, b) - sympy.exp(-(a**2)) * b) == 0


def test_constant_expression_broadcasts():
    one = sg.elemwise_op("one_test", sympy.Integer(1) + 0 * a, [a])
    x = sg.vector("x")
    np.testing.assert_allclose(sg.function([x], one(x))(np.arange(3.0)), np.ones(3))


def test_redefinition_with_another_expression_is_refused():
    with pytest.raises(ValueError, match="already exists"):
        sg.elemwise_op("gauss_test", a + b, [a, b])
    assert sg.elemwise_op("gauss_test", sympy.exp(-(a**2)) * b, [a, b]) == gauss


def test_undeclared_symbol_is_refused():
    with pytest.raises(ValueError, match="undeclared"):
        sg.elemwise_op("bad_test", a + b, [a])


def test_pickles_by_expression():
    x = sg.vector("x")
    y = gauss(x, 2.0)
    x2, y2 = pickle.loads(pickle.dumps((x, y)))
    np.testing.assert_allclose(sg.function([x2], y2)([0.0]), [2.0])
