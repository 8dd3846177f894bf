"""Rewriter cost: how long the rewrite pipeline takes on graphs users make.

    python -m benchmarks.rewrite_scaling

Prints, for the gradient graph of an N-step ``sin(y)*1.0001 + 0.1`` chain (N = 100, 300,
1000, 3000), the node counts before and after and the median rewriting time; and for one
SGD step of the digits MLP (64-256-256-10), rewriting plus scheduling, and all of
``sg.function``. Medians of repeated runs; no pass/fail.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

import symgrad as sg
from symgrad.compile.vm import PyVM
from symgrad.graph.fgraph import FunctionGraph
from symgrad.graph.traversal import graph_inputs
from symgrad.rewrite.passes import rewrite_graph


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def chain_gradient(n: int) -> sg.Variable:
    x = sg.vector("x")
    y = x
    for _ in range(n):
        y = sg.sin(y) * 1.0001 + 0.1
    return sg.grad(y.sum(), x)


def mlp_step() -> tuple[list, list, list]:
    rng = np.random.default_rng(0)
    X, y = sg.matrix("X"), sg.lvector("y")
    sizes = [64, 256, 256, 10]
    weights = [sg.shared(rng.normal(size=(a, b)) * 0.1) for a, b in zip(sizes, sizes[1:])]
    biases = [sg.shared(np.zeros(b)) for b in sizes[1:]]
    h = X
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = h @ w + b
        h = sg.tanh(h) if i < 2 else h
    loss = sg.nn.categorical_crossentropy(sg.nn.softmax(h), y).mean()
    params = weights + biases
    updates = [(p, p - 0.1 * g) for p, g in zip(params, sg.grad(loss, params))]
    return [X, y], [loss], updates


def main() -> None:
    print("gradient of an N-step chain: nodes before -> after, rewrite time (median of 3)")
    for n in (100, 300, 1000, 3000):
        g = chain_gradient(n)
        roots = graph_inputs([g])
        before = len(FunctionGraph(roots, [g]).apply_nodes)
        after = FunctionGraph(roots, [g])
        rewrite_graph(after)
        seconds = median_seconds(lambda roots=roots, g=g: rewrite_graph(FunctionGraph(roots, [g])), 3)
        print(f"  N={n:5d}: {before:6d} -> {len(after.apply_nodes):5d} nodes, {seconds * 1e3:8.1f} ms")
    inputs, outputs, updates = mlp_step()
    computed = outputs + [u for _, u in updates]
    roots = graph_inputs(computed)
    shared = [r for r in roots if isinstance(r, sg.SharedVariable)]

    def rewrite_and_schedule() -> None:
        fg = FunctionGraph(roots, computed)
        rewrite_graph(fg)
        PyVM(inputs + shared, fg.outputs)

    step = median_seconds(rewrite_and_schedule, 7)
    total = median_seconds(lambda: sg.function(inputs, outputs, updates=updates), 7)
    print(
        f"digits MLP SGD step: rewrite + schedule {step * 1e3:.1f} ms, sg.function {total * 1e3:.1f} ms (median of 7)"
    )


if __name__ == "__main__":
    main()
