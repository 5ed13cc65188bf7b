"""From a finished run to what the operator gets: thresholds judged, the summary printed,
summary.json and report.html written, and the exit status. Shared by `run`, `merge` and the
Locust master, so all three report the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from loadtest.config import RunConfig
from loadtest.metrics import RunStats
from loadtest.report_html import render
from loadtest.runner import RunResult, result_from_dict, result_to_dict
from loadtest.summary import build_summary, flat_metrics
from loadtest.table import print_summary
from loadtest.thresholds import Threshold, evaluate_all

EXIT_OK, EXIT_THRESHOLDS = 0, 1


def report(config: RunConfig, result: RunResult, rules: list[Threshold]) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # logs and CI: do not squeeze the tables into 80 columns
    verdicts = evaluate_all(rules, flat_metrics(result))
    summary = build_summary(config, result, verdicts)
    summary["raw"] = raw_section(config, result)
    print_summary(summary, console)
    if config.report_dir is not None:
        write_report(config.report_dir, summary)
        console.print(f"report: {config.report_dir / 'report.html'}")
    if result.generator_bound:
        console.print(
            "[bold red]warning:[/] the generator was the bottleneck; add --processes or machines"
        )
    return EXIT_OK if summary["passed"] else EXIT_THRESHOLDS


def raw_section(config: RunConfig, result: RunResult) -> dict[str, Any]:
    """What `merge` needs to combine runs exactly: histograms as buckets, not percentiles."""
    return {
        "stats": result.stats.to_dict(),
        "workers": [result_to_dict(worker) | {"stats": None} for worker in result.workers],
        "sample_interval_s": config.sample_interval_s,
        "limits": {
            "loop_lag_p99_s": config.limits.loop_lag_p99_s,
            "cpu_cores": config.limits.cpu_cores,
        },
    }


def result_from_raw(raw: dict[str, Any]) -> RunResult:
    workers = [
        result_from_dict(worker | {"stats": RunStats().to_dict()}) for worker in raw["workers"]
    ]
    return RunResult(RunStats.from_dict(raw["stats"]), workers)


def write_report(directory: Path, summary: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    (directory / "report.html").write_text(render(summary), encoding="utf-8")
