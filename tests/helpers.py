"""Shared test utilities: random inputs and a finite-difference gradient check."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import symgrad as sg


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def numeric_grad(
    f: Callable[..., float], values: Sequence[np.ndarray], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central differences of scalar ``f(*values)`` with respect to each array in ``values``."""
    values = [np.array(v, dtype=np.float64) for v in values]
    grads = []
    for _k, v in enumerate(values):
        g = np.zeros_like(v)
        flat, gflat = v.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            hi = f(*values)
            flat[i] = old - eps
            lo = f(*values)
            flat[i] = old
            gflat[i] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


def check_grad(
    build: Callable[..., sg.Variable],
    values: Sequence[np.ndarray],
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
) -> None:
    """Compare sg.grad of ``sum(build(*vars) * random projection)`` with finite differences.

    ``values`` are float64 arrays; one symbolic input of matching rank is made for each.
    """
    values = [np.asarray(v, dtype=np.float64) for v in values]
    variables = [sg.tensor(f"v{k}", "float64", (None,) * v.ndim) for k, v in enumerate(values)]
    out = build(*variables)
    proj = rng(seed).normal(size=sg.function(variables, out)(*values).shape)
    cost = (out * proj).sum()
    f_cost = sg.function(variables, cost)
    f_grad = sg.function(variables, sg.grad(cost, variables))
    symbolic = f_grad(*values)
    numeric = numeric_grad(lambda *vs: float(f_cost(*vs)), values)
    for k, (s, n) in enumerate(zip(symbolic, numeric)):
        np.testing.assert_allclose(s, n, rtol=rtol, atol=atol, err_msg=f"gradient of input {k}")


def op_names(f) -> list[str]:
    """The ops of a compiled function's rewritten graph; fused nodes list the ops they hold."""
    names = []
    for node in f.fgraph.toposort():
        steps = getattr(getattr(node.op, "scalar_op", None), "steps", None)
        names += [str(op) for op, *_ in steps] if steps is not None else [str(node.op)]
        if hasattr(node.op, "reduce"):  # a fused reduction also names its reduction
            names.append(node.op.kind)
    return names
