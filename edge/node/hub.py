"""The supervisor's side of a node's one cache: who fetches what, what is stored, the budget.

Workers answer hits from their own copies of the index and the RAM tier, so a hit never
crosses a process. A miss asks the hub first (`Claim`): it names the one worker that fetches
an object while every other worker follows that fill, or it hands over a copy another worker
stored. The hub owns the disk index (the byte budget, every deletion, like nginx's cache
manager), keeps the node's copy of small objects, and tells every worker what was stored or
evicted. Scrapes and purges are asked of every worker and summed here.

The hub decides and does no I/O (STYLE 2, 15): each call takes what happened and returns the
effects to carry out, mostly messages to send; relay.py carries them out. Its only other
effects go through the tiers it owns, whose index it changes in place (the disk tier deletes
what leaves its index by itself).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge.cache.disk import DiskEntry, DiskOwner
from edge.cache.memory import MemoryTier
from edge.cache.stats import Snapshot
from edge.node import messages as m
from edge.node.copies import place, stored_message, stored_object

ASK_TIMEOUT_S = 2.0  # a scrape or purge answers with the workers that replied by then
PURGES_KEPT = 1024  # recent purges, to refuse what a worker stored before it heard of them
HUB = -1  # the hub's own part of a purge, among the workers' replies


# -- what the hub asks its caller to do -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Send:
    to: int  # a worker id
    message: m.Message


@dataclass(frozen=True, slots=True)
class Recover:
    """Look for a file the dead filler of `key` placed but never reported (DiskTier.recover),
    then carry out `Hub.pending()`: indexing it may evict others."""

    key: str


@dataclass(frozen=True, slots=True)
class DeleteFiles:
    """A data file and its metadata that no index holds."""

    path: Path


@dataclass(frozen=True, slots=True)
class RemoveTemps:
    """The temp files a dead worker was writing."""

    pid: int


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Call `Hub.expire` at this time of the hub's clock: a question may time out then."""

    when: float


Effect = Send | Recover | DeleteFiles | RemoveTemps | WakeAt


# -- what the hub knows -----------------------------------------------------------------------
@dataclass(slots=True)
class Claim:
    """A fill running in one worker, and the workers following it."""

    filler: int
    followers: set[int] = field(default_factory=set)
    head: m.FillHead | None = None
    grew: m.FillGrew | None = None


@dataclass(slots=True)
class Worker:
    id: int  # unique for the life of the supervisor
    index: int  # the label on /metrics: 0..N-1, reused by a replacement
    pid: int
    ready: bool = False  # it said it serves
    last: Snapshot | None = None  # its most recent counters, kept when it dies
    retiring: bool = False  # replaced by a reload, finishing its answers


@dataclass(slots=True)
class Ask:
    """A question put to every worker: a scrape, a purge or a support lookup."""

    kind: Literal["gather", "purge", "lookup"]
    requester: int
    request_id: int
    waiting: set[int]
    deadline: float
    replies: dict[int, m.SnapshotReply | m.PurgedHere | m.LookupReply] = field(default_factory=dict)


