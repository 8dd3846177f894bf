"""User ops with C (docs/custom_ops.md): Theano-style hooks or a template file make a user op
run as an op kernel in mode 'c', with the same results and errors as its ``perform``."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import symgrad as sg
from symgrad.codegen.kernels import op_kernel_for
from symgrad.codegen.user_c import template_placeholders
from symgrad.compile.cbuild import compiler_available
from symgrad.compile.cvm import KernelStep, PerformStep

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C compiler")


# --- ops ------------------------------------------------------------------------------------------
class ClippedRelu(sg.Op):
    """min(max(x, 0), cap), any dtype and rank: ``c_code`` plus ``c_same_shape``."""

    __props__ = ("cap",)
    c_same_shape = True

    def __init__(self, cap: float) -> None:
        self.cap = cap

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        output_storage[0][0] = np.clip(x, 0, self.cap).astype(x.dtype)

    def grad(self, inputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [g * ((x > 0) & (x < self.cap))]

    def c_code(self, node, name, inputs, outputs, sub):
        (x,), (y,), t = inputs, outputs, sub["out_ctype"][0]
        loop = f"#pragma omp parallel for num_threads({sub['threads']}) if(n >= {sub['parallel_min']}) schedule(static)"
        return f"""
    const {t} cap = ({t}){self.cap!r};
    const int64_t n = sg_size(&{x});
    {t} *restrict dst = ({t} *){y}.data;
    if (sg_is_c_contiguous(&{x}, sizeof({t}))) {{
        const {t} *restrict src = (const {t} *){x}.data;
        {loop}
        for (int64_t i = 0; i < n; i++) {{ const {t} v = src[i]; dst[i] = v < 0 ? 0 : (v > cap ? cap : v); }}
    }} else {{
        {loop}
        for (int64_t i = 0; i < n; i++) {{
            const {t} v = *(const {t} *)sg_element(&{x}, i);
            dst[i] = v < 0 ? 0 : (v > cap ? cap : v);
        }}
    }}"""


class AddRow(sg.Op):
    """x + v[None, :] with a C shape check (``c_shape_code``) and explicit byte strides."""

    def make_node(self, x, v):
        x, v = sg.as_tensor_variable(x), sg.as_tensor_variable(v)
        return sg.Apply(self, [x, v], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, v = inputs
        if v.shape[0] != x.shape[1]:
            raise ValueError(f"row length {v.shape[0]} does not match {x.shape[1]} columns")
        output_storage[0][0] = (x + v).astype(x.dtype)

    def grad(self, inputs, output_grads):
        (g,) = output_grads
        return [g, g.sum(axis=0)]

    def c_shape_code(self, node, name, inputs, output_shapes, sub):
        (x, v), (shape,) = inputs, output_shapes
        return f"""
    if ({v}.shape[0] != {x}.shape[1]) SG_FAIL_INFO(SG_ERR_SHAPE, 1, 1, 0);
    {shape}[0] = {x}.shape[0];
    {shape}[1] = {x}.shape[1];"""

    def c_code(self, node, name, inputs, outputs, sub):
        (x, v), (y,) = inputs, outputs
        tx, tv, ty = sub["in_ctype"][0], sub["in_ctype"][1], sub["out_ctype"][0]
        return f"""
    const int64_t rows = {x}.shape[0], cols = {x}.shape[1];
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {{
            const {tx} a = *(const {tx} *)({x}.data + i * {x}.strides[0] + j * {x}.strides[1]);
            const {tv} b = *(const {tv} *)({v}.data + j * {v}.strides[0]);
            (({ty} *){y}.data)[i * cols + j] = ({ty})(a + b);
        }}"""


CHECKED_SQRT_CODE = """
    const int64_t n = sg_size(&in[0]);
    for (int64_t i = 0; i < n; i++) {
        const double v = (double)*(const CTYPE *)sg_element(&in[0], i);
        if (v < 0) FAIL
        ((CTYPE *)out[0].data)[i] = (CTYPE)sqrt(v);
    }"""
CHECKED_SQRT_FAIL_LINE = 5  # of CHECKED_SQRT_CODE, whose first line is empty


class CheckedSqrt(sg.Op):
    """sqrt refusing negative numbers in C (``sub["fail"]``); ``perform`` refuses them only
    when ``strict``. C for floats only: other dtypes raise NotImplementedError (``perform``)."""

    __props__ = ("strict",)
    c_same_shape = True

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if self.strict and (x < 0).any():
            raise ValueError("negative input")
        with np.errstate(invalid="ignore"):
            output_storage[0][0] = np.sqrt(x).astype(x.dtype)

    def c_code(self, node, name, inputs, outputs, sub):
        if node.inputs[0].dtype not in ("float32", "float64"):
            raise NotImplementedError("floats only")
        t = sub["in_ctype"][0]
        return CHECKED_SQRT_CODE.replace("FAIL", sub["fail"]).replace("CTYPE", t)

    def c_headers(self):
        return ["<math.h>"]

    def c_code_cache_version(self):
        return (1,)


class CheckedSqrtV2(CheckedSqrt):
    def c_code_cache_version(self):
        return (2,)


class ForgetfulShape(sg.Op):
    """A shape code that forgets the second length: refused, never a guessed shape."""

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].copy()

    def c_shape_code(self, node, name, inputs, output_shapes, sub):
        return f"    {output_shapes[0]}[0] = {inputs[0]}.shape[0];"

    def c_code(self, node, name, inputs, outputs, sub):
        return "    return 0;"


class NoShape(ForgetfulShape):
    c_shape_code = None


class SameShapeWrongRank(ClippedRelu):
    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [sg.TensorType(x.dtype, (None,) * (x.ndim + 1))()])


class SplitSigns(sg.Op):
    """Two outputs, both shaped like the input (``c_same_shape``)."""

    c_same_shape = True

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.maximum(inputs[0], 0)
        output_storage[1][0] = np.minimum(inputs[0], 0)

    def c_code(self, node, name, inputs, outputs, sub):
        (x,), (pos, neg), t = inputs, outputs, sub["in_ctype"][0]
        return f"""
    for (int64_t i = 0, n = sg_size(&{x}); i < n; i++) {{
        const {t} v = *(const {t} *)sg_element(&{x}, i);
        (({t} *){pos}.data)[i] = v > 0 ? v : 0;
        (({t} *){neg}.data)[i] = v < 0 ? v : 0;
    }}"""


class Hypot(sg.Op):
    """Two inputs under ``c_same_shape``: the C refuses what ``perform`` would broadcast."""

    c_same_shape = True

    def make_node(self, x, y):
        x, y = sg.as_tensor_variable(x), sg.as_tensor_variable(y)
        return sg.Apply(self, [x, y], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.hypot(*inputs)

    def c_code(self, node, name, inputs, outputs, sub):
        (x, y), (z,) = inputs, outputs
        return f"""
    for (int64_t i = 0, n = sg_size(&{z}); i < n; i++)
        ((double *){z}.data)[i] = hypot(*(const double *)sg_element(&{x}, i), *(const double *)sg_element(&{y}, i));"""


class NumpyOnly(sg.Op):
    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = -inputs[0]


class BrokenHooks(NumpyOnly):
    c_same_shape = True

    def c_code(self, node, name, inputs, outputs, sub):
        return "\n    int ok = 1;\n    this is not C;\n"


# --- helpers ---------------------------------------------------------------------------------
def layouts(a: np.ndarray) -> dict[str, np.ndarray]:
    """The same kind of values as ``a`` in other memory layouts (and a 0-size one)."""
    out = {"contiguous": a, "zero-size": a[:0] if a.ndim else a}
    if a.ndim >= 1:
        out["reversed"] = a[::-1]
        out["strided"] = a[..., ::-2]
    if a.ndim >= 2:
        out["fortran"] = np.asfortranarray(a)
        out["transposed"] = a.T
    return out


def same(got: np.ndarray, want: np.ndarray) -> None:
    """Equal dtype and shape; user-op outputs are equal to the bit, and float sums in the
    gradient part (not the subject here) within a few ulps."""
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=4 * np.finfo(got.dtype).eps, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


def user_steps(f, op_type):
    return [s for s in f.vm.steps if isinstance(s.node.op, op_type)]


def debugprint(f) -> str:
    with open(os.devnull, "w") as devnull:
        return sg.debugprint(f, file=devnull)


@pytest.fixture(scope="module")
def clipped():
    """One function (one library) with the hooks ops on several dtypes and ranks, and a gradient."""
    x32 = sg.tensor("x32", "float32", (None, None, None))
    x64, v64 = sg.matrix("x64"), sg.vector("v64")
    i32, i64, b = (
        sg.tensor("i32", "int32", (None,)),
        sg.tensor("i64", "int64", (None, None)),
        sg.tensor("b", "bool", (None,)),
    )
    relu = ClippedRelu(6.0)
    added = AddRow()(x64, v64)
    outputs = [
        relu(x32),
        relu(x64),
        ClippedRelu(2.5)(i32),
        relu(i64),
        relu(b),
        added,
        sg.grad((ClippedRelu(1.0)(x64) * x64).sum() + (added * added).sum(), [x64, v64]),
        CheckedSqrt(True)(x64 * x64),
        CheckedSqrt(True)(x32),
        SplitSigns()(i64),
    ]
    flat = [o for out in outputs for o in (out if isinstance(out, list) else [out])]
    ins = [x32, x64, v64, i32, i64, b]
    return sg.function(ins, flat, mode="c"), sg.function(ins, flat, mode="py")


# --- tests ---------------------------------------------------------------------------------------
def test_hooks_op_runs_as_a_kernel_step(clipped):
    fc, _ = clipped
    assert fc.vm.python_nodes == []
    steps = user_steps(fc, (ClippedRelu, AddRow, CheckedSqrt, SplitSigns))
    assert len(steps) == 10 and all(isinstance(s, KernelStep) for s in steps)
    assert "[python]" not in debugprint(fc)


@pytest.mark.parametrize(
    "layout", ["contiguous", "zero-size", "reversed", "strided", "fortran", "transposed"]
)
def test_hooks_op_matches_mode_py(clipped, layout):
    fc, fpy = clipped
    r = np.random.default_rng(len(layout))
    x32 = (r.normal(size=(3, 4, 5)) * 5).astype(np.float32)
    x64 = r.normal(size=(6, 7)) * 5
    x64[0, :3] = [np.nan, np.inf, -np.inf]  # NaN stays NaN (clip's rule)
    i32 = r.integers(-9, 9, size=11).astype(np.int32)
    i64 = r.integers(-9, 9, size=(4, 3))
    b = r.integers(0, 2, size=9).astype(bool)
    args = [layouts(a).get(layout, a) for a in (np.abs(x32), x64, i32, i64, b)]
    args.insert(2, r.normal(size=2 * args[1].shape[1])[::-2])  # reversed, of the row length
    got, want = fc(*args), fpy(*args)
    assert len(got) == len(want) == 12
    for g, w in zip(got, want, strict=True):
        same(g, w)


def test_hooks_op_on_big_arrays_uses_threads_and_matches(clipped):
    fc, fpy = clipped
    r = np.random.default_rng(1)
    args = [
        np.abs(r.normal(size=(40, 50, 30))).astype(np.float32)[:, ::-1],  # 60,000 elements, strided
        r.normal(size=(300, 200)) * 8,
        r.normal(size=200),
        r.integers(-9, 9, size=70_000).astype(np.int32),
        r.integers(-9, 9, size=(300, 120)),
        r.integers(0, 2, size=40_000).astype(bool),
    ]
    for g, w in zip(fc(*args), fpy(*args), strict=True):
        same(g, w)


def test_gradient_through_a_c_op_is_symbolic_and_right(clipped):
    fc, _ = clipped
    x = np.array([[-1.0, 0.5, 2.0], [0.25, 3.0, -0.5]])
    v = np.array([1.0, -2.0, 0.5])
    out = fc(
        np.ones((1, 1, 1), np.float32),
        x,
        v,
        np.ones(1, np.int32),
        np.ones((1, 1), np.int64),
        np.ones(1, bool),
    )
    gx, gv = out[6], out[7]
    relu_part = np.clip(x, 0, 1.0) + x * ((x > 0) & (x < 1.0))
    np.testing.assert_allclose(gx, relu_part + 2 * (x + v))
    np.testing.assert_allclose(gv, (2 * (x + v)).sum(axis=0))


def test_shape_check_failure_raises_performs_error_naming_the_op(clipped):
    fc, fpy = clipped
    args = [np.ones((1, 1, 1), np.float32), np.ones((2, 3)), np.ones(4), np.ones(1, np.int32)]
    args += [np.ones((1, 1), np.int64), np.ones(1, bool)]
    for f in (fc, fpy):
        with pytest.raises(
            ValueError, match=r"AddRow \(created at .*test_user_c_code.py:\d+\).*row length 4"
        ):
            f(*args)


def test_c_fail_reruns_perform_and_raises_its_error(clipped):
    fc, fpy = clipped
    args = [-np.ones((2, 2, 2), np.float32), np.ones((2, 3)), np.ones(3), np.ones(1, np.int32)]
    args += [np.ones((1, 1), np.int64), np.ones(1, bool)]
    for f in (fc, fpy):
        with pytest.raises(ValueError, match=r"CheckedSqrt\{strict=True\}.*negative input"):
            f(*args)


def test_c_fail_that_perform_does_not_share_raises_the_kernel_message():
    x = sg.vector("x")
    fc = sg.function([x], CheckedSqrt(False)(x), mode="c")
    assert fc.vm.python_nodes == []
    np.testing.assert_array_equal(fc([4.0, 9.0]), [2.0, 3.0])
    assert CHECKED_SQRT_CODE.splitlines()[CHECKED_SQRT_FAIL_LINE - 1].strip() == "if (v < 0) FAIL"
    where = f"{__name__}.CheckedSqrt.c_code, line {CHECKED_SQRT_FAIL_LINE}"
    with pytest.raises(
        sg.GraphValueError, match=rf"CheckedSqrt\{{strict=False\}}.*refused the inputs \({re.escape(where)}\)"
    ):
        fc([4.0, -1.0])
    assert np.isnan(sg.function([x], CheckedSqrt(False)(x), mode="py")([-1.0])[0])


def test_unwritten_output_length_is_refused():
    x = sg.matrix("x")
    fc = sg.function([x], ForgetfulShape()(x), mode="c")
    assert fc.vm.python_nodes == []
    with pytest.raises(
        sg.GraphValueError, match=r"ForgetfulShape.*left out_shape\[0\]\[1\] = -1 \(never written"
    ):
        fc(np.ones((2, 3)))


def test_same_shape_ops_check_every_input_against_input_0():
    x, y = sg.matrix("x"), sg.matrix("y")
    fc = sg.function([x, y], Hypot()(x, y), mode="c")
    assert fc.vm.python_nodes == []
    a = np.array([[3.0, 5.0], [8.0, 7.0]])
    np.testing.assert_array_equal(fc(a, a.T[::-1]), np.hypot(a, a.T[::-1]))
    for b in (np.ones((2, 1)), np.ones((1, 2))):  # mode 'py' broadcasts; c_same_shape refuses
        axis = 1 if b.shape[1] == 1 else 0
        with pytest.raises(
            sg.ShapeError, match=rf"Hypot.*c_same_shape: input 1 differs from input 0 along axis {axis}"
        ):
            fc(a, b)


def test_ops_without_c_or_declining_a_dtype_stay_on_perform():
    x, i = sg.vector("x"), sg.tensor("i", "int32", (None,))
    f = sg.function([x, i], [NumpyOnly()(x), CheckedSqrt(True)(i)], mode="c")
    assert sorted(type(n.op).__name__ for n in f.vm.python_nodes) == ["CheckedSqrt", "NumpyOnly"]
    assert all(isinstance(s, PerformStep) for s in user_steps(f, (NumpyOnly, CheckedSqrt)))
    assert debugprint(f).count("[python]") == 2
    neg, root = f([1.0, -2.0], np.array([4, 9], np.int32))
    np.testing.assert_array_equal(neg, [-1.0, 2.0])
    np.testing.assert_array_equal(root, [2, 3])
    assert op_kernel_for(NumpyOnly()(x).owner) is None


@pytest.mark.parametrize(
    ("op", "ndim", "error", "message"),
    [
        (NoShape(), 2, sg.GraphTypeError, r"NoShape: its C gives no output shapes; define c_shape_code"),
        (SameShapeWrongRank(1.0), 1, sg.GraphTypeError, r"c_same_shape = True needs .* ranks \[1\] -> \[2\]"),
    ],
)
def test_ops_whose_c_cannot_know_the_output_shape_are_refused(op, ndim, error, message):
    x = sg.tensor("x", "float64", (None,) * ndim)
    with pytest.raises(error, match=message):
        sg.function([x], op(x), mode="c")
    sg.function([x], op(x), mode="py")  # mode 'py' has no use for C


def test_flags_headers_and_cache_version_reach_the_kernel(tmp_path):
    class Linked(ClippedRelu):
        def c_header_dirs(self):
            return [str(tmp_path / "include")]

        def c_lib_dirs(self):
            return [str(tmp_path / "lib")]

        def c_libraries(self):
            return ["z"]

        def c_compile_args(self):
            return ["-DLINKED=1"]

        def c_headers(self):
            return ["<math.h>", "linked.h"]

    x = sg.vector("x")
    kernel = op_kernel_for(Linked(1.0)(x).owner)
    assert kernel.flags == (f"-I{tmp_path / 'include'}", "-DLINKED=1")
    assert kernel.link_flags == (f"-L{tmp_path / 'lib'}", f"-Wl,-rpath,{tmp_path / 'lib'}", "-lz")
    assert kernel.helpers == ("#include <math.h>", '#include "linked.h"')
    v1, v2 = (op_kernel_for(op(x).owner) for op in (CheckedSqrt(True), CheckedSqrtV2(True)))
    assert "c_code_cache_version (1,)" in v1.code and v1.name != v2.name
    assert op_kernel_for(CheckedSqrt(True)(sg.vector("y")).owner).name == v1.name  # same node, same kernel
    assert op_kernel_for(CheckedSqrt(True)(sg.tensor("z", "float32", (None,))).owner).name != v1.name
    values = template_placeholders(ClippedRelu(float("inf"))(sg.tensor("i", "int32", (None, None))).owner)
    assert values["CAP"] == "INFINITY" and values["IN_CTYPE_0"] == "int32_t" and values["OUT_NDIM_0"] == "2"
    assert values["FAIL"].startswith("{ SG_FAIL_INFO(") and set(values) >= {"NAME", "THREADS", "PARALLEL_MIN"}


# --- the template form -------------------------------------------------------------------------
OP_MODULE = '''
import numpy as np
import symgrad as sg


class RowSumSquares(sg.Op):
    """scale * sum(x**2, axis=1), its C in a template file next to this module."""

    __props__ = ("scale",)
    c_template = "row_sum_squares.c"

    def __init__(self, scale):
        self.scale = scale

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [sg.TensorType(x.dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.shape[1] == 0:
            raise ValueError("RowSumSquares needs at least one column")
        acc = (x.astype(np.float64) ** 2).sum(axis=1)
        output_storage[0][0] = (self.scale * acc).astype(x.dtype)

    def grad(self, inputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [2 * self.scale * x * g.dimshuffle(0, "x")]

    def c_headers(self):
        return ["row_helpers.h"]

    def c_compile_args(self):
        return ["-DRSS_ACC=double"]
'''

TEMPLATE = """/* The C of RowSumSquares. */

