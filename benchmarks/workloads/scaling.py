"""7. Graph-size scaling: build, differentiate and compile the gradient of a chain of N
``sin(y)*1.0001 + 0.1`` steps; each case in its own process with a time limit."""

from __future__ import annotations

from benchmarks.results import Row
from benchmarks.subproc import run_worker
from benchmarks.workloads.common import Context, absent_rows, worker_row

NAME = "scaling"
SIZES = (100, 300, 1000, 3000)
QUICK_SIZES = (100,)


def _system_rows(ctx: Context, name: str, sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    timed_out_at = None
    for n in sizes:
        case = f"N={n}"
        if timed_out_at is not None:
            rows.append(Row(NAME, case, name, "timeout", note=f"skipped: N={timed_out_at} timed out"))
            continue
        ctx.progress(f"{NAME}: {name} {case} (subprocess)")
        rows.append(
            worker_row(NAME, case, name, run_worker("scaling", {"system": name, "n": n}, ctx.case_limit))
        )
        if rows[-1].status == "timeout":
            timed_out_at = n
    return rows


def run(ctx: Context) -> list[Row]:
    sizes = ctx.sizes(SIZES, QUICK_SIZES)
    rows = [r for n in sizes for r in absent_rows(ctx, NAME, f"N={n}")]
    for loaded in ctx.ready():
        if loaded.system.family == "numpy":
            rows += [Row(NAME, f"N={n}", loaded.name, "n/a", note="no graph to differentiate") for n in sizes]
        else:
            rows += _system_rows(ctx, loaded.name, sizes)
    return rows
