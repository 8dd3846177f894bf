"""C kernels of the indexing ops (Subtensor, IncSubtensor, LastWriteMask) and of the small
and data-moving shape ops (Shape, ShapeI, MakeVector, VectorElement, Split, Alloc,
ARange).

An index is compiled to a static table of items (``csrc_templates/indexing.c``, "runtime"):
Python decides, with the op's own ``layout`` (NumPy's placement rules), which region axis each
item makes; the C evaluates the index on the actual arrays with NumPy's checks and order of
checks. Every index pattern the spec can express is covered: integers, slices (symbolic
start/stop/step), new axes, the ellipsis, any number of integer index arrays (any rank,
broadcast together) and boolean masks (any rank), mixed. Outputs are fresh C-ordered arrays
(basic indexing is a strided copy here, where mode 'py' returns a view).

A kernel that fails returns its code; the messages below say what NumPy says (the op, the
shapes and the user's line are added by the caller).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from symgrad.codegen.elemwise_c import SUFFIXES
from symgrad.codegen.kernels import (
    ERR_INDEX,
    ERR_OVERFLOW,
    OpKernel,
    c_kernel,
    check_dtypes,
    copy_helper,
    op_kernel,
)
from symgrad.codegen.templates import render, section
from symgrad.graph.basic import Apply
from symgrad.graph.errors import GraphValueError, IndexingError, ShapeError
from symgrad.graph.types import C_TYPES, is_float
from symgrad.ops.shape_of import MakeVector, Shape, ShapeI, VectorElement
from symgrad.ops.shape_ops import Alloc, ARange, Split
from symgrad.ops.subtensor import (
    IncSubtensor,
    LastWriteMask,
    Subtensor,
    assign_axes,
    bind,
    layout,
    n_inputs,
)

TEMPLATE = "indexing.c"
MAX_ITEMS = 128  # SG_IX_MAXITEMS
MAX_NDIM = 32  # far below SG_MAXDIM: the plan's fixed arrays hold every region
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# dtype codes of sg_ix_int
INT_CODES = {"bool": 0, "int8": 1, "int16": 2, "int32": 3, "int64": 4, "uint8": 5}
SUFFIX = SUFFIXES  # the dtype suffixes of scalar_math.h's helpers
INT_RANGES = {"int8": (-(2**7), 2**7 - 1), "int16": (-(2**15), 2**15 - 1), "int32": (-(2**31), 2**31 - 1)}
INT_RANGES.update({"int64": (INT64_MIN, INT64_MAX), "uint8": (0, 255), "bool": (0, 1)})

ERR_STEP, ERR_MASK, ERR_BROADCAST, ERR_VALUE_SHAPE = 64, 65, 66, 67
ERR_NAN_LENGTH, ERR_BIG_LENGTH, ERR_INT_RANGE = 68, 69, 70
ERR_ARGS, ERR_SIZES = 71, 72  # the shape ops' own checks: a bad length, lengths that do not fit

INDEX_ERRORS = {
    ERR_INDEX: (IndexingError, "index {0} is out of bounds for axis {1} with size {2}"),
    ERR_STEP: (GraphValueError, "slice step cannot be zero"),
    ERR_MASK: (
        IndexingError,
        "boolean index did not match indexed array along axis {0}; size of axis is {1} "
        "but size of corresponding boolean axis is {2}",
    ),
    ERR_BROADCAST: (
        IndexingError,
        "shape mismatch: indexing arrays could not be broadcast together "
        "(lengths {1} and {2} meet on axis {0} of the index shape)",
    ),
    ERR_VALUE_SHAPE: (
        ShapeError,
        "shape mismatch: value array could not be broadcast to indexing result "
        "(axis {0} of the value has length {1}, the region {2})",
    ),
}


def _runtime() -> str:
    return render(section(TEMPLATE, "runtime"))


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


# --- indexing ---------------------------------------------------------------------------------


def _scalar(value: object, operand: int | None, dtype: str | None, clamp: bool) -> str:
    """An sg_ix_scalar initializer: None, a Python int, or scalar input ``operand``; a slice's
    constants are clamped to +-2**62 (beyond any axis they act the same)."""
    if operand is not None:
        return f"{{1, {operand}, {INT_CODES[dtype]}, 0}}"
    if value is None:
        return "{0, -1, 0, 0}"
    value = max(-(2**62), min(2**62, int(value))) if clamp else int(value)
    return f"{{1, -1, 0, {value if value != INT64_MIN else 'INT64_MIN'}}}"


def _item(
    kind: str, axis: int, width: int, out: int, operand: int = -1, code: int = 0, v: Sequence[str] = ()
) -> str:
    scalars = list(v) + ["{0, -1, 0, 0}"] * (3 - len(v))
    return f"{{SG_IX_{kind}, {axis}, {width}, {out}, {operand}, {code}, {{{', '.join(scalars)}}}}}"


def index_spec(node: Apply, first: int) -> tuple[str, str, int] | None:
    """(helper C, name, region rank) of the sg_ix_spec of ``node``'s index, whose values are
    the node's inputs from ``first`` on; None when the index cannot be compiled (a rank
    beyond MAX_NDIM, more than MAX_ITEMS items, an integer constant that does not fit in
    int64)."""
    spec, x = node.op.spec, node.inputs[0]
    count = n_inputs(spec)
    variables = node.inputs[first : first + count]
    bound = bind(spec, variables)
    operands = bind(spec, range(first, first + count))
    name = type(node.op).__name__
    axes = assign_axes(bound, x.ndim, name)
    dims = layout(bound, axes, x.ndim)
    if x.ndim > MAX_NDIM or len(dims) > MAX_NDIM:
        return None
    slice_out = {d[1]: k for k, d in enumerate(dims) if d[0] == "slice"}
    whole_out = {d[1]: k for k, d in enumerate(dims) if d[0] == "axis"}
    new_out = iter(k for k, d in enumerate(dims) if d[0] == "one")
    adv = [k for k, d in enumerate(dims) if d[0] == "adv"]
    items = []
    for (kind, args), (_, ops), rng in zip(bound, operands, axes):
        scalars = [
            _scalar(
                a, None if a is None or isinstance(a, int) else o, getattr(a, "dtype", None), kind == "slice"
            )
            for a, o in zip(args, ops)
        ]
        if kind == "int":
            if isinstance(args[0], int) and not INT64_MIN <= args[0] <= INT64_MAX:
                return None
            items.append(_item("INT", rng.start, 1, -1, v=scalars))
        elif kind == "slice":
            items.append(_item("SLICE", rng.start, 1, slice_out[rng.start], v=scalars))
        elif kind == "newaxis":
            items.append(_item("NEW", rng.start, 0, next(new_out)))
        elif kind == "ellipsis":
            items += [_item("WHOLE", a, 1, whole_out[a]) for a in rng]
        elif kind == "array":
            items.append(_item("ARRAY", rng.start, 1, -1, ops[0], INT_CODES[args[0].dtype]))
        else:  # mask
            items.append(_item("MASK", rng.start, len(rng), -1, ops[0], 0))
    used = axes[-1].stop if axes else 0
    items += [_item("WHOLE", a, 1, whole_out[a]) for a in range(used, x.ndim)]
    if len(items) > MAX_ITEMS:
        return None
    if adv:
        adv_first = adv[0]
    else:  # no index arrays: the first axis is the one threads split
        adv_first = 1 if len(dims) >= 2 else 0
    body = ",\n    ".join(items) or "{0}"
    name = f"sg_ix_spec_{_digest(body, len(dims), adv_first, len(adv))}"
    support = (
        f"static const sg_ix_item {name}_items[] = {{\n    {body}\n}};\n"
        f"static const sg_ix_spec {name} = {{{len(items)}, {len(dims)}, {adv_first}, {len(adv)}, {name}_items}};"
    )
    return support, name, len(dims)


def _gather(dtype: str) -> tuple[str, str]:
    sfx = SUFFIX[dtype]
    return render(section(TEMPLATE, "gather"), {"T": C_TYPES[dtype], "SFX": sfx}), f"sg_ix_gather_{sfx}"


def _combine(dtype: str, mode: str) -> str:
    """The update of element ``a`` by value ``b`` (NumPy's add: wrapping ints, or for bool)."""
    if mode == "set":
        return "b"
    if dtype == "bool":
        return "a | b"
    return "a + b" if is_float(dtype) else f"sg_add_{SUFFIX[dtype]}(a, b)"


def _scatter(dtype: str, mode: str) -> tuple[str, str]:
    sfx = SUFFIX[dtype]
    subs = {"T": C_TYPES[dtype], "SFX": sfx, "MODE": mode, "COMBINE": _combine(dtype, mode)}
    return render(section(TEMPLATE, "scatter"), subs), f"sg_ix_{mode}_{sfx}"


@c_kernel(Subtensor)
def subtensor_kernel(node: Apply) -> OpKernel | None:
    """``x[index]``: the region gathered into a fresh C-ordered array."""
    spec = index_spec(node, 1)
    if spec is None or not check_dtypes(node, C_TYPES):
        return None
    helper, name, _ = spec
    gather, gather_name = _gather(node.inputs[0].dtype)
    shape_body = f"""
    sg_ix_plan plan;
    const int64_t rc = sg_ix_prepare(&{name}, &in[0], in, &plan, meta, 1);
    if (rc) return rc;
    for (int64_t d = 0; d < plan.ndim; d++) out_shape[0][d] = plan.shape[d];"""
    run_body = f"""
    sg_ix_plan plan;
    int64_t *table, rc = sg_ix_prepare(&{name}, &in[0], in, &plan, meta, 0);
    if (!rc) rc = sg_ix_table(&{name}, &in[0], in, &plan, &table, meta);
    if (rc) return rc;
    {gather_name}(&plan, in[0].data, table, out[0].data);
    sg_ix_release(&plan, table);"""
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_runtime(), helper, gather],
        errors=INDEX_ERRORS,
    )


