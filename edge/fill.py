"""Single-flight fills: one upstream fetch per key, shared by every waiter while it runs.

A fill is its own task, detached from the request that started it, so a client that hangs
up never cancels a fill others wait for. Its body arrives in chunks that every waiter reads
from the start and then follows at the tail, so late joiners get the first bytes at once.
Waiters share the in-flight work, not the result (STYLE 6).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from multidict import CIMultiDictProxy

from edge.errors import UpstreamError
from edge.keys import CacheKey, ObjectKind
from edge.objects import ObjectMeta

log = logging.getLogger("edge.fill")

Outcome = Literal["stored", "passed", "not_modified", "failed"]


@dataclass(frozen=True, slots=True)
class Head:
    """The upstream status line and headers, known before the body."""

    status: int
    headers: CIMultiDictProxy[str]
    length: int | None


class Fill:
    def __init__(self, key: CacheKey, kind: ObjectKind) -> None:
        loop = asyncio.get_running_loop()
        self.key = key
        self.kind = kind
        self.head: asyncio.Future[Head | UpstreamError] = loop.create_future()
        self.finished: asyncio.Future[Outcome] = loop.create_future()
        self.chunks: list[bytes] = []
        self.received = 0
        self.error: UpstreamError | None = None
        self.waiters = 0
        self.meta: ObjectMeta | None = None  # set before finish() unless the fill failed
        self._changed: asyncio.Future[None] = loop.create_future()

    def __repr__(self) -> str:
        state = self.finished.result() if self.finished.done() else "running"
        return f"<Fill {self.key} {state} {self.received}B waiters={self.waiters}>"

    # -- producer side -------------------------------------------------------------------
    def set_head(self, head: Head | UpstreamError) -> None:
        if not self.head.done():
            self.head.set_result(head)

    def append(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.received += len(chunk)
        self._wake()

    def finish(self, outcome: Outcome, error: UpstreamError | None = None) -> None:
        if self.finished.done():
            return
        self.error = error
        self.set_head(error or UpstreamError("upstream gave no answer"))
        self.finished.set_result(outcome)
        self._wake()

    def _wake(self) -> None:
        self._changed.set_result(None)
        self._changed = asyncio.get_running_loop().create_future()

    # -- consumer side -------------------------------------------------------------------
    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def follow(self) -> AsyncIterator[bytes]:
        """Every chunk from the first, then each new one as it arrives.

        Raises UpstreamError if the fill fails, so a waiter never ends a short body as if
        it were complete.
        """
        index = 0
        while True:
            while index < len(self.chunks):
                yield self.chunks[index]
                index += 1
            if self.finished.done():
                if self.error is not None or self.finished.result() == "failed":
                    raise self.error or UpstreamError("upstream body failed")
                return
            await asyncio.shield(self._changed)


FillRunner = Callable[[Fill], Coroutine[Any, Any, None]]


class FillRegistry:
    """The map from key to the running fill."""

    def __init__(self) -> None:
        self._fills: dict[CacheKey, Fill] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.started = 0
        self.coalesced = 0

    def get(self, key: CacheKey) -> Fill | None:
        return self._fills.get(key)

    def join_or_start(self, key: CacheKey, kind: ObjectKind, run: FillRunner) -> tuple[Fill, bool]:
        fill = self._fills.get(key)
        if fill is not None:
            fill.waiters += 1
            self.coalesced += 1
            return fill, False
        fill = Fill(key, kind)
        fill.waiters = 1
        self._fills[key] = fill
        self.started += 1
        task = asyncio.create_task(self._run(fill, run), name=f"fill {key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fill, True

    async def _run(self, fill: Fill, run: FillRunner) -> None:
        try:
            await run(fill)
        except asyncio.CancelledError:
            fill.finish("failed", UpstreamError("edge shutting down"))
            raise
        except Exception as exc:  # a fill must never die silently with waiters behind it
            log.exception("fill crashed", extra={"key": str(fill.key)})
            fill.finish("failed", UpstreamError(f"fill crashed: {type(exc).__name__}"))
        finally:
            fill.finish("failed", UpstreamError("fill ended without an outcome"))
            self._fills.pop(fill.key, None)

    def __len__(self) -> int:
        return len(self._fills)

    async def close(self, grace_s: float = 5.0) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
