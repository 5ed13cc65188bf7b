"""The hub's I/O in the supervisor: a channel per worker, the hub's timer and the disk chores
it asks for. Everything it does, the hub (hub.py) decided."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from edge.node import messages as m
from edge.node.channel import Channel, open_channel
from edge.node.hub import DeleteFiles, Effect, Hub, Recover, RemoveTemps, Send, WakeAt

MIN_WAKE_S = 0.005


@dataclass(eq=False, slots=True)
class Attached:
    """A worker process as the supervisor sees it on its channel."""

    id: int
    pid: int
    channel: Channel
    ready: asyncio.Future[None]  # it serves; an exception if it exited first


class Relay:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.attached: dict[int, Attached] = {}
        self.on_lost: Callable[[Attached], None] = lambda worker: None
        self._tasks: set[asyncio.Task[None]] = set()

    async def attach(self, wid: int, index: int, pid: int, sock: Any) -> Attached:
        loop = asyncio.get_running_loop()
        channel = await open_channel(
            sock, lambda message: self._received(wid, message), lambda: self._lost(wid)
        )
        worker = self.attached[wid] = Attached(wid, pid, channel, loop.create_future())
        self.hub.joined(wid, index, pid)
        return worker

    def retire(self, worker: Attached) -> None:
        """Replaced by a reload: it no longer counts among the node's workers."""
        self.hub.retire(worker.id)

    def _received(self, wid: int, message: m.Message) -> None:
        effects = self.hub.received(wid, message)
        worker = self.attached.get(wid)
        if isinstance(message, m.Ready) and worker is not None and not worker.ready.done():
            worker.ready.set_result(None)
        self._carry_out(effects)

    def _lost(self, wid: int) -> None:
        worker = self.attached.pop(wid, None)
        self._carry_out(self.hub.left(wid))
        if worker is None:
            return
        if not worker.ready.done():
            worker.ready.set_exception(RuntimeError(f"worker {worker.pid} exited at start-up"))
            worker.ready.exception()  # retrieved here: a caller may no longer wait for it
        self.on_lost(worker)

    def _carry_out(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            match effect:
                case Send(wid, message):
                    worker = self.attached.get(wid)
                    if worker is not None:
                        worker.channel.send(message)
                case Recover(name):
                    self._run_soon(self._recover(name))
                case DeleteFiles(path):
                    self.hub.disk.delete_files(path)
                case RemoveTemps(pid):
                    with contextlib.suppress(OSError):
                        for leftover in self.hub.disk.tmp.glob(f"*-{pid}-*.part"):
                            leftover.unlink(missing_ok=True)
                case WakeAt(when):
                    self._wake_at(when)

    async def _recover(self, name: str) -> None:
        await self.hub.disk.recover(name)
        self._carry_out(self.hub.pending())  # what indexing it evicted

    def _wake_at(self, when: float) -> None:
        delay = max(0.0, when - self.hub.clock())
        asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self._carry_out(self.hub.expire())
        # uvloop's timers run on its cached, millisecond clock and may fire a little before
        # the hub's clock reaches the deadline: then wait again, or the question never ends
        when = self.hub.next_deadline()
        if when is not None and when <= self.hub.clock() + MIN_WAKE_S:
            self._wake_at(max(when, self.hub.clock() + MIN_WAKE_S))

    def _run_soon(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
