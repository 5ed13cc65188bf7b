"""Counters kept as plain integers on the hot path, rendered in Prometheus format on scrape.

A scrape renders a `Snapshot`: one process's counters and gauges, or (workers, edge/node/) the
sum over a node's workers plus the per-worker gauges, labelled by worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.cache.stats import COUNTERS, Snapshot, Stats, WorkerGauges, snapshot


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
            f"classcast_edge_worker_{name}",
            f"{name.replace('_', ' ')}, per worker",
            labels=["worker", "pid"],
        )
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
