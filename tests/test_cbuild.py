"""The C build layer: compiler probe, building and calling a library, IEEE semantics, errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import symgrad as sg
from symgrad.compile import cbuild
from symgrad.graph.errors import SymgradError

needs_cc = pytest.mark.skipif(not cbuild.compiler_available(), reason="no working C compiler")

ADD_SOURCE = """
#include <stdint.h>
void add_f64(const double *restrict a, const double *restrict b, double *restrict out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
void add_f32(const float *restrict a, const float *restrict b, float *restrict out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
"""
ADD_CDEF = """
void add_f64(const double *a, const double *b, double *out, int64_t n);
void add_f32(const float *a, const float *b, float *out, int64_t n);
"""


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache (the one place that says where the cache is)."""
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))  # for child processes
    with sg.config.override(cache_dir=str(tmp_path / "cache")):
        yield tmp_path / "cache"


def _call_add(loaded, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty_like(a)
    fb = loaded.ffi.from_buffer
    ctype = "double[]" if a.dtype == np.float64 else "float[]"  # typed pointers need the type
    kernel = loaded.lib.add_f64 if a.dtype == np.float64 else loaded.lib.add_f32
    kernel(fb(ctype, a), fb(ctype, b), fb(ctype, out, require_writable=True), a.size)
    return out


@needs_cc
def test_compiler_info_chooses_fast_ieee_flags():
    info = cbuild.compiler_info()
    assert info.path and info.version
    assert "-O3" in info.flags and "-ffp-contract=off" in info.flags
    assert not any("fast-math" in flag for flag in info.flags)
    assert isinstance(info.openmp, bool)
    assert cbuild.compiler_available()


@needs_cc
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [0, 1, 1000])
def test_build_and_call_with_from_buffer(dtype, size):
    loaded = cbuild.build_library(ADD_SOURCE, ADD_CDEF, name_hint="add")
    a = np.random.default_rng(0).standard_normal(size).astype(dtype)
    b = np.random.default_rng(1).standard_normal(size).astype(dtype)
    np.testing.assert_array_equal(_call_add(loaded, a, b), a + b)
    assert loaded.path.name == "lib.so" and loaded.source_path.read_text() == ADD_SOURCE


@needs_cc
def test_strided_arrays_go_through_their_address():
    """from_buffer needs contiguous memory; views pass `arr.ctypes.data` cast to a pointer."""
    loaded = cbuild.build_library(ADD_SOURCE, ADD_CDEF)
    base = np.arange(10.0)
    with pytest.raises(ValueError, match="contiguous"):
        loaded.ffi.from_buffer(base[::2])
    view = base[::-1]  # negative stride: the pointer is to its first element
    out = np.empty(1)
    ptr = loaded.ffi.cast("double *", view.ctypes.data)
    loaded.lib.add_f64(ptr, ptr, loaded.ffi.from_buffer("double[]", out), 1)
    assert out[0] == 18.0


IEEE_SOURCE = """
#include <math.h>
#include <stdint.h>
void muladd(const double *a, const double *b, const double *c, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i] + c[i];
}
void ops(const double *x, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        out[4 * i] = sqrt(x[i]);
        out[4 * i + 1] = 1.0 / x[i];
        out[4 * i + 2] = x[i] != x[i];
        out[4 * i + 3] = fmax(x[i], 0.0);
    }
}
"""
IEEE_CDEF = """
void muladd(void *a, void *b, void *c, void *out, int64_t n);  /* void *: plain from_buffer(arr) */
void ops(void *x, void *out, int64_t n);
"""


@needs_cc
def test_results_match_numpy_bit_for_bit():
    """No FMA contraction, no fast-math: a*b+c rounds twice; NaN and inf behave as NumPy."""
    loaded = cbuild.build_library(IEEE_SOURCE, IEEE_CDEF)
    fb = loaded.ffi.from_buffer
    n = 64
    a = np.full(n, 1 + 2.0**-27)
    b = np.full(n, 1 - 2.0**-27)
    c = np.full(n, -1.0)
    out = np.empty(n)
    loaded.lib.muladd(fb(a), fb(b), fb(c), fb(out), n)
    np.testing.assert_array_equal(out, a * b + c)
    assert out[0] == 0.0  # an FMA would give -2**-54

    x = np.array([4.0, -1.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 2.0])
    got = np.empty((x.size, 4))
    loaded.lib.ops(fb(x), fb(got), x.size)
    with np.errstate(all="ignore"):
        want = np.stack([np.sqrt(x), 1.0 / x, np.isnan(x), np.fmax(x, 0.0)], axis=1)
    np.testing.assert_array_equal(got, want)


BAD_SOURCE = (
    '#include <stdint.h>\n#line 40 "csrc_templates/elemwise.c"\n'
    "void kernel(double *out) {\n    out[0] = undefined_name;\n}\n"
    + "".join(
        f'#line {100 + i} "csrc_templates/reduce.c"\nint g{i}(void) {{ return nope{i}; }}\n'
        for i in range(40)
    )
)


@needs_cc
def test_compile_error_names_the_template_line_and_keeps_the_source():
    with pytest.raises(cbuild.CCompileError) as caught:
        cbuild.build_library(BAD_SOURCE, "void kernel(double *out);", name_hint="fused_add")
    error = caught.value
    assert isinstance(error, SymgradError) and isinstance(error, RuntimeError)
    message = str(error)
    assert "fused_add" in message
    assert "csrc_templates/elemwise.c:41" in message and "undefined_name" in message
    assert len(message.splitlines()) <= 25  # trimmed; the full log is kept beside the source
    assert "more lines in" in message
    assert error.source_path.read_text() == BAD_SOURCE
    assert str(error.source_path) in message
    assert "nope39" in (error.source_path.parent / "compiler.log").read_text()


