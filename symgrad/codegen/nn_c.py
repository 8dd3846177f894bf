"""C kernels of the nn ops (``ops/nn_ops.py``): Softmax, LogSoftmax, SoftmaxGrad,
CrossentropySoftmax (class indices and dense targets), PickClass and OneHot.

The C is ``csrc_templates/nn.c``: per-dtype row kernels (``float_rows``, shared by every kernel
of a library through ``helpers``) and one run body per op, filled in here with dtypes and axes.
Class indices are range-checked in ``_shape`` (first bad one in C order, as perform reports it),
so a bad index fails before anything is allocated. Messages name the op (KernelStep prefixes
the op and its inputs' shapes) and end with the node's location, as perform's do.
"""

from __future__ import annotations

from symgrad.codegen.elemwise_c import libmvec_available
from symgrad.codegen.kernels import (
    ERR_SHAPE,
    FIRST_OP_ERROR,
    OpKernel,
    c_kernel,
    check_dtypes,
    copy_helper,
    op_kernel,
)
from symgrad.codegen.templates import render, section
from symgrad.graph.basic import Apply
from symgrad.graph.errors import ShapeError
from symgrad.graph.types import C_TYPES, FLOAT_DTYPES, INT_DTYPES
from symgrad.ops.nn_ops import (
    ClassIndexError,
    CrossentropySoftmax,
    LogSoftmax,
    OneHot,
    PickClass,
    Softmax,
    SoftmaxGrad,
)

TEMPLATE = "nn.c"
ERR_CLASS = FIRST_OP_ERROR  # SG_NN_ERR_CLASS of nn.c
FLAGS = ("-fopenmp-simd",)  # `omp simd` reductions vectorize (with libmvec's exp) without -fopenmp
# The exp/log loops call libmvec's vector functions when the prelude declares them; link it as
# the elementwise kernels do (glibc's libm.so usually pulls it in too).
LINK_FLAGS = ("-lmvec",) if libmvec_available() else ()
# scalar_math.h suffix, libm suffix, the integer type as wide as the float (NaN flags)
SUFFIX = {"float32": ("f32", "f", "int32_t"), "float64": ("f64", "", "int64_t")}


def _render(name: str, **subs: str | int) -> str:
    return render(section(TEMPLATE, name), {k: str(v) for k, v in subs.items()})


def _common() -> str:
    return _render("helpers")


def _float_rows(dtype: str) -> str:
    sfx, libm, int_type = SUFFIX[dtype]
    return _render("float_rows", F=dtype, T=C_TYPES[dtype], ACC="double", SFX=sfx, S=libm, INT=int_type)


def _check_classes(idx_dtype: str) -> str:
    return _render("check_classes", I=idx_dtype, TI=C_TYPES[idx_dtype])


def _where(node: Apply, message: str) -> str:
    """``message`` (a format string over meta[0..2]) ending with the node's location."""
    location = str(node.location).replace("{", "{{").replace("}", "}}")
    return f"{message} (created at {location})"


def _class_errors(node: Apply, shape_message: str | None = None) -> dict:
    """perform's ClassIndexError (info: the index, the number of classes), and a ShapeError."""
    errors = {ERR_CLASS: (ClassIndexError, _where(node, "class index {0} is out of range for {1} classes"))}
    if shape_message is not None:
        errors[ERR_SHAPE] = (ShapeError, _where(node, shape_message))
    return errors


def _check_shapes(a: int, b: int, nd: int) -> str:
    """C that fails with SG_ERR_SHAPE (info: axis, the two lengths) unless in[a] and in[b]
    agree on their first ``nd`` axes."""
    return f"""
    for (int64_t d = 0; d < {nd}; d++)
        if (in[{a}].shape[d] != in[{b}].shape[d])
            SG_FAIL_INFO(SG_ERR_SHAPE, d, in[{a}].shape[d], in[{b}].shape[d]);"""


def _range_check(node: Apply, k: int, n: str) -> str:
    """C that fails with SG_NN_ERR_CLASS (info: the first bad index, n) unless the class
    indices in[k] lie in [0, n)."""
    return f"""
    {{
        int64_t bad = 0;
        if (sg_nn_check_classes_{node.inputs[k].dtype}(&in[{k}], {n}, &bad))
            SG_FAIL_INFO(SG_NN_ERR_CLASS, bad, {n}, 0);
    }}"""


@c_kernel(Softmax, LogSoftmax)
def softmax_kernel(node: Apply) -> OpKernel | None:
    """Softmax / LogSoftmax of float32 or float64 along any axis."""
    (x,), dtype = node.inputs, node.outputs[0].dtype
    if x.dtype != dtype or dtype not in FLOAT_DTYPES:
        return None
    copy, copy_name = copy_helper(dtype, dtype)
    run_body = _render(
        "softmax_run",
        KIND=str(node.op),
        F=dtype,
        T=C_TYPES[dtype],
        NDIM=x.ndim,
        AXIS=node.op.axis,
        LOG=int(isinstance(node.op, LogSoftmax)),
        COPY=copy_name,
    )
    shape_body = f"    for (int64_t d = 0; d < {x.ndim}; d++) out_shape[0][d] = in[0].shape[d];"
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_common(), _float_rows(dtype), copy],
        flags=FLAGS,
        link_flags=LINK_FLAGS,
    )


