"""NumPy, eager: the baseline every ratio is read against."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from benchmarks.systems.base import NotApplicable, Ops, Spec, System, Trainer

NUMPY_OPS = Ops(
    exp=np.exp,
    sin=np.sin,
    tanh=np.tanh,
    log=np.log,
    max=np.max,
    sum=np.sum,
    mean=np.mean,
    stop_gradient=lambda x: x,
)


class NumpyTrainer(Trainer):
    def __init__(self, params: Sequence[np.ndarray], data: Sequence[np.ndarray], lr: float, grad: Callable):
        self._params = [p.copy() for p in params]
        self._data, self._lr, self._grad = list(data), lr, grad

    def step(self) -> float:
        cost, grads = self._grad(self._params, *self._data)
        self._params = [p - self._lr * g for p, g in zip(self._params, grads)]
        return cost

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self._params]


class NumpySystem(System):
    name = "numpy"
    family = "numpy"
    ops = NUMPY_OPS

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def compile(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        return lambda *args: fn(NUMPY_OPS, *args)

    def sgd_trainer(self, loss, params, data, lr, manual_grad=None) -> Trainer:
        if manual_grad is None:
            raise NotApplicable("numpy has no automatic differentiation")
        return NumpyTrainer(params, data, lr, manual_grad)
