"""C kernels of the reductions: ``Reduce`` (sum, prod, max, min, all, any, max_or_neg_inf),
``FusedReduce`` (a reduction of a fused elementwise expression, computed block by block with
no temporary array), ``SumToShape`` (the adjoint of broadcasting; a copy when nothing is
summed) and ``Argmax`` (argmax/argmin). The C is ``csrc_templates/reduce.c``.

Design. The loop is the input's shape (for ``FusedReduce`` the broadcast shape of its
inputs); each axis is kept (an output axis) or reduced. At run time the kernel drops
length-1 axes, merges axes that every operand walks as one, orders the reduced axes by
stride (innermost smallest; argmax keeps the logical order, its index counts it) and picks:

- **row mode** when the inputs' innermost axis is reduced (``sum(x, axis=1)`` of a C matrix):
  each output element reduces its lines (the innermost reduced axis); a line is read in place
  when unit-stride, else gathered or computed (fused) into blocks of 128 values. Float sums use
  NumPy's pairwise summation step for step (halves rounded to multiples of 8 down to 128
  elements, 8 accumulators), so where NumPy sums the same line (a C row, a strided vector, a
  whole contiguous array) the result is NumPy's to the bit; other kinds fold a line into 32
  independent accumulators (vectorized), combined as a tree.
- **column mode** when a kept axis has the smaller stride (``sum(x, axis=0)`` of a C matrix):
  the inner loop runs along 2048 outputs at a time, ``acc[j] = acc[j] (+) x[i, j]`` for each
  reduced position i (contiguous and vectorized, as NumPy does it), and the reduced positions
  are folded in blocks of 1024 into fresh accumulators that are then added in order: NumPy's
  sequential sum to the bit up to 1024 rows, far more accurate past that.

The leaf of the pairwise sum and the column loop are compiled for 256-bit vectors
(``SG_RNARROW``): 8 float64 accumulators are then two dependency chains instead of one.
The engines (everything but the per-node shape checks) are shared helpers: equal engines are
emitted once per library.

Threads (OpenMP, ``sg_threads``, past ``SG_PARALLEL_MIN`` elements): row mode splits the
output elements; with fewer outputs than threads it computes one output's pieces at once
(stretches of 65536 elements of a long line, or groups of about 65536 elements of lines), and
a single long float sum splits the top levels of the pairwise recursion. Column mode splits
chunks of outputs, or with few of them the 1024-position blocks (64 at a time). **Results do
not depend on the thread count at all**: every piece, block and split is fixed by the shapes
alone and folded in the same order whether threads compute it or not. Integer, bool and
max/min results are exact; float sums and products only reassociate. Error bounds (first
order, ``S = sum(|x|)``): a float sum in row mode is within ``(20 + log2(n_line) + n_lines) *
eps * S`` of the exact sum, with ``n_lines`` lines of ``n_line`` elements per output (pieces
and groups add fewer terms than that); in column mode within ``(1024 + n / 1024) * eps * S``
for ``n`` reduced positions (NumPy there: ``n * eps * S``).

Semantics are NumPy's (``perform``): max/min propagate NaN, argmax/argmin return the first
extreme and the first NaN, empty sums are 0 and products 1, and the shape checks refuse what
``perform`` refuses (max/min/argmax of an empty axis, a ``sum_to`` target that does not fit,
inputs of a fused reduction that do not broadcast) before any memory is touched, and integers
to negative powers in a fused reduction are flagged while it runs (only the fresh output was
written); the step then raises ``perform``'s own error. The kernels' messages (the input shape
spelled out up to 3-d) are the fallback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from symgrad.codegen.elemwise_c import NEG_INT_POW, SUFFIXES, libmvec_available, scalar_body
from symgrad.codegen.kernels import ERR_SHAPE, FIRST_OP_ERROR, OpKernel, c_kernel, copy_helper, op_kernel
from symgrad.codegen.templates import PLACEHOLDER_RE, render, section
from symgrad.graph.basic import Apply
from symgrad.graph.errors import GraphValueError, ShapeError
from symgrad.graph.types import C_TYPES, is_float
from symgrad.ops.composite import FusedReduce
from symgrad.ops.elemwise import ScalarOp, SumToShape
from symgrad.ops.reduce import Argmax, Reduce

TEMPLATE = "reduce.c"
MAX_NDIM = 64  # SG_MAXDIM
ERR_EMPTY = FIRST_OP_ERROR  # an empty axis for a reduction without identity / sum_to mismatch
ERR_NEG_POW = FIRST_OP_ERROR + 1  # integers to negative integer powers inside a FusedReduce
INT_LIMITS = {
    "int8": ("INT8_MIN", "INT8_MAX"),
    "int16": ("INT16_MIN", "INT16_MAX"),
    "int32": ("INT32_MIN", "INT32_MAX"),
    "int64": ("INT64_MIN", "INT64_MAX"),
    "uint8": ("0", "UINT8_MAX"),
}
NAME_TOKEN = "SG_RNAME_TOKEN"
KINDS = ("sum", "prod", "max", "min", "all", "any", "max_or_neg_inf")


# --- what a kind computes ------------------------------------------------------------------------
def _init(kind: str, acc: str) -> str:
    """The value an accumulator of dtype ``acc`` starts from (the identity, or the extreme for
    max/min: those reject empty axes before, so it is never the result)."""
    if kind in ("sum", "any"):
        return "0"
    if kind in ("prod", "all"):
        return "1"
    low = kind != "min"
    if is_float(acc):
        return "(-INFINITY)" if low else "INFINITY"
    if acc == "bool":
        return "0" if low else "1"
    return INT_LIMITS[acc][0 if low else 1]


def _combine(kind: str, acc: str) -> str:
    """C for ``a (+) v`` (``v`` a value or another accumulator), wrapping like NumPy on ints."""
    ctype, sfx = C_TYPES[acc], SUFFIXES[acc]
    if kind == "all":
        return "(a) & ((v) != 0)"
    if kind == "any":
        return "(a) | ((v) != 0)"
    if kind in ("sum", "prod"):
        if is_float(acc):
            return f"(a) {'+' if kind == 'sum' else '*'} ({ctype})(v)"
        return f"sg_{'add' if kind == 'sum' else 'mul'}_{sfx}((a), ({ctype})(v))"
    if acc == "bool":
        return "(a) | (v)" if kind != "min" else "(a) & (v)"
    if is_float(acc):
        return f"SG_R{'MIN' if kind == 'min' else 'MAX'}((a), ({ctype})(v))"
    return f"sg_{'min' if kind == 'min' else 'max'}_{sfx}((a), ({ctype})(v))"


def _fetch_plain(in_dtype: str) -> str:
    t = C_TYPES[in_dtype]
    return f"""    (void)err;
    const int64_t s = L->s[0];
    if (s == (int64_t)sizeof({t})) return (const {t} *)(L->p[0] + i0 * s);
    if (*n > SG_RBLOCK) *n = SG_RBLOCK;
    const char *src = L->p[0] + i0 * s;
    for (int64_t i = 0; i < *n; i++) L->v[i] = *(const {t} *)(src + i * s);
    return L->v;"""


def _window(nin: int) -> int:
    """Values a fused line computes at once (a stack buffer per input, so fewer for many)."""
    return 512 if nin <= 8 else 256 if nin <= 24 else 128


def _fetch_fused(name: str, in_dtypes: Sequence[str]) -> str:
    window = _window(len(in_dtypes))
    lines = [
        "    if (i0 < L->w0 || i0 + *n > L->w1) { /* not in the window: compute the next one */",
        f"        const int64_t len = L->len - i0 < {window} ? L->len - i0 : {window};",
    ]
    for k, dtype in enumerate(in_dtypes):
        t = C_TYPES[dtype]
        lines.append(f"""        const {t} *a{k};
        if (L->s[{k}] == (int64_t)sizeof({t})) {{
            a{k} = (const {t} *)(L->p[{k}] + i0 * L->s[{k}]);
        }} else if (L->s[{k}] == 0) {{ /* broadcast along the line: one value, filled once */
            if (!L->filled[{k}]) {{
                const {t} c = *(const {t} *)L->p[{k}];
                for (int64_t i = 0; i < {window}; i++) L->b{k}[i] = c;
                L->filled[{k}] = 1;
            }}
            a{k} = L->b{k};
        }} else {{
            const char *src = L->p[{k}] + i0 * L->s[{k}];
            for (int64_t i = 0; i < len; i++) L->b{k}[i] = *(const {t} *)(src + i * L->s[{k}]);
            a{k} = L->b{k};
        }}""")
    args = ", ".join(f"a{k}" for k in range(len(in_dtypes)))
    lines += [
        f"        *err |= {name}_values(len, {args}, L->v);",
        "        L->w0 = i0;",
        "        L->w1 = i0 + len;",
        "    }",
        "    if (*n > L->w1 - i0) *n = L->w1 - i0;",
        "    return L->v + (i0 - L->w0);",
    ]
    return "\n".join(lines)


def _values(name: str, sop: ScalarOp, in_dtypes: Sequence[str], value_dtype: str) -> str:
    """The per-element function of a fused reduction: n values of the scalar op. Every value
    goes through one vectorized loop of SG_VLEN elements (the tail padded with its last
    element), as in elementwise kernels, so a fused value equals the unfused kernel's bits."""
    code = scalar_body(sop, [f"v{k}" for k in range(len(in_dtypes))], in_dtypes, [value_dtype])
    vt = C_TYPES[value_dtype]
    ctypes = [C_TYPES[d] for d in in_dtypes]
    params = ", ".join(f"const {t} *restrict a{k}" for k, t in enumerate(ctypes))
    body = [f"const {t} v{k} = a{k}[i];" for k, t in enumerate(ctypes)]
    body += list(code.statements)
    body += [f"sg_err |= ({cond}) ? {NEG_INT_POW} : 0;" for cond in code.errors]
    body.append(f"out[i] = ({vt})({code.results[0]});")
    inner = "\n".join(" " * 8 + line for line in body)
    block_args = ", ".join([f"a{k} + i" for k in range(len(ctypes))] + ["out + i"])
    tail_decls = "\n".join(f"        {t} ta{k}[SG_VLEN];" for k, t in enumerate(ctypes))
    tail_gather = "\n".join(f"            ta{k}[j] = a{k}[from];" for k in range(len(ctypes)))
    tail_args = ", ".join([f"ta{k}" for k in range(len(ctypes))] + ["tout"])
    return f"""static inline int64_t {name}_vblock({params}, {vt} *restrict out)
{{
    int64_t sg_err = 0;
    for (int64_t i = 0; i < SG_VLEN; i++) {{
{inner}
    }}
    return sg_err;
}}

static int64_t {name}_values(int64_t n, {params}, {vt} *restrict out)
{{
    int64_t sg_err = 0, i = 0;
    for (; i + SG_VLEN <= n; i += SG_VLEN) sg_err |= {name}_vblock({block_args});
    if (i < n) {{
        const int64_t m = n - i;
{tail_decls}
        {vt} tout[SG_VLEN];
        for (int64_t j = 0; j < SG_VLEN; j++) {{
            const int64_t from = i + (j < m ? j : m - 1);
{tail_gather}
        }}
        sg_err |= {name}_vblock({tail_args});
        for (int64_t j = 0; j < m; j++) out[i + j] = tout[j];
    }}
    return sg_err;
}}"""


