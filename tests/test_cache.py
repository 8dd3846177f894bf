"""The on-disk compile cache: hits and misses, damaged entries, many processes, the CLI."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import symgrad as sg
from symgrad.compile import cache, cbuild
from symgrad.config import Config

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not cbuild.compiler_available(), reason="no working C compiler")

CDEF = "void scale(void *x, void *out, int64_t n);"


def scale_source(factor: int) -> str:
    return (
        "#include <stdint.h>\n"
        "void scale(const double *restrict x, double *restrict out, int64_t n) {\n"
        f"    for (int64_t i = 0; i < n; i++) out[i] = x[i] * {factor};\n"
        "}\n"
    )


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh cache root for this test, inherited by its child processes."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(root))  # for child processes
    with sg.config.override(cache_dir=str(root)):
        yield root


def _run_scale(loaded) -> list[float]:
    x, out = np.arange(4.0), np.empty(4)
    loaded.lib.scale(loaded.ffi.from_buffer(x), loaded.ffi.from_buffer(out), 4)
    return out.tolist()


def _worker(factor: int, barrier, results) -> None:
    """Child process: build scale(factor) (all at once when given a barrier) and call it."""
    cbuild.compiler_info()  # probe first, so that the children race on the build itself
    if barrier is not None:
        barrier.wait(timeout=60)
    loaded = cbuild.build_library(scale_source(factor), CDEF, name_hint=f"scale{factor}")
    results.put((factor, loaded.compile_seconds, _run_scale(loaded), loaded.key))


def _in_children(factors: list[int], *, together: bool = False) -> list[tuple]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    barrier = context.Barrier(len(factors)) if together else None
    children = [context.Process(target=_worker, args=(f, barrier, results)) for f in factors]
    for child in children:
        child.start()
    found = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    return found


def _log_keys(root: Path) -> list[str]:
    return [json.loads(line)["key"] for line in (root / "build.log").read_text().splitlines()]


def _entry_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("??/*/*") if p.is_file())


def test_miss_then_hit_across_processes(cache_dir):
    [(_, first_seconds, first_out, key)] = _in_children([3])
    assert first_seconds > 0 and first_out == [0.0, 3.0, 6.0, 9.0]
    assert [p.name for p in _entry_files(cache_dir)] == ["lib.so", "meta.json", "source.c"]
    [(_, second_seconds, second_out, second_key)] = _in_children([3])
    assert second_seconds == 0.0 and second_out == first_out and second_key == key
    assert _log_keys(cache_dir) == [key] and len(_entry_files(cache_dir)) == 3


def test_meta_describes_the_entry(cache_dir):
    loaded = cbuild.build_library(scale_source(2), CDEF, name_hint="scale2")
    meta = json.loads(loaded.path.with_name("meta.json").read_text())
    assert meta["key"] == loaded.key and loaded.path.parent.name == loaded.key
    assert loaded.path.parent.parent.name == loaded.key[:2]
    assert meta["lib_size"] == loaded.path.stat().st_size
    assert meta["lib_sha256"] == cache.sha256_file(loaded.path)
    assert meta["source_size"] == len(scale_source(2))
    assert meta["compiler"] == cbuild.compiler_info().path and meta["name_hint"] == "scale2"
    assert time.time() - meta["created"] < 600 and meta["flags"] == list(cbuild.compiler_info().flags)


def test_second_build_in_process_touches_no_file(cache_dir):
    first = cbuild.build_library(scale_source(5), CDEF)
    assert first.compile_seconds > 0
    for path in _entry_files(cache_dir):
        path.unlink()  # the in-process table answers without looking at the disk
    second = cbuild.build_library(scale_source(5), CDEF)
    assert second.lib is first.lib and second.compile_seconds == 0.0
    assert _run_scale(second) == [0.0, 5.0, 10.0, 15.0]
    assert _entry_files(cache_dir) == []


def _truncate_lib(entry: cache.Entry) -> None:
    data = entry.lib_path.read_bytes()
    entry.lib_path.write_bytes(data[: len(data) // 2])


def _edit_meta(entry: cache.Entry) -> None:
    meta = json.loads(entry.meta_path.read_text())
    entry.meta_path.write_text(json.dumps({**meta, "lib_sha256": "0" * 64}))


def _garbage_lib_with_matching_meta(entry: cache.Entry) -> None:
    """Passes the size and sha checks; only dlopen finds out."""
    entry.lib_path.write_bytes(b"not an ELF file" * 100)
    meta = json.loads(entry.meta_path.read_text())
    meta.update(lib_size=1500, lib_sha256=cache.sha256_file(entry.lib_path))
    entry.meta_path.write_text(json.dumps(meta))


DAMAGE = {
    11: _truncate_lib,
    12: _edit_meta,
    13: _garbage_lib_with_matching_meta,
    14: lambda entry: entry.meta_path.unlink(),
    15: lambda entry: entry.source_path.unlink(),
    16: lambda entry: entry.meta_path.write_text("{not json"),
}


def test_damaged_entries_are_rebuilt(cache_dir):
    built = {factor: key for factor, _, _, key in _in_children(list(DAMAGE))}
    for factor, damage in DAMAGE.items():
        damage(cache.Entry(cache_dir, built[factor]))
    for factor in DAMAGE:  # this process never loaded these files: it sees only the damage
        loaded = cbuild.build_library(scale_source(factor), CDEF)
        assert loaded.compile_seconds > 0, f"damage {DAMAGE[factor]} was not detected"
        assert _run_scale(loaded) == [0.0, factor, 2.0 * factor, 3.0 * factor]
        assert cache.read_meta(cache.Entry(cache_dir, loaded.key)) is not None
    assert sorted(_log_keys(cache_dir)) == sorted(2 * list(built.values()))
    assert list((cache_dir / "tmp").iterdir()) == []


def test_concurrent_processes_build_each_entry_once(cache_dir):
    factors = [7, 7, 7, 21, 22, 23]  # half the same graph, half different ones
    found = _in_children(factors, together=True)
    for factor, _, out, _ in found:
        assert out == [0.0, factor, 2.0 * factor, 3.0 * factor]
    shared = [seconds for factor, seconds, _, _ in found if factor == 7]
    assert sum(seconds > 0 for seconds in shared) == 1, shared
    keys = {factor: key for factor, _, _, key in found}
    assert sorted(_log_keys(cache_dir)) == sorted(keys.values())  # one build per distinct key
    assert cache.cache_info(cache_dir).entries == 4
    assert list((cache_dir / "tmp").iterdir()) == []  # no partial entries left
    for key in keys.values():
        assert cache.read_meta(cache.Entry(cache_dir, key)) is not None


def test_clear_waits_for_a_build_in_progress(cache_dir):
    loaded = cbuild.build_library(scale_source(9), CDEF)
    leftover = cache_dir / "tmp" / f"{loaded.key}.crashed"
    leftover.mkdir()
    done = threading.Event()
    with cache.entry_lock(cache_dir, loaded.key):
        clearing = threading.Thread(target=lambda: (cache.clear_cache(cache_dir), done.set()))
        clearing.start()
        assert not done.wait(0.3), "clear did not wait for the entry's lock"
        assert loaded.path.exists()
    clearing.join(timeout=30)
    assert done.is_set()
    assert not loaded.path.parent.exists() and not leftover.exists()
    assert list((cache_dir / "locks").iterdir()) == []


def _cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "symgrad.cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cli_info_and_clear(cache_dir):
    cbuild.build_library(scale_source(4), CDEF)
    with pytest.raises(cbuild.CCompileError):
        cbuild.build_library("int broken(void) { return }", "int broken(void);")
    info = _cli("info")
    assert f"location: {cache_dir}" in info
    assert "entries: 1" in info and "failed builds kept: 1" in info
    assert "total size:" in info and "compiler:" in info
    assert "removed 1 entries" in _cli("clear")
    info = _cli("info")
    assert "entries: 0" in info and "failed builds kept: 0" in info
    assert _entry_files(cache_dir) == []


def test_default_location_follows_xdg(tmp_path):
    xdg = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    if sys.platform.startswith("linux"):
        assert Config(xdg).cache_dir == str(tmp_path / "xdg" / "symgrad")
    relative = Config({"XDG_CACHE_HOME": "relative/path"}).cache_dir  # invalid by the XDG spec: ignored
    assert os.path.isabs(relative) and os.path.basename(relative) == "symgrad"
    assert Config({"SYMGRAD_CACHE_DIR": str(tmp_path / "mine"), **xdg}).cache_dir == str(tmp_path / "mine")
    with sg.config.override(cache_dir=str(tmp_path / "other")):
        assert cache.cache_root() == tmp_path / "other"
