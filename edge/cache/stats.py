"""The edge's counters, kept as plain integers on the hot path, and snapshots of them: plain
values a worker can send its node (edge/node/), rendered by edge/metrics.py on scrape."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Upstream fills: a playlist from a near shield in a few ms, a 2 MB segment from a far origin in
# up to three target durations (6 s segments: 18 s); beyond that the viewer has stalled anyway.
UPSTREAM_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 18.0, 30.0)


class Histogram:
    """Prometheus-style histogram families kept as plain lists: per label values, a count per
    bucket (not cumulative) with +Inf last, then the sum. Observing is a bisect and two adds."""

    __slots__ = ("bounds", "series")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, value: float, labels: tuple[str, ...] = ()) -> None:
        counts = self.series.get(labels)
        if counts is None:
            counts = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        counts[bisect_left(self.bounds, value)] += 1  # le: a value on a bound falls in it
        counts[-1] += value


def series_name(family: str, labels: tuple[str, ...]) -> str:
    """How a labelled series travels in a Snapshot (JSON keys are strings)."""
    return "\x1f".join((family, *labels))


def split_series(name: str) -> tuple[str, tuple[str, ...]]:
    family, *labels = name.split("\x1f")
    return family, tuple(labels)


@dataclass(slots=True)
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # by X-Cache, or the error status
    fills: int = 0
    coalesced: int = 0
    prefetches: int = 0
    refreshes: int = 0
    upstream_errors: int = 0
    disk_errors: int = 0
    fill_seconds_total: float = 0.0
    fill_first_byte_seconds_total: float = 0.0
    upstream_durations: Histogram | None = None  # None: histograms turned off (config "viewers")


COUNTERS = (  # (name, help, Stats field or "bytes_sent")
    ("bytes_sent", "Body bytes sent to clients", "bytes_sent"),
    ("fills", "Upstream fills started", "fills"),
    ("coalesced_waiters", "Requests that joined a running fill", "coalesced"),
    ("prefetches", "Fills started by prefetch", "prefetches"),
    ("refreshes", "Background refreshes of stale or expiring objects", "refreshes"),
    ("upstream_errors", "Fills that failed upstream", "upstream_errors"),
    ("disk_errors", "Disk tier write or read errors", "disk_errors"),
    ("fill_seconds", "Total fill time", "fill_seconds_total"),
    (
        "fill_first_byte_seconds",
        "Total upstream time to first byte",
        "fill_first_byte_seconds_total",
    ),
)


@dataclass(slots=True)
class Snapshot:
    """What one scrape shows: plain values, so a worker can send its own to the supervisor."""

    requests: dict[str, float]
    counters: dict[str, float]
    gauges: dict[str, float]
    # labelled counters and histograms (series_name -> values), summed element by element
    series: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "requests": self.requests,
            "counters": self.counters,
            "gauges": self.gauges,
        }
        if self.series:
            raw["series"] = self.series
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Snapshot:
        series = {name: list(values) for name, values in raw.get("series", {}).items()}
        return cls(dict(raw["requests"]), dict(raw["counters"]), dict(raw["gauges"]), series)

    def add(self, other: Snapshot, gauges: bool = True) -> None:
        """Sum `other` into this one (counters always; gauges of live workers only)."""
        for mine, theirs in ((self.requests, other.requests), (self.counters, other.counters)):
            for name, value in theirs.items():
                mine[name] = mine.get(name, 0) + value
        for name, values in other.series.items():
            have = self.series.get(name)
            if have is None or len(have) != len(values):
                self.series[name] = list(values)
            else:
                self.series[name] = [a + b for a, b in zip(have, values, strict=True)]
        if gauges:
            for name, value in other.gauges.items():
                self.gauges[name] = self.gauges.get(name, 0) + value


def snapshot(stats: Stats, gauges: dict[str, float], bytes_sent: int) -> Snapshot:
    counters = {
        name: float(bytes_sent if field == "bytes_sent" else getattr(stats, field))
        for name, _, field in COUNTERS
    }
    series = {}
    if stats.upstream_durations is not None:
        for labels, values in stats.upstream_durations.series.items():
            series[series_name("upstream_duration_seconds", labels)] = list(values)
    requests = {k: float(v) for k, v in stats.requests.items()}
    return Snapshot(requests, counters, dict(gauges), series)


@dataclass(frozen=True, slots=True)
class WorkerGauges:
    """One worker's own figures, labelled on the node's /metrics."""

    index: int
    pid: int
    gauges: Mapping[str, float]
