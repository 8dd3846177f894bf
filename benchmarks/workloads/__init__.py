"""The workloads, in run order: name -> module with ``run(ctx) -> list[Row]``.

Each module builds its computation once (a function of an ``Ops`` vocabulary) so every
system computes the same thing; see docs/performance.md for what each figure means.
"""

from __future__ import annotations

from types import ModuleType

from benchmarks.workloads import (
    compile_time,
    elementwise,
    gemm,
    membound,
    mlp,
    overhead,
    scaling,
    softmax,
)

WORKLOADS: dict[str, ModuleType] = {
    "elementwise": elementwise,
    "membound": membound,
    "softmax": softmax,
    "mlp": mlp,
    "compile": compile_time,
    "overhead": overhead,
    "scaling": scaling,
    "gemm": gemm,
}
