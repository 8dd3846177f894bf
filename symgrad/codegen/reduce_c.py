"""C kernels of the reductions: ``Reduce`` (sum, prod, max, min, all, any, max_or_neg_inf),
``FusedReduce`` (a reduction of a fused elementwise expression, computed block by block with
no temporary array), ``SumToShape`` (the adjoint of broadcasting; a copy when nothing is
summed) and ``Argmax`` (argmax/argmin). The C is ``csrc_templates/reduce.c``.

Design. The loop is the input's shape (for ``FusedReduce`` the broadcast shape of its
inputs); each axis is kept (an output axis) or reduced. At run time the kernel drops
length-1 axes, merges axes that every operand walks as one, orders the reduced axes by
stride (innermost smallest; argmax keeps the logical order, its index counts it) and picks:

- **row mode** when the inputs' innermost axis is reduced (``sum(x, axis=1)`` of a C matrix):
  each output element reduces its lines (the innermost reduced axis). A line that is one
  input's contiguous elements is read in place; a strided one is gathered, and a fused one
  computed, into windows of 1024 values. Float sums use NumPy's pairwise summation step for
  step (halves rounded to multiples of 8 down to 128 elements, 8 accumulators), so where NumPy
  sums the same line (a C row, a strided vector, a whole contiguous array) the result is
  NumPy's to the bit; and since a fused value is the elementwise kernel's to the bit, a fused
  sum is ``np.sum`` of the unfused values to the bit too. Other kinds fold a line into 32
  independent accumulators (vectorized; float max/min are one compare-and-select per lane,
  with NaNs noted in lanes of their own), combined as a tree.
- **column mode** when a kept axis has the smaller stride (``sum(x, axis=0)`` of a C matrix):
  the inner loop runs along 2048 outputs at a time, ``acc[j] = acc[j] (+) x[i, j]`` for each
  reduced position i (contiguous and vectorized, as NumPy does it), and the reduced positions
  are folded in blocks of 1024 into fresh accumulators that are then added in order: NumPy's
  sequential sum to the bit up to 1024 rows, far more accurate past that.

Code, and what it costs to compile. The engine (plans, line readers, row and column mode,
threads) is written once without types, in ``reduce.c``'s ``plan``/``engine``/``argengine``
sections: it moves values and accumulators as bytes and calls a table of typed loops
(``ops``: fold a stretch, fold a column, merge partial results, fold evenly spaced lines),
one per (kind, value dtype, accumulator dtype), e.g. ``sg_rops_sum_float64_float64``. A
library holds the engine once, each table once, and per kernel only its shape checks, a
static descriptor and, for a fused reduction, its values function. The engine is control
code, compiled at ``-O1`` (gcc; its entry points ``noipa``, so no clone per kernel): the hot
loops are all in the typed tables, at ``-O3``. The leaf of the pairwise sum and the column loop
are compiled for 256-bit vectors (``SG_RNARROW``): 8 float64 accumulators are then two
dependency chains instead of one.

Threads (OpenMP, ``sg_threads``, past ``SG_PARALLEL_MIN`` elements, dynamic schedule so that
a thread slowed down by a busy core takes less): row mode splits the output elements; with
fewer outputs than threads it computes one output's pieces at once (stretches of 65536
elements of a long line, or groups of about 65536 elements of lines), and a single long float
sum splits the top levels of the pairwise recursion. Column mode splits
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
from symgrad.codegen.templates import render, section
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


def _ops_name(kind: str, value_dtype: str, acc_dtype: str) -> str:
    return f"sg_rops_{kind}_{value_dtype}_{acc_dtype}"


def ops_helper(kind: str, value_dtype: str, acc_dtype: str) -> tuple[str, str]:
    """(C code, table name) of the typed loops of ``kind`` over ``value_dtype`` values into
    ``acc_dtype`` accumulators: shared by every kernel of a library that needs them."""
    kind = "max" if kind == "max_or_neg_inf" else kind  # the same loops (the identity is -inf)
    name = _ops_name(kind, value_dtype, acc_dtype)
    combine = _combine(kind, acc_dtype)
    nan_lanes = kind in ("max", "min") and is_float(acc_dtype)
    # float max/min: one compare-and-select per lane, NaNs noted in lanes of their own
    lane = f"(v) {'>' if kind == 'max' else '<'} (a) ? (v) : (a)" if nan_lanes else combine
    subs = {
        "OPS": name,
        "KIND": kind,
        "VT": C_TYPES[value_dtype],
        "AT": C_TYPES[acc_dtype],
        "INIT": f"(({C_TYPES[acc_dtype]}){_init(kind, acc_dtype)})",
        "COMBINE": combine,
        "LANE": lane,
        "NANLANES": "1" if nan_lanes else "0",
        "PAIRWISE": "1" if kind == "sum" and is_float(acc_dtype) else "0",
    }
    return render(section(TEMPLATE, "ops"), subs), name


def argops_helper(kind: str, dtype: str) -> tuple[str, str]:
    """(C code, table name) of argmax/argmin over a ``dtype`` input."""
    op = ">" if kind == "argmax" else "<"
    better = f"((v) {op} (b))"
    if is_float(dtype):  # the first NaN wins, and nothing replaces it (bitwise: vectorizes)
        better = f"{better} | (((v) != (v)) & ((b) == (b)))"
    name = f"sg_rarg_{kind}_{dtype}"
    subs = {"OPS": name, "KIND": kind, "T": C_TYPES[dtype], "BETTER": better}
    return render(section(TEMPLATE, "argops"), subs), name


def values_helper(sop: ScalarOp, in_dtypes: Sequence[str], value_dtype: str) -> tuple[str, str]:
    """(C code, function name) of the values of a fused reduction: ``sop`` of the inputs over a
    stretch of a line, every value through one vectorized loop of SG_VLEN elements (the tail
    padded with its last element), as in elementwise kernels, so a fused value equals the
    unfused kernel's bits."""
    code = scalar_body(sop, [f"v{k}" for k in range(len(in_dtypes))], in_dtypes, [value_dtype])
    vt = C_TYPES[value_dtype]
    ctypes = [C_TYPES[d] for d in in_dtypes]
    body = [f"const {t} v{k} = a{k}[i];" for k, t in enumerate(ctypes)]
    body += list(code.statements)
    body += [f"sg_err |= ({cond}) ? {NEG_INT_POW} : 0;" for cond in code.errors]
    body.append(f"out[i] = ({vt})({code.results[0]});")
    decls, fast, fast_ptrs, slow_ptrs = [], [], [], []
    for k, t in enumerate(ctypes):
        decls.append(f"""    const {t} *a{k}, *b{k} = (const {t} *)p[{k}];
    {t} g{k}[SG_VLEN], c{k}[SG_VLEN];
    const int64_t d{k} = s[{k}] == (int64_t)sizeof({t}); /* blocks are d{k} * SG_VLEN apart */
    if (s[{k}] == 0) {{ /* broadcast: one value, a block filled once */
        for (int64_t j = 0; j < SG_VLEN; j++) c{k}[j] = *b{k};
        b{k} = c{k};
    }}""")
        fast.append(f"(s[{k}] == 0 || d{k})")
        fast_ptrs.append(f"            a{k} = b{k} + i * d{k};")
        slow_ptrs.append(f"""            if (s[{k}] == 0) {{
                a{k} = c{k};
            }} else {{
                for (int64_t j = 0; j < SG_VLEN; j++) g{k}[j] = *(const {t} *)(p[{k}] + (i + (j < m ? j : m - 1)) * s[{k}]);
                a{k} = g{k};
            }}""")
    decls.append(f"    const int fast = {' && '.join(fast)}; /* every block of n in place */")
    pointers = [
        "        if (m == SG_VLEN && fast) {",
        *fast_ptrs,
        "        } else { /* gathered (the tail: padded with its last element) */",
        *slow_ptrs,
        "        }",
    ]
    subs = {
        "NAME": NAME_TOKEN,
        "PARAMS": ", ".join(f"const {t} *restrict a{k}" for k, t in enumerate(ctypes)),
        "VT": vt,
        "BODY": "\n".join(" " * 8 + line for line in body),
        "DECLS": "\n".join(decls),
        "POINTERS": "\n".join(pointers),
        "ARGS": ", ".join(f"a{k}" for k in range(len(ctypes))),
    }
    code_text, name = _named("sg_rvalues_", render(section(TEMPLATE, "values"), subs))
    return code_text, f"{name}_values"