@c_kernel(IncSubtensor)
def inc_subtensor_kernel(node: Apply) -> OpKernel | None:
    """A copy of ``x`` with the region set or incremented (np.add.at: repeats accumulate)."""
    spec = index_spec(node, 2)
    x, y = node.inputs[:2]
    if spec is None or not check_dtypes(node, C_TYPES) or y.dtype != x.dtype or y.ndim > spec[2]:
        return None  # make_node casts y to x's dtype and drops its extra leading axes
    helper, name, _ = spec
    copy, copy_name = copy_helper(x.dtype, x.dtype)
    scatter, scatter_name = _scatter(x.dtype, "set" if node.op.set_instead_of_inc else "inc")
    shape_body = f"""
    sg_ix_plan plan;
    int64_t vst[SG_MAXDIM], rc = sg_ix_prepare(&{name}, &in[0], in, &plan, meta, 1);
    if (!rc) rc = sg_ix_value_strides(&plan, &in[1], vst, meta);
    if (rc) return rc;
    for (int64_t d = 0; d < {x.ndim}; d++) out_shape[0][d] = in[0].shape[d];"""
    run_body = f"""
    sg_ix_copy_par({copy_name}, {x.ndim}, in[0].shape, in[0].data, in[0].strides, out[0].data, out[0].strides);
    sg_ix_plan plan;
    int64_t vst[SG_MAXDIM], *table, rc = sg_ix_prepare(&{name}, &out[0], in, &plan, meta, 0);
    if (!rc) rc = sg_ix_value_strides(&plan, &in[1], vst, meta);
    if (!rc) rc = sg_ix_table(&{name}, &out[0], in, &plan, &table, meta);
    if (rc) return rc;
    {scatter_name}(&plan, out[0].data, table, &in[1], vst);
    sg_ix_release(&plan, table);"""
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_runtime(), helper, copy, scatter],
        errors=INDEX_ERRORS,
    )


