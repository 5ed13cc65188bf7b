"""The values the protocol and the content handler exchange: no sockets, no framework."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from edge.http.prebuilt import Prebuilt

Release = Callable[[], None]


def _nothing() -> None:
    return None


class SteadyHits:
    """An observer's memo on one connection (`Connection.viewer`, issue 19): the steady state
    of a keep-alive viewer, the same request head answered from cache again and again. The
    protocol counts such an answer here itself instead of calling the observer: one bucket of
    `counts` (a histogram series: a count per bound in `bounds`, +Inf, then the sum), one hit,
    and the monotonic time it began. The observer folds the hits in when it is read."""

    __slots__ = ("bounds", "counts", "hits", "last", "owner", "target", "under_s")

    def __init__(
        self,
        target: str,
        bounds: tuple[float, ...],
        counts: list[float],
        under_s: float,
        owner: object,
    ) -> None:
        self.target = target  # the request target object: `is`, not ==, is the test
        self.bounds = bounds
        self.counts = counts
        self.under_s = under_s  # slower answers go to the observer
        self.owner = owner  # the observer's: whose hits these are
        self.hits = 0
        self.last = 0.0

    def counted(self, target: str, status: int, x_cache: str, took: float, at: float) -> bool:
        """Count an answer that is this steady state (True), or leave it to the observer."""
        if target is not self.target or x_cache != "HIT" or status >= 400 or took >= self.under_s:
            return False
        counts = self.counts
        counts[bisect_left(self.bounds, took)] += 1
        counts[-1] += took
        self.hits += 1
        self.last = at
        return True


@dataclass(slots=True)
class Request:
    method: str
    target: str  # the raw request target: path and query, as sent
    headers: dict[str, str]  # lower-case names; a repeated field is joined with ", "
    version: str = "1.1"
    keep_alive: bool = True
    peer: str = ""
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


@dataclass(slots=True)
class Answer:
    """A whole answer in memory. `length` is the Content-Length when it differs from the body
    (a HEAD answer carries the length of the body it leaves out)."""

    status: int
    headers: bytes  # header lines, each ending in CRLF; the protocol adds the framing ones
    body: bytes = b""
    length: int = -1
    x_cache: str = "-"
    close: bool = False  # close the connection after this answer
    # a stored version's head joined once (edge/http/prebuilt.py): then `headers` holds only
    # the per-request lines, and the object's own are `prebuilt.headers`
    prebuilt: Prebuilt | None = None

    @property
    def all_headers(self) -> bytes:
        """Every header line of the answer but the framing ones."""
        prebuilt = self.prebuilt
        return self.headers if prebuilt is None else prebuilt.headers + self.headers


@dataclass(slots=True)
class FileAnswer:
    """`count` bytes of an open file from `offset`, sent with zero-copy sendfile."""

    status: int
    headers: bytes
    fd: int
    offset: int
    count: int
    release: Release
    x_cache: str = "-"


@dataclass(frozen=True, slots=True)
class FileRange:
    """Part of a streamed body that lies in a file."""

    fd: int
    offset: int
    count: int


@dataclass(slots=True)
class StreamAnswer:
    """A body that arrives while it is sent (a fill). If `parts` raises, the connection is
    aborted: a short body is never ended as if it were complete."""

    status: int
    headers: bytes
    length: int
    parts: AsyncGenerator[bytes | FileRange, None]
    release: Release = _nothing
    x_cache: str = "-"


class HeldWaiter(Protocol):
    def held_send(self, request: Request, answer: Answer | None) -> bool: ...
    def held_sent(self, request: Request, answer: Answer) -> None: ...


class Held:
    """One answer many held requests share (LL-HLS blocking reloads, issue 20): a connection
    whose request is held adds itself with `wait`; `release` answers every waiter in one loop,
    the same `Answer` (and so the same joined bytes) to each, with no task or future per
    waiter, and only then, in a second loop, does each waiter's bookkeeping (access log,
    viewers, the next pipelined request): the last waiter's bytes do not wait for the first
    one's log line. `None` tells each waiter to answer its request the ordinary way instead."""

    __slots__ = ("_waiters", "answer", "done", "first")

    def __init__(self) -> None:
        self._waiters: list[tuple[HeldWaiter, Request]] = []
        self.answer: Answer | None = None
        self.first: Answer | None = None  # the first waiter's answer, if it differs (MISS)
        self.done = False

    def __len__(self) -> int:
        return len(self._waiters)

    def wait(self, waiter: HeldWaiter, request: Request) -> None:
        if not self.done:
            self._waiters.append((waiter, request))
        elif waiter.held_send(request, self.answer) and self.answer is not None:
            waiter.held_sent(request, self.answer)  # released meanwhile: answered at once

    def release(self, answer: Answer | None, first: Answer | None = None) -> int:
        """Answer every waiter; how many there were."""
        self.done, self.answer, self.first = True, answer, first
        waiters, self._waiters = self._waiters, []
        sent = []
        for index, (waiter, request) in enumerate(waiters):
            mine = first if index == 0 and first is not None else answer
            if waiter.held_send(request, mine) and mine is not None:
                sent.append((waiter, request, mine))
        for waiter, request, mine in sent:
            waiter.held_sent(request, mine)
        return len(waiters)


AnyAnswer = Answer | FileAnswer | StreamAnswer
Handler = Callable[[Request], "AnyAnswer | Held | Awaitable[AnyAnswer]"]
