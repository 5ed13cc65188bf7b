"""Counters kept as plain integers on the hot path, rendered in Prometheus format on scrape.

A scrape renders a `Snapshot`: one process's counters and gauges, or (workers, edge/node/) the
sum over a node's workers plus the per-worker gauges, labelled by worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from edge.cache.stats import (
    COUNTERS,
    UPSTREAM_BUCKETS,
    Snapshot,
    Stats,
    WorkerGauges,
    snapshot,
    split_series,
)
from edge.serve.audience import Counts, merged
from edge.serve.viewers import (
    BITRATE_BUCKETS,
    BUFFER_BUCKETS,
    REQUEST_BUCKETS,
    THROUGHPUT_BUCKETS,
    Viewers,
)

Bounds = tuple[float, ...]
# the labelled series (issue 19's contract): name -> (help, label names, histogram buckets or
# None for a counter). Buckets are written down beside each tuple in their own module.
SERIES: dict[str, tuple[str, tuple[str, ...], Bounds | None]] = {
    "request_duration_seconds": (
        "Seconds from a request's start to its last byte sent",
        ("kind", "cache"),
        REQUEST_BUCKETS,
    ),
    "upstream_duration_seconds": ("Seconds an upstream fill took", (), UPSTREAM_BUCKETS),
    "viewer_bitrate_kbps": (
        "CMCD encoded bitrate (br) of objects requested, kbps",
        ("content",),
        BITRATE_BUCKETS,
    ),
    "viewer_buffer_seconds": ("CMCD buffer length (bl), seconds", ("content",), BUFFER_BUCKETS),
    "viewer_throughput_kbps": ("CMCD measured throughput (mtp), kbps", (), THROUGHPUT_BUCKETS),
    "stalls_total": ("Requests carrying CMCD buffer starvation (bs)", ("content",), None),
    "startups_total": ("Requests carrying CMCD startup (su)", ("content",), None),
    "cmcd_malformed_total": ("CMCD values ignored as malformed", (), None),
    "cmcd_hints_total": ("Fills started by a CMCD next-object hint (nor)", (), None),
    "viewer_sessions_dropped_total": ("Viewer sessions dropped at the cap", (), None),
}


def families(
    snap: Snapshot, workers: Sequence[WorkerGauges] = (), counts: Counts | None = None
) -> Iterator[Metric]:
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
    yield from series_families(snap.series)
    if counts is not None:
        yield from viewer_families(counts)
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


def series_families(series: dict[str, list[float]]) -> Iterator[Metric]:
    grouped: dict[str, list[tuple[tuple[str, ...], list[float]]]] = {}
    for name, values in series.items():
        family, labels = split_series(name)
        grouped.setdefault(family, []).append((labels, values))
    for family, members in sorted(grouped.items()):
        if family not in SERIES:
            continue
        help_text, label_names, bounds = SERIES[family]
        full = f"classcast_edge_{family}"
        metric: CounterMetricFamily | HistogramMetricFamily
        if bounds is None:
            metric = CounterMetricFamily(full, help_text, labels=label_names)
            for labels, values in sorted(members):
                metric.add_metric(list(labels), values[0])
        else:
            metric = HistogramMetricFamily(full, help_text, labels=label_names)
            for labels, values in sorted(members):
                metric.add_metric(list(labels), _buckets(bounds, values), values[-1])
        yield metric


def _buckets(bounds: Bounds, values: list[float]) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs from per-bucket counts (+Inf last, then the sum)."""
    out = []
    total = 0.0
    for bound, count in zip((*bounds, float("inf")), values[:-1], strict=True):
        total += count
        out.append(("+Inf" if bound == float("inf") else repr(float(bound)), total))
    return out


def viewer_families(counts: Counts) -> Iterator[Metric]:
    viewers = GaugeMetricFamily(
        "classcast_edge_viewers", "Viewer sessions watching, per content", labels=["content"]
    )
    for content, count in sorted(counts.by_content.items()):
        viewers.add_metric([content], count)
    yield viewers
    by_rendition = GaugeMetricFamily(
        "classcast_edge_viewers_by_rendition",
        "Viewer sessions watching, per content and rendition",
        labels=["content", "rendition"],
    )
    for (content, rendition), count in sorted(counts.by_rendition.items()):
        by_rendition.add_metric([content, rendition], count)
    yield by_rendition
    stalled = GaugeMetricFamily(
        "classcast_edge_stalled_viewers",
        "Watching sessions that reported CMCD bs within their window, per content",
        labels=["content"],
    )
    for content, count in sorted(counts.stalled.items()):
        stalled.add_metric([content], count)
    yield stalled


class EdgeCollector(Collector):
    """Reads the live Stats and tier sizes each time /metrics is scraped."""

    def __init__(
        self,
        stats: Stats,
        gauges: Callable[[], dict[str, float]],
        bytes_sent: Callable[[], int] = lambda: 0,
        viewers: Viewers | None = None,
    ) -> None:
        self._stats = stats
        self._gauges = gauges
        self._bytes_sent = bytes_sent
        self._viewers = viewers

    def snapshot(self) -> Snapshot:
        snap = snapshot(self._stats, self._gauges(), self._bytes_sent())
        if self._viewers is not None:
            snap.series.update(self._viewers.series())
            snap.gauges["viewer_sessions"] = len(self._viewers.audience)
        return snap

    def collect(self) -> Iterator[Metric]:
        counts = None if self._viewers is None else merged([self._viewers.tally()])
        yield from families(self.snapshot(), counts=counts)


class SnapshotCollector(Collector):
    """Renders a snapshot gathered from a node's workers."""

    def __init__(
        self, snap: Snapshot, workers: Sequence[WorkerGauges], counts: Counts | None = None
    ) -> None:
        self._snap = snap
        self._workers = workers
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        yield from families(self._snap, self._workers, self._counts)
