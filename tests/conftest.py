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


# --- modes ----------------------------------------------------------------------------------------
# A module with ``pytestmark = pytest.mark.both_modes`` (the op, gradient and function tests)
# runs each of its tests twice, in mode 'c' (compiled) and in mode 'py' (the NumPy reference),
# through ``config.mode``. Other tests (graph building, rewriting, printing, pickling: their
# subject is not the backend) run in the mode SYMGRAD_MODE names, else 'py', so that the default
# run does not spend its time compiling thousands of graphs twice; `SYMGRAD_MODE=c python -m
# pytest` runs every one of them compiled as well. Tests that pass ``mode=`` keep it.
BOTH_MODES = ("c", "py")
OTHER_TESTS_MODE = os.environ.get("SYMGRAD_MODE") or "py"


def pytest_configure(config):
    config.addinivalue_line("markers", "both_modes: run the test in mode 'c' and in mode 'py'")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_modes") and "sg_mode" not in metafunc.fixturenames:
        metafunc.fixturenames.append("sg_mode")
        metafunc.parametrize("sg_mode", BOTH_MODES)


@pytest.fixture(autouse=True)
def _function_mode(request):
    callspec = getattr(request.node, "callspec", None)
    mode = callspec.params.get("sg_mode") if callspec is not None else None
    with sg.config.override(mode=mode or OTHER_TESTS_MODE):
        yield mode
