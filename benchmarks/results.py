"""One row per (workload, case, system); ratios to NumPy and to symgrad's best mode."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.systems import SYMGRAD_SYSTEMS, SYSTEMS
from benchmarks.timing import Timing


@dataclass
class Row:
    """``median``/``min``/``max`` are seconds (per call, or per compile); lower is better.

    ``status``: 'ok', 'missing' (not installed), 'unavailable' (installed, cannot run here),
    'n/a' (the workload does not exist for this system), 'timeout', 'mismatch' (its result
    disagreed with the others, so it was not timed) or 'error'."""

    workload: str
    case: str
    system: str
    status: str = "ok"
    median: float | None = None
    min: float | None = None
    max: float | None = None
    samples: int = 0
    calls_per_sample: int = 0
    other_cores: float | None = None
    loaded: bool = False
    note: str = ""
    extra: dict = field(default_factory=dict)
    ratio_numpy: float | None = None
    ratio_symgrad: float | None = None


def row_from_timing(workload: str, case: str, system: str, timing: Timing) -> Row:
    row = Row(workload, case, system, timing.status, note=timing.note, calls_per_sample=timing.number)
    if timing.status == "ok" and timing.samples:
        row.median, row.min, row.max = timing.median, min(timing.samples), max(timing.samples)
        row.samples = len(timing.samples)
    row.other_cores = timing.meter.other_cores()
    row.loaded = timing.meter.loaded()
    return row


def add_ratios(rows: list[Row]) -> None:
    """Fill each row's ratio to NumPy and to the fastest symgrad mode of the same case."""
    by_case: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        by_case.setdefault((row.workload, row.case), []).append(row)
    for group in by_case.values():
        ok = {r.system: r.median for r in group if r.status == "ok" and r.median}
        numpy_time = ok.get("numpy")
        symgrad_times = [t for name, t in ok.items() if name in SYMGRAD_SYSTEMS]
        best_symgrad = min(symgrad_times) if symgrad_times else None
        for row in group:
            if row.system in ok:
                row.ratio_numpy = row.median / numpy_time if numpy_time else None
                row.ratio_symgrad = row.median / best_symgrad if best_symgrad else None


def system_rank(name: str) -> float:
    """Table order: the systems' own order; reference rows (``numpy.copyto``...) right after NumPy."""
    names = list(SYSTEMS)
    return names.index(name) if name in names else 0.5


def sort_rows(rows: list[Row]) -> list[Row]:
    """Cases in the order they ran, systems in table order within a case."""
    first = {}
    for row in rows:
        first.setdefault((row.workload, row.case), len(first))
    return sorted(rows, key=lambda r: (first[(r.workload, r.case)], system_rank(r.system)))


def write_json(path: Path, meta: dict, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
