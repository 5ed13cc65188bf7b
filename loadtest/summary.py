"""From merged statistics to the run's summary: the JSON document and the flat metric names
that thresholds refer to."""

from __future__ import annotations

from typing import Any

from loadtest.config import RunConfig
from loadtest.histogram import Histogram
from loadtest.metrics import CACHE_HITS
from loadtest.runner import RunResult
from loadtest.stats import CohortStats, RequestStats

Metric = float | Histogram


def cohort_metrics(cohort: CohortStats) -> dict[str, Metric]:
    watched = cohort.played_s + cohort.rebuffer_s
    return {
        "sessions": cohort.sessions,
        "start_failures": cohort.start_failures,
        "start_failure_ratio": cohort.start_failures / cohort.sessions if cohort.sessions else 0.0,
        "startup_time": cohort.startup_time,
        "rebuffers": cohort.rebuffers,
        "rebuffer_s": cohort.rebuffer_s,
        "rebuffer_ratio": cohort.rebuffer_s / watched if watched else 0.0,
        "viewer_rebuffer_ratio": cohort.rebuffer_ratio,
        "bitrate": cohort.bitrate_bits / cohort.played_s if cohort.played_s else 0.0,
        "viewer_bitrate": cohort.bitrate,
        "switches": cohort.switches,
        "segment_ratio": cohort.segment_ratio,
        "live_lag": cohort.live_lag,
        "latency": cohort.latency,
        "stale_playlists": cohort.stale_playlists,
        "not_found": cohort.not_found,
        "errors": cohort.errors,
        "resyncs": cohort.resyncs,
    }


def request_metrics(kind: str, stats: RequestStats) -> dict[str, Metric]:
    hits = sum(count for value, count in stats.cache.items() if value in CACHE_HITS)
    known = sum(stats.cache.values())
    return {
        f"requests.{kind}": stats.count,
        f"bytes.{kind}": stats.bytes,
        f"failures.{kind}": stats.failures,
        f"error_ratio.{kind}": stats.failures / stats.count if stats.count else 0.0,
        f"ttfb.{kind}": stats.ttfb,
        f"total.{kind}": stats.total,
        f"cache_hit_ratio.{kind}": hits / known if known else 0.0,
    }


def flat_metrics(result: RunResult) -> dict[str, Metric]:
    """Every name a threshold may use: `rebuffer_ratio` (all cohorts), `phone.rebuffer_ratio`,
    `ttfb.segment`, `loop_lag`, ..."""
    everyone = CohortStats()
    metrics: dict[str, Metric] = {}
    for name, cohort in result.stats.cohorts.items():
        everyone.merge(cohort)
        metrics.update({f"{name}.{key}": value for key, value in cohort_metrics(cohort).items()})
    metrics.update(cohort_metrics(everyone))
    all_requests = RequestStats()
    for kind, stats in result.stats.requests.items():
        all_requests.merge(stats)
        metrics.update(request_metrics(kind, stats))
    metrics.update(
        {k.removesuffix(".all"): v for k, v in request_metrics("all", all_requests).items()}
    )
    lag = Histogram()
    for worker in result.workers:
        lag.merge(Histogram.from_dict(worker.loop_lag))
    metrics["loop_lag"] = lag
    metrics["generator_cpu"] = max((worker.cpu_cores for worker in result.workers), default=0.0)
    metrics["generator_bound"] = float(result.generator_bound)
    return metrics


def _jsonable(value: Metric) -> Any:
    return value.summary() if isinstance(value, Histogram) else value


def build_summary(
    config: RunConfig, result: RunResult, verdicts: list[dict[str, Any]]
) -> dict[str, Any]:
    metrics = flat_metrics(result)
    return {
        "target": config.target,
        "viewers": config.viewers,
        "duration_s": config.duration_s,
        "ramp_s": config.ramp_s,
        "mix": dict(config.mix),
        "processes": config.processes,
        "cohorts": {
            name: {key: _jsonable(value) for key, value in cohort_metrics(cohort).items()}
            | {"seconds_by_rendition": cohort.seconds_by_rendition}
            for name, cohort in result.stats.cohorts.items()
        },
        "requests": {
            kind: {
                "count": stats.count,
                "bytes": stats.bytes,
                "failures": stats.failures,
                "statuses": stats.statuses,
                "x_cache": stats.cache,
                "ttfb": stats.ttfb.summary(),
                "total": stats.total.summary(),
            }
            for kind, stats in result.stats.requests.items()
        },
        "overall": {key: _jsonable(value) for key, value in metrics.items() if "." not in key},
        "generator": {
            "bound": result.generator_bound,
            "limits": {
                "loop_lag_p99_s": config.limits.loop_lag_p99_s,
                "cpu_cores": config.limits.cpu_cores,
            },
            "workers": [
                {
                    "cpu_cores": worker.cpu_cores,
                    "loop_lag": Histogram.from_dict(worker.loop_lag).summary(),
                    "bound": worker.generator_bound,
                }
                for worker in result.workers
            ],
        },
        "edge_audience": result.audience,
        "thresholds": verdicts,
        "passed": all(verdict["passed"] for verdict in verdicts),
        "timeline": timeline_rows(result, config.sample_interval_s),
    }


def timeline_rows(result: RunResult, interval_s: float) -> list[dict[str, Any]]:
    rows = []
    for index, slice_ in enumerate(result.stats.timeline):
        watching = slice_.playing + slice_.stalled
        rows.append(
            {
                "t": (index + 1) * interval_s,
                "viewers": slice_.viewers,
                "playing": slice_.playing,
                "stalled": slice_.stalled,
                "starting": slice_.starting,
                "requests_per_s": slice_.requests / interval_s,
                "mbit_per_s": slice_.bytes * 8 / 1e6 / interval_s,
                "failures": slice_.failures,
                "ttfb_p50": slice_.ttfb.percentile(0.50),
                "ttfb_p95": slice_.ttfb.percentile(0.95),
                "ttfb_p99": slice_.ttfb.percentile(0.99),
                "rebuffer_ratio": slice_.stalled / watching if watching else 0.0,
                "cache_hit_ratio": slice_.cache_hits / slice_.cache_known
                if slice_.cache_known
                else None,
                "bitrate_mix": slice_.bitrate_mix,
                "cpu": slice_.cpu,
                "loop_lag_p99": slice_.loop_lag_p99,
            }
        )
    return rows
