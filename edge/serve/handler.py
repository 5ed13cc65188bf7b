"""The content handler (DESIGN "Edge request path"): a Request value in, an answer value out.

It asks the cache what it holds and what freshness says of it, then answers: from the stored
copy, by following a fill, or with an error. No sockets here: the protocol (edge/http/) writes
what this returns, and tests can call it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import replace

from edge.cache.cache import EdgeCache, Joined
from edge.cache.flight import Fill, Head
from edge.cache.keys import CacheKey, cache_key, classify
from edge.cache.stats import Stats
from edge.cache.tiers import Stored
from edge.cache.variants import VARY_MARKER, variant_key
from edge.errors import LoopDetected, RequestError, UpstreamError
from edge.http.heads import HeadBuilder
from edge.http.messages import (
    Answer,
    AnyAnswer,
    FileAnswer,
    FileRange,
    Held,
    Request,
    StreamAnswer,
)
from edge.http.ratelimit import retry_after
from edge.serve.answers import EntryGone, Responder
from edge.serve.llhls import LowLatency
from edge.serve.miss import StaleCopy, miss_end
from edge.serve.passthrough import Invalidate, pass_through
from edge.serve.playlist_tokens import add_token
from edge.serve.signing import carried_query, needs_token, verify

MAX_VIA_FORWARDED = 512
# methods passed through to the upstream unless refused in config (refused_methods)
PASSABLE = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH")
CONDITIONAL_HEADERS = ("range", "if-none-match", "if-modified-since")
# a signed playlist is rewritten per token: Range and validators of the stored bytes do not
# apply to it (RFC 9110 14.2 lets a server ignore Range)
SIGNED_PLAYLIST_IGNORED = ("range", "if-range", "if-none-match", "if-modified-since")


def via_chain(request: Request) -> str | None:
    """The request's Via (all its lines) to pass upstream, or None when it is implausibly long
    for a chain of tiers; a fill is shared, so one client must not make it oversized."""
    chain = request.headers.get("via")
    return chain if chain and len(chain) <= MAX_VIA_FORWARDED else None


def asked_fields(request: Request) -> Mapping[str, str]:
    """The request's fields a fill it starts is made with (upstream.forwardable filters them)."""
    headers = request.headers
    if "via" in headers and via_chain(request) is None:
        return {k: v for k, v in headers.items() if k != "via"}
    return headers


async def _nothing_to_invalidate(names: list[str]) -> None:
    return None


class OtherVariant(Exception):
    """A coalesced request whose Vary'd fields differ from the fill's: it fetches its own."""

    def __init__(self, key: CacheKey) -> None:
        super().__init__(str(key))
        self.key = key


