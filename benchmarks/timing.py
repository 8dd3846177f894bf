"""Warm-up, then repeated samples, interleaving systems so drift hits all of them alike."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.machine import CpuMeter


@dataclass
class Budget:
    """How long to measure one case: per system, at least ``min_samples`` and at most
    ``max_samples`` samples, stopping once ``seconds`` are spent; ``limit`` is the longest a
    single call may take before the system's row becomes 'timeout'."""

    seconds: float = 2.0
    min_samples: int = 5
    max_samples: int = 30
    sample_s: float = 0.02  # a sample repeats the call until it lasts about this long
    limit: float = 60.0


@dataclass
class Timing:
    """Seconds per call, one entry per sample; ``status`` is 'ok', 'timeout' or 'error'."""

    samples: list[float] = field(default_factory=list)
    meter: CpuMeter = field(default_factory=CpuMeter)
    status: str = "ok"
    note: str = ""
    number: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def _one_sample(fn: Callable, number: int, meter: CpuMeter) -> float:
    meter.start()
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    elapsed = time.perf_counter() - t0
    meter.stop()
    return elapsed / number


def _warm_up(fn: Callable, budget: Budget) -> Timing:
    """Two calls (the first may compile); the second sizes the samples."""
    timing = Timing()
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first > budget.limit:
        return Timing(status="timeout", note=f"first call took {first:.1f} s > limit {budget.limit:.0f} s")
    second = _one_sample(fn, 1, CpuMeter())
    timing.number = max(1, math.ceil(budget.sample_s / max(second, 1e-9)))
    return timing


def measure(calls: dict[str, Callable], budget: Budget) -> dict[str, Timing]:
    """Time every callable; each round visits the systems in a rotated order."""
    timings: dict[str, Timing] = {}
    for name, fn in calls.items():
        try:
            timings[name] = _warm_up(fn, budget)
        except Exception as exc:  # reported in the table, never hidden
            timings[name] = Timing(status="error", note=f"{type(exc).__name__}: {exc}")
    active = [n for n in calls if timings[n].status == "ok"]
    spent = dict.fromkeys(active, 0.0)
    for round_no in range(budget.max_samples):
        todo = [
            n for n in active if len(timings[n].samples) < budget.min_samples or spent[n] < budget.seconds
        ]
        if not todo:
            break
        shift = round_no % len(todo)
        gc.collect()
        for name in todo[shift:] + todo[:shift]:
            spent[name] += timed_sample(calls[name], timings[name])
        active = [n for n in active if timings[n].status == "ok"]
    return timings


def timed_sample(fn: Callable, timing: Timing) -> float:
    """One sample with the collector off (as timeit does); returns the seconds it took."""
    gc.disable()
    try:
        timing.samples.append(_one_sample(fn, timing.number, timing.meter))
    except Exception as exc:
        timing.status, timing.note = "error", f"{type(exc).__name__}: {exc}"
        return 0.0
    finally:
        gc.enable()
    return timing.samples[-1] * timing.number