def _render_sections(names: Sequence[str], subs: dict[str, str]) -> str:
    parts = []
    for sec_name in names:
        sec = section(TEMPLATE, sec_name)
        used = set(PLACEHOLDER_RE.findall(sec.text))
        parts.append(render(sec, {k: v for k, v in subs.items() if k in used}))
    return "\n".join(parts)


def _named(prefix: str, code: str) -> tuple[str, str]:
    """(code, name): the support code's names must be unique per kernel, so they are a hash of
    the code itself (rendered with a token in their place)."""
    name = prefix + hashlib.sha256(code.encode()).hexdigest()[:16]
    return code.replace(NAME_TOKEN, name), name


def reduce_engine(
    kind: str, in_dtypes: Sequence[str], value_dtype: str, acc_dtype: str, sop: ScalarOp | None = None
) -> tuple[str, str]:
    """(C code, entry-point name) of a reduction of ``kind`` accumulating in ``acc_dtype``.

    Without ``sop`` the single input is read as is (``value_dtype`` is its dtype); with it,
    each element is ``sop`` of the inputs' elements (a fused reduction), computed in blocks.
    """
    pairwise = kind == "sum" and is_float(acc_dtype)
    subs = {
        "NAME": NAME_TOKEN,
        "NIN": str(len(in_dtypes)),
        "VT": C_TYPES[value_dtype],
        "AT": C_TYPES[acc_dtype],
        "INIT": f"(({C_TYPES[acc_dtype]}){_init(kind, acc_dtype)})",
        "COMBINE": _combine(kind, acc_dtype),
        "PAIRWISE": "1" if pairwise else "0",
        "ERR_CODE": str(ERR_NEG_POW),
    }
    if sop is None:
        subs |= {"WINDOW": "SG_RBLOCK", "BUFFERS": "", "VALUES": "", "FETCH": _fetch_plain(in_dtypes[0])}
    else:
        subs |= {
            "WINDOW": str(_window(len(in_dtypes))),
            "BUFFERS": "\n".join(
                f"    {C_TYPES[d]} b{k}[{_window(len(in_dtypes))}];" for k, d in enumerate(in_dtypes)
            ),
            "VALUES": _values(NAME_TOKEN, sop, in_dtypes, value_dtype),
            "FETCH": _fetch_fused(NAME_TOKEN, in_dtypes),
        }
    return _named(
        "sg_reduce_", _render_sections(["head", "pairwise" if pairwise else "lanes", "drivers"], subs)
    )


