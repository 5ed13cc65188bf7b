"""LL-HLS delivery directives answered at the edge (rfc8216bis 6.2.5).

A blocking reload (`_HLS_msn`, `_HLS_part`) that the newest playlist the edge holds already
satisfies is answered from it, with no upstream request. One it does not satisfy goes the
ordinary miss path under its own key (the key keeps the directives), so every hold for the same
rendition, MSN and part joins the one fill, and the fill wakes its waiters when it lands. The
spec's 400s are answered here; a hold longer than three target durations gets a 503 (the fill
goes on for the others). Delta updates (`_HLS_skip`) are cut from the full playlist here, so
the origin need not make them. On an ended playlist the directives are ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from classcast.llhls import (
    DirectiveError,
    Directives,
    PlaylistFacts,
    Skip,
    attributes,
    delta_update,
    parse_directives,
    read_facts,
)
from edge.cache.cache import EdgeCache
from edge.cache.keys import CacheKey
from edge.cache.memory import MemoryObject
from edge.hls import is_blocking, upstream_hold
from edge.http.messages import Answer, AnyAnswer, FileAnswer, Held, Request, StreamAnswer
from edge.serve.answers import Responder

log = logging.getLogger("edge.llhls")

Forward = Callable[[Request, CacheKey], "AnyAnswer | Awaitable[AnyAnswer]"]
Count = Callable[[str, int], None]
# a held request with any of these is answered on its own (its answer is not the shared one)
NOT_SHARED = ("range", "if-range", "if-none-match", "if-modified-since")

# rfc8216bis 6.2.5.2: a server that cannot answer within three target durations sends 503.
HOLD_TARGET_DURATIONS = 3
# before any playlist of a rendition is known, its target duration is assumed this long
UNKNOWN_TARGET_DURATION = 6.0
SKIP_PARAM = "_HLS_skip"
# a hinted part the upstream answered 404 (it does not hold requests) is asked again this often,
# until three target durations have passed
HINT_RETRY_S = 0.1
HINTS_KEPT = 3  # the newest preload hints remembered per playlist
DIRECTIVES = ("_HLS_msn", "_HLS_part", "_HLS_skip")


@dataclass(frozen=True, slots=True)
class Known:
    """The newest playlist of a rendition this worker has seen, and what it says."""

    stored: MemoryObject
    facts: PlaylistFacts

    @property
    def position(self) -> tuple[int, int]:
        return self.facts.last_msn, self.facts.last_part


class LowLatency:
    def __init__(
        self,
        cache: EdgeCache,
        responder: Responder,
        clock: Callable[[], float],
        forward: Forward,
        count: Count | None = None,
    ) -> None:
        self.cache = cache
        self.count = count  # answers given to a group's waiters beyond the one `forward` counted
        self.responder = responder
        self.clock = clock
        self.forward = forward  # the ordinary path: lookup, then hit or join the fill
        self.newest: dict[str, Known] = {}  # by playlist path
        self.considered: dict[str, MemoryObject] = {}  # the plain copy last read, by path
        self.learned: dict[str, MemoryObject] = {}  # the blocking answer last read, by path
        self.holding: dict[tuple[CacheKey, Skip], Held] = {}  # held requests sharing an answer
        self._leads: set[asyncio.Task[None]] = set()
        self.released = 0  # groups of held requests answered together
        self.on_hold: Callable[[Held], None] | None = None  # told of each request held (tests)
        self.hints: dict[str, float] = {}  # hinted part path: how long to hold it (3 TD)
        self._hinted: dict[str, deque[str]] = {}  # playlist path: its newest hints
        self.hint_retries = 0  # 404s for a hinted part, forgotten and asked again
        cache.on_live_playlist = self.playlist_stored
        self.answered_locally = 0  # blocking reloads the edge answered from what it held
        self.timed_out = 0

    def answer(self, request: Request, key: CacheKey) -> AnyAnswer | Awaitable[AnyAnswer]:
        """The answer of a request that is rewritten afterwards (signed playlists)."""
        answer = self.answer_shared(request, key, shared=False)
        assert not isinstance(answer, Held)
        return answer

    def answer_shared(
        self, request: Request, key: CacheKey, shared: bool = True
    ) -> AnyAnswer | Held | Awaitable[AnyAnswer]:
        """A held request may be answered with the others holding for the same part (`Held`)."""
        try:
            asked = parse_directives(key.query)
        except DirectiveError as exc:
            return self.responder.heads.error(400, str(exc))
        plain = CacheKey(key.path, _without(key.query, DIRECTIVES))
        known = self.known(key.path, plain)
        if known is not None and known.facts.ended:
            return self.forward(request, plain)  # rfc8216bis 6.2.5: ignored once ended
        if asked.msn is None:
            return self._delta(self.forward(request, plain), asked.skip)
        if known is not None:
            if known.facts.is_too_far_ahead(asked.msn, asked.part):
                last = known.facts.last_msn
                reason = f"_HLS_msn={asked.msn} is more than two segments past {last}"
                return self.responder.heads.error(400, reason)
            if known.facts.satisfies(asked.msn, asked.part):
                self.answered_locally += 1
                return self._delta(self._from(request, known), asked.skip)
        blocking = CacheKey(key.path, _without(key.query, (SKIP_PARAM,)))
        if shared and request.method == "GET" and not any(h in request.headers for h in NOT_SHARED):
            return self._group(request, blocking, asked, known)
        return self._held(request, blocking, asked, known)

    def _group(
        self, request: Request, key: CacheKey, asked: Directives, known: Known | None
    ) -> Held:
        """Every held request for the same part (and delta form) waits on one `Held`: the fill
        lands, the answer is made once, and one loop writes it to every waiting connection
        (no task, future or head per waiter)."""
        name = (key, asked.skip)
        held = self.holding.get(name)
        if held is None:
            held = self.holding[name] = Held()
            lead = asyncio.ensure_future(self._lead(request, key, asked, known, held))
            self._leads.add(lead)
            lead.add_done_callback(self._leads.discard)
        if self.on_hold is not None:
            self.on_hold(held)
        return held

    async def _lead(
        self, request: Request, key: CacheKey, asked: Directives, known: Known | None, held: Held
    ) -> None:
        try:
            first = await self._held(request, key, asked, known)
        except Exception:  # the waiters must never hang: each answers on its own instead
            log.exception("held reload failed", extra={"key": str(key)})
            self.holding.pop((key, asked.skip), None)
            held.release(None)
            return
        self.holding.pop((key, asked.skip), None)  # later requests: from the cache or a new hold
        if not isinstance(first, Answer):  # not a memory answer: each waiter asks again
            if isinstance(first, FileAnswer | StreamAnswer):
                first.release()
            held.release(None)
            return
        rest = self._others(request, key, first, asked.skip)
        waiters = held.release(rest, first)
        self.released += 1
        if self.count is not None and waiters > 1:
            self.count(rest.x_cache, waiters - 1)

    def _others(self, request: Request, key: CacheKey, first: Answer, skip: Skip) -> Answer:
        """The answer for the waiters that joined the fill: the stored copy, COALESCED."""
        stored = self.cache.lookup(key)
        if first.x_cache != "MISS" or not isinstance(stored, MemoryObject):
            return first
        answer = self.responder.serve_now(
            request, stored, "COALESCED", stored.meta.age(self.clock())
        )
        if not isinstance(answer, Answer):
            return first
        delta = self._delta(answer, skip)
        return delta if isinstance(delta, Answer) else first

    def known(self, path: str, plain: CacheKey) -> Known | None:
        """The newest of: the last playlist seen for `path`, and the stored plain playlist."""
        stored = self.cache.lookup(plain)
        if isinstance(stored, MemoryObject) and self.considered.get(path) is not stored:
            self.considered[path] = stored  # read each stored version once, not per request
            self._consider(path, stored)
        return self.newest.get(path)

    def playlist_stored(self, key: CacheKey) -> None:
        """A live playlist was fetched and stored: learn from it (its preload hint above all)
        before any blocking reload asks."""
        stored = self.cache.lookup(key)
        if isinstance(stored, MemoryObject):
            seen = self.learned if is_blocking(key.query) else self.considered
            if seen.get(key.path) is not stored:
                seen[key.path] = stored
                self._consider(key.path, stored)

    def _consider(self, path: str, stored: MemoryObject) -> None:
        if stored.meta.status != 200 or stored.meta.playlist not in ("live", "vod"):
            return
        candidate = Known(stored, read_facts(stored.body.decode("utf-8", "replace")))
        known = self.newest.get(path)
        if known is None or candidate.position >= known.position or candidate.facts.ended:
            self.newest[path] = candidate
            target = candidate.facts.target_duration or UNKNOWN_TARGET_DURATION
            holds = self.cache.fetcher.holds
            if candidate.facts.can_block and not candidate.facts.ended:
                holds[path] = upstream_hold(target)  # blocking reloads of it may be held
            self._hint(path, stored.body, HOLD_TARGET_DURATIONS * target, upstream_hold(target))

    def _hint(self, path: str, body: bytes, hold: float, upstream: float) -> None:
        """Remember the playlist's preload hint: that part is held, never answered 404."""
        hint = preload_hint(path, body)
        if hint is None:
            return
        recent = self._hinted.setdefault(path, deque())
        if hint in recent:
            return
        recent.append(hint)
        self.hints[hint] = hold
        self.cache.fetcher.holds[hint] = upstream  # the upstream may hold it until it exists
        if len(recent) > HINTS_KEPT:
            old = recent.popleft()
            self.hints.pop(old, None)
            self.cache.fetcher.holds.pop(old, None)
        stored = self.cache.lookup(CacheKey(hint, ""))
        if stored is not None and stored.meta.status != 200:  # its absence, asked too early
            self.cache.purged(str(CacheKey(hint, "")), False)

    async def hinted_part(self, request: Request, key: CacheKey) -> AnyAnswer:
        """A part the newest playlist hints (rfc8216bis 6.2.6): an upstream that does not hold
        it answers 404 until it exists; that 404 is forgotten at once and the part asked again
        (every request for it joins the same fill), for up to three target durations."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hints.get(key.path, 0.0)
        while True:
            answer = await _awaited(self.forward(request, key))
            if not isinstance(answer, Answer) or answer.status not in (404, 410):
                return answer
            self.cache.purged(str(key), False)  # never remember a hinted part's absence
            left = deadline - loop.time()
            if left <= 0:
                return answer
            self.hint_retries += 1
            await asyncio.sleep(min(HINT_RETRY_S, left))

    def _from(self, request: Request, known: Known) -> AnyAnswer:
        stored = known.stored
        answer = self.responder.serve_now(request, stored, "HIT", stored.meta.age(self.clock()))
        assert answer is not None  # a memory object is always answered at once
        return answer

    async def _held(
        self, request: Request, key: CacheKey, asked: Directives, known: Known | None
    ) -> AnyAnswer:
        target = known.facts.target_duration if known else UNKNOWN_TARGET_DURATION
        hold = HOLD_TARGET_DURATIONS * (target or UNKNOWN_TARGET_DURATION)
        try:
            async with asyncio.timeout(hold):
                answer = await _awaited(self.forward(request, key))
        except TimeoutError:
            self.timed_out += 1
            reason = f"playlist did not reach the asked-for part within {hold:g} s"
            return self.responder.heads.error(503, reason, {"Retry-After": "1"})
        self._learn(key)
        return await _awaited(self._delta(answer, asked.skip))

    def _learn(self, key: CacheKey) -> None:
        stored = self.cache.lookup(key)
        if isinstance(stored, MemoryObject) and self.learned.get(key.path) is not stored:
            self.learned[key.path] = stored  # each blocking answer read once, not per waiter
            self._consider(key.path, stored)

    def _delta(
        self, answering: AnyAnswer | Awaitable[AnyAnswer], skip: Skip
    ) -> AnyAnswer | Awaitable[AnyAnswer]:
        if not skip:
            return answering
        if isinstance(answering, Awaitable):
            return _then(answering, lambda answer: delta_answer(answer, skip))
        return delta_answer(answering, skip)


def delta_answer(answer: AnyAnswer, skip: Skip) -> AnyAnswer:
    """rfc8216bis 6.2.5.1: the full playlist's answer, its oldest segments skipped. The body is
    no longer the stored bytes: no ETag, no ranges."""
    if not isinstance(answer, Answer) or answer.status != 200 or not answer.body:
        return answer
    body = delta_update(answer.body.decode("utf-8", "replace"), skip).encode()
    kept = [
        line
        for line in answer.headers.split(b"\r\n")
        if line and not line.lower().startswith((b"etag:", b"accept-ranges:"))
    ]
    headers = b"\r\n".join([*kept, b"Accept-Ranges: none", b""])
    return Answer(200, headers, body, x_cache=answer.x_cache)


def preload_hint(path: str, body: bytes) -> str | None:
    """The path of the part a media playlist's EXT-X-PRELOAD-HINT names, resolved against the
    playlist's path (byte-range hints and other hosts' URIs: None)."""
    at = body.rfind(b"#EXT-X-PRELOAD-HINT:")
    if at < 0:
        return None
    line = body[at:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    found = attributes(line.partition(":")[2])
    uri = found.get("URI")
    if found.get("TYPE") != "PART" or not uri or "BYTERANGE-START" in found:
        return None
    where = urlsplit(urljoin("http://edge" + path, uri))
    return where.path if where.netloc == "edge" else None


def _without(query: str, names: tuple[str, ...]) -> str:
    return urlencode(
        [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in names]
    )


async def _awaited(answer: AnyAnswer | Awaitable[AnyAnswer]) -> AnyAnswer:
    return await answer if isinstance(answer, Awaitable) else answer


async def _then(
    answering: Awaitable[AnyAnswer], then: Callable[[AnyAnswer], AnyAnswer]
) -> AnyAnswer:
    return then(await answering)
