"""symgrad in one mode ('py', 'c' or 'cuda'); a mode it cannot build is 'unavailable'."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

import symgrad as sg
from benchmarks.systems.base import Ops, SharedVariableTrainer, Spec, System, SystemUnavailable, Trainer

SYMGRAD_OPS = Ops(
    exp=sg.exp,
    sin=sg.sin,
    tanh=sg.tanh,
    log=sg.log,
    max=sg.max,
    sum=sg.sum,
    mean=sg.mean,
    stop_gradient=sg.stop_gradient,
)


def _inputs(specs: Sequence[Spec]) -> list:
    return [sg.tensor(f"in{k}", dtype=s.dtype, shape=(None,) * s.ndim) for k, s in enumerate(specs)]


class SymgradSystem(System):
    family = "symgrad"
    ops = SYMGRAD_OPS

    def __init__(self, mode: str):
        self.mode = mode
        self.name = f"symgrad-{mode}"
        self._check_mode()

    def _check_mode(self) -> None:
        """Compile a one-node graph once, so an unavailable mode is known before any workload."""
        x = sg.scalar("x")
        try:
            sg.function([x], x + 1, mode=self.mode)
        except sg.ModeUnavailableError as exc:
            raise SystemUnavailable(str(exc)) from exc

    def versions(self) -> dict[str, str]:
        return {"symgrad": getattr(sg, "__version__", "0.1.0"), "symgrad_mode": self.mode}

    def compile(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        inputs = _inputs(specs)
        return sg.function(inputs, fn(SYMGRAD_OPS, *inputs), mode=self.mode)

    def compile_trusted(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        inputs = _inputs(specs)
        return sg.function(inputs, fn(SYMGRAD_OPS, *inputs), mode=self.mode, trust_input=True)

    def sgd_trainer(self, loss, params, data, lr, manual_grad=None) -> Trainer:
        shared = [sg.shared(p, name=f"p{k}") for k, p in enumerate(params)]
        inputs = _inputs([Spec(d.dtype.name, d.ndim) for d in data])
        cost = loss(SYMGRAD_OPS, shared, *inputs)
        grads = sg.grad(cost, shared)
        updates = [(p, p - lr * g) for p, g in zip(shared, grads)]
        step = sg.function(inputs, cost, updates=updates, mode=self.mode)
        return SharedVariableTrainer(step, shared, data)

    def grad_phases(self, fn: Callable, spec: Spec, x: np.ndarray) -> dict[str, float]:
        t0 = time.perf_counter()
        (var,) = _inputs([spec])
        cost = sg.sum(fn(SYMGRAD_OPS, var))
        t1 = time.perf_counter()
        g = sg.grad(cost, var)
        t2 = time.perf_counter()
        f = sg.function([var], g, mode=self.mode)
        t3 = time.perf_counter()
        f(x)
        t4 = time.perf_counter()
        return {"build": t1 - t0, "grad": t2 - t1, "compile": t3 - t2, "first_call": t4 - t3}
