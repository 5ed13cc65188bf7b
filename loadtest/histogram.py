"""Log-bucketed histograms (HDR-style): constant memory, mergeable across processes.

Percentiles come from bucket counts, never from stored samples. A value lands in bucket
floor(log(value / LOWEST) / log(GROWTH)); reading back a bucket gives its geometric middle, so
every reported percentile is within GROWTH - 1 (2%) of the true sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

LOWEST = 1e-6  # values at or below this (one microsecond, one bit/s...) share bucket 0
GROWTH = 1.02
_LOG_GROWTH = math.log(GROWTH)


def bucket_of(value: float) -> int:
    if value <= LOWEST:
        return 0
    return int(math.log(value / LOWEST) / _LOG_GROWTH) + 1


def value_of(bucket: int) -> float:
    if bucket == 0:
        return 0.0
    return float(LOWEST * GROWTH ** (bucket - 0.5))


class Histogram:
    __slots__ = ("buckets", "count", "maximum", "minimum", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    def record(self, value: float) -> None:
        key = bucket_of(value)
        self.buckets[key] = self.buckets.get(key, 0) + 1
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def merge(self, other: Histogram) -> None:
        for key, count in other.buckets.items():
            self.buckets[key] = self.buckets.get(key, 0) + count
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, fraction: float) -> float:
        """The value below which `fraction` (0..1) of the samples fall; 0.0 when empty."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                return min(max(value_of(key), self.minimum), self.maximum)
        return self.maximum

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "count": self.count,
            "mean": self.mean,
            "min": self.minimum if self.count else 0.0,
            "p50": self.percentile(0.50),
            "p90": self.percentile(0.90),
            "p95": self.percentile(0.95),
            "p99": self.percentile(0.99),
            "max": self.maximum if self.count else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "buckets": {str(k): v for k, v in self.buckets.items()},
            "count": self.count,
            "total": self.total,
            "min": self.minimum if self.count else None,
            "max": self.maximum if self.count else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        histogram = cls()
        histogram.buckets = {int(k): int(v) for k, v in data["buckets"].items()}
        histogram.count = int(data["count"])
        histogram.total = float(data["total"])
        if histogram.count:
            histogram.minimum = float(data["min"])
            histogram.maximum = float(data["max"])
        return histogram

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, p50={self.percentile(0.5):.4g})"
