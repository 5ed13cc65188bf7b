"""Answers built from the cache: headers out (DESIGN step 6), ranges, 304s, zero-copy bodies."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from edge.cache import Stored
from edge.disk import DiskTier, OpenFile
from edge.fill import FileSpan
from edge.http_rules import ByteRange, is_not_modified, parse_range, range_applies
from edge.memory import MemoryObject
from edge.metrics import Stats
from edge.objects import ObjectMeta
from edge.policy import Freshness
from edge.sendfile import SendStats, can_zero_copy, copy_send, zero_copy

EXPOSED = "Age, X-Cache, Content-Length, Content-Range, ETag, Accept-Ranges, Date"


@dataclass(frozen=True, slots=True)
class HeaderPolicy:
    via: str
    cors_origin: str

    def common(self) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Via"] = f"1.1 {self.via}"
        if self.cors_origin:
            headers["Access-Control-Allow-Origin"] = self.cors_origin
            headers["Access-Control-Expose-Headers"] = EXPOSED
        return headers

    def for_object(self, meta: ObjectMeta) -> CIMultiDict[str]:
        """The headers every answer from this object carries; built once per stored version."""
        headers = self.common()
        headers["Content-Type"] = meta.content_type
        headers["Cache-Control"] = cache_control_out(meta.freshness)
        if meta.status == 200:
            headers["ETag"] = meta.etag
            headers["Last-Modified"] = meta.last_modified
            headers["Accept-Ranges"] = "bytes"
        headers.extend(meta.extra)
        return headers


def cache_control_out(fresh: Freshness) -> str:
    """What downstream caches and players are told; they subtract Age themselves."""
    if not fresh.store:
        return "no-store"
    return f"public, max-age={int(fresh.ttl)}"


class EntryGone(Exception):
    """A stored file could not be opened; the handler treats the request as a miss."""


class Responder:
    """Serves stored objects: HIT, STALE, REVALIDATED and the finished part of MISS."""

    def __init__(
        self,
        policy: HeaderPolicy,
        disk: DiskTier,
        stats: Stats,
        sends: SendStats,
        *,
        use_sendfile: bool = True,
    ) -> None:
        self.use_sendfile = use_sendfile
        self.policy = policy
        self.disk = disk
        self.stats = stats
        self.sends = sends

    def prebuilt(self, stored: Stored) -> CIMultiDict[str]:
        """The object's own headers, built once per stored version (a revalidation rebuilds)."""
        built = stored.headers
        if built is None or built[0] is not stored.meta:
            built = stored.headers = (stored.meta, self.policy.for_object(stored.meta))
        return built[1]

    async def serve(
        self, request: web.BaseRequest, stored: Stored, x_cache: str, age: float
    ) -> web.StreamResponse:
        meta = stored.meta
        self.stats.requests[x_cache] += 1
        asked = request.headers
        if (
            meta.status == 200
            and isinstance(stored, MemoryObject)
            and "Range" not in asked
            and "If-None-Match" not in asked
            and "If-Modified-Since" not in asked
        ):
            # the hot path, a plain playlist hit: no per-request work it does not need
            # (BENCHMARKS.md, hot playlist: CPU per 1000 requests against a bare handler)
            response = web.Response(body=stored.body, headers=self.prebuilt(stored))
            response.headers["Age"] = str(int(age))
            response.headers["X-Cache"] = x_cache
            self.stats.bytes_sent += len(stored.body) if request.method == "GET" else 0
            return response
        headers = self.prebuilt(stored).copy()
        headers["Age"] = str(int(age))
        headers["X-Cache"] = x_cache
        if meta.status != 200:
            body = stored.body if isinstance(stored, MemoryObject) else b""
            return web.Response(status=meta.status, body=body, headers=headers)
        if is_not_modified(
            request.headers.get("If-None-Match"),
            request.headers.get("If-Modified-Since"),
            meta.etag,
            meta.last_modified_ts,
        ):
            return web.Response(status=304, headers=headers)
        window = self._range(request, meta)
        status, offset, count = 200, 0, meta.length
        if window is not None:
            status, offset, count = 206, window.start, window.length
            headers["Content-Range"] = window.content_range(meta.length)
        if isinstance(stored, MemoryObject):
            body = stored.body if window is None else stored.body[offset : offset + count]
            # aiohttp sends Content-Length and no body for HEAD
            self.stats.bytes_sent += count if request.method == "GET" else 0
            return web.Response(status=status, body=body, headers=headers)
        return await self._send_disk(request, stored, status, headers, offset, count)

    async def send_span(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        writer: AbstractStreamWriter,
        handle: OpenFile,
        span: FileSpan,
    ) -> None:
        """Part of a growing fill's temp file, zero-copy where the connection allows."""
        fd = handle.acquire()
        try:
            await self._send_bytes(request, response, writer, fd, span.start, span.count)
        finally:
            handle.release()

    async def _send_bytes(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        writer: AbstractStreamWriter,
        fd: int,
        offset: int,
        count: int,
    ) -> None:
        if self.use_sendfile and can_zero_copy(request):
            await zero_copy(request, writer, fd, offset, count, self.sends)
        else:
            await copy_send(response, fd, offset, count, self.sends)
        self.stats.bytes_sent += count

    def _range(self, request: web.BaseRequest, meta: ObjectMeta) -> ByteRange | None:
        header = request.headers.get("Range")
        if header is None or not range_applies(
            request.headers.get("If-Range"), meta.etag, meta.last_modified
        ):
            return None
        return parse_range(header, meta.length)

    async def _send_disk(
        self,
        request: web.BaseRequest,
        entry: Stored,
        status: int,
        headers: CIMultiDict[str],
        offset: int,
        count: int,
    ) -> web.StreamResponse:
        assert not isinstance(entry, MemoryObject)
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = count
        if request.method == "HEAD":
            await response.prepare(request)
            return response
        try:
            handle = await self.disk.open_file(entry)
        except OSError as exc:  # the file vanished under us: forget it and fetch again
            self.stats.disk_errors += 1
            self.disk.discard_entry(entry)
            raise EntryGone(entry.meta.key) from exc
        try:
            writer = await response.prepare(request)
            assert writer is not None
            await self._send_bytes(request, response, writer, handle.fd, offset, count)
            await response.write_eof()
        except (ConnectionError, TimeoutError):
            if request.transport is not None:
                request.transport.abort()
        finally:
            handle.release()
        return response
