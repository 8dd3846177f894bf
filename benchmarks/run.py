"""The runner: ``python -m benchmarks`` (or ``python benchmarks/run.py``); ``--help`` lists options.

Loads every system (reporting the ones that are missing or unavailable), runs the selected
workloads, prints the table, and writes a JSON file of all figures and a PNG chart.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import shlex
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import systems  # noqa: E402
from benchmarks.machine import machine_info  # noqa: E402
from benchmarks.report import chart, markdown, systems_summary, table  # noqa: E402
from benchmarks.results import add_ratios, sort_rows, write_json  # noqa: E402
from benchmarks.timing import Budget  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402
from benchmarks.workloads.common import Context  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:
    tqdm = None

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
BUDGETS = {  # seconds per system per case, min/max samples, per-case limit in a subprocess
    "full": (Budget(seconds=2.0, min_samples=5, max_samples=30), 150.0),
    "quick": (Budget(seconds=0.3, min_samples=3, max_samples=10), 60.0),
    "smallest": (Budget(seconds=0.02, min_samples=2, max_samples=3, sample_s=0.002), 60.0),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes and samples (under 2 minutes)")
    parser.add_argument("--smallest", action="store_true", help="only the smallest case of each workload")
    parser.add_argument("--only", default="", help=f"comma-separated workloads: {', '.join(WORKLOADS)}")
    parser.add_argument("--systems", default=",".join(systems.SYSTEMS), help="comma-separated systems")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON and the chart")
    parser.add_argument("--case-limit", type=float, help="seconds a subprocess case may take")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    return parser.parse_args(argv)


def select_workloads(only: str) -> list[str]:
    names = [n.strip() for n in only.split(",") if n.strip()] or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    return names


def load_systems(names: list[str]) -> list[systems.Loaded]:
    loaded = []
    for name in names:
        print(f"loading {name} ...", end=" ", file=sys.stderr, flush=True)
        loaded.append(systems.load(name))
        print(loaded[-1].status, file=sys.stderr, flush=True)
    return loaded


def _progress(args: argparse.Namespace, total: int):
    """A tqdm bar over the workloads whose postfix names the running case (plain lines without tqdm)."""
    if args.no_progress:
        return None, lambda text: None
    if tqdm is None:
        return None, lambda text: print(f"  {text}", file=sys.stderr, flush=True)
    bar = tqdm(total=total, unit="workload", file=sys.stderr, dynamic_ncols=True)
    return bar, lambda text: bar.set_postfix_str(text[:70], refresh=True)


def run(args: argparse.Namespace) -> dict:
    names = select_workloads(args.only)
    level = "smallest" if args.smallest else "quick" if args.quick else "full"
    budget, limit = BUDGETS[level]
    started = time.perf_counter()
    loaded = load_systems(systems.parse_names(args.systems))
    gc.freeze()  # the imported libraries' objects: keep the collector's passes short while timing
    bar, progress = _progress(args, len(names))
    rows = []
    with tempfile.TemporaryDirectory(prefix="symgrad-bench-") as workdir:
        ctx = Context(
            loaded,
            budget,
            args.quick or args.smallest,
            args.smallest,
            args.case_limit or limit,
            Path(workdir),
            progress,
        )
        for name in names:
            rows += WORKLOADS[name].run(ctx)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    add_ratios(rows)
    rows = sort_rows(rows)
    meta = run_meta(args, level, loaded, time.perf_counter() - started)
    return {"meta": meta, "rows": rows}


def run_meta(args: argparse.Namespace, level: str, loaded: list, seconds: float) -> dict:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + shlex.join(sys.argv[1:] if args is not None else []),
        "level": level,
        "duration_s": round(seconds, 1),
        "machine": machine_info(),
        "systems": {
            s.name: {
                "status": s.status,
                "reason": s.reason,
                "versions": s.system.versions() if s.system else {},
            }
            for s in loaded
        },
    }


def write_outputs(result: dict, out: Path) -> list[str]:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    meta, rows = result["meta"], result["rows"]
    messages = []
    for path in (out / f"bench-{stamp}.json", out / "latest.json"):
        write_json(path, meta, rows)
    messages.append(f"JSON: {out / 'latest.json'} (and bench-{stamp}.json)")
    (out / "latest.md").write_text(markdown(rows))
    messages.append(f"Markdown table: {out / 'latest.md'}")
    subtitle = f"{meta['date']}  {meta['machine']['cpu_model']}  {meta['command']}"
    messages.append(chart(rows, out / "latest.png", subtitle))
    return messages


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    result = run(args)
    meta = result["meta"]
    print(f"\n{meta['machine']['cpu_model']}, {meta['machine']['usable_cpus']} CPUs; {meta['date']}")
    print(f"{meta['command']}  ({meta['duration_s']} s)\n")
    print(systems_summary(meta["systems"]) + "\n")
    print(table(result["rows"]))
    print("\ntimes are per call (per compile for 'compile' and 'scaling'); 'other CPU' is the number")
    print("of cores other processes kept busy meanwhile (LOADED above 0.25: read with care)")
    for message in write_outputs(result, args.out):
        print(message)
    return result


if __name__ == "__main__":
    main()
