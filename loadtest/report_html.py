"""One self-contained HTML report: inline SVG charts and tables, no scripts, no network."""

from __future__ import annotations

import html
from typing import Any

WIDTH, HEIGHT, PAD = 640, 200, 40
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")


def line_chart(
    title: str, xs: list[float], series: dict[str, list[float | None]], unit: str
) -> str:
    values = [v for line in series.values() for v in line if v is not None]
    top = max(values, default=0.0) or 1.0
    right = max(xs, default=0.0) or 1.0
    parts = [
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg width="{WIDTH}" height="{HEIGHT}" role="img">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" '
        'stroke="#888"/>',
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<text x="2" y="18" font-size="10">{top:.3g}{html.escape(unit)}</text>',
        f'<text x="{WIDTH - 60}" y="{HEIGHT - PAD + 14}" font-size="10">{right:.0f} s</text>',
    ]
    for number, (name, line) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        points = " ".join(
            f"{_x(x, right):.1f},{_y(v, top):.1f}"
            for x, v in zip(xs, line, strict=True)
            if v is not None
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'
        )
        parts.append(
            f'<text x="{PAD + 10 + 110 * number}" y="{HEIGHT - 8}" font-size="11" fill="{colour}">'
            f"{html.escape(name)}</text>"
        )
    parts.append("</svg></figure>")
    return "".join(parts)


def _x(x: float, right: float) -> float:
    return PAD + (WIDTH - PAD - 10) * x / right


def _y(v: float, top: float) -> float:
    return HEIGHT - PAD - (HEIGHT - PAD - 10) * v / top


def charts(timeline: list[dict[str, Any]]) -> str:
    xs = [row["t"] for row in timeline]

    def column(key: str, scale: float = 1.0) -> list[float | None]:
        return [None if row[key] is None else row[key] * scale for row in timeline]

    renditions = sorted({name for row in timeline for name in row["bitrate_mix"]})
    mix: dict[str, list[float | None]] = {
        name: [float(row["bitrate_mix"].get(name, 0)) for row in timeline] for name in renditions
    }
    return "".join(
        [
            line_chart(
                "Viewers",
                xs,
                {k: column(k) for k in ("viewers", "playing", "stalled", "starting")},
                "",
            ),
            line_chart("Throughput", xs, {"Mbit/s": column("mbit_per_s")}, " Mbit/s"),
            line_chart(
                "TTFB percentiles",
                xs,
                {p: column(f"ttfb_{p}", 1e3) for p in ("p50", "p95", "p99")},
                " ms",
            ),
            line_chart(
                "Rebuffer ratio (stalled / watching)", xs, {"ratio": column("rebuffer_ratio")}, ""
            ),
            line_chart("Bitrate mix (playing viewers per rendition)", xs, mix, ""),
            line_chart(
                "Cache hit ratio (X-Cache HIT or STALE)", xs, {"hit": column("cache_hit_ratio")}, ""
            ),
            line_chart(
                "Generator",
                xs,
                {"CPU cores": column("cpu"), "loop lag p99 s": column("loop_lag_p99")},
                "",
            ),
        ]
    )


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def render(summary: dict[str, Any]) -> str:
    cohort_rows = [
        {"cohort": name, **values} for name, values in sorted(summary["cohorts"].items())
    ]
    request_rows = [
        {"kind": kind, **values} for kind, values in sorted(summary["requests"].items())
    ]
    verdict = "PASSED" if summary["passed"] else "FAILED"
    bound = (
        " (generator-bound: figures are not trustworthy)" if summary["generator"]["bound"] else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>classcast load test</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; font-size: 12px; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; }}
figcaption {{ font-weight: bold; }}
</style></head><body>
<h1>classcast load test: {html.escape(verdict)}{html.escape(bound)}</h1>
<p>Target {html.escape(summary["target"])}, {summary["viewers"]} viewers,
{summary["duration_s"]} s (ramp {summary["ramp_s"]} s), mix {html.escape(_fmt(summary["mix"]))},
{summary["processes"]} process(es).</p>
<h2>Over time</h2>
{charts(summary["timeline"])}
<h2>Cohorts</h2>
{table(cohort_rows, list(cohort_rows[0]) if cohort_rows else [])}
<h2>Requests</h2>
{table(request_rows, list(request_rows[0]) if request_rows else [])}
<h2>Thresholds</h2>
{table(summary["thresholds"], ["rule", "value", "limit", "passed"])}
<h2>Generator self-check</h2>
{table(summary["generator"]["workers"], ["cpu_cores", "loop_lag", "bound"])}
</body></html>
"""
