"""Mergeable statistics: plain dataclasses of counters, sums and histograms.

A worker process serialises its stats with `to_dict`; the parent rebuilds and `merge`s them.
Counters and sums add, histograms merge, per-key tallies add key by key, and the few gauges
listed in `MAXIMA` keep the largest value (a run is as lagged as its worst process).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

from loadtest.histogram import Histogram


class Mergeable:
    MAXIMA: ClassVar[tuple[str, ...]] = ()

    def merge(self, other: Self) -> None:
        for item in fields(self):  # type: ignore[arg-type]
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, Histogram):
                mine.merge(theirs)
            elif isinstance(mine, dict):
                for key, value in theirs.items():
                    mine[key] = mine.get(key, 0) + value
            elif item.name in self.MAXIMA:
                setattr(self, item.name, max(mine, theirs))
            else:
                setattr(self, item.name, mine + theirs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            out[item.name] = value.to_dict() if isinstance(value, Histogram) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        values = {
            key: Histogram.from_dict(value)
            if isinstance(value, dict) and "buckets" in value
            else value
            for key, value in data.items()
        }
        return cls(**values)


@dataclass
class RequestStats(Mergeable):
    """Requests of one kind (master, playlist, segment)."""

    count: int = 0
    bytes: int = 0
    failures: int = 0  # transport errors and 5xx
    ttfb: Histogram = field(default_factory=Histogram)
    total: Histogram = field(default_factory=Histogram)
    statuses: dict[str, int] = field(default_factory=dict)
    cache: dict[str, int] = field(default_factory=dict)  # the server's X-Cache values


@dataclass
class CohortStats(Mergeable):
    """Quality of experience summed over the sessions of one cohort (stb, phone)."""

    sessions: int = 0
    start_failures: int = 0
    startup_time: Histogram = field(default_factory=Histogram)
    rebuffers: int = 0
    rebuffer_s: float = 0.0
    played_s: float = 0.0
    rebuffer_ratio: Histogram = field(default_factory=Histogram)  # one sample per session
    bitrate_bits: float = 0.0  # bit/s x seconds played, for the time-weighted mean
    bitrate: Histogram = field(default_factory=Histogram)  # per-session time-weighted bitrate
    switches: int = 0
    seconds_by_rendition: dict[str, float] = field(default_factory=dict)
    segment_ratio: Histogram = field(default_factory=Histogram)  # download time / duration
    live_lag: Histogram = field(default_factory=Histogram)  # per-session mean
    latency: Histogram = field(default_factory=Histogram)  # behind live, every LL sample
    stale_playlists: int = 0
    not_found: int = 0
    errors: int = 0
    resyncs: int = 0


@dataclass
class Interval(Mergeable):
    """One slice of the timeline (`sample_interval_s` long)."""

    MAXIMA: ClassVar[tuple[str, ...]] = ("loop_lag_p99",)

    viewers: int = 0
    playing: int = 0
    stalled: int = 0
    starting: int = 0
    requests: int = 0
    failures: int = 0
    bytes: int = 0
    cache_hits: int = 0
    cache_known: int = 0
    ttfb: Histogram = field(default_factory=Histogram)
    bitrate_mix: dict[str, int] = field(default_factory=dict)  # playing viewers per rendition
    cpu: float = 0.0  # cores busy in the generator
    loop_lag_p99: float = 0.0