@c_kernel(LastWriteMask)
def last_write_mask_kernel(node: Apply) -> OpKernel | None:
    """Which region elements are the last write to their place: every region position writes
    its number into a scratch copy of x's shape (in order), then reads back whether it won."""
    spec = index_spec(node, 1)
    if spec is None:
        return None
    helper, name, _ = spec
    x = node.inputs[0]
    gather, gather_name = _gather("int64")
    scatter, scatter_name = _scatter("int64", "set")
    shape_body = f"""
    sg_ix_plan plan;
    const int64_t rc = sg_ix_prepare(&{name}, &in[0], in, &plan, meta, 1);
    if (rc) return rc;
    for (int64_t d = 0; d < plan.ndim; d++) out_shape[0][d] = plan.shape[d];"""
    run_body = f"""
    const int64_t size = sg_size(&in[0]), n = sg_size(&out[0]);
    int64_t st[SG_MAXDIM + 1], ist[SG_MAXDIM + 1];
    sg_ix_c_strides({x.ndim}, in[0].shape, sizeof(int64_t), st);
    sg_ix_c_strides(out[0].ndim, out[0].shape, sizeof(int64_t), ist);
    int64_t *writer = malloc((size_t)(size > 0 ? size : 1) * sizeof(int64_t));
    int64_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t) * 2);
    if (!writer || !ids) {{
        free(writer);
        free(ids);
        SG_FAIL_INFO(SG_ERR_NOMEM, (size + 2 * n) * (int64_t)sizeof(int64_t), 0, 0);
    }}
    for (int64_t i = 0; i < n; i++) ids[i] = i;
    const sg_array target = {{(char *)writer, {x.ndim}, in[0].shape, st}};
    const sg_array id_array = {{(char *)ids, out[0].ndim, out[0].shape, ist}};
    sg_ix_plan plan;
    int64_t vst[SG_MAXDIM], *table, rc = sg_ix_prepare(&{name}, &target, in, &plan, meta, 0);
    if (!rc) rc = sg_ix_value_strides(&plan, &id_array, vst, meta);
    if (!rc) rc = sg_ix_table(&{name}, &target, in, &plan, &table, meta);
    if (rc) {{
        free(writer);
        free(ids);
        return rc;
    }}
    {scatter_name}(&plan, target.data, table, &id_array, vst);
    {gather_name}(&plan, target.data, table, (char *)(ids + n));
    sg_ix_release(&plan, table);
    for (int64_t i = 0; i < n; i++) ((_Bool *)out[0].data)[i] = ids[n + i] == i;
    free(writer);
    free(ids);"""
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_runtime(), helper, gather, scatter],
        errors=INDEX_ERRORS,
    )


