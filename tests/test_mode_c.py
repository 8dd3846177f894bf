"""Mode 'c' (compiled elementwise kernels, NumPy ``perform`` for the rest) against mode 'py'.

Many graphs are compiled into one function where possible: each distinct kernel costs about
80 ms of compiler time on a cold cache (later runs load the library from the disk cache).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import check_grad, rng

import symgrad as sg
from symgrad.compile import cvm, program
from symgrad.compile.cbuild import compiler_available
from symgrad.compile.cvm import CVM
from symgrad.compile.modes import CompilerFallbackWarning
from symgrad.config import Config
from symgrad.ops import scalar_ops as so
from symgrad.ops.composite import Composite
from symgrad.ops.elemwise import SCALAR_OPS, Elemwise, ScalarOp

pytestmark = pytest.mark.skipif(not compiler_available(), reason="mode 'c' needs a C compiler")

# Op types that may still run through NumPy ``perform`` in mode 'c'. A C kernel for one of
# them makes ``test_python_nodes_are_exactly_the_table`` fail: then remove its row here.
PYTHON_OPS: set[str] = set()
# Op types that run as NumPy views (``cvm.VIEW_OPS``): they move no data.
VIEW_OPS = {"DimShuffle", "Reshape"}
# Rows computed by libm/libmvec in C and by NumPy's own loops in mode 'py': equal to a few ulps.
LIBM_OPS = {
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin",
    "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "sigmoid", "softplus", "erf", "pow",
}  # fmt: skip
DTYPES = ("float32", "float64", "int32", "bool")
N = 9


def both(inputs, outputs, **kwargs):
    """The same graph compiled in mode 'py' and mode 'c'."""
    return (sg.function(inputs, outputs, mode=m, **kwargs) for m in ("py", "c"))


def assert_same(got, want, name="", ulp_op=False):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, name
    if ulp_op and want.dtype.kind == "f":
        eps = np.finfo(want.dtype).eps
        np.testing.assert_allclose(got, want, rtol=16 * eps, atol=16 * eps, equal_nan=True, err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def sample(dtype, rng, n=N, positive=False):
    if dtype == "bool":
        return rng.random(n) < 0.5
    if dtype.startswith("int"):
        low = 0 if positive else -6
        return rng.integers(low, 7, n).astype(dtype)
    values = rng.uniform(0.05 if positive else -2.5, 2.5, n)
    values[:3] = [0.0, 1.0, -1.0] if not positive else [0.5, 1.0, 2.0]
    return values.astype(dtype)


def table_cases():
    """(scalar op, input dtypes) for every row of the table over DTYPES (and a few mixes)."""
    cases = []
    for sop in SCALAR_OPS.values():
        if type(sop) is not ScalarOp:
            continue
        nin = sop.nin or 2
        for d in DTYPES:
            dtypes = ("bool", d, d) if sop.name == "where" else (d,) * nin
            cases.append((sop, dtypes))
        if nin == 2:
            cases += [(sop, ("int32", "float32")), (sop, ("float32", "float64"))]
    cases += [(sop, ("float64", "int32", "float32")) for sop in (so.add, so.mul)]
    return [(sop, d) for sop, d in cases if _valid(sop, d)]


def _valid(sop, dtypes) -> bool:
    try:
        sop.output_dtype(tuple(dtypes))
    except (TypeError, ValueError):
        return False
    return True


def test_every_table_op_agrees_with_py():
    inputs = {d: [sg.vector(f"{d}_{k}", dtype=d) for k in range(3)] for d in DTYPES}
    exponent = sg.vector("exponent", dtype="int32")
    outputs, labels = [], []
    for sop, dtypes in table_cases():
        args = [inputs[d][k] for k, d in enumerate(dtypes)]
        if sop.name == "pow" and dtypes[1] == "int32":
            args[1] = exponent  # NumPy refuses negative integer powers
        outputs.append(Elemwise(sop)(*args))
        labels.append((sop.name, dtypes))
    roots = [v for d in DTYPES for v in inputs[d]] + [exponent]
    gen = rng(1)
    values = [sample(v.dtype, gen) for v in roots[:-1]] + [sample("int32", gen, positive=True)]
    fpy, fc = both(roots, outputs, exclude=["all"], on_unused_input="ignore")
    assert not fc.vm.python_nodes
    with np.errstate(all="ignore"):
        for got, want, (name, dtypes) in zip(fc(*values), fpy(*values), labels):
            assert_same(got, want, f"{name}{dtypes}", ulp_op=name in LIBM_OPS)


# --- layouts and broadcasting --------------------------------------------------------------------
def layout_function():
    m1, m2 = sg.matrix("m1"), sg.matrix("m2")
    v, s = sg.vector("v"), sg.scalar("s")
    outputs = [
        m1 + m2,
        m1 * v - s,
        sg.exp(m1) * sg.sin(m2) + s,  # a composite with a 0-d input
        sg.maximum(m1, v) > m2,
        sg.where(m1 > 0, m2, v),
    ]
    return [m1, m2, v, s], outputs


def layouts(gen):
    a = gen.standard_normal((6, 8))
    b = gen.standard_normal((6, 8))
    v = gen.standard_normal(8)
    s = np.float64(0.25)
    yield "contiguous", (a[:3, :4].copy(), b[:3, :4].copy(), v[:4].copy(), s)
    yield "strided", (a[::2, ::2], b[:3, ::2], v[::2], s)
    yield "negative strides", (a[::-2, ::-2], b[3:, 4:], v[::-2], s)
    yield "fortran", (np.asfortranarray(a), b.T.copy().T, v, s)
    yield "transposed", (a[:, :6].T, b[:6, :6], v[:6], s)
    yield "row broadcast", (a[:1], b, v, s)
    yield "column and row", (a[:, :1], b[:1], v[:1], s)
    yield "zero size", (a[:0], b[:0], v, s)
    yield "zero size broadcast", (a[:1, :0], b[:, :0], v[:0], s)
    yield "length one", (a[:1, :1], b[:1, :1], v[:1], s)


def test_layouts_and_broadcasting_agree_with_py():
    inputs, outputs = layout_function()
    fpy, fc = both(inputs, outputs)
    assert not fc.vm.python_nodes
    for label, args in layouts(rng(2)):
        for k, (got, want) in enumerate(zip(fc(*args), fpy(*args))):
            assert_same(got, want, f"{label}: output {k}", ulp_op=True)
            assert got.flags.c_contiguous and got.flags.writeable


def test_zero_d_and_lower_rank_inputs():
    s, t = sg.scalar("s"), sg.scalar("t", dtype="float32")
    v, t3 = sg.vector("v"), sg.tensor3("t3")
    fpy, fc = both([s, t, v, t3], [s * t + 1, sg.tanh(s) - t, t3 + v, v * s, t3 * s])
    gen = rng(3)
    args = (np.float64(0.5), np.float32(-2.0), gen.standard_normal(4), gen.standard_normal((2, 3, 4)))
    for got, want in zip(fc(*args), fpy(*args)):
        assert_same(got, want, ulp_op=True)
    assert fc(*args)[0].shape == ()


def test_trust_input_values_are_converted_or_refused():
    x = sg.vector("x")
    fc = sg.function([x], x * 2, mode="c", trust_input=True)
    np.testing.assert_array_equal(fc([1, 2, 3]), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(fc(np.arange(3, dtype=">f8")), [0.0, 2.0, 4.0])
    with pytest.raises(TypeError, match="float64"):
        fc(np.ones((2, 2)))


def test_fused_composite_matches_numpy():
    for dtype in ("float32", "float64"):
        x = sg.vector("x", dtype=dtype)
        fc = sg.function([x], sg.exp(-(x**2)) * sg.sin(x) + sg.tanh(0.5 * x), mode="c")
        assert len(fc.nodes) == 1 and isinstance(fc.nodes[0].op.scalar_op, Composite)
        a = rng(4).uniform(-4, 4, 1001).astype(dtype)
        want = np.exp(-(a**2)) * np.sin(a) + np.tanh(0.5 * a)
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(fc(a), want, rtol=16 * eps, atol=16 * eps)
        assert fc(a).dtype == dtype


def test_inplace_mark_is_honoured_only_when_the_buffer_fits():
    a, b, m = sg.matrix("a"), sg.matrix("b"), sg.matrix("m")
    fpy, fc = both([a, b, m], sg.exp(a @ b) * m + 1)
    marked = [n for n in fc.nodes if n.tag.get("inplace") is not None]
    assert marked and all(n not in fc.vm.python_nodes for n in marked)
    gen = rng(5)
    for rows in (3, 1):  # (1, n) @ ... broadcast against m: the buffer is too small then
        args = (gen.standard_normal((rows, 4)), gen.standard_normal((4, 5)), gen.standard_normal((3, 5)))
        assert_same(fc(*args), fpy(*args), ulp_op=True)


def test_concurrent_calls_from_threads():
    """cffi releases the GIL during a kernel call: calls must share no buffers."""
    x, y = sg.matrix("x"), sg.vector("y")
    fc = sg.function([x, y], sg.tanh(x * y) + x, mode="c")
    gen = rng(8)
    cases = [(gen.standard_normal((50, k + 1)), gen.standard_normal(k + 1)) for k in range(8)]
    wanted = [np.tanh(a * b) + a for a, b in cases]

    def work(k):
        return all(np.allclose(fc(*cases[(k + j) % 8]), wanted[(k + j) % 8]) for j in range(200))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


# --- graphs: gradients, the digits MLP --------------------------------------------------------------
def test_gradients_agree_with_py():
    x, w = sg.vector("x"), sg.matrix("w")
    costs = [
        sg.sum(sg.tanh(w @ x) ** 2),
        sg.sum(sg.nn.sigmoid(w) * sg.log1p(sg.exp(-(w**2)))),
        sg.mean(sg.nn.softmax(w) * w) + sg.sum(sg.sqrt(x * x + 1.0)),
    ]
    grads = [g for c in costs for g in sg.grad(c, [x, w], disconnected_inputs="ignore")]
    fpy, fc = both([x, w], grads)
    gen = rng(6)
    args = (gen.standard_normal(4), gen.standard_normal((3, 4)))
    for got, want in zip(fc(*args), fpy(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    check_grad(lambda xv, wv: sg.sum(sg.tanh(wv @ xv) ** 2), [args[0], args[1]])


def test_digits_mlp_training_steps_agree_with_py():
    pytest.importorskip("sklearn")
    from symgrad.examples import digits

    images, _, labels, _ = digits.load_split(0)
    losses = {}
    for mode in ("py", "c"):
        params = digits.init_params(np.random.default_rng(0), [64, 32, 10])
        with sg.config.override(mode=mode):
            train, predict = digits.compile_model(params, lr=0.1, momentum=0.9)
        assert train.mode == mode
        losses[mode] = [train(images[k : k + 64], labels[k : k + 64]) for k in range(0, 320, 64)]
        losses[mode].append(predict(images[:50]))
    for got, want in zip(losses["c"][:-1], losses["py"][:-1]):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_array_equal(losses["c"][-1], losses["py"][-1])


def python_op_types(fn) -> set[str]:
    return {type(n.op).__name__ for n in fn.vm.python_nodes}


def test_python_nodes_are_exactly_the_table():
    """Every elementwise node runs in C; the other op types are the table (no more, no less)."""
    pytest.importorskip("sklearn")
    from symgrad.examples import digits

    params = digits.init_params(np.random.default_rng(0), [64, 32, 10])
    with sg.config.override(mode="c"):
        train, predict = digits.compile_model(params, lr=0.1, momentum=0.9)
    x, y = sg.matrix("x"), sg.matrix("y")
    more = sg.function(
        [x, y],
        [
            sg.reshape(x, (-1,))[1:3] * 2,
            sg.nn.softmax(x) + 1,
            sg.grad(sg.sum(sg.nn.log_softmax(x) * y), x),
            sg.sum(sg.exp(x), axis=0),
            2.0 * (x @ y) + x,
            sg.sum(x + y, axis=1),
            sg.zeros_like(x) + x.shape[0],
        ],
        mode="c",
        on_unused_input="ignore",
    )
    seen = python_op_types(train) | python_op_types(predict) | python_op_types(more)
    for fn in (train, predict, more):
        assert all(not isinstance(n.op, Elemwise) for n in fn.vm.python_nodes)
    assert seen == PYTHON_OPS, f"ran through Python: {sorted(seen)}"
    views = {type(n.op).__name__ for fn in (train, predict, more) for n in fn.vm.view_nodes}
    assert views == VIEW_OPS


def test_huge_composites_and_uncompilable_kernels_run_through_numpy(monkeypatch):
    x = sg.vector("x")
    monkeypatch.setattr(cvm, "MAX_COMPOSITE_STEPS", 2)
    fpy, fc = both([x], [sg.exp(-(x**2)) * sg.sin(x), x * 3])
    assert [type(n.op.scalar_op).__name__ for n in fc.vm.python_nodes] == ["Composite"]
    a = rng(7).standard_normal(5)
    for got, want in zip(fc(a), fpy(a)):
        assert_same(got, want)
    monkeypatch.undo()
    bad = Elemwise(ScalarOp("negative_without_c", 1, np.negative, c_expr="no_such_function({0})"))
    with pytest.warns(UserWarning, match="no_such_function"):
        fc = sg.function([x], [bad(x), x * 3], mode="c")
    assert [n.op for n in fc.vm.python_nodes] == [bad]
    np.testing.assert_array_equal(fc(a)[0], -a)


# --- errors, fallback, pickling -------------------------------------------------------------------
def test_shapes_that_do_not_broadcast_name_the_op_and_line():
    a, b = sg.vector("a"), sg.vector("b")
    fc = sg.function([a, b], sg.exp(a) * b, mode="c")
    with pytest.raises(sg.ShapeError, match=r"(?s)Composite.*test_mode_c\.py:\d+.*\(3,\).*\(4,\)"):
        fc(np.ones(3), np.ones(4))


def test_kernel_errors_raise_like_numpy():
    a, b = sg.vector("a", dtype="int32"), sg.vector("b", dtype="int32")
    fc = sg.function([a, b], a**b, mode="c")
    np.testing.assert_array_equal(fc([2, 3], [3, 2]), [8, 9])
    with pytest.raises(ValueError, match=r"(?s)pow.*test_mode_c\.py.*negative integer powers"):
        fc([2, 3], [1, -1])


def test_no_compiler_falls_back_to_py_with_one_warning():
    x = sg.vector("x")
    with sg.config.override(cc="/nonexistent/cc"):
        with pytest.warns(CompilerFallbackWarning, match=r"(?s)install gcc.*CC") as record:
            f = sg.function([x], x + 1, mode="c")
        assert record[0].filename == __file__
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            g = sg.function([x], x * 2, mode="c")
    assert f.mode == g.mode == "py"
    np.testing.assert_array_equal(f([1.0]), [2.0])
    assert sg.function([x], x + 1, mode="c").mode == "c"
    with pytest.raises(sg.ModeUnavailableError):
        sg.function([x], x, mode="cuda")


def test_pickled_function_reloads_from_the_disk_cache_in_a_new_process(tmp_path):
    x, w = sg.vector("x"), sg.shared(np.arange(3.0), "w")
    f = sg.function([x], sg.tanh(x * w) + sg.sum(w), mode="c", name="pickled")
    path = tmp_path / "f.pkl"
    path.write_bytes(pickle.dumps(f))
    script = textwrap.dedent(
        f"""
        import pickle, numpy as np
        f = pickle.loads(open({str(path)!r}, "rb").read())
        assert f.mode == "c", f.mode
        print(f.vm.compile_seconds, f.vm.library.key, f(np.array([1.0, 2.0, 3.0])).tolist())
        """
    )
    root = str(Path(sg.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "SYMGRAD_CACHE_DIR": sg.config.cache_dir}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    seconds, key, values = done.stdout.split(" ", 2)
    assert float(seconds) == 0.0 and key == f.vm.library.key
    np.testing.assert_allclose(eval(values), f(np.array([1.0, 2.0, 3.0])))


class NumpyOnlyNegate(sg.Op):
    """A user op with a NumPy implementation and no C: it runs through Python in mode 'c'."""

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = -inputs[0]


def test_profile_and_debugprint_show_the_python_and_view_nodes():
    x = sg.matrix("x")
    f = sg.function([x], NumpyOnlyNegate()(sg.sum(x, axis=0) * 2.0) + x.T[:, 0], mode="c", profile=True)
    assert isinstance(f.vm, CVM)
    np.testing.assert_array_equal(f(np.ones((2, 3))), [-3.0, -3.0, -3.0])
    assert f.profile.calls == 1 and "sum" in f.profile.summary()
    lines = sg.debugprint(f, file=open(os.devnull, "w")).splitlines()
    assert [line.lstrip("| ").split()[0] for line in lines if line.endswith("[python]")] == [
        "NumpyOnlyNegate"
    ]
    assert any(line.lstrip("| ").startswith("DimShuffle") and line.endswith("[view]") for line in lines)
    assert not any("sum" in line and ("[python]" in line or "[view]" in line) for line in lines)
    fpy = sg.function([x], NumpyOnlyNegate()(x), mode="py")
    assert "[python]" not in sg.debugprint(fpy, file=open(os.devnull, "w"))


def test_a_long_chain_compiles_as_several_bounded_kernels():
    x = sg.vector("x")
    y = x
    for _ in range(700):  # 2100 scalar steps: more than one composite may hold
        y = sg.sin(y) * 1.0001 + 0.1
    fc = sg.function([x], y, mode="c")
    assert not fc.vm.python_nodes and len(fc.vm.steps) >= 3
    a = np.linspace(-1, 1, 21)
    want = a
    for _ in range(700):
        want = np.sin(want) * 1.0001 + 0.1
    np.testing.assert_allclose(fc(a), want, rtol=1e-12)


def test_the_default_mode_is_c():
    assert Config({}).mode == "c" and Config({"SYMGRAD_MODE": "py"}).mode == "py"
    assert Config({}).num_threads >= 1 and Config({"SYMGRAD_NUM_THREADS": "3"}).num_threads == 3
    with pytest.raises(ValueError, match="SYMGRAD_NUM_THREADS"):
        Config({"SYMGRAD_NUM_THREADS": "many"})


def test_a_process_with_spinning_openmp_threads_exits_cleanly(tmp_path):
    """libgomp stays loaded until the end: unloading it under spinning threads crashed at exit."""
    if not cvm.compiler_info().openmp:
        pytest.skip("the compiler has no OpenMP")
    script = tmp_path / "spin.py"
    script.write_text(
        "import numpy as np, symgrad as sg\n"
        "x = sg.vector('x')\n"
        "f = sg.function([x], sg.exp(x) * 2 + 1, mode='c')\n"
        "for _ in range(20): f(np.ones(10**6))\n"
        "print('done')\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "OMP_WAIT_POLICY": "ACTIVE", "SYMGRAD_NUM_THREADS": "2", "PYTHONPATH": str(root)}
    for _ in range(2):
        child = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
        )
        assert child.returncode == 0 and child.stdout.strip() == "done", child.stderr[-2000:]


@pytest.fixture(params=["c", "py"])
def runner(request):
    """Both runners of a schedule: the C runner and the generated Python program."""
    with sg.config.override(runner=request.param):
        yield request.param


def test_the_call_program_takes_every_layout_and_checks_shapes(runner):
    x, m = sg.vector("x"), sg.matrix("m")
    f = sg.function([x, m], [sg.exp(x) * 2.0 + 1.0, sg.sum(m, axis=0) + x], mode="c")
    g = sg.function([x, m], [sg.exp(x) * 2.0 + 1.0, sg.sum(m, axis=0) + x], mode="py")
    if runner == "py":  # elementwise steps inlined, with a fallback for strided operands
        assert "flat_" in f.vm.source and "compiled_graph" in f.vm.source
    else:
        assert f.vm.source.startswith("C runner program") and "elementwise kernel" in f.vm.source
    a, b = rng(1).normal(size=6), rng(2).normal(size=(4, 6))
    for args in [(a, b), (a[::-1], b[:, ::-1]), (a.astype(np.float32), np.asfortranarray(b)), (list(a), b)]:
        for got, want in zip(f(*args), g(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-13)
    with pytest.raises(sg.ShapeError, match="add"):
        f(a[:5], b)  # the program checks that the operands broadcast
    with pytest.raises(TypeError, match="input 0"):
        f(np.zeros((2, 2)), b)  # the argument checks of sg.function, in the program


def test_outputs_that_may_share_memory_are_still_copied():
    x = sg.matrix("x")
    f = sg.function([x], [x.T, x, x * 2.0, x * 2.0], mode="c")
    assert not f.vm.fresh_outputs
    a = rng(3).normal(size=(3, 4))
    t, same, y, z = f(a)
    assert not np.shares_memory(t, a) and same is not a and not np.shares_memory(y, z)
    assert sg.function([x], x * 2.0, mode="c").vm.fresh_outputs


def test_a_program_of_many_steps_calls_them_without_inlining():
    x = sg.vector("x")
    with sg.config.override(runner="py"):
        outputs = [sg.exp(x * k) for k in range(program.INLINE_MAX_STEPS // 2 + 1)]
        outputs += [sg.sin(x + k) for k in range(program.INLINE_MAX_STEPS // 2 + 1)]
        f = sg.function([x], outputs, mode="c")
    assert len(f.vm.steps) > program.INLINE_MAX_STEPS and "flat_" not in f.vm.source
    a = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(f(a)[-1], np.sin(a + program.INLINE_MAX_STEPS // 2), rtol=1e-15)


@pytest.mark.parametrize("n", [300001, 300007, 2 * 16 * 9375 + 1])
def test_one_long_row_split_between_threads_covers_every_element(n):
    """The last n % threads elements of a row split into per-thread chunks were once left
    unwritten when n // threads was a multiple of the block length (300001 on 2 threads)."""
    x = sg.vector("x")
    with sg.config.override(num_threads=2):
        f = sg.function([x], sg.exp(x) * 0.5 - 1.0, mode="c")
    a = np.linspace(-2.0, 2.0, n)
    np.testing.assert_allclose(f(a), np.exp(a) * 0.5 - 1.0, rtol=1e-12, atol=1e-14)


