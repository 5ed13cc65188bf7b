"""Fill execution: one upstream fetch, streamed to the fill's waiters (flight.py) while it
arrives, checked against Content-Length, described by describe.py, and only then stored
in a tier. Nothing here decides whether to fetch: the cache (cache.py) does that."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

import aiohttp
from multidict import CIMultiDictProxy

from edge.cache.describe import completed_meta, head_meta, is_frozen_live, revalidated_meta
from edge.cache.disk import DiskTier, OpenFile, open_for_reading
from edge.cache.flight import Fill, Head
from edge.cache.freshness import FreshnessDefaults
from edge.cache.memory import MemoryObject, MemoryTier
from edge.cache.objects import ObjectMeta
from edge.cache.sink import TempFileSink
from edge.cache.stats import Stats
from edge.cache.tiers import Stored
from edge.cache.upstream import Upstream, forwardable
from edge.cache.variants import marker_for, variant_key
from edge.errors import UpstreamError
from edge.hls import BLOCKING_FILL_DEADLINE, is_blocking, is_m3u8, upstream_hold

log = logging.getLogger("edge.fetch")

Headers = CIMultiDictProxy[str]

READ_CHUNK = 64 * 1024
MAX_BUFFERED_BYTES = 16 * 1024**2  # a playlist or small object larger than this is refused


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
        self.on_store = on_store  # the node's other workers hear of what was stored
        self.fetching = 0  # fills this process is fetching from upstream now
        # LL-HLS paths the upstream may hold (playlists for blocking reloads, hinted parts):
        # their upstream read timeout, longer than the default (edge/serve/llhls.py fills it)
        self.holds: dict[str, float] = {}
        self.clock = clock
        self.monotonic = monotonic

    async def run(
        self, fill: Fill, stale: Stored | None, asked: Mapping[str, str] | None = None
    ) -> None:
        """`asked`: the request that started the fill (lower-case names); its end-to-end
        fields go upstream, its Authorization and the fields Vary names decide the storing."""
        fill.asked = asked or {}
        started = self.monotonic()
        # a playlist that trickles in is as bad as none: bound the whole fill, then fall back
        # to stale-if-error or fail, so players switch instead of waiting on a frozen edge
        deadline = self.playlist_deadline_s if fill.kind == "playlist" else None
        hold = self.holds.get(fill.key.path)
        if is_blocking(fill.key.query):
            hold = hold or upstream_hold(None)
            if deadline is not None:  # the origin holds it on purpose
                deadline = max(deadline, BLOCKING_FILL_DEADLINE, hold)
        elif hold is not None and deadline is not None:  # a plain playlist is never held
            hold = None
        self.fetching += 1
        try:
            async with (
                asyncio.timeout(deadline),
                self.upstream.get(
                    fill.key,
                    _validators(stale),
                    fill.asked.get("via"),
                    forwardable(fill.asked),
                    read_timeout=hold,
                ) as response,
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
            took = self.monotonic() - started
            self.stats.fill_seconds_total += took
            if self.stats.upstream_durations is not None:
                self.stats.upstream_durations.observe(took)

    def _failed(self, fill: Fill, error: UpstreamError) -> None:
        self.stats.upstream_errors += 1
        log.warning("fill failed", extra={"key": str(fill.key), "error": error.reason})
        fill.finish("failed", error)

    async def _receive(
        self, fill: Fill, response: aiohttp.ClientResponse, stale: Stored | None
    ) -> None:
        now = self.clock()
        if response.status == 304 and stale is not None:
            await self._not_modified(fill, stale, response.headers, now)
            return
        meta = head_meta(
            fill.key,
            response.status,
            response.headers,
            response.content_length,
            now,
            self.defaults,
            fill.asked,
        )
        head = Head(response.status, response.headers, response.content_length, meta)
        _check_takeover(fill, head)
        # segments and large objects go through a temp file (kept only if storable); the rest
        # stays in memory
        to_disk = response.status == 200 and (
            meta.kind == "segment" or (meta.kind == "other" and not self.memory.fits(meta.length))
        )
        sink = await self._open_sink(fill) if to_disk else None
        if fill.file_end and sink is None:  # a takeover must write where its waiters read
            raise UpstreamError("no temp file to take the fill over in")
        # waiters wake on the head: the temp file they may stream from must exist by then
        fill.set_head(head)
        digest = await self._body(fill, response, sink, hashed="ETag" not in response.headers)
        body = b"" if to_disk else fill.body
        if meta.kind == "playlist" and response.status == 200 and not is_m3u8(body):
            raise UpstreamError("upstream playlist is not M3U8")  # never cached, never a HIT
        meta = completed_meta(meta, response.headers, body, fill.received, digest, self.defaults)
        if meta.vary and meta.freshness.store:  # RFC 9111 4.1: one copy per variant
            name = str(variant_key(fill.key, meta.vary, fill.asked))
            meta = replace(meta, key=name)
        _check_live_age(meta)
        fill.meta = meta
        storable = not to_disk or (sink is not None and sink.failed is None)
        if storable:
            stored = await self._store(meta, body, sink)
        else:
            stored = False
            if sink is not None:
                await sink.discard()
        fill.finish("stored" if stored else "passed")

    async def _not_modified(self, fill: Fill, stale: Stored, headers: Headers, now: float) -> None:
        """RFC 9111 4.3.4: a 304 freshens the stored copy; its body is not fetched again."""
        meta = revalidated_meta(stale.meta, headers, now, self.defaults)
        _check_live_age(meta)
        await self._update(stale, meta)
        fill.meta = stale.meta
        fill.revalidated = stale  # served from here if the tier dropped it meanwhile
        fill.finish("not_modified")

    async def _body(
        self, fill: Fill, response: aiohttp.ClientResponse, sink: TempFileSink | None, hashed: bool
    ) -> str | None:
        """Read the body into the temp file (or memory, once the disk fails), telling the
        waiters as it grows; returns a digest of it when the origin sent no ETag."""
        hasher = hashlib.blake2b(digest_size=12) if hashed else None
        length = response.content_length
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
        return hasher.hexdigest() if hasher is not None else None

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
        if meta.vary:  # the primary key says which fields pick the variant
            marker = marker_for(meta)
            self.memory.put(marker)
            self.disk.discard(marker.meta.key)
            self._stored(marker)
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


def _check_live_age(meta: ObjectMeta) -> None:
    if is_frozen_live(meta):
        raise UpstreamError(f"upstream live playlist is {meta.initial_age:.0f} s old")


def _validators(stale: Stored | None) -> dict[str, str]:
    if stale is None or stale.meta.status != 200:  # a remembered 404 is simply asked again
        return {}
    meta = stale.meta
    headers = {"If-None-Match": meta.etag} if meta.etag else {}
    if meta.last_modified:
        headers["If-Modified-Since"] = meta.last_modified
    return headers
