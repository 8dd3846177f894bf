"""The on-disk compile cache: one directory per content key, written atomically.

Layout under the root (``SYMGRAD_CACHE_DIR``, else the user cache folder + ``symgrad``)::

    <root>/<key[:2]>/<key>/{lib.so, source.c, meta.json}   finished entries
    <root>/locks/<key>.lock                                one lock per entry (flock)
    <root>/tmp/<key>.<random>/                             entries being built (same filesystem)
    <root>/failed/<key>/{source.c, compiler.log}           the last failed build of a key
    <root>/build.log                                       one JSON line per build, for diagnosis

An entry is built in ``tmp/`` and renamed into place, so readers never see half an entry.
Only the builder of a key holds its lock: other keys compile in parallel, the same key once.
Readers check ``meta.json`` and the sha256 of ``lib.so`` and load without the lock; anything
missing, truncated or unloadable sends them to the locked path, which rebuilds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from symgrad.config import config

try:
    import fcntl
except ImportError:  # Windows: no flock; atomic renames still keep entries whole
    fcntl = None

T = TypeVar("T")
LIB_NAME, SOURCE_NAME, META_NAME = "lib.so", "source.c", "meta.json"
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def cache_root() -> Path:
    """Where entries live: ``config.cache_dir`` (``SYMGRAD_CACHE_DIR`` or the user cache dir)."""
    return Path(config.cache_dir)


@dataclass(frozen=True)
class Entry:
    """The files of one cache key."""

    root: Path
    key: str

    @property
    def directory(self) -> Path:
        return self.root / self.key[:2] / self.key

    @property
    def lib_path(self) -> Path:
        return self.directory / LIB_NAME

    @property
    def source_path(self) -> Path:
        return self.directory / SOURCE_NAME

    @property
    def meta_path(self) -> Path:
        return self.directory / META_NAME


def failed_dir(root: Path, key: str) -> Path:
    """Where the source and compiler log of a failed build are kept for debugging."""
    return root / "failed" / key


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Locks


def _lock_path(root: Path, key: str) -> Path:
    return root / "locks" / f"{key}.lock"


def _open_locked(path: Path) -> int:
    """Open and flock ``path``, retrying if ``clear`` unlinked it while we waited."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def entry_lock(root: Path, key: str, *, remove: bool = False) -> Iterator[None]:
    """Hold the lock of one key (blocking); ``remove`` deletes the lock file on release."""
    if fcntl is None:
        yield
        return
    path = _lock_path(root, key)
    fd = _open_locked(path)
    try:
        yield
    finally:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# Reading and building entries


def read_meta(entry: Entry) -> dict[str, Any] | None:
    """The entry's metadata if the entry is whole (all files, sizes and lib.so's sha256)."""
    try:
        meta = json.loads(entry.meta_path.read_text())
        whole = (
            meta.get("key") == entry.key
            and entry.source_path.is_file()
            and entry.lib_path.stat().st_size == meta.get("lib_size")
            and sha256_file(entry.lib_path) == meta.get("lib_sha256")
        )
    except (OSError, ValueError, AttributeError):
        return None
    return meta if whole else None


def _try_load(entry: Entry, load: Callable[[Path], T]) -> T | None:
    if read_meta(entry) is None:
        return None
    try:
        return load(entry.lib_path)
    except OSError:  # dlopen refused the file: rebuild it
        return None


def load_or_build(
    root: Path, key: str, source: str, build: Callable[[Path], dict], load: Callable[[Path], T]
) -> tuple[T, Entry, float]:
    """Load the entry of ``key``, building it first if it is missing or damaged.

    ``build(workdir)`` compiles ``workdir/source.c`` into ``workdir/lib.so`` and returns extra
    metadata; ``load(path)`` opens a library (``OSError`` = unusable). Returns the loaded
    object, the entry, and the seconds spent building (0.0 when it was already there).
    """
    entry = Entry(root, key)
    loaded = _try_load(entry, load)
    if loaded is not None:
        return loaded, entry, 0.0
    with entry_lock(root, key):
        loaded = _try_load(entry, load)  # another process may have built it while we waited
        if loaded is not None:
            return loaded, entry, 0.0
        seconds = _build_entry(entry, source, build)
        return load(entry.lib_path), entry, seconds