def argmax_engine(kind: str, dtype: str) -> tuple[str, str]:
    """(C code, entry-point name) of argmax/argmin over a ``dtype`` input."""
    op = ">" if kind == "argmax" else "<"
    better = f"((v) {op} (b))"
    if is_float(dtype):  # the first NaN wins, and nothing replaces it (bitwise: vectorizes)
        better = f"{better} | (((v) != (v)) & ((b) == (b)))"
    subs = {"NAME": NAME_TOKEN, "T": C_TYPES[dtype], "BETTER": better}
    return _named("sg_argmax_", _render_sections(["argmax"], subs))


def plan_helper() -> str:
    return render(section(TEMPLATE, "plan"))


# --- error messages -----------------------------------------------------------------------------
def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _empty_error(kind: str, where: str, ndim: int, location: str) -> tuple[type[Exception], str]:
    """perform's message for an empty axis: meta[0..2] are the first dimensions of the shape."""
    if ndim <= 3:
        dims = ", ".join(f"{{{d}}}" for d in range(ndim))
        shape_text = f"({dims},)" if ndim == 1 else f"({dims})"
        what = f"{_escape(where)} of shape {shape_text}"
    else:
        what = f"{_escape(where)} of the {ndim}-d input"
    text = f"cannot reduce over an empty axis ({what} has no elements, and this reduction has no identity)"
    return GraphValueError, f"{_escape(kind)}: {text} (created at {_escape(str(location))})"


