"""The machine a run was made on, and how busy its other processes kept it meanwhile.

The machines are shared: one busy neighbour makes 2-thread BLAS code many times slower while
single-threaded code barely moves, so every measurement records the CPU that *other*
processes used during it (from /proc/stat, minus this process and its waited-for children).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version

import numpy as np

try:
    from threadpoolctl import threadpool_info
except ImportError:  # comes with scikit-learn; without it the BLAS is reported as unknown
    threadpool_info = None

PACKAGES = (
    "numpy",
    "scipy",
    "pytensor",
    "numba",
    "jax",
    "jaxlib",
    "matplotlib",
    "threadpoolctl",
    "scikit-learn",
)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
LOADED_CORES = 0.25  # other processes using more than this many cores flag a row as loaded
MIN_WALL = 0.2  # seconds: /proc/stat counts in 10 ms ticks, so shorter spans say nothing
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def blas_info() -> list[dict]:
    if threadpool_info is None:
        return [{"note": "threadpoolctl not installed"}]
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "filepath")
    return [{k: pool.get(k) for k in keep} for pool in threadpool_info()]


def machine_info() -> dict:
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "thread_env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
        "blas": blas_info(),
        "versions": package_versions(),
        "numpy_config_blas": _numpy_blas_name(),
    }


def _numpy_blas_name() -> str:
    try:
        return str(np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"])
    except Exception:  # older NumPy: no dict form
        return "unknown"


def _busy_seconds() -> float:
    """CPU seconds all processes have used (steal included: a neighbour VM is a neighbour)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class CpuMeter:
    """Accumulates wall time and other processes' CPU time over any number of intervals."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.other = 0.0
        self._start: tuple[float, float, float] | None = None
        self.available = os.path.exists("/proc/stat")

    def start(self) -> None:
        if self.available:
            self._start = (time.perf_counter(), _busy_seconds(), _own_seconds())

    def stop(self) -> None:
        if self._start is None:
            return
        wall0, busy0, own0 = self._start
        self.wall += time.perf_counter() - wall0
        self.other += (_busy_seconds() - busy0) - (_own_seconds() - own0)
        self._start = None

    def other_cores(self) -> float | None:
        """Mean number of cores other processes kept busy (None where /proc/stat is absent)."""
        if not self.available or self.wall < MIN_WALL:
            return None
        # tick rounding can push a short sum outside [0, CPUs]
        return min(max(0.0, self.other / self.wall), float(os.cpu_count() or 1))

    def loaded(self) -> bool:
        cores = self.other_cores()
        return cores is not None and cores > LOADED_CORES
