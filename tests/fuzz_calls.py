"""Throws malformed and edge-case calls at compiled functions (run as a child process by
tests/test_c_fuzz.py, so that a crash shows as a failed test instead of killing pytest).

Every call runs in mode 'c' and in mode 'py' (the reference): both must raise errors of the
same kind, or both must return the same values. Prints one JSON line: calls made, how many
raised, and the mismatches (which the test requires to be none).

    python tests/fuzz_calls.py --seed 0 --calls 3000
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np

import symgrad as sg

KINDS = (IndexError, TypeError, MemoryError, ValueError)  # IndexError first: ClassIndexError is both


def graphs() -> list[tuple[str, list, object, dict]]:
    """(name, inputs, outputs, options) covering every op family of mode 'c'."""
    x, y = sg.matrix("x"), sg.matrix("y")
    v = sg.vector("v")
    f32 = sg.matrix("f32", dtype="float32")
    i, n = sg.iscalar("i"), sg.lscalar("n")
    idx, labels = sg.lvector("idx"), sg.lvector("labels")
    return [
        ("elemwise", [x, v], [sg.exp(-(x**2)) * sg.sin(v) + sg.tanh(0.5 * x), x + v * 2], {}),
        ("mixed dtypes", [f32, v], [f32 * 2 + 1, sg.sqrt(f32) + v], {}),
        ("reductions", [x], [sg.sum(x, axis=0), sg.max(x, axis=1), sg.argmax(x, axis=1), sg.mean(x)], {}),
        ("fused reduce", [x, y], [sg.sum(sg.exp(x) * y, axis=1), sg.log(sg.sum(sg.exp(x), axis=1))], {}),
        ("matmul", [x, y, v], [x @ y, x @ v, 2.0 * (x @ y) + y], {}),
        (
            "nn",
            [x, labels],
            [
                sg.nn.softmax(x),
                sg.nn.log_softmax(x),
                sg.nn.categorical_crossentropy(sg.nn.softmax(x), labels),
            ],
            {},
        ),
        (
            "indexing",
            [x, v, i, n, idx],
            [x[i], v[1:n], v[idx], sg.inc_subtensor(v[idx], 1.0), x[:, ::-1][i]],
            {},
        ),
        (
            "shapes",
            [x, v, n],
            [sg.concatenate([x, x * 2], axis=1), sg.reshape(x, (n, -1)), x.T @ x, sg.arange(n) * 2],
            {},
        ),
        (
            "gradient",
            [x, y, labels],
            sg.grad(sg.mean(sg.nn.categorical_crossentropy(sg.nn.softmax(sg.tanh(x @ y)), labels)), [x, y]),
            {},
        ),
    ]


def random_value(gen: np.random.Generator, var, size: int):
    """A value for ``var``: usually well-formed, often malformed in one way."""
    dtype, ndim = var.dtype, var.ndim
    shape = tuple(size if gen.random() < 0.85 else int(gen.choice([0, 1, size + 1])) for _ in range(ndim))
    if dtype.startswith("int"):
        base = gen.integers(-4, size + 3, size=shape).astype(dtype)
    else:
        base = gen.standard_normal(shape).astype(dtype)
        if gen.random() < 0.1 and base.size:
            base.flat[gen.integers(base.size)] = gen.choice([np.nan, np.inf, -np.inf])
    roll = gen.random()
    if roll < 0.45:
        return base
    if roll < 0.55 and ndim:  # non-contiguous views
        big = np.repeat(np.repeat(base, 2, axis=-1), 1, axis=0) if ndim else base
        view = big[..., ::-2] if gen.random() < 0.5 else big[..., ::2]
        return view if ndim < 2 or gen.random() < 0.5 else np.asfortranarray(view)
    if roll < 0.6 and ndim == 2:
        return base.T
    if roll < 0.65:
        with np.errstate(all="ignore"):
            return base.astype(
                str(gen.choice(["float32", "float64", "int32", "int64", "bool", "uint8", "complex128"]))
            )
    if roll < 0.7:
        return np.zeros((2,) * gen.integers(0, 4), dtype=dtype)  # wrong rank
    if roll < 0.75:
        return base.tolist()
    if roll < 0.8:
        odd = [None, "text", object(), 3, 2.5, True, [[1, 2], [3]]]
        return odd[gen.integers(len(odd))]
    if roll < 0.82 and base.size:  # unaligned: one byte into a buffer
        raw = np.zeros(base.nbytes + 1, np.uint8)
        unaligned = np.frombuffer(raw.data, dtype=base.dtype, count=base.size, offset=1).reshape(base.shape)
        unaligned[...] = base
        return unaligned
    if roll < 0.85:
        ro = base.copy()
        ro.flags.writeable = False
        return ro
    if roll < 0.9 and ndim == 0:
        return np.asarray(int(gen.choice([-1, -(2**31), 2**40, 2**62, 10**5]))).astype(dtype)
    return base


def outcome(fn, args):
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = fn(*args)
        return "ok", [np.asarray(o) for o in (out if isinstance(out, list) else [out])]
    except KINDS as exc:
        return next(k.__name__ for k in KINDS if isinstance(exc, k)), str(exc)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        tol = 1e-4 if a.dtype == np.float32 else 1e-9
        return bool(np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True))
    return bool(np.array_equal(a, b))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls", type=int, default=2000)
    opts = parser.parse_args(argv)
    gen = np.random.default_rng(opts.seed)
    compiled = []
    for name, inputs, outputs, options in graphs():
        pair = [
            sg.function(inputs, outputs, mode=m, on_unused_input="ignore", **options) for m in ("c", "py")
        ]
        trusted = sg.function(inputs, outputs, mode="c", trust_input=True, on_unused_input="ignore")
        compiled.append((name, inputs, *pair, trusted))
    mismatches, raised, calls = [], 0, 0
    for _ in range(opts.calls):
        name, inputs, fc, fpy, ftrust = compiled[gen.integers(len(compiled))]
        size = int(gen.integers(0, 6))
        args = [random_value(gen, v, size) for v in inputs]
        got, want = outcome(fc, args), outcome(fpy, args)
        calls += 1
        if got[0] != "ok" or want[0] != "ok":
            raised += 1
            if got[0] != want[0]:
                mismatches.append(
                    f"{name}: c {got[0]} {str(got[1])[:200]!r} vs py {want[0]} {str(want[1])[:200]!r}"
                )
        elif not all(same(a, b) for a, b in zip(got[1], want[1])):
            mismatches.append(f"{name}: different values for shapes {[np.shape(a) for a in args]}")
        # trust_input skips validation: a mismatched value may raise, but never crash or lie.
        trusted = outcome(ftrust, args)
        if (
            trusted[0] == "ok"
            and want[0] == "ok"
            and not all(same(a, b) for a, b in zip(trusted[1], want[1]))
        ):
            mismatches.append(f"{name}: trust_input gave different values for {[np.shape(a) for a in args]}")
    json.dump({"calls": calls, "raised": raised, "mismatches": mismatches[:30]}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
