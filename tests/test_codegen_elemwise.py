"""The C elementwise kernels (symgrad/codegen) against the NumPy rows they compile.

Kernels are built here with the system compiler and loaded with cffi (the C backend will use
compile/cbuild.py); several kernels share one library to save compiler time.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path

import cffi
import numpy as np
import pytest

from symgrad.codegen import elemwise_c, templates
from symgrad.codegen.elemwise_c import render_elemwise
from symgrad.codegen.library import library_cdef, library_source
from symgrad.graph.types import DTYPES, TensorType
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import SCALAR_OPS, ScalarOp, cast_scalar_op, elemwise_of

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
FLAGS = ["-O3", "-march=native", "-std=gnu11", "-fPIC", "-shared", "-fno-math-errno", "-ffp-contract=off"]
FLOATS = ("float32", "float64")
# Rows that are not correctly rounded in libm/libmvec/NumPy: compared in ulps.
ULP_BOUNDS = {
    "exp": 4,
    "exp2": 4,
    "expm1": 4,
    "log": 8,  # float32: libmvec and NumPy's own SIMD logf differ by up to 6 ulp
    "log2": 4,
    "log10": 4,
    "log1p": 4,
    "sin": 4,
    "cos": 4,
    "tan": 4,
    "arcsin": 4,
    "arccos": 4,
    "arctan": 4,
    "arctan2": 4,
    "sinh": 4,
    "cosh": 4,
    "tanh": 4,
    "sigmoid": 4,
    "softplus": 4,
    "erf": 4,
    "pow": 4,
}
MIXED_PAIRS = [
    ("int8", "float32"),
    ("int64", "float32"),
    ("uint8", "int8"),
    ("bool", "int32"),
    ("float32", "float64"),
]


# --- building and calling ------------------------------------------------------------------------
def build(kernels, workdir: Path | None = None, parts: int = 1):
    """Compile the kernels (into ``parts`` libraries, compiled side by side) and load them.

    Returns the ffi and a dict from kernel name to the loaded function.
    """
    workdir = Path(tempfile.mkdtemp(prefix="sg_codegen_")) if workdir is None else workdir
    libs = sorted({f"-l{name}" for k in kernels for name in k.libraries})
    chunks = [kernels[i::parts] for i in range(parts)]
    procs = []
    for i, chunk in enumerate(chunks):
        (workdir / f"kernels{i}.c").write_text(library_source(chunk))
        cmd = ["gcc", *FLAGS, "-o", f"lib{i}.so", f"kernels{i}.c", *libs]
        procs.append(subprocess.Popen(cmd, cwd=workdir, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate()[1] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError("\n".join(errors))
    ffi = cffi.FFI()
    ffi.cdef(library_cdef(kernels))
    funcs = {}
    for i, chunk in enumerate(chunks):
        lib = ffi.dlopen(str(workdir / f"lib{i}.so"))
        funcs.update({k.name: getattr(lib, k.name) for k in chunk})
    return ffi, funcs


def call(ffi, lib, kernel, inputs, out=None):
    """Run ``kernel`` on NumPy arrays (broadcast like NumPy); returns (output, error code)."""
    inputs = [np.asarray(x) for x in inputs]
    shape = np.broadcast_shapes(*(x.shape for x in inputs))
    if out is None:
        out = np.empty(shape, kernel.output_dtypes[0])
    ops = [np.broadcast_to(x, shape) for x in inputs] + [out]
    ndim = len(shape)
    shape_c = ffi.new("int64_t[]", list(shape) or [0])
    strides_c = ffi.new("int64_t[]", [s for op in ops for s in op.strides] or [0])
    data = ffi.new("char *[]", [ffi.cast("char *", op.ctypes.data) for op in ops])
    code = lib[kernel.name](ndim, shape_c, data, strides_c)
    return out, code


def reference(sop, inputs, out_dtype):
    node = elemwise_of(sop).make_node(*[TensorType(x.dtype, (None,) * x.ndim)() for x in inputs])
    storage = [[None]]
    elemwise_of(sop).perform(node, inputs, storage)
    assert storage[0][0].dtype == out_dtype
    return storage[0][0]


# --- inputs ------------------------------------------------------------------------------------
def sample(dtype: str, n: int, rng, *, positive=False, small=False) -> np.ndarray:
    """Random values with the dtype's edge cases mixed in."""
    if dtype == "bool":
        return rng.random(n) < 0.5
    if dtype in FLOATS:
        info = np.finfo(dtype)
        edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0]
        edges += [
            info.max,
            -info.max,
            info.tiny,
            info.smallest_subnormal,
            -info.smallest_subnormal,
            20.0,
            -20.0,
        ]
        scale = np.exp(rng.uniform(-8, 8, n)) if not small else rng.uniform(0, 3, n)
        vals = rng.standard_normal(n) * scale
        vals[: len(edges)] = edges
        vals = vals.astype(dtype)
        return np.abs(vals) if positive else vals
    info = np.iinfo(dtype)
    lo, hi = (0, 7) if small else (info.min, info.max)
    vals = rng.integers(lo, hi, n, dtype=dtype, endpoint=True)
    if not small:
        edges = [e for e in (0, 1, -1, 2, -2, 3, 7, info.min, info.max) if info.min <= e <= info.max]
        vals[: len(edges)] = edges
    return vals


