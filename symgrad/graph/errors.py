"""Exceptions raised for user mistakes; each message names the op, shapes and user's line."""

from __future__ import annotations

from symgrad.graph.source_info import SourceLocation, user_location


class SymgradError(Exception):
    """Base of every error symgrad raises on purpose."""


class GraphTypeError(SymgradError, TypeError):
    """An ill-typed graph or call: wrong dtype, wrong rank, non-integer index."""


class GraphValueError(SymgradError, ValueError):
    """An ill-shaped graph or call: incompatible shapes, bad axis, out-of-range value."""


class IndexingError(SymgradError, IndexError):
    """An index out of range, or an index that does not fit the indexed tensor."""


class ShapeError(GraphValueError):
    """Shapes that cannot work together (at build time or at call time)."""


class DisconnectedInputError(GraphValueError):
    """``grad`` was asked for the gradient with respect to a variable the cost ignores."""


class MissingInputError(GraphValueError):
    """A compiled graph needs a variable that is neither an input nor given."""


class UnusedInputError(GraphValueError):
    """``function`` got an input that the outputs do not depend on."""


def where(location: SourceLocation | None = None) -> str:
    """The ``created at file:line`` suffix for a message."""
    return f"(created at {location or user_location()})"


def build_error(cls: type[SymgradError], op_name: str, message: str) -> SymgradError:
    """An error raised while building a node: it points at the user's current line."""
    return cls(f"{op_name}: {message} {where()}")
