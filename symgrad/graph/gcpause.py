"""Pausing Python's cyclic garbage collector during large graph passes.

Graph passes allocate many long-lived objects; each allocation burst triggers full
collections that rescan the whole graph, which makes big graphs quadratic to build on.
Collection is only deferred, never skipped.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
