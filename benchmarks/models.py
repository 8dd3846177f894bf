"""The MLP of workloads 4 and 5: 64-256-256-10, tanh, softmax cross-entropy, full-batch SGD
on scikit-learn's digits; one loss written once for all systems, plus NumPy's gradient by hand."""

from __future__ import annotations

import numpy as np

try:
    from sklearn.datasets import load_digits
except ImportError:  # the 'examples' / 'bench' extra
    load_digits = None

SIZES = (64, 256, 256, 10)
LEARNING_RATE = 0.1
SEED = 0


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All 1797 images scaled to [0, 1], their one-hot targets, and the integer labels."""
    if load_digits is None:
        raise ImportError("the MLP workloads need scikit-learn: pip install -e '.[bench]'")
    data = load_digits()
    x = data.data.astype(np.float64) / 16.0
    labels = data.target.astype(np.int64)
    return x, np.eye(10)[labels], labels


def initial_params(seed: int = SEED) -> list[np.ndarray]:
    """Glorot-normal weights and zero biases from one seeded NumPy RNG, shared by all systems."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append(rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out)))
        params.append(np.zeros(fan_out))
    return params


def loss(ops, params, x, y):
    """Mean softmax cross-entropy of a tanh MLP; ``params`` alternates weights and biases."""
    h = x
    for k in range(0, len(params) - 2, 2):
        h = ops.tanh(h @ params[k] + params[k + 1])
    logits = h @ params[-2] + params[-1]
    shifted = logits - ops.stop_gradient(ops.max(logits, axis=1, keepdims=True))
    log_probs = shifted - ops.log(ops.sum(ops.exp(shifted), axis=1, keepdims=True))
    return -ops.mean(ops.sum(y * log_probs, axis=1))


def numpy_loss_and_grad(params, x, y):
    """The loss above and its gradient, backpropagated by hand (NumPy has no autodiff)."""
    hs = [x]
    for k in range(0, len(params) - 2, 2):
        hs.append(np.tanh(hs[-1] @ params[k] + params[k + 1]))
    logits = hs[-1] @ params[-2] + params[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    cost = -np.mean(np.sum(y * (shifted - np.log(total)), axis=1))
    delta = (e / total - y) / len(x)
    grads = []
    for k in range(len(params) - 2, -1, -2):
        grads += [delta.sum(axis=0), hs[k // 2].T @ delta]
        if k:
            delta = (delta @ params[k].T) * (1.0 - hs[k // 2] ** 2)
    return cost, grads[::-1]


def accuracy(params: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    h = x
    for k in range(0, len(params) - 2, 2):
        h = np.tanh(h @ params[k] + params[k + 1])
    return float(np.mean(np.argmax(h @ params[-2] + params[-1], axis=1) == labels))
