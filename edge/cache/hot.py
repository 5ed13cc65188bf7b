"""Hot tier: the bodies of hot disk entries held in RAM, so a hit is one write of head + body.

The disk copy stays the durable one. A hot copy is the bytes of one stored file, read from that
file once the fill (this worker's, or another worker's of the node) has placed it: promotion
never asks upstream. The copy is tied to the file's path, which names one stored version, so a
new version or an evicted file can never be answered from an old copy.

Promotion rule (BENCHMARKS.md, "Hot tier"): reading a 2 MB segment from the page cache into
memory costs about what one sendfile hit does, and every later hit from memory saves a third of
a sendfile hit's server + client CPU. So a segment of a live window (named by the newest lines
of a live playlist this worker filled) is promoted on its first hit, and any other object once
it is hit `min_hits` times within `cool_s` seconds: a long-tail object asked once stays on the
sendfile path and never pushes a hot one out. When the budget is full, a candidate is admitted
only if the copies it would push out (least recently hit first) are hit less often than it is
(`_admits`), so a long tail larger than the budget cannot churn it; a live segment is always
admitted. A copy not hit for `cool_s` seconds is demoted; a promoted one pushes out the least
recently hit (LRU).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cachetools import LRUCache

from edge.cache.disk import DiskEntry

log = logging.getLogger("edge.hot")

MAX_PROMOTING = 4  # reads in flight at once: bounds the memory a burst of promotions takes
CANDIDATES = 65536  # objects whose hits are counted towards promotion (an LRU of counters)
LIVE_KEYS = 4096  # keys named by live playlists, remembered until pushed out (LRU)
SWEEP_S = 1.0  # how often cold copies are looked for
# a candidate pushes copies out only if hit this many times as often as each of them: equal
# rates (a long tail asked in turn) would otherwise swap copies back and forth (edgebench
# hotset, long tail: 501 promotions and 437 evictions in 24 s at a margin of 1)
ADMIT_MARGIN = 2.0


@dataclass(slots=True)
class HotCopy:
    path: Path  # the stored file this copy was read from: one version of the object
    body: bytes
    last_hit: float
    since: float = 0.0  # when it was promoted
    hits: int = 0

    def rate(self, now: float) -> float:
        """Hits a second since promotion (over at least a second)."""
        return self.hits / max(now - self.since, 1.0)


@dataclass(slots=True)
class HotCounters:
    hits: int = 0
    promotions: int = 0
    demotions: int = 0  # cooled: not hit for cool_s
    evictions: int = 0  # pushed out by the byte budget
    refused: int = 0  # a candidate not admitted: the budget is full of copies hit more often
    errors: int = 0  # a promotion read that failed or came out short


@dataclass(slots=True)
class _Candidate:
    first: float
    hits: int = field(default=0)


class HotTier:
    def __init__(
        self,
        budget_bytes: int,
        *,
        min_hits: int,
        cool_s: float,
        live_segments: int,
        clock: Callable[[], float],
        current: Callable[[str], DiskEntry | None] = lambda key: None,
    ) -> None:
        self.budget = budget_bytes
        self.min_hits = min_hits
        self.cool_s = cool_s
        self.live_segments = live_segments
        self.clock = clock  # monotonic seconds
        self.current = current  # the disk index's entry for a key (a copy must match it)
        self.counters = HotCounters()
        self.bytes_used = 0
        self._copies: OrderedDict[str, HotCopy] = OrderedDict()  # least recently hit first
        self._candidates: LRUCache[str, _Candidate] = LRUCache(CANDIDATES)
        self._live: LRUCache[str, bool] = LRUCache(LIVE_KEYS)
        self._promoting: set[str] = set()
        self._pending = 0  # bytes being read in
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self.on_promoted: Callable[[str], None] | None = None  # tests wait on promotions

    def __len__(self) -> int:
        return len(self._copies)

    def held_keys(self) -> list[str]:
        return list(self._copies)

    # -- the hit path ----------------------------------------------------------------------
    def body(self, entry: DiskEntry) -> bytes | None:
        """The entry's bytes if they are held; else the hit counts towards promotion."""
        key = entry.meta.key
        copy = self._copies.get(key)
        if copy is not None and copy.path == entry.path:
            copy.last_hit = self.clock()
            copy.hits += 1
            self._copies.move_to_end(key)
            self.counters.hits += 1
            return copy.body
        if self.budget > 0:
            self._consider(entry)
        return None

    def held(self, entry: DiskEntry) -> bytes | None:
        """The entry's bytes if they are held, without counting a hit."""
        copy = self._copies.get(entry.meta.key)
        return copy.body if copy is not None and copy.path == entry.path else None

    def _consider(self, entry: DiskEntry) -> None:
        key = entry.meta.key
        length = entry.meta.length
        if key in self._promoting or not 0 < length <= self.budget:
            return
        if key not in self._live:
            now = self.clock()
            candidate = self._candidates.get(key)
            if candidate is None or now - candidate.first > self.cool_s:
                candidate = self._candidates[key] = _Candidate(now)
            candidate.hits += 1
            if candidate.hits < self.min_hits:
                return
            if not self._admits(length, candidate.hits / max(now - candidate.first, 1.0), now):
                self.counters.refused += 1
                return
            del self._candidates[key]
            self._promote(entry, candidate)
        else:
            self._promote(entry, _Candidate(self.clock(), 1))

    def _admits(self, length: int, rate: float, now: float) -> bool:
        """Room for `length` bytes, or the copies that would make it (least recently hit
        first) are all hit less than half as often as the candidate. Without this, a long
        tail larger than the budget, each object hit a few times, would read every object in
        only to push it out again (LRU under a cyclic pattern holds nothing). A live segment
        skips it."""
        room = self.budget - self.bytes_used - self._pending
        if room >= length:
            return True
        for copy in self._copies.values():
            if copy.rate(now) * ADMIT_MARGIN >= rate:
                return False
            room += len(copy.body)
            if room >= length:
                return True
        return False

    # -- promotion -------------------------------------------------------------------------
    def mark_live(self, keys: Iterable[object]) -> None:
        """Segments a live playlist names now: promoted on their first hit."""
        for key in keys:
            self._live[str(key)] = True

    def _promote(self, entry: DiskEntry, seen: _Candidate) -> None:
        if len(self._promoting) >= MAX_PROMOTING:
            return  # a later hit tries again
        key = entry.meta.key
        self._promoting.add(key)
        self._pending += entry.meta.length
        task = asyncio.ensure_future(self._read_in(key, entry.path, entry.meta.length, seen))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_in(self, key: str, path: Path, length: int, seen: _Candidate) -> None:
        try:
            body = await asyncio.to_thread(_read_whole, path, length)
        except OSError as exc:
            self.counters.errors += 1
            log.info("hot promotion failed", extra={"key": key, "error": str(exc)})
            return
        finally:
            self._promoting.discard(key)
            self._pending -= length
        entry = self.current(key)
        if entry is None or entry.path != path:
            return  # replaced or evicted while it was read
        # the hits that earned the promotion count in its rate, so a copy just read in is
        # not the first to be pushed out by the next candidate
        self._place(key, HotCopy(path, body, self.clock(), since=seen.first, hits=seen.hits))

    def _place(self, key: str, copy: HotCopy) -> None:
        self.discard(key)
        self.sweep()
        size = len(copy.body)
        while self._copies and self.bytes_used + size > self.budget:
            _, old = self._copies.popitem(last=False)
            self.bytes_used -= len(old.body)
            self.counters.evictions += 1
        self._copies[key] = copy
        self.bytes_used += size
        self.counters.promotions += 1
        if self.on_promoted is not None:
            self.on_promoted(key)

    # -- demotion --------------------------------------------------------------------------
    def discard(self, key: str) -> bool:
        """Forget the copy of `key` (purged, replaced, evicted from disk): later hits are
        answered from the disk tier."""
        copy = self._copies.pop(key, None)
        if copy is None:
            return False
        self.bytes_used -= len(copy.body)
        return True

    def dropped(self, entry: DiskEntry) -> None:
        """The disk index dropped `entry`: its copy goes too (a newer one is promoted anew)."""
        copy = self._copies.get(entry.meta.key)
        if copy is not None and copy.path == entry.path:
            self.discard(entry.meta.key)

    def sweep(self) -> int:
        """Demote the copies not hit for cool_s seconds; returns how many."""
        cold_before = self.clock() - self.cool_s
        demoted = 0
        while self._copies:
            key, oldest = next(iter(self._copies.items()))
            if oldest.last_hit >= cold_before:
                break
            self.discard(key)
            demoted += 1
        self.counters.demotions += demoted
        return demoted

    def start_sweeping(self) -> None:
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_S, self._swept)

    def _swept(self) -> None:
        self.sweep()
        self.start_sweeping()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._copies.clear()
        self.bytes_used = 0


def _read_whole(path: Path, length: int) -> bytes:
    """The whole stored file, which must be `length` bytes (a shorter one is not the version
    the index describes)."""
    body = path.read_bytes()
    if len(body) != length:
        raise OSError(f"{path.name}: {len(body)} bytes, the metadata says {length}")
    return body
