"""C code generation (between rewriting and compiling): kernel sources from templates.

``templates`` loads the named sections of ``csrc_templates/`` and fills them in;
``elemwise_c`` renders the loop kernel of an ``Elemwise`` node; ``kernels`` is the protocol
and registry of op kernels (every other op), whose families register themselves on import
below; ``library`` puts a function's kernels into one C source.
"""

from symgrad.codegen import blas_c, indexing_c, nn_c, reduce_c, shape_c, user_c  # noqa: F401  (register op kernels)
from symgrad.codegen.elemwise_c import ElemwiseKernel, render_elemwise
from symgrad.codegen.kernels import OpKernel, c_kernel, op_kernel, op_kernel_for
from symgrad.codegen.library import library_cdef, library_flags, library_source

__all__ = [
    "ElemwiseKernel",
    "OpKernel",
    "c_kernel",
    "library_cdef",
    "library_flags",
    "library_source",
    "op_kernel",
    "op_kernel_for",
    "render_elemwise",
]
