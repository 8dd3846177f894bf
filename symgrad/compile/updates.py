"""Validation of ``updates`` pairs: dtype and static shape must fit the shared variable."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import SharedVariable, Variable, as_tensor_variable
from symgrad.graph.errors import GraphTypeError, GraphValueError
from symgrad.graph.types import format_static_shape
from symgrad.ops.elemwise import cast


def normalize_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
    if updates is None:
        return []
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates)
    seen: set[int] = set()
    out = []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise GraphTypeError(f"updates must be (shared_variable, expression) pairs, got {pair!r}")
        shared, value = pair
        if not isinstance(shared, SharedVariable):
            raise GraphTypeError(
                f"updates: {shared!r} is not a shared variable (only sg.shared values can be updated)"
            )
        if id(shared) in seen:
            raise GraphValueError(f"updates: shared variable {shared.name!r} is updated twice")
        seen.add(id(shared))
        out.append((shared, fit_update(shared, as_tensor_variable(value))))
    return out


def fit_update(shared: SharedVariable, value: Variable) -> Variable:
    """``value`` cast to the shared variable's dtype when that is safe, else a clear error."""
    label = f"the update of shared variable {shared.name or '<unnamed>'!r}"
    st, vt = shared.type, value.type
    if vt.ndim != st.ndim:
        raise GraphTypeError(f"{label} has {vt.ndim} dims but the variable has {st.ndim}")
    if vt.dtype != st.dtype:
        if not np.can_cast(vt.dtype, st.dtype, "safe"):
            raise GraphTypeError(
                f"{label} is {vt.dtype} but the variable is {st.dtype}; casting would lose precision. "
                f"Use .astype('{st.dtype}') on the update if that is intended (a common cause: "
                f"a {vt.dtype} constant such as a NumPy scalar learning rate)"
            )
        value = cast(value, st.dtype)
    for axis, (s, u) in enumerate(zip(st.shape, vt.shape)):
        if s is not None and u is not None and s != u:
            raise GraphValueError(
                f"{label} has static shape {format_static_shape(vt.shape)} but the variable has "
                f"{format_static_shape(st.shape)} (axis {axis})"
            )
        if s == 1 and u is None:
            raise GraphValueError(
                f"{label} may change the broadcastable axis {axis} of the variable (shape "
                f"{format_static_shape(st.shape)}; the update has {format_static_shape(vt.shape)})"
            )
    return value
