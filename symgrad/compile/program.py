"""One generated Python function per compiled graph: mode 'c''s call path where the C runner
(runner.py) cannot be built, or with ``SYMGRAD_RUNNER=py``. Also what both runners share:
``Schedule`` (the description of a schedule) and ``reusable_steps`` (which arrays a call may
take from the previous one).

Running a list of step objects over a list of storage cells costs a Python frame, a list
read and a list write per step, and a loop over the roots, on every call: about a microsecond
for ``x + 1``, more than the C kernel itself. Instead the ``CVM`` writes its program out as
straight-line Python source, compiled once with ``exec``: every cell is a local variable, the
roots are checked inline, each step is its own line (an elementwise step's fast path is
inlined: one ``np.empty`` and one cffi call), and cells are released with ``name = None``
after their last reader, as the schedule's ``frees`` say.

A step provides ``source(k, args, outs, inline, pool) -> (lines, names)``: the Python lines
that compute the output locals ``outs`` from the input locals ``args`` (``inline=False``: one
call; ``pool``: the name of a list holding the previous call's output arrays, to write into
again when the shapes match), and the objects those lines refer to (bound into the
function's globals under names ending in ``_k``). ``CVM.source`` shows the generated text;
``tests/test_mode_c.py`` runs every op family through it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PROGRAM_NAME = "compiled_graph"
# Programs of more steps call every step through ``step.call`` (one line each): the inlined
# form is ~10 lines a step, and compiling the 9,500 lines of a 1,000-step chain took 0.14 s.
INLINE_MAX_STEPS = 200


def cell_name(c: int) -> str:
    return f"v{c}"


def _outs(step: Any) -> tuple[int, ...]:
    return tuple(step.outs) if hasattr(step, "outs") else (step.out,)


def reusable_steps(steps: Sequence[Any], output_cells: Sequence[int]) -> set[int]:
    """The steps whose outputs may go into the previous call's arrays: every array they write
    is an intermediate that dies within the call. Not when one of those arrays can reach the
    caller (a graph output) or code that may keep it (a user op's ``perform``), directly, as
    a view (``views_input``: DimShuffle, Reshape), or through elementwise steps that write in
    place into it."""
    aliases: dict[int, set[int]] = {}  # cell -> the cells that may share its array

    def group(c: int) -> set[int]:
        return aliases.setdefault(c, {c})

    def merge(a: int, b: int) -> None:
        merged = group(a) | group(b)
        for c in merged:
            aliases[c] = merged

    for step in steps:
        k = getattr(step, "inplace", None)
        if k is not None:  # its output is its input k's array when the shapes fit
            merge(step.ins[k], step.out)
        if getattr(step, "views_input", False):  # its output may be a view of input 0
            for out in _outs(step):
                merge(step.ins[0], out)
    escaping = set(output_cells)
    for step in steps:
        if getattr(step, "keeps_inputs", True):
            escaping.update(step.ins)
    pooled = set()
    for k, step in enumerate(steps):
        if not getattr(step, "poolable", False) or getattr(step, "inplace", None) is not None:
            continue
        if not any(c in escaping for out in _outs(step) for c in group(out)):
            pooled.add(k)
    return pooled


@dataclass(frozen=True)
class Schedule:
    """What a runner needs of a compiled schedule (``CVM`` builds it; this module's
    ``generate`` and runner.py's ``make_program`` run it)."""

    steps: Sequence[Any]
    n_cells: int
    root_cells: Sequence[int]
    root_types: Sequence[tuple[np.dtype, int]]  # per root: its dtype object and rank
    constants: Sequence[tuple[int, np.ndarray]]
    output_cells: Sequence[int]
    check_root: Callable[[int, Any], np.ndarray]
    always_check: Sequence[bool] = ()  # roots whose every value goes through check_root

    def always(self) -> list[bool]:
        return list(self.always_check) + [False] * (len(self.root_cells) - len(self.always_check))


def generate(schedule: Schedule, reuse_buffers: bool = True) -> tuple[Callable[[Sequence[Any]], list], str]:
    """(the program, its source): ``program(root_values) -> [output values]``.

    A root value that is not an aligned ndarray of the root's dtype object and rank goes
    through ``check_root(cell, value)``; so does every value of a root marked in
    ``always_check`` (an input with static lengths, whose shape must be checked)."""
    steps, root_cells, constants = schedule.steps, schedule.root_cells, schedule.constants
    output_cells = schedule.output_cells
    names: dict[str, Any] = {"ndarray": np.ndarray, "check_root": schedule.check_root}
    lines = [f"def {PROGRAM_NAME}(roots):"]
    roots = [cell_name(c) for c in root_cells]
    if roots:
        lines.append(f"    {', '.join(roots)}{',' if len(roots) == 1 else ''} = roots")
    always = schedule.always()
    for k, (c, name, (dtype, ndim)) in enumerate(zip(root_cells, roots, schedule.root_types)):
        names[f"dtype_r{k}"] = dtype
        if always[k]:
            lines.append(f"    {name} = check_root({c}, {name})")
            continue
        lines.append(
            f"    if type({name}) is not ndarray or {name}.dtype is not dtype_r{k} or {name}.ndim != {ndim}"
            f" or not {name}.flags.aligned:\n        {name} = check_root({c}, {name})"
        )
    constant_cells = {c for c, _ in constants}
    for c, data in constants:
        names[cell_name(c)] = data  # read as globals: constants never change
    pooled = reusable_steps(steps, output_cells) if reuse_buffers else set()
    body = []
    for k, step in enumerate(steps):
        args = [cell_name(c) for c in step.ins]
        outs = [cell_name(c) for c in _outs(step)]
        body.append(f"# {step.node.op}")
        pool = None
        if k in pooled:
            pool = f"pool_{k}"
            names[pool] = [None] * len(outs)
        step_lines, step_names = step.source(k, args, outs, inline=len(steps) <= INLINE_MAX_STEPS, pool=pool)
        body += step_lines
        names.update(step_names)
        frees = [cell_name(c) for c in step.frees if c not in constant_cells]  # globals stay
        if frees:
            body.append("; ".join(f"{name} = None" for name in frees))
    body.append(f"return [{', '.join(cell_name(c) for c in output_cells)}]")
    if pooled:
        # One call at a time reuses the buffers; a concurrent (or re-entrant) call allocates.
        lock = threading.Lock()
        names.update(acquire=lock.acquire, release=lock.release)
        lines += ["    reuse = acquire(False)", "    try:"]
        lines += ["        " + line for line in body]
        lines += ["    finally:", "        if reuse:", "            release()"]
    else:
        lines += ["    " + line for line in body]
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<symgrad compiled graph {id(steps):x}>", "exec"), names)
    return names[PROGRAM_NAME], source
