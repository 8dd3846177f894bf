"""2. Memory-bound ``a*x + b*z`` against the machine's copy bandwidth, measured in the same
rounds (``np.copyto`` of the same array size into a ready buffer)."""

from __future__ import annotations

import numpy as np

from benchmarks.results import Row
from benchmarks.workloads.common import Context, timed_case

NAME = "membound"
SIZES = (10_000_000,)
QUICK_SIZES = (1_000_000,)
COPY = "numpy.copyto"


def expression(ops, a, x, b, z):
    return a * x + b * z


def _bandwidths(rows: list[Row], n: int) -> None:
    """GB/s moved (2 arrays read + 1 written; copy: 1 read + 1 written) and the fraction of copy."""
    copy = next((r for r in rows if r.system == COPY and r.median), None)
    copy_bw = 2 * 8 * n / copy.median / 1e9 if copy else None
    for row in rows:
        if row.median:
            moved = (2 if row.system == COPY else 3) * 8 * n
            row.extra["GB/s"] = moved / row.median / 1e9
            if copy_bw:
                row.extra["fraction_of_copy"] = row.extra["GB/s"] / copy_bw


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(1)
    for n in ctx.sizes(SIZES, QUICK_SIZES):
        x, z = rng.normal(size=n), rng.normal(size=n)
        a, b = np.array(1.5), np.array(-0.5)
        src, dst = rng.normal(size=n), np.empty(n)
        copy = {COPY: lambda src=src, dst=dst: np.copyto(dst, src)}
        case_rows = timed_case(ctx, NAME, f"n={n:.0e} float64", expression, [a, x, b, z], copy)
        _bandwidths(case_rows, n)
        rows += case_rows
    return rows
