"""What workloads share: the run context, rows for systems that cannot run, and the
compile / check-agreement / time sequence of an ordinary case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results import Row, row_from_timing
from benchmarks.systems import Loaded
from benchmarks.systems.base import NotApplicable, Spec
from benchmarks.timing import Budget, measure


@dataclass
class Context:
    """Everything a workload needs: the systems, how long to measure, where to write."""

    systems: list[Loaded]
    budget: Budget
    quick: bool = False
    smallest: bool = False
    case_limit: float = 60.0  # seconds, for cases run in a subprocess
    workdir: Path = Path(".")
    progress: Callable[[str], None] = lambda text: None
    meta: dict = field(default_factory=dict)

    def ready(self) -> list[Loaded]:
        return [s for s in self.systems if s.system is not None]

    def sizes(self, full: Sequence, quick: Sequence) -> list:
        """The case list for this run: the smallest only, the quick set, or all."""
        chosen = list(quick if self.quick else full)
        return chosen[:1] if self.smallest else chosen


def absent_rows(ctx: Context, workload: str, case: str) -> list[Row]:
    """'missing' / 'unavailable' rows, so a system that cannot run is never silently skipped."""
    return [Row(workload, case, s.name, s.status, note=s.reason) for s in ctx.systems if s.system is None]


def tolerance(dtype: Any) -> tuple[float, float]:
    """(rtol, atol) for comparing systems: a few ulps of accumulated rounding, per dtype."""
    return (2e-4, 1e-5) if np.dtype(dtype) == np.float32 else (1e-8, 1e-10)


def disagreement(value: Any, reference: np.ndarray) -> str:
    """'' when ``value`` matches ``reference`` in dtype, shape and values; else why not."""
    value = np.asarray(value)
    if value.dtype != reference.dtype or value.shape != reference.shape:
        return f"result {value.dtype}{value.shape} != reference {reference.dtype}{reference.shape}"
    rtol, atol = tolerance(reference.dtype)
    if not np.allclose(value, reference, rtol=rtol, atol=atol):
        err = np.max(np.abs(value.astype(np.float64) - reference) / (np.abs(reference) + atol))
        return f"result differs from the reference (max relative error {err:.2e})"
    return ""


def timed_case(
    ctx: Context,
    workload: str,
    case: str,
    fn: Callable,
    arrays: Sequence[np.ndarray],
    extra_calls: dict[str, Callable] | None = None,
    trusted: bool = False,
) -> list[Row]:
    """Build ``fn(ops, *inputs)`` in every system, check the results agree with NumPy's
    (or the first system's), then time the agreeing ones side by side. ``trusted``: build
    with ``System.compile_trusted`` (no argument checks)."""
    ctx.progress(f"{workload}: {case}")
    specs = [Spec(a.dtype.name, a.ndim) for a in arrays]
    rows, calls, reference = absent_rows(ctx, workload, case), dict(extra_calls or {}), None
    for loaded in ctx.ready():
        system = loaded.system
        try:
            build = system.compile_trusted if trusted else system.compile
            compiled, prepared = build(fn, specs), system.prepare(arrays)
            value = system.to_numpy(compiled(*prepared))
        except NotApplicable as exc:
            rows.append(Row(workload, case, loaded.name, "n/a", note=str(exc)))
            continue
        except Exception as exc:  # a failing system is a row, not a crash of the run
            rows.append(Row(workload, case, loaded.name, "error", note=f"{type(exc).__name__}: {exc}"))
            continue
        reference = np.asarray(value) if reference is None else reference
        problem = disagreement(value, reference)
        if problem:
            rows.append(Row(workload, case, loaded.name, "mismatch", note=problem))
            continue
        calls[loaded.name] = (lambda c, p: lambda: c(*p))(compiled, prepared)
    timings = measure(calls, ctx.budget)
    rows += [row_from_timing(workload, case, name, t) for name, t in timings.items()]
    return rows


def worker_row(workload: str, case: str, system: str, result: Any) -> Row:
    """A row from a subprocess measurement: its ``samples`` list, or one ``total``."""
    row = Row(workload, case, system, result.status, note=result.note, other_cores=result.other_cores)
    row.loaded = result.loaded
    if result.status != "ok":
        return row
    value = dict(result.value)
    samples = value.pop("samples", None) or [value.pop("total")]
    row.median, row.min, row.max = float(np.median(samples)), min(samples), max(samples)
    row.samples, row.calls_per_sample = len(samples), 1
    row.extra = {k: v for k, v in value.items() if isinstance(v, (int, float))}
    return row
