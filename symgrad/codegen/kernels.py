"""Op kernels: the C of every compiled op that is not elementwise, behind one flat protocol.

An op kernel is a pair of exported C functions, ``<name>_shape`` (check the inputs, compute
the outputs' shapes) and ``<name>_run`` (compute into outputs the caller allocated), whose
skeleton is the ``wrapper`` section of ``csrc_templates/kernel.h``; the op's own C is two
blocks pasted into it (``shape_body`` and ``run_body``) plus optional support code. The
protocol, the ``sg_array`` view and the error codes are described at the top of kernel.h.

Which op gets which kernel: ``@c_kernel(OpClass)`` registers a builder ``(node) -> OpKernel |
None`` (None: this node runs through NumPy, e.g. an unsupported dtype); the family modules
(reduce_c, blas_c, nn_c, ...) register theirs when ``symgrad.codegen`` is imported.
``op_kernel_for(node)`` is what the compiled VM asks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from symgrad.codegen.templates import render, section
from symgrad.graph.basic import Apply, Op
from symgrad.graph.errors import GraphValueError, IndexingError, ShapeError
from symgrad.graph.types import C_TYPES

META_INFO = 8  # SG_META_INFO / SG_META_SHAPES of kernel.h
ERR_SHAPE, ERR_INDEX, ERR_VALUE, ERR_NOMEM, ERR_OVERFLOW = 16, 17, 18, 19, 20
FIRST_OP_ERROR = 64  # op-specific error codes start here

# code -> (exception class, message with {0} {1} {2} = meta[0..2])
COMMON_ERRORS: dict[int, tuple[type[Exception], str]] = {
    ERR_SHAPE: (ShapeError, "input shapes do not fit together"),
    ERR_INDEX: (IndexingError, "index {0} is out of bounds for axis {1} with size {2}"),
    ERR_VALUE: (GraphValueError, "invalid value {0}"),
    ERR_NOMEM: (MemoryError, "out of memory (allocating {0} bytes)"),
    ERR_OVERFLOW: (GraphValueError, "array size overflows 64 bits ({0} x {1})"),
}


@dataclass(frozen=True)
class OpKernel:
    """A rendered op kernel (``code`` needs the library prelude before it).

    ``errors``: the op's own codes (>= 64) with their exception and message; ``flags`` and
    ``link_flags``: what the library needs to build with this kernel (BLAS include and lib).
    """

    name: str
    code: str
    in_ndims: tuple[int, ...]
    out_ndims: tuple[int, ...]
    errors: Mapping[int, tuple[type[Exception], str]] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    helpers: tuple[str, ...] = ()

    @property
    def cdef(self) -> str:
        args = "char *const *data, const int64_t *shapes, const int64_t *strides, int64_t *meta"
        return f"int64_t {self.name}_shape({args});\nint64_t {self.name}_run({args});"

    @property
    def meta_size(self) -> int:
        return META_INFO + sum(self.out_ndims)

    def error(self, code: int, meta: Sequence[int]) -> tuple[type[Exception], str]:
        """The exception class and message of a nonzero return code."""
        exc, message = self.errors.get(code) or COMMON_ERRORS.get(code) or (GraphValueError, f"error {code}")
        return exc, message.format(*meta[:3])


def op_kernel(
    node: Apply,
    *,
    shape_body: str,
    run_body: str,
    support: str = "",
    errors: Mapping[int, tuple[type[Exception], str]] | None = None,
    flags: Sequence[str] = (),
    link_flags: Sequence[str] = (),
    helpers: Sequence[str] = (),
) -> OpKernel:
    """The kernel of ``node`` from its C blocks (see kernel.h for what they may use).

    ``support``: C placed before the two functions (its names must be unique to the kernel,
    e.g. built from the node's settings); ``helpers``: snippets shared by kernels and emitted
    once per library (``copy_helper(src, dst)``, say). The name is a hash of everything
    rendered, so equal nodes share one compiled function.
    """
    in_ndims = tuple(v.ndim for v in node.inputs)
    out_ndims = tuple(v.ndim for v in node.outputs)
    offsets = [sum(out_ndims[:k]) for k in range(len(out_ndims))]
    subs = {
        "SUPPORT": support,
        "NIN": str(len(in_ndims)),
        "NOUT": str(len(out_ndims)),
        "IN_NDIMS": _c_list(in_ndims),
        "ALL_NDIMS": _c_list(in_ndims + out_ndims),
        "OUT_OFFSETS": _c_list(offsets),
        "SHAPE_BODY": shape_body,
        "RUN_BODY": run_body,
    }
    wrapper = section("kernel.h", "wrapper")
    key = (wrapper.text, sorted(subs.items()), tuple(flags), tuple(helpers))
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    name = f"sg_op_{digest}"
    return OpKernel(
        name=name,
        code=render(wrapper, {**subs, "NAME": name}),
        in_ndims=in_ndims,
        out_ndims=out_ndims,
        errors=dict(errors or {}),
        flags=tuple(flags),
        link_flags=tuple(link_flags),
        helpers=tuple(helpers),
    )


def _c_list(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values) or "0"  # C forbids an empty initializer list


# --- the registry ----------------------------------------------------------------------------
KernelBuilder = Callable[[Apply], OpKernel | None]
C_KERNELS: dict[type, KernelBuilder] = {}


def c_kernel(*op_types: type) -> Callable[[KernelBuilder], KernelBuilder]:
    """Register ``builder(node) -> OpKernel | None`` as the C kernel of these op classes."""

    def register(builder: KernelBuilder) -> KernelBuilder:
        for op_type in op_types:
            if op_type in C_KERNELS:
                raise ValueError(f"{op_type.__name__} already has a C kernel ({C_KERNELS[op_type].__name__})")
            C_KERNELS[op_type] = builder
        return builder

    return register


def op_kernel_for(node: Apply) -> OpKernel | None:
    """The registered kernel of ``node`` (exact op class), else the one registered for the base
    class ``Op`` (user ops with C hooks, symgrad/codegen/user_c.py), or None."""
    builder = C_KERNELS.get(type(node.op)) or C_KERNELS.get(Op)
    return builder(node) if builder is not None else None


def copy_helper(src: str, dst: str) -> tuple[str, str]:
    """(helper snippet, function name) of a strided copy converting dtype ``src`` to ``dst``:
    ``name(ndim, shape, src_ptr, src_strides, dst_ptr, dst_strides)`` (byte strides)."""
    name = f"sg_copy_{src}_{dst}"
    return f"SG_DEFINE_COPY({name}, {C_TYPES[src]}, {C_TYPES[dst]})", name


def check_dtypes(node: Apply, allowed: Sequence[str]) -> bool:
    """Do all of ``node``'s inputs and outputs have dtypes in ``allowed``?"""
    return all(v.dtype in allowed for v in (*node.inputs, *node.outputs))


__all__ = [
    "COMMON_ERRORS",
    "C_KERNELS",
    "ERR_INDEX",
    "ERR_NOMEM",
    "ERR_OVERFLOW",
    "ERR_SHAPE",
    "ERR_VALUE",
    "FIRST_OP_ERROR",
    "OpKernel",
    "c_kernel",
    "check_dtypes",
    "copy_helper",
    "op_kernel",
    "op_kernel_for",
]
