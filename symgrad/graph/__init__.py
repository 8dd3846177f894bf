"""Stage 1: the symbolic graph (types, variables, apply nodes, ops, traversal)."""
