"""Every name API.md promises for the core is exported (and listed in docs/ops.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

import symgrad as sg

TYPES = "config scalar vector matrix tensor3 tensor4 tensor constant shared".split()
TYPED = [p + k for p in "bwilfd" for k in ("scalar", "vector", "matrix", "tensor3", "tensor4")]
ELEMWISE = """add sub mul true_divide floor_divide mod pow neg abs exp exp2 expm1 log log2 log10 log1p
sqrt square sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh sigmoid softplus erf sign floor
ceil round maximum minimum where clip eq neq lt le gt ge logical_and logical_or logical_not isnan
isinf cast""".split()
REDUCTIONS = "sum mean prod max min argmax argmin var std logsumexp all any".split()
LINALG = "dot matmul tensordot outer".split()
SHAPE = """reshape transpose flatten concatenate stack squeeze expand_dims broadcast_to zeros ones
zeros_like ones_like full_like arange""".split()
INDEX = "set_subtensor inc_subtensor take".split()
NN = "sigmoid relu softplus softmax log_softmax categorical_crossentropy binary_crossentropy".split()
COMPILE = "function grad jacobian hessian Lop Rop stop_gradient verify_grad DisconnectedInputError".split()
INSPECT = "debugprint to_dot render_graph Op Apply elemwise_op".split()
METHODS = """sum mean prod max min var std argmax argmin reshape flatten transpose dimshuffle astype dot
clip squeeze eval shape T name dtype ndim type""".split()

OPS_DOC = Path(__file__).resolve().parent.parent / "docs" / "ops.md"


@pytest.mark.parametrize(
    "name", TYPES + TYPED + ELEMWISE + REDUCTIONS + LINALG + SHAPE + INDEX + COMPILE + INSPECT
)
def test_exported(name):
    assert hasattr(sg, name), f"sg.{name} is missing"


@pytest.mark.parametrize("name", NN)
def test_nn_exported(name):
    assert hasattr(sg.nn, name), f"sg.nn.{name} is missing"


@pytest.mark.parametrize("name", METHODS)
def test_variable_methods(name):
    assert hasattr(sg.matrix("m"), name)


@pytest.mark.parametrize("name", ELEMWISE + REDUCTIONS + LINALG + SHAPE + INDEX + NN)
def test_documented_in_ops_md(name):
    text = OPS_DOC.read_text()
    assert f"`{name}`" in text or f"`{name}(" in text, f"{name} is not in docs/ops.md"
