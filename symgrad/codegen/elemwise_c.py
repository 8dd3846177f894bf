"""C kernels for ``Elemwise`` nodes: one exported loop function per (scalar op, dtypes).

The loop skeleton is ``csrc_templates/elemwise.c``; the per-dtype helpers with NumPy's
semantics are ``csrc_templates/scalar_math.h``. This module writes the per-element code:
each input is loaded in its own dtype, converted to the dtype the op computes in (NumPy's
loop type), the op's C expression is applied, and the result is stored in the output dtype.

The row ``c_expr`` strings of ``ops/scalar_ops.py`` are generic C (``fmax``, ``floor_div``);
``OP_RENDERERS`` below gives the per-dtype C for every row of the table (wrapping integer
math, NaN-propagating maximum, NumPy's floor_divide/mod, float32 libm names), and rows it
does not know (user ``elemwise_op`` rows) fall back to their ``c_expr``.

A fused scalar op (a composite) supplies its body through ``c_body`` (see ``scalar_body``).
"""

from __future__ import annotations

import ctypes.util
import functools
import hashlib
import platform
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from symgrad.codegen.templates import render, section
from symgrad.graph.types import C_TYPES, is_float, normalize_dtype
from symgrad.ops.elemwise import ScalarOp

CTYPES = C_TYPES
SUFFIXES = {
    "bool": "b",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "float32": "f32",
    "float64": "f64",
}
ERROR_MESSAGES = {
    1: "Integers to negative integer powers are not allowed.",
    2: "too many dimensions for a compiled elementwise kernel (at most 64)",
}
NEG_INT_POW = "SG_ERR_NEG_INT_POW"
CTYPE_PLACEHOLDER = re.compile(r"\{ctype:(\w+)\}")


@dataclass(frozen=True)
class CExpr:
    """A C expression for one scalar op; ``error``: a C condition that flags a NumPy error."""

    expr: str
    error: str | None = None


@dataclass(frozen=True)
class ScalarCode:
    """The per-element code of a (possibly fused) scalar op: statements, then one C
    expression per output, and C conditions that flag SG_ERR_NEG_INT_POW."""

    statements: tuple[str, ...]
    results: tuple[str, ...]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElemwiseKernel:
    """A rendered kernel. ``code`` needs ``prelude`` before it (``source`` is both)."""

    name: str
    cdef: str
    code: str
    prelude: str
    libraries: tuple[str, ...]
    input_dtypes: tuple[str, ...]
    output_dtypes: tuple[str, ...]

    @property
    def source(self) -> str:
        return self.prelude + self.code

    @staticmethod
    def error_message(code: int) -> str:
        return "; ".join(msg for bit, msg in ERROR_MESSAGES.items() if code & bit) or f"error {code}"


# --- per-op C ------------------------------------------------------------------------------
Renderer = Callable[[list[str], str, str], CExpr | str]  # (args, compute dtype, output dtype)


def _fold(op: str) -> Callable[[list[str], str, str], str]:
    """Variadic add/mul, left to right like ``functools.reduce`` (bool: or/and)."""

    def rendered(args: list[str], dt: str, out: str) -> str:
        expr = args[0]
        for arg in args[1:]:
            if dt == "bool":
                expr = f"({expr} {'|' if op == 'add' else '&'} {arg})"
            elif is_float(dt):
                expr = f"({expr} {'+' if op == 'add' else '*'} {arg})"
            else:
                expr = f"sg_{op}_{SUFFIXES[dt]}({expr}, {arg})"
        return expr

    return rendered


def _infix(symbol: str) -> Renderer:
    return lambda a, dt, out: f"({a[0]} {symbol} {a[1]})"


def _helper(name: str, *, float_name: str | None = None, bool_expr: str | None = None) -> Renderer:
    """``sg_<name>_<sfx>(args)``; floats may use a plain expression, bools another."""

    def rendered(a: list[str], dt: str, out: str) -> str:
        if dt == "bool" and bool_expr is not None:
            return bool_expr.format(*a)
        if is_float(dt) and float_name is not None:
            return float_name.format(*a, f="f" if dt == "float32" else "")
        return f"sg_{name}_{SUFFIXES[dt]}({', '.join(a)})"

    return rendered


def _libm(cname: str) -> Renderer:
    """A libm function (``expf`` for float32); integers were converted to float before."""
    return lambda a, dt, out: f"{cname}{'f' if dt == 'float32' else ''}({', '.join(a)})"


