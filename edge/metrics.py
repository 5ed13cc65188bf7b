"""Counters kept as plain integers on the hot path, rendered in Prometheus format on scrape.

A scrape renders a `Snapshot`: one process's counters and gauges, or (workers, edge/node/) the
sum over a node's workers plus the per-worker gauges, labelled by worker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


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
    ("fill_first_byte_seconds", "Total upstream time to first byte",
     "fill_first_byte_seconds_total"),
)  # fmt: skip


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


def families(snap: Snapshot, workers: Sequence[WorkerGauges] = ()) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "classcast_edge_requests", "Requests answered, by cache status", labels=["cache"]
    )
    for status, count in sorted(snap.requests.items()):
        requests.add_metric([status], count)
    yield requests
    for name, help_text, _ in COUNTERS:
        value = snap.counters.get(name, 0.0)
        yield CounterMetricFamily(f"classcast_edge_{name}", help_text, value=value)
    for name, value in snap.gauges.items():
        yield GaugeMetricFamily(f"classcast_edge_{name}", name.replace("_", " "), value=value)
    if not workers:
        return
    names = sorted({name for worker in workers for name in worker.gauges})
    for name in names:
        family = GaugeMetricFamily(
            f"classcast_edge_worker_{name}", f"{name.replace('_', ' ')}, per worker",
            labels=["worker", "pid"],
        )  # fmt: skip
        for worker in workers:
            if name in worker.gauges:
                family.add_metric([str(worker.index), str(worker.pid)], worker.gauges[name])
        yield family


class EdgeCollector(Collector):
    """Reads the live Stats and tier sizes each time /metrics is scraped."""

    def __init__(
        self,
        stats: Stats,
        gauges: Callable[[], dict[str, float]],
        bytes_sent: Callable[[], int] = lambda: 0,
    ) -> None:
        self._stats = stats
        self._gauges = gauges
        self._bytes_sent = bytes_sent

    def snapshot(self) -> Snapshot:
        return snapshot(self._stats, self._gauges(), self._bytes_sent())

    def collect(self) -> Iterator[Metric]:
        yield from families(self.snapshot())


class SnapshotCollector(Collector):
    """Renders a snapshot gathered from a node's workers."""

    def __init__(self, snap: Snapshot, workers: Sequence[WorkerGauges]) -> None:
        self._snap = snap
        self._workers = workers

    def collect(self) -> Iterator[Metric]:
        yield from families(self._snap, self._workers)