def _where(axes: Sequence[int] | None) -> str:
    if axes is None:
        return "the flattened input"
    return f"axis {axes[0] if len(axes) == 1 else tuple(axes)}"


def _empty_check(shape: str, ndim: int, axes: Sequence[int]) -> str:
    """C: fail with ERR_EMPTY when one of ``axes`` of ``shape`` (a C array) has length 0."""
    if not axes:
        return ""
    cond = " || ".join(f"{shape}[{a}] == 0" for a in axes)
    info = ", ".join(f"{shape}[{d}]" if d < ndim else "0" for d in range(3))
    return f"    if ({cond}) SG_FAIL_INFO({ERR_EMPTY}, {info});"


# --- shared C blocks ------------------------------------------------------------------------------
def _kept_shape(shape: str, ndim: int, red: Sequence[bool]) -> str:
    kept = [d for d in range(ndim) if not red[d]]
    return "\n".join(f"    out_shape[0][{k}] = {shape}[{d}];" for k, d in enumerate(kept))


def _output_strides(nin: int, ndim: int, red: Sequence[bool]) -> str:
    """C: the output's loop strides (0 along reduced axes), after the inputs' in ``st``."""
    lines, k = [], 0
    for d in range(ndim):
        if red[d]:
            lines.append(f"    st[{nin * ndim + d}] = 0;")
        else:
            lines.append(f"    st[{nin * ndim + d}] = out[0].strides[{k}];")
            k += 1
    return "\n".join(lines)