/* section: support */
static inline RSS_ACC @NAME@_square(RSS_ACC v) { return rss_times(v, v); }
/* endsection */

/* section: shape */
if (in[0].shape[1] == 0) @FAIL@
out_shape[0][0] = in[0].shape[0];
/* endsection */

/* section: run */
typedef @IN_CTYPE_0@ T;
const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
const int64_t s0 = in[0].strides[0], s1 = in[0].strides[1];
#pragma omp parallel for num_threads(@THREADS@) if(rows * cols >= @PARALLEL_MIN@) schedule(static)
for (int64_t i = 0; i < rows; i++) {
    RSS_ACC acc = 0;
    for (int64_t j = 0; j < cols; j++) acc += @NAME@_square((RSS_ACC)*(const T *)(in[0].data + i * s0 + j * s1));
    ((@OUT_CTYPE_0@ *)out[0].data)[i] = (@OUT_CTYPE_0@)(@SCALE@ * acc);
}
/* endsection */
"""
HELPERS = "static inline double rss_times(double a, double b) { return a * b; }\n"


def load_module(tmp_path, name: str, template: str):
    """A module defining RowSumSquares, in its own folder with its template and header."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.py").write_text(OP_MODULE)
    (folder / "row_sum_squares.c").write_text(template)
    (folder / "row_helpers.h").write_text(HELPERS)
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, folder / "row_sum_squares.c"


