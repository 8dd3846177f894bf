"""A real, non-editable install into a fresh virtual environment ships every module of
symgrad and the C/CUDA templates; README.md and .ci/run give the same test command."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_COMMAND = "python -m pip install -e '.[test,examples]' && python -m pytest -q"
TEMPLATE_SUFFIXES = {".c", ".h", ".cu", ".md"}
NOT_SHIPPED = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".venv", "benchmarks"
)

# Run by the installed interpreter, outside the checkout: what landed where.
PROBE = """
import importlib, json, pathlib, pkgutil, symgrad
root = pathlib.Path(symgrad.__file__).parent
modules = [m.name for m in pkgutil.walk_packages(symgrad.__path__, "symgrad.")]
for name in modules:
    importlib.import_module(name)
import symgrad as sg
x = sg.vector("x")
f = sg.function([x], sg.exp(x) * 2 + 1, mode="c")  # C from the installed templates
compiled = [float(v) for v in f([0.0, 1.0])]
print(json.dumps({
    "compiled": compiled,
    "python_nodes": len(f.vm.python_nodes),
    "package": str(root),
    "modules": modules,
    "files": sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts),
}))
"""


def _run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict]:
    """Install a copy of the checkout (so no stale build/ is reused) into a new venv."""
    work = tmp_path_factory.mktemp("install")
    source, env_dir = work / "src", work / "venv"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", str(source)], cwd=work)
    probe = _run([python, "-c", PROBE], cwd=work)
    return python, source, json.loads(probe.stdout)


def _source_files(folder: Path, suffixes: set[str]) -> set[str]:
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts
    }


@pytest.mark.slow
def test_install_ships_every_module(installed):
    python, source, probe = installed
    assert Path(probe["package"]).is_relative_to(python.parents[1]), (
        "symgrad was imported from outside the venv"
    )
    assert probe["compiled"] == pytest.approx([3.0, 2 * np.e + 1]) and probe["python_nodes"] == 0
    shipped = {f for f in probe["files"] if f.endswith(".py")}
    missing = _source_files(source / "symgrad", {".py"}) - shipped
    assert not missing, f"not installed (a folder without __init__.py?): {sorted(missing)}"


@pytest.mark.slow
def test_install_ships_csrc_templates(installed):
    _, source, probe = installed
    shipped = {f.removeprefix("csrc_templates/") for f in probe["files"] if f.startswith("csrc_templates/")}
    expected = _source_files(source / "csrc_templates", TEMPLATE_SUFFIXES)
    assert "README.md" in expected
    assert expected <= shipped, f"templates not installed: {sorted(expected - shipped)}"
    assert "symgrad.csrc_templates" in probe["modules"]


@pytest.mark.slow
def test_digits_without_extras_says_how_to_install(installed):
    python, _, _ = installed
    result = subprocess.run(
        [python, "-m", "symgrad.examples.digits"], cwd=python.parents[1], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "pip install 'symgrad[examples]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_ci_runs_the_readme_test_command():
    assert TEST_COMMAND in (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert TEST_COMMAND in ci, ".ci/run must run exactly README.md's test command"


def test_ci_script_is_executable():
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111


def test_running_interpreter_is_supported():
    assert sys.version_info >= (3, 11)


def test_templates_importable_in_this_install():
    """CI's editable install maps symgrad.csrc_templates to the top-level folder."""
    try:
        importlib.metadata.distribution("symgrad")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("symgrad is not installed here (only on sys.path): pip install -e .")
    folder = importlib.resources.files("symgrad.csrc_templates")
    assert Path(str(folder)).resolve() == (ROOT / "csrc_templates").resolve()
    assert (folder / "README.md").is_file()
