"""PyTensor in one mode: 'CVM' (C backend, Theano's heir) or 'NUMBA' (PyTensor 3's default)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from importlib.metadata import version

import numpy as np

from benchmarks.systems.base import (
    Ops,
    SharedVariableTrainer,
    Spec,
    System,
    SystemMissing,
    SystemUnavailable,
    Trainer,
)

try:
    import pytensor
    import pytensor.tensor as pt
    from pytensor.gradient import disconnected_grad
except ImportError as exc:  # the 'bench' extra is not installed
    raise SystemMissing(f"pytensor is not installed ({exc}); pip install -e '.[bench]'") from exc

PYTENSOR_OPS = Ops(
    exp=pt.exp,
    sin=pt.sin,
    tanh=pt.tanh,
    log=pt.log,
    max=pt.max,
    sum=pt.sum,
    mean=pt.mean,
    stop_gradient=disconnected_grad,
)


def _inputs(specs: Sequence[Spec]) -> list:
    return [pt.tensor(f"in{k}", dtype=s.dtype, shape=(None,) * s.ndim) for k, s in enumerate(specs)]


class PytensorSystem(System):
    family = "pytensor"
    ops = PYTENSOR_OPS

    def __init__(self, mode: str):
        self.mode = mode
        self.name = f"pytensor-{mode.lower()}"
        self._check_mode()

    def _check_mode(self) -> None:
        x = pt.dscalar("x")
        try:
            pytensor.function([x], x + 1, mode=self.mode)(1.0)
        except Exception as exc:  # no C compiler, numba missing...: say why
            raise SystemUnavailable(f"PyTensor mode {self.mode!r} failed: {exc}") from exc

    def versions(self) -> dict[str, str]:
        out = {"pytensor": pytensor.__version__, "pytensor_mode": self.mode}
        out["pytensor_default_linker"] = str(pytensor.config.linker)
        if self.mode == "NUMBA":
            out["numba"] = version("numba")
        return out

    def compile(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        inputs = _inputs(specs)
        return pytensor.function(inputs, fn(PYTENSOR_OPS, *inputs), mode=self.mode)

    def compile_trusted(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        compiled = self.compile(fn, specs)
        compiled.trust_input = True
        return compiled

    def sgd_trainer(self, loss, params, data, lr, manual_grad=None) -> Trainer:
        shared = [pytensor.shared(p, name=f"p{k}") for k, p in enumerate(params)]
        inputs = _inputs([Spec(d.dtype.name, d.ndim) for d in data])
        cost = loss(PYTENSOR_OPS, shared, *inputs)
        grads = pytensor.grad(cost, shared)
        updates = [(p, p - lr * g) for p, g in zip(shared, grads)]
        step = pytensor.function(inputs, cost, updates=updates, mode=self.mode)
        return SharedVariableTrainer(step, shared, data)

    def grad_phases(self, fn: Callable, spec: Spec, x: np.ndarray) -> dict[str, float]:
        t0 = time.perf_counter()
        (var,) = _inputs([spec])
        cost = pt.sum(fn(PYTENSOR_OPS, var))
        t1 = time.perf_counter()
        g = pytensor.grad(cost, var)
        t2 = time.perf_counter()
        f = pytensor.function([var], g, mode=self.mode)
        t3 = time.perf_counter()
        f(x)
        t4 = time.perf_counter()
        return {"build": t1 - t0, "grad": t2 - t1, "compile": t3 - t2, "first_call": t4 - t3}