# --- shapes as values ----------------------------------------------------------------------------


@c_kernel(ShapeI)
def shape_i_kernel(node: Apply) -> OpKernel:
    """``x.shape[i]``: reads the shape, never the data."""
    return op_kernel(node, shape_body="", run_body=f"    *(int64_t *)out[0].data = in[0].shape[{node.op.i}];")


@c_kernel(Shape)
def shape_kernel(node: Apply) -> OpKernel:
    ndim = node.inputs[0].ndim
    return op_kernel(
        node,
        shape_body=f"    out_shape[0][0] = {ndim};",
        run_body=f"    for (int64_t d = 0; d < {ndim}; d++) ((int64_t *)out[0].data)[d] = in[0].shape[d];",
    )


def _convert(src: str, dst: str, value: str) -> str:
    """C converting ``value`` of dtype ``src`` as ``np.array([value.item()], dst)`` does; ints
    through double into floats (Python's int -> float), bool from nonzero."""
    if dst == "bool":
        return f"(_Bool)({value} != 0)"
    if is_float(dst) and not is_float(src):
        return f"({C_TYPES[dst]})(double)({value})"
    return f"({C_TYPES[dst]})({value})"


def _c_int(value: int) -> str:
    """A C integer literal (INT64_MIN has none)."""
    return "INT64_MIN" if value == INT64_MIN else str(value)


def _needs_range_check(src: str, dst: str) -> bool:
    return dst in INT_RANGES and dst != "bool" and not is_float(src) and not _fits(src, dst)


def _fits(src: str, dst: str) -> bool:
    lo, hi = INT_RANGES[src]
    lo2, hi2 = INT_RANGES[dst]
    return lo2 <= lo and hi <= hi2


@c_kernel(MakeVector)
def make_vector_kernel(node: Apply) -> OpKernel | None:
    """A vector of scalars; an integer that the dtype cannot hold is NumPy's OverflowError."""
    dtype = node.op.dtype
    if not check_dtypes(node, C_TYPES):
        return None
    checks, stores = [], []
    for k, v in enumerate(node.inputs):
        load = f"*(const {C_TYPES[v.dtype]} *)in[{k}].data"
        if _needs_range_check(v.dtype, dtype):
            lo, hi = INT_RANGES[dtype]
            checks.append(f"    SG_IX_CHECK_RANGE({load}, {_c_int(lo)}, {hi});")
        stores.append(f"    (({C_TYPES[dtype]} *)out[0].data)[{k}] = {_convert(v.dtype, dtype, load)};")
    return op_kernel(
        node,
        shape_body="\n".join([f"    out_shape[0][0] = {len(node.inputs)};", *checks]),
        run_body="\n".join(stores),
        helpers=[_runtime()],
        errors={ERR_INT_RANGE: (OverflowError, f"Python integer {{0}} out of bounds for {dtype}")},
    )


