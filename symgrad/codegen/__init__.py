"""C code generation (between rewriting and compiling): kernel sources from templates.

``templates`` loads the named sections of ``csrc_templates/`` and fills them in;
``elemwise_c`` renders the loop kernel of an ``Elemwise`` node.
"""

from symgrad.codegen.elemwise_c import ElemwiseKernel, library_cdef, library_source, render_elemwise

__all__ = ["ElemwiseKernel", "library_cdef", "library_source", "render_elemwise"]
