"""The edge request path (DESIGN "Edge request path"), kept thin: decide, then answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from edge.cache import KEPT_HEADERS, EdgeCache, Stored
from edge.disk import DiskEntry
from edge.errors import LoopDetected, RequestError, UpstreamError
from edge.fill import FileSpan, Fill, Head
from edge.keys import CacheKey, cache_key, classify
from edge.memory import MemoryObject
from edge.objects import ObjectMeta
from edge.playlist_tokens import add_token
from edge.policy import delta_seconds, judge, may_serve_on_error, should_refresh_ahead
from edge.ratelimit import retry_after
from edge.responses import EntryGone, Responder, cache_control_out
from edge.signing import carried_query, needs_token, verify

log = logging.getLogger("edge.handlers")

MAX_VIA_FORWARDED = 512
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
PREFLIGHT_HEADERS = "Range, If-None-Match, If-Modified-Since, If-Range, Origin, Accept"
CONDITIONAL_HEADERS = ("Range", "If-None-Match", "If-Modified-Since")


async def from_fill(fill: Fill, meta: ObjectMeta) -> Stored:
    """A finished fill's body as a stored object, for waiters when the tiers do not have it
    (not storable, the disk failed, or it was evicted at once)."""
    if fill.reader is None or fill.file_end == 0:
        return MemoryObject(meta, fill.body)
    if not fill.spilled:
        return DiskEntry(meta, Path(), file=fill.reader)  # the temp file, through our descriptor
    head = await asyncio.to_thread(os.pread, fill.reader.fd, fill.file_end, 0)
    return MemoryObject(meta, head + fill.body)


def via_chain(request: web.BaseRequest) -> str | None:
    """The request's Via (all its lines) to pass upstream, or None when it is implausibly long
    for a chain of tiers; a fill is shared, so one client must not make it oversized."""
    chain = ", ".join(request.headers.getall("Via", ()))
    return chain if chain and len(chain) <= MAX_VIA_FORWARDED else None


def error_response(status: int, reason: str, common: CIMultiDict[str]) -> web.Response:
    headers = common.copy()
    headers["Cache-Control"] = "no-store"
    return web.Response(status=status, text=reason + "\n", headers=headers)


# >>> signed URLs (issue 9)
SIGNED_PLAYLIST_IGNORED = ("Range", "If-Range", "If-None-Match", "If-Modified-Since")


def _without(headers: CIMultiDictProxy[str], names: tuple[str, ...]) -> CIMultiDict[str]:
    kept = CIMultiDict(headers)
    for name in names:
        kept.popall(name, None)
    return kept


def _with_token(response: web.StreamResponse, token_query: str) -> web.StreamResponse:
    """A signed playlist's child URIs carry the request's token, so players can follow them."""
    if not isinstance(response, web.Response) or response.status != 200:
        return response
    if not isinstance(response.body, bytes) or "mpegurl" not in response.content_type.lower():
        return response
    response.body = add_token(response.body, token_query)
    response.headers.popall("ETag", None)  # not the stored bytes any more
    response.headers["Accept-Ranges"] = "none"
    control = response.headers.get("Cache-Control", "no-store")
    if control != "no-store":  # it names one viewer's token: no shared cache may keep it
        response.headers["Cache-Control"] = control.replace("public", "private")
    return response


# <<< signed URLs


class ContentHandler:
    def __init__(
        self,
        cache: EdgeCache,
        responder: Responder,
        *,
        keep_query: frozenset[str],
        node_id: str,
        refresh_ahead_s: float,
        clock: Callable[[], float],
        sign_keys: tuple[str, ...] = (),
    ) -> None:
        self.sign_keys = sign_keys
        self.cache = cache
        self.responder = responder
        self.keep_query = keep_query
        self.node_id = node_id
        self.refresh_ahead_s = refresh_ahead_s
        self.clock = clock
        self.common = responder.policy.common()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        method = request.method
        if method != "GET" and method != "HEAD":
            return self._other_method(method)
        try:
            key = cache_key(request.raw_path, self.keep_query)
            if self._looped(request.headers.get("Via")):
                raise LoopDetected(f"request already passed through {self.node_id}")
            # >>> signed URLs (issue 9): verify before any cache lookup; carry onto the new front
            if self.sign_keys and needs_token(key.path):
                return await self._signed(request, key)
            # <<< signed URLs
            return await self._answer(request, key)
        except RequestError as exc:
            response = self._error(exc.status, exc.reason)
            response.headers.update(exc.headers)
            return response

    async def _answer(self, request: web.BaseRequest, key: CacheKey) -> web.StreamResponse:
        stored = self.cache.lookup(key)
        if stored is not None:
            meta = stored.meta
            age = meta.age(self.clock())
            verdict = judge(age, meta.freshness)
            if verdict != "expired":
                if verdict == "stale" or (
                    meta.is_live and should_refresh_ahead(age, meta.freshness, self.refresh_ahead_s)
                ):
                    self.cache.refresh(key, stored)
                try:
                    return await self.responder.serve(
                        request, stored, "HIT" if verdict == "fresh" else "STALE", age
                    )
                except EntryGone:
                    stored = None
        return await self._miss(request, key, stored)

    async def _miss(
        self, request: web.BaseRequest, key: CacheKey, stale: Stored | None
    ) -> web.StreamResponse:
        fill, started = self.cache.fill(key, stale, via_chain(request))
        try:
            return await self._wait(request, key, stale, fill, "MISS" if started else "COALESCED")
        finally:
            fill.leave()

    async def _wait(
        self,
        request: web.BaseRequest,
        key: CacheKey,
        stale: Stored | None,
        fill: Fill,
        x_cache: str,
    ) -> web.StreamResponse:
        # shield: a client hanging up must not cancel what other waiters are waiting on
        head = await asyncio.shield(fill.head)
        if isinstance(head, Head) and self._streams(request, fill, head):
            return await self._stream(request, fill, head, x_cache)
        outcome = await asyncio.shield(fill.finished)
        if outcome in ("stored", "not_modified"):
            stored = self.cache.lookup(key) or fill.revalidated
            if stored is not None:
                label = "REVALIDATED" if outcome == "not_modified" else x_cache
                with contextlib.suppress(EntryGone):  # evicted and deleted already: see below
                    return await self.responder.serve(
                        request, stored, label, stored.meta.age(self.clock())
                    )
            if outcome == "not_modified":  # the copy it confirmed is gone: fetch it whole
                return await self._miss(request, key, None)
        answered = fill.meta  # what the origin said, when it said anything
        if outcome != "failed" and answered is not None and answered.status < 500:
            return await self.responder.serve(request, await from_fill(fill, answered), x_cache, 0)
        if stale is not None and may_serve_on_error(
            age := stale.meta.age(self.clock()), stale.meta.freshness
        ):
            return await self.responder.serve(request, stale, "STALE", age)
        if outcome != "failed" and answered is not None:  # the origin's 5xx, passed on uncached
            return await self.responder.serve(request, await from_fill(fill, answered), x_cache, 0)
        error = fill.error or UpstreamError("upstream failed")
        # >>> issue 9: a live playlist past its stale cap fails so players switch or retry
        # (DESIGN policy table): 503 with when to ask again (RFC 9110 15.6.4, 10.2.3)
        if stale is not None and stale.meta.is_live:
            self.responder.stats.requests["503"] += 1
            response = self._error(503, f"live playlist unavailable: {error.reason}")
            response.headers["Retry-After"] = retry_after(stale.meta.target_duration or 1.0)
            return response
        # <<< issue 9
        self.responder.stats.requests[str(error.status)] += 1
        return self._error(error.status, error.reason)

    def _streams(self, request: web.BaseRequest, fill: Fill, head: Head) -> bool:
        """Stream a body while it arrives only when the plain 200 is what the client wants."""
        return (
            head.status == 200
            and fill.reader is not None  # a segment being written to its temp file
            and head.length is not None  # raw file bytes cannot go inside chunked framing
            and request.method == "GET"
            and not fill.finished.done()
            and not any(h in request.headers for h in CONDITIONAL_HEADERS)
        )

    async def _stream(
        self, request: web.BaseRequest, fill: Fill, head: Head, x_cache: str
    ) -> web.StreamResponse:
        headers = self.common.copy()
        upstream = head.headers
        headers["Content-Type"] = upstream.get("Content-Type", "application/octet-stream")
        for name in ("ETag", "Last-Modified", *KEPT_HEADERS):
            if name in upstream:
                headers[name] = upstream[name]
        headers["Cache-Control"] = cache_control_out(self.cache.head_freshness(fill, head))
        headers["Accept-Ranges"] = "bytes"
        headers["Age"] = str(int(delta_seconds(upstream.get("Age", "0")) or 0))
        headers["X-Cache"] = x_cache
        response = web.StreamResponse(status=200, headers=headers)
        if head.length is not None:
            response.content_length = head.length
        self.responder.stats.requests[x_cache] += 1
        try:
            writer = await response.prepare(request)
            assert writer is not None
            async for part in fill.follow():
                if isinstance(part, FileSpan):
                    assert fill.reader is not None
                    await self.responder.send_span(request, response, writer, fill.reader, part)
                else:
                    await response.write(part)
                    self.responder.stats.bytes_sent += len(part)
            await response.write_eof()
        except (UpstreamError, ConnectionError, TimeoutError) as exc:
            # never end a short body as if it were complete: drop the connection instead
            # (if the client left, the fill goes on for the others all the same)
            log.info("streamed answer cut", extra={"key": str(fill.key), "error": repr(exc)})
            if request.transport is not None:
                request.transport.abort()
        return response

    # >>> signed URLs (issue 9) --------------------------------------------------------------
    async def _signed(self, request: web.BaseRequest, key: CacheKey) -> web.StreamResponse:
        raw_query = request.raw_path.partition("?")[2]
        verdict = verify(key.path, raw_query, request.remote or "", self.clock(), self.sign_keys)
        if not verdict.ok:
            return self._error(verdict.status, verdict.reason)
        if classify(key.path) != "playlist":
            return await self._answer(request, key)
        # the body is rewritten per token, so answer it whole: a Range or a validator of the
        # stored bytes does not apply to it (RFC 9110 14.2 lets a server ignore Range)
        plain = request.clone(headers=_without(request.headers, SIGNED_PLAYLIST_IGNORED))
        response = await self._answer(plain, key)
        return _with_token(response, carried_query(raw_query))

    # <<< signed URLs

    def _looped(self, via: str | None) -> bool:
        """RFC 9110 7.6.3: Via lists "protocol received-by" per hop; ours must not be there."""
        if via is None:
            return False
        return any(hop.split()[-1:] == [self.node_id] for hop in via.split(","))

    def _other_method(self, method: str) -> web.Response:
        if method == "OPTIONS":
            return self._preflight()
        response = self._error(405, f"method {method} not allowed")
        response.headers["Allow"] = ALLOWED_METHODS
        return response

    def _preflight(self) -> web.Response:
        headers = self.common.copy()
        headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
        headers["Access-Control-Max-Age"] = "86400"
        return web.Response(status=204, headers=headers)

    def _error(self, status: int, reason: str) -> web.Response:
        if status < 500:
            self.responder.stats.requests[str(status)] += 1
        return error_response(status, reason, self.common)
