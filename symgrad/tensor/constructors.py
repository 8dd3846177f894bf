"""Symbolic inputs, constants and shared variables (``sg.vector('x')``, ``sg.shared(w)``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import VARIABLE_CLASSES, Variable, make_constant
from symgrad.graph.errors import GraphTypeError
from symgrad.graph.types import TensorType, normalize_dtype

_RANKS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64"}


def tensor(name: str | None = None, dtype: Any = None, shape: tuple = ()) -> Variable:
    """A symbolic input of any rank: ``shape`` holds None (unknown) or a static length."""
    if isinstance(name, (tuple, list)):  # tensor((None, 3)) reads naturally too
        name, shape = None, name
    return TensorType(normalize_dtype(dtype), shape)(name)


def _ranked(rank: int, fixed_dtype: str | None = None):
    def make(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
        if fixed_dtype is not None and dtype is not None and normalize_dtype(dtype) != fixed_dtype:
            raise GraphTypeError(f"this constructor makes {fixed_dtype} variables, not {dtype}")
        static = (None,) * rank if shape is None else shape
        if len(static) != rank:
            raise GraphTypeError(f"a rank-{rank} variable needs a shape of length {rank}, got {shape}")
        return tensor(name, fixed_dtype or dtype, static)

    return make


scalar, vector, matrix = _ranked(0), _ranked(1), _ranked(2)
tensor3, tensor4 = _ranked(3), _ranked(4)
# Theano's typed shorthands: bscalar, wvector, imatrix, ltensor3, fmatrix, dvector, ...
TYPED = {
    prefix + kind: _ranked(rank, dtype)
    for prefix, dtype in _PREFIXES.items()
    for kind, rank in _RANKS.items()
}
globals().update(TYPED)


def constant(value: Any, dtype: Any = None, name: str | None = None) -> Variable:
    """A constant tensor; Python floats become ``config.floatX`` unless ``dtype`` says."""
    return make_constant(value, dtype=dtype, name=name)


def shared(value: Any, name: str | None = None, shape: tuple | None = None, dtype: Any = None) -> Variable:
    """A variable holding its own (copied) value across calls. Its static shape is
    unknown along every axis unless ``shape`` says, so ``set_value`` may change lengths."""
    arr = np.array(value, dtype=dtype, copy=True)
    if arr.dtype.kind == "f" and dtype is None and isinstance(value, (float, list)):
        arr = arr.astype(normalize_dtype(None))
    static = (None,) * arr.ndim if shape is None else shape
    return VARIABLE_CLASSES["shared"](TensorType(arr.dtype, static), arr, name=name)
