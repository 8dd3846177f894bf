"""Run one measurement in a fresh Python process (``benchmarks/worker.py``), with a time limit.

Used where a fresh process is the point (cold and warm compiles), where a case must be
stoppable (graph-size scaling), or where the environment must differ (GEMM without OPENBLAS_*).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.machine import CpuMeter

ROOT = Path(__file__).resolve().parents[1]
RESULT_TAG = "RESULT "


@dataclass
class WorkerResult:
    status: str  # 'ok', 'timeout' or 'error'
    value: dict = field(default_factory=dict)
    note: str = ""
    wall: float = 0.0
    other_cores: float | None = None
    loaded: bool = False


def _environment(env: dict[str, str] | None, unset: Sequence[str]) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not any(k.startswith(p) for p in unset)}
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH", "")]))
    out.update(env or {})
    return out


def _parse(stdout: str, stderr: str, returncode: int) -> tuple[str, dict, str]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            value = json.loads(line[len(RESULT_TAG) :])
            return ("error", value, value.get("error", "")) if "error" in value else ("ok", value, "")
    tail = (stderr.strip().splitlines() or ["no output"])[-1]
    return "error", {}, f"worker exited with {returncode}: {tail}"


def run_worker(
    task: str, args: dict, timeout: float, env: dict[str, str] | None = None, unset: Sequence[str] = ()
) -> WorkerResult:
    """Run ``task`` with ``args``; on timeout its whole process group (compilers too) is killed."""
    meter = CpuMeter()
    cmd = [sys.executable, "-m", "benchmarks.worker", task, json.dumps(args)]
    meter.start()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=_environment(env, unset),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        meter.stop()
        return WorkerResult(
            "timeout",
            note=f"over the {timeout:.0f} s limit",
            wall=meter.wall,
            other_cores=meter.other_cores(),
            loaded=meter.loaded(),
        )
    meter.stop()
    status, value, note = _parse(stdout, stderr, proc.returncode)
    return WorkerResult(status, value, note, meter.wall, meter.other_cores(), meter.loaded())


def merge(results: Sequence[WorkerResult]) -> WorkerResult:
    """Several runs of one task as one result: their ``total``s become ``samples``, the other
    figures their medians; the first failure, if any, stands for all."""
    bad = next((r for r in results if r.status != "ok"), None)
    if bad is not None:
        return bad
    keys = [k for k in results[0].value if k != "total"]
    value = {k: statistics.median(r.value[k] for r in results) for k in keys}
    value["samples"] = [r.value["total"] for r in results]
    cores = [r.other_cores for r in results if r.other_cores is not None]
    return WorkerResult(
        "ok",
        value,
        wall=sum(r.wall for r in results),
        other_cores=statistics.mean(cores) if cores else None,
        loaded=any(r.loaded for r in results),
    )
