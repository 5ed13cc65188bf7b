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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from classcast.llhls import (
    DirectiveError,
    Directives,
    PlaylistFacts,
    Skip,
    delta_update,
    parse_directives,
    read_facts,
)
from edge.cache.cache import EdgeCache
from edge.cache.keys import CacheKey
from edge.cache.memory import MemoryObject
from edge.http.messages import Answer, AnyAnswer, Request
from edge.serve.answers import Responder

Forward = Callable[[Request, CacheKey], "AnyAnswer | Awaitable[AnyAnswer]"]

# rfc8216bis 6.2.5.2: a server that cannot answer within three target durations sends 503.
HOLD_TARGET_DURATIONS = 3
# before any playlist of a rendition is known, its target duration is assumed this long
UNKNOWN_TARGET_DURATION = 6.0
SKIP_PARAM = "_HLS_skip"
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
        self, cache: EdgeCache, responder: Responder, clock: Callable[[], float], forward: Forward
    ) -> None:
        self.cache = cache
        self.responder = responder
        self.clock = clock
        self.forward = forward  # the ordinary path: lookup, then hit or join the fill
        self.newest: dict[str, Known] = {}  # by playlist path
        self.considered: dict[str, MemoryObject] = {}  # the plain copy last read, by path
        self.answered_locally = 0  # blocking reloads the edge answered from what it held
        self.timed_out = 0

    def answer(self, request: Request, key: CacheKey) -> AnyAnswer | Awaitable[AnyAnswer]:
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
        return self._held(request, blocking, asked, known)

    def known(self, path: str, plain: CacheKey) -> Known | None:
        """The newest of: the last playlist seen for `path`, and the stored plain playlist."""
        stored = self.cache.lookup(plain)
        if isinstance(stored, MemoryObject) and self.considered.get(path) is not stored:
            self.considered[path] = stored  # read each stored version once, not per request
            self._consider(path, stored)
        return self.newest.get(path)

    def _consider(self, path: str, stored: MemoryObject) -> None:
        if stored.meta.status != 200 or stored.meta.playlist not in ("live", "vod"):
            return
        candidate = Known(stored, read_facts(stored.body.decode("utf-8", "replace")))
        known = self.newest.get(path)
        if known is None or candidate.position >= known.position or candidate.facts.ended:
            self.newest[path] = candidate

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
        if isinstance(stored, MemoryObject):
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
