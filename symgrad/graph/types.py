"""Tensor types: a dtype plus a static shape, and the dtype rules of NumPy.

A static shape entry is an int (that length is known; 1 means broadcastable) or None
(unknown until call time). Types are immutable and hashable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from symgrad.config import config
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError, build_error

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8")
FLOAT_DTYPES = ("float32", "float64")
# NumPy gives float16 for some int8/uint8 math; symgrad has no float16 and uses float32.
_DTYPE_REPLACEMENTS = {"float16": "float32"}

StaticShape = tuple[int | None, ...]
# The C type of each dtype (stdint names), shared by every backend that renders C.
C_TYPES = {
    "bool": "_Bool",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "uint8": "uint8_t",
    "float32": "float",
    "float64": "double",
}


def normalize_dtype(dtype: Any) -> str:
    """The dtype name symgrad uses, from a string, NumPy dtype or Python type."""
    if dtype is None or dtype == "floatX":
        return config.floatX
    if dtype is float:
        return config.floatX
    name = np.dtype(dtype).name
    name = _DTYPE_REPLACEMENTS.get(name, name)
    if name not in DTYPES:
        raise GraphTypeError(f"dtype {name!r} is not supported; use one of {', '.join(DTYPES)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES


def is_integer_like(dtype: str) -> bool:
    return dtype in INT_DTYPES or dtype == "bool"


def normalize_shape(shape: Iterable[int | None]) -> StaticShape:
    out = []
    for s in shape:
        if s is not None:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                raise GraphValueError(f"a static shape entry must be None or a length >= 0, got {s!r}")
            s = int(s)
        out.append(s)
    return tuple(out)


def broadcast_static_shapes(shapes: Sequence[StaticShape], op_name: str = "broadcast") -> StaticShape:
    """NumPy broadcasting of static shapes; raises if two known lengths disagree."""
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out: list[int | None] = []
    for axis in range(ndim):
        dims = [s[axis] for s in padded]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise build_error(
                ShapeError,
                op_name,
                f"shapes {' and '.join(_fmt_shape(s) for s in shapes)} cannot be broadcast together",
            )
        if known:
            out.append(known.pop())
        elif all(d == 1 for d in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def _fmt_shape(shape: StaticShape) -> str:
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


format_static_shape = _fmt_shape


class TensorType:
    """The type of a tensor variable: ``dtype`` and static ``shape``."""

    __slots__ = ("dtype", "shape", "_hash", "numpy_dtype")
    # The classes made by calling a type; the tensor layer installs its own with operators.
    variable_class: type = None  # type: ignore[assignment]

    def __init__(self, dtype: Any, shape: Iterable[int | None] = ()) -> None:
        object.__setattr__(self, "dtype", normalize_dtype(dtype))
        object.__setattr__(self, "shape", normalize_shape(shape))
        object.__setattr__(self, "_hash", hash((self.dtype, self.shape)))
        # NumPy's canonical dtype object: ``arr.dtype is t.numpy_dtype`` is the cheap check on
        # the call path (``arr.dtype.name`` costs microseconds).
        object.__setattr__(self, "numpy_dtype", np.dtype(self.dtype))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TensorType is immutable")

    def __reduce__(self):
        return (TensorType, (self.dtype, self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorType) and self.dtype == other.dtype and self.shape == other.shape

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"TensorType({self.dtype}, shape={_fmt_shape(self.shape)})"

    def __str__(self) -> str:
        return f"{self.dtype}{_fmt_shape(self.shape)}"

    def __call__(self, name: str | None = None):
        """A new variable of this type (Theano's ``x.type()``)."""
        return self.variable_class(self, name=name)

    def clone(self, dtype: Any = None, shape: Iterable[int | None] | None = None) -> TensorType:
        return TensorType(self.dtype if dtype is None else dtype, self.shape if shape is None else shape)

    def is_super(self, other: TensorType) -> bool:
        """True when every value of ``other`` is also a value of this type."""
        return (
            self.dtype == other.dtype
            and self.ndim == other.ndim
            and all(s is None or s == o for s, o in zip(self.shape, other.shape))
        )

    def compatible_shape(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == self.ndim and all(s is None or s == n for s, n in zip(self.shape, shape))

    def filter(self, value: Any, name: str = "input", allow_downcast: bool | None = None) -> np.ndarray:
        """Check and convert a runtime value for this type (the casting rules of API.md)."""
        if type(value) is np.ndarray and value.dtype is self.numpy_dtype:
            arr = value
        else:
            arr = _cast_value(value, self.dtype, name, allow_downcast)
        if arr.ndim != self.ndim:
            raise GraphTypeError(
                f"{name}: expected {self.ndim}-d {self.dtype} array, got {arr.ndim}-d array "
                f"of shape {arr.shape}"
            )
        if not self.compatible_shape(arr.shape):
            raise GraphValueError(
                f"{name}: shape {arr.shape} does not match the static shape {_fmt_shape(self.shape)}"
            )
        return arr


def _cast_value(value: Any, dtype: str, name: str, allow_downcast: bool | None) -> np.ndarray:
    """Theano's input casting: same-kind and value-preserving, or any same-kind if allowed."""
    if isinstance(value, float) and dtype == "float32":
        return np.asarray(value, dtype=dtype)
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise GraphTypeError(f"{name}: cannot convert the value to an array: {exc}") from None
    if arr.dtype.name == dtype:
        return arr
    if arr.dtype == object or not np.can_cast(arr.dtype, dtype, "same_kind"):
        raise GraphTypeError(
            f"{name}: cannot convert a {arr.dtype} value to {dtype} "
            f"(casting would change its kind; use .astype or a {dtype} input)"
        )
    cast = arr.astype(dtype)
    if allow_downcast or np.can_cast(arr.dtype, dtype, "safe"):
        return cast
    with np.errstate(invalid="ignore", over="ignore"):
        unchanged = np.array_equal(cast.astype(arr.dtype), arr, equal_nan=arr.dtype.kind == "f")
    if not unchanged:
        raise GraphTypeError(
            f"{name}: casting the {arr.dtype} value to {dtype} would change it "
            f"(pass allow_input_downcast=True to sg.function to accept the rounding)"
        )
    return cast
