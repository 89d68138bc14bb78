"""Results: a printed table, a JSON file and a PNG chart per scenario (tests/load/results/)."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class Row:
    measure: str
    value: float
    unit: str
    baseline: float | None = None  # the same measure on the same-run baseline
    ratio: float | None = None  # product / baseline (oriented so that higher is better, see `better`)
    better: str = "higher"  # "higher" or "lower": how to read value and ratio
    target: str = ""
    verdict: str = ""  # "met", "gap", or "" when no target applies


@dataclass
class Report:
    scenario: str
    mode: str
    params: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    errors: int = 0
    lost: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    machine: dict[str, Any] = field(default_factory=lambda: machine_info())

    def add(
        self,
        measure: str,
        value: float,
        unit: str,
        *,
        baseline: float | None = None,
        better: str = "higher",
        target: str = "",
        met: bool | None = None,
    ) -> Row:
        ratio = None
        if baseline not in (None, 0) and value is not None and not math.isnan(value):
            ratio = value / baseline if better == "higher" else baseline / value if value else None
        verdict = "" if met is None else "met" if met else "gap"
        row = Row(measure, value, unit, baseline, ratio, better, target, verdict)
        self.rows.append(row)
        return row

    def add_at_most(
        self,
        measure: str,
        value: float,
        unit: str,
        limit: float | None,
        *,
        baseline: float | None = None,
        why: str = "",
    ) -> Row:
        """A measure where lower is better, held to `limit` (none: no target at this size); the
        target's text and its verdict come from the one number."""
        if limit is None:
            return self.add(measure, value, unit, baseline=baseline, better="lower")
        target = f"<= {limit:g} {unit}" + (f" ({why})" if why else "")
        return self.add(
            measure, value, unit, baseline=baseline, better="lower", target=target, met=value <= limit
        )

    def add_times_baseline(
        self, measure: str, value: float, unit: str, baseline: float, factor: float, of: str = "baseline"
    ) -> Row:
        """A measure where higher is better, held to `factor` times the same run's baseline."""
        target = f">= {factor:g}x {of}"
        return self.add(
            measure, value, unit, baseline=baseline, target=target, met=value >= factor * baseline
        )

    def row(self, measure: str) -> Row:
        return next(row for row in self.rows if row.measure == measure)


def machine_info() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if abs(value) >= 10 else f"{value:.{digits + 1}f}"


def table(report: Report) -> str:
    header = ("measure", "value", "unit", "baseline", "ratio", "target", "verdict")
    lines = [
        (
            r.measure,
            _fmt(r.value),
            r.unit,
            _fmt(r.baseline),
            f"{r.ratio:.2f}x" if r.ratio else "-",
            r.target,
            r.verdict,
        )
        for r in report.rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    out = [f"== {report.scenario} ({report.mode}) errors={report.errors} lost={report.lost}"]
    for line in [header, tuple("-" * w for w in widths), *lines]:
        out.append("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))
    return "\n".join(out)


def markdown(report: Report) -> str:
    out = [
        "| measure | value | unit | baseline (same run) | ratio | target | verdict |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in report.rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio else "-"
        out.append(
            f"| {r.measure} | {_fmt(r.value)} | {r.unit} | {_fmt(r.baseline)} | {ratio} "
            f"| {r.target} | {r.verdict} |"
        )
    return "\n".join(out)


def write(report: Report, directory: Path = RESULTS_DIR) -> tuple[Path, Path | None]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{report.scenario}.json"
    document = asdict(report) | {"finished_at": time.time(), "table_markdown": markdown(report)}
    json_path.write_text(json.dumps(document, indent=2, default=str, allow_nan=True))
    return json_path, chart(report, directory / f"{report.scenario}.png")


def chart(report: Report, path: Path) -> Path | None:
    """A PNG, when matplotlib is installed (it is optional: the smoke test does not need it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    sweep = report.series.get("sweep")
    if sweep:
        rates = [point["offered_per_s"] for point in sweep]
        for key, style in (("p50_ms", "o-"), ("p99_ms", "s-")):
            axes.plot(rates, [point[key] for point in sweep], style, label=f"increment {key[:3]}")
        axes.plot(
            rates,
            [point["action_p99_ms"] for point in sweep],
            "^--",
            label="ticket+increment p99 (from schedule)",
        )
        for key, label in (("baseline_p50_ms", "bare asyncpg p50"), ("baseline_p99_ms", "bare asyncpg p99")):
            if report.series.get(key):
                axes.axhline(report.series[key], linestyle=":", color="grey", label=label)
        axes.set_xlabel("offered increments/s (open loop)")
        axes.set_ylabel("latency (ms)")
        axes.set_yscale("log")
        axes.set_title(f"write: latency against load ({report.machine['cpus']} CPUs)")
        axes.legend(fontsize=8)
    else:
        rows = [row for row in report.rows if row.ratio]
        axes.barh([row.measure for row in rows], [row.ratio or 0 for row in rows], color="steelblue")
        axes.axvline(1.0, color="grey", linestyle=":")
        axes.set_xlabel("ratio to the same-run baseline (higher is better)")
        axes.set_title(f"{report.scenario}: product / baseline")
        axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
