"""The content handler (DESIGN "Edge request path"): a Request value in, an answer value out.

It asks the cache what it holds and what the policy says of it, then answers: from the stored
copy, by following a fill, or with an error. No sockets here: the protocol (edge/http/) writes
what this returns, and tests can call it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable

from edge.cache import KEPT_HEADERS, EdgeCache, Stored
from edge.errors import LoopDetected, RequestError, UpstreamError
from edge.fill import Fill, Head
from edge.http.heads import HeaderPolicy, per_request
from edge.http.messages import Answer, AnyAnswer, FileRange, Request, StreamAnswer
from edge.keys import CacheKey, cache_key
from edge.metrics import Stats
from edge.policy import decide, delta_seconds, may_serve_on_error
from edge.responses import EntryGone, Responder, cache_control_out

MAX_VIA_FORWARDED = 512
CONDITIONAL_HEADERS = ("range", "if-none-match", "if-modified-since")


def via_chain(request: Request) -> str | None:
    """The request's Via (all its lines) to pass upstream, or None when it is implausibly long
    for a chain of tiers; a fill is shared, so one client must not make it oversized."""
    chain = request.headers.get("via")
    return chain if chain and len(chain) <= MAX_VIA_FORWARDED else None


class ContentHandler:
    def __init__(
        self,
        cache: EdgeCache,
        responder: Responder,
        stats: Stats,
        *,
        keep_query: frozenset[str],
        node_id: str,
        refresh_ahead_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.cache = cache
        self.responder = responder
        self.heads: HeaderPolicy = responder.policy
        self.stats = stats
        self.keep_query = keep_query
        self.node_id = node_id
        self.refresh_ahead_s = refresh_ahead_s
        self.clock = clock

    def handle(self, request: Request) -> AnyAnswer | Awaitable[AnyAnswer]:
        """A hit is answered at once; anything that must wait returns a coroutine."""
        method = request.method
        if method != "GET" and method != "HEAD":
            return self._other_method(method)
        if request.body:
            return self._error(400, f"a {method} request carries no body")
        try:
            key = cache_key(request.target, self.keep_query)
            if self._looped(request.headers.get("via")):
                raise LoopDetected(f"request already passed through {self.node_id}")
            stored = self.cache.lookup(key)
            if stored is None:
                return self._guarded(self._miss(request, key, None))
            age = stored.meta.age(self.clock())
            decision = decide(
                age, stored.meta.freshness, is_live=stored.meta.is_live,
                refresh_ahead_s=self.refresh_ahead_s,
            )  # fmt: skip
            if decision == "miss":
                return self._guarded(self._miss(request, key, stored))
            if decision != "serve":
                self.cache.refresh(key, stored)
            label = "STALE" if decision == "serve_stale" else "HIT"
            answer = self.responder.serve_now(request, stored, label, age)
            if answer is None:  # a disk entry whose file is not open yet
                return self._guarded(self._serve_later(request, key, stored, label, age))
            return self._counted(answer)
        except RequestError as exc:
            return self._refusal(exc)

    async def _guarded(self, answering: Awaitable[AnyAnswer]) -> AnyAnswer:
        try:
            return self._counted(await answering)
        except RequestError as exc:
            return self._refusal(exc)

    def _counted(self, answer: AnyAnswer) -> AnyAnswer:
        self.stats.requests[answer.x_cache if answer.x_cache != "-" else str(answer.status)] += 1
        return answer

    async def _serve_later(
        self, request: Request, key: CacheKey, stored: Stored, label: str, age: float
    ) -> AnyAnswer:
        try:
            return await self.responder.serve(request, stored, label, age)
        except EntryGone:
            return await self._miss(request, key, None)

    async def _miss(self, request: Request, key: CacheKey, stale: Stored | None) -> AnyAnswer:
        fill, started = self.cache.fill(key, stale, via_chain(request))
        try:
            answer = await self._wait(request, key, stale, fill, "MISS" if started else "COALESCED")
        except BaseException:
            fill.leave()
            raise
        if isinstance(answer, StreamAnswer):
            answer.release = fill.leave  # the waiter leaves once the stream is sent
        else:
            fill.leave()
        return answer

    async def _wait(
        self, request: Request, key: CacheKey, stale: Stored | None, fill: Fill, x_cache: str
    ) -> AnyAnswer:
        # shield: a client hanging up must not cancel what other waiters are waiting on
        head = await asyncio.shield(fill.head)
        if isinstance(head, Head) and self._streams(request, fill, head):
            return self._stream(fill, head, x_cache)
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
            return await self.responder.serve(request, await fill.as_stored(answered), x_cache, 0)
        if stale is not None and may_serve_on_error(
            age := stale.meta.age(self.clock()), stale.meta.freshness
        ):
            return await self.responder.serve(request, stale, "STALE", age)
        if outcome != "failed" and answered is not None:  # the origin's 5xx, passed on uncached
            return await self.responder.serve(request, await fill.as_stored(answered), x_cache, 0)
        error = fill.error or UpstreamError("upstream failed")
        return self.heads.error(error.status, error.reason)

    def _streams(self, request: Request, fill: Fill, head: Head) -> bool:
        """Stream a body while it arrives only when the plain 200 is what the client wants."""
        return (
            head.status == 200
            and fill.reader is not None  # a segment being written to its temp file
            and head.length is not None  # the length is promised before the body is known
            and request.method == "GET"
            and not fill.finished.done()
            and not any(h in request.headers for h in CONDITIONAL_HEADERS)
        )

    def _stream(self, fill: Fill, head: Head, x_cache: str) -> StreamAnswer:
        upstream = head.headers
        assert head.length is not None
        headers = self.heads.representation(
            content_type=upstream.get("Content-Type", "application/octet-stream"),
            cache_control=cache_control_out(self.cache.head_freshness(fill, head)),
            etag=upstream.get("ETag"),
            last_modified=upstream.get("Last-Modified"),
            extra={name: upstream[name] for name in KEPT_HEADERS if name in upstream},
            ranges=True,
        )
        age = delta_seconds(upstream.get("Age", "0")) or 0
        return StreamAnswer(
            200, headers + per_request(age, x_cache), head.length, _parts(fill), x_cache=x_cache
        )

    def _looped(self, via: str | None) -> bool:
        """RFC 9110 7.6.3: Via lists "protocol received-by" per hop; ours must not be there."""
        if via is None:
            return False
        return any(hop.split()[-1:] == [self.node_id] for hop in via.split(","))

    def _other_method(self, method: str) -> Answer:
        if method == "OPTIONS":
            return self.heads.preflight()
        return self._error(405, f"method {method} not allowed", {"Allow": "GET, HEAD, OPTIONS"})

    def _refusal(self, exc: RequestError) -> Answer:
        return self._error(exc.status, exc.reason, exc.headers)

    def _error(self, status: int, reason: str, extra: dict[str, str] | None = None) -> Answer:
        self.stats.requests[str(status)] += 1
        return self.heads.error(status, reason, extra)


async def _parts(fill: Fill) -> AsyncGenerator[bytes | FileRange, None]:
    """The fill's body as it arrives: spans of its temp file, then memory chunks."""
    async for part in fill.follow():
        if isinstance(part, bytes):
            yield part
            continue
        reader = fill.reader
        assert reader is not None
        fd = reader.acquire()
        try:
            yield FileRange(fd, part.start, part.count)
        finally:
            reader.release()
