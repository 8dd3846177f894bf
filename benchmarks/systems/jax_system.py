"""JAX: ``jax.jit`` on the CPU, float64 enabled so float64 workloads stay float64."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from benchmarks.systems.base import Ops, Spec, System, SystemMissing, Trainer

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # the 'bench' extra is not installed
    raise SystemMissing(f"jax is not installed ({exc}); pip install -e '.[bench]'") from exc

jax.config.update("jax_enable_x64", True)  # float32 inputs still compute in float32
jax.config.update("jax_platforms", "cpu")

JAX_OPS = Ops(
    exp=jnp.exp,
    sin=jnp.sin,
    tanh=jnp.tanh,
    log=jnp.log,
    max=jnp.max,
    sum=jnp.sum,
    mean=jnp.mean,
    stop_gradient=jax.lax.stop_gradient,
)


class JaxTrainer(Trainer):
    """JAX is functional: the step returns new weights, which this object keeps."""

    def __init__(self, step: Callable, params: Sequence[np.ndarray], data: Sequence[np.ndarray]):
        self._step = step
        self._params = [jax.device_put(p) for p in params]
        self._data = [jax.device_put(d) for d in data]

    def step(self) -> float:
        cost, self._params = jax.block_until_ready(self._step(self._params, *self._data))
        return cost

    def params(self) -> list[np.ndarray]:
        return [np.asarray(p) for p in self._params]


class JaxSystem(System):
    name = "jax"
    family = "jax"
    ops = JAX_OPS

    def versions(self) -> dict[str, str]:
        return {"jax": jax.__version__, "jax_backend": jax.default_backend()}

    def compile(self, fn: Callable, specs: Sequence[Spec]) -> Callable:
        jitted = jax.jit(lambda *args: fn(JAX_OPS, *args))
        return lambda *args: jitted(*args).block_until_ready()

    def prepare(self, arrays: Sequence[np.ndarray]) -> list:
        return [jax.device_put(a) for a in arrays]

    def sgd_trainer(self, loss, params, data, lr, manual_grad=None) -> Trainer:
        cost_and_grad = jax.value_and_grad(lambda ps, *d: loss(JAX_OPS, ps, *d))

        def step(ps, *d):
            cost, grads = cost_and_grad(ps, *d)
            return cost, [p - lr * g for p, g in zip(ps, grads)]

        return JaxTrainer(jax.jit(step), params, data)

    def grad_phases(self, fn: Callable, spec: Spec, x: np.ndarray) -> dict[str, float]:
        t0 = time.perf_counter()
        gradient = jax.grad(lambda v: jnp.sum(fn(JAX_OPS, v)))
        t1 = time.perf_counter()
        lowered = jax.jit(gradient).lower(x)  # tracing builds the forward and backward graph
        t2 = time.perf_counter()
        compiled = lowered.compile()
        t3 = time.perf_counter()
        compiled(x).block_until_ready()
        t4 = time.perf_counter()
        return {"build": t1 - t0, "grad": t2 - t1, "compile": t3 - t2, "first_call": t4 - t3}
