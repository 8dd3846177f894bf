"""Stage 4: turning graphs into callables (modes, input checking, the NumPy VM)."""