def _red_array(ndim: int, red: Sequence[bool]) -> str:
    flags = ", ".join("1" if r else "0" for r in red)
    return f"    static const unsigned char red[{ndim + 1}] = {{ {flags}{', ' if flags else ''}0 }};"


def _call(engine: str, nin: int, ndim: int, shape: str) -> str:
    data = ", ".join([*(f"in[{k}].data" for k in range(nin)), "out[0].data"])
    return f"""    char *data_ptrs[{nin + 1}] = {{ {data} }};
    return {engine}({ndim}, {shape}, red, st, data_ptrs, meta);"""


def _mvec_flags(sop: ScalarOp | None) -> tuple[str, ...]:
    return ("-lmvec",) if sop is not None and libmvec_available() else ()


# --- the ops ----------------------------------------------------------------------------------------
def _simple_reduce_kernel(
    node: Apply, kind: str, engine_kind: str, axes: Sequence[int], acc_dtype: str, arg: bool
) -> OpKernel:
    """Reduce and Argmax: one input, reduced over static ``axes``."""
    (x,) = node.inputs
    ndim = x.ndim
    red = [d in axes for d in range(ndim)]
    if arg:
        code, engine = argmax_engine(engine_kind, x.dtype)
    else:
        code, engine = reduce_engine(engine_kind, [x.dtype], x.dtype, acc_dtype)
    errors = {}
    shape_body = [_kept_shape("in[0].shape", ndim, red)]
    if kind in ("max", "min", "argmax", "argmin"):
        empty_axes = list(range(ndim)) if arg and node.op.axis is None else list(axes)
        shape_body.append(_empty_check("in[0].shape", ndim, empty_axes))
        where = _where(None if arg and node.op.axis is None else list(axes))
        errors[ERR_EMPTY] = _empty_error(kind, where, ndim, node.location)
    run_body = "\n".join(
        [
            _red_array(ndim, red),
            f"    int64_t st[{2 * ndim + 1}];",
            *(f"    st[{d}] = in[0].strides[{d}];" for d in range(ndim)),
            _output_strides(1, ndim, red),
            _call(engine, 1, ndim, "in[0].shape"),
        ]
    )
    return op_kernel(
        node,
        shape_body="\n".join(b for b in shape_body if b),
        run_body=run_body,
        helpers=[plan_helper(), code],
        errors=errors,
    )


@c_kernel(Reduce)
def reduce_kernel(node: Apply) -> OpKernel | None:
    """Every kind of ``Reduce`` over any static axes, for the dtypes of ``C_TYPES``."""
    (x,) = node.inputs
    kind = node.op.kind
    if kind not in KINDS or x.dtype not in C_TYPES or node.outputs[0].dtype not in C_TYPES:
        return None
    if x.ndim > MAX_NDIM:
        return None
    return _simple_reduce_kernel(node, kind, kind, node.op.axis, node.outputs[0].dtype, arg=False)


@c_kernel(Argmax)
def argmax_kernel(node: Apply) -> OpKernel | None:
    """argmax/argmin along one axis or of the flattened input."""
    (x,) = node.inputs
    if node.op.kind not in ("argmax", "argmin") or x.dtype not in C_TYPES or x.ndim > MAX_NDIM:
        return None
    axes = list(range(x.ndim)) if node.op.axis is None else [node.op.axis]
    return _simple_reduce_kernel(node, node.op.kind, node.op.kind, axes, "int64", arg=True)