def test_template_file_op_matches_mode_py(tmp_path):
    module, _ = load_module(tmp_path, "sg_user_rss_ok", TEMPLATE)
    x32, x64 = sg.tensor("x32", "float32", (None, None)), sg.matrix("x64")
    op = module.RowSumSquares(0.5)
    outs = [op(x32), op(x64), sg.grad(op(x64).sum(), x64)]
    fc, fpy = sg.function([x32, x64], outs, mode="c"), sg.function([x32, x64], outs, mode="py")
    assert fc.vm.python_nodes == [] and "[python]" not in debugprint(fc)
    assert len(user_steps(fc, module.RowSumSquares)) == 2
    r = np.random.default_rng(3)
    a32, a64 = r.normal(size=(5, 4)).astype(np.float32), r.normal(size=(300, 150))
    for layout in ("contiguous", "reversed", "strided", "fortran", "transposed"):
        args = [layouts(a32)[layout], layouts(a64)[layout]]
        for g, w in zip(fc(*args), fpy(*args), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-6 if g.dtype == np.float32 else 1e-12)
    zero_rows = [a32[:0], a64[:0]]
    for g, w in zip(fc(*zero_rows), fpy(*zero_rows), strict=True):
        assert g.shape == w.shape
    for f in (fc, fpy):  # the shape section's @FAIL@ re-runs perform, which names the problem
        with pytest.raises(ValueError, match="RowSumSquares.*needs at least one column"):
            f(a32[:, :0], a64)