def op_inputs(sop, dtypes, rng, n=301):
    arrays = [sample(d, n, rng) for d in dtypes]
    if sop.name == "pow" and dtypes[1] not in FLOATS:
        arrays[1] = sample(dtypes[1], n, rng, small=True)  # NumPy rejects negative int powers
    if sop.name in ("floor_divide", "mod") and all(d not in FLOATS for d in dtypes):
        arrays = [np.roll(a, k) for k, a in enumerate(arrays)]  # pair the edge values across
    return [rng.permutation(a) if k else a for k, a in enumerate(arrays)]


# The table's own rows; ops users add (sg.elemwise_op, other tests) render from their c_expr.
BUILTIN_OPS = [sop for sop in SCALAR_OPS.values() if type(sop) is ScalarOp]


def valid(sop, dtypes) -> str | None:
    try:
        return sop.output_dtype(tuple(dtypes))
    except (TypeError, ValueError):
        return None


def cases():
    """(scalar op, input dtypes) for every row of the table and the dtypes it allows."""
    found = []
    for sop in BUILTIN_OPS:
        nin = sop.nin or 2
        if nin == 1:
            combos = [(d,) for d in DTYPES]
        elif nin == 2:
            combos = [(d, d) for d in DTYPES] + MIXED_PAIRS
        else:
            combos = [("bool", d, d) if sop.name == "where" else (d, d, d) for d in DTYPES]
            combos.append(
                ("bool", "int8", "float32") if sop.name == "where" else ("float32", "int8", "float64")
            )
        if sop.nin is None:
            combos += [(d, d, d) for d in ("int32", "float32", "bool")]
        found += [(sop, c) for c in combos if valid(sop, c) is not None]
    found += [(cast_scalar_op(to), (frm,)) for frm, to in itertools.product(DTYPES, DTYPES) if frm != to]
    return found


CASES = cases()


FAST_DTYPES = {"float32", "float64", "int16", "bool"}
FAST_CASES = [c for c in CASES if set(c[1]) <= FAST_DTYPES and (c[0].name != "cast" or c[1][0] != "bool")]


def table_lib(cases):
    kernels = [render_elemwise(sop, dtypes, valid(sop, dtypes)) for sop, dtypes in cases]
    return (*build(kernels, parts=2), kernels)


# --- ulps ----------------------------------------------------------------------------------------
def ulp_error(got: np.ndarray, want: np.ndarray) -> int:
    """The largest distance in units in the last place; NaN must meet NaN, inf the same inf."""
    got, want = np.asarray(got).ravel(), np.asarray(want).ravel()
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN where NumPy has a number (or not)"
    keep = ~np.isnan(want)
    itype = np.int32 if got.dtype == np.float32 else np.int64

    def ordered(x):
        bits = x[keep].view(itype).astype(np.int64)
        return np.where(bits < 0, np.iinfo(itype).min - bits, bits)

    return int(np.max(np.abs(ordered(got) - ordered(want)), initial=0))


# --- tests -------------------------------------------------------------------------------------
def test_every_row_has_a_c_renderer():
    missing = [sop.name for sop in BUILTIN_OPS if sop.name not in elemwise_c.OP_RENDERERS]
    assert not missing