class ContentHandler:
    def __init__(
        self,
        cache: EdgeCache,
        responder: Responder,
        stats: Stats,
        *,
        keep_query: frozenset[str],
        node_id: str,
        clock: Callable[[], float],
        sign_keys: tuple[str, ...] = (),
        refused_methods: frozenset[str] = frozenset(),
        invalidate: Invalidate = _nothing_to_invalidate,
    ) -> None:
        self.sign_keys = sign_keys
        self.refused_methods = refused_methods  # answered 405 here (a GET-only edge)
        self.invalidate = invalidate  # RFC 9111 4.4, on every worker of the node
        self.cache = cache
        self.responder = responder
        self.heads: HeadBuilder = responder.heads
        self.stats = stats
        self.keep_query = keep_query
        self.node_id = node_id
        self.clock = clock
        self.low_latency = LowLatency(cache, responder, clock, self._ordinary, self._count_many)

    def handle(self, request: Request) -> AnyAnswer | Held | Awaitable[AnyAnswer]:
        """A hit is answered at once; anything that must wait returns a coroutine."""
        method = request.method
        if method != "GET" and method != "HEAD":
            return self._other_method(request)
        if request.body:
            return self._error(400, f"a {method} request carries no body")
        try:
            key = cache_key(request.target, self.keep_query)
            if self._looped(request.headers.get("via")):
                raise LoopDetected(f"request already passed through {self.node_id}")
            if self.sign_keys and needs_token(key.path):
                return self._signed(request, key)
            if "_HLS_" in key.query:  # held requests share one answer (edge/serve/llhls.py)
                return self.low_latency.answer_shared(request, key)
            return self._answer(request, key)
        except RequestError as exc:
            return self._refusal(exc)

    def _answer(self, request: Request, key: CacheKey) -> AnyAnswer | Awaitable[AnyAnswer]:
        if "_HLS_" in key.query:  # LL-HLS delivery directives (edge/serve/llhls.py)
            return self.low_latency.answer(request, key)
        if key.path in self.low_latency.hints:  # a preload-hinted part: held, never 404
            return self.low_latency.hinted_part(request, key)
        return self._ordinary(request, key)

    def _ordinary(self, request: Request, key: CacheKey) -> AnyAnswer | Awaitable[AnyAnswer]:
        try:
            found = self.cache.find(key, request.headers)
            if found is not None and found[0].meta.status == VARY_MARKER:
                key = variant_key(key, found[0].meta.vary, request.headers)
                found = self.cache.find(key, request.headers)
            if found is None:
                return self._guarded(self._miss(request, key, None))
            stored, age, decision = found
            if decision == "miss":
                return self._guarded(self._miss(request, key, stored))
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

    def _count_many(self, label: str, count: int) -> None:
        self.stats.requests[label] += count

    def _counted(self, answer: AnyAnswer) -> AnyAnswer:
        self.stats.requests[answer.x_cache if answer.x_cache != "-" else str(answer.status)] += 1
        return answer

    async def _serve_later(
        self, request: Request, key: CacheKey, stored: Stored, label: str, age: float
    ) -> AnyAnswer:
        try:
            return await self.responder.serve(request, stored, label, age, again=True)
        except EntryGone:
            return await self._miss(request, key, None)

    async def _miss(self, request: Request, key: CacheKey, stale: Stored | None) -> AnyAnswer:
        joined = self.cache.join(key, stale, asked_fields(request))
        if not isinstance(joined, Joined):
            if joined.meta.status == VARY_MARKER:  # stored meanwhile, and it varies
                return await self._miss(request, self._variant(request, key, joined), None)
            with contextlib.suppress(EntryGone):
                return await self.responder.serve(request, joined, "HIT", self._age(joined))
            return await self._miss(request, key, None)  # its file was gone: forgotten now
        fill = joined.fill
        try:
            answer = await self._wait(request, key, stale, fill, joined.x_cache)
        except OtherVariant as other:  # joined a fill whose answer is another variant's
            fill.leave()
            return await self._miss(request, other.key, None)
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
        if isinstance(head, Head) and head.meta.vary and x_cache == "COALESCED":
            mine = variant_key(key.primary, head.meta.vary, request.headers)
            if mine != variant_key(key.primary, head.meta.vary, fill.asked):
                raise OtherVariant(mine)  # RFC 9111 4.1: never another variant's answer
        x_cache = fill.label or x_cache  # another worker's fetch or copy (edge/node/)
        if isinstance(head, Head) and self._streams(request, fill, head):
            assert head.length is not None
            return self.responder.streamed(head.meta, head.length, _parts(fill), x_cache)
        outcome = await asyncio.shield(fill.finished)
        copy = self.cache.settled(fill) if outcome in ("stored", "not_modified") else None
        held = None
        if stale is not None:
            held = StaleCopy(self._age(stale), stale.meta.freshness, stale.meta.is_live)
        status = fill.meta.status if fill.meta is not None else None
        end = miss_end(outcome, copy is not None, status, held)
        if end == "copy" and copy is not None and copy.meta.status == VARY_MARKER:
            variant = self._variant(request, key, copy)
            copy = self.cache.lookup(variant)
            if copy is None:
                return await self._miss(request, variant, None)
        if end == "copy":
            assert copy is not None
            label = "REVALIDATED" if outcome == "not_modified" else x_cache
            try:
                return await self.responder.serve(request, copy, label, self._age(copy))
            except EntryGone:  # evicted and deleted already: decide without it
                end = miss_end(outcome, False, status, held)
        if end == "refetch":  # the copy a 304 confirmed is gone: fetch it whole
            return await self._miss(request, key, None)
        if end == "passed":
            meta = fill.meta
            assert meta is not None
            if status == 503 and held is not None and held.is_live and stale is not None:
                # a live playlist past its stale window: say when to ask again, so players
                # retry or switch (the origin's Retry-After, else one target duration)
                wait = retry_after(stale.meta.target_duration or 1.0)
                meta = replace(meta, extra={"Retry-After": wait, **meta.extra})
            return await self.responder.serve(request, await fill.as_stored(meta), x_cache, 0)
        if end == "stale":
            assert stale is not None and held is not None
            return await self.responder.serve(request, stale, "STALE", held.age)
        error = fill.error or UpstreamError("upstream failed")
        if end == "unavailable":
            # a live playlist past its stale cap fails so players switch or retry (DESIGN
            # freshness table), saying when to ask again (RFC 9110 15.6.4, 10.2.3)
            assert stale is not None
            wait = retry_after(stale.meta.target_duration or 1.0)
            reason = f"live playlist unavailable: {error.reason}"
            return self.heads.error(503, reason, {"Retry-After": wait})
        return self.heads.error(error.status, error.reason)

    def _variant(self, request: Request, key: CacheKey, marker: Stored) -> CacheKey:
        return variant_key(key.primary, marker.meta.vary, request.headers)

    def _age(self, stored: Stored) -> float:
        return stored.meta.age(self.clock())

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

    def _signed(self, request: Request, key: CacheKey) -> AnyAnswer | Awaitable[AnyAnswer]:
        """Signed URLs (DESIGN, Security): verified before any cache lookup; the token is not
        in the key, and a playlist's child URIs carry it on so players can follow them."""
        raw_query = request.target.partition("?")[2]
        verdict = verify(key.path, raw_query, request.peer, self.clock(), self.sign_keys)
        if not verdict.ok:
            return self._error(verdict.status, verdict.reason)
        if classify(key.path) != "playlist":
            return self._answer(request, key)
        headers = {k: v for k, v in request.headers.items() if k not in SIGNED_PLAYLIST_IGNORED}
        plain = Request(
            request.method,
            request.target,
            headers,
            request.version,
            request.keep_alive,
            request.peer,
        )
        answer = self._answer(plain, key)
        token = carried_query(raw_query)
        if isinstance(answer, Answer | FileAnswer | StreamAnswer):
            return _with_token(answer, token)
        return self._tokened(answer, token)

    async def _tokened(self, answering: Awaitable[AnyAnswer], token: str) -> AnyAnswer:
        return _with_token(await answering, token)

    def _looped(self, via: str | None) -> bool:
        """RFC 9110 7.6.3: Via lists "protocol received-by" per hop; ours must not be there."""
        if via is None:
            return False
        return any(hop.split()[-1:] == [self.node_id] for hop in via.split(","))

    def _other_method(self, request: Request) -> AnyAnswer | Awaitable[AnyAnswer]:
        method = request.method
        if method in self.refused_methods:
            allowed = ", ".join(m for m in PASSABLE if m not in self.refused_methods)
            return self._error(405, f"method {method} not allowed", {"Allow": allowed})
        if method == "OPTIONS" and "access-control-request-method" in request.headers:
            return self.heads.preflight()  # a CORS preflight is the edge's to answer
        if method == "CONNECT" or method == "TRACE":
            return self._error(405, f"method {method} not allowed", {"Allow": "GET, HEAD"})
        try:
            key = cache_key(request.target, self.keep_query)
            if self._looped(request.headers.get("via")):
                raise LoopDetected(f"request already passed through {self.node_id}")
            if self.sign_keys and needs_token(key.path):
                raw_query = request.target.partition("?")[2]
                verdict = verify(key.path, raw_query, request.peer, self.clock(), self.sign_keys)
                if not verdict.ok:
                    return self._error(verdict.status, verdict.reason)
        except RequestError as exc:
            return self._refusal(exc)
        self.stats.requests["PASS"] += 1
        return pass_through(
            self.cache.fetcher.upstream,
            self.heads,
            request,
            key,
            self.keep_query,
            self.invalidate,
        )

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


def _with_token(answer: AnyAnswer, token_query: str) -> AnyAnswer:
    """A signed playlist's child URIs carry the request's token. The body is no longer the
    stored bytes (no ETag, no ranges), and it names one viewer's token (private)."""
    if not isinstance(answer, Answer) or answer.status != 200 or not answer.body:
        return answer
    kept = [
        line
        for line in answer.all_headers.split(b"\r\n")
        if line and not line.lower().startswith((b"etag:", b"accept-ranges:"))
    ]
    if not any(
        line.lower().startswith(b"content-type:") and b"mpegurl" in line.lower() for line in kept
    ):
        return answer
    kept = [
        line.replace(b"public", b"private") if line.lower().startswith(b"cache-control:") else line
        for line in kept
    ]
    headers = b"\r\n".join([*kept, b"Accept-Ranges: none", b""])
    return Answer(200, headers, add_token(answer.body, token_query), x_cache=answer.x_cache)
