"""C source templates: named sections of the files in ``csrc_templates/``, filled in by name.

A section is the text between ``/* section: NAME */`` and ``/* endsection */``. Placeholders
are ``@KEY@``. Rendering emits ``#line`` directives so that a compiler error in template text
names the template file and line (``csrc_templates/elemwise.c:57``), and an error in a
generated block names the placeholder it came from.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import symgrad

TEMPLATE_PACKAGE = "symgrad.csrc_templates"
REPO_TEMPLATES = Path(symgrad.__file__).resolve().parent.parent / "csrc_templates"
SECTION_RE = re.compile(r"/\* section: (\w+) \*/\n(.*?)/\* endsection \*/", re.S)
PLACEHOLDER_RE = re.compile(r"@([A-Z][A-Z0-9_]*)@")


@dataclass(frozen=True)
class Section:
    """Template text, and where it starts: ``first_line`` is the 1-based line of its first line."""

    filename: str
    name: str
    text: str
    first_line: int

    @property
    def display_name(self) -> str:
        return f"csrc_templates/{self.filename}"


@functools.cache
def template_text(filename: str) -> str:
    """The text of ``csrc_templates/<filename>``: installed package data, else the checkout."""
    try:
        return importlib.resources.files(TEMPLATE_PACKAGE).joinpath(filename).read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return (REPO_TEMPLATES / filename).read_text()


@functools.cache
def sections(filename: str) -> dict[str, Section]:
    text = template_text(filename)
    found = {}
    for match in SECTION_RE.finditer(text):
        first_line = text.count("\n", 0, match.start(2)) + 1
        found[match.group(1)] = Section(filename, match.group(1), match.group(2), first_line)
    return found


def section(filename: str, name: str) -> Section:
    try:
        return sections(filename)[name]
    except KeyError:
        raise KeyError(f"csrc_templates/{filename} has no section {name!r}") from None


def _line_directive(line: int, name: str) -> str:
    return f'#line {line} "{name}"'


def render(sec: Section, substitutions: Mapping[str, str] | None = None) -> str:
    """The section with placeholders filled in, and ``#line`` directives.

    A placeholder alone on its line takes any number of lines; one inside a line takes a
    single line (so the template's numbering stays true). Results are memoized: a function's
    kernels render the same helper sections again and again.
    """
    return _render(sec, tuple(sorted((substitutions or {}).items())))


@functools.lru_cache(maxsize=4096)
def _render(sec: Section, items: tuple[tuple[str, str], ...]) -> str:
    subs = dict(items)
    used = set()
    out = [_line_directive(sec.first_line, sec.display_name)]
    for kind, text, lineno in _pieces(sec):
        if kind == "text":
            out.append(text)
        elif kind == "block":
            block = _lookup(subs, text, sec, lineno)
            used.add(text)
            out.append(_line_directive(1, f"@{text}@ (generated, {sec.display_name}:{lineno})"))
            out.extend(block.splitlines())
            out.append(_line_directive(lineno + 1, sec.display_name))
        else:
            out.append(PLACEHOLDER_RE.sub(lambda m, n=lineno: _inline(subs, m.group(1), sec, n, used), text))
    unused = set(subs) - used
    if unused:
        raise ValueError(f"{sec.display_name} section {sec.name!r} has no placeholder {sorted(unused)}")
    return "\n".join(out) + "\n"


@functools.cache
def _pieces(sec: Section) -> tuple[tuple[str, str, int], ...]:
    """The section as ("text", lines without placeholders, first line), ("block", key, line)
    and ("inline", line, line) pieces: the scan ``render`` would otherwise repeat per call."""
    pieces: list[tuple[str, str, int]] = []
    static: list[str] = []
    for offset, line in enumerate(sec.text.splitlines()):
        lineno = sec.first_line + offset
        alone = PLACEHOLDER_RE.fullmatch(line.strip())
        if alone is None and PLACEHOLDER_RE.search(line) is None:
            static.append(line)
            continue
        if static:
            pieces.append(("text", "\n".join(static), lineno - len(static)))
            static = []
        pieces.append(("block", alone.group(1), lineno) if alone else ("inline", line, lineno))
    if static:
        pieces.append(("text", "\n".join(static), 0))
    return tuple(pieces)


def _lookup(subs: Mapping[str, str], key: str, sec: Section, lineno: int) -> str:
    if key not in subs:
        raise ValueError(f"{sec.display_name}:{lineno}: no value given for @{key}@")
    return subs[key]


def _inline(subs: Mapping[str, str], key: str, sec: Section, lineno: int, used: set) -> str:
    value = _lookup(subs, key, sec, lineno)
    if "\n" in value:
        raise ValueError(f"{sec.display_name}:{lineno}: @{key}@ is inside a line and takes one line")
    used.add(key)
    return value
