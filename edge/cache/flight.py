"""Single-flight fills: one upstream fetch per key, shared by every waiter while it runs.

A fill is its own task, detached from the request that started it, so a client that hangs
up never cancels a fill others wait for. Every waiter reads the body from the start and then
follows the tail, so late joiners get the first bytes at once. A segment's body goes to a temp
file that waiters read while it grows (zero-copy, memory bounded); a playlist's, or a segment's
once the disk has failed, is kept in memory chunks. Waiters share the in-flight work, not the
result (STYLE 6).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from multidict import CIMultiDictProxy

from edge.cache.disk import DiskEntry, OpenFile
from edge.cache.identity import Identity, of_head, same_object
from edge.cache.keys import CacheKey, ObjectKind
from edge.cache.memory import MemoryObject
from edge.cache.objects import ObjectMeta
from edge.cache.tiers import Stored
from edge.errors import UpstreamError

log = logging.getLogger("edge.flight")

Outcome = Literal["stored", "passed", "not_modified", "failed"]


@dataclass(frozen=True, slots=True)
class FileSpan:
    """Bytes [start, start + count) of the fill's temp file, readable through `Fill.reader`."""

    start: int
    count: int


@dataclass(frozen=True, slots=True)
class Head:
    """The upstream status line and headers, known before the body, and what they say of the
    object (its freshness computed once, for answers streamed while the body arrives)."""

    status: int
    headers: CIMultiDictProxy[str]
    length: int | None
    meta: ObjectMeta

    @property
    def identity(self) -> Identity:
        return of_head(self.status, self.headers, self.length)

    def same_object(self, other: Head) -> bool:
        """Another fetch of the same bytes: a takeover continues a body others are reading."""
        return same_object(self.identity, other.identity)


class FillObserver(Protocol):
    """Told of a fill's progress: how the worker that fetches publishes it to the node."""

    def head(self, fill: Fill, head: Head) -> None: ...
    def grew(self, fill: Fill) -> None: ...
    def finished(self, fill: Fill) -> None: ...


