"""Train a small MLP on scikit-learn's bundled digits (8x8 images, no download needed).

Run ``python -m symgrad.examples.digits``. The whole training step (forward pass, loss,
gradients and momentum-SGD updates of the shared weights) is one compiled ``sg.function``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

import symgrad as sg

try:  # the 'examples' extra; main() explains how to install it when it is missing
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits  # installed with scikit-learn
    from tqdm import tqdm
except ImportError as exc:
    _MISSING_EXTRA: str | None = exc.name
else:
    _MISSING_EXTRA = None

LAYER_SIZES = (64, 256, 256, 10)


def require_extras() -> None:
    """Stop with an install hint, not a traceback, when scikit-learn or tqdm is missing."""
    if _MISSING_EXTRA is not None:
        raise SystemExit(
            f"the digits example needs scikit-learn and tqdm ({_MISSING_EXTRA!r} is not installed); "
            "install them with: pip install 'symgrad[examples]' (or pip install -e '.[examples]' "
            "in a checkout)"
        )


def load_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels scaled to [0, 1], integer labels, a stratified 75/25 train/test split."""
    digits = load_digits()
    images = (digits.data / 16.0).astype(sg.config.floatX)
    labels = digits.target.astype(np.int64)
    return train_test_split(images, labels, test_size=0.25, random_state=seed, stratify=labels)


def init_params(rng: np.random.Generator, sizes: Sequence[int]) -> list:
    """Glorot-normal weights and zero biases, as shared variables."""
    params = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        scale = np.sqrt(2.0 / (fan_in + fan_out))
        params.append(sg.shared(rng.normal(0.0, scale, (fan_in, fan_out)).astype(sg.config.floatX), f"W{k}"))
        params.append(sg.shared(np.zeros(fan_out, dtype=sg.config.floatX), f"b{k}"))
    return params


def forward(x, params: list):
    """Class probabilities of a tanh MLP; ``params`` alternates weights and biases."""
    h = x
    for k in range(0, len(params) - 2, 2):
        h = sg.tanh(h @ params[k] + params[k + 1])
    return sg.nn.softmax(h @ params[-2] + params[-1])


def momentum_updates(cost, params: list, lr: float, momentum: float) -> list:
    """SGD with momentum: ``v <- m v - lr g`` and ``p <- p + v``, one velocity per parameter."""
    updates = []
    for param, grad in zip(params, sg.grad(cost, params)):
        velocity = sg.shared(np.zeros_like(param.get_value(borrow=True)), f"v_{param.name}")
        step = momentum * velocity - lr * grad
        updates += [(velocity, step), (param, param + step)]
    return updates


def compile_model(params: list, lr: float, momentum: float):
    """``train(x, y) -> loss`` (updates the weights) and ``predict(x) -> labels``."""
    x, y = sg.matrix("x"), sg.lvector("y")
    probs = forward(x, params)
    loss = sg.mean(sg.nn.categorical_crossentropy(probs, y))
    train = sg.function([x, y], loss, updates=momentum_updates(loss, params, lr, momentum), name="train")
    predict = sg.function([x], sg.argmax(probs, axis=1), name="predict")
    return train, predict


def run_epochs(train, images: np.ndarray, labels: np.ndarray, args: argparse.Namespace) -> float:
    """Shuffled minibatches for ``args.epochs`` epochs; returns the last epoch's mean loss."""
    rng = np.random.default_rng(args.seed)
    bar = tqdm(range(args.epochs), desc="training", unit="epoch", disable=args.quiet)
    loss = float("nan")
    for _ in bar:
        order = rng.permutation(len(images))
        batches = [order[s : s + args.batch_size] for s in range(0, len(order), args.batch_size)]
        loss = float(np.mean([train(images[b], labels[b]) for b in batches]))
        bar.set_postfix(loss=f"{loss:.4f}")
    return loss


def accuracy(predict, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predict(images) == labels))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per SGD step")
    parser.add_argument("--lr", type=float, default=0.05, help="learning rate")
    parser.add_argument("--momentum", type=float, default=0.9, help="momentum coefficient")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, weights and shuffling")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train, print train and test accuracy, and return them."""
    args = parse_args(argv)
    require_extras()
    x_train, x_test, y_train, y_test = load_split(args.seed)
    params = init_params(np.random.default_rng(args.seed), LAYER_SIZES)
    train, predict = compile_model(params, args.lr, args.momentum)
    # These matrices are small: a second BLAS thread costs more than it gives (4x slower on a
    # busy 2-core machine), so the example runs single-threaded BLAS.
    with threadpool_limits(limits=1, user_api="blas"):
        loss = run_epochs(train, x_train, y_train, args)
    result = {
        "loss": loss,
        "train_accuracy": accuracy(predict, x_train, y_train),
        "test_accuracy": accuracy(predict, x_test, y_test),
    }
    print(f"final training loss: {loss:.4f}")
    print(f"train accuracy: {result['train_accuracy']:.4f} ({len(y_train)} images)")
    print(f"test accuracy: {result['test_accuracy']:.4f} ({len(y_test)} images)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
