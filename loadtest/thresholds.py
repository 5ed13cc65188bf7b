"""Pass/fail rules for CI: `rebuffer_ratio<0.01`, `p95(startup_time)<2s`, `p99 ttfb.segment<0.2`.

A rule is `[AGGREGATE(]METRIC[)] OP NUMBER[UNIT]`. Aggregates (p50, p95, p99.9, mean, min, max,
count) apply to distributions; plain numbers take none. A metric may be prefixed with a cohort
(`phone.rebuffer_ratio`). Units: ms, s, %, kbps, mbps; values compare in seconds, ratios, bit/s.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loadtest.errors import ThresholdError
from loadtest.histogram import Histogram

DISTRIBUTIONS = frozenset(
    {
        "startup_time",
        "viewer_rebuffer_ratio",
        "viewer_bitrate",
        "segment_ratio",
        "live_lag",
        "latency",
        "loop_lag",
        "ttfb",
        "total",
    }
)
NUMBERS = frozenset(
    {
        "sessions",
        "start_failures",
        "start_failure_ratio",
        "rebuffers",
        "rebuffer_s",
        "rebuffer_ratio",
        "bitrate",
        "switches",
        "stale_playlists",
        "not_found",
        "errors",
        "resyncs",
        "requests",
        "bytes",
        "failures",
        "error_ratio",
        "cache_hit_ratio",
        "generator_cpu",
        "generator_bound",
    }
)
ALIASES = {"startup": "startup_time", "ttfb": "ttfb", "lag": "live_lag"}
COHORT_PREFIXES = ("stb.", "phone.", "ll.")
KIND_SUFFIXES = (".master", ".playlist", ".segment")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "%": 1e-2, "kbps": 1e3, "mbps": 1e6}
RULE = re.compile(
    r"^\s*(?:(?P<agg>p\d+(?:\.\d+)?|mean|min|max|count)\s*(?:\(\s*(?P<inner>[\w.]+)\s*\)|\s(?P<bare>[\w.]+))"
    r"|(?P<name>[\w.]+))\s*(?P<op><=|>=|==|<|>)\s*(?P<value>-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(?P<unit>[a-z%]*)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Threshold:
    text: str
    aggregate: str | None
    metric: str
    op: str
    limit: float

    def evaluate(self, metrics: Mapping[str, float | Histogram]) -> dict[str, Any]:
        value = self._value(metrics)
        passed = value is not None and OPERATORS[self.op](value, self.limit)
        return {"rule": self.text, "value": value, "limit": self.limit, "passed": passed}

    def _value(self, metrics: Mapping[str, float | Histogram]) -> float | None:
        found = metrics.get(self.metric)
        if found is None:
            return None
        if not isinstance(found, Histogram):
            return float(found)
        if found.count == 0:
            return None  # no samples: a rule about them cannot hold
        return aggregate(found, self.aggregate or "mean")


def aggregate(histogram: Histogram, name: str) -> float:
    if name == "mean":
        return histogram.mean
    if name == "min":
        return histogram.minimum
    if name == "max":
        return histogram.maximum
    if name == "count":
        return float(histogram.count)
    return histogram.percentile(float(name[1:]) / 100)


def parse_threshold(text: str) -> Threshold:
    match = RULE.match(text)
    if match is None:
        raise ThresholdError(
            f"threshold {text!r}: expected e.g. 'rebuffer_ratio<0.01' or 'p95(startup_time)<2s'"
        )
    agg = match["agg"].lower() if match["agg"] else None
    metric = match["inner"] or match["bare"] or match["name"]
    metric = _canonical(metric, text)
    base = _base_name(metric)
    if agg is not None and base not in DISTRIBUTIONS:
        raise ThresholdError(f"threshold {text!r}: {metric} is a number, it takes no {agg}()")
    if agg is not None and agg.startswith("p") and not 0 < float(agg[1:]) <= 100:
        raise ThresholdError(f"threshold {text!r}: percentile must be within 0..100")
    if agg is None and base in DISTRIBUTIONS:
        raise ThresholdError(
            f"threshold {text!r}: {metric} is a distribution, say e.g. p95({metric})"
        )
    unit = match["unit"].lower()
    if unit not in UNITS:
        raise ThresholdError(
            f"threshold {text!r}: unknown unit {unit!r} (use {', '.join(u for u in UNITS if u)})"
        )
    return Threshold(text.strip(), agg, metric, match["op"], float(match["value"]) * UNITS[unit])


def _canonical(metric: str, text: str) -> str:
    prefix = next((p for p in COHORT_PREFIXES if metric.startswith(p)), "")
    rest = metric.removeprefix(prefix)
    rest = ALIASES.get(rest, rest)
    if _base_name(rest) not in DISTRIBUTIONS | NUMBERS:
        raise ThresholdError(f"threshold {text!r}: unknown metric {metric!r}")
    return prefix + rest


def _base_name(metric: str) -> str:
    metric = next((metric.removeprefix(p) for p in COHORT_PREFIXES if metric.startswith(p)), metric)
    return next((metric.removesuffix(s) for s in KIND_SUFFIXES if metric.endswith(s)), metric)


def evaluate_all(
    rules: list[Threshold], metrics: Mapping[str, float | Histogram]
) -> list[dict[str, Any]]:
    return [rule.evaluate(metrics) for rule in rules]
