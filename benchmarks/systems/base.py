"""What every system adapter offers, so a workload is written once for all systems.

A workload writes its computation as a function of an ``Ops`` vocabulary (``ops.exp``,
``ops.sum``...) and the system's own array/variable objects; each adapter builds it in its
own way: NumPy calls it eagerly, symgrad and PyTensor build a graph and compile it, JAX jits it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class SystemMissing(Exception):
    """The system's package is not installed (reported as 'missing', never skipped silently)."""


class SystemUnavailable(Exception):
    """Installed, but this mode cannot run here (no compiler, no GPU, not implemented yet)."""


class NotApplicable(Exception):
    """The workload does not exist for this system (NumPy has no graph to differentiate)."""


@dataclass(frozen=True)
class Ops:
    """The small vocabulary workloads are written in; every system fills it with its functions."""

    exp: Callable
    sin: Callable
    tanh: Callable
    log: Callable
    max: Callable  # max(x, axis=..., keepdims=...)
    sum: Callable  # sum(x, axis=..., keepdims=...)
    mean: Callable
    stop_gradient: Callable


@dataclass(frozen=True)
class Spec:
    """One symbolic input: its dtype and rank (lengths are left unknown in every system)."""

    dtype: str
    ndim: int


class Trainer:
    """One compiled SGD step over fixed data; ``params()`` returns the weights as NumPy arrays."""

    def step(self) -> Any:
        """One SGD step; returns the loss at the weights before the step."""
        raise NotImplementedError

    def params(self) -> list[np.ndarray]:
        raise NotImplementedError


class SharedVariableTrainer(Trainer):
    """A compiled step function with Theano-style shared weights (``get_value``): the shape
    symgrad and PyTensor share."""

    def __init__(self, step: Any, shared: list, data: list) -> None:
        self._step, self._shared, self._data = step, shared, list(data)

    def step(self) -> Any:
        return self._step(*self._data)

    def params(self) -> list[np.ndarray]:
        return [s.get_value() for s in self._shared]


class System:
    """Base adapter. ``name`` is the label in every table; ``family`` the package."""

    name = "?"
    family = "?"
    ops: Ops

    def versions(self) -> dict[str, str]:
        return {}

    def compile(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        """A callable taking ``prepare``d inputs and returning the finished output."""
        raise NotImplementedError

    def compile_trusted(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        """``compile`` without argument checks, for callers that validate their inputs
        themselves (``trust_input``); systems without such a switch are 'n/a'."""
        raise NotApplicable(f"{self.name} has no switch that skips argument checks")

    def prepare(self, arrays: Sequence[np.ndarray]) -> list:
        """Inputs in the system's own form (device arrays for JAX), converted once."""
        return list(arrays)

    def to_numpy(self, value: Any) -> np.ndarray:
        return np.asarray(value)

    def sgd_trainer(
        self,
        loss: Callable,
        params: Sequence[np.ndarray],
        data: Sequence[np.ndarray],
        lr: float,
        manual_grad: Callable | None = None,
    ) -> Trainer:
        """``p <- p - lr * d loss(ops, params, *data) / dp`` as one compiled step.

        ``manual_grad(params, *data) -> grads`` is the hand-written gradient, for NumPy only."""
        raise NotApplicable(f"{self.name} has no automatic differentiation")

    def grad_phases(self, fn: Callable, spec: Spec, x: np.ndarray) -> dict[str, float]:
        """Seconds spent building ``sum(fn(x))``, its gradient, and compiling that gradient."""
        raise NotApplicable(f"{self.name} has no graph to differentiate")
