"""Tensor variables with NumPy-style operators and methods.

The graph layer knows only plain variables; this module makes the classes users see and
installs them, so every ``type()`` call and constant from then on carries operators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from symgrad.graph.basic import Constant, SharedVariable, Variable, install_variable_classes
from symgrad.graph.errors import GraphTypeError
from symgrad.ops import scalar_ops as so
from symgrad.ops.elemwise import cast
from symgrad.ops.shape_of import shape
from symgrad.tensor import indexing, linalg
from symgrad.tensor import math as tm
from symgrad.tensor import shape as ts

# ``eval`` needs ``function``, a later stage; symgrad.compile installs it here at import.
_evaluator: list[Callable[..., Any]] = []


def set_evaluator(fn: Callable[..., Any]) -> None:
    _evaluator[:] = [fn]


def _binary(fn: Callable, reflected: bool = False) -> Callable:
    if reflected:
        return lambda self, other: fn(other, self)
    return lambda self, other: fn(self, other)


def _bool_only(fn: Callable) -> Callable:
    """``&`` and ``|`` are logical on bool tensors; NumPy's bitwise meaning is not offered."""

    def apply(a, b):
        for v in (a, b):
            dtype = getattr(v, "dtype", "bool" if isinstance(v, bool) else None)
            if dtype != "bool":
                raise GraphTypeError(
                    f"& and | are defined for bool tensors only, got {dtype or type(v).__name__}; "
                    "use sg.logical_and / sg.logical_or"
                )
        return fn(a, b)

    return apply


class TensorOperators:
    """NumPy-style operators and methods, mixed into every tensor variable class."""

    # NumPy must defer to our reflected operators: ``array + var`` is symbolic, not an object array.
    __array_ufunc__ = None

    __add__, __radd__ = _binary(so.add), _binary(so.add, True)
    __sub__, __rsub__ = _binary(so.sub), _binary(so.sub, True)
    __mul__, __rmul__ = _binary(so.mul), _binary(so.mul, True)
    __truediv__, __rtruediv__ = _binary(so.true_divide), _binary(so.true_divide, True)
    __floordiv__, __rfloordiv__ = _binary(so.floor_divide), _binary(so.floor_divide, True)
    __mod__, __rmod__ = _binary(so.mod), _binary(so.mod, True)
    __pow__, __rpow__ = _binary(so.pow), _binary(so.pow, True)
    __matmul__, __rmatmul__ = _binary(linalg.matmul), _binary(linalg.matmul, True)
    __lt__, __le__, __gt__, __ge__ = _binary(so.lt), _binary(so.le), _binary(so.gt), _binary(so.ge)
    __and__, __rand__ = _binary(_bool_only(so.logical_and)), _binary(_bool_only(so.logical_and), True)
    __or__, __ror__ = _binary(_bool_only(so.logical_or)), _binary(_bool_only(so.logical_or), True)
    # ``==`` and ``!=`` keep Python identity semantics (variables are dict keys); use sg.eq.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def __neg__(self):
        return so.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return so.abs(self)

    def __invert__(self):
        if self.dtype != "bool":
            raise GraphTypeError(f"~ is defined for bool tensors only, got {self.describe()}")
        return so.logical_not(self)

    def __bool__(self):
        raise GraphTypeError(
            f"the truth value of symbolic {self.describe()} is unknown until it is computed; "
            "use sg.where / sg.ifelse, or sg.eq for comparisons"
        )

    def __len__(self):
        n = self.static_shape[0] if self.ndim else None
        if n is None:
            raise GraphTypeError(
                f"len() of {self.describe()} is not known until it is computed; use x.shape[0]"
            )
        return n

    def __iter__(self) -> Iterator:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        return indexing.getitem(self, index)

    @property
    def shape(self):
        return shape(self)

    @property
    def size(self):
        return tm.prod(shape(self))

    @property
    def T(self):
        return ts.transpose(self)

    def sum(self, axis=None, keepdims=False):
        return tm.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return tm.mean(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return tm.prod(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return tm.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return tm.min(self, axis, keepdims)

    def var(self, axis=None, keepdims=False):
        return tm.var(self, axis, keepdims)

    def std(self, axis=None, keepdims=False):
        return tm.std(self, axis, keepdims)

    def all(self, axis=None, keepdims=False):
        return tm.all(self, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return tm.any(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return tm.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return tm.argmin(self, axis, keepdims)

    def reshape(self, *shape, ndim=None):
        return ts.reshape(self, shape[0] if len(shape) == 1 else shape, ndim=ndim)

    def flatten(self, ndim=1):
        return ts.flatten(self, ndim)

    def transpose(self, *axes):
        return ts.transpose(
            self, axes[0] if len(axes) == 1 and isinstance(axes[0], (list, tuple)) else axes or None
        )

    def dimshuffle(self, *pattern):
        return ts.dimshuffle(self, *pattern)

    def squeeze(self, axis=None):
        return ts.squeeze(self, axis)

    def astype(self, dtype):
        return cast(self, dtype)

    def dot(self, other):
        return linalg.dot(self, other)

    def clip(self, lo, hi):
        return tm.clip(self, lo, hi)

    def eval(self, inputs: dict | None = None):
        """Compute this variable's value; ``inputs`` maps input variables to values."""
        return _evaluator[0](self, inputs)


class TensorVariable(TensorOperators, Variable):
    """A symbolic tensor: an input, or the output of an apply node."""


class TensorConstant(TensorOperators, Constant):
    """A constant tensor."""


class TensorSharedVariable(TensorOperators, SharedVariable):
    """A tensor that keeps its value across calls (``sg.shared``)."""


install_variable_classes(TensorVariable, TensorConstant, TensorSharedVariable)
