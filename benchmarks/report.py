"""The terminal table and the PNG chart of the ratios."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.results import Row, system_rank

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # the chart is skipped with a message; the table and JSON still come
    plt = None

HEADER = (
    "workload",
    "case",
    "system",
    "median",
    "min",
    "max",
    "n",
    "x numpy",
    "x symgrad",
    "other CPU",
    "notes",
)


def format_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _notes(row: Row) -> str:
    parts = [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.extra.items()]
    if row.status in ("missing", "unavailable"):  # the reason is in the systems summary
        parts.insert(0, row.status.upper())
    elif row.status != "ok":
        parts.insert(0, row.status.upper() + (f": {row.note}" if row.note else ""))
    text = ", ".join(parts)
    return text if len(text) <= 100 else text[:97] + "..."


def _cells(row: Row) -> tuple[str, ...]:
    cpu = "-" if row.other_cores is None else f"{row.other_cores:.2f}" + (" LOADED" if row.loaded else "")
    return (
        row.workload,
        row.case,
        row.system,
        format_seconds(row.median),
        format_seconds(row.min),
        format_seconds(row.max),
        str(row.samples or "-"),
        _ratio(row.ratio_numpy),
        _ratio(row.ratio_symgrad),
        cpu,
        _notes(row),
    )


def systems_summary(systems: dict) -> str:
    """One line per system: its status and versions, or why it cannot run."""
    lines = []
    for name, info in systems.items():
        detail = ", ".join(f"{k} {v}" for k, v in info["versions"].items()) or info["reason"]
        lines.append(f"  {name:<15} {info['status']:<12} {detail}")
    return "systems:\n" + "\n".join(lines)


def table(rows: Sequence[Row]) -> str:
    """Aligned text; times are per call (per compile for 'compile' and 'scaling')."""
    cells = [HEADER] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER) - 1)]
    lines = []
    for k, c in enumerate(cells):
        if k and c[:2] != cells[k - 1][:2]:
            lines.append("")
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths)) + "  " + c[-1])
    return "\n".join(lines)


def _panel(ax, rows: Sequence[Row], attr: str, title: str, colors: dict[str, str]) -> None:
    cases = list(dict.fromkeys(f"{r.workload}: {r.case}" for r in rows if getattr(r, attr)))
    systems = [s for s in colors if any(r.system == s and getattr(r, attr) for r in rows)]
    height = 0.8 / max(1, len(systems))
    for k, system in enumerate(systems):
        values = {f"{r.workload}: {r.case}": getattr(r, attr) for r in rows if r.system == system}
        ys = [i + k * height for i, c in enumerate(cases) if values.get(c)]
        bars = [values[c] for c in cases if values.get(c)]
        ax.barh(ys, bars, height=height, label=system, color=colors[system])
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(cases))], cases, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def chart(rows: Sequence[Row], path: Path, subtitle: str) -> str:
    """Bars of each system's time ratio (log scale, lower is faster); returns what it did."""
    if plt is None:
        return "chart skipped: matplotlib is not installed (pip install -e '.[bench]')"
    n_cases = len({(r.workload, r.case) for r in rows})
    names = sorted({r.system for r in rows if r.median}, key=system_rank)
    colors = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(names)}
    fig, axes = plt.subplots(1, 2, figsize=(16, 2 + 0.45 * n_cases))
    _panel(axes[0], rows, "ratio_numpy", "time / NumPy time (lower is faster)", colors)
    _panel(axes[1], rows, "ratio_symgrad", "time / best symgrad mode's time", colors)
    fig.suptitle(subtitle, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart: {path}"


def markdown(rows: Sequence[Row]) -> str:
    """The table as Markdown, one section per workload (what docs/performance.md carries)."""
    out: list[str] = []
    columns = "| case | system | median | min | max | n | x numpy | x symgrad | other CPU | notes |"
    for workload in dict.fromkeys(r.workload for r in rows):
        out += ["", f"**{workload}**", "", columns, "|" + "---|" * 10]
        for row in (r for r in rows if r.workload == workload):
            cells = _cells(row)
            out.append("| " + " | ".join(c.replace("|", "/") for c in cells[1:]) + " |")
    return "\n".join(out).lstrip("\n") + "\n"


def markdown_from_json(path: Path) -> str:
    data = json.loads(Path(path).read_text())
    return markdown([Row(**r) for r in data["rows"]])


if __name__ == "__main__":  # python -m benchmarks.report benchmarks/results/latest.json
    print(markdown_from_json(Path(sys.argv[1])))
