"""Benchmark suite: symgrad against NumPy, PyTensor and JAX, side by side in one run.

Run ``python -m benchmarks --help``. docs/performance.md explains every figure.
"""
