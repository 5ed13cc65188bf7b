"""The process an operator starts with `--workers N`: it binds the port, runs N workers, and
holds the node's cache index (hub.py). It serves no requests itself.

The workers inherit the one listening socket rather than binding their own with SO_REUSEPORT:
the accept queue then belongs to the node, not to a worker, so a worker that stops (a reload,
a crash) leaves the connections waiting in it to the others. With SO_REUSEPORT each socket has
its own queue, and Linux resets the connections queued on a socket that closes.

- a worker that dies is replaced at once (after a back-off if it keeps dying at start-up);
- SIGHUP re-reads the configuration and replaces every worker: the new ones are ready (and
  accepting) before the old ones stop accepting and drain for `shutdown_timeout`;
- SIGTERM or SIGINT stops the workers (drain, then SIGKILL after `shutdown_timeout` + 1 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from edge.cache.disk import DiskOwner
from edge.cache.memory import MemoryTier
from edge.config import EdgeConfig, listeners
from edge.errors import ConfigError
from edge.http.listen import Listener, bind, bound
from edge.node.hub import Hub
from edge.node.relay import Attached, Relay

log = logging.getLogger("edge")

BACKLOG = 1024
READY_TIMEOUT_S = 30.0
POLL_S = 0.1  # how often dead workers are looked for (uvloop keeps SIGCHLD for itself)
QUICK_DEATH_S = 1.0  # a worker that dies sooner than this after its start backs off
MAX_BACKOFF_S = 5.0
# what a reload cannot change in a running node (the sockets and the node's own index)
FIXED_ON_RELOAD = (
    "host",
    "port",
    "listen",
    "listen_tls",
    "tls_port",
    "cache_dir",
    "disk_bytes",
    "ram_bytes",
    "max_open_files",
)


@dataclass(eq=False)
class Process:
    index: int
    popen: subprocess.Popen[bytes]
    started: float
    worker: Attached | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid


def as_bound(config: EdgeConfig, here: list[Listener]) -> EdgeConfig:
    """`config` naming the listeners as bound (port 0 replaced), in the order of the sockets
    handed to the workers, and a ticket secret every worker shares (tickets.py)."""
    plain = tuple(listener.address for listener in here if not listener.tls)
    https = tuple(listener.address for listener in here if listener.tls)
    secret = config.tls_ticket_secret or secrets.token_hex(32)
    return dataclasses.replace(
        config, listen=plain, listen_tls=https, tls_port=None, tls_ticket_secret=secret
    )


def restart_delay(previous: float, quick: bool) -> float:
    """How long to wait before replacing a worker: at once, unless it died at start-up, when
    the wait doubles each time (0.25 s up to MAX_BACKOFF_S) so a crash loop does not spin."""
    return min(MAX_BACKOFF_S, max(0.25, previous * 2)) if quick else 0.0


class Supervisor:
    def __init__(self, config: EdgeConfig, reload: Callable[[], EdgeConfig]) -> None:
        self.asked = config  # as the operator gave it (port 0 and an empty cache_dir included)
        self.config = config  # as it runs: the bound port, the cache directory
        self.reload_config = reload
        self.live: set[Process] = set()  # every worker process not reaped yet
        self.current: dict[int, Process] = {}  # the serving set, by worker index
        self.relay: Relay | None = None
        self.socks: list[socket.socket] = []
        self.started = False
        self.stopping = asyncio.Event()
        self._exited = asyncio.Event()
        self._ids = 0
        self._backoff: dict[int, float] = {}
        self._reloading: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon)  # before anything is slow
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        wanted = listeners(self.config)
        for listener in wanted:
            self.socks.append(bind(listener))
        here = [bound(listener, sock) for listener, sock in zip(wanted, self.socks, strict=True)]
        own_dir = not self.config.cache_dir
        root = Path(self.config.cache_dir or tempfile.mkdtemp(prefix="classcast-edge-"))
        self.config = dataclasses.replace(as_bound(self.config, here), cache_dir=str(root))
        disk = DiskOwner(root, self.config.disk_bytes, self.config.max_open_files)
        poller = loop.call_later(POLL_S, self._poll)
        try:
            kept = await disk.load()  # a large cache takes a while: signals are heard meanwhile
            memory = MemoryTier(self.config.ram_bytes, self.config.ram_object_max_bytes)
            self.relay = Relay(Hub(disk, memory, clock=time.monotonic))
            self.relay.on_lost = self._lost
            if self.stopping.is_set() or not await self._start_all():
                return 0 if self.stopping.is_set() else 1
            self.started = True
            log.info(
                "edge ready",
                extra={
                    "url": here[0].url,
                    "urls": [listener.url for listener in here],
                    "workers": self._pids(),
                    "disk_entries": kept,
                    "upstreams": self.config.upstreams,
                },
            )
            await self.stopping.wait()
            log.info("edge stopping")
            return 0
        finally:
            self.stopping.set()
            if self._reloading is not None:
                self._reloading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reloading
            await self._stop_all(list(self.live))
            poller.cancel()
            await disk.close()
            for sock in self.socks:
                sock.close()
            if own_dir:
                shutil.rmtree(root, ignore_errors=True)

    # -- starting ------------------------------------------------------------------------------
    async def _start_all(self) -> bool:
        """Start a full set of workers and wait until every one serves; then it is the
        serving set."""
        started = [await self._spawn(index) for index in range(self.config.workers)]
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                for process in started:
                    assert process.worker is not None
                    await process.worker.ready
        except (TimeoutError, RuntimeError) as exc:
            log.error("workers did not start", extra={"error": str(exc) or "timed out"})
            await self._stop_all(started)
            return False
        self.current = {process.index: process for process in started}
        return True

    async def _spawn(self, index: int) -> Process:
        assert self.socks and self.relay is not None
        ours, theirs = socket.socketpair()
        fds = [sock.fileno() for sock in self.socks]  # in the order of listeners(config)
        command = [sys.executable, "-m", "edge", "worker", "--index", str(index)]
        command += [arg for fd in fds for arg in ("--listen-fd", str(fd))]
        command += ["--hub-fd", str(theirs.fileno())]
        # a fork and exec: a few milliseconds, only at start-up, reloads and replacements
        popen = subprocess.Popen(  # noqa: ASYNC220
            command, stdin=subprocess.PIPE, pass_fds=(*fds, theirs.fileno())
        )
        theirs.close()
        process = Process(index, popen, time.monotonic())
        self.live.add(process)
        assert popen.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            popen.stdin.write(orjson.dumps(dataclasses.asdict(self.config)))
        popen.stdin.close()
        self._ids += 1
        process.worker = await self.relay.attach(self._ids, index, popen.pid, ours)
        return process

    def _pids(self) -> list[int]:
        return [self.current[i].pid for i in sorted(self.current)]

    # -- deaths --------------------------------------------------------------------------------
    def _reap(self) -> None:
        for process in list(self.live):
            if process.popen.poll() is None:
                continue
            self.live.discard(process)
            self._exited.set()
            if self.current.get(process.index) is process:
                del self.current[process.index]
                self._replace(process)

    def _poll(self) -> None:
        self._reap()
        asyncio.get_running_loop().call_later(POLL_S, self._poll)

    def _lost(self, worker: Attached) -> None:
        """Its channel closed: the process is gone or going; the next poll reaps it."""
        self._reap()

    def _replace(self, dead: Process) -> None:
        if self.stopping.is_set():
            return
        quick = time.monotonic() - dead.started < QUICK_DEATH_S
        wait = self._backoff[dead.index] = restart_delay(self._backoff.get(dead.index, 0.0), quick)
        log.warning(
            "worker died, replacing it",
            extra={
                "worker": dead.index,
                "pid": dead.pid,
                "status": dead.popen.returncode,
                "after_s": wait,
            },
        )
        self._run_soon(self._respawn(dead.index, wait))

    async def _respawn(self, index: int, wait: float) -> None:
        await asyncio.sleep(wait)
        if self.stopping.is_set() or self._is_reloading() or index in self.current:
            return  # a reload starts (or restores) a whole set of its own
        if index < self.config.workers:
            self.current[index] = await self._spawn(index)

    def _run_soon(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- reload --------------------------------------------------------------------------------
    def _is_reloading(self) -> bool:
        return self._reloading is not None and not self._reloading.done()

    def _reload_soon(self) -> None:
        if not self.started or self.stopping.is_set():
            log.warning("SIGHUP ignored: the node is starting or stopping")
        elif self._is_reloading():
            log.warning("SIGHUP ignored: a reload is under way")
        else:
            self._reloading = asyncio.ensure_future(self._reload())

    async def _reload(self) -> None:
        try:
            fresh = self.reload_config()
        except ConfigError as exc:
            log.error("reload refused, the running configuration stays", extra={"error": str(exc)})
            return
        changed = [
            key for key in FIXED_ON_RELOAD if getattr(fresh, key) != getattr(self.asked, key)
        ]
        if changed:
            log.warning("these settings take effect at restart only", extra={"keys": changed})
        fixed = {key: getattr(self.config, key) for key in FIXED_ON_RELOAD}
        fixed["tls_ticket_secret"] = fresh.tls_ticket_secret or self.config.tls_ticket_secret
        old_config, self.config = self.config, dataclasses.replace(fresh, **fixed)
        old = self.current
        if not await self._start_all():  # keep serving with the old workers
            self.config, self.current = old_config, old
            for index in range(self.config.workers):  # one may have died meanwhile
                if index not in self.current:
                    self._run_soon(self._respawn(index, 0.0))
            return
        for process in old.values():  # the new ones accept already: the old ones may stop
            assert process.worker is not None and self.relay is not None
            self.relay.retire(process.worker)
            with contextlib.suppress(ProcessLookupError):
                process.popen.send_signal(signal.SIGTERM)
        self._run_soon(self._stop_all(list(old.values()), signal_first=False))
        retired = [process.pid for process in old.values()]
        log.info("reloaded", extra={"workers": self._pids(), "retired": retired})

    # -- stopping ------------------------------------------------------------------------------
    async def _stop_all(self, processes: list[Process], signal_first: bool = True) -> None:
        """SIGTERM, drain for shutdown_timeout, then SIGKILL whatever is left."""
        if signal_first:
            for process in processes:
                if process.popen.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.shutdown_timeout + 1.0
        while any(p.popen.poll() is None for p in processes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._exited.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, POLL_S)):
                    await self._exited.wait()
        for process in processes:
            if process.popen.poll() is None:
                log.warning("worker did not stop in time, killed", extra={"pid": process.pid})
                process.popen.kill()
                process.popen.wait()
            self.live.discard(process)
