"""The end-of-run summary table, one row per cohort, and the request table by kind."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _ms(summary: dict[str, float], key: str) -> str:
    return f"{summary[key] * 1e3:.0f}" if summary.get("count") else "-"


def print_summary(summary: dict[str, Any], console: Console) -> None:
    cohorts = Table(title="Viewers by cohort")
    for column in (
        "cohort",
        "sessions",
        "start fail",
        "startup p50/p95 ms",
        "rebuffers",
        "rebuffer ratio",
        "bitrate kbit/s",
        "switches",
        "seg dl/dur p95",
        "live lag mean s",
        "latency p50/p99 s",
        "stale pl.",
        "404s",
    ):
        cohorts.add_column(column, justify="right")
    for name, c in sorted(summary["cohorts"].items()):
        startup = c["startup_time"]
        lag = c["live_lag"]
        cohorts.add_row(
            name,
            str(c["sessions"]),
            f"{c['start_failures']} ({c['start_failure_ratio']:.1%})",
            f"{_ms(startup, 'p50')}/{_ms(startup, 'p95')}",
            str(c["rebuffers"]),
            f"{c['rebuffer_ratio']:.4f}",
            f"{c['bitrate'] / 1e3:.0f}",
            str(c["switches"]),
            f"{c['segment_ratio']['p95']:.3f}",
            f"{lag['mean']:.1f}" if lag["count"] else "-",
            _latency(c.get("latency")),
            str(c["stale_playlists"]),
            str(c["not_found"]),
        )
    console.print(cohorts)
    requests = Table(title="Requests by kind")
    for column in (
        "kind",
        "count",
        "MB",
        "failures",
        "TTFB p50/p95/p99 ms",
        "total p95 ms",
        "X-Cache",
        "statuses",
    ):
        requests.add_column(column, justify="right")
    for kind, r in sorted(summary["requests"].items()):
        ttfb = r["ttfb"]
        requests.add_row(
            kind,
            str(r["count"]),
            f"{r['bytes'] / 1e6:.1f}",
            str(r["failures"]),
            f"{_ms(ttfb, 'p50')}/{_ms(ttfb, 'p95')}/{_ms(ttfb, 'p99')}",
            _ms(r["total"], "p95"),
            " ".join(f"{k}:{v}" for k, v in sorted(r["x_cache"].items())) or "-",
            " ".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items())),
        )
    console.print(requests)
    _print_audience(summary.get("edge_audience") or {}, console)
    generator = summary["generator"]
    lag = max((w["loop_lag"]["p99"] for w in generator["workers"]), default=0.0)
    cpu = max((w["cpu_cores"] for w in generator["workers"]), default=0.0)
    verdict = "[bold red]GENERATOR-BOUND[/]" if generator["bound"] else "ok"
    console.print(
        f"generator: loop lag p99 {lag * 1e3:.1f} ms, CPU {cpu:.2f} cores/process: {verdict}"
    )
    for rule in summary["thresholds"]:
        mark = "[green]pass[/]" if rule["passed"] else "[bold red]FAIL[/]"
        console.print(f"threshold {rule['rule']}: {rule['value']} -> {mark}")


def _latency(latency: dict[str, float] | None) -> str:
    """LL-HLS viewers' latency behind live; '-' for cohorts that do not measure it."""
    if not latency or not latency["count"]:
        return "-"
    return f"{latency['p50']:.2f}/{latency['p99']:.2f}"


def _unreported(reasons: dict[str, int]) -> str:
    """The phones' rebuffers CMCD did not report, by reason ("-" for none)."""
    shown = [f"{reason.replace('_', ' ')} {n}" for reason, n in reasons.items() if n]
    return ", ".join(shown) or "-"


def _print_audience(seen: dict[str, Any], console: Console) -> None:
    """The harness's truth beside what the edge's /metrics said (issue 19)."""
    if not seen.get("contents"):
        return
    if not seen.get("said"):
        console.print("edge audience: the target's /metrics has no classcast_edge_viewers")
        return
    table = Table(title="what the edge saw")
    columns = (
        "content",
        "viewers (harness)",
        "viewers (edge)",
        "rebuffers (phones)",
        "reportable by CMCD",
        "stalls (edge)",
        "not reportable",
        "rebuffers (no CMCD)",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for content, row in sorted(seen["contents"].items()):
        cohorts = " ".join(f"{k}:{v}" for k, v in sorted(row["harness_by_cohort"].items()))
        edge_stalls = row["edge_stalls"]
        table.add_row(
            content,
            f"{row['harness_viewers']} ({cohorts})" if cohorts else str(row["harness_viewers"]),
            f"{row['edge_viewers']:g}",
            str(row["harness_rebuffers"]),
            str(row["harness_rebuffers_reportable"]),
            "-" if edge_stalls is None else f"{edge_stalls:g}",
            _unreported(row["harness_rebuffers_unreported"]),
            str(row["harness_rebuffers_no_cmcd"]),
        )
    console.print(table)