def _named(prefix: str, code: str) -> tuple[str, str]:
    """(code, name): names of per-kernel code must be unique, so they are a hash of the code
    itself (rendered with a token in their place)."""
    name = prefix + hashlib.sha256(code.encode()).hexdigest()[:16]
    return code.replace(NAME_TOKEN, name), name


def plan_helper() -> str:
    return render(section(TEMPLATE, "plan"))


def engine_helper() -> str:
    return render(section(TEMPLATE, "engine"))


def argengine_helper() -> str:
    return render(section(TEMPLATE, "argengine"))


def _descriptor(nin: int, value_dtype: str, values: str, ops: str) -> str:
    """C: the static table a reduction kernel hands to sg_reduce_run."""
    return (
        f"    static const sg_rkernel K = {{ {{ {nin}, sizeof({C_TYPES[value_dtype]}), {values} }}, "
        f"&{ops}, {ERR_NEG_POW} }};"
    )


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


def _call(entry: str, table: str, nin: int, ndim: int, shape: str) -> str:
    """C: the call of an engine entry point with its table (``&K``, say)."""
    data = ", ".join([*(f"in[{k}].data" for k in range(nin)), "out[0].data"])
    return f"""    char *data_ptrs[{nin + 1}] = {{ {data} }};
    return {entry}({table}, {ndim}, {shape}, red, st, data_ptrs, meta);"""


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
        code, table = argops_helper(engine_kind, x.dtype)
        helpers = [plan_helper(), argengine_helper(), code]
        setup, entry = "", ("sg_argmax_run", f"&{table}")
    else:
        code, table = ops_helper(engine_kind, x.dtype, acc_dtype)
        helpers = [plan_helper(), engine_helper(), code]
        setup, entry = _descriptor(1, x.dtype, "NULL", table), ("sg_reduce_run", "&K")
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
            setup,
            f"    int64_t st[{2 * ndim + 1}];",
            *(f"    st[{d}] = in[0].strides[{d}];" for d in range(ndim)),
            _output_strides(1, ndim, red),
            _call(*entry, 1, ndim, "in[0].shape"),
        ]
    )
    return op_kernel(
        node,
        shape_body="\n".join(b for b in shape_body if b),
        run_body="\n".join(line for line in run_body.split("\n") if line),
        helpers=helpers,
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
    expression is computed in windows of up to 1024 values that are reduced at once."""
    op = node.op
    in_dtypes = [v.dtype for v in node.inputs]
    out_dtype = node.outputs[0].dtype
    if op.kind not in KINDS or any(d not in C_TYPES for d in (*in_dtypes, out_dtype)):
        return None
    value_dtype = op.scalar_op.output_dtype(tuple(in_dtypes))
    ndim = max(v.ndim for v in node.inputs)
    if value_dtype not in C_TYPES or ndim > MAX_NDIM or len(in_dtypes) > MAX_NDIM:
        return None
    if is_float(out_dtype) and value_dtype != out_dtype:
        return None  # NumPy sums floats in their own dtype: never happens
    try:
        values, values_name = values_helper(op.scalar_op, in_dtypes, value_dtype)
    except (NotImplementedError, KeyError, IndexError):
        return None  # a scalar op without C
    ops, table = ops_helper(op.kind, value_dtype, out_dtype)
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
            _descriptor(nin, value_dtype, values_name, table),
            _call("sg_reduce_run", "&K", nin, ndim, "shape"),
        ]
    )
    return op_kernel(
        node,
        shape_body="\n".join(b for b in shape_body if b),
        run_body=run_body,
        helpers=[plan_helper(), engine_helper(), ops, values],
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
    code, table = ops_helper("any" if dtype == "bool" else "sum", dtype, dtype)
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
{_descriptor(1, dtype, "NULL", table)}
    char *data_ptrs[2] = {{ in[0].data, out[0].data }};
    return sg_reduce_run(&K, {ndim}, in[0].shape, red, st, data_ptrs, meta);"""
    return op_kernel(
        node,
        shape_body="\n".join(shape_body),
        run_body=run_body,
        helpers=[plan_helper(), engine_helper(), code, copy],
        errors=errors,
    )