def _mlp_like(x, w):
    h = sg.tanh(sg.dot(x, w) + 1.0)
    return sg.dot(sg.exp(h) * 2.0, w.T) - h.sum(axis=1, keepdims=True)


def test_intermediates_reuse_the_previous_calls_arrays_and_outputs_never_do(runner):
    x, w = sg.matrix("x"), sg.matrix("w")
    f = sg.function([x, w], [_mlp_like(x, w), sg.tanh(sg.dot(x, w))], mode="c")
    g = sg.function([x, w], [_mlp_like(x, w), sg.tanh(sg.dot(x, w))], mode="py")
    if runner == "py":
        assert "pool_" in f.vm.source and "acquire(False)" in f.vm.source
    else:
        assert "reuses arrays" in f.vm.source and f.vm.call_program.n_pool > 0
    gen, results = rng(9), []
    for rows in (5, 5, 7, 5, 0, 5):  # same shapes reuse, other shapes allocate
        a, b = gen.normal(size=(rows, 4)), gen.normal(size=(4, 4))
        got, want = f(a, b), g(a, b)
        for u, v in zip(got, want):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
        results.append((got, want))
    for got, want in results:  # a later call never wrote into an earlier call's outputs
        for u, v in zip(got, want):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_an_output_written_in_place_over_a_product_is_not_a_reused_array(runner):
    x, w = sg.matrix("x"), sg.matrix("w")
    f = sg.function([x, w], sg.tanh(sg.dot(x, w)) * 3.0, mode="c")  # may write into the product
    a, b = rng(10).normal(size=(6, 4)), rng(11).normal(size=(4, 4))
    first, second = f(a, b), f(a * 2.0, b)
    assert not np.shares_memory(first, second)
    np.testing.assert_allclose(first, np.tanh(a @ b) * 3.0, rtol=1e-12)


def test_concurrent_calls_with_reused_intermediates(runner):
    x, w = sg.matrix("x"), sg.matrix("w")
    f = sg.function([x, w], _mlp_like(x, w), mode="c")
    gen = rng(12)
    cases = [(gen.normal(size=(30 + k, 4)), gen.normal(size=(4, 4))) for k in range(6)]
    wanted = [np.tanh(a @ b + 1.0) for a, b in cases]
    wanted = [np.exp(h) * 2.0 @ b.T - h.sum(axis=1, keepdims=True) for h, (_, b) in zip(wanted, cases)]

    def work(k):
        return all(np.allclose(f(*cases[(k + j) % 6]), wanted[(k + j) % 6]) for j in range(100))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


def test_buffer_reuse_can_be_turned_off(runner):
    x, w = sg.matrix("x"), sg.matrix("w")
    with sg.config.override(reuse_buffers=False):
        f = sg.function([x, w], _mlp_like(x, w), mode="c")
    assert "pool_" not in f.vm.source and "reuses arrays" not in f.vm.source
    assert Config({"SYMGRAD_REUSE_BUFFERS": "0"}).reuse_buffers is False
