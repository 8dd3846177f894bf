"""5. Compile time of the MLP training step (graph building, gradient, compiling, first step),
each run in its own fresh process: cold (empty cache directories) and warm (cache filled)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.results import Row
from benchmarks.subproc import WorkerResult, merge, run_worker
from benchmarks.workloads.common import Context, absent_rows, worker_row

NAME = "compile"


def cache_env(cache: Path) -> dict[str, str]:
    """Point every system's compile cache into ``cache`` (fresh = cold, reused = warm)."""
    return {
        "SYMGRAD_CACHE_DIR": str(cache / "symgrad"),
        "PYTENSOR_FLAGS": f"compiledir={cache / 'pytensor'}",
        "NUMBA_CACHE_DIR": str(cache / "numba"),
        "JAX_COMPILATION_CACHE_DIR": str(cache / "jax"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


def _system_rows(ctx: Context, name: str, repeats: tuple[int, int]) -> list[Row]:
    """``repeats[0]`` cold runs, each with a fresh cache, then ``repeats[1]`` warm runs on the last."""
    cold: list[WorkerResult] = []
    warm: list[WorkerResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-cache-", dir=ctx.workdir) as tmp:
        for k in range(repeats[0]):
            env = cache_env(Path(tmp) / f"cold{k}")
            ctx.progress(f"{NAME}: {name} cold {k + 1}/{repeats[0]} (subprocess)")
            cold.append(run_worker("compile_mlp", {"system": name}, ctx.case_limit, env))
        for k in range(repeats[1] if cold[-1].status == "ok" else 0):
            ctx.progress(f"{NAME}: {name} warm {k + 1}/{repeats[1]} (subprocess)")
            warm.append(run_worker("compile_mlp", {"system": name}, ctx.case_limit, env))
    rows = [worker_row(NAME, "cold", name, merge(cold))]
    if warm:
        rows.append(worker_row(NAME, "warm", name, merge(warm)))
    else:
        rows.append(Row(NAME, "warm", name, cold[-1].status, note="no warm run: the cold run failed"))
    return rows


def run(ctx: Context) -> list[Row]:
    rows = absent_rows(ctx, NAME, "cold") + absent_rows(ctx, NAME, "warm")
    repeats = (1, 1) if ctx.quick else (2, 3)
    for loaded in ctx.ready():
        if loaded.system.family == "numpy":
            rows += [Row(NAME, c, loaded.name, "n/a", note="nothing to compile") for c in ("cold", "warm")]
        else:
            rows += _system_rows(ctx, loaded.name, repeats)
    return rows
