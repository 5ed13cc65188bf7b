"""The recorder: what every request and every finished session adds to the run's statistics."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from loadtest.models.actions import RequestKind
from loadtest.models.report import ViewerReport
from loadtest.stats import CohortStats, Interval, RequestStats

# X-Cache values that mean "answered from the cache" for the hit ratio; COALESCED and
# REVALIDATED waited on the upstream, so they are not hits.
CACHE_HITS = frozenset({"HIT", "STALE"})


@dataclass(frozen=True, slots=True)
class RequestRecord:
    kind: RequestKind
    cohort: str
    url: str
    status: int
    started: float  # seconds since the run started
    ttfb: float
    total: float
    size: int
    cache: str
    segment_duration: float = 0.0


@dataclass
class RunStats:
    requests: dict[str, RequestStats] = field(default_factory=dict)
    cohorts: dict[str, CohortStats] = field(default_factory=dict)
    timeline: list[Interval] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": {kind: stats.to_dict() for kind, stats in self.requests.items()},
            "cohorts": {name: stats.to_dict() for name, stats in self.cohorts.items()},
            "timeline": [interval.to_dict() for interval in self.timeline],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStats:
        return cls(
            {kind: RequestStats.from_dict(value) for kind, value in data["requests"].items()},
            {name: CohortStats.from_dict(value) for name, value in data["cohorts"].items()},
            [Interval.from_dict(value) for value in data["timeline"]],
        )

    def merge(self, other: RunStats) -> None:
        for kind, stats in other.requests.items():
            self.requests.setdefault(kind, RequestStats()).merge(stats)
        for name, cohort in other.cohorts.items():
            self.cohorts.setdefault(name, CohortStats()).merge(cohort)
        for index, interval in enumerate(other.timeline):
            if index < len(self.timeline):
                self.timeline[index].merge(interval)
            else:
                self.timeline.append(interval)


Tapped = tuple[str, int, float, int]


class Recorder:
    def __init__(self, request_log: IO[bytes] | None = None) -> None:
        self.stats = RunStats()
        self.current = Interval()
        self.request_log = request_log
        # each request's (kind, status, seconds to the last byte, bytes), for a host that keeps
        # its own statistics (Locust's request table); a deque: appends are atomic
        self.tap: collections.deque[Tapped] | None = None

    def record_request(self, record: RequestRecord) -> None:
        if self.tap is not None:
            self.tap.append((record.kind, record.status, record.total, record.size))
        stats = self.stats.requests.get(record.kind)
        if stats is None:
            stats = self.stats.requests[record.kind] = RequestStats()
        failed = record.status == 0 or record.status >= 500
        stats.count += 1
        stats.bytes += record.size
        stats.failures += failed
        status = str(record.status)
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if record.status:
            stats.ttfb.record(record.ttfb)
            stats.total.record(record.total)
        if record.cache:
            stats.cache[record.cache] = stats.cache.get(record.cache, 0) + 1
        self._record_interval(record, failed)
        if record.kind == "segment" and record.segment_duration > 0 and 200 <= record.status < 300:
            self.cohort(record.cohort).segment_ratio.record(record.total / record.segment_duration)
        if self.request_log is not None:
            # A buffered file: the write lands in memory and reaches the disk 8 KB at a time.
            self.request_log.write(orjson.dumps(record) + b"\n")

    def _record_interval(self, record: RequestRecord, failed: bool) -> None:
        current = self.current
        current.requests += 1
        current.failures += failed
        current.bytes += record.size
        if record.status:
            current.ttfb.record(record.ttfb)
        if record.cache:
            current.cache_known += 1
            current.cache_hits += record.cache in CACHE_HITS

    def record_session(self, report: ViewerReport) -> None:
        cohort = self.cohort(report.cohort)
        cohort.sessions += 1
        cohort.start_failures += report.start_failed
        if report.startup_time is not None:
            cohort.startup_time.record(report.startup_time)
        cohort.rebuffers += report.rebuffer_count
        cohort.rebuffer_s += report.rebuffer_s
        cohort.played_s += report.played_s
        if report.played_s + report.rebuffer_s > 0:
            cohort.rebuffer_ratio.record(report.rebuffer_ratio)
        if report.played_s > 0:
            cohort.bitrate.record(report.bitrate_bps)
            cohort.bitrate_bits += report.bitrate_bps * report.played_s
        cohort.switches += report.switches
        for name, seconds in report.seconds_by_rendition.items():
            cohort.seconds_by_rendition[name] = cohort.seconds_by_rendition.get(name, 0.0) + seconds
        if report.live_lag_mean is not None:
            cohort.live_lag.record(report.live_lag_mean)
        for seconds in report.latency_samples:
            cohort.latency.record(max(0.0, seconds))
        cohort.stale_playlists += report.stale_playlists
        cohort.not_found += report.not_found
        cohort.errors += report.errors
        cohort.resyncs += report.resyncs

    def cohort(self, name: str) -> CohortStats:
        stats = self.stats.cohorts.get(name)
        if stats is None:
            stats = self.stats.cohorts[name] = CohortStats()
        return stats

    def close_interval(self) -> Interval:
        """End the current timeline slice and start the next."""
        finished, self.current = self.current, Interval()
        self.stats.timeline.append(finished)
        return finished
