"""The backends ``sg.function`` can build, and mode 'c''s fallback when there is no compiler.

``VMS`` maps a mode to its VM class; ``available_mode`` turns 'c' into 'py' (with one warning
per process and compiler setting) when no working C compiler is found.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from symgrad.compile.cbuild import CCompileError, compiler_available, compiler_info, compiler_setting
from symgrad.compile.cvm import CVM
from symgrad.compile.vm import PyVM
from symgrad.graph.basic import Variable

VMS = {"py": PyVM, "c": CVM}

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_warned: set[str | None] = set()


class CompilerFallbackWarning(UserWarning):
    """Mode 'c' was asked for but no working C compiler exists: mode 'py' runs instead."""


def available_mode(mode: str) -> str:
    """``mode``, or 'py' for 'c' when no C compiler works (warning once per process)."""
    if mode != "c" or compiler_available():
        return mode
    setting = compiler_setting()
    if setting not in _warned:
        _warned.add(setting)
        warnings.warn(_fallback_message(), CompilerFallbackWarning, stacklevel=_user_stacklevel())
    return "py"


def make_vm(
    mode: str,
    roots: Sequence[Variable],
    outputs: Sequence[Variable],
    name: str | None = None,
    root_filters: Sequence | None = None,
):
    """The VM of an available mode (see ``available_mode``). A VM with a ``call_program``
    attribute (mode 'c') checks its roots itself, with ``root_filters`` (see ``CVM``)."""
    if mode == "c":
        return CVM(roots, outputs, name=name, root_filters=root_filters)
    return VMS[mode](roots, outputs)


def _fallback_message() -> str:
    try:
        compiler_info()
        why = "the C compiler does not work"
    except CCompileError as exc:
        why = str(exc)
    return (
        f"symgrad mode 'c' needs a C compiler: {why}. Running with mode 'py' (NumPy) instead, "
        "which gives the same results more slowly. To fix it, install gcc (e.g. "
        "`apt-get install gcc`, `xcode-select --install`) or set CC or SYMGRAD_CC to a working "
        "C compiler; to silence this, pass mode='py'."
    )


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points the warning at the first frame outside symgrad."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level += 1
        frame = frame.f_back
    return level
