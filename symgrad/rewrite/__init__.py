"""Stage 3: graph rewrites for speed and numerical stability (see docs/rewrites.md)."""