@c_kernel(VectorElement)
def vector_element_kernel(node: Apply) -> OpKernel | None:
    """``v[i]`` with VectorElement's length check."""
    i, length = node.op.i, node.op.length
    dtype = node.inputs[0].dtype
    if dtype not in C_TYPES:
        return None
    bad = f"(n != {length}) || " if length is not None else ""
    expected = f"{length} entries" if length is not None else f"more than {i} entries"
    t = C_TYPES[dtype]
    return op_kernel(
        node,
        shape_body=f"""
    const int64_t n = in[0].shape[0];
    if ({bad}!(-n <= {i} && {i} < n)) SG_FAIL_INFO({ERR_ARGS}, n, 0, 0);""",
        run_body=f"""
    const int64_t n = in[0].shape[0], i = {i} < 0 ? {i} + n : {i};
    *({t} *)out[0].data = *(const {t} *)(in[0].data + i * in[0].strides[0]);""",
        errors={
            ERR_ARGS: (
                ShapeError,
                f"vector_element: a shape vector of length {{0}} was given where {expected} are needed",
            )
        },
    )


# --- data-moving shape ops -------------------------------------------------------------------------


def _read_scalars(node: Apply, first: int, name: str = "v") -> str:
    """C reading node.inputs[first:] (integer scalars) into int64_t name[]."""
    codes = [INT_CODES[v.dtype] for v in node.inputs[first:]]
    n = len(codes)
    return (
        f"    static const int64_t codes[{max(n, 1)}] = {{{', '.join(map(str, codes)) or '0'}}};\n"
        f"    int64_t {name}[{max(n, 1)}];\n"
        f"    sg_ix_read(in, {first}, {n}, codes, {name});"
    )


def _int_scalars(node: Apply, first: int) -> bool:
    return all(v.ndim == 0 and v.dtype in INT_CODES for v in node.inputs[first:])


@c_kernel(Split)
def split_kernel(node: Apply) -> OpKernel | None:
    """Pieces of ``x`` along ``axis``, each copied into its own output."""
    x, axis = node.inputs[0], node.op.axis
    if not check_dtypes(node, C_TYPES) or not _int_scalars(node, 1):
        return None
    copy, copy_name = copy_helper(x.dtype, x.dtype)
    nd, k = x.ndim, len(node.outputs)
    shape_body = f"""
{_read_scalars(node, 1)}
    int64_t total = 0;
    for (int64_t j = 0; j < {k}; j++) {{
        if (v[j] < 0) SG_FAIL_INFO({ERR_ARGS}, v[j], j, in[0].shape[{axis}]);
        if (__builtin_add_overflow(total, v[j], &total)) SG_FAIL_INFO({ERR_SIZES}, INT64_MAX, in[0].shape[{axis}], 0);
        for (int64_t d = 0; d < {nd}; d++) out_shape[j][d] = d == {axis} ? v[j] : in[0].shape[d];
    }}
    if (total != in[0].shape[{axis}]) SG_FAIL_INFO({ERR_SIZES}, total, in[0].shape[{axis}], 0);"""
    run_body = f"""
    const char *src = in[0].data;
    for (int64_t j = 0; j < {k}; j++) {{
        const sg_array *o = &out[j];
        sg_ix_copy_par({copy_name}, {nd}, o->shape, src, in[0].strides, o->data, o->strides);
        src += o->shape[{axis}] * in[0].strides[{axis}];
    }}"""
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_runtime(), copy],
        errors={
            ERR_ARGS: (ShapeError, f"split: length {{0}} (piece {{1}}) is negative; axis {axis} has {{2}}"),
            ERR_SIZES: (ShapeError, f"split: the lengths add up to {{0}}, not to axis {axis}'s length {{1}}"),
        },
    )


