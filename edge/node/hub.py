"""The supervisor's side of a node's one cache: who fetches what, what is stored, the budget.

Workers answer hits from their own copies of the index and the RAM tier, so a hit never
crosses a process. A miss asks the hub first (`claim`): it names the one worker that fetches
an object while every other worker follows that fill, or it hands over a copy another worker
stored. The hub owns the disk directory (the start-up scan, the byte budget, every deletion,
like nginx's cache manager), keeps the node's copy of small objects, and tells every worker
what was stored or evicted. Scrapes and purges are asked of every worker and summed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from edge.cache.disk import DiskEntry, DiskOwner, DiskTier
from edge.cache.memory import MemoryObject, MemoryTier
from edge.cache.objects import ObjectMeta
from edge.cache.stats import Snapshot
from edge.node.messages import Channel, Message, open_channel

log = logging.getLogger("edge.node")

ASK_TIMEOUT_S = 2.0  # a scrape or purge answers with the workers that replied by then
PURGES_KEPT = 1024  # recent purges, to refuse what a worker stored before it heard of them
Stored = MemoryObject | DiskEntry


@dataclass(slots=True)
class Claim:
    """A fill running in one worker, and the workers following it."""

    filler: int
    followers: set[int] = field(default_factory=set)
    head: Message | None = None
    grew: Message | None = None


@dataclass(slots=True)
class Worker:
    id: int  # unique for the life of the supervisor
    index: int  # the label on /metrics: 0..N-1, reused by a replacement
    pid: int
    channel: Channel
    ready: asyncio.Future[None]
    last: Snapshot | None = None  # its most recent counters, kept when it dies
    retiring: bool = False  # replaced by a reload, finishing its answers


@dataclass(slots=True)
class Ask:
    """A question put to every worker: a scrape or a purge."""

    kind: Literal["gather", "purge"]
    requester: int
    request_id: int
    waiting: set[int]
    replies: dict[int, Any] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None


def stored_message(stored: Stored) -> tuple[Message, bytes]:
    meta = stored.meta
    if isinstance(stored, MemoryObject):
        return {"t": "stored", "key": meta.key, "tier": "memory", "meta": meta.to_dict()}, (
            stored.body
        )
    message = {"t": "stored", "key": meta.key, "tier": "disk", "meta": meta.to_dict()}
    message["path"] = str(stored.path)
    return message, b""


def stored_object(message: Message, payload: bytes) -> Stored:
    meta = ObjectMeta.from_dict(message["meta"])
    if message["tier"] == "memory":
        return MemoryObject(meta, payload)
    return DiskEntry(meta, Path(message["path"]))


def place(stored: Stored, memory: MemoryTier, disk: DiskTier) -> None:
    """Hold `stored` in the tier it belongs to, and no copy of it in the other one."""
    name = stored.meta.key
    if isinstance(stored, MemoryObject):
        memory.put(stored)
        disk.discard(name)
    else:
        memory.discard(name)
        disk.adopt(stored)


class Hub:
    def __init__(self, disk: DiskOwner, memory: MemoryTier) -> None:
        self.disk = disk
        self.memory = memory
        self.workers: dict[int, Worker] = {}
        self.claims: dict[str, Claim] = {}
        self.retired = Snapshot({}, {}, {})  # counters of workers that are gone
        self.on_lost: Callable[[Worker], None] = lambda worker: None
        self._asks: dict[int, Ask] = {}
        self._ask_ids = 0
        self.epoch = 0  # purges so far; a worker's "stored" says how many it had heard of
        self._purges: deque[tuple[int, str, bool]] = deque(maxlen=PURGES_KEPT)
        self._tasks: set[asyncio.Task[None]] = set()
        disk.on_evicted = self._evicted

    # -- workers ---------------------------------------------------------------------------
    async def attach(self, wid: int, index: int, pid: int, sock: Any) -> Worker:
        loop = asyncio.get_running_loop()
        channel = await open_channel(
            sock, lambda m, p: self._received(wid, m, p), lambda: self._lost(wid)
        )
        worker = Worker(wid, index, pid, channel, loop.create_future())
        self.workers[wid] = worker
        return worker

    def _lost(self, wid: int) -> None:
        worker = self.workers.pop(wid, None)
        if worker is None:
            return
        if worker.last is not None:
            self.retired.add(worker.last, gauges=False)
        for name, claim in list(self.claims.items()):
            claim.followers.discard(wid)
            if claim.filler == wid:  # its followers claim again; one of them takes it over
                del self.claims[name]
                self._to_followers(claim, {"t": "done", "key": name, "died": True})
                self._run_soon(self.disk.recover(name))  # a file it placed but never reported
        for ask_id, ask in list(self._asks.items()):
            ask.waiting.discard(wid)
            if ask.requester == wid:
                self._asks.pop(ask_id)
            elif not ask.waiting:
                self._answer(ask_id)
        with contextlib.suppress(OSError):  # the temp files it was writing
            for leftover in self.disk.tmp.glob(f"*-{worker.pid}-*.part"):
                leftover.unlink(missing_ok=True)
        if not worker.ready.done():
            worker.ready.set_exception(RuntimeError(f"worker {worker.pid} exited at start-up"))
            worker.ready.exception()  # retrieved here: a caller may no longer wait for it
        self.on_lost(worker)

    def _run_soon(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _broadcast(self, message: Message, payload: bytes = b"", but: int | None = None) -> None:
        for wid, worker in self.workers.items():
            if wid != but:
                worker.channel.send(message, payload)

    def _send(self, wid: int, message: Message, payload: bytes = b"") -> None:
        worker = self.workers.get(wid)
        if worker is not None:
            worker.channel.send(message, payload)

    # -- messages from workers -------------------------------------------------------------
    def _received(self, wid: int, message: Message, payload: bytes) -> None:
        kind = message["t"]
        if kind == "claim":
            self._claim(wid, message["id"], message["key"], message.get("have"))
        elif kind in ("head", "grew"):
            self._progress(wid, message)
        elif kind == "stored":
            self._stored(wid, message, payload)
        elif kind == "done":
            self._done(wid, message, payload)
        elif kind == "touch":
            for name in message["keys"]:
                self.disk.get(name)  # the node's LRU order follows every worker's hits
        elif kind == "gone":
            self.disk.forget(message["key"], Path(message["path"]))
        elif kind == "stats":
            self.workers[wid].last = Snapshot.from_dict(message["snapshot"])
        elif kind in ("gather", "purge"):
            self._ask(wid, message)
        elif kind in ("snapshot", "purged_here"):
            self._reply(wid, message)
        elif kind == "ready":
            worker = self.workers[wid]
            if not worker.ready.done():
                worker.ready.set_result(None)
        else:
            log.warning("unknown node message", extra={"type": kind})

    def _claim(self, wid: int, claim_id: int, name: str, have: float | None) -> None:
        """One fetch per object per node: the first claim fills, later ones follow it."""
        reply = {"t": "claimed", "id": claim_id, "key": name}
        claim = self.claims.get(name)
        if claim is not None and claim.filler != wid:
            claim.followers.add(wid)
            self._send(wid, {**reply, "role": "follow"})
            for progress in (claim.head, claim.grew):  # a late follower catches up
                if progress is not None:
                    self._send(wid, progress)
            return
        stored = self.memory.get(name) or self.disk.get(name)
        if claim is None and stored is not None and (have is None or stored.meta.stored_at > have):
            # another worker stored it (or refreshed it) since this one looked: its copy is
            # sent first, so it is there when the reply is read
            self._send(wid, *stored_message(stored))
            self._send(wid, {**reply, "role": "newer"})
            return
        if claim is None:  # (a claim of its own it lost track of stays its own)
            self.claims[name] = Claim(wid)
        self._send(wid, {**reply, "role": "fill"})

    def _progress(self, wid: int, message: Message) -> None:
        claim = self.claims.get(message["key"])
        if claim is None or claim.filler != wid:
            return
        if message["t"] == "head":
            claim.head = message
        else:
            claim.grew = message
        self._to_followers(claim, message)

    def _stored(self, wid: int, message: Message, payload: bytes) -> None:
        stored = stored_object(message, payload)
        if self._purged_since(message.get("epoch", self.epoch), stored.meta.key):
            # stored before its worker heard of a purge that covers it (the worker forgot it
            # when it did): not the node's any more
            if isinstance(stored, DiskEntry):
                self.disk.delete_files(stored.path)
            return
        place(stored, self.memory, self.disk)
        self._broadcast(message, payload, but=wid)

    def _purged_since(self, epoch: int, name: str) -> bool:
        return any(
            purge_epoch > epoch and (name == target or (prefix and name.startswith(target)))
            for purge_epoch, target, prefix in self._purges
        )

    def _done(self, wid: int, message: Message, payload: bytes) -> None:
        claim = self.claims.get(message["key"])
        if claim is None or claim.filler != wid:
            return
        del self.claims[message["key"]]
        self._to_followers(claim, message, payload)

    def _to_followers(self, claim: Claim, message: Message, payload: bytes = b"") -> None:
        for follower in claim.followers:
            self._send(follower, message, payload)

    def _evicted(self, entry: DiskEntry) -> None:
        self._broadcast({"t": "evict", "key": entry.meta.key, "path": str(entry.path)})

    # -- questions to every worker ---------------------------------------------------------
    def _ask(self, wid: int, message: Message) -> None:
        self._ask_ids += 1
        ask_id = self._ask_ids
        ask = Ask(message["t"], wid, message["id"], set(self.workers))
        self._asks[ask_id] = ask
        question = {**message, "t": "snapshot" if ask.kind == "gather" else "purge"}
        question["ask"] = ask_id
        if ask.kind == "purge":  # the node's own copies go too
            self.epoch += 1
            prefix = "prefix" in message
            self._purges.append((self.epoch, message["prefix" if prefix else "path"], prefix))
            question["epoch"] = self.epoch
            ask.replies[-1] = {"keys": self._purge_here(message)}
        self._broadcast(question)
        ask.timer = asyncio.get_running_loop().call_later(ASK_TIMEOUT_S, self._answer, ask_id)

    def _reply(self, wid: int, message: Message) -> None:
        ask = self._asks.get(message["ask"])
        if ask is None or wid not in ask.waiting:
            return
        ask.waiting.discard(wid)
        ask.replies[wid] = message
        if not ask.waiting:
            self._answer(message["ask"])

    def _answer(self, ask_id: int) -> None:
        ask = self._asks.pop(ask_id, None)
        if ask is None:
            return
        if ask.timer is not None:
            ask.timer.cancel()
        if ask.kind == "gather":
            self._send(ask.requester, self._gathered(ask))
            return
        names: set[str] = set()
        for reply in ask.replies.values():
            names.update(reply["keys"])
        self._send(ask.requester, {"t": "purged", "id": ask.request_id, "count": len(names)})

    def _gathered(self, ask: Ask) -> Message:
        total = Snapshot(dict(self.retired.requests), dict(self.retired.counters), {})
        workers = []
        for wid, reply in ask.replies.items():
            snap = Snapshot.from_dict(reply["snapshot"])
            worker = self.workers.get(wid)
            if worker is None:
                continue
            worker.last = snap
            total.add(snap)
            gauges = {**snap.gauges, "requests": sum(snap.requests.values())}
            workers.append({"index": worker.index, "pid": worker.pid, "gauges": gauges})
        total.gauges.update(self.node_gauges())
        return {"t": "gathered", "id": ask.request_id, "total": total.to_dict(), "workers": workers}

    def node_gauges(self) -> dict[str, float]:
        """What only the node knows: its disk budget and workers."""
        return {
            "disk_bytes": self.disk.bytes_used,
            "disk_objects": len(self.disk),
            "disk_evictions": self.disk.evictions,
            "workers": sum(not worker.retiring for worker in self.workers.values()),
            "node_ram_copies_bytes": self.memory.bytes_used,
        }

    def _purge_here(self, order: Message) -> list[str]:
        names = [
            name
            for name in {*self.memory.keys(), *self.disk.keys()}
            if name == order.get("path") or name.startswith(order.get("prefix") or "\0")
        ]
        for name in names:
            self.memory.discard(name)
            self.disk.discard(name)
        return names
