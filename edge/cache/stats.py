"""The edge's counters, kept as plain integers on the hot path, and snapshots of them: plain
values a worker can send its node (edge/node/), rendered by edge/metrics.py on scrape."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "counters": self.counters, "gauges": self.gauges}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Snapshot:
        return cls(dict(raw["requests"]), dict(raw["counters"]), dict(raw["gauges"]))

    def add(self, other: Snapshot, gauges: bool = True) -> None:
        """Sum `other` into this one (counters always; gauges of live workers only)."""
        for mine, theirs in ((self.requests, other.requests), (self.counters, other.counters)):
            for name, value in theirs.items():
                mine[name] = mine.get(name, 0) + value
        if gauges:
            for name, value in other.gauges.items():
                self.gauges[name] = self.gauges.get(name, 0) + value


def snapshot(stats: Stats, gauges: dict[str, float], bytes_sent: int) -> Snapshot:
    counters = {
        name: float(bytes_sent if field == "bytes_sent" else getattr(stats, field))
        for name, _, field in COUNTERS
    }
    return Snapshot({k: float(v) for k, v in stats.requests.items()}, counters, dict(gauges))


@dataclass(frozen=True, slots=True)
class WorkerGauges:
    """One worker's own figures, labelled on the node's /metrics."""

    index: int
    pid: int
    gauges: Mapping[str, float]
