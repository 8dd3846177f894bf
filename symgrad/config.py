"""The one place that reads the environment.

Settings are read once from ``SYMGRAD_*`` variables at import; ``config.override`` changes
them for a block. Everything else in symgrad reads ``config.<name>`` and never ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

FLOAT_DTYPES = ("float32", "float64")
MODES = ("py", "c", "cuda")
BLAS_CHOICES = ("auto", "numpy", "scipy-openblas32")
RUNNERS = ("c", "py")
OWN_GEMM_CHOICES = ("auto", "on", "off")


class Config:
    """Process-wide settings; attribute writes are validated."""

    _validators = {
        "floatX": lambda v: v in FLOAT_DTYPES,
        "mode": lambda v: v in MODES,
        "compute_test_value": lambda v: isinstance(v, bool),
        "rewrite_exclude": lambda v: isinstance(v, tuple) and all(isinstance(n, str) for n in v),
        "cc": lambda v: v is None or isinstance(v, str),
        "cache_dir": lambda v: isinstance(v, str) and os.path.isabs(v),
        "num_threads": lambda v: isinstance(v, int) and v >= 1,
        "compile_jobs": lambda v: isinstance(v, int) and v >= 1,
        "blas": lambda v: v in BLAS_CHOICES,
        "reuse_buffers": lambda v: isinstance(v, bool),
        "runner": lambda v: v in RUNNERS,
        "own_gemm": lambda v: v in OWN_GEMM_CHOICES,
    }

    def __init__(self, environ: dict[str, str]) -> None:
        object.__setattr__(self, "floatX", environ.get("SYMGRAD_FLOATX", "float64"))
        object.__setattr__(self, "mode", environ.get("SYMGRAD_MODE", "c"))
        object.__setattr__(self, "compute_test_value", False)
        # Rewrites to skip in every function, e.g. SYMGRAD_EXCLUDE=fusion,constant_fold (or "all").
        excluded = environ.get("SYMGRAD_EXCLUDE", "")
        object.__setattr__(
            self, "rewrite_exclude", tuple(n.strip() for n in excluded.split(",") if n.strip())
        )
        # The C compiler (None: the system's ``cc``) and the compile cache's folder.
        object.__setattr__(self, "cc", environ.get("SYMGRAD_CC") or environ.get("CC") or None)
        cache_dir = environ.get("SYMGRAD_CACHE_DIR") or os.path.join(user_cache_dir(environ), "symgrad")
        object.__setattr__(self, "cache_dir", os.path.abspath(os.path.expanduser(cache_dir)))
        # Threads of large compiled loops (mode 'c'); default: the CPUs this process may use.
        object.__setattr__(
            self, "num_threads", _int_setting(environ, "SYMGRAD_NUM_THREADS", available_cpus())
        )
        # Compiler processes one library may run at once (its kernels split into that many
        # translation units when they are big enough); default: the CPUs available.
        object.__setattr__(
            self, "compile_jobs", _int_setting(environ, "SYMGRAD_COMPILE_JOBS", available_cpus())
        )
        # The CBLAS of mode 'c' float products (symgrad/codegen/blas_c.py): NumPy's own
        # OpenBLAS when usable ("auto"), or one forced.
        object.__setattr__(self, "blas", environ.get("SYMGRAD_BLAS", "auto").strip().lower() or "auto")
        # Mode 'c' writes a function's intermediates into the previous call's arrays (no page
        # faults on fresh memory each call; the arrays stay allocated between calls).
        reuse = environ.get("SYMGRAD_REUSE_BUFFERS", "1").strip().lower()
        object.__setattr__(self, "reuse_buffers", reuse not in ("0", "false", "no", "off"))
        # Float products through symgrad's own AVX-512 GEMM instead of CBLAS: "auto" (where the
        # CBLAS runs narrower kernels than the CPU has), "on" or "off".
        own = environ.get("SYMGRAD_OWN_GEMM", "auto").strip().lower() or "auto"
        object.__setattr__(self, "own_gemm", own)
        # What runs a mode 'c' function's schedule: the C runner (one CPython entry point per
        # call, symgrad/compile/runner.py) or the generated Python program (program.py).
        object.__setattr__(self, "runner", environ.get("SYMGRAD_RUNNER", "c").strip().lower() or "c")
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


def prefer_sleeping_openmp_threads() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless the user chose a policy: libgomp's default keeps the
    threads of a finished parallel loop spinning, which on a busy machine (or next to
    OpenBLAS's own threads, as in a training step) stalled a 0.8 ms GEMM to 16 ms. libgomp
    reads the variable once, when it loads: mode 'c' calls this before loading a library."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _int_setting(environ: dict[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a whole number") from None


def user_cache_dir(environ: dict[str, str]) -> str:
    """The platform's per-user cache folder (the XDG rule on Linux)."""
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches")
    if os.name == "nt":
        return environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    xdg = environ.get("XDG_CACHE_HOME", "")
    return xdg if os.path.isabs(xdg) else os.path.join(home, ".cache")


config = Config(dict(os.environ))