def test_relevant_lines_drop_warnings_and_keep_error_context():
    output = "\n".join(
        [
            "csrc_templates/a.c: In function 'f':",
            "csrc_templates/a.c:3:5: warning: unused variable 'x'",
            "csrc_templates/a.c: In function 'g':",
            "csrc_templates/a.c:9:12: error: 'y' undeclared",
            "   9 |     return y;",
            "     |            ^",
            "csrc_templates/a.c:9:12: note: each undeclared identifier is reported only once",
        ]
    )
    kept = cbuild.relevant_compiler_lines(output)
    assert kept[0] == "csrc_templates/a.c: In function 'g':"
    assert len(kept) == 5 and not any("warning" in line for line in kept)
    linker = "/usr/bin/ld: lib.o: undefined reference to `foo'\ncollect2: error: ld returned 1 exit status"
    assert cbuild.relevant_compiler_lines(linker) == linker.splitlines()


@needs_cc
def test_undefined_symbol_fails_at_build_time():
    source = "double helper(double);\ndouble f(double x) { return helper(x); }\n"
    with pytest.raises(cbuild.CCompileError, match="helper"):
        cbuild.build_library(source, "double f(double x);")


@needs_cc
def test_cdef_naming_a_missing_function_is_reported():
    with pytest.raises(cbuild.CCompileError, match="not_there"):
        cbuild.build_library(ADD_SOURCE, ADD_CDEF + "int not_there(int);")
    with pytest.raises(cbuild.CCompileError, match="cdef"):
        cbuild.build_library(ADD_SOURCE, "void add_f64(")


def test_missing_compiler_is_reported():
    with sg.config.override(cc="/nonexistent/symgrad-cc"):
        assert not cbuild.compiler_available()
        with pytest.raises(cbuild.CCompileError, match="symgrad-cc"):
            cbuild.build_library(ADD_SOURCE, ADD_CDEF)


@needs_cc
def test_cache_key_covers_flags_cpu_and_cdef():
    info = cbuild.compiler_info()
    native = (*cbuild.BASE_FLAGS, cbuild.NATIVE_FLAG)
    other_cpu = dataclasses.replace(info, cpu="Another CPU (features 0)")
    key = cbuild.cache_key(ADD_SOURCE, ADD_CDEF, native, info)
    assert key == cbuild.cache_key(ADD_SOURCE, ADD_CDEF, native, info)
    assert key != cbuild.cache_key(ADD_SOURCE, ADD_CDEF, cbuild.BASE_FLAGS, info)
    assert key != cbuild.cache_key(ADD_SOURCE, ADD_CDEF, native, other_cpu)
    assert key != cbuild.cache_key(ADD_SOURCE, ADD_CDEF + " ", native, info)
    portable = cbuild.cache_key(ADD_SOURCE, ADD_CDEF, cbuild.BASE_FLAGS, info)
    assert portable == cbuild.cache_key(ADD_SOURCE, ADD_CDEF, cbuild.BASE_FLAGS, other_cpu)


@needs_cc
def test_extra_flags_make_another_entry():
    first = cbuild.build_library(ADD_SOURCE, ADD_CDEF)
    second = cbuild.build_library(ADD_SOURCE, ADD_CDEF, extra_flags=["-DSYMGRAD_TEST=1"])
    assert first.key != second.key and second.compile_seconds > 0


@needs_cc
def test_translation_units_compile_apart_and_link_into_one_library(fresh_cache):
    first, second = ADD_SOURCE.split("void add_f32")
    loaded = cbuild.build_library([first, "#include <stdint.h>\nvoid add_f32" + second], ADD_CDEF)
    a, b = np.arange(5.0), np.ones(5)
    np.testing.assert_array_equal(_call_add(loaded, a, b), a + b)
    np.testing.assert_array_equal(_call_add(loaded, a.astype(np.float32), b.astype(np.float32)), a + b)
    assert "translation unit 1" in loaded.source_path.read_text()
    assert json.loads(loaded.path.with_name("meta.json").read_text())["units"] == 2


@needs_cc
def test_an_error_in_a_second_unit_names_its_line(fresh_cache):
    broken = '#line 7 "csrc_templates/broken.c"\nint f(void) { return undefined_name; }\n'
    with pytest.raises(cbuild.CCompileError) as info:
        cbuild.build_library([ADD_SOURCE, broken], ADD_CDEF + "int f(void);")
    assert "csrc_templates/broken.c:7" in str(info.value)
    assert "undefined_name" in info.value.source_path.read_text()


@needs_cc
def test_a_big_function_is_split_into_units_that_share_the_thread_count(fresh_cache):
    x = sg.matrix("x")
    outputs = [sg.sum(sg.exp(x * k) + sg.sin(x + k), axis=k % 2) for k in range(1, 9)]
    with sg.config.override(compile_jobs=2):
        f = sg.function([x], outputs, mode="c")
    meta = json.loads(f.vm.library.path.with_name("meta.json").read_text())
    assert meta["units"] == 2
    assert f.vm.library.lib.sg_set_num_threads(3) == 3
    value = np.random.default_rng(0).normal(size=(300, 200))
    g = sg.function([x], outputs, mode="py")
    for got, want in zip(f(value), g(value)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
