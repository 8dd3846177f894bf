"""The C runner (csrc_templates/runner.c): one CPython entry point per call of a mode 'c'
function. Its results are covered by every mode 'c' test; these tests cover what is its own:
reference counts, malformed descriptions, re-entrant calls, collection, and the fallback."""

from __future__ import annotations

import gc
import sys
import warnings
import weakref
from concurrent.futures import Future

import numpy as np
import pytest
from helpers import rng

import symgrad as sg
from symgrad.compile import cbuild, program, runner
from symgrad.compile.cbuild import CCompileError, compiler_available
from symgrad.config import Config

pytestmark = pytest.mark.skipif(
    not compiler_available() or runner.runner_module() is None, reason="the C runner needs a compiler"
)


def test_a_mode_c_function_runs_through_the_c_runner():
    x = sg.vector("x")
    f = sg.function([x], x + 1.0, mode="c")
    assert type(f.vm.call_program).__name__ == "Program"
    assert f.vm.source.startswith("C runner program: 1 roots, 1 steps")
    np.testing.assert_array_equal(f(np.arange(3.0)), [1.0, 2.0, 3.0])
    assert Config({"SYMGRAD_RUNNER": "py"}).runner == "py" and Config({}).runner == "c"


def _graphs():
    x, w, i = sg.matrix("x"), sg.matrix("w"), sg.lscalar("i")
    h = sg.tanh(sg.dot(x, w) + 1.0)
    return [x, w, i], [h.sum(axis=1) * 2.0, sg.nn.softmax(h)[i], (h.T * 3.0).reshape((-1,))]


def test_calls_keep_reference_counts_balanced_on_success_and_on_errors():
    inputs, outputs = _graphs()
    f = sg.function(inputs, outputs, mode="c")
    one = sg.function(inputs[:2], outputs[0], mode="c")
    a, b, k = rng(1).normal(size=(5, 4)), rng(2).normal(size=(4, 4)), np.array(2)
    bad = [(a, b, np.array(7)), (a, b[:3], k), (a[None], b, k)]
    before = [sys.getrefcount(v) for v in (a, b, k)]
    for _ in range(50):
        results = f(a, b, k)
        out = one(a, b)
    assert sys.getrefcount(out) == 2  # the local, and getrefcount's argument
    assert [sys.getrefcount(results[j]) for j in range(3)] == [2, 2, 2]  # the list, the argument
    for args in bad * 20:  # an index out of bounds, shapes that do not fit, a wrong rank
        with pytest.raises((IndexError, ValueError, TypeError)):
            f(*args)
    gc.collect()  # the tracebacks' frames
    assert [sys.getrefcount(v) for v in (a, b, k)] == before


def test_kernel_errors_name_the_op_and_the_users_line():
    x, i = sg.vector("x"), sg.lscalar("i")
    f = sg.function([x, i], x[i] * 2.0, mode="c")
    with pytest.raises(IndexError, match=r"test_c_runner\.py:\d+"):
        f(np.zeros(3), np.array(5))


def test_malformed_descriptions_are_refused():
    Program = runner.runner_module().Program
    f64 = np.dtype(np.float64)
    check = lambda c, v: v  # noqa: E731

    def program(n_cells=2, roots=((0, f64, 1, False),), constants=(), steps=(), outputs=(0,), unwrap=False):
        return Program(n_cells, roots, constants, steps, outputs, check, unwrap)

    assert program()([np.zeros(2)])[0].shape == (2,)
    for bad in [
        dict(roots=((5, f64, 1, False),)),  # a cell out of range
        dict(roots=((0, "float64", 1, False),)),  # not a dtype object
        dict(outputs=(9,)),
        dict(steps=((7,),)),  # an unknown step kind
        dict(steps=((0, print, print, 0, (0,), (f64,), 1, f64, 1, -1, -1, ()),)),  # a null address
        dict(steps=((1, print, print, 1, 1, (0,), (f64,), (1,), ((0, 9, f64),), 2, -1, ()),)),
        dict(
            steps=((2, print, (0,), (1,), False, ()), (2, print, (0,), (1,), False, ())),
            outputs=(0, 1),
            unwrap=True,
        ),
    ]:
        with pytest.raises(ValueError, match="malformed program description"):
            program(**bad)
    with pytest.raises(TypeError, match="takes 1 root values, got 2"):
        program()([np.zeros(2), np.zeros(2)])


