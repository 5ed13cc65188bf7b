"""GET /metrics: the origin's request counters in Prometheus format, by kind of object.

Read from RequestStats on each scrape, so the request path pays nothing extra.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from origin.stats import RequestStats

CONTROL = frozenset({"/healthz", "/readyz", "/metrics", "/_stats", "/_stats/reset", "/_faults"})


def request_kind(path: str) -> str:
    if path in CONTROL:
        return "control"
    if path.endswith(".m3u8"):
        return "playlist"
    if path.startswith("/api/"):
        return "api"
    return "segment" if path.startswith("/vod/") else "other"


class OriginCollector(Collector):
    def __init__(self, stats: RequestStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        by_kind: Counter[str] = Counter()
        for path, count in self._stats.counts().items():
            by_kind[request_kind(path)] += count
        family = CounterMetricFamily(
            "classcast_origin_requests", "Requests received, by kind of object", labels=["kind"]
        )
        for kind, count in sorted(by_kind.items()):
            family.add_metric([kind], count)
        yield family
