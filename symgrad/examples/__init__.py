"""Runnable examples: ``python -m symgrad.examples.digits``.

They need the ``examples`` extra (``pip install 'symgrad[examples]'``).
"""