class Fill:
    def __init__(self, key: CacheKey, kind: ObjectKind) -> None:
        loop = asyncio.get_running_loop()
        self.key = key
        self.kind = kind
        self.head: asyncio.Future[Head | UpstreamError] = loop.create_future()
        self.finished: asyncio.Future[Outcome] = loop.create_future()
        self.chunks: list[bytes] = []  # the body from file_end on, in memory
        self.file_end = 0  # bytes [0, file_end) are in the temp file
        self.reader: OpenFile | None = None  # a descriptor of the temp file, for waiters
        self.received = 0
        self.error: UpstreamError | None = None
        self.waiters = 0
        self.on_waiters: Callable[[Fill], None] | None = None  # told of each join and leave
        self.meta: ObjectMeta | None = None  # set before finish() unless the fill failed
        self.revalidated: Stored | None = None  # what a 304 refreshed
        self.temp_path: Path | None = None  # the temp file the body is written to, if any
        self.observer: FillObserver | None = None  # set when other workers follow (edge/node/)
        self.label: str | None = None  # X-Cache when not this process's own MISS (edge/node/)
        self.asked: Mapping[str, str] = {}  # the request fields the fetch was made with
        self._next_reader: OpenFile | None = None  # a takeover's copy, until it catches up
        self._changed: asyncio.Future[None] = loop.create_future()

    def __repr__(self) -> str:
        state = self.finished.result() if self.finished.done() else "running"
        return f"<Fill {self.key} {state} {self.received}B waiters={self.waiters}>"

    # -- producer side -------------------------------------------------------------------
    def set_head(self, head: Head | UpstreamError) -> None:
        if not self.head.done():
            self.head.set_result(head)
        if self.observer is not None and isinstance(head, Head):  # a takeover's too
            self.observer.head(self, head)

    def append(self, chunk: bytes) -> None:
        """Keep a chunk in memory (playlists; segments after a disk error)."""
        self.chunks.append(chunk)
        self.received += len(chunk)
        self._wake()

    def file_grew(self, count: int) -> None:
        """`count` more bytes are safely in the temp file (only before any chunk in memory)."""
        assert not self.chunks, "the file part of a body comes before its memory part"
        self.file_end += count
        self.received += count
        self._wake()
        if self.observer is not None:
            self.observer.grew(self)

    def take_reader(self, reader: OpenFile) -> None:
        """The temp file waiters read from. A takeover (edge/node/) writes a new copy of a
        body that waiters have partly read: they read the old copy until the new one holds as
        much (`file_reached`)."""
        if self.reader is None or self.file_end == 0:
            old, self.reader = self.reader, reader
        else:
            old, self._next_reader = self._next_reader, reader
        if old is not None:
            old.retire()

    def file_reached(self, total: int) -> None:
        """The temp file holds the body's first `total` bytes."""
        if self._next_reader is not None:
            if total < self.file_end:
                return
            old, self.reader, self._next_reader = self.reader, self._next_reader, None
            if old is not None:
                old.retire()
        if total > self.file_end:
            self.file_grew(total - self.file_end)

    @property
    def spilled(self) -> bool:
        """The disk failed during the fill: the body ends (or lies wholly) in memory."""
        return self.reader is not None and bool(self.chunks)

    def finish(self, outcome: Outcome, error: UpstreamError | None = None) -> None:
        if self.finished.done():
            return
        self.error = error
        self.set_head(error or UpstreamError("upstream gave no answer"))
        self.finished.set_result(outcome)
        self._wake()
        if self.observer is not None:
            self.observer.finished(self)
        self._release_reader()

    def join(self) -> None:
        """One more waiter reads this fill."""
        self.waiters += 1
        if self.on_waiters is not None:
            self.on_waiters(self)

    def leave(self) -> None:
        """A waiter is done with this fill (handlers call it in `finally`)."""
        self.waiters -= 1
        if self.on_waiters is not None:
            self.on_waiters(self)
        self._release_reader()

    def _release_reader(self) -> None:
        # the temp file's descriptor lives while anyone may still read from it
        if self.finished.done() and self.waiters <= 0:
            for reader in (self.reader, self._next_reader):
                if reader is not None:
                    reader.retire()

    def _wake(self) -> None:
        self._changed.set_result(None)
        self._changed = asyncio.get_running_loop().create_future()

    # -- consumer side -------------------------------------------------------------------
    def _promised(self) -> int:
        """The length the head promised (0 if none): what a streamed answer must deliver."""
        head = self.head.result() if self.head.done() else None
        return (head.length or 0) if isinstance(head, Head) else 0

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def as_stored(self, meta: ObjectMeta) -> Stored:
        """The finished body as a stored object, for waiters when the tiers do not have it
        (not storable, the disk failed, or it was evicted at once)."""
        if self.reader is None or self.file_end == 0:
            return MemoryObject(meta, self.body)
        if not self.spilled:  # the temp file, through the fill's descriptor
            return DiskEntry(meta, Path(), file=self.reader)
        head = await asyncio.to_thread(os.pread, self.reader.fd, self.file_end, 0)
        return MemoryObject(meta, head + self.body)

    async def follow(self) -> AsyncIterator[bytes | FileSpan]:
        """The body from the first byte, then each new part as it arrives: spans of the temp
        file first, then memory chunks.

        Raises UpstreamError if the fill fails, so a waiter never ends a short body as if
        it were complete.
        """
        offset, index = 0, 0
        while True:
            if offset < self.file_end:
                end = self.file_end  # the file grows while the consumer sends this span
                yield FileSpan(offset, end - offset)
                offset = end
                continue
            if index < len(self.chunks):
                index += 1
                yield self.chunks[index - 1]
                continue
            if self.finished.done():
                if self.error is not None or self.finished.result() == "failed":
                    raise self.error or UpstreamError("upstream body failed")
                if offset + sum(map(len, self.chunks)) < self._promised():
                    raise UpstreamError("the body ended short")  # never ended as if whole
                return
            await asyncio.shield(self._changed)


FillRunner = Callable[[Fill], Coroutine[Any, Any, None]]


class FillRegistry:
    """The map from key to the running fill."""

    def __init__(self) -> None:
        self._fills: dict[CacheKey, Fill] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.on_waiters: Callable[[Fill], None] | None = None  # given to every fill it starts

    def get(self, key: CacheKey) -> Fill | None:
        return self._fills.get(key)

    def join_or_start(self, key: CacheKey, kind: ObjectKind, run: FillRunner) -> tuple[Fill, bool]:
        fill = self._fills.get(key)
        if fill is not None:
            fill.join()
            return fill, False
        fill = Fill(key, kind)
        fill.on_waiters = self.on_waiters
        fill.join()
        self._fills[key] = fill
        self._idle.clear()
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
            if not self._fills:
                self._idle.set()

    async def idle(self) -> None:
        """Return when no fill runs: at once, or when the last running fill ends."""
        while self._fills:
            await self._idle.wait()

    def __len__(self) -> int:
        return len(self._fills)

    async def close(self, grace_s: float = 5.0) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