class Hub:
    def __init__(self, disk: DiskOwner, memory: MemoryTier, clock: Callable[[], float]) -> None:
        self.disk = disk
        self.memory = memory
        self.clock = clock  # monotonic: when questions time out
        self.workers: dict[int, Worker] = {}
        self.claims: dict[str, Claim] = {}
        self.retired = Snapshot({}, {}, {})  # counters of workers that are gone
        self.epoch = 0  # purges so far; a worker's "stored" says how many it had heard of
        self._purges: deque[tuple[int, str, bool]] = deque(maxlen=PURGES_KEPT)
        self._asks: dict[int, Ask] = {}
        self._ask_ids = 0
        self._out: list[Effect] = []
        disk.on_evicted = self._evicted

    # -- the calls: each returns what to do -------------------------------------------------
    def joined(self, wid: int, index: int, pid: int) -> None:
        self.workers[wid] = Worker(wid, index, pid)

    def retire(self, wid: int) -> None:
        if wid in self.workers:
            self.workers[wid].retiring = True

    def received(self, wid: int, message: m.Message) -> list[Effect]:
        if wid in self.workers:
            self._received(wid, message)
        return self.pending()

    def left(self, wid: int) -> list[Effect]:
        """Its channel closed: the worker is gone or going."""
        worker = self.workers.pop(wid, None)
        if worker is not None:
            self._left(worker)
        return self.pending()

    def expire(self) -> list[Effect]:
        """Answer the questions whose time is up with the replies they have."""
        now = self.clock()
        for ask_id, ask in list(self._asks.items()):
            if ask.deadline <= now:
                self._answer(ask_id)
        return self.pending()

    def next_deadline(self) -> float | None:
        """When `expire` has something to do next (None: no question waits)."""
        return min((ask.deadline for ask in self._asks.values()), default=None)

    def pending(self) -> list[Effect]:
        """What is left to do (after a call, or after a tier evicted on its own)."""
        out, self._out = self._out, []
        return out

    # -- messages from workers ---------------------------------------------------------------
    def _received(self, wid: int, message: m.Message) -> None:
        match message:
            case m.Claim(claim_id, name, have):
                self._claim(wid, claim_id, name, have)
            case m.FillHead() | m.FillGrew():
                self._progress(wid, message)
            case m.FillDone() | m.Abandoned():
                self._ended(wid, message)
            case m.Stored():
                self._stored(wid, message)
            case m.Touch(names):
                for name in names:
                    self.disk.get(name)  # the node's LRU order follows every worker's hits
            case m.Gone(name, path):
                self.disk.forget(name, Path(path))
            case m.Report(snapshot):
                self.workers[wid].last = Snapshot.from_dict(snapshot)
            case m.Gather() | m.Purge() | m.Lookup():
                self._ask(wid, message)
            case m.SnapshotReply() | m.PurgedHere() | m.LookupReply():
                self._reply(wid, message)
            case m.Ready():
                self.workers[wid].ready = True
            case _:
                raise m.BadMessage(f"{type(message).__name__} is not for the hub")

    def _claim(self, wid: int, claim_id: int, name: str, have: float | None) -> None:
        """One fetch per object per node: the first claim fills, later ones follow it."""
        claim = self.claims.get(name)
        if claim is not None and claim.filler != wid:
            claim.followers.add(wid)
            self._send(wid, m.Claimed(claim_id, name, "follow"))
            for progress in (claim.head, claim.grew):  # a late follower catches up
                if progress is not None:
                    self._send(wid, progress)
            return
        stored = self.memory.get(name) or self.disk.get(name)
        if claim is None and stored is not None and (have is None or stored.meta.stored_at > have):
            # another worker stored it (or refreshed it) since this one looked: its copy is
            # sent first, so it is there when the reply is read
            self._send(wid, stored_message(stored, self.epoch))
            self._send(wid, m.Claimed(claim_id, name, "newer"))
            return
        if claim is None:  # (a claim of its own it lost track of stays its own)
            self.claims[name] = Claim(wid)
        self._send(wid, m.Claimed(claim_id, name, "fill"))

    def _progress(self, wid: int, message: m.FillHead | m.FillGrew) -> None:
        claim = self.claims.get(message.key)
        if claim is None or claim.filler != wid:
            return
        if isinstance(message, m.FillHead):
            claim.head = message
        else:
            claim.grew = message
        self._to_followers(claim, message)

    def _ended(self, wid: int, message: m.FillDone | m.Abandoned) -> None:
        claim = self.claims.get(message.key)
        if claim is None or claim.filler != wid:
            return
        del self.claims[message.key]
        self._to_followers(claim, message)

    def _stored(self, wid: int, message: m.Stored) -> None:
        stored = stored_object(message)
        if self._purged_since(message.epoch, message.key):
            # stored before its worker heard of a purge that covers it (the worker forgot it
            # when it did): not the node's any more
            if isinstance(stored, DiskEntry):
                self._out.append(DeleteFiles(stored.path))
            return
        place(stored, self.memory, self.disk)
        self._broadcast(message, but=wid)

    def _purged_since(self, epoch: int, name: str) -> bool:
        return any(
            purge_epoch > epoch and (name == target or (prefix and name.startswith(target)))
            for purge_epoch, target, prefix in self._purges
        )

    # -- workers that leave, objects that go -------------------------------------------------
    def _left(self, worker: Worker) -> None:
        if worker.last is not None:
            self.retired.add(worker.last, gauges=False)
        for name, claim in list(self.claims.items()):
            claim.followers.discard(worker.id)
            if claim.filler == worker.id:  # its followers claim again; one takes it over
                del self.claims[name]
                self._to_followers(claim, m.Abandoned(name))
                self._out.append(Recover(name))  # a file it placed but never reported
        for ask_id, ask in list(self._asks.items()):
            ask.waiting.discard(worker.id)
            if ask.requester == worker.id:
                del self._asks[ask_id]
            elif not ask.waiting:
                self._answer(ask_id)
        self._out.append(RemoveTemps(worker.pid))

    def _evicted(self, entry: DiskEntry) -> None:
        self._broadcast(m.Evict(entry.meta.key, str(entry.path)))

    # -- questions to every worker -----------------------------------------------------------
    def _ask(self, wid: int, message: m.Gather | m.Purge | m.Lookup) -> None:
        self._ask_ids += 1
        ask_id = self._ask_ids
        kind: Literal["gather", "purge", "lookup"] = (
            "gather"
            if isinstance(message, m.Gather)
            else "lookup"
            if isinstance(message, m.Lookup)
            else "purge"
        )
        deadline = self.clock() + ASK_TIMEOUT_S
        ask = self._asks[ask_id] = Ask(kind, wid, message.id, set(self.workers), deadline)
        question: m.Message
        if isinstance(message, m.Purge):  # the node's own copies go too
            self.epoch += 1
            self._purges.append((self.epoch, message.target, message.prefix))
            ask.replies[HUB] = m.PurgedHere(ask_id, self._purge_here(message))
            question = m.PurgeOrder(ask_id, self.epoch, message.target, message.prefix)
        elif isinstance(message, m.Lookup):
            question = m.AskLookup(ask_id, message.client, message.sid)
        else:
            question = m.AskSnapshot(ask_id)
        self._broadcast(question)
        self._out.append(WakeAt(deadline))

    def _reply(self, wid: int, message: m.SnapshotReply | m.PurgedHere | m.LookupReply) -> None:
        ask = self._asks.get(message.ask)
        if ask is None or wid not in ask.waiting:
            return
        ask.waiting.discard(wid)
        ask.replies[wid] = message
        if not ask.waiting:
            self._answer(message.ask)

    def _answer(self, ask_id: int) -> None:
        ask = self._asks.pop(ask_id)
        if ask.kind == "gather":
            self._send(ask.requester, self._gathered(ask))
            return
        if ask.kind == "lookup":
            found = [
                session
                for reply in ask.replies.values()
                if isinstance(reply, m.LookupReply)
                for session in reply.sessions
            ]
            self._send(ask.requester, m.Looked(ask.request_id, found))
            return
        names: set[str] = set()
        for reply in ask.replies.values():
            if isinstance(reply, m.PurgedHere):
                names.update(reply.keys)
        self._send(ask.requester, m.Purged(ask.request_id, len(names)))

    def _gathered(self, ask: Ask) -> m.Gathered:
        total = Snapshot({}, {}, {})
        total.add(self.retired, gauges=False)
        workers = []
        for wid, reply in ask.replies.items():
            worker = self.workers.get(wid)
            if worker is None or not isinstance(reply, m.SnapshotReply):
                continue
            snap = worker.last = Snapshot.from_dict(reply.snapshot)
            total.add(snap)
            gauges = {**snap.gauges, "requests": sum(snap.requests.values())}
            workers.append({"index": worker.index, "pid": worker.pid, "gauges": gauges})
            if "viewers" in reply.snapshot:  # opaque here: the scraping worker merges them
                workers[-1]["viewers"] = reply.snapshot["viewers"]
        total.gauges.update(self.node_gauges())
        return m.Gathered(ask.request_id, total.to_dict(), workers)

    def node_gauges(self) -> dict[str, float]:
        """What only the node knows: its disk budget and workers."""
        return {
            "disk_bytes": self.disk.bytes_used,
            "disk_objects": len(self.disk),
            "disk_evictions": self.disk.evictions,
            "workers": sum(not worker.retiring for worker in self.workers.values()),
            "node_ram_copies_bytes": self.memory.bytes_used,
        }

    def _purge_here(self, order: m.Purge) -> list[str]:
        names = [
            name
            for name in {*self.memory.keys(), *self.disk.keys()}
            if name == order.target or (order.prefix and name.startswith(order.target))
        ]
        for name in names:
            self.memory.discard(name)
            self.disk.discard(name)
        return names

    # -- sending -----------------------------------------------------------------------------
    def _send(self, wid: int, message: m.Message) -> None:
        if wid in self.workers:
            self._out.append(Send(wid, message))

    def _broadcast(self, message: m.Message, but: int | None = None) -> None:
        for wid in self.workers:
            if wid != but:
                self._out.append(Send(wid, message))

    def _to_followers(self, claim: Claim, message: m.Message) -> None:
        for follower in claim.followers:
            self._send(follower, message)
