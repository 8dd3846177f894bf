"""4. One full-batch SGD step of the digits MLP, timed over a training run of 200 steps from
the same initial weights in every system; the training accuracy at the end must agree."""

from __future__ import annotations

import numpy as np

from benchmarks import models
from benchmarks.results import Row, row_from_timing
from benchmarks.systems.base import NotApplicable
from benchmarks.timing import Timing, timed_sample
from benchmarks.workloads.common import Context, absent_rows

NAME = "mlp"
WARMUP_STEPS = 2  # not timed: the first call compiles in JAX and Numba


def _trainers(ctx: Context, case: str, data: list[np.ndarray], rows: list[Row]) -> dict:
    trainers = {}
    for loaded in ctx.ready():
        try:
            trainers[loaded.name] = loaded.system.sgd_trainer(
                models.loss, models.initial_params(), data, models.LEARNING_RATE, models.numpy_loss_and_grad
            )
        except NotApplicable as exc:
            rows.append(Row(NAME, case, loaded.name, "n/a", note=str(exc)))
        except Exception as exc:
            rows.append(Row(NAME, case, loaded.name, "error", note=f"{type(exc).__name__}: {exc}"))
    return trainers


def _check_first_loss(trainers: dict, case: str, rows: list[Row]) -> None:
    """Warm-up steps; the loss at the shared initial weights must agree before timing."""
    losses = {}
    for name, trainer in list(trainers.items()):
        try:
            losses[name] = [float(trainer.step()) for _ in range(WARMUP_STEPS)]
        except Exception as exc:
            rows.append(Row(NAME, case, name, "error", note=f"{type(exc).__name__}: {exc}"))
            del trainers[name]
    reference = next(iter(losses.values()), None)
    for name, values in losses.items():
        if not np.allclose(values, reference, rtol=1e-9):
            rows.append(Row(NAME, case, name, "mismatch", note=f"initial losses {values} != {reference}"))
            del trainers[name]


def _train_timed(trainers: dict, steps: int) -> dict[str, Timing]:
    timings = {name: Timing() for name in trainers}
    names = list(trainers)
    for step in range(steps - WARMUP_STEPS):
        shift = step % len(names)
        for name in names[shift:] + names[:shift]:
            timed_sample(trainers[name].step, timings[name])
    return timings


def _final_rows(trainers: dict, timings: dict, case: str, x: np.ndarray, labels: np.ndarray) -> list[Row]:
    rows, reference = [], None
    for name, trainer in trainers.items():
        row = row_from_timing(NAME, case, name, timings[name])
        if row.status == "ok":
            params = trainer.params()
            row.extra["train_accuracy"] = models.accuracy(params, x, labels)
            reference = reference or (params, row.extra["train_accuracy"])
            if row.extra["train_accuracy"] != reference[1] or not all(
                np.allclose(p, r, rtol=1e-6, atol=1e-9) for p, r in zip(params, reference[0])
            ):
                row.status = "mismatch"
                row.note = (
                    f"accuracy {row.extra['train_accuracy']:.4f} or weights differ from {reference[1]:.4f}"
                )
        rows.append(row)
    return rows


def run(ctx: Context) -> list[Row]:
    steps = 5 if ctx.smallest else 20 if ctx.quick else 200
    case = f"SGD step 64-256-256-10, 1797 digits ({steps} steps)"
    ctx.progress(f"{NAME}: {case}")
    try:
        x, y, labels = models.digits()
    except ImportError as exc:
        return [Row(NAME, case, s.name, "missing", note=str(exc)) for s in ctx.systems]
    rows = absent_rows(ctx, NAME, case)
    trainers = _trainers(ctx, case, [x, y], rows)
    _check_first_loss(trainers, case, rows)
    timings = _train_timed(trainers, steps)
    return rows + _final_rows(trainers, timings, case, x, labels)
