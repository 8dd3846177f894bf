"""NumPy-style indexing of tensors: ``x[index]``, ``set_subtensor``, ``inc_subtensor``, ``take``.

A user's index is parsed here into the static spec of ``symgrad.ops.subtensor``: constant
parts are folded in as Python ints, symbolic parts become the op's inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.graph.basic import Variable, as_tensor_variable, make_constant
from symgrad.graph.errors import GraphTypeError, build_error
from symgrad.graph.types import is_int
from symgrad.ops.reduce import normalize_axes
from symgrad.ops.shape_of import MakeVector, Shape, shape_dims, static_value
from symgrad.ops.subtensor import SYM, IncSubtensor, IndexingError, Subtensor
from symgrad.tensor import shape as tensor_shape

Entry = tuple
_VALID = "only integers, slices, None, ..., and integer or bool arrays are valid indices"


def getitem(x: Any, index: Any) -> Variable:
    """``x[index]`` with NumPy's rules, basic and advanced."""
    x = as_tensor_variable(x)
    items = index if isinstance(index, tuple) else (index,)
    from_shape = _index_shape_vector(x, items)
    if from_shape is not None:
        return from_shape
    spec, inputs = parse_index(items)
    return Subtensor(spec)(x, *inputs)


def parse_index(items: tuple) -> tuple[tuple[Entry, ...], list[Variable]]:
    """The static spec of an index and the symbolic values it needs as inputs."""
    spec, inputs = [], []
    for item in items:
        entry, values = _parse_item(item)
        spec.append(entry)
        inputs.extend(values)
    return tuple(spec), inputs


def _parse_item(item: Any) -> tuple[Entry, list[Variable]]:
    if item is None:
        return ("newaxis",), []
    if item is Ellipsis:
        return ("ellipsis",), []
    if isinstance(item, slice):
        return _parse_slice(item)
    if isinstance(item, (bool, np.bool_)):
        return ("mask", SYM), [make_constant(np.bool_(item))]
    if isinstance(item, (int, np.integer)):
        return ("int", int(item)), []
    if isinstance(item, (list, tuple)) and any(isinstance(v, Variable) for v in item):
        return ("array", SYM), [_symbolic_list(item)]
    if isinstance(item, (list, tuple, np.ndarray)):
        item = _constant_index(item)
    if isinstance(item, Variable):
        return _parse_variable(item)
    raise build_error(GraphTypeError, "Subtensor", f"{_VALID}; got {type(item).__name__} {item!r}")


def _parse_variable(v: Variable) -> tuple[Entry, list[Variable]]:
    if v.dtype == "bool":
        return ("mask", SYM), [v]
    if not is_int(v.dtype):
        raise build_error(GraphTypeError, "Subtensor", f"{_VALID}; got {v.describe()}")
    if v.ndim > 0:
        return ("array", SYM), [v]
    k = static_value(v)
    return (("int", k), []) if k is not None else (("int", SYM), [v])


def _parse_slice(item: slice) -> tuple[Entry, list[Variable]]:
    args, inputs = [], []
    for part in (item.start, item.stop, item.step):
        if part is None or isinstance(part, (int, np.integer)):
            args.append(None if part is None else int(part))
            continue
        v = _as_index_variable(part)
        if v.ndim != 0 or not is_int(v.dtype):
            raise build_error(
                GraphTypeError, "Subtensor", f"slice bounds must be integer scalars, got {v.describe()}"
            )
        k = static_value(v)
        args.append(SYM if k is None else k)
        if k is None:
            inputs.append(v)
    return ("slice", *args), inputs


def _as_index_variable(value: Any) -> Variable:
    try:
        return as_tensor_variable(value)
    except GraphTypeError:
        raise build_error(
            GraphTypeError, "Subtensor", f"{_VALID}; got {type(value).__name__} {value!r}"
        ) from None


def _constant_index(item: Any) -> Variable:
    try:
        arr = np.asarray(item)
    except ValueError:
        arr = np.asarray(None)
    if arr.dtype == object:
        raise build_error(GraphTypeError, "Subtensor", f"{_VALID}; got the ragged or mixed index {item!r}")
    if arr.size == 0 and not isinstance(item, np.ndarray):
        arr = arr.astype("int64")  # NumPy reads an empty list as an empty integer index
    if arr.dtype.kind == "f":
        raise build_error(GraphTypeError, "Subtensor", f"{_VALID}; got a {arr.dtype} array")
    return make_constant(arr)


