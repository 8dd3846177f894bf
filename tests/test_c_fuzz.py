"""Malformed calls against compiled functions, in a child process: a crash fails the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.compile.cbuild import compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="mode 'c' needs a C compiler")
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("seed, runner", [(0, "c"), (1, "py")])
def test_malformed_calls_never_crash_and_agree_with_py(seed, runner):
    """Seed 0 through the C runner, seed 1 through the generated Python program."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "SYMGRAD_RUNNER": runner,
    }
    child = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz_calls.py"), "--seed", str(seed), "--calls", "1500"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert child.returncode == 0, f"the child died ({child.returncode}):\n{child.stderr[-3000:]}"
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["calls"] == 1500
    assert 0 < report["raised"] < report["calls"]  # both kinds of call were made
    assert report["mismatches"] == []
