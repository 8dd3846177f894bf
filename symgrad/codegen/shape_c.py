"""The C kernel of ``Concatenate`` (the other shape ops are in indexing_c.py), kept short on
purpose: it is the worked example of docs/c_backend.md for a new op kernel. A shape body
checks the inputs and writes the output shape; a run body works on ``sg_array`` operands."""

from __future__ import annotations

from symgrad.codegen.kernels import ERR_SHAPE, c_kernel, check_dtypes, copy_helper, op_kernel
from symgrad.graph.basic import Apply
from symgrad.graph.errors import ShapeError
from symgrad.graph.types import C_TYPES
from symgrad.ops.shape_ops import Concatenate


@c_kernel(Concatenate)
def concatenate_kernel(node: Apply):
    if not check_dtypes(node, C_TYPES):
        return None
    axis, ndim, out_dtype = node.op.axis, node.outputs[0].ndim, node.outputs[0].dtype
    copies = [copy_helper(x.dtype, out_dtype) for x in node.inputs]
    shape_body = f"""
    const int64_t axis = {axis};
    int64_t total = 0;
    for (int64_t d = 0; d < {ndim}; d++) out_shape[0][d] = in[0].shape[d];
    for (int64_t k = 0; k < NIN; k++) {{
        for (int64_t d = 0; d < {ndim}; d++)
            if (d != axis && in[k].shape[d] != in[0].shape[d]) SG_FAIL_INFO(SG_ERR_SHAPE, d, k, 0);
        if (__builtin_add_overflow(total, in[k].shape[axis], &total)) SG_FAIL(SG_ERR_OVERFLOW);
    }}
    out_shape[0][axis] = total;
    if (sg_shape_size({ndim}, out_shape[0]) < 0) SG_FAIL(SG_ERR_OVERFLOW);"""
    calls = "\n".join(
        f"    {name}({ndim}, in[{k}].shape, in[{k}].data, in[{k}].strides, dst, out[0].strides);\n"
        f"    dst += in[{k}].shape[{axis}] * out[0].strides[{axis}];"
        for k, (_, name) in enumerate(copies)
    )
    run_body = f"    char *dst = out[0].data;\n{calls}"
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=run_body,
        helpers=[h for h, _ in copies],
        errors={
            ERR_SHAPE: (
                ShapeError,
                f"input shapes must match except along axis {axis} (input {{1}} differs along axis {{0}})",
            )
        },
    )