def _symbolic_list(item: list | tuple) -> Variable:
    """``x[[i, j]]`` with symbolic scalars: one int64 index vector."""
    scalars = [_as_index_variable(v) for v in item]
    for v in scalars:
        if v.ndim != 0 or not is_int(v.dtype):
            raise build_error(
                GraphTypeError,
                "Subtensor",
                f"a list of symbolic indices must hold integer scalars, got {v.describe()}",
            )
    return MakeVector("int64")(*(v if v.dtype == "int64" else v.astype("int64") for v in scalars))


def _index_shape_vector(x: Variable, items: tuple) -> Variable | None:
    """``x.shape[i]`` as ``ShapeI`` (a constant when the length is static), and constant
    slices of ``x.shape`` as a vector of those, so that shapes stay easy to reason about."""
    node = x.owner
    if node is None or not isinstance(node.op, Shape) or len(items) != 1:
        return None
    dims, item = shape_dims(node.inputs[0]), items[0]
    k = _static_int(item)
    if k is not None:
        if not -len(dims) <= k < len(dims):
            raise build_error(
                IndexingError, "Subtensor", f"index {k} is out of bounds for a shape of length {len(dims)}"
            )
        return dims[k]
    if isinstance(item, slice):
        parts = (item.start, item.stop, item.step)
        if all(p is None or _static_int(p) is not None for p in parts) and item.step != 0:
            return MakeVector("int64")(*dims[slice(*(None if p is None else _static_int(p) for p in parts))])
    return None


def _static_int(item: Any) -> int | None:
    if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
        return int(item)
    if isinstance(item, Variable) and item.ndim == 0 and is_int(item.dtype):
        return static_value(item)
    return None


def set_subtensor(region: Variable, y: Any) -> Variable:
    """A copy of ``x`` with ``x[idx]`` set to ``y`` (broadcast), where ``region`` is ``x[idx]``."""
    return _update_region(region, y, True, "set_subtensor")


def inc_subtensor(region: Variable, y: Any) -> Variable:
    """A copy of ``x`` with ``y`` added to ``x[idx]``; repeated indices accumulate (np.add.at)."""
    return _update_region(region, y, False, "inc_subtensor")


def _update_region(region: Any, y: Any, set_instead_of_inc: bool, name: str) -> Variable:
    node = region.owner if isinstance(region, Variable) else None
    if node is None or not isinstance(node.op, Subtensor):
        label = region.describe() if isinstance(region, Variable) else f"{type(region).__name__}"
        raise build_error(
            GraphTypeError, name, f"the first argument must be an indexing result such as x[idx], got {label}"
        )
    x, *index_inputs = node.inputs
    return IncSubtensor(node.op.spec, set_instead_of_inc)(x, y, *index_inputs)


def take(x: Any, indices: Any, axis: int | None = None) -> Variable:
    """NumPy's ``take``: elements of ``x`` along ``axis`` (of the flattened ``x`` if None)."""
    x = as_tensor_variable(x)
    if axis is None:
        x = x if x.ndim == 1 else tensor_shape.flatten(x, 1)
        axis = 0
    (axis,) = normalize_axes(axis, x.ndim, "take")
    idx = indices if isinstance(indices, Variable) else _take_constant(indices)
    if idx.dtype == "bool" or not is_int(idx.dtype):
        raise build_error(GraphTypeError, "take", f"indices must be integers, got {idx.describe()}")
    return getitem(x, (slice(None),) * axis + (idx,))


def _take_constant(indices: Any) -> Variable:
    if isinstance(indices, (list, tuple)) and any(isinstance(v, Variable) for v in indices):
        return _symbolic_list(indices)
    if isinstance(indices, (list, tuple)) and np.asarray(indices).size == 0:
        return make_constant(np.zeros(np.shape(indices), dtype="int64"))
    return _as_index_variable(indices)
