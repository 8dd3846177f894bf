"""DimShuffle: Theano's axis permutation with new broadcastable axes ('x') and dropped
length-1 axes. transpose, expand_dims and squeeze are all DimShuffles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.graph.basic import Apply, Op, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphValueError, ShapeError, build_error
from symgrad.graph.types import TensorType, format_static_shape


class DimShuffle(Op):
    """Output axis k is input axis ``new_order[k]``, or a new length-1 axis for ``'x'``.

    Input axes missing from ``new_order`` are dropped; they must have length 1 (checked
    at build time when the static shape knows it, else at call time).
    """

    __props__ = ("input_ndim", "new_order")

    def __init__(self, input_ndim: int, new_order: Sequence[int | str]) -> None:
        self.input_ndim = input_ndim
        self.new_order = tuple(new_order)
        kept = [a for a in self.new_order if a != "x"]
        if len(set(kept)) != len(kept) or any(not 0 <= a < input_ndim for a in kept):
            raise build_error(
                GraphValueError, "dimshuffle", f"bad pattern {self.new_order} for a {input_ndim}-d input"
            )
        self.dropped = tuple(a for a in range(input_ndim) if a not in kept)
        self.kept = tuple(kept)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise build_error(
                GraphValueError, "dimshuffle", f"expects a {self.input_ndim}-d input, got {x.describe()}"
            )
        for a in self.dropped:
            if x.static_shape[a] not in (1, None):
                raise build_error(
                    ShapeError,
                    "dimshuffle",
                    f"cannot drop axis {a} of length {x.static_shape[a]} "
                    f"(shape {format_static_shape(x.static_shape)})",
                )
        shape = [1 if a == "x" else x.static_shape[a] for a in self.new_order]
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        for a in self.dropped:
            if x.shape[a] != 1:
                raise ShapeError(
                    f"dimshuffle: axis {a} must have length 1 to be dropped, input shape {x.shape} "
                    f"(created at {node.location})"
                )
        out = np.transpose(
            x.reshape([n for a, n in enumerate(x.shape) if a not in self.dropped] or ()),
            _rank_order(self.kept),
        )
        new_shape = [1 if a == "x" else x.shape[a] for a in self.new_order]
        output_storage[0][0] = out.reshape(new_shape)

    def infer_shape(self, node, input_shapes):
        (shp,) = input_shapes
        one = make_constant(1, dtype="int64")
        return [tuple(one if a == "x" else shp[a] for a in self.new_order)]

    def grad(self, inputs, output_grads):
        (_x,), (g,) = inputs, output_grads
        # Sum over new axes isn't needed: they have length 1. Undo the permutation.
        g_kept = DimShuffle(g.ndim, [k for k, a in enumerate(self.new_order) if a != "x"])(g)
        order: list[int | str] = []
        positions = {a: k for k, a in enumerate(self.kept)}
        for a in range(self.input_ndim):
            order.append(positions[a] if a in positions else "x")
        return [DimShuffle(len(self.kept), order)(g_kept)]


def _rank_order(kept: tuple[int, ...]) -> list[int]:
    """Positions of ``kept`` axes among the sorted kept axes (a permutation)."""
    ranks = {a: r for r, a in enumerate(sorted(kept))}
    return [ranks[a] for a in kept]


def dimshuffle(x: Any, *pattern: int | str) -> Any:
    x = as_tensor_variable(x)
    if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
        pattern = tuple(pattern[0])
    if tuple(pattern) == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, pattern)(x)