def test_template_errors_name_the_users_file_and_line(tmp_path):
    bad = TEMPLATE.replace("/* section: shape */", "/* section: shapes */")
    module, path = load_module(tmp_path, "sg_user_rss_section", bad)
    x = sg.matrix("x")
    with pytest.raises(sg.GraphValueError, match=rf"{re.escape(str(path))}:7: unknown section 'shapes'"):
        sg.function([x], module.RowSumSquares(1.0)(x), mode="c")
    bad = TEMPLATE.replace("@SCALE@", "@SCALING@")
    module, path = load_module(tmp_path, "sg_user_rss_key", bad)
    with pytest.raises(sg.GraphValueError, match=rf"{re.escape(str(path))}:20: no value given for @SCALING@"):
        sg.function([x], module.RowSumSquares(1.0)(x), mode="c")


def test_c_that_does_not_compile_warns_with_the_users_line_and_runs_perform(tmp_path):
    bad = TEMPLATE.replace("RSS_ACC acc = 0;", "RSS_ACC acc = 0 +;")
    module, path = load_module(tmp_path, "sg_user_rss_broken", bad)
    line = bad.splitlines().index(next(s for s in bad.splitlines() if "acc = 0 +;" in s)) + 1
    x = sg.matrix("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = sg.function([x], [module.RowSumSquares(2.0)(x), BrokenHooks()(x)], mode="c")
    messages = "\n".join(str(w.message) for w in caught)
    assert "does not compile; it runs through NumPy" in messages
    assert f"{path}:{line}:" in messages
    assert f"{__name__}.BrokenHooks.c_code:3:" in messages
    assert sorted(type(n.op).__name__ for n in f.vm.python_nodes) == ["BrokenHooks", "RowSumSquares"]
    assert debugprint(f).count("[python]") == 2
    rss, neg = f(np.array([[1.0, 2.0], [3.0, 0.0]]))
    np.testing.assert_array_equal(rss, [10.0, 18.0])
    np.testing.assert_array_equal(neg, [[-1.0, -2.0], [-3.0, 0.0]])


# --- the guide ----------------------------------------------------------------------------------
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "custom_ops.md"


def test_the_guide_runs(tmp_path):
    """docs/custom_ops.md's Python blocks, in order, in a module next to its C block's file."""
    text = GUIDE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (c_block,) = re.findall(r"```c\n(.*?)```", text, re.S)
    c_name = re.match(r"/\* (\S+\.c):", c_block).group(1)
    (tmp_path / c_name).write_text(c_block)
    module = types.ModuleType("sg_custom_ops_guide")
    module.__file__ = str(tmp_path / "sg_custom_ops_guide.py")
    sys.modules[module.__name__] = module
    try:
        assert len(blocks) >= 4
        for block in blocks:
            exec(compile(block, f"{GUIDE}", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    assert module.f.vm.python_nodes == [] and isinstance(module.RowNorms.c_template, str)
