"""The C runner: a compiled function's whole schedule run by one CPython entry point.

The generated Python program (``program.py``) costs about 1.2 us for ``x + 1``: a Python
frame, ``np.empty``, two ``ffi.from_buffer`` and a cffi call. ``csrc_templates/runner.c`` is
a small CPython extension that takes a plain description of the schedule (``describe``) and
runs it over a C array of cells: root checks, output allocation through NumPy's C API, the
kernels' entry points called by address, Python only for steps without C (views, user ops'
``perform``) and for error messages. ``x + 1`` then costs about 0.3 us.

The extension is built once per machine and Python/NumPy version into the compile cache
(with ``Python.h`` and NumPy's headers; about 0.2 s of gcc -O1), started in the background by
the first ``CVM`` so that it compiles beside the function's own library. When it cannot be
built (no Python headers, say), mode 'c' runs the Python program instead and says so once
(``RunnerFallbackWarning``); ``SYMGRAD_RUNNER=py`` chooses that program on purpose.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sysconfig
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import symgrad
from symgrad.codegen.templates import template_text
from symgrad.compile import cache
from symgrad.compile.cbuild import build_in_background, compiler_info, run_compiler
from symgrad.compile.program import Schedule

MODULE_NAME = "_symgrad_runner"
SOURCE_FILE = "runner.c"
STEP_ELEMWISE, STEP_KERNEL, STEP_CALL = 0, 1, 2  # the record kinds of runner.c
# runner.c's stack arrays hold this many operands of one kernel step (SMALL_WORDS / 4 - 1);
# a step with more is described as a Python call of its step.
MAX_OPERANDS = 127
# -O1: the runner is calls and bookkeeping; gcc takes 0.22 s instead of 0.30 at -O2.
FLAGS = ("-O1", "-std=gnu11", "-fPIC", "-shared", "-fno-strict-aliasing", "-fdiagnostics-color=never")


class RunnerFallbackWarning(UserWarning):
    """The C runner could not be built: compiled functions run through the Python program."""


def _include_dirs() -> tuple[str, str]:
    return sysconfig.get_paths()["include"], np.get_include()


def _key(source: str, command: Sequence[str], version: str) -> str:
    header = {
        "symgrad": symgrad.__version__,
        "compiler": list(command),
        "version": version,
        "flags": FLAGS,
        "python": sysconfig.get_config_var("EXT_SUFFIX") or "",
        "numpy": np.__version__,
        "includes": _include_dirs(),
    }
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    digest.update(source.encode())
    return "runner-" + digest.hexdigest()[:56]


def _load(path: Path) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(MODULE_NAME, str(path))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, str(path), loader=loader)
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as exc:  # the cache rebuilds an entry it cannot load
        raise OSError(f"cannot load the C runner {path}: {exc}") from exc
    kinds = (module.STEP_ELEMWISE, module.STEP_KERNEL, module.STEP_CALL)
    if kinds != (STEP_ELEMWISE, STEP_KERNEL, STEP_CALL):
        raise OSError(f"the C runner {path} numbers its step kinds {kinds}")
    return module


def _build() -> ModuleType:
    info = compiler_info()
    source = template_text(SOURCE_FILE)
    python_include, numpy_include = _include_dirs()
    flags = (*FLAGS, f"-I{python_include}", f"-I{numpy_include}")
    key = _key(source, info.command, info.version)
    root = cache.cache_root()

    def build(workdir: Path) -> dict:
        argv = [*info.command, *flags, "-o", cache.LIB_NAME, cache.SOURCE_NAME]
        run_compiler(argv, workdir, cache.failed_dir(root, key), "the C runner")
        return {"name_hint": "C runner", "compiler": info.path, "flags": list(flags)}

    module, _, _ = cache.load_or_build(root, key, source, build, _load)
    return module


BUILD_NAME = "C runner"  # its entry in cbuild.build_in_background
_warned: list[bool] = []


def start_building() -> None:
    """Begin building (or loading) the runner in a thread, if nobody has yet: the first
    function's library then compiles meanwhile."""
    build_in_background(BUILD_NAME, _build)


def runner_module() -> ModuleType | None:
    """The loaded extension, or None (with one ``RunnerFallbackWarning``) when it cannot be
    built; waits for a build in progress."""
    result = build_in_background(BUILD_NAME, _build).result()
    if isinstance(result, ModuleType):
        return result
    if not _warned:
        _warned.append(True)
        warnings.warn(
            "symgrad's C runner could not be built, so compiled functions run through a generated "
            f"Python program (about 1 us more per call; results are the same): {result}. "
            "Installing the Python development headers (e.g. `apt-get install python3-dev`) fixes it; "
            "SYMGRAD_RUNNER=py silences this.",
            RunnerFallbackWarning,
            stacklevel=4,
        )
    return None


def make_program(
    module: ModuleType, schedule: Schedule, pooled: set[int], unwrap: bool
) -> tuple[Callable[[Sequence[Any]], Any], str]:
    """(the C program, a listing of it). Each step describes itself: ``step.record(slot,
    frees)`` with ``slot`` its first pool slot (``pooled``: the steps that reuse arrays) or -1
    (``runner.c`` documents the records). ``unwrap``: the program returns its one output
    itself instead of a list."""
    steps, root_cells, output_cells = schedule.steps, schedule.root_cells, schedule.output_cells
    roots = tuple(
        (c, dtype, ndim, a) for c, (dtype, ndim), a in zip(root_cells, schedule.root_types, schedule.always())
    )
    constants = list(dict(schedule.constants).items())  # a constant read by several steps: once
    records, listing, slot = [], [], 0
    for k, step in enumerate(steps):
        first = slot if k in pooled else -1
        if k in pooled:
            slot += len(getattr(step, "outs", (None,)))
        records.append(step.record(first, tuple(step.frees)))
        listing.append(_listing_line(step, records[-1], first))
    program = module.Program(
        schedule.n_cells,
        roots,
        tuple((c, data) for c, data in constants),
        tuple(records),
        tuple(output_cells),
        schedule.check_root,
        unwrap,
    )
    head = [f"C runner program: {len(roots)} roots, {len(records)} steps, {slot} reused arrays"]
    head += [f"  v{c} = root {k} ({dtype}, rank {ndim})" for k, (c, dtype, ndim, _) in enumerate(roots)]
    head += [f"  v{c} = constant {data.dtype}{list(data.shape)}" for c, data in constants]
    tail = [f"  return [{', '.join(f'v{c}' for c in output_cells)}]"]
    return program, "\n".join(head + listing + tail) + "\n"


def _listing_line(step: Any, record: tuple, slot: int) -> str:
    kind = ("elementwise kernel", "op kernel", "Python call")[record[0]]
    outs = getattr(step, "outs", None) or (step.out,)
    ins = ", ".join(f"v{c}" for c in step.ins)
    reused = f" [reuses arrays from slot {slot}]" if slot >= 0 else ""
    frees = f"; free {', '.join(f'v{c}' for c in step.frees)}" if step.frees else ""
    return f"  {', '.join(f'v{c}' for c in outs)} = {step.node.op}({ins})  # {kind}{reused}{frees}"
