"""The benchmark runner cannot rot: a smoke run of ``--quick --smallest`` with NumPy and
symgrad only (no timing assertions), plus the bookkeeping that every table relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not installed; plain `pytest` does not add the root
    sys.path.insert(0, str(ROOT))

from benchmarks import systems  # noqa: E402
from benchmarks.results import Row, add_ratios, sort_rows  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402
from benchmarks.workloads.common import disagreement  # noqa: E402


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One run of the runner in a subprocess, exactly as a user types it."""
    out = tmp_path_factory.mktemp("bench")
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--smallest", "--no-progress"]
    cmd += ["--systems", "numpy,symgrad-py,symgrad-c", "--out", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads((out / "latest.json").read_text()), out


def test_smoke_run_covers_every_workload(smoke_run):
    _, data, _ = smoke_run
    assert {r["workload"] for r in data["rows"]} == {m.NAME for m in WORKLOADS.values()}


def test_smoke_run_times_numpy_and_symgrad(smoke_run):
    _, data, _ = smoke_run
    timed = {(r["workload"], r["system"]) for r in data["rows"] if r["status"] == "ok" and r["median"]}
    for workload in ("elementwise", "membound", "softmax", "mlp", "overhead", "gemm"):
        assert (workload, "numpy") in timed and (workload, "symgrad-py") in timed
    for workload in ("compile", "scaling"):
        assert (workload, "symgrad-py") in timed
    problems = [r for r in data["rows"] if r["status"] in ("error", "mismatch")]
    assert not problems, problems


def test_smoke_run_reports_modes_it_cannot_run(smoke_run):
    _, data, _ = smoke_run
    statuses = {r["status"] for r in data["rows"] if r["system"] == "symgrad-c"}
    assert statuses <= {"ok", "unavailable"} and statuses
    assert data["meta"]["systems"]["symgrad-c"]["status"] in ("ok", "unavailable")


def test_smoke_run_prints_table_and_writes_outputs(smoke_run):
    stdout, data, out = smoke_run
    assert "x numpy" in stdout and "elementwise" in stdout
    assert data["meta"]["machine"]["cpu_model"]
    assert "numpy" in data["meta"]["machine"]["versions"]
    accuracies = {r["extra"]["train_accuracy"] for r in data["rows"] if r["workload"] == "mlp" and r["extra"]}
    assert len(accuracies) == 1
    pytest.importorskip("matplotlib")
    assert (out / "latest.png").stat().st_size > 0


def test_missing_package_is_reported_not_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytensor", None)  # import pytensor now raises ImportError
    monkeypatch.delitem(sys.modules, "benchmarks.systems.pytensor_system", raising=False)
    loaded = systems.load("pytensor-cvm")
    assert loaded.status == "missing" and "pytensor" in loaded.reason


def test_family_names_select_all_modes():
    assert systems.parse_names("numpy,symgrad") == ["numpy", "symgrad-py", "symgrad-c", "symgrad-cuda"]
    with pytest.raises(SystemExit, match="unknown system"):
        systems.parse_names("tensorflow")


def test_ratios_against_numpy_and_best_symgrad_mode():
    rows = [
        Row("w", "c", "symgrad-py", median=4.0),
        Row("w", "c", "numpy", median=2.0),
        Row("w", "c", "symgrad-c", "unavailable"),
        Row("w", "c", "jax", median=1.0),
    ]
    add_ratios(rows)
    by_name = {r.system: r for r in sort_rows(rows)}
    assert list(by_name) == ["numpy", "symgrad-py", "symgrad-c", "jax"]
    assert by_name["symgrad-py"].ratio_numpy == 2.0 and by_name["jax"].ratio_symgrad == 0.25
    assert by_name["symgrad-c"].ratio_numpy is None


def test_disagreement_checks_dtype_shape_and_values():
    ref = np.linspace(0.0, 1.0, 5)
    assert disagreement(ref.copy(), ref) == ""
    assert "float32" in disagreement(ref.astype(np.float32), ref)
    assert "differs" in disagreement(ref + 1e-3, ref)