@c_kernel(FusedReduce)
def fused_reduce_kernel(node: Apply) -> OpKernel | None:
    """A reduction of an elementwise expression of several (broadcast) inputs in one pass: the
    expression is computed in blocks of 128 values that are reduced at once."""
    op = node.op
    in_dtypes = [v.dtype for v in node.inputs]
    out_dtype = node.outputs[0].dtype
    if op.kind not in KINDS or any(d not in C_TYPES for d in (*in_dtypes, out_dtype)):
        return None
    value_dtype = op.scalar_op.output_dtype(tuple(in_dtypes))
    ndim = max(v.ndim for v in node.inputs)
    if value_dtype not in C_TYPES or ndim > MAX_NDIM or len(in_dtypes) > MAX_NDIM:
        return None
    try:
        code, engine = reduce_engine(op.kind, in_dtypes, value_dtype, out_dtype, op.scalar_op)
    except (NotImplementedError, KeyError, IndexError):
        return None  # a scalar op without C
    nin, axes = len(in_dtypes), op.axis
    red = [d in axes for d in range(ndim)]
    shape_body = [
        f"    int64_t shape[{ndim + 1}];",
        f"    if (sg_rbroadcast({nin}, in, {ndim}, shape)) SG_FAIL(SG_ERR_SHAPE);",
        f"    if (sg_shape_size({ndim}, shape) < 0) SG_FAIL(SG_ERR_OVERFLOW);",
        _kept_shape("shape", ndim, red),
    ]
    errors = {
        ERR_NEG_POW: (ValueError, "Integers to negative integer powers are not allowed."),
        ERR_SHAPE: (ShapeError, "shapes cannot be broadcast together"),
    }
    if op.kind in ("max", "min"):
        shape_body.append(_empty_check("shape", ndim, axes))
        errors[ERR_EMPTY] = _empty_error(op.kind, _where(axes), ndim, node.location)
    run_body = "\n".join(
        [
            _red_array(ndim, red),
            f"    int64_t shape[{ndim + 1}], st[{(nin + 1) * ndim + 1}];",
            f"    sg_rbroadcast({nin}, in, {ndim}, shape);",
            f"    sg_rinput_strides({nin}, in, {ndim}, st);",
            _output_strides(nin, ndim, red),
            _call(engine, nin, ndim, "shape"),
        ]
    )
    return op_kernel(
        node,
        shape_body="\n".join(b for b in shape_body if b),
        run_body=run_body,
        helpers=[plan_helper(), code],
        errors=errors,
        link_flags=_mvec_flags(op.scalar_op),
    )


@c_kernel(SumToShape)
def sum_to_shape_kernel(node: Apply) -> OpKernel | None:
    """``sum_to``: leading axes and the axes where the target has length 1 are summed (in the
    value's own dtype, wrapping like NumPy's cast back; bools: any); a copy if none is."""
    g, *dims = node.inputs
    dtype = g.dtype
    if dtype not in C_TYPES or g.ndim > MAX_NDIM:
        return None
    if any(d.ndim != 0 or d.dtype not in INT_LIMITS for d in dims):
        return None
    ndim, lead = g.ndim, g.ndim - len(dims)
    code, engine = reduce_engine("any" if dtype == "bool" else "sum", [dtype], dtype, dtype)
    copy, copy_name = copy_helper(dtype, dtype)
    shape_body = []
    for a, d in enumerate(dims):
        shape_body.append(f"""    {{
        const int64_t n = (int64_t)*(const {C_TYPES[d.dtype]} *)in[{a + 1}].data, have = in[0].shape[{lead + a}];
        if (n != 1 && n != have) SG_FAIL_INFO({ERR_EMPTY}, {lead + a}, have, n);
        out_shape[0][{a}] = n;
    }}""")
    location = _escape(str(node.location))
    errors = {
        ERR_EMPTY: (
            ShapeError,
            f"sum_to: a value whose axis {{0}} has length {{1}} cannot be summed to length {{2}} "
            f"(created at {location})",
        )
    }
    run_body = f"""    unsigned char red[{ndim + 1}];
    int64_t st[{2 * ndim + 1}];
    int any = 0;
    for (int64_t d = 0; d < {ndim}; d++) {{
        const int64_t a = d - {lead};
        red[d] = a < 0 || (out[0].shape[a] == 1 && in[0].shape[d] != 1);
        st[d] = in[0].strides[d];
        st[{ndim} + d] = red[d] ? 0 : out[0].strides[a];
        any |= red[d];
    }}
    if (!any) {{ /* nothing to sum: the value itself */
        {copy_name}({ndim}, in[0].shape, in[0].data, in[0].strides, out[0].data, out[0].strides);
        return 0;
    }}
    char *data_ptrs[2] = {{ in[0].data, out[0].data }};
    return {engine}({ndim}, in[0].shape, red, st, data_ptrs, meta);"""
    return op_kernel(
        node,
        shape_body="\n".join(shape_body),
        run_body=run_body,
        helpers=[plan_helper(), code, copy],
        errors=errors,
    )