def _build_entry(entry: Entry, source: str, build: Callable[[Path], dict]) -> float:
    tmp_root = entry.root / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{entry.key}.", dir=tmp_root))
    try:
        (workdir / SOURCE_NAME).write_text(source)
        start = time.perf_counter()
        extra = build(workdir)
        seconds = time.perf_counter() - start
        _write_meta(workdir, entry.key, seconds, extra)
        _commit(workdir, entry)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _log_build(entry, seconds)
    return seconds


def _write_meta(workdir: Path, key: str, seconds: float, extra: dict) -> None:
    lib = workdir / LIB_NAME
    meta = {
        "key": key,
        "lib_size": lib.stat().st_size,
        "lib_sha256": sha256_file(lib),
        "source_size": (workdir / SOURCE_NAME).stat().st_size,
        "created": time.time(),
        "build_seconds": round(seconds, 4),
        "builder_pid": os.getpid(),
        **extra,
    }
    (workdir / META_NAME).write_text(json.dumps(meta, indent=1, sort_keys=True))


def _commit(workdir: Path, entry: Entry) -> None:
    """Rename the finished directory into place (moving a damaged old entry aside first)."""
    if entry.directory.exists():
        trash = Path(tempfile.mkdtemp(prefix=f"{entry.key}.old.", dir=workdir.parent))
        os.replace(entry.directory, trash / "entry")
        shutil.rmtree(trash, ignore_errors=True)
    for attempt in range(3):  # `clear` may remove the empty <key[:2]> folder meanwhile
        entry.directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(workdir, entry.directory)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def _log_build(entry: Entry, seconds: float) -> None:
    line = json.dumps(
        {"key": entry.key, "seconds": round(seconds, 4), "pid": os.getpid(), "time": time.time()}
    )
    with open(entry.root / "build.log", "a") as log:  # one short O_APPEND write: atomic
        log.write(line + "\n")


# ---------------------------------------------------------------------------------------------
# info / clear


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    entries: int
    failed: int
    total_bytes: int


def _entries(root: Path) -> list[Path]:
    return [p for p in root.glob("??/*") if KEY_PATTERN.match(p.name) and p.is_dir()]


def _folder_bytes(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            total += path.stat().st_size if path.is_file() else 0
    return total


def cache_info(root: Path | None = None) -> CacheInfo:
    """Location, number of entries and failed builds, total bytes on disk."""
    root = root or cache_root()
    failed = [p for p in (root / "failed").glob("*") if p.is_dir()]
    return CacheInfo(root, len(_entries(root)), len(failed), _folder_bytes(root) if root.exists() else 0)


def _known_keys(root: Path) -> set[str]:
    names = [p.name for p in _entries(root)]
    names += [p.name.split(".")[0] for p in (root / "tmp").glob("*")]
    names += [p.name.removesuffix(".lock") for p in (root / "locks").glob("*.lock")]
    return {name for name in names if KEY_PATTERN.match(name)}


def clear_cache(root: Path | None = None) -> int:
    """Remove every entry, waiting for each key's lock so no build is cut in half.

    Returns the number of entries removed.
    """
    root = root or cache_root()
    removed = 0
    for key in sorted(_known_keys(root)):
        with entry_lock(root, key, remove=True):
            entry = Entry(root, key)
            removed += entry.directory.is_dir()
            shutil.rmtree(entry.directory, ignore_errors=True)
            for leftover in (root / "tmp").glob(f"{key}.*"):
                shutil.rmtree(leftover, ignore_errors=True)
            with contextlib.suppress(OSError):
                entry.directory.parent.rmdir()  # only when empty
    shutil.rmtree(root / "failed", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(root / "build.log")
    return removed
