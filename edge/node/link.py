"""A worker's side of the node's one cache (the hub, hub.py, is the supervisor's side).

The cache asks it before it fetches anything (`before_fetch`, the cache's FillCoordinator),
and it asks the hub (`claim`, in a loop in claims.py); the answer is one of
- "fill": this worker fetches, and publishes the head, progress and end (`Publisher`);
- "follow": another worker fetches; this one streams the bytes from the temp file the filler
  writes, as the filler says they are there (`Following`);
- "newer": the node holds a copy stored since this worker looked; it came just before.
Whatever this worker stores, the hub tells the others; whatever the hub evicts, this worker's
view forgets. Hits never ask anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from edge.cache.coordinator import Verdict
from edge.cache.disk import DiskEntry, DiskView, OpenFile
from edge.cache.flight import Fill, Head
from edge.cache.identity import of_meta
from edge.cache.memory import MemoryTier
from edge.cache.objects import ObjectMeta
from edge.cache.stats import Snapshot, WorkerGauges
from edge.cache.tiers import Stored
from edge.errors import UpstreamError
from edge.node import messages as m
from edge.node.channel import Channel, open_channel
from edge.node.claims import claim_until_answered
from edge.node.copies import place, stored_message, stored_object
from edge.node.takeover import complete_from

log = logging.getLogger("edge.node")

CLAIM_TIMEOUT_S = 2.0  # no word from the supervisor: fetch alone rather than wait
REPORT_INTERVAL_S = 1.0  # disk hits (for the node's LRU) and counters go to the supervisor
GATHER_TIMEOUT_S = 5.0
Answered = m.Gathered | m.Purged | m.Looked


FOLLOW_SILENCE_S = 30.0  # a filler that says nothing for this long is taken for dead


@dataclass(slots=True)
class Following:
    fill: Fill
    done: asyncio.Future[bool]  # True: the fill ended here; False: its filler died first
    heard: float  # loop time of the last word about it
    got_head: bool = False


class NodeLink:
    def __init__(self, index: int, lost: asyncio.Event | None = None) -> None:
        self.index = index
        self.channel: Channel | None = None
        self.memory: MemoryTier | None = None
        self.disk: DiskView | None = None
        self.local_snapshot: Callable[[], Snapshot] = lambda: Snapshot({}, {}, {})
        # this worker's viewer sessions, only for a scrape (edge/serve/viewers.py)
        self.local_viewers: Callable[[], dict[str, Any] | None] = lambda: None
        self.local_lookup: Callable[[str, str], list[dict[str, Any]]] = lambda client, sid: []
        self.local_purge: Callable[[str, bool], list[str]] = lambda name, prefix: []
        self.clock: Callable[[], float] = time.time  # the wall clock the cache reads
        self.lost = lost or asyncio.Event()  # set when the supervisor is gone
        self._claims: dict[int, tuple[Fill, asyncio.Future[m.Role]]] = {}  # by claim id
        self._following: dict[str, Following] = {}
        self._asked: dict[int, asyncio.Future[Answered]] = {}
        self._ids = 0
        self.epoch = 0  # the node's purges this worker has applied
        self._report: asyncio.TimerHandle | None = None
        self.publisher = Publisher(self)

    async def open(self, sock: Any) -> None:
        self.channel = await open_channel(sock, self._received, self._lost)
        self._report = asyncio.get_running_loop().call_later(REPORT_INTERVAL_S, self._reported)

    def bind(self, memory: MemoryTier, disk: DiskView, clock: Callable[[], float]) -> None:
        """The tiers this worker holds copies in (the disk tier is a view of the node's), and
        the wall clock its cache judges their freshness by."""
        self.memory = memory
        self.disk = disk
        self.clock = clock
        disk.on_forget = self._forgot

    def close(self) -> None:
        if self._report is not None:
            self._report.cancel()
        if self.channel is not None:
            self.channel.close()

    def send(self, message: m.Message) -> None:
        if self.channel is not None:
            self.channel.send(message)

    def lookup(self, name: str) -> Stored | None:
        if self.memory is None or self.disk is None:
            return None
        return self.memory.get(name) or self.disk.get(name)

    # -- misses (FillCoordinator) ----------------------------------------------------------
    async def before_fetch(self, fill: Fill, stale: Stored | None) -> Verdict:
        verdict = await claim_until_answered(self, fill, stale)
        if verdict.fetch:
            fill.observer = self.publisher  # its followers in other workers hear of it
        return verdict

    async def claim(self, fill: Fill, have: float | None) -> m.Role:
        """Ask who fetches `fill`'s object; `have` is the stored time of the copy in hand."""
        if self.channel is None or not self.channel.is_open:
            return "fill"
        name = str(fill.key)
        self._ids += 1
        claim_id = self._ids
        answer: asyncio.Future[m.Role] = asyncio.get_running_loop().create_future()
        self._claims[claim_id] = (fill, answer)
        self.send(m.Claim(claim_id, name, have))
        try:
            async with asyncio.timeout(CLAIM_TIMEOUT_S):
                return await answer
        except TimeoutError:
            log.warning("no answer from the supervisor: fetching alone", extra={"key": name})
            return "fill"
        finally:
            self._claims.pop(claim_id, None)

    async def follow(self, fill: Fill) -> bool:
        """Wait while another worker's fill feeds `fill`: True once `fill` is finished, False
        if that worker died first (the caller claims again, and may take the fill over)."""
        name = str(fill.key)
        following = self._following.get(name)
        if following is None or following.fill is not fill:
            return fill.finished.done()
        loop = asyncio.get_running_loop()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FOLLOW_SILENCE_S):
                        return await asyncio.shield(following.done)
                if loop.time() - following.heard >= FOLLOW_SILENCE_S:
                    log.warning("the worker fetching it went silent", extra={"key": name})
                    fill.finish("failed", UpstreamError("the worker fetching it went silent"))
                    return True
        finally:
            if self._following.get(name) is following:
                del self._following[name]

    def release(self, fill: Fill) -> None:
        """The node named this worker the filler of a fill that ended meanwhile: the node
        must not wait for it (its followers claim again)."""
        self.send(m.Abandoned(str(fill.key)))

    def stored(self, stored: Stored) -> None:
        """This worker stored or revalidated an object: the node's other workers hear of it."""
        # with the purges it has applied: the node refuses what was stored before a purge
        self.send(stored_message(stored, self.epoch))

    # -- questions to the node -------------------------------------------------------------
    async def gather(self) -> tuple[Snapshot, list[WorkerGauges], list[dict[str, Any]]]:
        """The node's counters, each worker's gauges, and each worker's viewer sessions."""
        reply = await self._ask(m.Gather)
        assert isinstance(reply, m.Gathered)
        workers = [WorkerGauges(w["index"], w["pid"], w["gauges"]) for w in reply.workers]
        viewers = [w["viewers"] for w in reply.workers if "viewers" in w]
        return Snapshot.from_dict(reply.total), sorted(workers, key=lambda w: w.index), viewers

    async def purge(self, name: str, prefix: bool) -> int:
        reply = await self._ask(lambda ask_id: m.Purge(ask_id, name, prefix))
        assert isinstance(reply, m.Purged)
        return reply.count

    async def viewers(self, client: str, sid: str) -> list[dict[str, Any]]:
        """A viewer's sessions in every worker of the node (the support lookup)."""
        reply = await self._ask(lambda ask_id: m.Lookup(ask_id, client, sid))
        assert isinstance(reply, m.Looked)
        return reply.sessions

    async def _ask(self, question: Callable[[int], m.Message]) -> Answered:
        self._ids += 1
        ask_id = self._ids
        answer: asyncio.Future[Answered] = asyncio.get_running_loop().create_future()
        self._asked[ask_id] = answer
        self.send(question(ask_id))
        try:
            async with asyncio.timeout(GATHER_TIMEOUT_S):
                return await answer
        finally:
            self._asked.pop(ask_id, None)

    # -- messages from the supervisor ------------------------------------------------------
    def _received(self, message: m.Message) -> None:
        match message:
            case m.Claimed(claim_id, name, role):
                self._claimed(claim_id, name, role)
            case m.FillHead() | m.FillGrew() | m.FillDone() | m.Abandoned():
                following = self._following.get(message.key)
                if following is not None and not following.done.done():
                    following.heard = asyncio.get_running_loop().time()
                    self._followed(following, message)
            case m.Stored():
                self._adopt(stored_object(message))
            case m.Evict(name, path):
                if self.disk is not None:
                    self.disk.forget(name, Path(path))
            case m.AskSnapshot(ask):
                snap = self.local_snapshot().to_dict()
                viewers = self.local_viewers()
                if viewers is not None:
                    snap["viewers"] = viewers
                self.send(m.SnapshotReply(ask, snap))
            case m.PurgeOrder(ask, epoch, target, prefix):
                self.epoch = max(self.epoch, epoch)
                self.send(m.PurgedHere(ask, self.local_purge(target, prefix)))
            case m.AskLookup(ask, client, sid):
                self.send(m.LookupReply(ask, self.local_lookup(client, sid)))
            case m.Gathered(ask_id) | m.Purged(ask_id) | m.Looked(ask_id):
                answer = self._asked.get(ask_id)
                if answer is not None and not answer.done():
                    answer.set_result(message)
            case _:
                raise m.BadMessage(f"{type(message).__name__} is not for a worker")

    def _claimed(self, claim_id: int, name: str, role: m.Role) -> None:
        fill, answer = self._claims.get(claim_id, (None, None))
        if fill is None or answer is None or answer.done():
            if role == "fill":  # too late: this worker fetches alone; others claim again
                self.send(m.Abandoned(name))
            return
        if role == "follow":  # before the head and progress that come right after
            loop = asyncio.get_running_loop()
            self._following[name] = Following(fill, loop.create_future(), loop.time())
        answer.set_result(role)

    def _followed(
        self, following: Following, message: m.FillHead | m.FillGrew | m.FillDone | m.Abandoned
    ) -> None:
        match message:
            case m.FillHead():
                self._follower_head(following, message)
            case m.FillGrew(file_end=file_end):
                if following.fill.reader is not None:
                    following.fill.file_reached(file_end)
            case m.FillDone():
                self._follower_done(following, message)
            case m.Abandoned():  # claim again: one follower fetches, the rest follow it
                following.done.set_result(False)

    def _follower_head(self, following: Following, message: m.FillHead) -> None:
        fill = following.fill
        pairs: list[tuple[str, str]] = [(name, value) for name, value in message.headers]
        headers = CIMultiDictProxy(CIMultiDict(pairs))
        head = Head(message.status, headers, message.length, ObjectMeta.from_dict(message.meta))
        started = fill.head.result() if fill.head.done() else None
        if isinstance(started, Head) and not started.same_object(head):  # a takeover's
            fill.finish("failed", UpstreamError("the object changed while it was being sent"))
            following.done.set_result(True)
            return
        following.got_head = True
        fill.label = "COALESCED"
        if message.temp:
            # at once: the filler moves the file into the tier when it is complete (if it
            # did already, what it stored is served instead)
            with contextlib.suppress(OSError):
                fill.take_reader(OpenFile(os.open(message.temp, os.O_RDONLY)))
        fill.set_head(head)

    def _follower_done(self, following: Following, message: m.FillDone) -> None:
        fill = following.fill
        name = str(fill.key)
        if message.body:
            fill.append(message.body)
        stored = self.disk.get(name) if self.disk is not None else None
        if fill.file_end < message.file_end and stored is not None:
            # the temp file was gone before it could be followed: the stored file finishes
            # it if it is what this very fetch stored (its head was checked against the one
            # the viewers got, when it came)
            ended = ObjectMeta.from_dict(message.meta) if message.meta else None
            complete_from(fill, stored, of_meta(ended) if ended is not None else None)
        # the body is here only if the file part was followed (or there was none)
        if message.meta and fill.file_end >= message.file_end:
            fill.meta = ObjectMeta.from_dict(message.meta)
        if message.outcome == "not_modified" and self.memory is not None and self.disk is not None:
            fill.revalidated = self.memory.get(name) or self.disk.get(name)
        error = None
        if message.error:
            error = UpstreamError(message.error)
            error.status = message.status or 502
        fill.finish(message.outcome, error)
        following.done.set_result(True)

    def _adopt(self, stored: Stored) -> None:
        if self.memory is not None and self.disk is not None:
            place(stored, self.memory, self.disk)

    def _forgot(self, entry: DiskEntry) -> None:
        self.send(m.Gone(entry.meta.key, str(entry.path)))

    def _reported(self) -> None:
        if self.disk is not None and self.disk.touched:
            self.send(m.Touch(list(self.disk.touched)))
            self.disk.touched.clear()
        self.send(m.Report(self.local_snapshot().to_dict()))
        self._report = asyncio.get_running_loop().call_later(REPORT_INTERVAL_S, self._reported)

    def _lost(self) -> None:
        self.channel = None
        for _, answer in self._claims.values():
            if not answer.done():
                answer.set_result("fill")
        for following in list(self._following.values()):
            if not following.done.done():
                following.done.set_result(False)
        self.lost.set()


class Publisher:
    """A fill this worker fetches, told to the followers in other workers (FillObserver)."""

    def __init__(self, link: NodeLink) -> None:
        self.link = link

    def head(self, fill: Fill, head: Head) -> None:
        temp = str(fill.temp_path) if fill.reader is not None and fill.temp_path else None
        headers = [[name, value] for name, value in head.headers.items()]
        meta = head.meta.to_dict()
        self.link.send(m.FillHead(str(fill.key), head.status, headers, head.length, meta, temp))

    def grew(self, fill: Fill) -> None:
        self.link.send(m.FillGrew(str(fill.key), fill.file_end))

    def finished(self, fill: Fill) -> None:
        outcome = fill.finished.result()
        meta = fill.meta.to_dict() if fill.meta is not None else None
        error = fill.error
        # a body nobody stored (no-store, or the disk failed) goes with the end; what was
        # stored reached every worker just before
        body = fill.body if outcome == "passed" else b""
        self.link.send(
            m.FillDone(
                str(fill.key),
                outcome,
                meta,
                fill.file_end,
                error.reason if error is not None else None,
                error.status if error is not None else None,
                body,
            )
        )