def test_every_op_matches_numpy():
    """Every row in float32, float64, int16 and bool (the fast tier)."""
    check_table(FAST_CASES)


@pytest.mark.slow
def test_every_op_and_dtype_matches_numpy():
    """Every row and every dtype combination the table allows (~600 kernels)."""
    check_table(CASES)


def check_table(cases):
    ffi, lib, kernels = table_lib(cases)
    rng = np.random.default_rng(0)
    failures = []
    for (sop, dtypes), kernel in zip(cases, kernels):
        arrays = op_inputs(sop, dtypes, rng)
        want = reference(sop, arrays, kernel.output_dtypes[0])
        if sop.name == "cast" and dtypes[0] in FLOATS and kernel.output_dtypes[0] != "bool":
            keep = np.isfinite(arrays[0]) & (np.abs(arrays[0]) < 100)  # out of range: platform's value
            arrays, want = [arrays[0][keep]], want[keep]
        got, code = call(ffi, lib, kernel, arrays)
        assert code == 0
        if sop.name in ULP_BOUNDS and kernel.output_dtypes[0] in FLOATS:
            err = ulp_error(got, want)
            if err > ULP_BOUNDS[sop.name]:
                failures.append(f"{sop}{dtypes}: {err} ulp")
        elif not np.array_equal(got, want, equal_nan=kernel.output_dtypes[0] in FLOATS):
            bad = np.flatnonzero(
                ~(
                    (got == want) | (np.isnan(got) & np.isnan(want))
                    if got.dtype.kind == "f"
                    else (got == want)
                )
            )
            k = bad[0]
            failures.append(f"{sop}{dtypes}: at {[a[k] for a in arrays]} got {got[k]!r}, NumPy {want[k]!r}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def layout_lib():
    kernels = [
        render_elemwise(so.add, ["float64", "float32"], "float64"),
        render_elemwise(so.where, ["bool", "int16", "int16"], "int16"),
        render_elemwise(so.exp, ["float32"], "float32"),
    ]
    return (*build(kernels), kernels)


LAYOUTS = {
    "contiguous": lambda rng: [rng.standard_normal((5, 6, 7)), rng.standard_normal((5, 6, 7))],
    "scalar": lambda rng: [rng.standard_normal((600,)), np.float64(2.5)],
    "scalar_first": lambda rng: [np.float64(2.5), rng.standard_normal((3, 700))],
    "row_vector": lambda rng: [rng.standard_normal((4, 9)), rng.standard_normal((9,))],
    "column": lambda rng: [rng.standard_normal((40, 1)), rng.standard_normal((40, 300))],
    "negative": lambda rng: [rng.standard_normal((6, 8))[::-1, ::-2], rng.standard_normal((6, 4))[:, ::-1]],
    "fortran": lambda rng: [np.asfortranarray(rng.standard_normal((5, 7))), rng.standard_normal((7, 5)).T],
    "mixed_order": lambda rng: [np.asfortranarray(rng.standard_normal((5, 7))), rng.standard_normal((5, 7))],
    "zero_d": lambda rng: [np.float64(1.5), np.float64(-4.0)],
    "zero_size": lambda rng: [np.zeros((3, 0, 2)), np.zeros((1, 0, 2))],
    "rank_5": lambda rng: [rng.standard_normal((2, 1, 3, 4, 5)), rng.standard_normal((3, 1, 5))[:, :, ::-1]],
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(layout_lib, layout):
    ffi, lib, (add, where, _) = layout_lib
    rng = np.random.default_rng(1)
    x, y = LAYOUTS[layout](rng)
    got, code = call(ffi, lib, add, [x, np.asarray(y, np.float32)])
    assert code == 0 and np.array_equal(got, x + np.asarray(y, np.float32))
    cond = np.asarray(x) > 0
    a, b = (np.asarray(v * 100, np.int16) for v in (x, y))
    got, _ = call(ffi, lib, where, [cond, a, b])
    assert np.array_equal(got, np.where(cond, a, b))


@pytest.mark.parametrize("order", ["C", "F"])
def test_output_layouts(layout_lib, order):
    ffi, lib, (add, _, _) = layout_lib
    x = np.random.default_rng(2).standard_normal((6, 5))
    y = np.float32(3.0)
    out = np.empty((6, 5), order=order)
    call(ffi, lib, add, [x, y], out=out)
    assert np.array_equal(out, x + y)
    out = np.empty((6, 10))[:, ::-2]
    call(ffi, lib, add, [x, y], out=out)
    assert np.array_equal(out, x + y)


def test_in_place_output(layout_lib):
    ffi, lib, (_, _, exp) = layout_lib
    x = np.linspace(-3, 3, 1001, dtype=np.float32)
    want = np.exp(x)
    call(ffi, lib, exp, [x], out=x)
    assert ulp_error(x, want) <= 4


def test_negative_integer_power_is_an_error_code():
    kernel = render_elemwise(so.pow, ["int64", "int64"], "int64")
    ffi, lib = build([kernel])
    got, code = call(ffi, lib, kernel, [np.array([2, 3, 4]), np.array([3, -1, 2])])
    assert code == 1 and "negative integer powers" in kernel.error_message(code)
    assert got[0] == 8 and got[2] == 16
    _, code = call(ffi, lib, kernel, [np.array([2, 3]), np.array([62, 0])])
    assert code == 0


def test_too_many_axes_is_an_error_code(layout_lib):
    ffi, lib, (_, _, exp) = layout_lib
    out = np.empty((), np.float32)
    shape = ffi.new("int64_t[]", [1] * 65)
    strides = ffi.new("int64_t[]", [0] * 130)
    data = ffi.new("char *[]", [ffi.cast("char *", out.ctypes.data)] * 2)
    assert lib[exp.name](65, shape, data, strides) == 2


def test_sigmoid_softplus_are_stable():
    pairs = [(op, d) for op in (so.sigmoid, so.softplus) for d in FLOATS]
    kernels = [render_elemwise(op, [d], d) for op, d in pairs]
    ffi, lib = build(kernels)
    for (op, dtype), kernel in zip(pairs, kernels):
        x = np.array([-1e4, -800, -100, -30, 0, 30, 100, 800, 1e4], dtype)
        got, _ = call(ffi, lib, kernel, [x])
        assert np.all(np.isfinite(got))
        assert ulp_error(got, reference(op, [x], dtype)) <= 4


def test_user_row_falls_back_to_its_c_expr():
    sop = so.ScalarOp("halve", 1, lambda x: x / 2, c_expr="(({ctype:float64}){0} * 0.5)")
    kernel = render_elemwise(sop, ["float64"], "float64")
    assert "((double)v0 * 0.5)" in kernel.code


def test_composite_hook():
    class Fused(so.ScalarOp):
        def c_body(self, names, in_dtypes, out_dtypes, render):
            t = render(so.mul, [names[0], names[0]], in_dtypes * 2, "float64")
            u = render(so.exp, ["t0"], ["float64"], "float64")
            return elemwise_c.ScalarCode((f"const double t0 = {t.expr};",), (u.expr,))

    kernel = render_elemwise(Fused("fused", 1, None), ["float64"], "float64")
    ffi, lib = build([kernel])
    x = np.linspace(-2, 2, 50)
    got, _ = call(ffi, lib, kernel, [x])
    assert ulp_error(got, np.exp(x * x)) <= 4


def test_line_directives_point_at_the_template(tmp_path, monkeypatch):
    broken = templates.template_text("elemwise.c").replace(
        "    int64_t sg_err = 0;\n    for (int64_t off",
        "    int64_t sg_err = 0;\n    this is not C;\n    for (int64_t off",
    )
    line = broken.splitlines().index("    this is not C;") + 1
    monkeypatch.setattr(
        templates, "template_text", lambda name: broken if name == "elemwise.c" else _TEXT(name)
    )
    templates.sections.cache_clear()
    elemwise_c.prelude.cache_clear()
    try:
        kernel = render_elemwise(so.exp, ["float64"], "float64")
        with pytest.raises(RuntimeError, match=rf"csrc_templates/elemwise\.c:{line}:"):
            build([kernel], tmp_path)
    finally:
        monkeypatch.undo()
        templates.sections.cache_clear()
        elemwise_c.prelude.cache_clear()


_TEXT = templates.template_text
