"""The cache: lookups across the two tiers, and which fill answers a miss.

It answers with what it holds (a stored object) or a fill to follow; the fill's execution is
fetch.py, the single flight flight.py, prefetch's choice prefetch.py, freshness freshness.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import NamedTuple

from edge.cache.coordinator import FillCoordinator
from edge.cache.disk import DiskTier
from edge.cache.fetch import Fetcher
from edge.cache.flight import Fill, FillRegistry
from edge.cache.freshness import Decision, decide
from edge.cache.hot import HotTier
from edge.cache.keys import CacheKey, classify
from edge.cache.memory import MemoryTier
from edge.cache.prefetch import newest_segments
from edge.cache.stats import Stats
from edge.cache.tiers import Stored

log = logging.getLogger("edge.cache")


# A lookup's answer: the stored copy, its age and what to do with it. A plain tuple: a
# NamedTuple (and its label property) cost about 0.3 µs of the handler's 2 µs per playlist hit
# (scripts/hit_cost.py, against the same code with a tuple)
Found = tuple[Stored, float, Decision]


class Joined(NamedTuple):
    """A miss's fill, and how the request that joined it is labelled."""

    fill: Fill
    x_cache: str  # MISS for the request that started the fill, else COALESCED


class EdgeCache:
    def __init__(
        self,
        memory: MemoryTier,
        disk: DiskTier,
        fetcher: Fetcher,
        stats: Stats,
        *,
        keep_query: frozenset[str],
        prefetch_segments: int,
        refresh_ahead_s: float,
        clock: Callable[[], float],
        coordinator: FillCoordinator | None = None,
        hot: HotTier | None = None,
    ) -> None:
        # disk entries' bodies held in RAM (hot.py; None: off). Its copies go with their disk
        # entries (DiskTier.on_drop): a purge or an eviction reaches them through the disk tier
        self.hot = hot
        self.coordinator = coordinator  # a worker of a node asks it before fetching
        self.clock = clock
        self.memory = memory
        self.disk = disk
        self.fetcher = fetcher
        self.stats = stats
        self.fills = FillRegistry()
        self.keep_query = keep_query
        self.prefetch_segments = prefetch_segments
        self.refresh_ahead_s = refresh_ahead_s
        # told of each live playlist a fill of this worker stored (edge/serve/llhls.py learns
        # the newest LL playlist and its preload hint from it)
        self.on_live_playlist: Callable[[CacheKey], None] | None = None

    # -- lookups ---------------------------------------------------------------------------
    def lookup(self, key: CacheKey) -> Stored | None:
        name = str(key)
        return self.memory.get(name) or self.disk.get(name)

    def find(self, key: CacheKey, asked: Mapping[str, str] | None = None) -> Found | None:
        """What the cache holds for `key` and what to do with it (None: nothing); a copy to
        refresh behind the viewer (stale-while-revalidate, refresh-ahead) is being refreshed
        on return."""
        name = str(key)
        stored = self.memory.get(name) or self.disk.get(name)  # lookup's, inline: every hit
        if stored is None:
            return None
        meta = stored.meta
        age = meta.age(self.clock())
        decision = decide(
            age, meta.freshness, is_live=meta.is_live, refresh_ahead_s=self.refresh_ahead_s
        )
        if decision == "serve_stale" or decision == "serve_and_refresh":
            self.refresh(key, stored, asked)
        return stored, age, decision

    def join(
        self, key: CacheKey, stale: Stored | None, asked: Mapping[str, str] | None = None
    ) -> Joined | Stored:
        """The fill that answers a miss: the running one for `key`, or a new one (revalidating
        `stale` if given). A request that found nothing may run a loop turn after its lookup:
        if a fill stored the object meanwhile, that copy is the answer (a second fill would
        replace the file under its readers)."""
        if stale is None and (stored := self.lookup(key)) is not None:
            return stored
        fill, started = self.fill(key, stale, asked)
        return Joined(fill, "MISS" if started else "COALESCED")

    def settled(self, fill: Fill) -> Stored | None:
        """Where a finished fill left its object: the tier, or the copy a 304 confirmed."""
        return self.lookup(fill.key) or fill.revalidated

    def purged(self, name: str, prefix: bool) -> list[str]:
        """Forget the object named `name`, or every one whose key starts with it (walks both
        indexes); returns the keys forgotten."""
        if prefix:
            names = {k for k in (*self.memory.keys(), *self.disk.keys()) if k.startswith(name)}
        else:
            names = {name}
        return [k for k in names if self.memory.discard(k) | self.disk.discard(k)]

    # -- fills -----------------------------------------------------------------------------
    def fill(
        self,
        key: CacheKey,
        stale: Stored | None = None,
        asked: Mapping[str, str] | None = None,
    ) -> tuple[Fill, bool]:
        """Join the running fill for `key`, or start one (revalidating `stale` if given).

        `asked` are the fields of the request that starts it (lower-case names): its end-to-end
        ones go upstream, its Via chain too, so that tiers configured in a circle see
        themselves and answer 508 (RFC 9110 7.6.3).
        """
        fill, started = self.fills.join_or_start(
            key, classify(key.path), lambda f: self._run(f, stale, asked)
        )
        if not started:
            self.stats.coalesced += 1
        return fill, started

    async def _run(self, fill: Fill, stale: Stored | None, asked: Mapping[str, str] | None) -> None:
        if self.coordinator is not None:
            verdict = await self.coordinator.before_fetch(fill, stale)
            self.stats.coalesced += verdict.followed
            if not verdict.fetch:
                return
            stale = verdict.stale
        self.stats.fills += 1
        await self.fetcher.run(fill, stale, asked)
        outcome = fill.finished.result() if fill.finished.done() else None
        if outcome in ("stored", "passed") and fill.meta is not None and fill.meta.is_live:
            self.prefetch(fill.key, fill.body)  # a live playlist came whole: its newest segments
            if self.on_live_playlist is not None:
                self.on_live_playlist(fill.key)

    def invalidated(self, name: str) -> list[str]:
        """RFC 9111 4.4: forget a URL's stored response and all its variants."""
        return self.purged(name, False) + self.purged(name + "#", True)

    def refresh(self, key: CacheKey, stale: Stored, asked: Mapping[str, str] | None = None) -> None:
        """Revalidate behind the viewers' backs (stale-while-revalidate, refresh-ahead)."""
        if self.fills.get(key) is None:
            self.stats.refreshes += 1
            fill, _ = self.fill(key, stale, asked)
            fill.leave()  # nobody waits on it

    def prefetch(self, playlist_key: CacheKey, body: bytes) -> None:
        """Start fills for the newest segments of a live playlist, so viewers hit them; the
        hot tier promotes the live window's segments on their first hit."""
        window = self.hot.live_segments if self.hot is not None else 0
        newest = newest_segments(
            playlist_key, body, max(window, self.prefetch_segments), self.keep_query
        )
        if self.hot is not None:
            self.hot.mark_live(newest[len(newest) - window :] if window else [])
        fetch = newest[len(newest) - self.prefetch_segments :] if self.prefetch_segments else []
        for key in fetch:
            if self.lookup(key) is None and self.fills.get(key) is None:
                self.stats.prefetches += 1
                fill, _ = self.fill(key)
                fill.leave()  # nobody waits on it

    def hinted(self, key: CacheKey) -> bool:
        """A player named its next object (CMCD nor): fetch it unless held or being fetched."""
        if self.lookup(key) is not None or self.fills.get(key) is not None:
            return False
        self.stats.prefetches += 1
        fill, _ = self.fill(key)
        fill.leave()  # nobody waits on it yet
        return True

    async def close(self) -> None:
        await self.fills.close(grace_s=1.0)
