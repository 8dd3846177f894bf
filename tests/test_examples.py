"""The digits example trains to the accuracy README.md promises; README's usage code runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

for _extra in ("sklearn", "tqdm"):
    pytest.importorskip(
        _extra, reason="the digits example needs the 'examples' extra: pip install -e '.[examples]'"
    )

from symgrad.examples import digits  # noqa: E402 (after the skips above)

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)


def test_digits_script_prints_accuracies():
    result = subprocess.run(
        [sys.executable, "-m", "symgrad.examples.digits", "--epochs", "2", "--batch-size", "64"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for split in ("train", "test"):
        match = re.search(rf"^{split} accuracy: (0\.\d+|1\.0+) ", result.stdout, re.M)
        assert match, f"no {split} accuracy in:\n{result.stdout}"
        assert float(match.group(1)) > 0.8
    assert "epoch" in result.stderr, "the tqdm progress bar should show on stderr"


def test_digits_default_run_reaches_95_percent(capsys):
    result = digits.main(["--quiet"])
    assert result["test_accuracy"] >= 0.95
    assert result["train_accuracy"] >= result["test_accuracy"] - 0.02
    assert "test accuracy: " in capsys.readouterr().out


def test_digits_is_deterministic_per_seed():
    runs = [digits.main(["--quiet", "--epochs", "1", "--seed", "3"]) for _ in range(2)]
    assert runs[0] == runs[1]


def test_digits_missing_extras_explains_install(monkeypatch):
    monkeypatch.setattr(digits, "_MISSING_EXTRA", "sklearn")
    with pytest.raises(SystemExit, match=r"pip install 'symgrad\[examples\]'"):
        digits.main(["--epochs", "1"])


def test_readme_usage_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks, "README.md should have a python usage example"
    exec(compile(blocks[0], "README.md", "exec"), {})
    printed = capsys.readouterr().out
    values = [float(v) for v in re.findall(r"-?\d+\.\d*", printed)]
    np.testing.assert_allclose(values, [1.0, -2.0, 3.0], atol=1e-3)
