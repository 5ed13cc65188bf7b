"""The city's report.html: verdicts, the topology, QoE, tiers, origin fetches, plan vs measured,
and charts (from the run's own samples, and from Prometheus when it ran). No scripts, no network."""

from __future__ import annotations

import html
import itertools
from pathlib import Path
from typing import Any

import orjson

from loadtest.report_html import line_chart, table

STYLE = (
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
    "padding:3px 8px;text-align:left;font-size:13px}.pass{color:#2a7d2a}.fail{color:#c22}"
    "pre{background:#f6f6f6;padding:8px;font-size:12px;overflow-x:auto}"
)


def picture(summary: dict[str, Any]) -> str:
    s = summary["settings"]
    return (
        f"viewers x{s['viewers']} on {s['viewer_hosts']} {s['access']} viewer hosts\n"
        f"   |  (nearest edge)\n"
        f"edge x{s['edges']}  --rendezvous hash per object"
        f"{', HTTPS' if s.get('tls') else ''}-->  shield x{s['shields']}  -->  origin\n"
        f"all on one bridge in namespace <prefix>sw; addresses 198.18.0.0/16 (RFC 2544)"
    )


def _rate_series(timeline: list[dict[str, Any]], key: str, scale: float) -> list[float | None]:
    values: list[float | None] = [None]
    for before, after in itertools.pairwise(timeline):
        span = after["t"] - before["t"]
        values.append((after[key] - before[key]) * scale / span if span > 0 else None)
    return values


def charts(summary: dict[str, Any]) -> str:
    timeline = summary["timeline"]
    xs = [row["t"] for row in timeline]
    parts = [
        line_chart(
            "Egress by tier, on the wire (Mbit/s)",
            xs,
            {
                tier: _rate_series(timeline, f"{tier}.tx_bytes", 8 / 1e6)
                for tier in ("edge", "shield", "origin")
            },
            " Mbit/s",
        ),
        line_chart(
            "Requests by tier (req/s)",
            xs,
            {
                "edge": _rate_series(timeline, "edge.requests", 1.0),
                "shield": _rate_series(timeline, "shield.requests", 1.0),
                "origin": _rate_series(timeline, "origin.requests", 1.0),
            },
            " req/s",
        ),
        line_chart(
            "CPU by tier (cores)",
            xs,
            {
                tier: _rate_series(timeline, f"{tier}.cpu_s", 1.0)
                for tier in ("edge", "shield", "origin")
            },
            "",
        ),
    ]
    prometheus = summary.get("prometheus")
    if prometheus:
        for name, title, unit in (
            ("hit_ratio", "Hit ratio by tier (Prometheus)", ""),
            ("egress_mbit", "Egress by tier, bodies (Prometheus, Mbit/s)", " Mbit/s"),
        ):
            series = prometheus.get(name, {})
            times = sorted({t for points in series.values() for t, _ in points})
            if times:
                lines = {
                    tier: [dict(points).get(t) for t in times] for tier, points in series.items()
                }
                parts.append(line_chart(title, times, lines, unit))
    return "".join(parts)


def render(summary: dict[str, Any]) -> str:
    checks = "".join(
        f"<tr><td class={'pass' if c['passed'] else 'fail'}>{'pass' if c['passed'] else 'FAIL'}"
        f"</td><td>{html.escape(c['check'])}</td><td>{html.escape(c['detail'])}</td></tr>"
        for c in summary["checks"]
    )
    qoe = [{"cohort": name, **values} for name, values in summary["qoe"].items()]
    qoe_columns = [
        "cohort",
        "sessions",
        "start_failures",
        "rebuffers",
        "rebuffer_s",
        "startup_time_p50",
        "startup_time_p95",
        "live_lag_p95",
        "bitrate",
        "stale_playlists",
        "errors",
    ]
    tiers = [{"tier": name, **values} for name, values in summary["tiers"].items()]
    links = summary["links"]
    shapes = [
        {"link": role, **shape} for role, shape in {**links["core"], **links["access"]}.items()
    ]
    plan = summary["plan"]
    plan_rows = [
        {"figure": key, **plan[key]} for key in ("edge_egress_gbps", "origin_rps", "edge_rps")
    ]
    origin = summary["origin"]
    body = [
        f"<style>{STYLE}</style><title>classcast city</title><h1>classcast city</h1>",
        f"<table><tr><th></th><th>must show</th><th>measured</th></tr>{checks}</table>",
        f"<h2>Topology</h2><pre>{html.escape(picture(summary))}</pre>",
        f"<p>{html.escape(links['note'])}</p>",
        table(shapes, ["link", "down_mbit", "up_mbit", "delay_ms", "why"]),
        "<h2>Viewers' QoE by cohort</h2>" + table(qoe, qoe_columns),
        "<h2>Requests per tier</h2>"
        + table([summary["requests_by_tier"]], list(summary["requests_by_tier"])),
        "<h2>Origin fetches per distinct segment</h2>"
        + f"<pre>{_json(origin)}</pre>"
        + "<p>Which hosts fetched each segment from the origin (its access log):</p>"
        + f"<pre>{_json(summary['origin_fetchers'])}</pre>",
        "<h2>Tiers: CPU and egress</h2>"
        + table(
            tiers,
            [
                "tier",
                "cpu_s",
                "cpu_cores",
                "egress_bytes",
                "egress_mbit_per_s",
                "hit_ratio",
                "prefetches",
            ],
        ),
        f"<h2>Planner against measured</h2><pre>{html.escape(plan['command'])}</pre>"
        + table(plan_rows, ["figure", "predicted", "measured"])
        + f"<p>measured between {plan['window_s'][0]:g} s and {plan['window_s'][1]:g} s</p>"
        + f"<pre>{html.escape(chr(10).join(plan['lines']))}</pre>",
        "<h2>Charts</h2>" + charts(summary),
    ]
    return "\n".join(body)


def _json(value: Any) -> str:
    return html.escape(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def write(directory: Path, summary: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    (directory / "report.html").write_text(render(summary), encoding="utf-8")
