"""Stage 2: reverse-mode differentiation that builds graphs (so gradients nest)."""
