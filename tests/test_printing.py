"""Looking inside graphs: debugprint text trees, Graphviz DOT text and rendering."""

from __future__ import annotations

import io
import re
import shutil

import numpy as np
import pytest

import symgrad as sg
from symgrad.graph.basic import Apply, Op
from symgrad.printing import debugprint, dot, render_graph, to_dot

HAVE_DOT = shutil.which("dot") is not None


class TwoOutputs(Op):
    """A test op with two outputs (x + 1, x * 2), to show ``op.0`` / ``op.1`` lines."""

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return Apply(self, [x], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        output_storage[0][0] = x + 1
        output_storage[1][0] = x * 2


def quiet(obj) -> str:
    return debugprint(obj, file=io.StringIO())


def ids_on(line: str) -> list[str]:
    return re.findall(r"\[id ([A-Z]+)\]", line)


# -- debugprint ------------------------------------------------------------------------------
def test_debugprint_shows_op_id_type_and_name():
    x = sg.dvector("x")
    y = sg.sin(x) * 2.0
    y.name = "y"
    lines = quiet(y).splitlines()
    assert lines[0] == "mul [id A] float64(?,) 'y'"
    assert lines[1] == " |sin [id B] float64(?,)"
    assert lines[2] == " | |Input [id C] float64(?,) 'x'"
    assert lines[3] == " |Constant{2.0} [id D] float64()"
    assert len(lines) == 4


def test_debugprint_prints_and_returns(capsys):
    x = sg.fmatrix("x")
    text = debugprint(x.sum(axis=1))
    assert capsys.readouterr().out == text + "\n"
    assert "sum{" in text and "axis=(1,)" in text  # props are shown
    assert "float32(?,)" in text and "float32(?, ?)" in text


def test_debugprint_writes_to_file():
    x = sg.dscalar("x")
    buffer = io.StringIO()
    text = debugprint(sg.exp(x), file=buffer)
    assert buffer.getvalue() == text + "\n"


def test_debugprint_roots_shared_and_constants():
    w = sg.shared(np.ones((2, 3), dtype="float32"), name="w")
    big = sg.constant(np.arange(10.0))
    i = sg.iscalar("i")
    text = quiet([w * 3, big + i])
    assert "Shared [id B] float32(?, ?) 'w'" in text
    assert "Constant{3.0} [id C] float32()" in text  # the weak 3 adapts to float32
    assert "Constant{array of shape (10,)}" in text
    assert "Input [id" in text and "int32() 'i'" in text


def test_shared_subgraph_printed_once():
    x = sg.dvector("x")
    h = sg.exp(sg.sin(x))
    y = h * h + h
    lines = quiet(y).splitlines()
    expanded = [line for line in lines if line.lstrip(" |").startswith("exp") and not line.endswith("...")]
    repeats = [line for line in lines if line.lstrip(" |").startswith("exp") and line.endswith("...")]
    assert len(expanded) == 1 and len(repeats) == 2
    assert {ids_on(line)[0] for line in expanded + repeats} == {ids_on(expanded[0])[0]}
    assert sum("sin" in line for line in lines) == 1  # not re-expanded below a repeat
    assert sum("'x'" in line for line in lines) == 1


def test_list_shares_ids_between_trees():
    x = sg.dvector("x")
    h = sg.tanh(x)
    h.name = "h"
    lines = quiet([h * 2.0, h + 1.0]).splitlines()
    h_lines = [line for line in lines if "'h'" in line]
    assert len(h_lines) == 2 and h_lines[1].endswith("...")
    assert ids_on(h_lines[0]) == ids_on(h_lines[1])


def test_same_root_twice_keeps_one_id():
    x = sg.dvector("x")
    lines = quiet(x * x).splitlines()
    assert ids_on(lines[1]) == ids_on(lines[2])
    assert not lines[2].endswith("...")  # roots have nothing to expand


def test_multi_output_node_lines():
    x = sg.dvector("x")
    a, b = TwoOutputs()(x)
    lines = quiet(a + b).splitlines()
    assert lines[1].startswith(" |TwoOutputs.0 [id B]")
    assert lines[3].startswith(" |TwoOutputs.1 [id B]") and lines[3].endswith("...")


def test_debugprint_function_outputs_and_updates():
    x = sg.dvector("x")
    w = sg.shared(np.zeros(3), name="w")
    loss = ((x - w) ** 2).sum()
    loss.name = "loss"
    f = sg.function([x], loss, updates=[(w, w - 0.1 * sg.grad(loss, w))], name="train", exclude=["all"])
    text = quiet(f)
    lines = text.splitlines()
    assert lines[0] == "function 'train' (inputs: x)"
    assert lines[1] == "outputs:"
    assert lines[2].startswith("sum{") and "'loss'" in lines[2]
    assert "updates:" in lines
    update_line = lines[lines.index("updates:") + 1]
    assert update_line.startswith("Shared [id") and "'w' <- sub [id" in update_line
    # the shared variable keeps one id in the outputs and in the update
    w_ids = {ids_on(line)[0] for line in lines if "'w'" in line}
    assert len(w_ids) == 1


def test_debugprint_function_shows_givens_applied():
    x = sg.dvector("x")
    z = sg.dvector("z")
    h = sg.exp(x)
    f = sg.function([z], h.sum(), givens={x: z * 2.0})
    text = quiet(f)
    assert "'z'" in text and "'x'" not in text
    assert "updates:" not in text


def test_debugprint_rejects_other_objects():
    with pytest.raises(sg.GraphTypeError, match="compiled function, got int"):
        quiet(42)


def test_debugprint_deep_lines_stay_short():
    x = sg.dscalar("x")
    y = x
    for _ in range(200):
        y = sg.sin(y)
    lines = quiet(y).splitlines()
    assert len(lines) == 201
    assert max(len(line) for line in lines) < 120
    assert lines[-1].startswith(" [depth 200]|Input")


def test_printing_exported_at_top_level():
    assert sg.debugprint is debugprint
    assert sg.to_dot is to_dot
    assert sg.render_graph is render_graph


# -- to_dot ----------------------------------------------------------------------------------
def test_to_dot_boxes_ellipses_and_positions():
    x = sg.dvector("x")
    y = sg.dvector("y")
    out = sg.true_divide(x, sg.exp(y))
    text = to_dot(out)
    assert text.startswith("digraph symgrad {") and text.rstrip().endswith("}")
    assert len(re.findall(r"shape=box", text)) == 2
    assert len(re.findall(r"shape=ellipse", text)) == 4
    assert re.search(r'label="true_divide"', text)
    assert re.search(r'label="x\\nfloat64\(\?,\)"', text)
    # x is input 0 of the division, exp(y) is input 1
    names = dict(re.findall(r'(v\d+) \[shape=ellipse, label="(\w+)\\n', text))
    x_name = next(k for k, v in names.items() if v == "x")
    div_name = re.search(r'(n\d+) \[shape=box, label="true_divide"\]', text).group(1)
    assert f'{x_name} -> {div_name} [label="0"];' in text
    assert re.search(rf'v\d+ -> {div_name} \[label="1"\];', text)


def test_to_dot_escapes_names_and_marks_roles():
    x = sg.dvector('say "hi"\\')
    w = sg.shared(np.ones(3), name="w")
    text = to_dot((x * w + 1.0).sum())
    assert 'label="say \\"hi\\"\\\\\\nfloat64(?,)"' in text
    assert 'fillcolor="palegreen"' in text and 'fillcolor="lightblue"' in text
    assert 'fillcolor="lightgrey"' in text and 'fillcolor="orange"' in text


def test_to_dot_function_has_update_edges():
    x = sg.dvector("x")
    w = sg.shared(np.zeros(3), name="w")
    f = sg.function([x], x.sum(), updates={w: w + x})
    text = to_dot(f)
    assert re.search(r'v\d+ -> v\d+ \[label="update", style=dashed\];', text)


def test_to_dot_multi_output_edges_are_numbered():
    a, b = TwoOutputs()(sg.dvector("x"))
    text = to_dot([a, b])
    assert re.search(r'n\d+ -> v\d+ \[label="0"\];', text)
    assert re.search(r'n\d+ -> v\d+ \[label="1"\];', text)


# -- render_graph ----------------------------------------------------------------------------
def test_render_graph_without_graphviz(monkeypatch, tmp_path):
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz.*missing"):
        render_graph(sg.exp(sg.dvector("x")), tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


def test_render_graph_rejects_unknown_format(tmp_path):
    with pytest.raises(sg.GraphValueError, match="render_graph.*'gif'"):
        render_graph(sg.exp(sg.dvector("x")), tmp_path / "g.gif")


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed")
def test_render_graph_svg_and_png(tmp_path):
    x = sg.dvector('x "quoted"')
    w = sg.shared(np.zeros(3), name="w")
    f = sg.function([x], (x * w).sum(), updates={w: w + x})
    svg = render_graph(f, tmp_path / "g.svg")
    assert svg == str(tmp_path / "g.svg")
    assert "<svg" in (tmp_path / "g.svg").read_text()
    render_graph(sg.exp(x), str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    render_graph(sg.exp(x), tmp_path / "picture", format="svg")
    assert "<svg" in (tmp_path / "picture").read_text()
