"""Imports point only to earlier stages, and never hide inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symgrad"
# The order data flows in (docs/architecture.md); a module may import its own stage or earlier.
STAGES = [
    "config",
    "graph",
    "ops",
    "tensor",
    "nn",
    "gradient",
    "rewrite",
    "codegen",
    "compile",
    "printing",
    "examples",
]


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "symgrad" or len(parts) < 2:
        return None
    return STAGES.index(parts[1]) if parts[1] in STAGES else None


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        yield name, ast.parse(path.read_text(), filename=str(path))


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module] if node.level == 0 else []
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def test_imports_point_to_earlier_stages():
    bad = []
    for name, tree in _modules():
        own = _stage(name)
        if own is None:  # symgrad/__init__.py exports everything
            continue
        for node in ast.walk(tree):
            for target in _imported(node):
                stage = _stage(target)
                if stage is not None and stage > own:
                    bad.append(f"{name} imports {target}")
    assert not bad, "imports of later stages:\n" + "\n".join(bad)


def test_no_symgrad_imports_inside_functions():
    bad = []
    for name, tree in _modules():
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if any(t.startswith("symgrad") for t in _imported(node)):
                    bad.append(f"{name}.{func.name}")
    assert not bad, "imports inside functions:\n" + "\n".join(bad)
