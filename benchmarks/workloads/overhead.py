"""6. Call overhead: ``x + 1`` on a 0-d and a 10-element input, where the work is nothing and
the figure is the price of one call (argument checks, dispatch, output allocation); then the
same call with argument checks switched off (``trust_input``) where a system has the switch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from benchmarks.results import Row
from benchmarks.workloads.common import Context, timed_case

NAME = "overhead"


def expression(ops, x):
    return x + 1.0


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    budget = ctx.budget
    ctx.budget = replace(budget, sample_s=max(budget.sample_s, 0.02))  # thousands of calls a sample
    try:
        for label, x in (("0-d", np.array(0.5)), ("10 elements", np.linspace(0.0, 1.0, 10))):
            rows += timed_case(ctx, NAME, f"x + 1, {label}", expression, [x])
            rows += timed_case(ctx, NAME, f"x + 1, {label}, trust_input", expression, [x], trusted=True)
    finally:
        ctx.budget = budget
    for row in rows:
        if row.median:
            row.extra["us_per_call"] = row.median * 1e6
    return rows
