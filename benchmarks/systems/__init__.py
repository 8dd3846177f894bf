"""The systems compared, in table order, and how to load one by name.

Loading imports the system's package lazily, so a missing PyTensor or JAX costs nothing and
is reported as 'missing' rather than skipped.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from benchmarks.systems.base import System, SystemMissing, SystemUnavailable

# name -> (module, class, constructor arguments)
SYSTEMS = {
    "numpy": ("benchmarks.systems.numpy_system", "NumpySystem", ()),
    "symgrad-py": ("benchmarks.systems.symgrad_system", "SymgradSystem", ("py",)),
    "symgrad-c": ("benchmarks.systems.symgrad_system", "SymgradSystem", ("c",)),
    "symgrad-cuda": ("benchmarks.systems.symgrad_system", "SymgradSystem", ("cuda",)),
    "pytensor-cvm": ("benchmarks.systems.pytensor_system", "PytensorSystem", ("CVM",)),
    "pytensor-numba": ("benchmarks.systems.pytensor_system", "PytensorSystem", ("NUMBA",)),
    "jax": ("benchmarks.systems.jax_system", "JaxSystem", ()),
}
SYMGRAD_SYSTEMS = tuple(n for n in SYSTEMS if n.startswith("symgrad-"))


@dataclass
class Loaded:
    """A system by name: ``system`` when it runs, else ``status`` and ``reason`` say why not."""

    name: str
    system: System | None
    status: str = "ok"
    reason: str = ""


def load(name: str) -> Loaded:
    module_name, class_name, args = SYSTEMS[name]
    try:
        module = importlib.import_module(module_name)
        return Loaded(name, getattr(module, class_name)(*args))
    except SystemMissing as exc:
        return Loaded(name, None, "missing", str(exc))
    except SystemUnavailable as exc:
        return Loaded(name, None, "unavailable", str(exc))


def parse_names(text: str) -> list[str]:
    """``'numpy,symgrad'`` -> known names; a family name selects all its modes."""
    names: list[str] = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        matches = [n for n in SYSTEMS if n == item or n.split("-")[0] == item]
        if not matches:
            raise SystemExit(f"unknown system {item!r}; choose from {', '.join(SYSTEMS)}")
        names += [m for m in matches if m not in names]
    return names
