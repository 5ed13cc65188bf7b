"""What a city run shows, computed from what was measured. Pure functions, tested with tables."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

SEGMENT = re.compile(r"^/vod/[^?]+\.(ts|m4s|mp4|aac)$")
CACHE_HITS = ("HIT", "COALESCED", "STALE", "REVALIDATED")
METRIC_LINE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format to {'name{labels}': value}."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match and not line.startswith("#"):
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


def edge_counters(metrics: Mapping[str, float]) -> dict[str, float]:
    requests = {k: v for k, v in metrics.items() if k.startswith("classcast_edge_requests_total")}
    hits = sum(v for k, v in requests.items() if any(f'"{c}"' in k for c in CACHE_HITS))
    return {
        "requests": sum(requests.values()),
        "hits": hits,
        "bytes_sent": metrics.get("classcast_edge_bytes_sent_total", 0.0),
        "fills": metrics.get("classcast_edge_fills_total", 0.0),
        "prefetches": metrics.get("classcast_edge_prefetches_total", 0.0),
        "upstream_errors": metrics.get("classcast_edge_upstream_errors_total", 0.0),
        "upstream_attempt_errors": metrics.get("classcast_edge_upstream_attempt_errors", 0.0),
        "tls_connections": metrics.get("classcast_edge_tls_connections", 0.0),
    }


def segment_counts(requests: Mapping[str, int]) -> dict[str, int]:
    """The origin's request counts (GET /_stats) for media segments only."""
    return {path: count for path, count in requests.items() if SEGMENT.match(path)}


def fetches_per_segment(counts: Mapping[str, int]) -> float:
    return sum(counts.values()) / len(counts) if counts else 0.0


def difference(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


def segment_fetch_log(
    access_log: Iterable[bytes], names: Mapping[str, str]
) -> list[tuple[float, str, str]]:
    """(time, segment path, fetching host) for each segment the origin served, from its JSON
    access log lines (`remote` is the peer address; `names` maps addresses to host names)."""
    fetches = []
    for line in access_log:
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or entry.get("msg") != "request":
            continue
        path, remote = entry.get("path"), str(entry.get("remote"))
        if isinstance(path, str) and SEGMENT.match(path):
            fetches.append((float(entry.get("ts", 0.0)), path, names.get(remote, remote)))
    return fetches


def fetchers_by_segment(fetches: Iterable[tuple[float, str, str]]) -> dict[str, list[str]]:
    """Which hosts fetched each segment from the origin."""
    seen: dict[str, list[str]] = defaultdict(list)
    for _, path, host in fetches:
        seen[path].append(host)
    return dict(seen)


def first_fetched_between(
    fetches: Iterable[tuple[float, str, str]], start: float, end: float
) -> list[str]:
    """Segments first fetched from the origin in [start, end]: new at the live edge then,
    so those the viewers were fetching then."""
    first: dict[str, float] = {}
    for ts, path, _ in fetches:
        first[path] = min(ts, first.get(path, ts))
    return sorted(path for path, ts in first.items() if start <= ts <= end)


def repeated_fetches(
    fetches: Iterable[tuple[float, str, str]], started: float
) -> dict[str, list[tuple[float, str]]]:
    """For each segment fetched more than once: when (seconds into the run) and by whom."""
    seen: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for ts, path, host in fetches:
        seen[path].append((round(ts - started, 2), host))
    return {path: times for path, times in seen.items() if len(times) > 1}


def duplicate_report(fetchers: Mapping[str, list[str]]) -> dict[str, Any]:
    """How many segments were fetched more than once, and by which combinations of hosts."""
    combos: Counter[str] = Counter()
    for hosts in fetchers.values():
        if len(hosts) > 1:
            combos[" + ".join(sorted(hosts))] += 1
    return {
        "segments": len(fetchers),
        "fetched_more_than_once": sum(combos.values()),
        "by_fetchers": dict(combos.most_common()),
    }


def merge_cohorts(summaries: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """QoE by cohort across the harness runs (one per viewer group): counts add up; for
    percentiles the worst group's figure is kept, which is an upper bound for the whole."""
    merged: dict[str, dict[str, float]] = {}
    for summary in summaries:
        for name, cohort in summary.get("cohorts", {}).items():
            into = merged.setdefault(name, {})
            for key in (
                "sessions",
                "start_failures",
                "rebuffers",
                "rebuffer_s",
                "stale_playlists",
                "not_found",
                "errors",
            ):
                into[key] = into.get(key, 0.0) + cohort.get(key, 0)
            for key in ("startup_time", "live_lag"):
                for q in ("p50", "p95"):
                    label = f"{key}_{q}"
                    into[label] = max(into.get(label, 0.0), cohort.get(key, {}).get(q, 0.0))
            weighted = cohort.get("bitrate", 0.0) * cohort.get("sessions", 0)
            into["bitrate_x_sessions"] = into.get("bitrate_x_sessions", 0.0) + weighted
    for cohort in merged.values():
        sessions = cohort["sessions"]
        cohort["bitrate"] = cohort.pop("bitrate_x_sessions") / sessions if sessions else 0.0
    return {name: dict(values) for name, values in merged.items()}


def rate(rows: list[dict[str, Any]], key: str, start_s: float, end_s: float) -> float:
    """The slope of a cumulative counter between two times of the run's timeline."""
    inside = [row for row in rows if start_s <= row["t"] <= end_s and key in row]
    if len(inside) < 2 or inside[-1]["t"] <= inside[0]["t"]:
        return 0.0
    return float((inside[-1][key] - inside[0][key]) / (inside[-1]["t"] - inside[0]["t"]))


def within(predicted: float, measured: float, tolerance: float) -> bool:
    return measured > 0 and abs(predicted - measured) / measured <= tolerance
