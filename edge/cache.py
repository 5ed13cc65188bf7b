"""The cache: lookups across the two tiers, and which fill answers a miss.

It answers with what it holds (a stored object) or a fill to follow; the fill's execution is
filler.py, the single flight fill.py, prefetch's choice prefetch.py, freshness policy.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge.disk import DiskEntry, DiskTier
from edge.fill import Fill, FillRegistry, Head
from edge.filler import Filler
from edge.keys import CacheKey, classify
from edge.memory import MemoryObject, MemoryTier
from edge.metrics import Stats
from edge.policy import Freshness, PolicyDefaults
from edge.prefetch import newest_segments
from edge.upstream import Upstream

log = logging.getLogger("edge.cache")

Stored = MemoryObject | DiskEntry


class EdgeCache:
    def __init__(
        self,
        memory: MemoryTier,
        disk: DiskTier,
        upstream: Upstream,
        stats: Stats,
        *,
        defaults: PolicyDefaults,
        keep_query: frozenset[str],
        prefetch_segments: int,
        playlist_deadline_s: float,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self.memory = memory
        self.disk = disk
        self.upstream = upstream
        self.stats = stats
        self.fills = FillRegistry()
        self.keep_query = keep_query
        self.prefetch_segments = prefetch_segments
        self.filler = Filler(
            memory,
            disk,
            upstream,
            stats,
            defaults=defaults,
            playlist_deadline_s=playlist_deadline_s,
            on_live_playlist=self.prefetch,
            clock=clock,
            monotonic=monotonic,
        )

    # -- lookups ---------------------------------------------------------------------------
    def lookup(self, key: CacheKey) -> Stored | None:
        name = str(key)
        return self.memory.get(name) or self.disk.get(name)

    def purge(self, key: CacheKey) -> bool:
        name = str(key)
        return self.memory.discard(name) | self.disk.discard(name)

    def purge_prefix(self, prefix: str) -> int:
        """Forget every object whose key starts with `prefix` (walks both indexes)."""
        names = [k for k in (*self.memory.keys(), *self.disk.keys()) if k.startswith(prefix)]
        return sum(self.memory.discard(k) | self.disk.discard(k) for k in set(names))

    # -- fills -----------------------------------------------------------------------------
    def fill(
        self, key: CacheKey, stale: Stored | None = None, via: str | None = None
    ) -> tuple[Fill, bool]:
        """Join the running fill for `key`, or start one (revalidating `stale` if given).

        `via` is the Via chain of the request that starts it, passed on upstream so that tiers
        configured in a circle see themselves and answer 508 (RFC 9110 7.6.3).
        """
        fill, started = self.fills.join_or_start(
            key, classify(key.path), lambda f: self.filler.run(f, stale, via)
        )
        if started:
            self.stats.fills += 1
        else:
            self.stats.coalesced += 1
        return fill, started

    def refresh(self, key: CacheKey, stale: Stored) -> None:
        """Revalidate behind the viewers' backs (stale-while-revalidate, refresh-ahead)."""
        if self.fills.get(key) is None:
            self.stats.refreshes += 1
            fill, _ = self.fill(key, stale)
            fill.leave()  # nobody waits on it

    def head_freshness(self, fill: Fill, head: Head) -> Freshness:
        return self.filler.head_freshness(fill, head)

    def prefetch(self, playlist_key: CacheKey, body: bytes) -> None:
        """Start fills for the newest segments of a live playlist, so viewers hit them."""
        for key in newest_segments(playlist_key, body, self.prefetch_segments, self.keep_query):
            if self.lookup(key) is None and self.fills.get(key) is None:
                self.stats.prefetches += 1
                fill, _ = self.fill(key)
                fill.leave()  # nobody waits on it

    async def close(self) -> None:
        await self.fills.close(grace_s=1.0)
