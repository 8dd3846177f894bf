"""1. Fused elementwise: ``exp(-x**2)*sin(x) + tanh(0.5*x)``; NumPy makes a temporary per op,
a fusing compiler one pass over memory."""

from __future__ import annotations

import numpy as np

from benchmarks.results import Row
from benchmarks.workloads.common import Context, timed_case

NAME = "elementwise"
SIZES = (10_000, 1_000_000, 10_000_000)
QUICK_SIZES = (10_000, 1_000_000)
DTYPES = ("float64", "float32")


def expression(ops, x):
    return ops.exp(-(x**2)) * ops.sin(x) + ops.tanh(0.5 * x)


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(0)
    dtypes = DTYPES[:1] if ctx.smallest else DTYPES
    for n in ctx.sizes(SIZES, QUICK_SIZES):
        for dtype in dtypes:
            x = rng.uniform(-3.0, 3.0, n).astype(dtype)
            rows += timed_case(ctx, NAME, f"n={n:.0e} {dtype}", expression, [x])
    return rows
