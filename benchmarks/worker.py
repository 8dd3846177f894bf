"""One measurement in a fresh process: ``python -m benchmarks.worker TASK JSON_ARGS``.

Prints ``RESULT {json}`` as its last line (``{"error": ...}`` on failure). The parent
(benchmarks/subproc.py) sets the environment (cache directories, OPENBLAS_*) and the time limit.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

import numpy as np

from benchmarks import models, systems
from benchmarks.machine import blas_info
from benchmarks.subproc import RESULT_TAG
from benchmarks.systems.base import Spec


def _system(name: str):
    loaded = systems.load(name)
    if loaded.system is None:
        raise RuntimeError(f"{name} is {loaded.status}: {loaded.reason}")
    return loaded.system


def compile_mlp(system: str) -> dict:
    """Seconds from the first line of graph building to the first step's result, after import."""
    t0 = time.perf_counter()
    sys_ = _system(system)
    t1 = time.perf_counter()
    x, y, _ = models.digits()
    trainer = sys_.sgd_trainer(models.loss, models.initial_params(), [x, y], models.LEARNING_RATE)
    t2 = time.perf_counter()
    trainer.step()
    t3 = time.perf_counter()
    return {"import": t1 - t0, "build_and_compile": t2 - t1, "first_step": t3 - t2, "total": t3 - t1}


def chain(ops, x, n: int):
    y = x
    for _ in range(n):
        y = ops.sin(y) * 1.0001 + 0.1
    return y


def scaling(system: str, n: int) -> dict:
    sys_ = _system(system)
    phases = sys_.grad_phases(lambda ops, v: chain(ops, v, n), Spec("float64", 1), np.linspace(-1, 1, 100))
    phases["total"] = sum(phases.values())  # to the first gradient value: Numba compiles on first call
    return phases


def gemm(n: int, seconds: float) -> dict:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    a @ b
    samples: list[float] = []
    while len(samples) < 3 or sum(samples) < seconds:
        t0 = time.perf_counter()
        a @ b
        samples.append(time.perf_counter() - t0)
    return {"samples": samples, "blas": blas_info()}


TASKS = {"compile_mlp": compile_mlp, "scaling": scaling, "gemm": gemm}


def main(argv: list[str]) -> None:
    task, args = argv[0], json.loads(argv[1])
    try:
        result = TASKS[task](**args)
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_TAG + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
