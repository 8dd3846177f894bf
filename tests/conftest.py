"""Test-wide settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import symgrad as sg

# Tests compile into the checkout's build/ folder (git-ignored), never into the user's cache;
# it persists between local runs so they stay fast, and child processes inherit it.
TEST_CACHE = Path(__file__).resolve().parent.parent / "build" / "test-compile-cache"


@pytest.fixture(autouse=True, scope="session")
def private_compile_cache():
    os.environ["SYMGRAD_CACHE_DIR"] = str(TEST_CACHE)
    with sg.config.override(cache_dir=str(TEST_CACHE)):
        yield TEST_CACHE
