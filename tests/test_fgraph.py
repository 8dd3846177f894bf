"""FunctionGraph: private copy, client tracking, type-checked replace, pruning, listeners."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad as sg
from symgrad.graph.fgraph import OUTPUT, FunctionGraph


def _ops(fgraph):
    return [str(n.op) for n in fgraph.toposort()]


def test_clones_the_graph_and_keeps_inputs():
    x = sg.vector("x")
    y = sg.exp(x) * 2
    fg = FunctionGraph([x], [y])
    assert fg.outputs[0] is not y and fg.inputs[0] is x
    assert y.owner.inputs[0].owner.op == fg.outputs[0].owner.inputs[0].owner.op
    fg.check_integrity()


def test_clients_are_tracked():
    x = sg.vector("x")
    e = sg.exp(x)
    y = e * e + e
    fg = FunctionGraph([x], [y])
    e2 = fg.outputs[0].owner.inputs[1]
    assert len(fg.clients[e2]) == 3  # twice in mul, once in add
    assert list(fg.clients[fg.outputs[0]]) == [(OUTPUT, 0)]


def test_replace_intermediate_prunes_dead_nodes():
    x = sg.vector("x")
    y = sg.log(sg.exp(x)) + 1
    fg = FunctionGraph([x], [y])
    log_out = fg.outputs[0].owner.inputs[0]
    fg.replace(log_out, x, reason="log_exp")
    assert _ops(fg) == ["add"]
    fg.check_integrity()
    np.testing.assert_allclose(sg.function([x], fg.outputs[0])([1.0, 2.0]), [2.0, 3.0])
    assert str(y.owner.inputs[0].owner.op) == "log"  # the user's graph is untouched


def test_replace_output():
    x = sg.vector("x")
    fg = FunctionGraph([x], [sg.neg(sg.neg(x))])
    fg.replace(fg.outputs[0], x)
    assert fg.outputs[0] is x and not fg.apply_nodes
    fg.check_integrity()


def test_replacement_may_read_the_replaced_variable():
    x = sg.vector("x")
    fg = FunctionGraph([x], [sg.exp(x) + 1])
    e = fg.outputs[0].owner.inputs[0]
    fg.replace(e, e * 2)
    assert _ops(fg) == ["exp", "mul", "add"]
    fg.check_integrity()


def test_replace_is_type_checked():
    x = sg.vector("x")
    fg = FunctionGraph([x], [sg.exp(x)])
    with pytest.raises(TypeError, match="dtype or rank"):
        fg.replace(fg.outputs[0], sg.fvector())
    with pytest.raises(TypeError, match="dtype or rank"):
        fg.replace(fg.outputs[0], sg.matrix())
    a = sg.tensor("a", shape=(3,))
    fg2 = FunctionGraph([a], [sg.exp(a)])
    with pytest.raises(TypeError, match="static shapes"):
        fg2.replace(fg2.outputs[0], sg.tensor(shape=(4,)))


class Recorder:
    def __init__(self):
        self.events = []

    def on_import(self, fgraph, node):
        self.events.append(("import", str(node.op)))

    def on_prune(self, fgraph, node):
        self.events.append(("prune", str(node.op)))

    def on_change_input(self, fgraph, node, i, old, new):
        self.events.append(("change", str(getattr(node, "op", node))))


def test_listeners_hear_every_change():
    x = sg.vector("x")
    fg = FunctionGraph([x], [sg.exp(x) + 1])
    rec = Recorder()
    fg.attach(rec)
    fg.replace(fg.outputs[0].owner.inputs[0], sg.sin(x))
    assert ("import", "sin") in rec.events and ("prune", "exp") in rec.events
    assert ("change", "add") in rec.events


def test_deep_graph_prunes_iteratively():
    x = sg.vector("x")
    y = x
    for _ in range(5000):
        y = sg.sin(y)
    fg = FunctionGraph([x], [y + 1])
    fg.replace(fg.outputs[0].owner.inputs[0], x)
    assert len(fg.apply_nodes) == 1
