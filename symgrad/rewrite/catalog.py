"""The rewrite catalogue as Markdown (``python -m symgrad.rewrite.catalog``); docs/rewrites.md
embeds it, and a test keeps the two equal."""

from __future__ import annotations

from symgrad.rewrite.passes import PIPELINE, REWRITES
from symgrad.rewrite.registry import LocalRewrite

BEGIN, END = "<!-- catalog:begin -->", "<!-- catalog:end -->"


def _pattern(rw) -> str:
    if not isinstance(rw, LocalRewrite):
        return "(whole graph)"
    return "any node" if rw.pattern is None else f"`{rw.pattern!r}`"


def _proof(rw) -> str:
    if callable(rw.proof):
        return "SymPy (explicit)"
    if rw.proof == "auto":
        return "SymPy (from the pattern)"
    return "structural"


def catalog() -> str:
    lines = [BEGIN]
    for phase, _ in PIPELINE:
        rows = [rw for rw in REWRITES.values() if rw.phase == phase]
        lines += ["", f"### {phase}", "", "| rewrite | pattern | what it does | proof |", "|---|---|---|---|"]
        for rw in rows:
            doc = (rw.doc.splitlines() or [""])[0].replace("|", "\\|")
            lines.append(
                f"| `{rw.name}` | {_pattern(rw).replace('|', chr(92) + '|')} | {doc} | {_proof(rw)} |"
            )
    lines += ["", END]
    return "\n".join(lines)


def write_into(path: str) -> None:
    """Replace the catalogue section of a Markdown file (``--write docs/rewrites.md``)."""
    with open(path) as fh:
        text = fh.read()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as fh:
        fh.write(head + catalog() + tail)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        write_into(sys.argv[2])
    else:
        print(catalog())