@c_kernel(Alloc)
def alloc_kernel(node: Apply) -> OpKernel | None:
    """``value`` broadcast into a new array of the shape the scalar inputs give."""
    value, (out,) = node.inputs[0], node.outputs
    if not check_dtypes(node, C_TYPES) or not _int_scalars(node, 1):
        return None
    copy, copy_name = copy_helper(value.dtype, out.dtype)
    nd, vnd = out.ndim, value.ndim
    lead = nd - vnd
    shape_body = f"""
{_read_scalars(node, 1)}
    for (int64_t d = 0; d < {nd}; d++) {{
        if (v[d] < 0) SG_FAIL_INFO({ERR_ARGS}, d, v[d], 0);
        out_shape[0][d] = v[d];
    }}
    for (int64_t d = 0; d < {vnd}; d++) {{
        const int64_t n = in[0].shape[d], want = v[{lead} + d];
        if (n != 1 && n != want) SG_FAIL_INFO({ERR_SIZES}, {lead} + d, n, want);
    }}
    if (sg_shape_size({nd}, out_shape[0]) < 0) SG_FAIL(SG_ERR_OVERFLOW);"""
    run_body = f"""
    int64_t st[SG_MAXDIM + 1] = {{0}};
    for (int64_t d = 0; d < {vnd}; d++)
        st[{lead} + d] = in[0].shape[d] == 1 ? 0 : in[0].strides[d];
    sg_ix_copy_par({copy_name}, {nd}, out[0].shape, in[0].data, st, out[0].data, out[0].strides);"""
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_runtime(), copy],
        errors={
            ERR_ARGS: (ShapeError, "broadcast_to: lengths must be >= 0 (axis {0} is {1})"),
            ERR_SIZES: (
                ShapeError,
                "broadcast_to: cannot broadcast the value to the shape (its axis {0} of length {1} "
                "meets length {2})",
            ),
            ERR_OVERFLOW: (GraphValueError, "broadcast_to: the shape's size overflows 64 bits"),
        },
    )


def _number(node: Apply, k: int) -> str:
    """An sg_ix_num initializer of input k (as perform's ``.item()`` sees it)."""
    dtype = node.inputs[k].dtype
    load = f"*(const {C_TYPES[dtype]} *)in[{k}].data"
    if is_float(dtype):
        return f"{{0, 0, (double)({load})}}"
    return f"{{1, (int64_t)({load}), 0.0}}"


@c_kernel(ARange)
def arange_kernel(node: Apply) -> OpKernel | None:
    """``np.arange(start, stop, step, dtype)``: NumPy's length and fill rules (see
    indexing.c); an integer dtype needs integer arguments (else NumPy's perform runs)."""
    dtype = node.op.dtype
    if dtype == "bool" or dtype not in C_TYPES or any(v.dtype not in C_TYPES for v in node.inputs):
        return None
    ints = all(not is_float(v.dtype) for v in node.inputs)
    if not is_float(dtype) and not ints:
        return None
    t, sfx = C_TYPES[dtype], SUFFIX[dtype]
    if is_float(dtype):
        subs = {"DELTA": "second - first", "FILL": f"start + ({t})i * delta"}
        first, second = f"({t})sg_ix_float(a[0])", f"({t})sg_ix_next_float(a[0], a[2])"
        checks = ""
    else:
        subs = {
            "DELTA": f"({t})((uint64_t)(int64_t)second - (uint64_t)(int64_t)first)",
            "FILL": f"({t})((uint64_t)(int64_t)start + (uint64_t)i * (uint64_t)(int64_t)delta)",
        }
        first, second = f"({t})a[0].i", f"({t})sg_ix_next_int(a[0], a[2])"
        lo, hi = INT_RANGES[dtype]
        checks = f"""
    if (len > 0) SG_IX_CHECK_RANGE(a[0].i, {_c_int(lo)}, {hi});
    if (len > 1) SG_IX_CHECK_RANGE(sg_ix_next_int(a[0], a[2]), {_c_int(lo)}, {hi});"""
    fill = render(section(TEMPLATE, "arange"), {"T": t, "SFX": sfx, **subs})
    numbers = f"    const sg_ix_num a[3] = {{{_number(node, 0)}, {_number(node, 1)}, {_number(node, 2)}}};"
    shape_body = f"""
{numbers}
    int64_t len, rc = sg_ix_arange_length(a[0], a[1], a[2], &len, meta);
    if (rc) return rc;{checks}
    if (len > INT64_MAX / (int64_t)sizeof({t})) SG_FAIL(SG_IX_ERR_BIG_LENGTH);
    out_shape[0][0] = len;"""
    run_body = f"""
{numbers}
    sg_ix_arange_{sfx}(({t} *)out[0].data, out[0].shape[0], {first}, out[0].shape[0] > 1 ? {second} : 0);"""
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_runtime(), fill],
        errors={
            ERR_STEP: (GraphValueError, "arange: step must not be zero"),
            ERR_NAN_LENGTH: (GraphValueError, "arange: cannot compute length"),
            ERR_BIG_LENGTH: (GraphValueError, "arange: Maximum allowed size exceeded"),
            ERR_INT_RANGE: (OverflowError, f"arange: Python integer {{0}} out of bounds for {dtype}"),
        },
    )


__all__ = ["index_spec"]
