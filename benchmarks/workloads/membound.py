"""2. Memory-bound ``a*x + b*z`` against the machine's copy bandwidth, measured in the same
rounds: a NumPy copy into a fresh array of the same size (``x.copy()``, the issue's
reference: like ``a*x + b*z``, it writes memory the system must first hand out), and
``np.copyto`` into a ready buffer (pure bandwidth, no page faults)."""

from __future__ import annotations

import numpy as np

from benchmarks.results import Row
from benchmarks.workloads.common import Context, timed_case

NAME = "membound"
SIZES = (10_000_000,)
QUICK_SIZES = (1_000_000,)
COPY = "numpy.copy"  # into a fresh array
COPY_READY = "numpy.copyto"  # into a ready buffer


def expression(ops, a, x, b, z):
    return a * x + b * z


def _bandwidths(rows: list[Row], n: int) -> None:
    """GB/s moved (2 arrays read + 1 written; a copy: 1 read + 1 written), and the speed as a
    fraction of each copy's (its median time over the row's: the issue's ">= 90% of the speed
    of a NumPy copy into a fresh array" is ``speed_vs_copy >= 0.9``)."""
    copies = {
        name: next((r for r in rows if r.system == name and r.median), None) for name in (COPY, COPY_READY)
    }
    for row in rows:
        if row.median:
            moved = (2 if row.system in copies else 3) * 8 * n
            row.extra["GB/s"] = moved / row.median / 1e9
    for key, name in (("speed_vs_copy", COPY), ("speed_vs_copyto", COPY_READY)):
        copy = copies[name]
        for row in rows:
            if copy is not None and row.median:
                row.extra[key] = copy.median / row.median


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(1)
    for n in ctx.sizes(SIZES, QUICK_SIZES):
        x, z = rng.normal(size=n), rng.normal(size=n)
        a, b = np.array(1.5), np.array(-0.5)
        src, dst = rng.normal(size=n), np.empty(n)
        copy = {COPY: src.copy, COPY_READY: lambda src=src, dst=dst: np.copyto(dst, src)}
        case_rows = timed_case(ctx, NAME, f"n={n:.0e} float64", expression, [a, x, b, z], copy)
        _bandwidths(case_rows, n)
        rows += case_rows
    return rows
