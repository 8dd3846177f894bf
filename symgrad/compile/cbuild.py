"""Compile C source into a shared library and load it with cffi's ABI mode, through the cache.

The C backend generates plain C over raw pointers (no ``Python.h``), so no extension module is
needed: the system compiler builds ``lib.so`` (``cc -O3 -march=native -shared -fPIC ...``) and
``ffi.dlopen`` loads it after ``ffi.cdef(cdef)``. The compiler is probed once per process.
Flag choices and measurements: docs/c_backend.md, "Compile cache".
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cffi

import symgrad
from symgrad.compile import cache
from symgrad.config import config
from symgrad.graph.errors import SymgradError

# Speed without changing results: no -ffast-math (NaN/inf and reassociation stay IEEE), and no
# FMA contraction (-march=native offers FMA, which would round a*b+c differently from NumPy).
BASE_FLAGS = (
    "-O3",
    "-std=gnu11",
    "-fPIC",
    "-shared",
    "-fno-math-errno",
    "-ffp-contract=off",
    "-Werror=implicit-function-declaration",
    "-fdiagnostics-color=never",
)
NATIVE_FLAG = "-march=native"  # kept when the compiler accepts it; then the CPU joins the key
LINK_FLAGS = ("-lm",)
STRICT_LINK_FLAG = "-Wl,-z,defs"  # undefined symbols fail at link time instead of at dlopen
COMPILER_CANDIDATES = ("cc", "gcc", "clang")
CACHE_FORMAT = 1
UNIT_MARK = "/* ==== translation unit {} (compiled separately) ==== */"
ERROR_LINES = 20

PROBE_SOURCE = "#include <math.h>\nint symgrad_probe(double x) { return (int)sqrt(x); }\n"
PROBE_CDEF = "int symgrad_probe(double x);"
OPENMP_SOURCE = "#include <omp.h>\nint symgrad_probe(void) { return omp_get_max_threads(); }\n"
CPU_FIELDS = (
    "vendor_id",
    "cpu family",
    "model",
    "model name",
    "flags",
    "Features",
    "CPU implementer",
    "CPU part",
)
DIAGNOSTIC = re.compile(r"^\S[^:]*:\d+(?::\d+)?: (fatal error|error|warning|note): ")
CONTEXT = re.compile(r"^\S[^:]*: (In function|At top level)|^In file included from |^\s+from ")


class CCompileError(SymgradError, RuntimeError):
    """The C compiler is missing or rejected generated source (message: its trimmed errors)."""

    def __init__(self, message: str, *, source_path: Path | None = None, compiler_output: str = "") -> None:
        super().__init__(message)
        self.source_path = source_path
        self.compiler_output = compiler_output


@dataclass(frozen=True)
class CompilerInfo:
    """The probed compiler: what builds every library, and what goes into the cache key."""

    command: tuple[str, ...]  # argv prefix, e.g. ("/usr/bin/gcc",) or ("/usr/bin/ccache", "gcc")
    path: str  # the resolved executable
    version: str  # first line of `--version`
    flags: tuple[str, ...]
    link_flags: tuple[str, ...]
    openmp: bool  # `-fopenmp` works (not used yet: threads come later)
    cpu: str  # model name + hash of the CPU's feature flags
    libmvec: bool = False  # glibc's vector math library links (`-lmvec`)


@dataclass(frozen=True)
class LoadedLibrary:
    """A compiled library: call ``lib.f(...)`` with pointers from ``ffi.from_buffer(arr)``."""

    lib: Any
    ffi: cffi.FFI
    key: str
    path: Path  # lib.so inside its cache entry; source.c and meta.json lie beside it
    compile_seconds: float  # 0.0 when it came from the cache

    @property
    def source_path(self) -> Path:
        return self.path.with_name(cache.SOURCE_NAME)


# ---------------------------------------------------------------------------------------------
# Finding and probing the compiler


def compiler_setting() -> str | None:
    """The configured compiler (``SYMGRAD_CC`` or ``CC``; None for the system's ``cc``)."""
    return config.cc


def _find_compiler(setting: str | None) -> list[str] | None:
    if setting:
        argv = shlex.split(setting)
        exe = shutil.which(argv[0]) if argv else None
        return [exe, *argv[1:]] if exe else None
    for name in COMPILER_CANDIDATES:
        exe = shutil.which(name)
        if exe:
            return [exe]
    return None


def _invoke(argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the compiler with English messages; a missing executable is a failed run."""
    env = {**os.environ, "LC_ALL": "C"}
    try:
        return subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


def _compile_command(command: Sequence[str], flags: Sequence[str], link_flags: Sequence[str]) -> list[str]:
    return [*command, *flags, "-o", cache.LIB_NAME, cache.SOURCE_NAME, *link_flags]


def _try_compile(command, flags, link_flags, source: str, workdir: Path) -> subprocess.CompletedProcess:
    (workdir / cache.SOURCE_NAME).write_text(source)
    return _invoke(_compile_command(command, flags, link_flags), workdir)


def _version(command: Sequence[str], workdir: Path) -> str:
    result = _invoke([*command, "--version"], workdir)
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def cpu_id() -> str:
    """The CPU's model and a hash of its features (``-march=native`` code runs only there)."""
    try:
        first_cpu = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return f"{platform.machine()} {platform.processor()}".strip()
    fields = dict(line.split(":", 1) for line in first_cpu.splitlines() if ":" in line)
    fields = {name.strip(): value.strip() for name, value in fields.items() if name.strip() in CPU_FIELDS}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    model = fields.get("model name") or fields.get("CPU part") or platform.machine()
    return f"{model} (features {digest})"


def _loads_and_runs(lib_path: Path) -> bool:
    ffi = cffi.FFI()
    ffi.cdef(PROBE_CDEF)
    try:
        return ffi.dlopen(str(lib_path)).symgrad_probe(16.0) == 4
    except (OSError, AttributeError):
        return False


@functools.cache
def _probe(setting: str | None) -> CompilerInfo | str:
    """Compile tiny programs once per ``CC`` value: the info, or why there is no compiler."""
    command = _find_compiler(setting)
    if command is None:
        wanted = f"CC={setting!r}" if setting else " or ".join(COMPILER_CANDIDATES)
        return f"no C compiler found ({wanted} is not on PATH); install gcc or set CC"
    with tempfile.TemporaryDirectory(prefix="symgrad-probe-") as tmp:
        workdir = Path(tmp)
        result = _try_compile(command, BASE_FLAGS, LINK_FLAGS, PROBE_SOURCE, workdir)
        if result.returncode != 0 or not _loads_and_runs(workdir / cache.LIB_NAME):
            return f"{shlex.join(command)} cannot build a loadable shared library:\n{result.stderr.strip()}"

        def accepts(name: str, extra_flags=(), extra_link=(), source=PROBE_SOURCE) -> bool:
            folder = workdir / name  # one folder per probe: they run at once
            folder.mkdir()
            flags = (*BASE_FLAGS, *extra_flags)
            return _try_compile(command, flags, (*LINK_FLAGS, *extra_link), source, folder).returncode == 0

        # The questions are independent: asked at once, they take one compiler run's time
        # (about 40 ms) instead of four (0.14 s of a cold process's first function).
        with ThreadPoolExecutor(5) as pool:
            native = pool.submit(accepts, "native", [NATIVE_FLAG])
            strict = pool.submit(accepts, "strict", (), [STRICT_LINK_FLAG])
            openmp_ok = pool.submit(accepts, "openmp", ["-fopenmp"], source=OPENMP_SOURCE)
            libmvec_ok = pool.submit(accepts, "libmvec", (), ["-lmvec"])
            version_of = pool.submit(_version, command, workdir)
            flags = (*BASE_FLAGS, NATIVE_FLAG) if native.result() else BASE_FLAGS
            link_flags = (*LINK_FLAGS, STRICT_LINK_FLAG) if strict.result() else LINK_FLAGS
            openmp, libmvec, version = openmp_ok.result(), libmvec_ok.result(), version_of.result()
    path = os.path.realpath(command[0])
    return CompilerInfo(tuple(command), path, version, flags, link_flags, openmp, cpu_id(), libmvec)


def compiler_available() -> bool:
    """Whether a working C compiler was found (probed once per process)."""
    return isinstance(_probe(compiler_setting()), CompilerInfo)


def compiler_info() -> CompilerInfo:
    """The probed compiler; raises ``CCompileError`` saying why when there is none."""
    info = _probe(compiler_setting())
    if isinstance(info, str):
        raise CCompileError(info)
    return info


# ---------------------------------------------------------------------------------------------
# Cache keys and compiler errors


def _uses_native_cpu(flags: Sequence[str]) -> bool:
    return any(
        flag.split("=")[0] in ("-march", "-mcpu", "-mtune") and flag.endswith("=native") for flag in flags
    )


def cache_key(
    source: str, cdef: str, flags: Sequence[str], info: CompilerInfo, link_flags: Sequence[str] | None = None
) -> str:
    """sha256 of everything that decides the bytes of lib.so (and of the cdef that loads it)."""
    header = {
        "format": CACHE_FORMAT,
        "symgrad": symgrad.__version__,
        "compiler": [info.path, *info.command[1:]],
        "version": info.version,
        "flags": list(flags),
        "link_flags": list(info.link_flags if link_flags is None else link_flags),
        "cpu": info.cpu if _uses_native_cpu(flags) else "",
    }
    digest = hashlib.sha256()
    for part in (json.dumps(header, sort_keys=True), source, cdef):
        data = part.encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def relevant_compiler_lines(output: str) -> list[str]:
    """The error diagnostics (with their context, notes and source excerpts), warnings dropped.

    With ``#line N "csrc_templates/x.c"`` in the source, gcc already names template lines.
    Output without any ``file:line: error:`` (a linker failure) is kept whole.
    """
    kept, pending, keeping = [], [], False
    for line in output.splitlines():
        if not line.strip():
            continue
        if CONTEXT.match(line):
            pending.append(line)
            continue
        match = DIAGNOSTIC.match(line)
        if match:
            keeping = match.group(1) in ("error", "fatal error") or (keeping and match.group(1) == "note")
            kept += pending if keeping else []
            pending = []
        if keeping:
            kept.append(line)
    return kept or [line for line in output.splitlines() if line.strip()]


def _compile_error(
    result: subprocess.CompletedProcess, workdir: Path, kept_dir: Path, name_hint: str
) -> CCompileError:
    """Keep the failed source and full log in ``<root>/failed/<key>/``; show the first errors."""
    output = (result.stderr + result.stdout).strip()
    kept_dir.mkdir(parents=True, exist_ok=True)
    source_path = kept_dir / cache.SOURCE_NAME
    shutil.copyfile(workdir / cache.SOURCE_NAME, source_path)
    (kept_dir / "compiler.log").write_text(f"$ {shlex.join(result.args)}\n{output}\n")
    lines = relevant_compiler_lines(output)
    shown = lines[:ERROR_LINES]
    while len(shown) > 1 and CONTEXT.match(shown[-1]):  # no header without its error
        shown.pop()
    if len(lines) > len(shown):
        shown.append(f"... {len(lines) - len(shown)} more lines in {kept_dir / 'compiler.log'}")
    what = f"{name_hint!r}" if name_hint else "generated C source"
    message = "\n".join(
        [f"compiling {what} failed ({Path(result.args[0]).name} exited with {result.returncode}):", *shown]
        + [f"generated source: {source_path}"]
    )
    return CCompileError(message, source_path=source_path, compiler_output=output)


# ---------------------------------------------------------------------------------------------
# Building and loading


_LOADED: dict[tuple[Path, str], LoadedLibrary] = {}


def _build_in(
    workdir: Path,
    *,
    info: CompilerInfo,
    flags: tuple,
    link_flags: tuple,
    failed_dir: Path,
    name_hint: str,
    units: Sequence[str] = (),
) -> dict:
    """The cache's build step: compile workdir/source.c into workdir/lib.so; with ``units``
    (several translation units), compile each to an object file, all at once, then link."""
    if len(units) <= 1:
        run_compiler(_compile_command(info.command, flags, link_flags), workdir, failed_dir, name_hint)
    else:
        objects = _compile_units(
            units, workdir, info=info, flags=flags, failed_dir=failed_dir, name_hint=name_hint
        )
        argv = [*info.command, *flags, "-o", cache.LIB_NAME, *objects, *link_flags]
        run_compiler(argv, workdir, failed_dir, name_hint)
    return {
        "name_hint": name_hint,
        "compiler": info.path,
        "compiler_version": info.version,
        "flags": list(flags),
        "link_flags": list(link_flags),
        "cpu": info.cpu if _uses_native_cpu(flags) else "",
        "units": max(1, len(units)),
    }


def run_compiler(argv: Sequence[str], workdir: Path, failed_dir: Path, name_hint: str) -> None:
    """Run one compiler command in a cache build's ``workdir``; a failure raises
    ``CCompileError`` with the trimmed messages (the source and log kept in ``failed_dir``)."""
    result = _invoke(argv, workdir)
    if result.returncode != 0:
        raise _compile_error(result, workdir, failed_dir, name_hint)


_background_lock = threading.Lock()
_background: dict[str, Future] = {}


def build_in_background(name: str, build: Callable[[], Any]) -> Future:
    """``build()`` run once per process in a thread, for libraries built once per machine
    (the C runner, the GEMM) that can compile beside a function's own library. The future's
    result is what ``build`` returned, or the ``CCompileError``/``OSError`` it raised."""
    with _background_lock:
        if name in _background:
            return _background[name]
        future = _background[name] = Future()

    def work() -> None:
        try:
            future.set_result(build())
        except (CCompileError, OSError) as exc:
            future.set_result(exc)
        except BaseException as exc:  # a bug: raised to whoever waits, never a hang
            future.set_exception(exc)

    threading.Thread(target=work, name=f"symgrad-build-{name}", daemon=True).start()
    return future


def _compile_units(
    units: Sequence[str], workdir: Path, *, info: CompilerInfo, flags: tuple, failed_dir: Path, name_hint: str
) -> list[str]:
    """Run one compiler process per unit, all at once; the first failure is raised like a
    one-unit build's (its source kept as source.c of the failed folder)."""
    env = {**os.environ, "LC_ALL": "C"}
    running = []
    for k, text in enumerate(units):
        (workdir / f"unit{k}.c").write_text(text)
        argv = [*info.command, *flags, "-c", "-o", f"unit{k}.o", f"unit{k}.c"]
        try:
            process = subprocess.Popen(
                argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        except OSError as exc:
            raise _compile_error(
                subprocess.CompletedProcess(argv, 127, "", str(exc)), workdir, failed_dir, name_hint
            ) from exc
        running.append((k, argv, process))
    failure = None
    for k, argv, process in running:
        out, err = process.communicate()
        if process.returncode != 0 and failure is None:
            failure = (k, subprocess.CompletedProcess(argv, process.returncode, out, err))
    if failure is not None:
        k, result = failure
        shutil.copyfile(workdir / f"unit{k}.c", workdir / cache.SOURCE_NAME)
        raise _compile_error(result, workdir, failed_dir, name_hint)
    return [f"unit{k}.o" for k in range(len(units))]


def _declared_ffi(cdef: str, name_hint: str) -> cffi.FFI:
    ffi = cffi.FFI()
    try:
        ffi.cdef(cdef)
    except cffi.CDefError as exc:
        raise CCompileError(f"cffi cannot parse the cdef of {name_hint or 'a C library'}: {exc}") from exc
    return ffi


def _check_exports(lib: Any, path: Path) -> None:
    """Resolve every name the cdef declares now, not at the first call."""
    for name in dir(lib):
        try:
            getattr(lib, name)
        except AttributeError as exc:
            raise CCompileError(f"the cdef declares {name!r}, which {path} does not export: {exc}") from exc


def build_library(
    source: str | Sequence[str],
    cdef: str,
    *,
    name_hint: str = "",
    extra_flags: Sequence[str] = (),
    extra_link_flags: Sequence[str] = (),
) -> LoadedLibrary:
    """Compile ``source`` (or reuse the cached build) and load it with ``cdef`` declared.

    ``source`` may be a list of translation units (``library_units``): they are compiled in
    parallel and linked into one library; the cache entry's source.c holds them all. A second call with the same arguments in one process returns the loaded library at once.
    Raises ``CCompileError`` when there is no compiler or the source does not compile.
    """
    info = compiler_info()
    flags = (*info.flags, *extra_flags)
    link_flags = (*extra_link_flags, *info.link_flags)  # libraries after the source, before -lm
    units = (source,) if isinstance(source, str) else tuple(source)
    source = (
        units[0]
        if len(units) == 1
        else "".join(f"{UNIT_MARK.format(k)}\n{text}\n" for k, text in enumerate(units))
    )
    key = cache_key(source, cdef, flags, info, link_flags)
    root = cache.cache_root()
    known = _LOADED.get((root, key))
    if known is not None:
        return known
    ffi = _declared_ffi(cdef, name_hint)
    failed_dir = cache.failed_dir(root, key)
    build = functools.partial(
        _build_in,
        info=info,
        flags=flags,
        link_flags=link_flags,
        failed_dir=failed_dir,
        name_hint=name_hint,
        units=units if len(units) > 1 else (),
    )
    try:
        lib, entry, seconds = cache.load_or_build(root, key, source, build, lambda p: ffi.dlopen(str(p)))
    except OSError as exc:
        raise CCompileError(
            f"building or loading {name_hint or 'a C library'} in {root} failed: {exc}"
        ) from exc
    _check_exports(lib, entry.lib_path)
    loaded = LoadedLibrary(lib, ffi, key, entry.lib_path, seconds)
    _LOADED[(root, key)] = dataclasses.replace(loaded, compile_seconds=0.0)
    return loaded
