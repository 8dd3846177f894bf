"""``python -m symgrad.cache info|clear``: inspect or empty the compile cache.

The cache itself is ``symgrad/compile/cache.py``; this is only its command line.
"""

from __future__ import annotations

import argparse
import sys

from symgrad.compile import cbuild
from symgrad.compile.cache import cache_info, cache_root, clear_cache


def _size(total: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if total >= scale:
            return f"{total / scale:.1f} {unit} ({total} bytes)"
    return f"{total} bytes"


def _compiler_line() -> str:
    if not cbuild.compiler_available():
        return "none (set CC or install gcc)"
    info = cbuild.compiler_info()
    return f"{info.path}: {info.version}"


def info() -> None:
    """Print the location, entry count and size of the cache, and the compiler in use."""
    found = cache_info()
    print(f"location: {found.root}")
    print(f"entries: {found.entries}")
    print(f"failed builds kept: {found.failed}")
    print(f"total size: {_size(found.total_bytes)}")
    print(f"compiler: {_compiler_line()}")


def clear() -> None:
    """Remove every entry, waiting for builds in progress to finish."""
    root = cache_root()
    removed = clear_cache(root)
    print(f"removed {removed} entries from {root}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symgrad.cache", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["info", "clear"])
    args = parser.parse_args(argv)
    {"info": info, "clear": clear}[args.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