def _float_only(cname: str) -> Renderer:
    """floor/ceil/round: the identity on integers (NumPy keeps their dtype)."""
    libm = _libm(cname)
    return lambda a, dt, out: libm(a, dt, out) if is_float(dt) else a[0]


def _pow(a: list[str], dt: str, out: str) -> CExpr:
    if is_float(dt):
        return CExpr(_libm("pow")(a, dt, out))
    error = f"({a[1]} < 0)" if dt not in ("bool", "uint8") else None
    return CExpr(f"sg_pow_{SUFFIXES[dt]}({a[0]}, {a[1]})", error)


def _clip(a: list[str], dt: str, out: str) -> str:
    if dt == "bool":
        return f"(({a[0]} | {a[1]}) & {a[2]})"
    sfx = SUFFIXES[dt]
    return f"sg_min_{sfx}(sg_max_{sfx}({a[0]}, {a[1]}), {a[2]})"


def _float_test(cname: str) -> Renderer:
    return lambda a, dt, out: f"({cname}({a[0]}) != 0)" if is_float(dt) else "0"


def _cast(a: list[str], dt: str, out: str) -> str:
    """C conversion, which is NumPy's ``astype`` on x86-64 for every value NumPy defines;
    float -> int8/int16/uint8 goes through int32 as NumPy's loop does (300.5 -> 44 in int8).
    Out-of-range float -> int gives the platform's value (x86-64: INT_MIN; NaN too), as NumPy."""
    if is_float(dt) and out in ("int8", "int16", "uint8"):
        return f"({CTYPES[out]})(int32_t){a[0]}"
    return f"({CTYPES[out]}){a[0]}"


OP_RENDERERS: dict[str, Renderer] = {
    "add": _fold("add"),
    "mul": _fold("mul"),
    "sub": _helper("sub", float_name="({0} - {1})"),
    "true_divide": _infix("/"),
    "floor_divide": _helper("floor_div"),
    "mod": _helper("mod"),
    "pow": _pow,
    "neg": _helper("neg", float_name="(-{0})"),
    "abs": _helper("abs", float_name="fabs{f}({0})", bool_expr="{0}"),
    "reciprocal": _helper("reciprocal", float_name="(1 / {0})"),
    "square": lambda a, dt, out: _fold("mul")([a[0], a[0]], dt, out),
    "maximum": _helper("max", bool_expr="({0} | {1})"),
    "minimum": _helper("min", bool_expr="({0} & {1})"),
    "clip": _clip,
    "where": lambda a, dt, out: f"({a[0]} ? {a[1]} : {a[2]})",
    "sign": _helper("sign"),
    "floor": _float_only("floor"),
    "ceil": _float_only("ceil"),
    "round": _float_only("nearbyint"),
    "identity": lambda a, dt, out: a[0],
    "zero_grad": lambda a, dt, out: a[0],
    "second": lambda a, dt, out: a[1],
    **{
        name: _libm(name)
        for name in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt")
        + ("sin", "cos", "tan", "sinh", "cosh", "tanh")
    },
    "arcsin": _libm("asin"),
    "arccos": _libm("acos"),
    "arctan": _libm("atan"),
    "arctan2": _libm("atan2"),
    "sigmoid": _helper("sigmoid"),
    "softplus": _helper("softplus"),
    "erf": _helper("erf"),
    "eq": _infix("=="),
    "neq": _infix("!="),
    "lt": _infix("<"),
    "le": _infix("<="),
    "gt": _infix(">"),
    "ge": _infix(">="),
    "logical_and": _infix("&&"),
    "logical_or": _infix("||"),
    "logical_not": lambda a, dt, out: f"(!{a[0]})",
    "isnan": _float_test("isnan"),
    "isinf": _float_test("isinf"),
    "cast": _cast,
}


def compute_dtypes(sop: ScalarOp, input_dtypes: Sequence[str], output_dtype: str) -> tuple[str, ...]:
    """The dtype each input is converted to before the op (NumPy's loop type).

    Inputs that take part in promotion compute in the output dtype when it is a number (ints
    of a float result become float first, as ``Elemwise.perform`` does), else (bool results:
    comparisons, logic) in their common dtype. Other inputs keep their own dtype.
    """
    positions = range(len(input_dtypes)) if sop.promote is None else sop.promote
    if sop.name == "cast" or not positions:
        return tuple(input_dtypes)
    if output_dtype != "bool":
        common = output_dtype
    else:
        common = normalize_dtype(np.result_type(*(input_dtypes[k] for k in positions)))
    return tuple(common if k in positions else d for k, d in enumerate(input_dtypes))


