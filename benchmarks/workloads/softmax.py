"""3. Row-wise softmax and logsumexp of a square matrix (a reduction, a broadcast back, and
transcendentals), written from the same primitives in every system."""

from __future__ import annotations

import numpy as np

from benchmarks.results import Row
from benchmarks.workloads.common import Context, timed_case

NAME = "softmax"
SIZES = (2000,)
QUICK_SIZES = (500,)


def softmax(ops, x):
    e = ops.exp(x - ops.max(x, axis=1, keepdims=True))
    return e / ops.sum(e, axis=1, keepdims=True)


def logsumexp(ops, x):
    m = ops.max(x, axis=1, keepdims=True)
    return ops.log(ops.sum(ops.exp(x - m), axis=1, keepdims=True)) + m


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(2)
    for n in ctx.sizes(SIZES, QUICK_SIZES):
        x = rng.normal(scale=3.0, size=(n, n))
        for name, fn in (("softmax", softmax), ("logsumexp", logsumexp)):
            rows += timed_case(ctx, NAME, f"{name} {n}x{n} float64", fn, [x])
    return rows