def test_a_call_from_inside_a_call_allocates_its_own_arrays():
    """A user op's ``perform`` that calls the same function again: the inner call must not
    take the reused arrays the outer call is still using."""
    calls = []

    class Reenter(sg.Op):
        def make_node(self, x):
            x = sg.as_tensor_variable(x)
            return sg.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, outputs):
            if not calls:
                calls.append(1)
                inner = f(inputs[0] * 0.5, w_value)
                outputs[0][0] = inputs[0] + inner.sum()
            else:
                outputs[0][0] = inputs[0].copy()

    x, w = sg.matrix("x"), sg.matrix("w")
    h = sg.tanh(sg.dot(x, w)) * 2.0
    f = sg.function([x, w], sg.dot(Reenter()(h) + 1.0, w), mode="c")
    assert f.vm.call_program.n_pool > 0
    a, w_value = rng(3).normal(size=(4, 3)), rng(4).normal(size=(3, 3))
    got = f(a, w_value)
    h_outer = np.tanh(a @ w_value) * 2.0
    h_inner = np.tanh((h_outer * 0.5) @ w_value) * 2.0
    inner = (h_inner + 1.0) @ w_value
    np.testing.assert_allclose(got, (h_outer + inner.sum() + 1.0) @ w_value, rtol=1e-12)


def test_a_dropped_function_is_collected():
    x = sg.vector("x")
    f = sg.function([x], sg.exp(x) + 1.0, mode="c")
    f(np.ones(3))
    gone = weakref.ref(f.vm)
    del f
    gc.collect()
    assert gone() is None


def test_byteswapped_unaligned_and_strided_roots_are_converted():
    x, y = sg.vector("x"), sg.vector("y")
    f = sg.function([x, y], x * y + 1.0, mode="c")
    a = np.arange(6.0)
    swapped = a.astype(">f8")
    raw = np.zeros(6 * 8 + 1, np.uint8)[1:].view(np.float64)  # not aligned
    raw[:] = a
    assert not raw.flags.aligned
    for args in [(swapped, a), (raw, a), (a[::-1], a[::-1]), (a, np.float64(2.0) * np.ones(6))]:
        np.testing.assert_array_equal(f(*args), np.asarray(args[0]) * np.asarray(args[1]) + 1.0)


def test_without_the_c_runner_functions_run_the_python_program(monkeypatch):
    failed: Future = Future()
    failed.set_result(CCompileError("no Python.h"))
    monkeypatch.setitem(cbuild._background, runner.BUILD_NAME, failed)
    monkeypatch.setattr(runner, "_warned", [])
    x = sg.vector("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = sg.function([x], x * 2.0, mode="c")
        g = sg.function([x], x * 3.0, mode="c")
    assert [w.category for w in caught] == [runner.RunnerFallbackWarning]  # once
    assert "no Python.h" in str(caught[0].message)
    assert "compiled_graph" in f.vm.source and "compiled_graph" in g.vm.source
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_profiles_time_the_steps_of_the_real_run():
    x, w = sg.matrix("x"), sg.matrix("w")
    f = sg.function([x, w], sg.tanh(sg.dot(x, w)).sum(axis=0) * 2.0, mode="c", profile=True)
    a, b = rng(5).normal(size=(6, 4)), rng(6).normal(size=(4, 3))
    for _ in range(3):
        np.testing.assert_allclose(f(a, b), np.tanh(a @ b).sum(axis=0) * 2.0, rtol=1e-12)
    profile = f.profile
    assert profile.calls == 3 and len(profile.rows) == len(f.vm.steps)
    assert all(t > 0 for t, _ in profile.rows)


def test_arrays_viewed_within_a_call_are_reused_and_viewed_outputs_are_not():
    x, w = sg.matrix("x"), sg.matrix("w")
    inner = sg.dot(sg.tanh(sg.dot(x, w)).T, x)  # the tanh's array is read through a view
    f = sg.function([x, w], [inner, (sg.dot(x, w) * 2.0).T], mode="c")
    pooled = {str(f.vm.steps[k].node.op) for k in program.reusable_steps(f.vm.steps, f.vm.output_cells)}
    assert "tanh" in pooled and "mul" not in pooled  # the mul's array leaves as the output's base
    gen, kept = rng(7), []
    for rows in (5, 5, 3, 5):
        a, b = gen.normal(size=(rows, 4)), gen.normal(size=(4, 4))
        got = f(a, b)
        kept.append((got, (np.tanh(a @ b).T @ a, (a @ b * 2.0).T)))
    for got, want in kept:  # no later call wrote into an earlier call's outputs
        for u, v in zip(got, want):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_a_kernel_with_more_operands_than_the_runner_holds_runs_through_its_step():
    xs = [sg.vector(f"x{k}") for k in range(runner.MAX_OPERANDS + 3)]
    f = sg.function(xs, sg.concatenate(xs) * 2.0, mode="c")
    assert max(len(s.ins) for s in f.vm.steps) > runner.MAX_OPERANDS and "Python call" in f.vm.source
    values = [np.full(2, 0.5 + k) for k in range(len(xs))]
    np.testing.assert_array_equal(f(*values), np.concatenate(values) * 2.0)