def _fallback(sop: ScalarOp) -> Renderer:
    if sop.c_expr is None:
        raise NotImplementedError(f"the scalar op {sop} has no C expression")
    template = CTYPE_PLACEHOLDER.sub(lambda m: CTYPES[normalize_dtype(m.group(1))], sop.c_expr)
    return lambda a, dt, out: template.format(*a)


def render_scalar_op(sop: ScalarOp, args: Sequence[str], arg_dtypes: Sequence[str], out_dtype: str) -> CExpr:
    """C for ``sop`` applied to the C values ``args`` (of dtypes ``arg_dtypes``).

    The result is meant to be assigned to a variable of ``out_dtype``'s C type.
    """
    computes = compute_dtypes(sop, arg_dtypes, out_dtype)
    converted = [a if c == d else f"(({CTYPES[c]}){a})" for a, d, c in zip(args, arg_dtypes, computes)]
    positions = range(len(args)) if sop.promote is None else sop.promote
    dt = computes[positions[0]] if positions else computes[0]
    renderer = OP_RENDERERS.get(sop.name) or _fallback(sop)
    rendered = renderer(converted, dt, out_dtype)
    return rendered if isinstance(rendered, CExpr) else CExpr(rendered)


def scalar_body(
    sop: ScalarOp, names: Sequence[str], input_dtypes: Sequence[str], output_dtypes: Sequence[str]
) -> ScalarCode:
    """The per-element code. A fused op provides it through
    ``sop.c_body(names, input_dtypes, output_dtypes, render_scalar_op) -> ScalarCode``,
    rendering each inner scalar op with ``render_scalar_op`` (declaring its temporaries with
    the C types in ``CTYPES``)."""
    c_body = getattr(sop, "c_body", None)
    if c_body is not None:
        return c_body(list(names), list(input_dtypes), list(output_dtypes), render_scalar_op)
    rendered = render_scalar_op(sop, names, input_dtypes, output_dtypes[0])
    return ScalarCode((), (rendered.expr,), (rendered.error,) if rendered.error else ())


# --- the kernel ------------------------------------------------------------------------------
@functools.cache
def libmvec_available() -> bool:
    """glibc's vector math library (x86-64 Linux): the default for ``vector_math``."""
    return (
        sys.platform.startswith("linux")
        and platform.machine() in ("x86_64", "AMD64")
        and ctypes.util.find_library("mvec") is not None
    )


@functools.cache
def prelude(vector_math: bool) -> str:
    """What every kernel source starts with (once per library): helpers and the runtime."""
    parts = [render(section("scalar_math.h", "header"))]
    if vector_math:
        parts.append(render(section("scalar_math.h", "libmvec")))
    parts.append(render(section("scalar_math.h", "helpers")))
    parts.append(render(section("elemwise.c", "runtime")))
    parts.append(render(section("kernel.h", "runtime")))
    parts.append(render(section("elemwise.c", "driver")))
    return "\n".join(parts)


def _element(
    code: ScalarCode, loads: list[str], stores: list[str], dtypes: list[str], outs: list[str]
) -> str:
    lines = [f"const {CTYPES[d]} v{k} = {load};" for k, (d, load) in enumerate(zip(dtypes, loads))]
    lines += code.statements
    lines += [f"sg_err |= ({cond}) ? {NEG_INT_POW} : 0;" for cond in code.errors]
    lines += [f"{store} = ({CTYPES[d]})({res});" for store, d, res in zip(stores, outs, code.results)]
    return "\n".join(" " * 8 + line for line in lines)


