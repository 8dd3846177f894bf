"""8. GEMM: the machine's compute reference in GFLOP/s, and NumPy's GEMM once more in a
subprocess with the OPENBLAS_* tuning variables unset (they slow OpenBLAS here)."""

from __future__ import annotations

import numpy as np

from benchmarks.results import Row
from benchmarks.subproc import run_worker
from benchmarks.workloads.common import Context, timed_case, worker_row

NAME = "gemm"
SIZES = (2000,)
QUICK_SIZES = (1000,)


def expression(ops, a, b):
    return a @ b


def _gflops(rows: list[Row], n: int) -> None:
    for row in rows:
        if row.median:
            row.extra["GFLOP/s"] = 2 * n**3 / row.median / 1e9


def _unset_openblas_row(ctx: Context, n: int) -> Row:
    """The same NumPy GEMM in a fresh process without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE."""
    args = {"n": n, "seconds": ctx.budget.seconds}
    result = run_worker("gemm", args, ctx.case_limit, unset=("OPENBLAS_",))
    return worker_row(NAME, f"{n}x{n} float64", "numpy[OPENBLAS_* unset]", result)


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(3)
    for n in ctx.sizes(SIZES, QUICK_SIZES):
        a, b = rng.normal(size=(n, n)), rng.normal(size=(n, n))
        case_rows = timed_case(ctx, NAME, f"{n}x{n} float64", expression, [a, b])
        if any(r.system == "numpy" and r.status == "ok" for r in case_rows):
            ctx.progress(f"{NAME}: {n}x{n} with OPENBLAS_* unset (subprocess)")
            case_rows.append(_unset_openblas_row(ctx, n))
        _gflops(case_rows, n)
        rows += case_rows
    return rows