@c_kernel(SoftmaxGrad)
def softmax_grad_kernel(node: Apply) -> OpKernel | None:
    """``sm * (dy - sum(dy * sm))`` along any axis; dy and sm may differ in float dtype."""
    (dy, sm), dtype = node.inputs, node.outputs[0].dtype
    if not check_dtypes(node, FLOAT_DTYPES):
        return None
    nd, ctype = sm.ndim, C_TYPES[dtype]
    copy_dy, copy_dy_name = copy_helper(dy.dtype, dtype)
    copy_sm, copy_sm_name = copy_helper(sm.dtype, dtype)
    row = _render(
        "softmax_grad_row",
        DY=dy.dtype,
        SM=sm.dtype,
        TDY=C_TYPES[dy.dtype],
        TSM=C_TYPES[sm.dtype],
        T=ctype,
        ACC="double",
    )
    run_body = _render(
        "softmax_grad_run",
        NDIM=nd,
        AXIS=node.op.axis,
        DY=dy.dtype,
        SM=sm.dtype,
        F=dtype,
        T=ctype,
        DY_SAME=int(dy.dtype == dtype),
        SM_SAME=int(sm.dtype == dtype),
        COPY_DY=copy_dy_name,
        COPY_SM=copy_sm_name,
    )
    shape_body = (
        _check_shapes(0, 1, nd)
        + f"""
    for (int64_t d = 0; d < {nd}; d++) out_shape[0][d] = in[1].shape[d];"""
    )
    message = "dy and sm must have the same shape (axis {0}: {1} vs {2})"
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_common(), _float_rows(dtype), row, copy_dy, copy_sm],
        errors={ERR_SHAPE: (ShapeError, _where(node, message))},
        flags=FLAGS,
        link_flags=LINK_FLAGS,
    )


@c_kernel(CrossentropySoftmax)
def crossentropy_softmax_kernel(node: Apply) -> OpKernel | None:
    """``-log_softmax(z)[..., t]`` (integer t, one per row) or ``-sum(t * log_softmax(z), -1)``."""
    (z, t), out = node.inputs, node.outputs[0]
    if z.dtype not in FLOAT_DTYPES or t.dtype not in C_TYPES or out.dtype not in C_TYPES:
        return None
    nd = z.ndim
    if t.ndim == nd - 1:
        run_body = _render(
            "xent_index_run", NDIM=nd, F=z.dtype, T=C_TYPES[z.dtype], I=t.dtype, TI=C_TYPES[t.dtype]
        )
        shape_body = (
            _check_shapes(0, 1, nd - 1)
            + f"\n    for (int64_t d = 0; d < {nd - 1}; d++) out_shape[0][d] = in[1].shape[d];"
            + _range_check(node, 1, f"in[0].shape[{nd - 1}]")
        )
        errors = _class_errors(
            node, "class indices must have the logits' shape without the class axis (axis {0}: {1} vs {2})"
        )
        helpers = [_common(), _float_rows(z.dtype), _check_classes(t.dtype)]
    else:
        run_body = _render(
            "xent_dense_run",
            NDIM=nd,
            F=z.dtype,
            T=C_TYPES[z.dtype],
            TT=C_TYPES[t.dtype],
            TO=C_TYPES[out.dtype],
        )
        shape_body = _render("xent_dense_shape", NDIM=nd)
        message = "logits and targets do not broadcast (axis {0}: {1} vs {2})"
        errors = {ERR_SHAPE: (ShapeError, _where(node, message))}
        helpers = [_common(), _float_rows(z.dtype)]
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=helpers,
        errors=errors,
        flags=FLAGS,
        link_flags=LINK_FLAGS,
    )


@c_kernel(PickClass)
def pick_class_kernel(node: Apply) -> OpKernel | None:
    """``x[..., t]``: one entry of the last axis per class index, any dtype."""
    (x, t), out = node.inputs, node.outputs[0]
    if x.dtype not in C_TYPES or t.dtype not in INT_DTYPES or out.dtype != x.dtype:
        return None
    nd = x.ndim
    run_body = _render("pick_class_run", NDIM=nd, TX=C_TYPES[x.dtype], I=t.dtype, TI=C_TYPES[t.dtype])
    shape_body = (
        _check_shapes(0, 1, nd - 1)
        + f"\n    for (int64_t d = 0; d < {nd - 1}; d++) out_shape[0][d] = in[1].shape[d];"
        + _range_check(node, 1, f"in[0].shape[{nd - 1}]")
    )
    errors = _class_errors(
        node, "indices must have the values' shape without the last axis (axis {0}: {1} vs {2})"
    )
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_common(), _check_classes(t.dtype)],
        errors=errors,
    )


@c_kernel(OneHot)
def one_hot_kernel(node: Apply) -> OpKernel | None:
    """``out[..., c] = (t[...] == c)`` for ``c < depth``, in any dtype."""
    (t, depth), out = node.inputs, node.outputs[0]
    if t.dtype not in INT_DTYPES or depth.dtype not in INT_DTYPES or out.dtype not in C_TYPES:
        return None
    nd = t.ndim
    run_body = _render("one_hot_run", NDIM=nd, TO=C_TYPES[out.dtype], I=t.dtype, TI=C_TYPES[t.dtype])
    shape_body = _render("one_hot_shape", NDIM=nd, TD=C_TYPES[depth.dtype]) + _range_check(node, 0, "depth")
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[_common(), _check_classes(t.dtype)],
        errors=_class_errors(node),
    )


__all__ = [
    "crossentropy_softmax_kernel",
    "one_hot_kernel",
    "pick_class_kernel",
    "softmax_grad_kernel",
    "softmax_kernel",
]