def _substitutions(code: ScalarCode, ins: list[str], outs: list[str]) -> dict[str, str]:
    nin, ops = len(ins), [*ins, *outs]
    ctype = [CTYPES[d] for d in ops]
    names = [f"a{k}" for k in range(nin)] + [f"o{j}" for j in range(len(outs))]
    params = [f"const {ctype[k]} *restrict a{k}" for k in range(nin)]
    params += [f"{ctype[nin + j]} *restrict o{j}" for j in range(len(outs))]
    decls = [f"    const {t} *const a{k} = (const {t} *)ptr[{k}];" for k, t in enumerate(ctype[:nin])]
    decls += [f"    {t} *const o{j} = ({t} *)ptr[{nin + j}];" for j, t in enumerate(ctype[nin:])]
    decls += [f"    {t} t{n}[SG_VLEN];" for t, n in zip(ctype, names)]
    const = ["const " if k < nin else "" for k in range(len(ops))]
    indent = " " * 16
    return {
        "BLOCK_PARAMS": ", ".join(params),
        "BLOCK_BODY": _element(
            code, [f"a{k}[i]" for k in range(nin)], [f"o{j}[i]" for j in range(len(outs))], ins, outs
        ),
        "CONTIGUOUS_DECLS": "\n".join(decls),
        "BLOCK_POINTERS": "\n".join(
            f"        {c}{t} *b{n} = {n} + i;" for c, t, n in zip(const, ctype, names)
        ),
        "TAIL_GATHER": "\n".join(f"{indent}ta{k}[j] = a{k}[from];" for k in range(nin)),
        "TAIL_POINTERS": "\n".join(f"            b{n} = t{n};" for n in names),
        "BLOCK_ARGS": ", ".join(f"b{n}" for n in names),
        "TAIL_SCATTER": "\n".join(f"{indent}o{j}[i + j] = to{j}[j];" for j in range(len(outs))),
        "NOPS": str(len(ops)),
        "NIN": str(nin),
        "FLAT_PARAMS": ", ".join(f"char *p{k}" for k in range(len(ops))),
        "FLAT_ARGS": ", ".join(f"p{k}" for k in range(len(ops))),
        "ITEMSIZES": ", ".join(str(np.dtype(d).itemsize) for d in ops),
    }


MATH_CALL = re.compile(
    r"\b(?:exp|exp2|expm1|log|log2|log10|log1p|sin|cos|tan|sinh|cosh|tanh|asin|acos|atan|atan2|pow|"
    r"sg_sigmoid_\w+|sg_softplus_\w+|sg_erf_\w+)f?\("
)
CHEAP_PARALLEL_MIN = 1 << 19


def parallel_min(code: ScalarCode) -> int:
    """Elements from which a kernel runs on several threads: where one thread would take
    about twice what starting a parallel region costs. Waking sleeping OpenMP threads
    (``OMP_WAIT_POLICY=PASSIVE``) took 30-40 us on the 2-vCPU VM; plain arithmetic runs at
    about 0.16 ns per element, and each math-library call per element adds about 0.4 ns
    (``exp(x) * 2 + 1`` of 32768 doubles: 18.7 us on one thread, 46 us on two)."""
    calls = len(MATH_CALL.findall("\n".join((*code.statements, *code.results))))
    return max(16384, CHEAP_PARALLEL_MIN // (1 + 3 * calls))


def render_elemwise(
    sop: ScalarOp,
    input_dtypes: Sequence[str],
    output_dtype: str | Sequence[str],
    *,
    vector_math: bool | None = None,
) -> ElemwiseKernel:
    """The C kernel of ``Elemwise(sop)`` for these dtypes (several outputs for a fused op).

    ``vector_math``: declare libmvec's vector functions (link with ``-lmvec``) so that loops
    over exp/log/sin/... vectorize; None: when ``libmvec_available()``.
    """
    ins = [normalize_dtype(d) for d in input_dtypes]
    outs = [normalize_dtype(output_dtype)] if isinstance(output_dtype, str) else list(output_dtype)
    outs = [normalize_dtype(d) for d in outs]
    vector_math = libmvec_available() if vector_math is None else vector_math
    code = scalar_body(sop, [f"v{k}" for k in range(len(ins))], ins, outs)
    subs = {**_substitutions(code, ins, outs), "PARALLEL_MIN": str(parallel_min(code))}
    kernel = section("elemwise.c", "kernel")
    digest = hashlib.sha256(repr((kernel.text, sorted(subs.items()))).encode()).hexdigest()[:16]
    name = f"sg_elemwise_{digest}"
    return ElemwiseKernel(
        name=name,
        cdef=(
            f"int64_t {name}(int64_t ndim, const int64_t *shape, char *const *data, const int64_t *strides);\n"
            f"int64_t {name}_flat(int64_t n, int64_t scalars, {', '.join(['char *'] * (len(ins) + len(outs)))});"
        ),
        code=render(kernel, {**subs, "NAME": name}),
        prelude=prelude(vector_math),
        libraries=("mvec", "m") if vector_math else ("m",),
        input_dtypes=tuple(ins),
        output_dtypes=tuple(outs),
    )
