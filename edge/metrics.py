"""Counters kept as plain integers on the hot path, rendered in Prometheus format on scrape."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

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

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        requests = CounterMetricFamily(
            "classcast_edge_requests", "Requests answered, by cache status", labels=["cache"]
        )
        for status, count in sorted(s.requests.items()):
            requests.add_metric([status], count)
        yield requests
        for name, help_text, value in (
            ("bytes_sent", "Body bytes sent to clients", self._bytes_sent()),
            ("fills", "Upstream fills started", s.fills),
            ("coalesced_waiters", "Requests that joined a running fill", s.coalesced),
            ("prefetches", "Fills started by prefetch", s.prefetches),
            ("refreshes", "Background refreshes of stale or expiring objects", s.refreshes),
            ("upstream_errors", "Fills that failed upstream", s.upstream_errors),
            ("disk_errors", "Disk tier write or read errors", s.disk_errors),
            ("fill_seconds", "Total fill time", s.fill_seconds_total),
            (
                "fill_first_byte_seconds",
                "Total upstream time to first byte",
                s.fill_first_byte_seconds_total,
            ),
        ):
            yield CounterMetricFamily(f"classcast_edge_{name}", help_text, value=value)
        for name, value in self._gauges().items():
            yield GaugeMetricFamily(f"classcast_edge_{name}", name.replace("_", " "), value=value)
