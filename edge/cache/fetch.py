"""Fill execution: one upstream fetch, streamed to the fill's waiters (flight.py) while it
arrives, checked against Content-Length, judged by freshness.py, and only then stored
in a tier. Nothing here decides whether to fetch: the cache (cache.py) does that."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace

import aiohttp
from multidict import CIMultiDictProxy

from classcast.http_rules import http_date, parse_http_date
from edge.cache.disk import DiskEntry, DiskTier, OpenFile, open_for_reading
from edge.cache.flight import Fill, Head
from edge.cache.freshness import (
    CacheControl,
    Freshness,
    FreshnessDefaults,
    delta_seconds,
    freshness,
    is_m3u8,
    parse_cache_control,
    playlist_kind,
)
from edge.cache.keys import CacheKey, ObjectKind, classify
from edge.cache.memory import MemoryObject, MemoryTier
from edge.cache.objects import ObjectMeta
from edge.cache.sink import TempFileSink
from edge.cache.stats import Stats
from edge.cache.upstream import Upstream
from edge.errors import UpstreamError

log = logging.getLogger("edge.fetch")

Stored = MemoryObject | DiskEntry
Headers = CIMultiDictProxy[str]

READ_CHUNK = 64 * 1024
MAX_BUFFERED_BYTES = 16 * 1024**2  # a playlist or small object larger than this is refused
# End-to-end headers kept with the object and sent on (others are rewritten or dropped).
KEPT_HEADERS = ("Content-Encoding", "Content-Language", "Content-Disposition", "Link", "Location")


class Fetcher:
    def __init__(
        self,
        memory: MemoryTier,
        disk: DiskTier,
        upstream: Upstream,
        stats: Stats,
        *,
        defaults: FreshnessDefaults,
        playlist_deadline_s: float,
        on_live_playlist: Callable[[CacheKey, bytes], None],
        on_store: Callable[[Stored], None] | None = None,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self.memory = memory
        self.disk = disk
        self.upstream = upstream
        self.stats = stats
        self.defaults = defaults
        self.playlist_deadline_s = playlist_deadline_s
        self.on_live_playlist = on_live_playlist  # prefetch its newest segments
        self.on_store = on_store  # the node's other workers hear of what was stored
        self.fetching = 0  # fills this process is fetching from upstream now
        self.clock = clock
        self.monotonic = monotonic

    def head_freshness(self, fill: Fill, head: Head) -> Freshness:
        """Freshness known from the status line and headers alone (not for playlists)."""
        kind = classify(fill.key.path, head.headers.get("Content-Type", ""))
        cc = parse_cache_control(head.headers.get("Cache-Control", ""))
        return self._freshness(kind, head.status, cc, None, head.headers)

    async def run(self, fill: Fill, stale: Stored | None, via: str | None) -> None:
        started = self.monotonic()
        # a playlist that trickles in is as bad as none: bound the whole fill, then fall back
        # to stale-if-error or fail, so players switch instead of waiting on a frozen edge
        deadline = self.playlist_deadline_s if fill.kind == "playlist" else None
        self.fetching += 1
        try:
            async with (
                asyncio.timeout(deadline),
                self.upstream.get(fill.key, _validators(stale), via) as response,
            ):
                self.stats.fill_first_byte_seconds_total += self.monotonic() - started
                await self._receive(fill, response, stale)
        except UpstreamError as exc:
            self._failed(fill, exc)
        except TimeoutError:  # before OSError, of which it is a subclass
            self._failed(fill, UpstreamError("upstream timed out", timeout=True))
        except (aiohttp.ClientError, OSError) as exc:
            self._failed(fill, UpstreamError(f"upstream body broke: {type(exc).__name__}"))
        finally:
            self.fetching -= 1
            self.stats.fill_seconds_total += self.monotonic() - started

    def _failed(self, fill: Fill, error: UpstreamError) -> None:
        self.stats.upstream_errors += 1
        log.warning("fill failed", extra={"key": str(fill.key), "error": error.reason})
        fill.finish("failed", error)

    async def _receive(
        self, fill: Fill, response: aiohttp.ClientResponse, stale: Stored | None
    ) -> None:
        now = self.clock()
        cc = parse_cache_control(response.headers.get("Cache-Control", ""))
        upstream_age = _age(response.headers.get("Age"))
        if response.status == 304 and stale is not None:
            meta = stale.meta
            fresh = self._freshness(meta.kind, meta.status, cc, meta, response.headers)
            _check_live_age(meta.playlist, fresh, upstream_age)
            await self._update(stale, meta.revalidated(now, fresh, upstream_age))
            fill.meta = stale.meta
            fill.revalidated = stale  # served from here if the tier dropped it meanwhile
            fill.finish("not_modified")
            return
        kind = classify(fill.key.path, response.headers.get("Content-Type", ""))
        length = response.content_length
        # segments and large objects go through a temp file (kept only if storable); the rest
        # stays in memory
        to_disk = response.status == 200 and (
            kind == "segment" or (kind == "other" and not self.memory.fits(length or 0))
        )
        head = Head(response.status, response.headers, response.content_length)
        _check_takeover(fill, head)
        sink = await self._open_sink(fill) if to_disk else None
        if fill.file_end and sink is None:  # a takeover must write where its waiters read
            raise UpstreamError("no temp file to take the fill over in")
        # waiters wake on the head: the temp file they may stream from must exist by then
        fill.set_head(head)
        hasher = hashlib.blake2b(digest_size=12) if "ETag" not in response.headers else None
        written = 0
        try:
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                if hasher is not None:
                    hasher.update(chunk)
                if sink is not None and not fill.chunks:
                    await sink.write(chunk)
                    if sink.failed is None:
                        written += len(chunk)
                        fill.file_reached(written)
                        continue
                    self.stats.disk_errors += 1  # disk trouble: go on from memory, do not store
                    if written < fill.file_end:  # a takeover behind what waiters have read
                        raise UpstreamError("the disk failed while taking over a fill")
                fill.append(chunk)
                if fill.received - fill.file_end > MAX_BUFFERED_BYTES:
                    raise UpstreamError(f"object over {MAX_BUFFERED_BYTES} bytes for memory")
            if length is not None and fill.received != length:
                raise UpstreamError(f"short body: {fill.received} of {length} bytes")
        except BaseException:
            if sink is not None:
                await sink.discard()
            raise
        storable = not to_disk or (sink is not None and sink.failed is None)
        body = b"" if to_disk else fill.body
        if kind == "playlist" and response.status == 200 and not is_m3u8(body):
            raise UpstreamError("upstream playlist is not M3U8")  # never cached, never a HIT
        is_playlist = kind == "playlist" and response.status == 200 and body
        playlist, target = playlist_kind(body) if is_playlist else (None, None)
        meta = ObjectMeta(
            key=str(fill.key),
            kind=kind,
            status=response.status,
            content_type=response.headers.get("Content-Type", "application/octet-stream"),
            length=fill.received,
            etag=response.headers.get("ETag") or f'"{hasher.hexdigest() if hasher else ""}"',
            last_modified=response.headers.get("Last-Modified") or http_date(now),
            last_modified_ts=parse_http_date(response.headers.get("Last-Modified")) or now,
            stored_at=now,
            initial_age=upstream_age,
            freshness=Freshness(0.0),
            playlist=playlist,
            target_duration=target,
            extra={h: response.headers[h] for h in KEPT_HEADERS if h in response.headers},
        )
        meta = replace(
            meta, freshness=self._freshness(kind, response.status, cc, meta, response.headers)
        )
        _check_live_age(playlist, meta.freshness, upstream_age)
        fill.meta = meta
        if storable:
            stored = await self._store(meta, body, sink)
        else:
            stored = False
            if sink is not None:
                await sink.discard()
        fill.finish("stored" if stored else "passed")
        if playlist == "live":
            self.on_live_playlist(fill.key, body)

    def _freshness(
        self,
        kind: ObjectKind,
        status: int,
        cc: CacheControl,
        meta: ObjectMeta | None,
        headers: Headers,
    ) -> Freshness:
        return freshness(
            kind,
            status,
            cc,
            playlist=meta.playlist if meta else None,
            target_duration=meta.target_duration if meta else None,
            sets_cookie="Set-Cookie" in headers,
            defaults=self.defaults,
        )

    async def _open_sink(self, fill: Fill) -> TempFileSink | None:
        """The temp file a segment fill writes, and a descriptor of it for the waiters."""
        sink = TempFileSink(self.disk.temp_path(str(fill.key)))
        await sink.open()
        if sink.failed is None:
            try:
                fill.take_reader(OpenFile(await open_for_reading(sink.path)))
                fill.temp_path = sink.path
                return sink
            except OSError as exc:
                log.warning("temp file unreadable", extra={"error": str(exc)})
        self.stats.disk_errors += 1
        await sink.discard()
        return None

    async def _store(self, meta: ObjectMeta, body: bytes, sink: TempFileSink | None) -> bool:
        if not meta.freshness.store:
            if sink is not None:
                await sink.discard()
            return False
        if sink is None:
            self.disk.discard(meta.key)
            obj = MemoryObject(meta, body)
            return self.memory.put(obj) and self._stored(obj)
        if not await sink.close() or not self.disk.fits(meta.length):
            self.stats.disk_errors += sink.failed is not None
            await sink.discard()
            return False
        try:
            self._stored(await self.disk.commit(meta, sink.path))
        except OSError as exc:
            self.stats.disk_errors += 1
            log.warning("disk commit failed", extra={"key": meta.key, "error": str(exc)})
            await sink.discard()
            return False
        self.memory.discard(meta.key)
        return True

    async def _update(self, stored: Stored, meta: ObjectMeta) -> None:
        if isinstance(stored, MemoryObject):
            stored.meta = meta
        else:
            await self.disk.update_meta(stored, meta)
        self._stored(stored)

    def _stored(self, stored: Stored) -> bool:
        if self.on_store is not None:
            self.on_store(stored)
        return True


def _check_takeover(fill: Fill, head: Head) -> None:
    """A fill taken over from a worker that died (edge/node/) must fetch the same bytes."""
    started = fill.head.result() if fill.head.done() else None
    if isinstance(started, Head) and not started.same_object(head):
        raise UpstreamError("the object changed while a fill was taken over")


def _check_live_age(playlist: str | None, fresh: Freshness, upstream_age: float) -> None:
    """An upstream cache handing us a frozen live playlist: never pass it on as fresh."""
    if playlist == "live" and fresh.store and upstream_age >= fresh.ttl + fresh.swr:
        raise UpstreamError(f"upstream live playlist is {upstream_age:.0f} s old")


def _validators(stale: Stored | None) -> dict[str, str]:
    if stale is None or stale.meta.status != 200:  # a remembered 404 is simply asked again
        return {}
    meta = stale.meta
    headers = {"If-None-Match": meta.etag} if meta.etag else {}
    if meta.last_modified:
        headers["If-Modified-Since"] = meta.last_modified
    return headers


def _age(value: str | None) -> float:
    return (delta_seconds(value) or 0.0) if value else 0.0
