"""The one place that reads the environment.

Settings are read once from ``SYMGRAD_*`` variables at import; ``config.override`` changes
them for a block. Everything else in symgrad reads ``config.<name>`` and never ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

FLOAT_DTYPES = ("float32", "float64")
MODES = ("py", "c", "cuda")


class Config:
    """Process-wide settings; attribute writes are validated."""

    _validators = {
        "floatX": lambda v: v in FLOAT_DTYPES,
        "mode": lambda v: v in MODES,
        "compute_test_value": lambda v: isinstance(v, bool),
        "rewrite_exclude": lambda v: isinstance(v, tuple) and all(isinstance(n, str) for n in v),
    }

    def __init__(self, environ: dict[str, str]) -> None:
        object.__setattr__(self, "floatX", environ.get("SYMGRAD_FLOATX", "float64"))
        object.__setattr__(self, "mode", environ.get("SYMGRAD_MODE", "py"))
        object.__setattr__(self, "compute_test_value", False)
        # Rewrites to skip in every function, e.g. SYMGRAD_EXCLUDE=fusion,constant_fold (or "all").
        excluded = environ.get("SYMGRAD_EXCLUDE", "")
        object.__setattr__(self, "rewrite_exclude", tuple(n.strip() for n in excluded.split(",") if n.strip()))
        for name in self._validators:
            self._check(name, getattr(self, name))

    def _check(self, name: str, value: Any) -> None:
        if name not in self._validators:
            raise AttributeError(f"symgrad.config has no setting {name!r}")
        if not self._validators[name](value):
            raise ValueError(f"symgrad.config.{name} cannot be {value!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._check(name, value)
        object.__setattr__(self, name, value)

    @contextlib.contextmanager
    def override(self, **settings: Any) -> Iterator[Config]:
        """Temporarily change settings: ``with sg.config.override(floatX='float32'): ...``."""
        old = {name: getattr(self, name) for name in settings}
        try:
            for name, value in settings.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in old.items():
                object.__setattr__(self, name, value)


config = Config(dict(os.environ))
